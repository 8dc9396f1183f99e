"""Sharp tests of allornone.theory.model, written to kill the mutants `make mutation` found alive.

Each test measures the claim of a docstring independently (hand-computed values,
float64 precision, stability, immutability); none restates the implementation.
"""

from __future__ import annotations

import numpy as np
import pytest

import allornone as aon
from allornone.theory.model import log_softmax, softmax


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_float32_and_integer_logits_are_computed_in_float64(fn):
    # [0, -20] is exact in float32; p(y0) = 1/(1+e^-20) = 1 - 2.06e-9 rounds to 1.0 in float32
    out = fn(np.array([[0.0, -20.0]], dtype=np.float32))
    assert out.dtype == np.float64
    e = np.exp(-20.0)
    expected = np.array([[1.0 / (1.0 + e), e / (1.0 + e)]])
    if fn is softmax:
        np.testing.assert_allclose(out, expected, rtol=1e-14, atol=0)
    else:  # log p(y0) = -log1p(e^-20) = -2.06e-9, to within float64 rounding of 1 + e^-20
        np.testing.assert_allclose(out, [[-np.log1p(e), -20.0 - np.log1p(e)]], rtol=0, atol=1e-15)
    # integer logits give float64 too, with the exact value e/(1+e)
    out = fn(np.array([[1, 0]]))
    assert out.dtype == np.float64
    p1 = np.e / (1 + np.e)
    np.testing.assert_allclose(out, [[p1, 1 - p1]] if fn is softmax else np.log([[p1, 1 - p1]]), rtol=1e-15)


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_rows_of_very_different_scale_are_each_stable(fn):
    # row 0 has logits near 1000, row 1 near 0, row 2 near -1000: each row is stable on its own
    logits = np.array([[1000.0, 999.0], [0.0, -1.0], [-1000.0, -1001.0]])
    out = fn(logits)
    p0 = 1.0 / (1.0 + np.exp(-1.0))
    expected = np.tile([p0, 1.0 - p0], (3, 1))
    np.testing.assert_allclose(out, expected if fn is softmax else np.log(expected), rtol=1e-14)


def test_log_softmax_of_huge_logits_is_finite_and_exact():
    lp = log_softmax(np.array([[800.0, 0.0]]))
    np.testing.assert_allclose(lp, [[-np.log1p(np.exp(-800.0)), -800.0]], rtol=1e-15, atol=0)


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_one_dimensional_and_batched_logits_normalise_the_last_axis(fn):
    v = np.array([2.0, 0.0, -1.0])
    ref = np.exp(v) / np.exp(v).sum()
    np.testing.assert_allclose(fn(v), ref if fn is softmax else np.log(ref), rtol=1e-14)
    # a stack of two 2x3 tables: every last-axis row is a distribution
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2, 2, 3))
    out = fn(z)
    probs = out if fn is softmax else np.exp(out)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(probs[1, 0], np.exp(z[1, 0]) / np.exp(z[1, 0]).sum(), rtol=1e-14)


def test_both_tables_are_read_only():
    m = aon.NextTokenPredictor(np.ones((2, 3)), np.ones((4, 3)))
    with pytest.raises(ValueError):
        m.G[0, 0] = 2.0
    with pytest.raises(ValueError):
        m.F[1, 2] = 2.0


def test_default_pivot_is_token_zero():
    F = np.array([[1.0, 0.0], [0.0, 2.0]])
    G = np.array([[1.0, 1.0], [3.0, 1.0], [1.0, 4.0]])
    m = aon.NextTokenPredictor(F, G)
    # by hand: g(y) - g(y0) = [[0,0],[2,0],[0,3]]
    np.testing.assert_array_equal(m.unembedding_differences(), [[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    np.testing.assert_array_equal(m.log_odds(), [[0.0, 2.0, 0.0], [0.0, 0.0, 6.0]])
