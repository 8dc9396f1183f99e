"""allornone.theory.readings: the numpy-only measurements and the readings of page 24."""

from __future__ import annotations

import numpy as np
import pytest

import allornone as aon
from allornone import properties as P
from allornone.theory import readings as R


def test_intersection_and_inclusion_on_known_subspaces():
    e = np.eye(5)
    A, B = e[:, [0, 1, 2]], e[:, [2, 3]] + 0.0
    B[:, 1] += e[:, 0]                                   # span{e3, e4 + e1}: meets span{e1,e2,e3} in e3
    assert R.intersection_dim(A, B) == 1
    I = R.intersection_basis(A, B)
    assert I.shape == (5, 1) and abs(abs(I[2, 0]) - 1) < 1e-12
    assert R.intersection_dim(A, e[:, [3, 4]]) == 0 and R.intersection_dim(A, A @ np.random.default_rng(0).normal(size=(3, 3))) == 3
    assert R.inclusion_residual(A, e[:, [0, 2]]) < 1e-14
    assert R.inclusion_residual(A, e[:, [0, 3]]) == pytest.approx(np.sqrt(0.5))
    assert R.sum_residual(e[:, 0] + e[:, 4], A, e[:, [4]]) < 1e-14 and R.sum_residual(e[:, 3], A) == pytest.approx(1.0)
    C = R.complement_basis(A)
    assert C.shape == (5, 2) and np.abs(A.T @ C).max() < 1e-14


def test_intersection_dim_matches_the_lemma_on_random_models():
    from allornone.theory.examples import random_model

    rng = np.random.default_rng(1)
    for extra in (1, 2):
        m = random_model(30, 20, 7, rng, dim_N=5, dim_M=5, dim_N_in_M_perp=extra)
        sp, k = R.spaces(m), aon.effective_complexity(m)
        assert R.intersection_dim(sp["N"], R.complement_basis(sp["M"], m.dim)) == sp["N"].shape[1] - k == extra


def test_affine_fit_cannot_be_rescued_by_a_tiny_coordinate_or_too_few_rows():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 3))
    Y = X @ rng.normal(size=(3, 2)) + 0.5
    assert R.affine_fit(X, Y) == (pytest.approx(0.0, abs=1e-12), True)
    # issue 10: a 1e-8 extra coordinate must not let unrelated data pass
    Xt = np.hstack([X, 1e-8 * rng.normal(size=(30, 1))])
    r, dec = R.affine_fit(Xt, rng.normal(size=(30, 2)))
    assert dec and r > 0.1
    # |S| <= rank[X, 1]: anything fits, and the fit says it cannot decide
    r, dec = R.affine_fit(X[:4], rng.normal(size=(4, 2)))
    assert r < 1e-10 and not dec


def test_sc_probe_and_steer_residuals_separate_identifiable_vectors():
    m, _, (w, _) = P.probe_example(3, n_contexts=30, n_tokens=20, dim=3)
    lifted = aon.lift(m, np.random.default_rng(3).normal(size=(m.n_contexts, 1)), np.zeros(1))
    contexts = tuple(range(m.n_contexts))
    assert R.sc_probe_residual(lifted, contexts, np.r_[w, 0.0]) < 1e-10          # w ∈ M
    assert R.sc_probe_residual(lifted, contexts, np.r_[0 * w, 1.0]) > 0.5        # along N ∩ M^⊥
    vm, vt, v = P.steering_example(4, n_contexts=30, n_tokens=20, dim=4, n_off=2)
    lu = aon.lift_unembeddings(vm, np.random.default_rng(4).normal(size=(vm.n_tokens, 1)))
    assert R.sc_steer_residual(lu, np.r_[v, 0.0]) < 1e-10 and R.sc_steer_residual(lu, np.r_[0 * v, 1.0]) > 0.5
    own = R.min_norm_steering(vm, vt.target, vt.off_target)
    assert P.check_steering(vm, vt, own).holds
    assert R.reproduce_effect(vm, (vm.G - vm.G[0]) @ own) < 1e-10
    assert R.reproduce_effect(vm, np.random.default_rng(5).normal(size=vm.n_tokens)) > 1e-2


def test_sin_angle_is_accurate_near_zero():
    u = np.array([1.0, 0.0, 0.0])
    assert R.sin_angle(u, 2 * u) == 0.0
    assert R.sin_angle(u, u + np.array([0.0, 1e-12, 0.0])) == pytest.approx(1e-12, rel=1e-3)
    assert R.sin_angle(u, np.zeros(3)) == 1.0


def test_parallel_reading_book_true_swapped_false():
    m, prop = P.parallel_unembedding_example(6, n_contexts=30, n_tokens=20, dim=3, lam=2.0)
    members = [m, P.parallelism_counterexample(m, prop)]
    assert R.parallel_reading(members, prop.pairs, "N", 2.0) == (2, 1)
    assert R.parallel_reading(members, prop.pairs, "M", 2.0) == (1, 1)


def test_relational_readings_on_small_classes():
    classes, q = R.relational_classes(7, n_base=12, n_extra=8, n_tokens=20, dim=3, n_answers=3, n_members=12)
    assert set(classes) == {"linear", "via M⊥", "not linear"}
    for ms in classes.values():
        assert max(aon.max_prob_difference(ms[0], x) for x in ms) < 1e-9
    gained = classes["not linear"][-1]
    assert R.relational_on(gained, q, np.eye(gained.dim))[0] and not R.relational_on(classes["not linear"][0], q, np.eye(3))[0]
    book = R.relational_reading(classes, q, "book", "answer", "answer")
    assert not book.all_or_none and book.witness[0] == "via M⊥"
    name, i, j = book.witness
    a, b = classes[name][i], classes[name][j]
    assert R.relational_on(a, q, R.gamma_q(a, q, "answer"))[0] and not R.relational_on(b, q, R.gamma_q(b, q, "answer"))[0]
    strong = R.relational_reading(classes, q, "swapped", "whole", "queried")
    assert strong.all_or_none and strong.n_cond > 0 and strong.n_undecided == 0
    with pytest.raises(ValueError, match="n_reading"):
        R.named_spaces(classes["linear"][0], q, "other")
