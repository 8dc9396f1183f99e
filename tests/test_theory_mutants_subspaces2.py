"""Sharp tests of allornone.theory.subspaces and allornone.theory.equivalence, written to kill the
mutants `make mutation` left alive: ranks at the rtol cut (a singular value exactly at it), the
default scale (relative to the largest singular value), empty and 1 × 1 matrices, the cancellation
scale of the effective complexity, the M^⊥ test of M3/M4 at its boundary, the scale of
log_odds_difference in closed form, the condition-number bound of M2, and the messages."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from allornone.theory.equivalence import (log_odds_difference, max_prob_difference, perturb_embeddings,
                                          perturb_unembeddings, reduce, reparametrize)
from allornone.theory.model import NextTokenPredictor
from allornone.theory.subspaces import effective_complexity, numerical_rank, orth


# --- numerical_rank and orth --------------------------------------------------------------------
def test_rank_at_the_cut_excludes_the_singular_value_on_it():
    """diag(1, 2⁻¹⁰) with rtol = 2⁻¹⁰: the cut is exactly 2⁻¹⁰; only singular values above it count."""
    A = np.diag([1.0, 2.0**-10])
    assert numerical_rank(A, 2.0**-10) == 1 and orth(A, 2.0**-10).shape == (2, 1)
    assert numerical_rank(A, 2.0**-11) == 2 and orth(A, 2.0**-11).shape == (2, 2)


def test_default_cut_is_relative_to_the_largest_singular_value():
    """diag(1e-10, 1e-20): the cut 1e-9 × 1e-10 keeps 1e-10 only (a cut relative to 1 keeps nothing)."""
    A = np.diag([1e-10, 1e-20])
    assert numerical_rank(A) == 1
    B = orth(A)
    assert B.shape == (2, 1) and abs(B[0, 0]) == pytest.approx(1.0)


def test_empty_and_one_by_one():
    assert numerical_rank(np.zeros((0, 3))) == 0 and orth(np.zeros((3, 0))).shape == (3, 0)
    assert numerical_rank([[5.0]]) == 1 and numerical_rank([[0.0]]) == 0
    np.testing.assert_array_equal(np.abs(orth([[5.0]])), [[1.0]])


def test_rank_of_fractions_and_tall_orth_is_thin():
    F = [[Fraction(1, 3), Fraction(0)], [Fraction(0), Fraction(0)]]
    assert numerical_rank(F) == 1 and orth(F).shape == (2, 1)
    B = orth(np.ones((50, 2)))
    assert B.shape == (50, 1)
    np.testing.assert_allclose(np.abs(B[:, 0]), np.full(50, 1 / np.sqrt(50)), rtol=1e-12)


def test_effective_complexity_zero_when_f_is_orthogonal_to_m():
    """F along R e1, Ḡ = 10⁶ × (rows along R e2), R a 30° rotation: F Ḡᵀ = 0 up to rounding
    (≈ 3e-10), which is far below 1e-9 × |F| |Ḡ|; so k = 0 (lem-effective-complexity)."""
    th = np.pi / 6
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    F = np.outer([1.0, 2, 3], R[:, 0])
    G = 1e6 * np.outer([0.0, 1, 2, 3], R[:, 1])
    m = NextTokenPredictor(F, G)
    assert np.abs(F @ G.T).max() > 0                       # the rounding noise is there
    assert effective_complexity(m) == 0


# --- M3 / M4: the M^⊥ test ----------------------------------------------------------------------
def _m_e1():
    """d = 2, M = span(e1) exactly (unembedding differences along e1), N = ℝ²."""
    return NextTokenPredictor(np.eye(2), np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]))


def test_perturb_embeddings_accepts_a_component_along_m_at_the_bound():
    m = _m_e1()
    # largest component along M: 1e-9 = 1e-9 × max(1, |U|max = 0.5): accepted (the bound is inclusive)
    out = perturb_embeddings(m, [[1e-9, 0.5], [0.0, 0.25]])
    assert max_prob_difference(m, out) < 1e-8
    # 1e-8 along M with |U|max = 1000: the bound is 1e-9 × 1000 = 1e-6, accepted
    perturb_embeddings(m, [[1e-8, 1000.0], [0.0, 0.0]])
    # 1.5e-9 with |U|max = 0.5: the bound is 1e-9 × max(1, 0.5) = 1e-9, refused
    with pytest.raises(ValueError, match=r"^U must lie in M\^⊥ \(it changes the distribution otherwise\); "
                                         r"its largest component along M is 1\.5e-09\. Pass project=True"):
        perturb_embeddings(m, [[1.5e-9, 0.5], [0.0, 0.0]])


def test_perturb_embeddings_when_m_is_zero_anything_goes():
    """All unembeddings equal: M = {0}, so every perturbation of the embeddings is in M^⊥."""
    m = NextTokenPredictor(np.eye(2), np.ones((3, 2)))
    out = perturb_embeddings(m, [[0.3, -0.2], [0.1, 0.4]])
    np.testing.assert_allclose(out.F, [[1.3, -0.2], [0.1, 1.4]])


def test_perturbation_errors_name_the_argument():
    m = _m_e1()
    with pytest.raises(ValueError, match=r"^U must have 2 columns \(the representation dimension\); got shape \(2, 3\)$"):
        perturb_embeddings(m, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got str$"):
        perturb_unembeddings("m", np.zeros((3, 2)))
    other = NextTokenPredictor(np.eye(2), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"^a and b must be defined on the same contexts and tokens; got "
                                         r"\(n_contexts, n_tokens\) = \(2, 3\) and \(2, 4\)$"):
        max_prob_difference(m, other)


# --- log_odds_difference: max |ΔΛ| / max(1, max |Λ_a|, max |Λ_b|) ------------------------------------
def _two_tokens(t):
    """One context, f = 1, g = (0, t): row-centred logits (−t/2, t/2)."""
    return NextTokenPredictor(np.array([[1.0]]), np.array([[0.0], [t]]))


def test_log_odds_difference_scale_in_closed_form():
    zero = _two_tokens(0.0)
    assert log_odds_difference(_two_tokens(0.02), zero) == pytest.approx(0.01, rel=1e-12)   # scale 1
    assert log_odds_difference(_two_tokens(20.0), zero) == pytest.approx(1.0, rel=1e-12)    # scale |Λ_a| = 10
    assert log_odds_difference(zero, _two_tokens(20.0)) == pytest.approx(1.0, rel=1e-12)    # scale |Λ_b| = 10


# --- M2's condition-number bound and M6's rtol ------------------------------------------------
def test_reparametrize_condition_number_bound_is_inclusive():
    m = _m_e1()
    reparametrize(m, np.diag([1.0, 1e-12]))                   # κ = 1e12 exactly: accepted
    with pytest.raises(ValueError, match=r"^A must be invertible \(well conditioned\); its condition number is 1e\+12$"):
        reparametrize(m, np.diag([1.0, 1 / (1e12 + 0.5)]))   # κ = 1e12 + 0.5


def test_reduce_uses_its_rtol():
    """Singular values of F Ḡᵀ: 1 and 1e-5. rtol 1e-3 sees k = 1, the default (1e-9) k = 2."""
    m = NextTokenPredictor(np.diag([1.0, 1e-5]), np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert reduce(m).dim == 2 and reduce(m, rtol=1e-3).dim == 1
