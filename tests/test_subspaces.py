"""Unit tests of allornone.subspaces (def-effective-complexity, lem-effective-complexity)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import allornone as aon
from allornone.theory.examples import random_model
from allornone.theory.subspaces import complement, in_span, numerical_rank, orth


@st.composite
def configurations(draw):
    d = draw(st.integers(1, 7))
    dim_M = draw(st.integers(0, d))
    dim_N = draw(st.integers(0, d))
    lo = max(0, dim_N - dim_M)
    hi = min(dim_N, d - dim_M)
    assume(lo <= hi)
    j = draw(st.integers(lo, hi))
    return d, dim_N, dim_M, j, draw(st.integers(0, 2**31))


@settings(max_examples=60, deadline=None)
@given(configurations())
def test_subspace_dimensions_and_effective_complexity(cfg):
    d, dim_N, dim_M, j, seed = cfg
    m = random_model(12, 10, d, seed, dim_N=dim_N, dim_M=dim_M, dim_N_in_M_perp=j)
    assert aon.embedding_span(m).shape[1] == dim_N
    assert aon.unembedding_difference_span(m).shape[1] == dim_M
    k = aon.effective_complexity(m)
    assert k == dim_N - j                                   # lem-effective-complexity (a)
    assert aon.effective_subspace(m).shape[1] == k           # k = dim P_M(N)
    form = aon.effective_form(m)
    assert form.k == k
    np.testing.assert_allclose(form.phi @ form.gamma.T, m.log_odds(), atol=1e-9)
    if k:
        np.testing.assert_allclose(form.E @ form.E.T, np.eye(k), atol=1e-12)


def test_effective_form_spans_and_projector():
    m = random_model(20, 15, 6, 3, dim_N=4, dim_M=5)
    f = aon.effective_form(m)
    assert numerical_rank(f.phi) == numerical_rank(f.gamma) == f.k == 4
    K = aon.effective_subspace(m)
    np.testing.assert_allclose(f.E.T @ f.E, K @ K.T, atol=1e-12)   # Eᵀ E = P_K


def test_diversity_flags():
    diverse = random_model(10, 10, 4, 0)
    assert aon.is_diverse(diverse) and aon.has_embedding_diversity(diverse) and aon.has_unembedding_diversity(diverse)
    thin = random_model(10, 10, 4, 0, dim_M=3)
    assert not aon.has_unembedding_diversity(thin) and not aon.is_diverse(thin)
    assert not aon.has_embedding_diversity(random_model(10, 10, 4, 0, dim_N=2))


def test_helpers_orth_complement_in_span():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 2)) @ rng.normal(size=(2, 4))
    B = orth(A)
    assert B.shape == (5, 2)
    C = complement(B)
    assert C.shape == (5, 3)
    np.testing.assert_allclose(B.T @ C, 0, atol=1e-12)
    assert in_span(A[:, 0], B) and not in_span(C[:, 0], B)
    assert in_span(C[:, 0] + A[:, 1], B, C[:, :1])
    assert numerical_rank(np.zeros((3, 3))) == 0


def test_zero_effective_complexity_is_not_rounding_noise():
    # N inside M^⊥: every log-odds is zero up to rounding; k must be 0, not noise.
    m = random_model(30, 20, 7, 1, dim_N=3, dim_M=2, dim_N_in_M_perp=3)
    assert np.abs(m.log_odds()).max() < 1e-12
    assert aon.effective_complexity(m) == 0


def test_bad_model_argument():
    with pytest.raises(ValueError, match="model must be a NextTokenPredictor"):
        aon.effective_complexity(np.ones((3, 3)))
    with pytest.raises(ValueError, match="rtol must be a finite number > 0"):
        aon.effective_complexity(random_model(5, 5, 2, 0), tol=-1.0)
