"""Sharp tests of allornone.theory.readings (page 24's numpy-only measurements and readings).

Every expected value comes from a hand-built matrix whose answer is known in closed form
(axis-aligned spans, two lines at cos θ = 0.6, a least-squares line through four points),
written to kill the mutants `make mutation` left in the module."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from allornone.theory import readings as R
from allornone.theory.model import NextTokenPredictor
from allornone.theory.properties.relational import RelationalQuery

E3 = np.eye(3)
T32 = float(np.float32(1e-4))           # the float32 nearest 1e-4, exactly, as a float64


def span_eq(Q, expected):
    """``span Q == span expected`` (both orthonormal-ish), by projectors."""
    Q = np.asarray(Q, dtype=np.float64)
    X, _ = np.linalg.qr(np.asarray(expected, dtype=np.float64))
    return Q.shape[1] == X.shape[1] and np.allclose(Q @ Q.T, X @ X.T, atol=1e-12)


# --- _as_matrix and basis -----------------------------------------------------------------------

@pytest.mark.parametrize("fn, args, name, shape", [
    (R.basis, (np.zeros((2, 2, 2)),), "X", (2, 2, 2)),
    (R.complement_basis, (np.zeros((2, 2, 2)),), "B", (2, 2, 2)),
    (R.inclusion_residual, (E3, np.zeros((3, 1, 1))), "V", (3, 1, 1)),
    (R.affine_fit, (np.zeros((2, 2, 2)), np.zeros(2)), "X", (2, 2, 2)),
    (R.affine_fit, (np.zeros((2, 1)), np.zeros((2, 1, 1))), "Y", (2, 1, 1)),
    (R.sum_residual, (np.ones(3), np.zeros((3, 1, 1))), "span", (3, 1, 1)),
])
def test_bad_arrays_name_the_argument_and_the_shape(fn, args, name, shape):
    msg = "^" + re.escape(f"{name} must be a finite 2-D array (or a vector); got shape {shape}") + "$"
    with pytest.raises(ValueError, match=msg):
        fn(*args)


def test_non_finite_2d_input_is_refused():
    with pytest.raises(ValueError, match=r"^X must be a finite 2-D array .*got shape \(2, 1\)$"):
        R.basis([[1.0], [np.nan]])
    with pytest.raises(ValueError, match=r"^X must be .*got shape \(1, 2, 2\)$"):
        R.basis(np.ones((1, 2, 2)))                 # finite but 3-D


def test_basis_of_known_spans():
    Q = R.basis([3.0, 4.0])                          # a vector is one column
    assert Q.shape == (2, 1) and Q.dtype == np.float64
    assert np.allclose(np.abs(Q[:, 0]), [0.6, 0.8], atol=1e-15)
    assert np.abs(R.basis([[5.0]])) == pytest.approx(np.ones((1, 1)))      # a 1 × 1 matrix
    assert R.basis(np.zeros((3, 0))).shape == (3, 0)                        # no columns
    assert R.basis(np.zeros((3, 2))).shape == (3, 0)                        # the zero matrix
    assert R.basis(np.zeros((2, 3))).shape == (2, 0)
    P = R.basis(np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2.0]]))
    assert span_eq(P, E3[:, [0, 2]])


def test_basis_is_float64_for_float32_input():
    Q = R.basis(np.array([[1.0], [T32]], dtype=np.float32))
    assert Q.dtype == np.float64
    assert abs(Q[1, 0]) == pytest.approx(T32 / np.sqrt(1 + T32**2), rel=1e-13, abs=0)


def test_basis_cut_is_strict_and_relative_to_the_largest_singular_value():
    D = np.diag([4.0, 1.0])                          # singular values 4 and 1: ratio 1/4 exactly
    assert R.basis(D, rtol=0.25).shape == (2, 1)     # 1 > 0.25 * 4 is false
    assert R.basis(D, rtol=0.25 * (1 - 1e-12)).shape == (2, 2)
    assert R.basis(D, rtol=0.5).shape == (2, 1)      # rtol / s0 = 0.125 would keep both
    # the default cut RTOL = 1e-9
    assert R.basis(np.diag([1.0, 2e-9])).shape == (2, 2)
    assert R.basis(np.diag([1.0, 0.5e-9])).shape == (2, 1)


def test_complement_of_known_spans():
    C = R.complement_basis(E3[:, [0]])
    assert C.shape == (3, 2) and span_eq(C, E3[:, [1, 2]])
    C = R.complement_basis([[1.0], [1.0], [0.0]])
    assert C.shape == (3, 2) and np.abs(C.T @ [1.0, 1.0, 0.0]).max() < 1e-15
    assert np.array_equal(R.complement_basis(np.zeros((3, 1))), np.eye(3))          # span{0}: all of R^3
    assert np.array_equal(R.complement_basis(np.zeros((2, 1)), dim=4), np.eye(4))   # dim given
    assert R.complement_basis(E3).shape == (3, 0)


# --- intersections --------------------------------------------------------------------------------

A_LINE, B_TILT = np.array([1.0, 0.0]), np.array([0.6, 0.8])   # cos θ = 0.6
# [a, -b] has singular values sqrt(1.6), sqrt(0.4): their ratio is exactly 1/2, product sqrt(0.64) = 0.8


@pytest.mark.parametrize("f", ["dim", "basis"])
def test_intersection_cut_at_its_boundary(f):
    def n(rtol):
        if f == "dim":
            return R.intersection_dim(A_LINE, B_TILT, rtol=rtol)
        I = R.intersection_basis(A_LINE, B_TILT, rtol=rtol)
        assert I.shape[0] == 2
        return I.shape[1]
    assert n(0.5 * (1 - 1e-9)) == 0                 # s_min = sqrt(0.4) > rtol * sqrt(1.6)
    assert n(0.5 * (1 + 1e-9)) == 1                 # just above the ratio: the lines "meet"
    # orthogonal lines: singular values exactly 1 = max(s0, 1); rtol = 1 puts the cut on them
    e = np.eye(3)
    if f == "dim":
        assert R.intersection_dim(e[:, 0], e[:, 1], rtol=1.0) == 2
        assert R.intersection_dim(e[:, 0], e[:, 1], rtol=1.0 - 1e-12) == 0
    else:
        assert R.intersection_basis(e[:, 0], e[:, 1], rtol=1.0).shape == (3, 1)
        assert R.intersection_basis(e[:, 0], e[:, 1], rtol=1.0 - 1e-12).shape == (3, 0)


def test_intersection_default_rtol_is_1e_8():
    for t, meet in ((4e-8, 0), (1e-8, 1)):       # s_min / s0 = tan(t/2) ≈ t/2
        b = np.array([np.cos(t), np.sin(t)])
        assert R.intersection_dim(A_LINE, b) == meet
        assert R.intersection_basis(A_LINE, b).shape == (2, meet)


def test_intersection_of_known_subspaces():
    e = np.eye(3)
    plane1, plane2 = e[:, [0, 1]], np.c_[e[:, 1] + e[:, 2], e[:, 0] - e[:, 2]]
    # plane2 = span{e2+e3, e1-e3} ∋ (e2+e3)+(e1-e3) = e1+e2: the two planes meet in that line
    assert R.intersection_dim(plane1, plane2) == 1
    I = R.intersection_basis(plane1, plane2)
    assert I.shape == (3, 1) and np.allclose(np.abs(I[:, 0]), [2**-0.5, 2**-0.5, 0.0], atol=1e-12)
    line = e[:, [2]]
    assert R.intersection_dim(line, e) == 1 and R.intersection_dim(e, line) == 1     # one basis of 1 column
    assert span_eq(R.intersection_basis(line, e), line) and span_eq(R.intersection_basis(e, line), line)
    assert R.intersection_dim(e[:, 0], e[:, 1]) == 0
    assert R.intersection_basis(e[:, 0], e[:, 1]).shape == (3, 0)
    for Z, W in ((np.zeros((3, 1)), e), (e, np.zeros((3, 1))), (np.zeros((3, 1)), np.zeros((3, 2)))):
        assert R.intersection_dim(Z, W) == 0
        assert R.intersection_basis(Z, W).shape == (3, 0)
    for rtol in (1.0, 2.0):                          # {0} meets anything in {0}, whatever the cut
        assert R.intersection_dim(np.zeros((3, 1)), e, rtol=rtol) == 0 == R.intersection_dim(e, np.zeros((3, 1)), rtol=rtol)
        assert R.intersection_basis(np.zeros((3, 1)), e, rtol=rtol).shape == (3, 0)
        assert R.intersection_basis(e, np.zeros((3, 1)), rtol=rtol).shape == (3, 0)
    assert R.intersection_dim(plane1, plane1) == 2 and span_eq(R.intersection_basis(plane1, plane1), plane1)


# --- inclusion and sum residuals ------------------------------------------------------------------

def test_inclusion_residual_closed_forms():
    assert R.inclusion_residual(E3[:, [0]], [3.0, 4.0, 0.0]) == pytest.approx(0.8, abs=1e-15)
    assert R.inclusion_residual(E3, np.zeros(3)) == 0.0             # the zero subspace is inside everything
    assert R.inclusion_residual(np.zeros((3, 0)), [1.0, 2.0, 2.0]) == 1.0
    assert R.inclusion_residual([], [1.0, 2.0, 2.0]) == 1.0         # no vectors at all: only 0 is inside
    assert R.inclusion_residual(E3[:, [0, 1]], E3[:, [0, 2]]) == pytest.approx(np.sqrt(0.5))


def test_sum_residual_closed_forms():
    w = np.array([3.0, 0.0, 4.0])
    assert R.sum_residual(w, E3[:, 0], E3[:, 1]) == pytest.approx(0.8, abs=1e-15)
    assert R.sum_residual(w, [], np.zeros((3, 0)), E3[:, [2]]) == pytest.approx(0.6, abs=1e-15)   # empty spans skipped
    assert R.sum_residual(w) == 1.0                                  # no span: w is all residual
    assert R.sum_residual(w, []) == 1.0
    assert R.sum_residual(np.zeros(3)) == 0.0
    # a float32 w is measured in float64: its squared norm (1e-60) would underflow to 0 in float32
    assert R.sum_residual(np.array([1e-30, 0.0, 0.0], dtype=np.float32)) == 1.0
    assert R.sum_residual(np.zeros((3, 1)), E3[:, 0]) == 0.0


# --- spaces ----------------------------------------------------------------------------------------

def _model(F, G):
    return NextTokenPredictor(np.asarray(F, dtype=np.float64), np.asarray(G, dtype=np.float64))


def test_spaces_of_a_hand_model():
    F = [[1, 0, 0], [1, 1, 0], [1, 0, 1]]          # N = R^3, N0 = span{e2, e3} (the affine hull's directions)
    G = [[0, 0, 1], [1, 0, 1], [2, 0, 1]]          # M = span{e1}
    sp = R.spaces(_model(F, G))
    assert set(sp) == {"N", "N0", "M"}
    assert span_eq(sp["N"], E3) and span_eq(sp["N0"], E3[:, [1, 2]]) and span_eq(sp["M"], E3[:, [0]])
    sp = R.spaces(_model(F, G), contexts=[0, 1])
    assert span_eq(sp["N"], np.c_[E3[:, 0], E3[:, 1]]) and span_eq(sp["N0"], E3[:, [1]])
    one = R.spaces(_model([[2, 0, 0]], [[0, 0, 1]]))   # one context, one token
    assert span_eq(one["N"], E3[:, [0]]) and one["N0"].shape == (3, 0) and one["M"].shape == (3, 0)
    assert R.spaces(_model(F, G), contexts=[2])["N0"].shape == (3, 0)


# --- affine fits -----------------------------------------------------------------------------------

def test_affine_fit_closed_forms():
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    # y = [0, 1, 0, 1] on x = 0..3: LS line 0.2 x + 0.2, errors (0.2, -0.6, 0.6, -0.2), spread 0.5
    r, dec = R.affine_fit(x, [0.0, 1.0, 0.0, 1.0])
    assert r == pytest.approx(1.2, rel=1e-12) and dec is True
    assert R.affine_fit(x, 2 * x + 1)[0] == pytest.approx(0.0, abs=1e-14)
    # X = 0: the fit is the column mean. Y columns 0.1·[0, 0, 0, 4] (mean .1, err .3, spread .3)
    # and the constant 1 (err 0): residual .3 / .3 = 1; the spread is per column, below 1
    Y = np.c_[[0.0, 0.0, 0.0, 0.4], np.ones(4)]
    r, dec = R.affine_fit(np.zeros((4, 1)), Y)
    assert r == pytest.approx(1.0, rel=1e-12) and dec is True     # 4 rows > rank [0, 1] = 1
    assert R.affine_fit(np.zeros((4, 1)), np.c_[[0.0, 0, 0, 4], 10 * np.ones(4)])[0] == pytest.approx(1.0, rel=1e-12)
    assert R.affine_fit(np.zeros((4, 1)), np.zeros(4)) == (0.0, True)


def test_affine_fit_decidable_needs_more_rows_than_the_rank():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])          # rank [X, 1] = 3
    assert R.affine_fit(X, [1.0, 5.0, -2.0])[1] is False         # 3 rows: anything fits
    assert R.affine_fit(np.r_[X, [[1.0, 1.0]]], [1.0, 5.0, -2.0, 0.0])[1] is True
    Xd = np.c_[X[:, :1], 2 * X[:, :1]]                          # rank [Xd, 1] = 2 < 3 rows
    assert R.affine_fit(Xd, [0.0, 1.0, 0.0])[1] is True


def test_reproduce_scores_and_effect_closed_forms():
    m = _model([[0.0], [1.0], [2.0], [3.0], [10.0]], [[0.0], [1.0], [2.0]])
    assert R.reproduce_scores(m, [0, 1, 2, 3], [0.0, 1.0, 0.0, 1.0]) == pytest.approx(1.2, rel=1e-12)
    assert R.reproduce_scores(m, (0, 1, 4), [1.0, 3.0, 21.0]) == pytest.approx(0.0, abs=1e-13)
    # Ḡ = [0, 1, 2]ᵀ, e = [0, .1, .3]: u = (.1 + .6) / 5 = .14, errors (0, .04, -.02), max |e| = .3
    assert R.reproduce_effect(m, [0.0, 0.1, 0.3]) == pytest.approx(0.04 / 0.3, rel=1e-12)
    assert R.reproduce_effect(m, [0.0, 0.2, 0.4]) == pytest.approx(0.0, abs=1e-14)
    assert R.reproduce_effect(m, [0.1, 0.0, 0.0]) == pytest.approx(1.0, rel=1e-12)   # the pivot row of Ḡ is 0


def test_least_squares_probe_exact_solution():
    m = _model([[0, 0], [1, 0], [0, 1], [1, 1], [5, 5]], [[0, 0], [1, 0]])
    w, b = R.least_squares_probe(m, [0, 1, 2, 3], [0, 1, 0, 1])   # 2c - 1 = 2 x1 - 1
    assert w.shape == (2,) and np.allclose(w, [2.0, 0.0], atol=1e-13) and b == pytest.approx(-1.0, abs=1e-13)
    assert isinstance(b, float)
    # float32 labels are computed in float64: on three contexts [F, 1] is square and invertible,
    # with w = (t1 - t0, t2 - t0), b = t0 for t = 2c - 1 (float32 arithmetic would round t by ~6e-8)
    c = np.float32([0.1, 0.7, 0.3])
    t = 2 * c.astype(np.float64) - 1
    w, b = R.least_squares_probe(m, (0, 1, 2), c)
    assert np.allclose(w, [t[1] - t[0], t[2] - t[0]], rtol=0, atol=1e-14)
    assert b == pytest.approx(t[0], abs=1e-14)


# --- steering vector and SC residuals --------------------------------------------------------------

def test_min_norm_steering_hand_solution():
    G = [[1, 0, 0], [3, 0, 0], [1, 1, 0], [1, 2, 0]]
    m = _model([[1, 0, 0]], G)
    # rows g1 - g0 = (2, 0, 0) and g3 - g2 = (0, 1, 0): minimum-norm v = (0.5, 0, 0)
    v = R.min_norm_steering(m, (1, 0), (2, 3))
    assert np.allclose(v, [0.5, 0.0, 0.0], atol=1e-15)


def _probe_model(g0=(0.0, 0.0, 1.0)):
    g0 = np.asarray(g0)
    F = [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 0]]
    G = [g0, g0 + E3[0], g0 + E3[1]]            # M = span{e1, e2}, M^⊥ = e3
    return _model(F, G)


def test_sc_probe_residual_hand_model():
    m = _probe_model()
    w = [3.0, 0.0, 4.0]
    assert R.sc_probe_residual(m, [0, 1], w) == pytest.approx(0.8, abs=1e-15)       # N_S ∩ M^⊥ = e3
    assert R.sc_probe_residual(m, [0, 1, 2, 3], w) == pytest.approx(0.8, abs=1e-15)
    assert R.sc_probe_residual(m, [0, 2], w) == 0.0            # N_S = span{e1, e2} ⊆ M: nothing to meet
    assert R.sc_probe_residual(m, [3], w) == 0.0               # N_S = {0}
    assert R.sc_probe_residual(m, [0, 1], np.zeros(3)) == 0.0
    assert R.sc_probe_residual(m, [0, 1], [3.0, 4.0, 0.0]) == pytest.approx(0.0, abs=1e-15)   # w ∈ M
    one = _model([[0, 0, 1]], [[1, 2, 3]])                     # one token: M = {0}, M^⊥ = R^3
    assert R.sc_probe_residual(one, [0], w) == pytest.approx(0.8, abs=1e-15)
    w32 = np.array([1.0, 0.0, T32], dtype=np.float32)          # the norm is taken in float64
    assert R.sc_probe_residual(m, [0, 1], w32) == pytest.approx(T32 / np.sqrt(1 + T32**2), rel=1e-13, abs=0)


def test_sc_steer_residual_hand_model():
    F = [[1, 0, 0], [0, 1, 0]]                                 # N = span{e1, e2}, N^⊥ = e3
    m = _model(F, [[0, 0, 0], [1, 0, 0], [0, 0, 1]])           # M = span{e1, e3}: M ∩ N^⊥ = e3
    v = [3.0, 0.0, 4.0]
    assert R.sc_steer_residual(m, v) == pytest.approx(0.8, abs=1e-15)
    assert R.sc_steer_residual(m, np.zeros(3)) == 0.0
    assert R.sc_steer_residual(m, [3.0, 4.0, 0.0]) == pytest.approx(0.0, abs=1e-15)
    inside = _model(F, [[0, 0, 0], [1, 0, 0], [0, 1, 0]])     # M ⊆ N
    assert R.sc_steer_residual(inside, v) == 0.0
    assert R.sc_steer_residual(_model(F, [[1, 1, 1]]), v) == 0.0                # M = {0}
    v32 = np.array([1.0, 0.0, T32], dtype=np.float32)
    assert R.sc_steer_residual(m, v32) == pytest.approx(T32 / np.sqrt(1 + T32**2), rel=1e-13, abs=0)


def test_sin_angle_closed_forms():
    assert R.sin_angle([3.0, 4.0], [1.0, 0.0]) == pytest.approx(0.8, abs=1e-15)
    assert R.sin_angle([1.0, 0.0], [3.0, 4.0]) == pytest.approx(0.8, abs=1e-15)
    assert R.sin_angle([0.0, 2.0], [5.0, 0.0]) == 1.0
    exact = T32 / np.sqrt(1 + T32**2)                          # tan θ = T32
    u32, v32 = np.array([1.0, T32], dtype=np.float32), np.array([1.0, 0.0], dtype=np.float32)
    assert R.sin_angle(u32, [1.0, 0.0]) == pytest.approx(exact, rel=1e-13, abs=0)        # float64 norms
    assert R.sin_angle([1.0, 0.0], u32) == pytest.approx(exact, rel=1e-13, abs=0)
    assert R.sin_angle(v32, [1.0, T32]) == pytest.approx(exact, rel=1e-13, abs=0)
    # a nearly orthogonal pair whose rounded ratio |u - (u·v)/|v|² v| / |u| is 1 + 2⁻⁵²: clamped to 1
    u = np.array([-0.8, -0.3, -0.5])
    v = np.array([-0.8, 0.1, 0.3])
    v = v - (v @ u) / (u @ u) * u
    assert np.linalg.norm(u - (u @ v) / np.linalg.norm(v)**2 * v) / np.linalg.norm(u) > 1.0
    assert R.sin_angle(u, v) == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")                        # the zero vector never reaches a division
        assert R.sin_angle(np.zeros(2), [1.0, 0.0]) == 1.0
        assert R.sin_angle([1.0, 0.0], np.zeros(2)) == 1.0


# --- readings ----------------------------------------------------------------------------------------

def test_gamma_readings_and_their_errors():
    F = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]
    G = [[0, 0, 0], [1, 0, 1], [1, 1, 1], [1, 0, 2]]           # answers 1, 2, 3: diffs e2, e3 from g1
    m = _model(F, G)
    q = RelationalQuery(base=(0,), queried=(3,), answers=(1, 2, 3))
    assert span_eq(R.gamma_q(m, q, "answer"), E3[:, [1, 2]])
    assert span_eq(R.gamma_q(m, q, "queried"), [[1.0], [1.0], [0.0]])
    assert span_eq(R.gamma(m, q, "answer"), E3[:, [1, 2]])     # default Γ_q reading: answer
    assert span_eq(R.gamma(m, q, "answer", "queried"), [[1.0], [1.0], [0.0]])
    assert np.array_equal(R.gamma(m, q, "whole"), np.eye(3))
    with pytest.raises(ValueError, match=r"^reading must be one of \['answer', 'whole'\]; got 'x'$"):
        R.gamma(m, q, "x")
    with pytest.raises(ValueError, match=r"^reading must be one of \['answer', 'queried'\]; got 'x'$"):
        R.gamma_q(m, q, "x")
    with pytest.raises(ValueError, match=r"^n_reading must be one of \['book', 'swapped'\]; got 'x'$"):
        R.named_spaces(m, q, "x")
    sw = R.named_spaces(m, q, "swapped")
    assert span_eq(sw["N"], E3) and span_eq(sw["M"], E3)


# contexts s = the unit square in (x1, x2); f(s ⊕ q) = (x1, x2, x1·x2): affine on e1, e2, not on e3
SQUARE = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]]
QUERIED = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1]]
QRY = RelationalQuery(base=(0, 1, 2, 3), queried=(4, 5, 6, 7), answers=(0, 1, 2))


def test_relational_on_closed_forms():
    m = _model(SQUARE + QUERIED, [[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    assert R.relational_on(m, QRY, E3[:, :2])[:1] == (True,)
    holds, r, dec = R.relational_on(m, QRY, E3[:, [2]])
    # z = [0, 0, 0, 1] on the square: LS plane .5 x1 + .5 x2 - .25, errors ±.25, spread .75
    assert not holds and r == pytest.approx(1 / 3, rel=1e-12) and dec
    assert R.relational_on(m, QRY, E3[:, [2]], tol=0.34)[0] and not R.relational_on(m, QRY, E3[:, [2]], tol=0.33)[0]
    flat = _model(SQUARE + SQUARE, [[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    assert R.relational_on(flat, QRY, E3[:, [2]], tol=0.0) == (True, 0.0, True)   # P_Γ f = 0 exactly


def test_relational_reading_on_hand_classes():
    A = _model(SQUARE + QUERIED, [[0, 0, 0], [1, 0, 0], [0, 1, 0]])              # M = span{e1, e2}
    B = _model(SQUARE + QUERIED, [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])   # M = R^3
    # A, book: Γ = Γ_q = span{e1, e2} ⊆ N = R^3 and ⊆ M; the query is affine there
    r = R.relational_reading({"A": [A]}, QRY, "book", "answer", "answer")
    assert r.per_class["A"]["n_cond"] == 1 and r.per_class["A"]["n_cond_prop"] == 1
    # A, swapped, Γ_q = span f(s ⊕ q) = R^3: Γ = R^3 ⊄ N = M_book = span{e1, e2}
    r = R.relational_reading({"A": [A]}, QRY, "swapped", "answer", "queried")
    assert r.per_class["A"]["n_cond"] == 0
    # B, book, Γ = Γ_q = R^3 ⊆ N, M: the condition holds, the property (z = x1 x2) fails, r = 1/3
    r = R.relational_reading({"B": [B]}, QRY, "book", "answer", "queried")
    assert (r.per_class["B"]["n_cond"], r.per_class["B"]["n_cond_prop"]) == (1, 0)
    r = R.relational_reading({"B": [B]}, QRY, "book", "answer", "queried", tol=0.5)
    assert r.per_class["B"]["n_cond_prop"] == 1


def test_relational_reading_inclusion_tolerance_is_inclusive():
    # embeddings in span{e1, e2}, answers differing along e3: Γ_q = e3 ⊥ N exactly (residual 1)
    C = _model(SQUARE + SQUARE, [[0, 0, 0], [0, 0, 1], [1, 0, 0]])
    q = RelationalQuery(base=(0, 1, 2, 3), queried=(4, 5, 6, 7), answers=(0, 1))
    assert R.inclusion_residual(R.spaces(C)["N"], R.gamma_q(C, q, "answer")) == 1.0
    book = R.relational_reading({"C": [C]}, q, "book", "answer", "answer", incl_tol=1.0)
    assert book.per_class["C"]["n_cond"] == 1                 # 1.0 <= 1.0
    assert R.relational_reading({"C": [C]}, q, "book", "answer", "answer", incl_tol=0.999).per_class["C"]["n_cond"] == 0
    sw = R.relational_reading({"C": [C]}, q, "swapped", "answer", "answer", incl_tol=1.0)
    assert sw.per_class["C"]["n_cond"] == 1                   # Γ_q ⊆ N_sw = M; Γ_q ⊥ M_sw = span F
    assert R.relational_reading({"C": [C]}, q, "swapped", "answer", "answer", incl_tol=0.999).per_class["C"]["n_cond"] == 0


def test_evaluate_reading_counts_by_hand():
    # member -> (holds, decidable); member 5 fails the condition
    table = {0: (True, True), 1: (False, False), 2: (True, True), 3: (False, True), 4: (False, True), 5: (True, True),
             10: (True, True), 11: (True, True), 20: (False, True), 21: (True, True), 22: (False, False),
             23: (True, False)}
    classes = {"a": [0, 1, 2, 3, 4, 5], "b": [10, 11], "c": [20, 21, 22, 23]}
    out = R.evaluate_reading(classes, lambda m: m != 5, lambda m: table[m])
    assert out.per_class["a"] == {"n": 6, "n_cond": 4, "n_cond_prop": 2, "n_undecided": 1, "with": 0, "without": 3}
    assert out.per_class["b"] == {"n": 2, "n_cond": 2, "n_cond_prop": 2, "n_undecided": 0, "with": 0, "without": None}
    assert out.per_class["c"] == {"n": 4, "n_cond": 2, "n_cond_prop": 1, "n_undecided": 2, "with": 1, "without": 0}
    assert out.split == ["a", "c"] and out.witness == ("a", 0, 3) and not out.all_or_none
    assert (out.n_members, out.n_cond, out.n_undecided) == (12, 8, 3)
    empty = R.evaluate_reading({}, lambda m: True, lambda m: (True, True))
    assert empty.all_or_none and empty.witness is None and empty.n_members == 0


def _parallel_member(d1, d2, F=((1.0, 0.0), (0.0, 1.0))):
    """Tokens 0..3 with g1 - g0 = d1 and g3 - g2 = d2 (g0 = g2 = (1, 1))."""
    o = np.ones(2)
    return _model(F, [o, o + np.asarray(d1), o, o + np.asarray(d2)])


PAIRS = ((0, 1), (2, 3))


def test_parallel_reading_thresholds():
    exact = _parallel_member([2.0, 6.0], [1.0, 3.0])         # d1 = 2 d2 exactly
    assert R.parallel_reading([exact], PAIRS, "N", 2.0, tol=0.0) == (1, 1)
    # |d1| ≈ 10, |d1 - 10 d2| = 5e-8: inside tol·|d1| = 1e-7, outside tol / |d1| = 1e-9
    big = _parallel_member([10.0, 5e-8], [1.0, 0.0])
    assert R.parallel_reading([big], PAIRS, "N", 10.0) == (1, 1)
    # |d1| ≈ 0.1, |d1 - 10 d2| = 5e-9: outside tol·|d1| = 1e-9 (not tol·1)
    small = _parallel_member([0.1, 5e-9], [0.01, 0.0])
    assert R.parallel_reading([small], PAIRS, "N", 10.0) == (0, 0)
    assert R.parallel_reading([big, small, exact], PAIRS, "N", 10.0, tol=1e-7) == (2, 2)


def test_parallel_reading_only_within_the_subspace():
    # N = span{e1}: d1 = (2, 1), d2 = (1, 0) are parallel after projection, not before
    m = _parallel_member([2.0, 1.0], [1.0, 0.0], F=((1.0, 0.0), (3.0, 0.0)))
    assert R.parallel_reading([m], PAIRS, "N", 2.0) == (1, 0)
    assert R.parallel_reading([m], PAIRS, "N0", 2.0) == (1, 0)            # N0 = span{e1} too
    assert R.parallel_reading([m], PAIRS, "M", 2.0) == (0, 0)             # M = R^2: no projection


def test_relational_classes_uses_every_size_argument():
    classes, q = R.relational_classes(5, n_base=5, n_extra=3, n_tokens=9, dim=4, n_answers=2, n_members=10)
    assert q == RelationalQuery(tuple(range(5)), tuple(range(5, 10)), (1, 2))
    lin, via, non = classes["linear"][0], classes["via M⊥"][0], classes["not linear"][0]
    for m in (lin, via, non):
        assert (m.n_contexts, m.n_tokens) == (13, 9)
    assert lin.dim == 4 and via.dim == 4
    # members: the class model, n_members random ones of dims k .. 3k cycling (k = 4: 4 .. 12, then 4 again),
    # the lift, (the counterexample)
    assert [len(classes[c]) for c in ("linear", "via M⊥", "not linear")] == [13, 13, 12]
    assert [m.dim for m in classes["linear"][1:11]] == list(range(4, 13)) + [4]
    again, _ = R.relational_classes(5, n_base=5, n_extra=3, n_tokens=9, dim=4, n_answers=2, n_members=10)
    assert all(np.array_equal(a.F, b.F) for a, b in zip(classes["linear"], again["linear"]))
    two, _ = R.relational_classes(5, n_base=5, n_extra=3, n_tokens=9, dim=3, n_answers=2, n_members=2, max_dim_factor=2)
    assert [m.dim for m in two["linear"][1:3]] == [3, 4]


def test_affine_fit_constant_target_is_exactly_affine():
    """A constant Y is affine (C = [0; c]); only rounding remains, measured against |Y|, never against a zero spread."""
    from allornone.theory.readings import affine_fit

    X = np.array([[0.3, -1.2], [2.0, 0.7], [-0.4, 0.1], [1.1, 1.9], [0.0, -0.8], [0.9, 0.2]])
    for c in (5.0, 0.3, -7.0):
        res, decidable = affine_fit(X, np.full(6, c))
        assert res < 1e-12 and decidable
    assert affine_fit(X, np.zeros(6)) == (0.0, True)
    # a Y that varies by 1e-10 around 5 (above 1e-12 * 5): judged on its spread, and x1 * x2 is not affine in X
    wiggle = X[:, 0] * X[:, 1]
    res, _ = affine_fit(X, 5.0 + 1e-10 * wiggle)
    assert res > 0.1


def test_sc_residuals_are_basis_free_on_a_two_dimensional_intersection():
    """N_S ∩ M^⊥ = span{e2, e3}: the distance of w = (1, 1, 1) from M + N_S^⊥ = span{e1} is √(2/3), whatever
    basis of the plane the SVD returns (a largest cosine over a basis would give anything in [√(1/3), √(2/3)])."""
    m = _model([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 0, 0], [1, 0, 0]])      # N_S = R^3, M = span{e1}
    assert R.sc_probe_residual(m, [0, 1, 2], [1.0, 1.0, 1.0]) == pytest.approx(np.sqrt(2 / 3), abs=1e-14)
    assert R.sc_probe_residual(m, [0, 1, 2], [0.0, 1.0, -1.0]) == pytest.approx(1.0, abs=1e-14)
    s = _model([[1, 0, 0]], [[0, 0, 0], [0, 1, 0], [0, 0, 1]])                  # N = e1, M = span{e2, e3}
    assert R.sc_steer_residual(s, [1.0, 1.0, 1.0]) == pytest.approx(np.sqrt(2 / 3), abs=1e-14)
