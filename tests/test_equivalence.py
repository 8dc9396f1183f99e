"""Unit and property-based tests of allornone.equivalence (prop-moves, thm-identifiability)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allornone as aon
from allornone.theory.equivalence import log_odds_difference
from allornone.theory.examples import random_model

seeds = st.integers(0, 2**31)


@st.composite
def models(draw):
    d = draw(st.integers(1, 6))
    dim_N = draw(st.integers(1, d))
    dim_M = draw(st.integers(1, d))
    n, V = draw(st.integers(dim_N, 12)), draw(st.integers(dim_M + 1, 12))
    return random_model(n, V, d, draw(seeds), dim_N=dim_N, dim_M=dim_M)


def _same_p(a, b):
    assert aon.max_prob_difference(a, b) < 1e-9
    np.testing.assert_allclose(a.log_odds(), b.log_odds(), atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(models(), seeds)
def test_every_move_keeps_the_distribution(model, seed):
    rng = np.random.default_rng(seed)
    d, n, V = model.dim, model.n_contexts, model.n_tokens
    _same_p(model, aon.shift(model, rng.normal(size=d)))                                   # M1
    _same_p(model, aon.reparametrize(model, aon.random_invertible(d, rng)))                 # M2
    _same_p(model, aon.perturb_embeddings(model, rng.normal(size=(n, d)), project=True))    # M3
    _same_p(model, aon.perturb_unembeddings(model, rng.normal(size=(V, d)), project=True))  # M4
    _same_p(model, aon.lift(model, rng.normal(size=(n, 2)), rng.normal(size=2)))            # M5
    _same_p(model, aon.lift_unembeddings(model, rng.normal(size=(V, 3))))                   # M5'
    reduced = aon.reduce(model)                                                            # M6
    _same_p(model, reduced)
    assert reduced.dim == aon.effective_complexity(model)


@settings(max_examples=40, deadline=None)
@given(models(), seeds, st.integers(0, 6))
def test_random_equivalent_is_equivalent_and_el_map_recovers(model, seed, extra):
    rng = np.random.default_rng(seed)
    k = aon.effective_complexity(model)
    other = aon.random_equivalent(model, k + extra, rng)
    assert other.dim == k + extra
    assert aon.same_distribution(model, other)
    assert aon.effective_complexity(other) == k
    el = aon.recover_el_map(model, other)
    assert el.residual < 1e-7
    # the map is invertible and the inverse relates the models the other way round
    back = aon.recover_el_map(other, model)
    np.testing.assert_allclose(back.T @ el.T, np.eye(k), atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(models(), seeds)
def test_projection_form(model, seed):
    rng = np.random.default_rng(seed)
    other = aon.random_equivalent(model, model.dim + 2, rng)
    R, Q = aon.projection_maps(model, other)
    PM = aon.unembedding_difference_span(model)
    PN = aon.embedding_span(model)
    np.testing.assert_allclose(model.F @ PM @ PM.T, other.F @ R.T, atol=1e-7)
    Gbar, Gbar_o = model.unembedding_differences(), other.unembedding_differences()
    np.testing.assert_allclose(Gbar @ PN @ PN.T, Gbar_o @ Q.T, atol=1e-7)


def test_perturbations_that_leave_the_class_are_refused_or_detected():
    model = random_model(10, 8, 4, 0, dim_N=3, dim_M=3)
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="U must lie in M\\^⊥"):
        aon.perturb_embeddings(model, rng.normal(size=(10, 4)))
    with pytest.raises(ValueError, match="W must lie in N\\^⊥"):
        aon.perturb_unembeddings(model, rng.normal(size=(8, 4)))
    nudged = aon.nudge_off_class(model, 1e-3, rng)
    assert not aon.same_distribution(model, nudged)
    assert aon.max_prob_difference(model, nudged) > 1e-7


def test_unrelated_models_are_not_equivalent():
    a, b = random_model(10, 8, 3, 0), random_model(10, 8, 3, 1)
    assert not aon.same_distribution(a, b)
    assert aon.recover_el_map(a, b).residual > 1e-3
    with pytest.raises(ValueError, match="different effective complexities"):
        aon.recover_el_map(a, random_model(10, 8, 2, 2))


def test_bad_arguments():
    model = random_model(10, 8, 4, 0, dim_N=3, dim_M=3)
    with pytest.raises(ValueError, match="dim must be >= the effective complexity k=3"):
        aon.random_equivalent(model, 2, 0)
    with pytest.raises(ValueError, match="A must be square of size d=4"):
        aon.reparametrize(model, np.ones((3, 4)))
    with pytest.raises(ValueError, match="A must be invertible"):
        aon.reparametrize(model, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="same contexts and tokens"):
        aon.same_distribution(model, random_model(9, 8, 4, 0))
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        aon.random_equivalent(model, 5, "seed")
    with pytest.raises(ValueError, match="b must have length 4"):
        aon.shift(model, np.ones(3))
    with pytest.raises(ValueError, match="H must have 10 rows"):
        aon.lift(model, np.ones((9, 2)), np.ones(2))


# --- equivalence is decided on log-odds (issue 10) -----------------------------------------------------

def _peaked(shift_rare: float):
    """Two contexts, a rare token 800 nats below the others; its log-odds moved by ``shift_rare``."""
    F = np.array([[1.0, 0.0], [0.0, 1.0]])
    G = np.array([[0.0, 0.0], [1.0, 0.5], [-800.0, -800.0 + shift_rare]])
    return aon.NextTokenPredictor(F, G)


def test_rare_token_moved_by_100_nats_is_not_the_same_distribution():
    a, b = _peaked(0.0), _peaked(100.0)
    assert aon.max_prob_difference(a, b) < 1e-300                  # invisible in probabilities
    assert not aon.same_distribution(a, b)
    assert log_odds_difference(a, b) > 0.1
    assert aon.same_distribution(a, aon.shift(a, np.array([3.0, -2.0])))


def test_same_distribution_is_relative_and_keeps_the_old_atol():
    model = random_model(10, 8, 4, 0)
    big = model.with_tables(F=1e4 * model.F)
    other = aon.reparametrize(big, aon.random_invertible(4, 1, cond=1e4))
    assert aon.same_distribution(big, other)                          # rounding at scale 1e4·κ passes
    assert log_odds_difference(big, other) < 1e-9
    nudged = aon.nudge_off_class(model, 1e-6, np.random.default_rng(0))
    assert not aon.same_distribution(model, nudged)
    assert aon.same_distribution(model, model, 1e-9) and aon.same_distribution(model, model, atol=1e-9)
    assert not aon.same_distribution(model, nudged, atol=1.0)
    with pytest.raises(ValueError, match="rtol"):
        aon.same_distribution(model, model, rtol=0)
    with pytest.raises(ValueError, match="atol"):
        aon.same_distribution(model, model, atol=-1)
