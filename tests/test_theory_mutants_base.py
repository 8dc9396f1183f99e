"""Sharp tests of allornone.theory.properties.base (the shared figures and the transfer lemma),
written to kill the mutants `make mutation` left alive: closed-form residuals, the inclusive zero
floor of parallel_residual, exact float64 arithmetic on float32 and Fraction input, the two
sums of lem-transfer (ii), the default pivot, and the messages of the validators."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from allornone.theory import properties as TP
from allornone.theory.model import NextTokenPredictor
from allornone.theory.properties import base as B


def test_parallel_residual_zero_floor_is_inclusive():
    """|v| = 1e-12 = 1e-12 · max(|u|, |v|): v counts as zero, so nothing is parallel to it."""
    c = B.parallel_residual(np.array([1.0]), np.array([1e-12]), 1e-7)
    assert (c.holds, c.residual, c.witness, c.decidable, c.reason) == (False, 1.0, None, True, "")
    c2 = B.parallel_residual(np.array([1.0]), np.array([2e-12]), 1e-7)     # above the floor: λ = 1 / 2e-12
    assert c2.holds and c2.residual == 0.0 and c2.witness == pytest.approx(5e11)


def test_affine_fit_closed_form_residual_per_column_centring():
    """X = 0..3; y1 = (0, 1, 0, 1) leaves SS_res = 1 − 1²/5 = 0.8, y2 = 100 + 2x is exact;
    the spread is around each column's mean: SS = 1 + 20, so r = √(0.8 / 21)."""
    X = np.arange(4.0)[:, None]
    Y = np.stack([[0.0, 1, 0, 1], 100 + 2 * np.arange(4.0)], axis=1)
    C, c, r, decidable, reason = B.affine_fit(X, Y)
    assert r == pytest.approx(np.sqrt(0.8 / 21), rel=1e-12) and decidable and reason == ""
    np.testing.assert_allclose(C[:, 0], [0.2, 2.0], atol=1e-12)
    np.testing.assert_allclose(c, [0.2, 100.0], atol=1e-12)


def test_affine_fit_centres_in_float64_for_float32_data():
    """y = 2²² + (0, 1, 0, 0) is exact in float32, its mean 2²² + 0.25 is not (float32 spacing
    0.5 there). SS_res = 0.75 − 0.5²/5 = 0.7 and SS around the mean 0.75: r = √(0.7/0.75)."""
    X = np.arange(4, dtype=np.float32)[:, None]
    Y = (2.0**22 + np.array([0.0, 1, 0, 0])).astype(np.float32)[:, None]
    r = B.affine_fit(X, Y)[2]
    assert r == pytest.approx(np.sqrt(0.7 / 0.75), rel=1e-9)


def test_affine_fit_accepts_fractions():
    X = [[Fraction(0)], [Fraction(1)], [Fraction(2)], [Fraction(3)]]
    Y = [[Fraction(1, 2)], [Fraction(5, 2)], [Fraction(9, 2)], [Fraction(13, 2)]]    # y = 2x + 1/2
    C, c, r, decidable, _ = B.affine_fit(X, Y)
    assert C[0, 0] == pytest.approx(2.0) and c[0] == pytest.approx(0.5) and r < 1e-12 and decidable


def test_affine_dimension_residual_scale_free_and_float64():
    # a point cloud at any scale: distance from the best 0-dimensional subspace (a point) is all of it
    tiny = 1e-14 * np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert B.affine_dimension_residual(tiny, 0) == pytest.approx(1.0)
    # seven float32 points exactly on a line far from 0: the float32 mean is off the line
    x = np.arange(7.0)
    Y = np.stack([2.0**20 + x, 2.0**20 + 3 * x], axis=1).astype(np.float32)
    assert B.affine_dimension_residual(Y, 1) < 1e-12
    assert B.affine_dimension_residual([[Fraction(0), Fraction(1)], [Fraction(1), Fraction(3)],
                                        [Fraction(2), Fraction(5)]], 1) < 1e-12


def test_sum_member_edge_values():
    assert B.sum_member(np.zeros(2), np.eye(2)[:, :1]) == 0.0                   # the zero vector is inside
    assert B.sum_member(np.array([3.0, 4.0]), np.zeros((2, 0))) == 1.0          # nothing spans: all of it
    assert B.sum_member(np.array([3.0, 4.0]), np.eye(2)[:, :1]) == pytest.approx(0.8)


def _e1_model():
    """d = 2, N = span(e1) (F rows along e1), M = span(e1) (unembedding differences along e1)."""
    F = np.array([[1.0, 0.0], [2.0, 0.0]])
    G = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    return NextTokenPredictor(F, G)


def test_identifiable_unembedding_directions_counts_m_perp():
    """lem-transfer (ii): v ∈ N + M^⊥. With N = M = span(e1), e2 ∈ M^⊥ is identifiable."""
    m = _e1_model()
    c = B.identifiable_unembedding_directions(m, [0.0, 1.0])
    assert c.holds and c.residual == pytest.approx(0.0, abs=1e-15) and c.label == "lem-transfer"
    assert c.name == "v ∈ N + M^⊥"


def test_transfer_direction_default_pivot_zero():
    """N = span(e1), M = ℝ², v = e2 ∉ N + M^⊥: the least-squares c over tokens depends on the pivot.
    G = (0,0), (1,0), (0,1). Pivot 0: Λ = (0, 1, 0), target Ḡ e2 = (0, 0, 1): c = 0.
    Pivot 1: Λ = (−1, 0, −1), target (0, 0, 1): c = −1/2. ṽ = Fᵀ c with F = [[1, 0]]."""
    m = NextTokenPredictor(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(B.transfer_direction(m, m, [0.0, 1.0]), [0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(B.transfer_direction(m, m, [0.0, 1.0], pivot=1), [-0.5, 0.0], atol=1e-12)


def test_validator_messages_name_the_argument():
    with pytest.raises(ValueError, match=r"^tol must be a finite number > 0; got -1$"):
        B.resolve_tol(-1)
    with pytest.raises(ValueError, match=r"^pairs must be two pairs of integer indices; got \(\('a', 1\), \(2, 3\)\)$"):
        TP.ParallelUnembedding((("a", 1), (2, 3)))
    with pytest.raises(ValueError, match=r"^base must be a sequence of integer indices; got \['x'\]$"):
        TP.RelationalQuery(["x"], (1,), (1,))
    with pytest.raises(ValueError, match=r"^base must hold non-negative indices; got \(-1,\)$"):
        TP.RelationalQuery((-1,), (1,), (1,))
    kind = TP.KINDS["parallel_unembedding"]
    m, prop = TP.parallel_unembedding_example(0)
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got str$"):
        kind.validate("m", prop)
    with pytest.raises(ValueError, match=r"^prop must be a ParallelUnembedding for parallel_unembedding; got str$"):
        kind.validate(m, "prop")


def test_parallel_residual_sine_never_exceeds_one():
    """Orthogonal u, v: |u − λ v| / |u| rounds to 1 + 2⁻⁵² here; |sin| is at most 1."""
    u = np.array([0.4116305363741328, 1.0425133694426776, -0.12853466294403426])
    v = np.array([1.4234404625088442, -0.5208922697065836, 0.33371858523005277])
    c = B.parallel_residual(u, v, 1e-7)
    assert c.residual == 1.0 and not c.holds and c.decidable
