"""Sharp tests of allornone.theory.equivalence (and examples.worked_example_pair), written to kill
the mutants `make mutation` found alive.

Measured independently: ranks and Gram matrices of the returned tables, which row of ``G``
moved and by how much, exact maps between hand-built effective forms, the one-line
ValueErrors that name the argument.
"""

from __future__ import annotations

import numpy as np
import pytest

import allornone as aon
from allornone.theory.equivalence import el_map_from_forms, nudge_off_class, random_equivalent, recover_el_map
from allornone.theory.examples import random_model, worked_example_pair
from allornone.theory.subspaces import EffectiveForm, effective_form, numerical_rank


def _rank(X, rtol=1e-7):
    return numerical_rank(X, rtol)


# --- names in the one-line errors -----------------------------------------------------
@pytest.mark.parametrize("which", ["a", "b"])
def test_pair_functions_name_the_non_model(which):
    m = random_model(4, 3, 2, 0)
    for fn in (aon.max_prob_difference, recover_el_map, aon.projection_maps):
        args = ("m", m) if which == "a" else (m, "m")
        with pytest.raises(ValueError, match=rf"^{which} must be a NextTokenPredictor; got str$"):
            fn(*args)


def test_random_equivalent_names_its_arguments():
    m = random_model(6, 5, 2, 0)
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        random_equivalent(3, 2, 0)
    with pytest.raises(ValueError, match=r"^scale must be a finite number > 0; got -1\.0$"):
        random_equivalent(m, 3, 0, scale=-1.0)
    with pytest.raises(ValueError, match=r"^dim must be an integer; got 2\.5$"):
        random_equivalent(m, 2.5, 0)


def test_nudge_names_its_arguments():
    m = random_model(6, 5, 2, 0)
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        nudge_off_class(3, 0.1, 0)
    with pytest.raises(ValueError, match=r"^eps must be a finite number > 0; got 0\.0$"):
        nudge_off_class(m, 0.0, 0)
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator or a non-negative int seed; got 'x'$"):
        nudge_off_class(m, 0.1, "x")


def test_same_distribution_names_atol():
    m = random_model(4, 3, 2, 0)
    with pytest.raises(ValueError, match=r"^atol must be a finite number > 0"):
        aon.same_distribution(m, m, atol=0.0)


# --- nudge_off_class ----------------------------------------------------------------------
def _moved_rows(a, b):
    return np.flatnonzero(np.any(a.G != b.G, axis=1)).tolist()


def test_nudge_moves_one_non_pivot_row_by_eps_inside_N():
    m = random_model(7, 6, 4, 3, dim_N=2)
    F = m.F
    for seed in range(5):
        n = nudge_off_class(m, 0.25, seed)
        (y,) = _moved_rows(m, n)
        delta = n.G[y] - m.G[y]
        np.testing.assert_allclose(np.linalg.norm(delta), 0.25, rtol=1e-12)
        # delta lies in N = row space of F: least squares reproduces it exactly
        coef, *_ = np.linalg.lstsq(F.T, delta, rcond=None)
        np.testing.assert_allclose(F.T @ coef, delta, atol=1e-12)
        assert aon.max_prob_difference(m, n) > 1e-4


def test_nudge_draws_every_non_pivot_token_and_never_the_pivot():
    m = random_model(5, 3, 2, 0)
    seen = {_moved_rows(m, nudge_off_class(m, 0.1, seed))[0] for seed in range(60)}
    assert seen == {1, 2}


def test_nudge_moves_the_token_it_is_given():
    m = random_model(5, 6, 3, 1)
    assert _moved_rows(m, nudge_off_class(m, 0.1, 0, token=4)) == [4]
    assert _moved_rows(m, nudge_off_class(m, 0.1, 0, token=0)) == [0]


def test_nudge_works_with_one_dimensional_N():
    m = random_model(6, 5, 3, 2, dim_N=1)
    n = nudge_off_class(m, 0.5, 0)
    assert aon.max_prob_difference(m, n) > 1e-3


def test_nudge_refuses_all_zero_embeddings():
    m = aon.NextTokenPredictor(np.zeros((3, 2)), np.arange(8.0).reshape(4, 2))
    with pytest.raises(ValueError, match=r"^the model's embeddings are all zero; every change of g leaves p unchanged$"):
        nudge_off_class(m, 0.1, 0)


# --- random_equivalent ----------------------------------------------------------------------
def test_random_equivalent_defaults_are_scale_1_and_cond_10():
    m = random_model(9, 8, 3, 0)
    a = random_equivalent(m, 5, 7)
    b = random_equivalent(m, 5, 7, scale=1.0, cond=10.0)
    np.testing.assert_array_equal(a.F, b.F)
    np.testing.assert_array_equal(a.G, b.G)


def test_tiny_scale_adds_no_rank():
    # with scale 1e-12 the lifts and the M3/M4 perturbations are ~1e-12: F and Gbar keep rank k
    m = random_model(12, 10, 3, 1)
    for seed in range(6):
        e = random_equivalent(m, 6, seed, scale=1e-12)
        assert e.dim == 6
        assert _rank(e.F) == 3
        assert _rank(e.unembedding_differences()) == 3
        assert aon.max_prob_difference(m, e) < 1e-10


def test_both_lift_forms_are_drawn_in_every_proportion():
    # at scale 1: rank F = k + (columns of the first lift form), rank Gbar = k + (columns of the second)
    m = random_model(14, 12, 2, 2)
    splits = set()
    for seed in range(40):
        e = random_equivalent(m, 5, seed)
        n_a = _rank(e.F) - 2
        n_b = _rank(e.unembedding_differences()) - 2
        assert n_a + n_b == 3
        splits.add(n_a)
    assert splits == {0, 1, 2, 3}


def test_cond_one_is_an_orthogonal_reparametrisation():
    # dim = k = d, tiny perturbations: with cond = 1 the Gram matrix of the embeddings is kept
    m = random_model(8, 7, 3, 4)
    e = random_equivalent(m, 3, 0, scale=1e-12, cond=1.0)
    np.testing.assert_allclose(e.F @ e.F.T, m.F @ m.F.T, atol=1e-9)
    e10 = random_equivalent(m, 3, 0, scale=1e-12, cond=10.0)
    assert np.abs(e10.F @ e10.F.T - m.F @ m.F.T).max() > 1e-3


# --- el_map_from_forms / recover_el_map ------------------------------------------------------
def _form(phi, gamma):
    phi, gamma = np.asarray(phi, float), np.asarray(gamma, float)
    return EffectiveForm(E=np.eye(phi.shape[1]), phi=phi, gamma=gamma, pivot=0)


def test_unrelated_models_have_a_large_phi_residual():
    a, b = random_model(10, 8, 3, 0), random_model(10, 8, 3, 1)
    el = recover_el_map(a, b)
    assert el.residual_phi > 0.1 and el.residual_gamma > 0.1


def test_ill_conditioned_map_is_returned_with_infinite_gamma_residual():
    A = np.diag([1.0, 2.0**-44])  # cond 1.8e13
    phi_a = np.array([[1.0, 2.0], [-3.0, 0.5], [0.25, 4.0]])
    gamma_a = np.array([[0.0, 0.0], [1.0, -1.0], [2.0, 0.5], [0.0, 3.0]])
    fa = _form(phi_a, gamma_a)
    fb = _form(phi_a @ np.linalg.inv(A).T, gamma_a @ A)  # phi_a = A phi_b, gamma_a = A^-T gamma_b
    el = el_map_from_forms(fa, fb)
    np.testing.assert_allclose(el.T, A, rtol=1e-6, atol=1e-15)
    assert isinstance(el.residual_phi, float) and el.residual_phi < 1e-9
    assert el.residual_gamma == float("inf") and el.residual == float("inf")


@pytest.mark.parametrize("cond, finite", [(1e12, True), (1e12 + 0.5, False)])
def test_conditioning_threshold_is_strictly_above_1e12(cond, finite):
    # phi_b = I, so least squares returns T = phi_a^T exactly and cond(T) is exactly `cond`
    T = np.diag([1.0, 1.0 / cond])
    fb = _form(np.eye(2), np.array([[0.0, 0.0], [1.0, 1.0]]))
    fa = _form(T.T, fb.gamma @ np.linalg.inv(T))
    assert np.linalg.cond(T) == cond
    el = el_map_from_forms(fa, fb)
    np.testing.assert_array_equal(el.T, T)
    assert np.isfinite(el.residual_gamma) == finite


def test_zero_complexity_pair_has_zero_residuals():
    # G constant: every distribution is uniform, k = 0
    a = aon.NextTokenPredictor(np.ones((4, 2)), np.tile([1.0, 2.0], (3, 1)))
    b = aon.NextTokenPredictor(np.arange(8.0).reshape(4, 2), np.tile([3.0, -1.0], (3, 1)))
    el = recover_el_map(a, b)
    assert el.T.shape == (0, 0)
    assert el.residual_phi == 0.0 and el.residual_gamma == 0.0


@pytest.mark.parametrize("shapes", [((5, 4), (6, 4)), ((5, 4), (5, 6))])
def test_forms_on_different_contexts_or_tokens_are_refused(shapes):
    (na, ta), (nb, tb) = shapes
    fa = effective_form(random_model(na, ta, 2, 0))
    fb = effective_form(random_model(nb, tb, 2, 1))
    assert fa.k == fb.k == 2
    with pytest.raises(ValueError, match=r"^a and b must be defined on the same contexts and tokens$"):
        el_map_from_forms(fa, fb)


def test_pivot_is_used_for_both_models():
    m = random_model(9, 7, 3, 5)
    e = random_equivalent(m, 5, 0)
    for pivot in (0, 2, 6):
        assert recover_el_map(m, e, pivot).residual < 1e-8
        assert recover_el_map(e, m, pivot).residual < 1e-8


def test_default_pivot_is_zero_for_maps():
    a, b = random_model(8, 6, 3, 0), random_model(8, 6, 3, 1)
    np.testing.assert_array_equal(recover_el_map(a, b).T, recover_el_map(a, b, 0).T)
    assert recover_el_map(a, b).residual_gamma == recover_el_map(a, b, 0).residual_gamma
    assert recover_el_map(a, b, 1).residual_gamma != recover_el_map(a, b, 0).residual_gamma
    R, Q = aon.projection_maps(a, b)
    R0, _ = aon.projection_maps(a, b, 0)
    R1, _ = aon.projection_maps(a, b, 1)
    np.testing.assert_array_equal(R, R0)
    assert np.abs(R1 - R0).max() > 1e-6


# --- examples.worked_example_pair -------------------------------------------------------------
def test_worked_example_pair_has_the_stated_dimensions():
    model, other = worked_example_pair(0)
    assert (model.n_contexts, model.n_tokens, model.dim) == (40, 30, 6)
    assert (other.n_contexts, other.n_tokens, other.dim) == (40, 30, 9)
    assert _rank(model.F) == 4                             # dim N = 4
    assert _rank(model.unembedding_differences()) == 5     # dim M = 5
    assert _rank(model.log_odds()) == _rank(other.log_odds()) == 4   # k = 4
    # the other member really moved: 9 dimensions, with embeddings of full rank after M5a and M3
    assert _rank(other.F) == 7
    assert aon.max_prob_difference(model, other) < 1e-10
    small, small_other = worked_example_pair(1, n_contexts=12, n_tokens=9)
    assert (small.n_contexts, small.n_tokens) == (small_other.n_contexts, small_other.n_tokens) == (12, 9)
    assert aon.max_prob_difference(small, small_other) < 1e-10


def test_same_distribution_names_rtol_and_decides_on_log_odds():
    m = random_model(6, 5, 3, 0)
    with pytest.raises(ValueError, match=r"^rtol must be a finite number > 0; got 0\.0$"):
        aon.same_distribution(m, m, rtol=0.0)
    assert aon.same_distribution(m, aon.random_equivalent(m, 5, 1))
    # a rare token whose log-odds moved by 50 nats: its probability stays tiny, the log-odds do not
    G = m.G.copy()
    G[4] -= 50.0 * m.F.mean(axis=0) / (m.F.mean(axis=0) @ m.F.mean(axis=0))
    rare = aon.NextTokenPredictor(m.F, G)
    assert not aon.same_distribution(m, rare)
