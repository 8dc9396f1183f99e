"""Sharp tests of allornone.theory.subspaces, written to kill the mutants `make mutation` found alive.

Hand-built tables with one *small* direction (relative size 1e-6) tell whether an explicit
``rtol`` reaches every rank decision; exact boundary cases of the tolerances of ``in_span``;
``intersection`` on non-orthonormal and nearly parallel inputs; the one-line errors.
"""

from __future__ import annotations

import numpy as np
import pytest

import allornone as aon
from allornone.theory.subspaces import (
    complement,
    effective_subspace,
    embedding_difference_span,
    embedding_span,
    has_embedding_diversity,
    has_unembedding_diversity,
    in_span,
    intersection,
    intersection_dim,
    is_diverse,
    projector,
    unembedding_difference_span,
)

SMALL = 1e-6  # a direction of this relative size is rank at rtol 1e-9 and noise at rtol 1e-3


def _model(F, G):
    return aon.NextTokenPredictor(np.asarray(F, float), np.asarray(G, float))


def _small_M():
    """d = 2: N = R^2 with large embeddings; M = R^2 but its second direction is SMALL."""
    F = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    G = [[0.0, 0.0], [1.0, 0.0], [0.0, SMALL], [2.0, 0.0]]
    return _model(F, G)


def _small_N():
    """d = 2: M = R^2; N = R^2 but the embeddings' second direction is SMALL (also in N0)."""
    F = [[0.0, 0.0], [1.0, 0.0], [0.0, SMALL], [2.0, 0.0]]
    G = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    return _model(F, G)


# --- an explicit rtol reaches every rank decision -------------------------------------------
def test_rtol_reaches_the_unembedding_span_and_diversity():
    m = _small_M()
    assert unembedding_difference_span(m).shape[1] == 2
    assert unembedding_difference_span(m, 1e-3).shape[1] == 1
    assert has_unembedding_diversity(m) and not has_unembedding_diversity(m, 1e-3)
    assert is_diverse(m) and not is_diverse(m, 1e-3)


def test_rtol_reaches_the_embedding_spans_and_diversity():
    m = _small_N()
    assert embedding_span(m).shape[1] == 2 and embedding_span(m, 1e-3).shape[1] == 1
    assert embedding_difference_span(m).shape[1] == 2
    assert embedding_difference_span(m, 0, 1e-3).shape[1] == 1
    assert has_embedding_diversity(m) and not has_embedding_diversity(m, 1e-3)
    assert is_diverse(m) and not is_diverse(m, 1e-3)


def test_rtol_reaches_both_rank_decisions_of_the_effective_subspace():
    # small M direction along which the embeddings are large: K loses it at rtol 1e-3
    assert effective_subspace(_small_M()).shape[1] == 2
    assert effective_subspace(_small_M(), 1e-3).shape[1] == 1
    # M = R^2 exactly, the embeddings' projection has the small direction
    assert effective_subspace(_small_N()).shape[1] == 2
    assert effective_subspace(_small_N(), 1e-3).shape[1] == 1


def test_effective_subspace_cutoff_is_relative_to_the_spectral_norm_of_F():
    # F = diag(1, 1, 1, 0.15): spectral norm 1, Frobenius norm 1.74; at rtol 0.1 all four directions count
    F = np.diag([1.0, 1.0, 1.0, 0.15])
    G = np.vstack([np.zeros(4), np.eye(4)])
    K = effective_subspace(_model(F, G), 0.1)
    assert K.shape == (4, 4)


# --- embedding_difference_span ---------------------------------------------------------------
def test_difference_span_subtracts_the_reference():
    # every context has the same embedding: N is a line, N0 is {0}
    m = _model([[1.0, 2.0]] * 3, [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert embedding_span(m).shape[1] == 1
    assert embedding_difference_span(m).shape[1] == 0
    assert embedding_difference_span(m, 2).shape[1] == 0
    assert not is_diverse(m)


def test_difference_span_names_a_bad_reference():
    m = _model(np.eye(3), [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"^reference must be an integer index in \[0, 3\); got 3$"):
        embedding_difference_span(m, 3)


# --- complement and projector ------------------------------------------------------------------
def test_complement_of_the_zero_subspace_is_everything():
    np.testing.assert_array_equal(complement(np.zeros((3, 0))), np.eye(3))
    np.testing.assert_array_equal(complement(np.zeros((0, 0)), dim=4), np.eye(4))


def test_complement_of_a_line():
    C = complement(np.array([[1.0], [0.0], [0.0]]))
    assert C.shape == (3, 2)
    np.testing.assert_allclose(np.abs(C[0]), 0.0, atol=1e-15)
    np.testing.assert_allclose(C.T @ C, np.eye(2), atol=1e-14)


def test_projector_is_the_orthogonal_projection():
    B = np.array([[1.0, 0.0], [0.0, 0.6], [0.0, 0.8]])
    P = projector(B)
    np.testing.assert_allclose(P, [[1, 0, 0], [0, 0.36, 0.48], [0, 0.48, 0.64]], atol=1e-15)
    P_int = projector([[1], [0]])  # integer input: float64 projector
    assert P_int.dtype == np.float64
    np.testing.assert_array_equal(P_int, [[1.0, 0.0], [0.0, 0.0]])


# --- in_span -------------------------------------------------------------------------------------
def test_in_span_of_a_single_vector():
    assert in_span([2.0, 0.0], np.array([[1.0], [0.0]]))
    assert not in_span([0.0, 1.0], np.array([[1.0], [0.0]]))


def test_in_span_of_nothing():
    assert in_span([0.0, 0.0])
    assert in_span([0.0, 0.0], np.zeros((2, 0)))
    assert not in_span([1.0, 0.0], np.zeros((2, 0)))
    assert in_span([1e-8, 0.0], np.zeros((2, 0)))      # norm exactly atol
    assert not in_span([2e-8, 0.0], np.zeros((2, 0)))


def test_in_span_tolerance_boundaries():
    e1 = np.array([[1.0], [0.0]])
    assert in_span([0.5, 1e-8], e1)            # residual exactly atol * max(1, |u|) = 1e-8
    assert not in_span([0.5, 1.5e-8], e1)      # short u: the tolerance is atol, not 2 atol
    assert in_span([100.0, 1e-7], e1)          # long u: the tolerance is atol * |u| = 1e-6
    assert not in_span([100.0, 1e-5], e1)


def test_in_span_uses_rtol():
    basis = np.array([[1.0, 0.0], [0.0, SMALL]])   # columns e1 and SMALL e2
    assert in_span([0.0, 1.0], basis)
    assert not in_span([0.0, 1.0], basis, rtol=1e-3)


def test_in_span_names_u():
    with pytest.raises(ValueError, match=r"^u must be a 1-D array"):
        in_span(np.ones((2, 2)), np.eye(2))


# --- intersection ----------------------------------------------------------------------------------
def test_intersection_orthonormalises_its_inputs():
    # two long, nearly parallel vectors (angle 5e-9): shared at atol 1e-8 whatever their length
    t = 5e-9
    B1 = 100.0 * np.array([[1.0], [0.0]])
    B2 = 100.0 * np.array([[np.cos(t)], [np.sin(t)]])
    assert intersection_dim(B1, B2) == 1
    two = 100.0 * np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert intersection_dim(two, 50.0 * np.array([[1.0], [1.0], [0.0]])) == 1
    I = intersection(two, 50.0 * np.array([[1.0], [1.0], [0.0]]))
    np.testing.assert_allclose(np.abs(I[:, 0]), [2**-0.5, 2**-0.5, 0.0], atol=1e-12)


def test_intersection_dim_passes_atol():
    t = 1e-6  # singular value ~ t / sqrt(2) = 7e-7
    B1 = np.array([[1.0], [0.0]])
    B2 = np.array([[np.cos(t)], [np.sin(t)]])
    assert intersection_dim(B1, B2) == 0
    assert intersection_dim(B1, B2, atol=1e-5) == 1


def test_intersection_errors_name_the_argument():
    e = np.eye(3)
    with pytest.raises(ValueError, match=r"^B1 must be a 2-D array"):
        intersection(np.ones(3), e)
    with pytest.raises(ValueError, match=r"^B2 must be a 2-D array"):
        intersection(e, np.ones(3))
    with pytest.raises(ValueError, match=r"^B1 must be finite$"):
        intersection(np.array([[np.nan]]), e)
    with pytest.raises(ValueError, match=r"^B2 must be finite$"):
        intersection(e, np.array([[np.inf]]))
    with pytest.raises(ValueError, match=r"^B1 and B2 must live in the same space; got 3 and 4 rows$"):
        intersection(np.ones((3, 2)), np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"^atol must be a finite number > 0"):
        intersection(e, e, atol=0.0)


def test_one_context_has_a_zero_difference_span():
    m = _model([[1.0, 2.0]], [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert embedding_difference_span(m).shape == (2, 0)
    assert not is_diverse(m)


def test_effective_form_and_complexity_use_rtol_spectral_scales_and_keep_the_pivot():
    from allornone.theory.subspaces import effective_complexity, effective_form

    for m in (_small_M(), _small_N()):
        assert effective_form(m).k == 2 and effective_form(m, 0, 1e-3).k == 1
        assert effective_complexity(m) == 2 and effective_complexity(m, 1e-3) == 1
    F = np.diag([1.0, 1.0, 1.0, 0.15])              # ‖F‖₂ = 1, ‖F‖_F = 1.74
    G = np.vstack([np.zeros(4), np.eye(4)])          # ‖Ḡ‖₂ = 1, ‖Ḡ‖_F = 2
    m = _model(F, G)
    assert effective_form(m, 0, 0.1).k == 4
    assert effective_complexity(m, 0.1) == 4
    assert effective_form(m, 3).pivot == 3 and effective_form(m).pivot == 0
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        effective_complexity(3)
