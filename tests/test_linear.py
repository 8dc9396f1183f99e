"""allornone.linear: the construction A = L⁻ᵀ L̃ᵀ of thm-linear-identifiability-diversity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allornone as aon
from allornone.theory.examples import random_model
from allornone.theory.linear import best_linear_fit, recover_linear_map, spanning_rows


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), dim=st.integers(1, 6))
def test_recovers_the_reparametrisation(seed, dim):
    rng = np.random.default_rng(seed)
    model = random_model(3 * dim + 2, 2 * dim + 3, dim, rng)
    A0 = aon.random_invertible(dim, rng)
    other = aon.shift(aon.reparametrize(model, A0), rng.normal(size=dim))
    lin = recover_linear_map(model, other)
    # other.f = A0 f, so f = A0⁻¹ other.f
    assert np.allclose(lin.A, np.linalg.inv(A0), atol=1e-8)
    assert lin.residual < 1e-8
    assert len(set(lin.tokens.tolist())) == dim and 0 not in lin.tokens  # the pivot has ḡ = 0


def test_large_residual_when_not_equivalent():
    rng = np.random.default_rng(1)
    a = random_model(20, 12, 3, rng)
    b = random_model(20, 12, 3, rng)
    assert recover_linear_map(a, b).residual > 1e-2


def test_requires_unembedding_diversity_and_same_dimension():
    rng = np.random.default_rng(2)
    thin = random_model(20, 12, 4, rng, dim_M=3)
    with pytest.raises(ValueError, match="unembedding diversity"):
        recover_linear_map(thin, thin)
    a = random_model(20, 12, 3, rng)
    with pytest.raises(ValueError, match="same dimension"):
        recover_linear_map(a, aon.lift(a, np.ones((20, 1)), np.ones(1)))
    with pytest.raises(ValueError, match="NextTokenPredictor"):
        recover_linear_map(a, a.F)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 12), r=st.integers(1, 6))
def test_spanning_rows_are_independent(seed, n, r):
    rng = np.random.default_rng(seed)
    d = 6
    X = rng.normal(size=(n, r)) @ rng.normal(size=(r, d))  # rank min(n, r)
    rank = min(n, r)
    idx = spanning_rows(X, rank)
    assert np.linalg.matrix_rank(X[idx]) == rank
    with pytest.raises(ValueError, match="linearly independent"):
        spanning_rows(X, rank + 1) if rank + 1 <= d else spanning_rows(np.zeros((n, d)), 1)


def test_best_linear_fit():
    rng = np.random.default_rng(3)
    F = rng.normal(size=(30, 4))
    B = rng.normal(size=(5, 4))
    A, rel = best_linear_fit(F @ B.T, F)
    assert rel < 1e-12 and np.allclose(A, B)
    _, rel = best_linear_fit(rng.normal(size=(30, 4)), F)
    assert rel > 0.5
    with pytest.raises(ValueError, match="same number of rows"):
        best_linear_fit(F, F[:5])
