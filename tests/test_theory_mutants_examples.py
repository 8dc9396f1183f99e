"""Sharp tests of allornone.theory.examples.random_model and the moves of allornone.theory.equivalence,
written to kill the mutants `make mutation` found alive: every ValueError names the argument and the
constraint, and the constructions keep what they promise at the edges."""

from __future__ import annotations

import numpy as np
import pytest

import allornone as aon
from allornone.theory import equivalence as E
from allornone.theory.examples import random_model
from allornone.theory.subspaces import complement, intersection_dim, numerical_rank


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_contexts=0), r"^n_contexts must be >= 1; got 0$"),
        (dict(n_tokens=1), r"^n_tokens must be >= 2; got 1$"),
        (dict(dim=0), r"^dim must be >= 1; got 0$"),
        (dict(rng="x"), r"^rng must be a numpy\.random\.Generator or a non-negative int seed; got 'x'$"),
        (dict(dim_N=-1), r"^dim_N must be >= 0; got -1$"),
        (dict(dim_N=4), r"^dim_N must be <= 3; got 4$"),
        (dict(dim_M=-1), r"^dim_M must be >= 0; got -1$"),
        (dict(dim_M=4), r"^dim_M must be <= 3; got 4$"),
        (dict(dim_N_in_M_perp=-1), r"^dim_N_in_M_perp must be >= 0; got -1$"),
        (dict(dim_N=2, dim_N_in_M_perp=3), r"^dim_N_in_M_perp must be <= 2; got 3$"),
        (dict(n_contexts=2, dim_N=3), r"^dim_N=3 needs at least as many contexts; n_contexts=2$"),
        (dict(n_tokens=3, dim_M=3), r"^dim_M=3 needs n_tokens >= dim_M \+ 1; n_tokens=3$"),
        (dict(dim_M=2, dim_N=2, dim_N_in_M_perp=2), r"^dim_N_in_M_perp=2 exceeds dim M\^⊥ = dim - dim_M = 1$"),
        (dict(dim_M=1, dim_N=3, dim_N_in_M_perp=1), r"^dim_N - dim_N_in_M_perp = 2 must be <= dim_M = 1 \(it is the rank k\)$"),
        (dict(pivot=6), r"^pivot must be an index in \[0, 6\); got 6$"),
    ],
)
def test_random_model_errors_name_the_constraint(kwargs, message):
    args = dict(n_contexts=8, n_tokens=6, dim=3, rng=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        random_model(**args)


@pytest.mark.parametrize("dim_N, dim_M, j", [(0, 2, 0), (2, 0, 2), (3, 3, 0), (2, 1, 1), (1, 2, 1), (2, 2, 1), (3, 2, 1)])
def test_random_model_has_the_prescribed_subspaces(dim_N, dim_M, j):
    m = random_model(9, 7, 3, 4, dim_N=dim_N, dim_M=dim_M, dim_N_in_M_perp=j, pivot=2, scale=3.0)
    assert (m.n_contexts, m.n_tokens, m.dim) == (9, 7, 3)
    N, M = aon.embedding_span(m), aon.unembedding_difference_span(m)
    assert (N.shape[1], M.shape[1]) == (dim_N, dim_M)
    assert intersection_dim(N, complement(M, 3)) == j
    assert aon.effective_complexity(m) == dim_N - j
    np.testing.assert_allclose(m.unembedding_differences(2)[2], 0.0)


def test_random_model_pivot_row_is_the_common_offset():
    m = random_model(6, 5, 3, 0, pivot=4, dim_M=2)
    # g(y) - g(pivot) spans M: the pivot's own row carries only the common offset
    assert numerical_rank(m.G - m.G[4]) == 2
    assert random_model(6, 5, 3, 0, pivot=0).G.shape == (5, 3)


# --- the moves name their arguments ---------------------------------------------------------------
def test_moves_name_their_arguments():
    m = random_model(6, 5, 3, 0)
    cases = [
        (lambda: E.shift(3, np.zeros(3)), r"^model must be a NextTokenPredictor; got int$"),
        (lambda: E.shift(m, np.zeros(2)), r"^b must have length 3; got length 2$"),
        (lambda: E.reparametrize(3, np.eye(3)), r"^model must be a NextTokenPredictor; got int$"),
        (lambda: E.reparametrize(m, np.eye(2)), r"^A must have 3 columns"),
        (lambda: E.reparametrize(m, np.ones((2, 3))), r"^A must be square of size d=3; got shape \(2, 3\)$"),
        (lambda: E.reparametrize(m, np.diag([1.0, 1.0, 1e-13])), r"^A must be invertible \(well conditioned\); its condition number is 1e\+13$"),
        (lambda: E.perturb_embeddings(3, np.zeros((6, 3))), r"^model must be a NextTokenPredictor; got int$"),
        (lambda: E.perturb_embeddings(m, np.zeros((5, 3))), r"^U must have 6 rows \(one per context\); got 5$"),
        (lambda: E.perturb_unembeddings(m, np.zeros((4, 3))), r"^W must have 5 rows \(one per token\); got 4$"),
        (lambda: E.perturb_unembeddings(m, np.ones((5, 2))), r"^W must have 3 columns"),
        (lambda: E.perturb_embeddings(m, np.ones((6, 3))), r"^U must lie in M\^⊥ \(it changes the distribution otherwise\); its largest component along M is"),
        (lambda: E.lift(3, np.zeros((6, 1)), [1.0]), r"^model must be a NextTokenPredictor; got int$"),
        (lambda: E.lift(m, np.zeros((5, 1)), [1.0]), r"^H must have 6 rows \(one per context\); got 5$"),
        (lambda: E.lift(m, np.zeros((6, 2)), [1.0]), r"^c must have length 2; got length 1$"),
        (lambda: E.lift(m, "x", [1.0]), r"^H must be a numeric 2-D array"),
        (lambda: E.lift_unembeddings(3, np.zeros((5, 1))), r"^model must be a NextTokenPredictor; got int$"),
        (lambda: E.lift_unembeddings(m, np.zeros((4, 1))), r"^U must have 5 rows \(one per token\); got 4$"),
        (lambda: E.lift_unembeddings(m, "x"), r"^U must be a numeric 2-D array"),
        (lambda: E.reduce(3), r"^model must be a NextTokenPredictor; got int$"),
        (lambda: E.reduce(aon.NextTokenPredictor(np.ones((3, 2)), np.tile([1.0, 2.0], (4, 1)))),
         r"^the model's distribution is uniform in every context \(k = 0\); there is no reduced model$"),
        (lambda: E.random_invertible(0, 0), r"^dim must be >= 1; got 0$"),
        (lambda: E.random_invertible(2, "x"), r"^rng must be a numpy\.random\.Generator"),
        (lambda: E.random_invertible(2, 0, cond=0.5), r"^cond must be >= 1; got 0\.5$"),
        (lambda: E.random_invertible(2, 0, cond=-1.0), r"^cond must be a finite number > 0; got -1\.0$"),
        (lambda: E.random_equivalent(m, 2, 0), r"^dim must be >= the effective complexity k=3 of the model; got 2$"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_moves_by_hand():
    F = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    G = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    m = aon.NextTokenPredictor(F, G)
    s = E.shift(m, [3.0, -1.0])
    np.testing.assert_array_equal(s.G, G + [3.0, -1.0]) and np.testing.assert_array_equal(s.F, F)
    A = np.array([[2.0, 1.0], [0.0, 1.0]])
    r = E.reparametrize(m, A)
    np.testing.assert_allclose(r.F, F @ A.T, atol=1e-15)
    np.testing.assert_allclose(r.G, G @ np.linalg.inv(A), atol=1e-15)
    assert E.max_prob_difference(m, r) < 1e-15
    li = E.lift(m, [[1.0], [2.0], [3.0]], [0.5])
    np.testing.assert_array_equal(li.F[:, 2], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(li.G[:, 2], [0.5] * 4)
    lu = E.lift_unembeddings(m, [[1.0], [2.0], [3.0], [4.0]])
    np.testing.assert_array_equal(lu.F[:, 2], 0.0)
    np.testing.assert_array_equal(lu.G[:, 2], [1.0, 2.0, 3.0, 4.0])
    red = E.reduce(li)
    assert red.dim == 2 and E.max_prob_difference(m, red) < 1e-12
    # a perturbation already in M^⊥ is accepted without projection and applied exactly
    m3 = aon.NextTokenPredictor(np.hstack([F, np.zeros((3, 1))]), np.hstack([G, np.ones((4, 1))]))
    U = np.zeros((3, 3))
    U[:, 2] = [1.0, -1.0, 2.0]
    np.testing.assert_array_equal(E.perturb_embeddings(m3, U).F[:, 2], [1.0, -1.0, 2.0])
    # with project=True the component along M is removed exactly
    P = E.perturb_embeddings(m3, np.ones((3, 3)), project=True)
    np.testing.assert_allclose(P.F - m3.F, np.tile([0.0, 0.0, 1.0], (3, 1)), atol=1e-14)
    # a tiny leak, below 1e-9 of the perturbation, is tolerated; the limit is relative to max(1, |U|)
    U2 = U.copy()
    U2[0, 0] = 1e-12
    E.perturb_embeddings(m3, U2)
    with pytest.raises(ValueError, match=r"largest component along M is \d\.\d\de-09\. Pass project=True to project it\.$"):
        U3 = U.copy()
        U3[0, 0] = 1e-8
        E.perturb_embeddings(m3, U3)


def test_random_invertible_has_the_promised_condition():
    for cond in (1.0, 10.0, 1e3):
        A = E.random_invertible(4, 0, cond)
        assert A.shape == (4, 4) and 1.0 - 1e-12 <= np.linalg.cond(A) <= cond * (1 + 1e-12)
    assert np.linalg.cond(E.random_invertible(4, 0)) <= 10.0 * (1 + 1e-12)      # default cond 10
    assert np.linalg.cond(E.random_invertible(5, 1, 1e3)) > 10.0                  # and it is used
