"""Checkers, subspace conditions and transfers of allornone.properties (part III)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import allornone as aon
from allornone import properties as P

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(min_value=0, max_value=2**31 - 1)
dims = st.integers(min_value=0, max_value=6)   # extra dimensions of the equivalent model


def _equivalent(model, seed, extra):
    rng = np.random.default_rng(seed)
    return aon.random_equivalent(model, aon.effective_complexity(model) + extra, rng)


# --- instances and validation -------------------------------------------------------------------

def test_instances_validate():
    with pytest.raises(ValueError, match="two pairs"):
        P.ParallelUnembedding(((1, 2),))
    with pytest.raises(ValueError, match="different"):
        P.ParallelEmbedding(((1, 1), (2, 3)))
    with pytest.raises(ValueError, match="same length"):
        P.RelationalQuery((0, 1), (2,), (3, 4))
    with pytest.raises(ValueError, match="at least 2"):
        P.RelationalQuery((0,), (1,), (3,))
    with pytest.raises(ValueError, match="both classes"):
        P.Concept((0, 1), (1, 1))
    with pytest.raises(ValueError, match="target"):
        P.SteeringTarget((1, 1), (2, 3))


def test_out_of_range_and_bad_arguments():
    m, prop = P.parallel_unembedding_example(0, n_tokens=6)
    with pytest.raises(ValueError, match="pairs"):
        P.check_parallel_unembeddings(m, P.ParallelUnembedding(((1, 2), (3, 40))))
    with pytest.raises(ValueError, match="prop"):
        P.check_parallel_unembeddings(m, P.ParallelEmbedding(((1, 2), (3, 4))))
    with pytest.raises(ValueError, match="model"):
        P.check_parallel_unembeddings("not a model", prop)
    with pytest.raises(ValueError, match="tol"):
        P.check_parallel_unembeddings(m, prop, tol=-1)
    with pytest.raises(ValueError, match="w"):
        P.identifiable_embedding_directions(m, np.ones(m.dim + 1))


def test_parallel_helper():
    assert P._parallel(np.array([2.0, 0]), np.array([1.0, 0]), 1e-9).witness == pytest.approx(2.0)
    assert not P._parallel(np.array([1.0, 0.1]), np.array([1.0, 0]), 1e-9).holds
    assert not P._parallel(np.zeros(2), np.array([1.0, 0]), 1e-9).holds


# --- transfer lemma --------------------------------------------------------------------------------

@FAST
@given(seeds, dims)
def test_transfer_lemma_functionals_and_directions(seed, extra):
    rng = np.random.default_rng(seed)
    model = aon.random_equivalent(P._base_model(15, 12, 3, rng), 5, rng)   # d=5 > k=3: M, N are not all of ℝ^5
    other = _equivalent(model, seed + 1, extra)
    # a vector of M + N^⊥ (a combination of pivoted unembeddings) has the same functional everywhere
    w = model.unembedding_differences(0).T @ rng.normal(size=model.n_tokens)
    assert P.identifiable_embedding_directions(model, w).holds
    wt = P.transfer_functional(model, other, w)
    assert np.allclose(other.F @ wt, model.F @ w, atol=1e-7 * max(1, np.abs(model.F @ w).max()))
    v = model.F.T @ rng.normal(size=model.n_contexts)
    assert P.identifiable_unembedding_directions(model, v).holds
    vt = P.transfer_direction(model, other, v)
    Gb, Gbt = model.unembedding_differences(0), other.unembedding_differences(0)
    assert np.allclose(Gbt @ vt, Gb @ v, atol=1e-7 * max(1, np.abs(Gb @ v).max()))


def test_transfer_lemma_conditions_fail_outside():
    m, _, _ = P.probe_counterexample_model(0, k=2)
    e = np.zeros(m.dim)
    e[-1] = 1.0                    # in N ∩ M^⊥
    assert not P.identifiable_embedding_directions(m, e).holds
    assert P.identifiable_unembedding_directions(m, e).holds      # e ∈ M^⊥ ⊆ N + M^⊥
    m2, _, v = P.steering_counterexample_model(0, k=2)
    assert not P.identifiable_unembedding_directions(m2, v).holds


# --- parallelism -------------------------------------------------------------------------------------

@FAST
@given(seeds, dims, st.floats(min_value=-3, max_value=3).filter(lambda x: abs(x) > 0.1))
def test_parallel_unembeddings_all_or_none(seed, extra, lam):
    model, prop = P.parallel_unembedding_example(seed, n_contexts=20, n_tokens=10, dim=3, lam=lam)
    assert P.check_parallel_unembeddings(model, prop).witness == pytest.approx(lam)
    other = _equivalent(model, seed, extra)
    # same log-ratios everywhere (R-Prop 3): parallel within N
    assert P.check_same_log_ratios(other, prop).holds
    assert P.transfer_parallel_unembeddings(model, other, prop) == pytest.approx(lam)
    if P.condition_parallel_unembeddings(other).holds:
        c = P.check_parallel_unembeddings(other, prop)
        assert c.holds and c.witness == pytest.approx(lam, rel=1e-6)


@FAST
@given(seeds, dims)
def test_non_parallel_is_none_under_diversity(seed, extra):
    rng = np.random.default_rng(seed)
    model = P._base_model(20, 10, 3, rng)
    prop = P.ParallelUnembedding(((1, 2), (3, 4)))
    assert not P.check_parallel_unembeddings(model, prop).holds
    other = _equivalent(model, seed, extra)
    assert not P.check_same_log_ratios(other, prop).holds
    if P.condition_parallel_unembeddings(other).holds:
        assert not P.check_parallel_unembeddings(other, prop).holds


def test_parallelism_counterexample():
    model, prop = P.parallel_unembedding_example(3)
    cex = P.parallelism_counterexample(model, prop)
    assert aon.max_prob_difference(model, cex) < 1e-12
    assert P.check_parallel_unembeddings(model, prop).holds
    assert not P.check_parallel_unembeddings(cex, prop).holds
    assert not P.condition_parallel_unembeddings(cex).holds
    with pytest.raises(ValueError, match="not proportional"):
        P.transfer_parallel_unembeddings(model, cex, P.ParallelUnembedding(((1, 5), (3, 4))))


@FAST
@given(seeds, dims)
def test_parallel_embeddings_all_or_none(seed, extra):
    model, prop = P.parallel_embedding_example(seed, n_contexts=20, n_tokens=10, dim=3, lam=-2.0)
    other = _equivalent(model, seed, extra)
    assert P.check_parallel_log_odds_differences(other, prop).holds
    if P.condition_parallel_embeddings(other).holds:
        c = P.check_parallel_embeddings(other, prop)
        assert c.holds and c.witness == pytest.approx(P.transfer_parallel_embeddings(model, other, prop), rel=1e-6)


def test_parallel_embedding_counterexample():
    model, prop = P.parallel_embedding_example(4)
    cex = P.parallel_embedding_counterexample(model, prop)
    assert aon.max_prob_difference(model, cex) < 1e-12
    assert not P.check_parallel_embeddings(cex, prop).holds
    assert P.check_parallel_log_odds_differences(cex, prop).holds


# --- relational linearity -------------------------------------------------------------------------

@FAST
@given(seeds, dims)
def test_relational_strong_transfer(seed, extra):
    model, q, (A, a) = P.relational_example(seed, n_base=8, n_extra=6, n_tokens=12, dim=3, n_answers=3)
    c = P.check_relational_strong(model, q)
    assert c.holds and c.decidable and P.condition_relational_strong(model).holds
    other = _equivalent(model, seed, extra)
    if P.condition_relational_strong(other).holds:
        At, at = P.transfer_relational_strong(model, other, A, a)
        Fs, Fq = other.F[list(q.base)], other.F[list(q.queried)]
        assert np.abs(Fq - Fs @ At.T - at).max() < 1e-7 * max(1, np.abs(Fq).max())
        assert P.check_relational_strong(other, q).holds


@FAST
@given(seeds, dims)
def test_relational_projected_all_or_none(seed, extra):
    model, q, _ = P.relational_example(seed, n_base=8, n_extra=6, n_tokens=12, dim=3, n_answers=3)
    W, r, res = P.relational_log_odds_map(model, q)
    assert res < 1e-9
    other = _equivalent(model, seed, extra)
    c = P.check_relational_projected(other, q)
    assert c.holds and P.condition_relational_projected(other, q, c.witness[0]).holds
    assert P.check_relational_log_odds(other, q).decidable
    At, at = P.transfer_relational_projected(other, q, W, r)
    L = P.answer_basis(other, q)
    Fs, Fq = other.F[list(q.base)], other.F[list(q.queried)]
    assert np.abs((Fq - Fs @ At.T - at) @ L).max() < 1e-7 * max(1, np.abs(Fq @ L).max())


def test_relational_counterexamples():
    model, q, _ = P.relational_example(5)
    cex = P.relational_strong_counterexample(model, q, 0)
    assert aon.max_prob_difference(model, cex) < 1e-12
    assert not P.check_relational_strong(cex, q).holds and P.check_relational_projected(cex, q).holds
    m2, q2, (A, a) = P.relational_sc_example(6)
    c = P.check_relational_projected(m2, q2)
    assert c.holds and not P.condition_relational_projected(m2, q2, c.witness[0]).holds
    assert P.relational_log_odds_map(m2, q2)[2] > 1e-3
    cex2 = P.relational_sc_counterexample(m2, q2)
    assert aon.max_prob_difference(m2, cex2) < 1e-12
    assert not P.check_relational_projected(cex2, q2).holds


def test_relational_bad_shapes():
    model, q, (A, a) = P.relational_example(0)
    with pytest.raises(ValueError, match="A must have shape"):
        P.transfer_relational_strong(model, model, A[:2], a)
    with pytest.raises(ValueError, match="W must have shape"):
        P.transfer_relational_projected(model, q, np.ones((1, 2)), np.ones(1))
    with pytest.raises(ValueError, match="query"):
        P.check_relational_strong(model, P.RelationalQuery((0,), (500,), (1, 2)))


# --- linear subspace --------------------------------------------------------------------------------

@FAST
@given(seeds, dims, st.integers(min_value=1, max_value=3))
def test_subspace_dimension_identifiable(seed, extra, sub_dim):
    model, q = P.subspace_example(seed, n_base=10, n_extra=4, n_tokens=12, dim=4, sub_dim=sub_dim)
    m = P.answer_subspace_dimension(model, q)
    assert m == P.affine_dimension(P.answer_log_odds(model, q)) == sub_dim
    other = _equivalent(model, seed, extra)
    assert P.answer_subspace_dimension(other, q) == m
    assert P.check_linear_subspace(other, q, m).holds and not P.check_linear_subspace(other, q, m - 1).holds
    assert P.check_linear_subspace(other, q, m - 1).decidable
    if P.condition_linear_subspace(other, projected=False).holds:
        assert P.answer_subspace_dimension(other, q, projected=False) == m


def test_subspace_counterexample():
    model, q = P.subspace_example(1)
    cex = P.subspace_counterexample(model, q, 0, extra=2)
    assert aon.max_prob_difference(model, cex) < 1e-12
    assert P.answer_subspace_dimension(cex, q) == P.answer_subspace_dimension(model, q)
    assert P.answer_subspace_dimension(cex, q, projected=False) == P.answer_subspace_dimension(model, q, projected=False) + 2


# --- probing -------------------------------------------------------------------------------------------

@FAST
@given(seeds, dims)
def test_probe_transfer_identical_scores(seed, extra):
    model, concept, (w, b) = P.probe_example(seed, n_contexts=20, n_tokens=10, dim=3)
    assert P.check_probe(model, concept, w, b).holds and P.condition_probe(model, concept, w).holds
    other = _equivalent(model, seed, extra)
    wt = P.transfer_probe(model, other, concept, w)
    s, st_ = P.probe_scores(model, concept, w, b), P.probe_scores(other, concept, wt, b)
    assert np.abs(s - st_).max() < 1e-7 * max(1, np.abs(s).max())
    assert P.check_probe(other, concept, wt, b).holds


def test_probe_counterexample():
    model, concept, (w, b) = P.probe_counterexample_model(2)
    assert P.check_probe(model, concept, w, b).holds
    assert not P.condition_probe(model, concept, w).holds
    cex = P.probe_counterexample(model)
    assert aon.max_prob_difference(model, cex) < 1e-12
    assert P.probe_accuracy_bound(cex, concept) == 0.5
    assert P.probe_accuracy_bound(model, concept) == 1.0
    assert not P.check_probe(cex, concept, w, b).holds


# --- steering -------------------------------------------------------------------------------------------

@FAST
@given(seeds, dims, st.floats(min_value=-3, max_value=3))
def test_steering_transfer_same_steered_distribution(seed, extra, alpha):
    model, target, v = P.steering_example(seed, n_contexts=20, n_tokens=10, dim=4, n_off=3)
    c = P.check_steering(model, target, v)
    assert c.holds and P.condition_steering(model, v).holds
    other = _equivalent(model, seed, extra)
    vt = P.transfer_steering(model, other, v)
    ct = P.check_steering(other, target, vt, tol=1e-6)
    assert ct.holds and ct.witness == pytest.approx(c.witness, rel=1e-6)
    assert np.abs(P.steered_probs(model, v, alpha) - P.steered_probs(other, vt, alpha)).max() < 1e-9


def test_steering_counterexample():
    model, target, v = P.steering_counterexample_model(3)
    assert P.check_steering(model, target, v).holds and not P.condition_steering(model, v).holds
    cex = P.steering_counterexample(model, 0)
    assert aon.max_prob_difference(model, cex) < 1e-12
    assert not P.check_steering(cex, target, v).holds
    assert np.abs(P.steered_probs(model, v, 2.0) - P.steered_probs(cex, v, 2.0)).max() > 1e-3


# --- the experiment helper ------------------------------------------------------------------------------

def test_all_or_none_counts():
    model, prop = P.parallel_unembedding_example(0, n_contexts=20, n_tokens=10, dim=3)
    r = P.all_or_none(model, [3, 4, 5, 6], 15, 0, lambda m: P.condition_parallel_unembeddings(m).holds,
                      lambda m: P.check_parallel_unembeddings(m, prop).holds)
    assert r.n_condition == 15 and r.all_with_condition and r.max_dp < 1e-12
    assert r.n_drawn == r.n_condition + r.n_other and r.n_other_property <= r.n_other
    with pytest.raises(ValueError, match="n_models"):
        P.all_or_none(model, [3], 0, 0, bool, bool)
