"""Sharp tests of the property modules (second set), written for the mutants of
``lib/allornone/theory/properties/`` (except ``base.py``) that the last ``make mutation`` left alive.

Every expectation comes from the mathematics of a small model built by hand (``F``, ``G`` tables whose
property holds or fails by construction), never from re-calling the function under test: residuals
in closed form (``ε / √(1 + ε²)`` for a vector ``e_1 + ε e_3`` outside a plane), thresholds on
either side of their boundary, the cases ``N_S ≠ N`` and ``M ≠ ℝ^d``, and the named errors.
"""

from __future__ import annotations

import numpy as np
import pytest

import allornone as aon
from allornone.theory.model import NextTokenPredictor
from allornone.theory.properties import linear_subspace as LS
from allornone.theory.properties import parallel_embeddings as PE
from allornone.theory.properties import parallel_unembeddings as PU
from allornone.theory.properties import probe as PR
from allornone.theory.properties import relational as RL
from allornone.theory.properties import relational_projected as RP
from allornone.theory.properties import relational_strong as RS
from allornone.theory.properties import steering as ST


def _model(n_contexts=10, n_tokens=8, dim=3, seed=0):
    rng = np.random.default_rng(seed)
    return NextTokenPredictor(rng.normal(size=(n_contexts, dim)), rng.normal(size=(n_tokens, dim)))


def _log_odds(F, G, pivot=0):
    """Λ[x, y] = f(x)ᵀ (g(y) − g(pivot)), by hand."""
    return F @ (G - G[pivot]).T


M0 = _model()
Q0 = RL.RelationalQuery((0, 1, 2), (3, 4, 5), (1, 2))
C0 = PR.Concept((0, 1, 2), (0, 1, 0))
T0 = ST.SteeringTarget((1, 0), (2, 3))


# --- every function names a non-model argument ------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda m: LS.check_linear_subspace(m, Q0, 0),
    lambda m: LS.answer_subspace_dimension(m, Q0),
    lambda m: PE.check_parallel_log_odds_differences(m, PE.ParallelEmbedding(((0, 1), (2, 3)))),
    lambda m: PU.check_same_log_ratios(m, PU.ParallelUnembedding(((0, 1), (2, 3)))),
    lambda m: PU.condition_parallel_unembeddings(m),
    lambda m: PU.unembedding_offsets(m, PU.ParallelUnembedding(((0, 1), (2, 3)))),
    lambda m: PR.condition_probe(m, C0, np.ones(3)),
    lambda m: PR.transfer_probe(m, M0, C0, np.ones(3)),
    lambda m: RL.answer_basis(m, Q0),
    lambda m: RL.answer_log_odds(m, Q0),
    lambda m: RL.relational_log_odds_fit(m, Q0),
    lambda m: RP.check_relational_projected(m, Q0),
    lambda m: RS.condition_relational_strong(m),
    lambda m: ST.check_steering(m, T0, np.ones(3)),
], ids=lambda c: "")
def test_functions_name_a_non_model(call):
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got str$"):
        call("not a model")


def test_unembedding_offsets_name_the_type_of_a_bad_prop():
    with pytest.raises(ValueError, match=r"^prop must be a ParallelUnembedding; got str$"):
        PU.unembedding_offsets(M0, "pairs")


def test_check_steering_names_a_bad_vector():
    with pytest.raises(ValueError, match=r"^v must have length 3; got length 2$"):
        ST.check_steering(M0, T0, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"^v must be a 1-D array; got shape \(3, 3\)$"):
        ST.check_steering(M0, T0, np.eye(3))


# --- linear subspaces --------------------------------------------------------------------------------------
def _subspace_model():
    m, q = LS.subspace_example(0)
    return m, q


@pytest.mark.parametrize("call", [
    lambda m, q, d: LS.check_linear_subspace(m, q, d),
    lambda m, q, d: LS.check_log_odds_subspace(m, q, d),
    lambda m, q, d: LS.PROPERTY.transfer(m, m, q, d),
], ids=["check", "log_odds", "transfer"])
def test_claimed_dimension_is_validated_and_named(call):
    m, q = _subspace_model()
    with pytest.raises(ValueError, match=r"^dim must be >= 0; got -1$"):
        call(m, q, -1)
    with pytest.raises(ValueError, match=r"^dim must be an integer; got 1.5$"):
        call(m, q, 1.5)


def test_affine_dimension_centres_in_float64():
    # three float32 points on the line y = 3x: their mean 2/3 is not a float32, so centring in float32
    # leaves a second singular value of ~1e-8 (relative), above the rank cut-off; in float64 it is ~1e-16
    X = np.array([[0, 0], [1, 3], [1, 3]], dtype=np.float32)
    assert LS.affine_dimension(X) == 1


def test_answer_subspace_dimension_passes_rtol():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(12, 3))
    t = rng.normal(size=6)
    F[6:12] = np.array([0.3, -1.0, 2.0]) + np.outer(t, [1.0, 2.0, -1.0]) + 1e-6 * rng.normal(size=(6, 3))
    m = NextTokenPredictor(F, rng.normal(size=(6, 3)))
    q = RL.RelationalQuery(tuple(range(6)), tuple(range(6, 12)), (1, 2, 3))
    # points on a line up to 1e-6 noise: the noise counts at the default rtol (1e-9), not at rtol 1e-3
    assert LS.answer_subspace_dimension(m, q, projected=False) == 3
    assert LS.answer_subspace_dimension(m, q, projected=False, rtol=1e-3) == 1


def test_subspace_example_offset_is_a_generic_vector():
    m, q = LS.subspace_example(0)                     # dim 5, sub_dim 2
    X = m.F[list(q.queried)]
    assert np.linalg.matrix_rank(X - X.mean(axis=0)) == 2
    # a random affine plane misses the origin and does not contain the all-ones direction: the points
    # and (1, …, 1) span sub_dim + 2 dimensions (an offset along (1, …, 1) would give sub_dim + 1)
    assert np.linalg.matrix_rank(np.vstack([X, np.ones(5)])) == 4


def test_linear_subspace_equivalent_object_by_hand():
    m, q = LS.subspace_example(0)
    cex = LS.subspace_counterexample(m, q, 0, extra=2)        # unprojected dimension 2 + 2, projected 2
    obj = LS.PROPERTY.equivalent_object(cex, q, 1)
    Xq = cex.F[list(q.queried)]
    Z = cex.F @ cex.G.T
    Lq = Z[list(q.queried)][:, list(q.answers[1:])] - Z[list(q.queried)][:, [q.answers[0]]]
    assert obj["claimed_dimension"] == 1                       # the given claim, not the default 3
    assert obj["unprojected_dimension"] == np.linalg.matrix_rank(Xq - Xq.mean(axis=0)) == 4
    assert obj["projected_dimension"] == obj["log_odds_affine_dimension"] == 2
    assert np.linalg.matrix_rank(Lq - Lq.mean(axis=0)) == 2
    assert LS.PROPERTY.equivalent_object(cex, q)["claimed_dimension"] == min(len(q.queried) - 1, len(q.answers) - 1) - 1


# --- parallel embeddings and unembeddings ------------------------------------------------------------------
def test_parallel_log_odds_differences_residual_by_hand():
    m = _model(6, 5, 3, seed=2)
    prop = PE.ParallelEmbedding(((0, 1), (2, 3)))
    for pivot in (0, 2):
        Lam = _log_odds(m.F, m.G, pivot)
        r1, r2 = Lam[1] - Lam[0], Lam[3] - Lam[2]
        lam = r1 @ r2 / (r2 @ r2)
        sin = np.linalg.norm(r1 - lam * r2) / np.linalg.norm(r1)
        c = (PE.check_parallel_log_odds_differences(m, prop) if pivot == 0
             else PE.check_parallel_log_odds_differences(m, prop, pivot=pivot))
        assert 0.05 < sin < 1
        np.testing.assert_allclose(c.residual, sin, rtol=1e-10)
        np.testing.assert_allclose(c.witness, lam, rtol=1e-10)


def test_parallel_log_odds_differences_at_rounding_level_are_undecidable():
    rng = np.random.default_rng(3)
    F = rng.normal(size=(6, 3))
    F[1] = F[0] + 1e-14 * rng.normal(size=3)            # both offsets at rounding level, the tables O(1)
    F[3] = F[2] + 1e-14 * rng.normal(size=3)
    m = NextTokenPredictor(F, rng.normal(size=(5, 3)))
    c = PE.check_parallel_log_odds_differences(m, PE.ParallelEmbedding(((0, 1), (2, 3))))
    assert not c.decidable and not c.holds
    assert c.reason == "both vectors are zero: λ is not determined"


def _scaled(m, F_scale=1.0, G_scale=1.0):
    return NextTokenPredictor(m.F * F_scale, m.G * G_scale)


@pytest.mark.parametrize("target", [0.3, 4.0])
def test_parallel_unembedding_counterexample_size(target):
    base = _model(8, 6, 3, seed=4)
    prop = PU.ParallelUnembedding(((1, 2), (3, 4)))
    D = np.array([base.G[2] - base.G[1], base.G[4] - base.G[3]])
    m = _scaled(base, G_scale=target / np.abs(D).max())           # max |δ| = target
    cex = PU.PROPERTY.counterexample(m, prop)
    u = cex.G[:, -1]
    expected = 10.0 * max(1.0, target)
    np.testing.assert_allclose(u[2], expected, rtol=1e-12)      # u(b_1) = 10 · max(1, max |δ|)
    assert np.all(np.delete(u, 2) == 0) and np.all(cex.F[:, -1] == 0)
    assert aon.max_prob_difference(m, cex) < 1e-12


@pytest.mark.parametrize("target", [0.3, 4.0])
def test_parallel_embedding_counterexample_size(target):
    base = _model(8, 6, 3, seed=5)
    prop = PE.ParallelEmbedding(((1, 2), (3, 4)))
    D = np.array([base.F[2] - base.F[1], base.F[4] - base.F[3]])
    m = _scaled(base, F_scale=target / np.abs(D).max())           # max |Δ| = target
    cex = PE.PROPERTY.counterexample(m, prop)
    h = cex.F[:, -1]
    np.testing.assert_allclose(h[2], 10.0 * max(1.0, target), rtol=1e-12)
    assert np.all(np.delete(h, 2) == 0)
    assert aon.max_prob_difference(m, cex) < 1e-12


# --- probes ------------------------------------------------------------------------------------------------
def test_probe_scores_within_1e12_of_zero_count_as_errors():
    F = np.array([[1.0], [-1.0], [0.7e-12], [1.5e-12]])
    m = NextTokenPredictor(F, np.array([[0.0], [1.0]]))
    near = PR.check_probe(m, PR.Concept((0, 1, 2), (1, 0, 1)), [1.0])
    assert near.witness == pytest.approx(2 / 3) and near.residual == pytest.approx(1 / 3)
    assert not near.holds
    far = PR.check_probe(m, PR.Concept((0, 1, 3), (1, 0, 1)), [1.0])
    assert far.holds and far.witness == 1.0


def _plane_M_model(seed=6, n=10, zero_rows=()):
    """d = 3, every g(y) has the same last coordinate (M = span(e_1, e_2)); rows ``zero_rows`` of F have a
    zero last coordinate."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, 3))
    F[list(zero_rows), 2] = 0.0
    G = np.hstack([rng.normal(size=(7, 2)), np.full((7, 1), 0.4)])
    return NextTokenPredictor(F, G)


def test_condition_probe_residual_in_closed_form_and_tol():
    m = _plane_M_model()
    c = PR.Concept(tuple(range(6)), (0, 1, 0, 1, 1, 0))
    eps = 1e-4
    w = np.array([1.0, 0.0, eps])          # N_S = ℝ³, so M + N_S^⊥ = M: distance ε / √(1 + ε²)
    cond = PR.condition_probe(m, c, w)
    np.testing.assert_allclose(cond.residual, eps / np.sqrt(1 + eps**2), rtol=1e-6)
    assert not cond.holds
    assert PR.condition_probe(m, c, w, tol=2e-4).holds
    assert not PR.condition_probe(m, c, w, tol=5e-5).holds


def test_probe_equivalent_object_fits_the_concept_contexts_only():
    # N_S ≠ N: the concept's contexts have f_3 = 0, the others do not. w = e_1 + e_3 is in M + N_S^⊥ = ℝ³
    # (SC-probe holds on S) but not in M + N^⊥ = M, so β must be fitted on S alone.
    m = _plane_M_model(seed=7, zero_rows=range(6))
    c = PR.Concept(tuple(range(6)), (0, 1, 0, 1, 1, 0))
    w = np.array([1.0, 0.0, 1.0])
    assert PR.condition_probe(m, c, w).holds
    obj = PR.PROPERTY.equivalent_object(m, c, (w, 0.25))
    Lam_S = _log_odds(m.F[:6], m.G)
    target = m.F[:6] @ w
    assert np.linalg.norm(Lam_S @ obj["beta"] - target) <= 1e-10 * np.linalg.norm(target)
    assert obj["b"] == 0.25


def test_probe_accuracy_bound_rounds_to_nine_decimals_by_default():
    F = np.array([[0.1, 0.2], [0.1 + 3e-10, 0.2], [1.0, 1.0]])
    m = NextTokenPredictor(F, np.eye(2))
    c = PR.Concept((0, 1), (1, 0))
    assert PR.probe_accuracy_bound(m, c) == 0.5          # identical to 9 decimals: one of the two is wrong
    assert PR.probe_accuracy_bound(m, c, decimals=10) == 1.0


def test_probe_example_bias_gives_the_median_context_a_positive_margin():
    m, c, (w, b) = PR.probe_example(0, n_contexts=41)
    raw = m.F @ w
    mid = int(np.argsort(raw)[20])                       # the median context of 41
    np.testing.assert_allclose(raw[mid] + b, 1e-3 * np.abs(raw).max(), rtol=1e-9)
    assert c.labels[mid] == 1 and sum(c.labels) == 21
    assert PR.check_probe(m, c, w, b).holds


def test_probe_flip_of_the_zero_probe_is_none():
    m, c, (w, b) = PR.probe_counterexample_model(0)
    assert PR.probe_flip(m, c, w, b) is not None         # the construction applies to the real probe
    assert PR.probe_flip(m, c, np.zeros(m.dim)) is None  # w = 0 has no part along M^⊥ ∩ N_S


@pytest.mark.parametrize("call", [
    lambda m, c, w: PR.transfer_probe(m, m, c, w, pivot=99),
    lambda m, c, w: ST.transfer_steering(m, m, w, pivot=99),
], ids=["probe", "steering"])
def test_vector_transfers_use_their_pivot(call):
    m = _model(10, 8, 3, seed=8)
    with pytest.raises(ValueError, match=r"^pivot must be an integer index in \[0, 8\); got 99$"):
        call(m, C0, np.ones(3))


def test_probe_transfer_at_another_pivot_keeps_the_scores():
    m = _model(10, 8, 3, seed=9)
    other = aon.random_equivalent(m, 5, 1)
    w = np.array([0.5, -1.0, 2.0])
    wt = PR.transfer_probe(m, other, C0, w, pivot=3)
    np.testing.assert_allclose(other.F[list(C0.contexts)] @ wt, m.F[list(C0.contexts)] @ w, atol=1e-9)


def test_concept_names_a_label_count_mismatch():
    with pytest.raises(ValueError, match=r"^labels must have one entry per context; got 2 labels for 3 contexts$"):
        PR.Concept((0, 1, 2), (0, 1))


def test_interface_examples_pass_their_keywords():
    m, c, _ = PR.PROPERTY.example(0, n_contexts=11, n_tokens=7, dim=3)
    assert (m.n_contexts, m.n_tokens, m.dim, len(c.contexts)) == (11, 7, 3, 11)
    for prop in (RP.PROPERTY, RS.PROPERTY):
        m, q, (A, a) = prop.example(0, n_base=7, n_extra=2, n_tokens=9, dim=3, n_answers=3)
        assert (m.n_contexts, m.n_tokens, m.dim, A.shape) == (16, 9, 3, (3, 3))
        assert q.answers == (1, 2, 3) and len(q.base) == 7


# --- relational linearity ----------------------------------------------------------------------------------
def _projected_only_model(seed=10, noise=1.0):
    """d = 3, answers (1, 2, 3): f(s ⊕ q) = A f(s) + a + t_s n with n ⊥ Γ_q, so the answer log-odds are
    affine in f(s) (R-Def 7b holds) while f(s ⊕ q) itself is not (7a fails)."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(24, 3))
    G = rng.normal(size=(8, 3))
    n = np.cross(G[2] - G[1], G[3] - G[1])
    A, a = rng.normal(size=(3, 3)), rng.normal(size=3)
    F[10:20] = F[:10] @ A.T + a + noise * np.outer(rng.normal(size=10), n / np.linalg.norm(n))
    return NextTokenPredictor(F, G), RL.RelationalQuery(tuple(range(10)), tuple(range(10, 20)), (1, 2, 3))


def test_projected_but_not_strong_relation():
    m, q = _projected_only_model()
    assert RP.check_relational_projected(m, q).holds
    assert RP.check_relational_log_odds(m, q).holds
    strong = RS.check_relational_strong(m, q)
    assert strong.decidable and not strong.holds and strong.residual > 0.01
    full = RS.check_strong_log_odds(m, q)
    assert full.decidable and not full.holds and full.residual > 0.01
    W, r = full.witness
    assert W.shape == (8, 8) and r.shape == (8,)      # every log-odds after q, on every log-odds of s


def test_relational_log_odds_fit_is_on_the_log_odds_against_token_0():
    m, q, _ = RS.relational_example(0)
    Lam = _log_odds(m.F, m.G)
    W, r, res, ok, _ = RL.relational_log_odds_fit(m, q)
    Z = m.F @ m.G.T
    Yq = Z[list(q.queried)][:, list(q.answers[1:])] - Z[list(q.queried)][:, [q.answers[0]]]
    assert ok and res < 1e-9 and W.shape == (len(q.answers) - 1, m.n_tokens)
    np.testing.assert_allclose(Lam[list(q.base)] @ W.T + r, Yq, atol=1e-8)
    Wf, rf, resf, okf, _ = RL.relational_log_odds_fit(m, q, full=True)
    assert okf and resf < 1e-9 and Wf.shape == (m.n_tokens, m.n_tokens)
    np.testing.assert_allclose(Lam[list(q.base)] @ Wf.T + rf, Lam[list(q.queried)], atol=1e-8)


@pytest.mark.parametrize("k", [2, 3])
def test_relational_sc_example_relation_by_hand(k):
    m, q, (A, a) = RP.relational_sc_example(0, k=k)
    d = k + 1
    assert A.shape == (d, d) and a.shape == (d,)
    np.testing.assert_array_equal(A[0], np.eye(d)[k])           # e_1 of f(s ⊕ q) := e_{k+1} of f(s)
    assert np.linalg.matrix_rank(A[1:k, 1:k]) == k - 1          # a random (invertible) block
    assert len(set(np.round(A[1:k, 1:k].ravel(), 12))) == (k - 1) ** 2
    np.testing.assert_allclose(m.F[list(q.queried)], m.F[list(q.base)] @ A.T + a, atol=1e-12)
    assert len(set(np.round(a, 12))) == d                        # an offset vector, not one number


def test_sc_rl_holds_for_every_relation_when_the_contexts_are_zero():
    # N_S = {0}: N_S^⊥ = ℝ^d, so A_qᵀ Γ_q ⊆ M + N_S^⊥ for every A, even with M ≠ ℝ^d
    m = _plane_M_model(seed=11, n=8)
    m = NextTokenPredictor(np.vstack([np.zeros((3, 3)), m.F[3:]]), m.G)
    q = RL.RelationalQuery((0, 1, 2), (3, 4, 5), (1, 2))
    A = np.arange(9.0).reshape(3, 3)
    c = RP.condition_relational_projected(m, q, A)
    assert c.holds and c.residual == 0.0


def test_relational_projected_matrices_must_be_finite():
    m, q, (A, a) = RP.relational_sc_example(0)
    bad = np.array(A, dtype=float)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^A must be finite"):
        RP.condition_relational_projected(m, q, bad)
    W, r, _ = RL.relational_log_odds_map(m, q)
    W = np.array(W)
    W[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"^W must be finite"):
        RP.transfer_relational_projected(m, q, W, r)


def test_relational_strong_counterexample_draws_size_times_a_normal_from_rng():
    m, q, _ = RS.relational_example(0)
    c1 = RS.relational_strong_counterexample(m, q, 5, size=1.0)
    c2 = RS.relational_strong_counterexample(m, q, 5, size=2.0)
    z = c1.F[list(q.queried), -1]
    np.testing.assert_allclose(c2.F[list(q.queried), -1], 2.0 * z, rtol=1e-12)
    np.testing.assert_allclose(z, np.random.default_rng(5).normal(size=len(q.queried)), rtol=1e-12)


@pytest.mark.parametrize("target", [0.5, 3.0])
def test_relational_strong_interface_counterexample_size_and_rng(target):
    base, q, _ = RS.relational_example(0)
    m = _scaled(base, F_scale=target / np.abs(base.F).max())         # max |F| = target
    size = 10.0 * max(1.0, target)
    z0 = np.random.default_rng(0).normal(size=len(q.queried))
    for cex, z in [(RS.PROPERTY.counterexample(m, q), z0),            # default rng: seed 0
                   (RS.PROPERTY.counterexample(m, q, rng=7), np.random.default_rng(7).normal(size=len(q.queried)))]:
        np.testing.assert_allclose(cex.F[list(q.queried), -1], size * z, rtol=1e-12)
        assert aon.max_prob_difference(m, cex) < 1e-12
        assert not RS.check_relational_strong(cex, q).holds


def test_relational_strong_realisation_uses_tol():
    m, q, _ = RS.relational_example(0)
    F = m.F.copy()
    F[list(q.queried)] += 1e-5 * np.random.default_rng(1).normal(size=(len(q.queried), m.dim))
    noisy = NextTokenPredictor(F, m.G)
    res = RS.check_strong_log_odds(noisy, q).residual
    assert 1e-7 < res < 1e-3
    near, _ = RS.PROPERTY.realisation(noisy, q, tol=1e-3)      # holds at 1e-3: the reduced model itself
    assert near.dim == m.dim and RS.check_relational_strong(near, q, tol=1e-3).holds
    lifted, _ = RS.PROPERTY.realisation(noisy, q)              # fails at the default: the lift [f; h]
    assert lifted.dim == 2 * m.dim and RS.check_relational_strong(lifted, q).holds
    for other in (near, lifted):
        assert aon.max_prob_difference(noisy, other) < 1e-12


# --- steering ----------------------------------------------------------------------------------------------
def test_condition_steering_residual_in_closed_form_and_tol():
    rng = np.random.default_rng(12)
    F = np.hstack([rng.normal(size=(9, 2)), np.zeros((9, 1))])      # N = span(e_1, e_2)
    m = NextTokenPredictor(F, rng.normal(size=(7, 3)))              # M = ℝ³, M^⊥ = 0
    eps = 1e-4
    v = np.array([1.0, 0.0, eps])
    c = ST.condition_steering(m, v)
    np.testing.assert_allclose(c.residual, eps / np.sqrt(1 + eps**2), rtol=1e-6)
    assert not c.holds
    assert ST.condition_steering(m, v, tol=2e-4).holds


def test_steered_probs_of_no_contexts_is_an_empty_table():
    p = ST.steered_probs(M0, np.ones(3), 1.0, contexts=[])
    assert p.shape == (0, M0.n_tokens)


def test_steering_example_moves_the_target_the_most_it_can():
    m, t, v = ST.steering_example(0)
    assert t.target == (1, 0) and t.off_target == (2, 3, 4)
    G = m.G
    delta = G[1] - G[0]
    D = np.stack([G[3] - G[2], G[4] - G[2]], axis=1)
    best = delta - D @ np.linalg.lstsq(D, delta, rcond=None)[0]    # the part of δ orthogonal to the off-target offsets
    c = ST.check_steering(m, t, v)
    assert c.holds
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, rtol=1e-12)
    np.testing.assert_allclose(c.witness, np.linalg.norm(best), rtol=1e-9)   # max of vᵀδ over unit v ⊥ D


def test_projected_witness_at_tol_is_the_relation_built_from_the_log_odds_map():
    # M = span(e_1, e_2), N_S = ℝ³. f(s ⊕ q) = A f(s) + a + η f_3(s) e_1 with A e_3 = 0: the answer log-odds
    # are exactly affine in f(s) (7b holds), but the η-term reads f_3(s), invisible to the distribution,
    # so the log-odds map fits with a residual of order η. The direct fit's relation puts η e_3 into
    # A_qᵀ Γ_q (SC-RL fails by ~η); the one built from the map lies in M (SC-RL holds exactly).
    rng = np.random.default_rng(13)
    F = rng.normal(size=(24, 3))
    G = np.hstack([rng.normal(size=(7, 2)), np.full((7, 1), -0.3)])
    A = np.hstack([rng.normal(size=(3, 2)), np.zeros((3, 1))])
    eta = 1e-4
    F[10:20] = F[:10] @ A.T + rng.normal(size=3) + eta * np.outer(F[:10, 2], [1.0, 0.0, 0.0])
    m = NextTokenPredictor(F, G)
    q = RL.RelationalQuery(tuple(range(10)), tuple(range(10, 20)), (1, 2, 3))
    dist = RP.check_relational_log_odds(m, q).residual
    assert 1e-6 < dist < 1e-2
    loose = RP.check_relational_projected(m, q, tol=1e-2)
    strict = RP.check_relational_projected(m, q)
    assert loose.holds and strict.holds and loose.residual < 1e-9
    assert RP.condition_relational_projected(m, q, loose.witness[0]).residual < 1e-10
    assert RP.condition_relational_projected(m, q, strict.witness[0]).residual > 1e-6


# --- realisations draw their member from rng ---------------------------------------------------------------
def _realisation_cases():
    pu_m, pu_p = PU.parallel_unembedding_example(0, lam=-1.5)
    pe_m, pe_p = PE.parallel_embedding_example(0, lam=2.0)
    rs_m, rs_q, _ = RS.relational_example(0)
    return [(PU.PROPERTY, pu_m, pu_p, lambda r: r.F.T @ r.F),                    # orthonormal embeddings
            (PE.PROPERTY, pe_m, pe_p, lambda r: r.unembedding_differences(0).T @ r.unembedding_differences(0)),
            (RS.PROPERTY, rs_m, rs_q, None)]


@pytest.mark.parametrize("case", range(3), ids=["parallel_unembedding", "parallel_embedding", "relational_strong"])
def test_realisation_is_drawn_from_rng(case):
    prop, m, inst, gram = _realisation_cases()[case]
    a, _ = prop.realisation(m, inst, rng=3)
    b, _ = prop.realisation(m, inst, rng=np.random.default_rng(3))
    c, _ = prop.realisation(m, inst, rng=4)
    d, _ = prop.realisation(m, inst)
    np.testing.assert_array_equal(a.F, b.F)                  # the same rng: the same member
    np.testing.assert_array_equal(d.F, prop.realisation(m, inst, rng=0)[0].F)   # the default is seed 0
    assert np.abs(a.F - c.F).max() > 1e-3                    # another rng: another member
    for r in (a, c, d):                                      # each one equivalent and with the property
        assert aon.max_prob_difference(m, r) < 1e-12
        chk = prop.check(r, inst)
        assert chk.decidable and chk.holds
        if gram is not None:                                 # still the canonical member, up to a rotation
            np.testing.assert_allclose(gram(r), np.eye(r.dim), atol=1e-9)


def test_rotated_member_is_an_orthogonal_reparametrisation():
    m = _model(9, 7, 3, seed=14)
    r = PU.rotated_member(m, 5)
    Q = np.linalg.lstsq(m.F, r.F, rcond=None)[0].T           # f ↦ Q f, recovered from the tables
    np.testing.assert_allclose(Q @ Q.T, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(r.G, m.G @ Q.T, atol=1e-10)   # Q⁻ᵀ = Q for orthogonal Q
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        PU.rotated_member(3, 5)
    with pytest.raises(ValueError, match=r"^rng must be a numpy.random.Generator or a non-negative int seed"):
        PU.rotated_member(m, -1)
