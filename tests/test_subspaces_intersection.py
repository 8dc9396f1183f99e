"""allornone.theory.subspaces.intersection (appended helpers for lem-effective-complexity)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allornone.theory.subspaces import complement, intersection, intersection_dim, orth


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 8), data=st.data())
def test_constructed_intersection(seed, d, data):
    """span([S, X]) ∩ span([S, Y]) = span(S) for generic X, Y when the sum has room."""
    m = data.draw(st.integers(0, d))
    x = data.draw(st.integers(0, d - m))
    y = data.draw(st.integers(0, d - m - x))   # m + x + y <= d: generic X, Y meet only in S
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    S = Q[:, :m] @ rng.normal(size=(m, m)) if m else np.zeros((d, 0))
    X = Q[:, m:m + x] @ rng.normal(size=(x, x)) + S @ rng.normal(size=(m, x))
    Y = Q[:, m + x:m + x + y] @ rng.normal(size=(y, y)) + S @ rng.normal(size=(m, y))
    B = intersection(np.hstack([S, X]), np.hstack([S, Y]))
    assert B.shape == (d, m)
    assert np.allclose(B.T @ B, np.eye(m), atol=1e-10)
    if m:
        # B spans exactly span(S)
        assert np.allclose(B @ (B.T @ S), S, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 8), data=st.data())
def test_dimension_formula(seed, d, data):
    """dim(U ∩ W) = dim U + dim W − d for generic subspaces with dim U + dim W >= d."""
    r1 = data.draw(st.integers(0, d))
    r2 = data.draw(st.integers(d - r1, d))
    rng = np.random.default_rng(seed)
    U, W = rng.normal(size=(d, r1)), rng.normal(size=(d, r2))
    assert intersection_dim(U, W) == r1 + r2 - d
    assert intersection_dim(U, complement(orth(U), d)) == 0


def test_edge_cases_and_validation():
    e = np.eye(3)
    assert intersection(e[:, :2], e[:, 1:]).shape == (3, 1)
    assert abs(abs(intersection(e[:, :2], e[:, 1:])[1, 0]) - 1) < 1e-12
    assert intersection(np.zeros((3, 0)), e).shape == (3, 0)
    # a tiny angle below atol counts as shared, above it does not
    v = np.array([[1.0], [1e-12], [0.0]])
    assert intersection_dim(e[:, :1], v) == 1
    assert intersection_dim(e[:, :1], np.array([[1.0], [1e-3], [0.0]])) == 0
    with pytest.raises(ValueError, match="same space"):
        intersection(np.eye(3), np.eye(4))
    with pytest.raises(ValueError, match="atol"):
        intersection(e, e, atol=-1)
    with pytest.raises(ValueError, match="B1"):
        intersection(np.ones(3), e)
