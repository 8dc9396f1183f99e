"""Sharp tests of allornone.theory.linear, written to kill the mutants `make mutation` found alive.

Hand-built tables whose answers are known exactly (powers of two, orthogonal
rows), the one-line ValueErrors that name the argument, and the edge cases the
docstrings promise (default ``r``, ``r = 0``, a relative tolerance, the
ill-conditioned branch of ``recover_linear_map``).
"""

from __future__ import annotations

import numpy as np
import pytest

import allornone as aon
from allornone.theory.examples import random_model
from allornone.theory.linear import best_linear_fit, recover_linear_map, spanning_rows


# --- spanning_rows ---------------------------------------------------------------
def test_default_r_is_the_number_of_columns():
    X = np.array([[0.0, 0.0, 3.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    assert sorted(spanning_rows(X).tolist()) == [0, 1, 3]


def test_identity_rows_are_independent():
    # every row norm and the scale are exactly 1.0
    assert sorted(spanning_rows(np.eye(3)).tolist()) == [0, 1, 2]


def test_r_zero_gives_an_empty_integer_index():
    idx = spanning_rows(np.eye(3), 0)
    assert idx.shape == (0,) and idx.dtype.kind == "i"
    assert np.eye(3)[idx].shape == (0, 3)  # usable as an index


@pytest.mark.parametrize(
    "r, message",
    [(-1, r"^r must be >= 0; got -1$"), (4, r"^r must be <= 3; got 4$"), (1.5, r"^r must be an integer; got 1\.5$")],
)
def test_bad_r_is_named(r, message):
    with pytest.raises(ValueError, match=message):
        spanning_rows(np.eye(3), r)


def test_bad_X_is_named():
    with pytest.raises(ValueError, match=r"^X must be a 2-D array"):
        spanning_rows(np.ones(3))


def test_an_explicit_rtol_is_used():
    X = np.array([[1.0, 0.0], [1.0, 1e-6]])
    assert sorted(spanning_rows(X, 2).tolist()) == [0, 1]  # default rtol 1e-9
    with pytest.raises(ValueError, match=r"^X must have at least r=2 linearly independent rows; found only 1$"):
        spanning_rows(X, 2, rtol=1e-3)


def test_tolerance_is_relative_to_the_largest_row():
    X = np.array([[1.0, 0.0], [1.0, 1e-3]])  # second row is 7e-4 of the scale away from the first
    for s in (1.0, 1e3, 1e-3):
        with pytest.raises(ValueError, match="found only 1"):
            spanning_rows(s * X, 2, rtol=1e-2)
        assert len(spanning_rows(s * X, 2, rtol=1e-4)) == 2


def test_scale_is_the_largest_row_norm_not_the_table_norm():
    # 100 copies of e1 and one row 0.2 away from them: with rtol 0.05 it is independent
    # (0.2/1.02 > 0.05 * 1.02) although 0.196 < 0.05 * ||X||_F = 0.5
    X = np.vstack([np.tile([1.0, 0.0], (100, 1)), [[1.0, 0.2]]])
    idx = spanning_rows(X, 2, rtol=0.05)
    assert 100 in idx.tolist() and len(set(idx.tolist())) == 2


def test_exact_dependence_with_zero_tolerance_raises():
    with pytest.raises(ValueError, match="found only 1"):
        spanning_rows(np.array([[1.0, 0.0], [2.0, 0.0]]), 2, rtol=0.0)


# --- recover_linear_map ----------------------------------------------------------
def _pair_with_diagonal_map(a_diag):
    """a with pivoted unembeddings e_1, e_2 (so L = I); b = a moved by A = diag(a_diag), exactly."""
    A = np.diag(a_diag)
    F_a = np.array([[1.0, 2.0], [-3.0, 0.5], [0.25, 4.0]])
    G_a = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    a = aon.NextTokenPredictor(F_a, G_a)
    b = aon.NextTokenPredictor(F_a @ np.linalg.inv(A).T, G_a @ A)  # f_b = A^-1 f_a, g_b = A^T g_a
    return a, b, A


def test_ill_conditioned_map_is_returned_with_infinite_unembedding_residual():
    a, b, A = _pair_with_diagonal_map([1.0, 2.0**-44])  # cond 1.8e13 > 1e12; exact in binary
    lm = recover_linear_map(a, b)
    np.testing.assert_array_equal(lm.A, A)
    assert sorted(lm.tokens.tolist()) == [1, 2]
    assert lm.residual_f == 0.0
    assert lm.residual_g == float("inf") and lm.residual == float("inf")


@pytest.mark.parametrize("cond, finite", [(1e12, True), (1e12 + 0.5, False)])
def test_conditioning_threshold_is_strictly_above_1e12(cond, finite):
    a, b, A = _pair_with_diagonal_map([1.0, 1.0 / cond])
    assert np.linalg.cond(A) == cond
    lm = recover_linear_map(a, b)
    assert np.isfinite(lm.residual_g) == finite
    if finite:
        assert lm.residual_g < 1e-3


def test_well_conditioned_pair_has_exact_residuals():
    a, b, A = _pair_with_diagonal_map([2.0, 0.5])
    lm = recover_linear_map(a, b)
    np.testing.assert_array_equal(lm.A, A)
    assert lm.residual_f == 0.0 and lm.residual_g == 0.0


@pytest.mark.parametrize("which", ["a", "b"])
def test_non_models_are_named(which):
    m = random_model(5, 4, 2, 0)
    args = (3, m) if which == "a" else (m, 3)
    with pytest.raises(ValueError, match=rf"^{which} must be a NextTokenPredictor; got int$"):
        recover_linear_map(*args)


def test_different_contexts_are_reported_with_both_shapes():
    a, b = random_model(5, 4, 2, 0), random_model(6, 4, 2, 1)
    with pytest.raises(
        ValueError,
        match=r"^a and b must be defined on the same contexts and tokens; got \(n_contexts, n_tokens\) = \(5, 4\) and \(6, 4\)$",
    ):
        recover_linear_map(a, b)


def test_missing_unembedding_diversity_is_reported():
    a = random_model(6, 5, 3, 0, dim_M=2)
    with pytest.raises(ValueError, match=r"^a must have unembedding diversity \(M = R\^d\) to build an invertible L$"):
        recover_linear_map(a, a)


# --- best_linear_fit -------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 0.01, 100.0])
def test_relative_residual_by_hand(scale):
    # F_source spans e1 of the contexts; F_target = scale * (0.6, 0.8): the fit keeps 0.6, misses 0.8
    F_source = np.array([[1.0], [0.0]])
    F_target = scale * np.array([[0.6], [0.8]])
    A, rel = best_linear_fit(F_target, F_source)
    np.testing.assert_allclose(A, [[0.6 * scale]], rtol=1e-14)
    np.testing.assert_allclose(rel, 0.8, rtol=1e-14)


def test_zero_target_has_zero_residual():
    A, rel = best_linear_fit(np.zeros((3, 2)), np.ones((3, 1)))
    assert rel == 0.0
    np.testing.assert_array_equal(A, np.zeros((2, 1)))


@pytest.mark.parametrize("which", ["F_target", "F_source"])
def test_bad_tables_are_named(which):
    good = np.ones((3, 2))
    args = ("abc", good) if which == "F_target" else (good, "abc")
    with pytest.raises(ValueError, match=rf"^{which} must be a numeric 2-D array; got str$"):
        best_linear_fit(*args)


def test_row_mismatch_reports_both_row_counts():
    with pytest.raises(ValueError, match=r"^F_target and F_source must have the same number of rows; got 3 and 4$"):
        best_linear_fit(np.ones((3, 5)), np.ones((4, 7)))
