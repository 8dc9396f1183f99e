"""Sharp tests of allornone.theory.properties, written for the functions `make mutation` found
reached by no fast test: every kind's ``transfer`` through the interface, ``steering_effects``
and the truth value of ``Check`` and ``Condition``.

The transfer theorems are tested as they are stated: the transferred witness makes the
property hold, with power, in a random equivalent member of the same dimension (which is
diverse, so every theorem's condition holds in it too); the numbers the transfer of the
parallelisms returns are the ratios ``λ`` measured by hand on the other member's tables.
"""

from __future__ import annotations

import numpy as np
import pytest

import allornone as aon
from allornone import properties as P
from allornone.theory.examples import random_model
from allornone.theory.subspaces import complement
from allornone.theory.properties.base import Check, Condition
from allornone.theory.properties.steering import SteeringTarget, steering_effects

KIND_NAMES = sorted(P.KINDS)


def _example(kind, seed):
    k = P.KINDS[kind]
    if kind == "linear_subspace":
        return k.example(seed, sub_dim=2)
    return k.example(seed)


@pytest.mark.parametrize("kind", KIND_NAMES)
@pytest.mark.parametrize("seed", [0, 1])
def test_transferred_witness_holds_in_an_equivalent_member(kind, seed):
    k = P.KINDS[kind]
    m, inst, w = _example(kind, seed)
    other = aon.random_equivalent(m, m.dim, 10 + seed)
    assert aon.is_diverse(other)
    wt = k.transfer(m, other, inst, w)
    c = k.check(other, inst, wt)
    assert c.decidable, c.reason
    assert c.holds and c.residual < 1e-7


def _ratio(u, v):
    """λ with u = λ v, by hand, and how far u is from λ v."""
    lam = float(u @ v / (v @ v))
    return lam, float(np.linalg.norm(u - lam * v) / np.linalg.norm(u))


def test_parallel_unembeddings_transfer_is_the_ratio_of_the_other_members_offsets():
    k = P.KINDS["parallel_unembedding"]
    m, prop, _ = k.example(3, lam=-2.5)
    other = aon.random_equivalent(m, m.dim, 4)
    (a1, b1), (a2, b2) = prop.pairs
    lam, off = _ratio(other.G[b1] - other.G[a1], other.G[b2] - other.G[a2])
    assert off < 1e-9
    np.testing.assert_allclose(k.transfer(m, other, prop), lam, rtol=1e-8)
    np.testing.assert_allclose(lam, -2.5, rtol=1e-8)


def test_parallel_embeddings_transfer_is_the_ratio_of_the_other_members_offsets():
    k = P.KINDS["parallel_embedding"]
    m, prop, _ = k.example(5)
    other = aon.random_equivalent(m, m.dim, 6)
    (a1, b1), (a2, b2) = prop.pairs
    lam, off = _ratio(other.F[b1] - other.F[a1], other.F[b2] - other.F[a2])
    assert off < 1e-9
    np.testing.assert_allclose(k.transfer(m, other, prop), lam, rtol=1e-8)


@pytest.mark.parametrize("kind", ["parallel_unembedding", "parallel_embedding"])
def test_parallelism_transfer_refuses_a_model_without_the_property(kind):
    k = P.KINDS[kind]
    m = random_model(30, 20, 4, 1)  # no structure: offsets in general position
    prop = P.ParallelUnembedding(((1, 2), (3, 4))) if kind == "parallel_unembedding" else P.ParallelEmbedding(((1, 2), (3, 4)))
    assert not k.distribution(m, prop).holds
    with pytest.raises(ValueError, match=r"not proportional.*nothing to transfer$"):
        k.transfer(m, m, prop)


def test_steering_effects_by_hand():
    # d = 2; g(y) rows chosen so that v = (1, 2) gives the logit effects e = G v = [0, 5, 1, 1, 4]
    G = np.array([[0.0, 0.0], [1.0, 2.0], [1.0, 0.0], [-1.0, 1.0], [2.0, 1.0]])
    m = aon.NextTokenPredictor(np.eye(2), G)
    t = SteeringTarget(target=(1, 0), off_target=(2, 3, 4))
    kappa, off = steering_effects(m, t, [1.0, 2.0])
    assert kappa == 5.0          # e[1] - e[0]
    assert off == 3.0            # max - min of e[2], e[3], e[4] = 4 - 1
    kappa, off = steering_effects(m, SteeringTarget(target=(0, 4), off_target=(2, 3)), [1.0, 2.0])
    assert kappa == -4.0 and off == 0.0


def test_steering_effects_validate_their_arguments():
    m = aon.NextTokenPredictor(np.eye(2), np.eye(3, 2))
    t = SteeringTarget(target=(1, 0), off_target=(1, 2))
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got str$"):
        steering_effects("m", t, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"^v must have length 2; got length 3$"):
        steering_effects(m, t, [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"^target must be a SteeringTarget; got tuple$"):
        steering_effects(m, (1, 0), [1.0, 0.0])


@pytest.mark.parametrize("holds", [True, False])
def test_check_and_condition_are_true_exactly_when_they_hold(holds):
    assert bool(Check(holds=holds, residual=0.5)) is holds
    assert bool(Condition(name="c", holds=holds)) is holds
    # `holds` decides, not the residual
    assert bool(Check(holds=holds, residual=0.0)) is holds
    assert bool(Condition(name="c", holds=holds, residual=1.0)) is holds


# --- argument checks the pages rely on ------------------------------------------------------------
def test_all_or_none_counts_and_validates():
    m, prop, _ = P.KINDS["parallel_unembedding"].example(0)
    r = P.all_or_none(m, [m.dim], 1, 0, condition=lambda x: True, has_property=lambda x: False)
    assert (r.n_drawn, r.n_condition, r.n_condition_property) == (1, 1, 0)
    # max_draws defaults to 30 n_models: a condition that never holds draws exactly 30 * 2 members
    r = P.all_or_none(m, [m.dim, m.dim + 1], 2, 0, condition=lambda x: False, has_property=lambda x: False)
    assert (r.n_drawn, r.n_condition, r.n_other) == (60, 0, 60) and r.dims == (m.dim, m.dim + 1)
    r = P.all_or_none(m, [m.dim], 2, 0, condition=lambda x: False, has_property=lambda x: False, max_draws=7)
    assert r.n_drawn == 7
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.all_or_none(3, [4], 1, 0, lambda x: True, lambda x: True)
    with pytest.raises(ValueError, match=r"^n_models must be >= 1; got 0$"):
        P.all_or_none(m, [4], 0, 0, lambda x: True, lambda x: True)
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator or a non-negative int seed; got -1$"):
        P.all_or_none(m, [4], 1, -1, lambda x: True, lambda x: True)
    with pytest.raises(ValueError, match=r"^dims must hold at least one dimension$"):
        P.all_or_none(m, [], 1, 0, lambda x: True, lambda x: True)
    with pytest.raises(ValueError, match=r"^max_draws must be >= 2; got 1$"):
        P.all_or_none(m, [4], 2, 0, lambda x: True, lambda x: True, max_draws=1)


def test_subspace_counterexample_adds_extra_directions_and_validates():
    k = P.KINDS["linear_subspace"]
    m, q, dim = k.example(0, sub_dim=2)
    base = P.answer_subspace_dimension(m, q, projected=False)
    for extra in (1, 2, 3):
        c = P.subspace_counterexample(m, q, 0, extra=extra)
        assert c.dim == m.dim + extra
        assert aon.max_prob_difference(m, c) < 1e-12
        assert P.answer_subspace_dimension(c, q, projected=False) == base + extra
        assert P.answer_subspace_dimension(c, q) == P.answer_subspace_dimension(m, q)   # projected: unchanged
    assert P.subspace_counterexample(m, q, 0).dim == m.dim + 2       # default extra = 2
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.subspace_counterexample(3, q, 0)
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator"):
        P.subspace_counterexample(m, q, "x")
    with pytest.raises(ValueError, match=r"^extra must be >= 1; got 0$"):
        P.subspace_counterexample(m, q, 0, extra=0)
    with pytest.raises(ValueError, match=r"^extra must be an integer; got 1\.5$"):
        P.subspace_counterexample(m, q, 0, extra=1.5)


def test_parallel_embeddings_transfer_uses_the_tolerance_and_names_other():
    k = P.KINDS["parallel_embedding"]
    m, prop, _ = k.example(0)
    with pytest.raises(ValueError, match=r"^other must be a NextTokenPredictor; got int$"):
        P.transfer_parallel_embeddings(m, 3, prop)
    # a slightly perturbed model: not parallel at the default tolerance, parallel at a loose one
    rng = np.random.default_rng(0)
    near = aon.NextTokenPredictor(m.F + 1e-4 * rng.normal(size=m.F.shape), m.G)
    with pytest.raises(ValueError, match=r"^the log-odds differences are not proportional; nothing to transfer$"):
        P.transfer_parallel_embeddings(near, near, prop)
    lam = P.transfer_parallel_embeddings(near, near, prop, tol=1e-1)
    np.testing.assert_allclose(lam, P.transfer_parallel_embeddings(m, m, prop), rtol=1e-2)


def test_worked_example_pair_names_rng():
    from allornone.theory.examples import worked_example_pair

    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator or a non-negative int seed; got 'x'$"):
        worked_example_pair("x")


# --- probe_flip (M3 along M^⊥ ∩ N_S) ---------------------------------------------------------------
def _probe_model():
    """d = 3: M = span(e1, e2) (g's last coordinate constant); concept on contexts 0-3 whose
    last coordinate is ±1 (label 1 ↔ +1), context 4 outside the concept."""
    F = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, -1.0], [2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    G = np.array([[0.0, 0.0, 3.0], [1.0, 0.0, 3.0], [0.0, 1.0, 3.0], [1.0, 1.0, 3.0]])
    return aon.NextTokenPredictor(F, G), P.Concept((0, 1, 2, 3), (1, 1, 0, 0))


@pytest.mark.parametrize("correct", [False, True])
@pytest.mark.parametrize("b", [0.0, 0.5])
def test_probe_flip_sets_every_score_to_plus_or_minus_the_largest(correct, b):
    m, concept = _probe_model()
    w = np.array([0.0, 0.0, 2.0])                      # |w| = 2, all of it in M^⊥ ∩ N_S
    flipped = P.probe_flip(m, concept, w, b, correct=correct)
    assert aon.max_prob_difference(m, flipped) < 1e-12
    s = m.F[:4] @ w + b                                # by hand: [2, 2, -2, -2] + b
    size = max(1.0, float(np.abs(s).max()))
    right = np.array([1.0, 1.0, -1.0, -1.0])           # label 1 -> positive score
    np.testing.assert_allclose(flipped.F[:4] @ w + b, (right if correct else -right) * size, atol=1e-12)
    np.testing.assert_array_equal(flipped.F[4], m.F[4])   # contexts outside the concept do not move


def test_probe_flip_defaults_are_bias_zero_and_wrong_scores():
    m, concept = _probe_model()
    w = np.array([0.0, 0.0, 0.5])                      # scores ±0.5: the target size is max(1, 0.5) = 1
    flipped = P.probe_flip(m, concept, w)
    np.testing.assert_allclose(flipped.F[:4] @ w, [-1.0, -1.0, 1.0, 1.0], atol=1e-12)


def test_probe_flip_is_none_when_w_misses_m_perp_within_the_concept():
    m, concept = _probe_model()
    # every concept context has last coordinate ±1 ... but move them into M: then M^⊥ ∩ N_S = {0}
    F = m.F.copy()
    F[:4, 2] = 0.0
    F[4, 2] = 1.0                                      # only the context outside the concept reaches M^⊥
    m2 = aon.NextTokenPredictor(F, m.G)
    assert P.probe_flip(m2, concept, [1.0, 0.0, 1.0]) is None
    # w inside M (orthogonal to M^⊥ ∩ N_S), scaled: the test is relative to |w|^2
    assert P.probe_flip(m, concept, 1e3 * np.array([1.0, 0.0, 1e-7])) is None
    assert P.probe_flip(m, concept, [1.0, 1.0, 0.0]) is None


def test_probe_flip_validates_its_arguments():
    m, concept = _probe_model()
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.probe_flip(3, concept, [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"^w must have length 3; got length 2$"):
        P.probe_flip(m, concept, [0.0, 1.0])


# --- transfer_relational_strong -----------------------------------------------------------------------
def test_transfer_relational_strong_validates_its_arguments():
    m, q, (A, a) = P.relational_example(0)
    other = aon.random_equivalent(m, m.dim, 1)
    At, at = P.transfer_relational_strong(m, other, A.tolist(), a)   # nested lists are accepted
    assert P.check_relational_strong(other, q).holds
    np.testing.assert_allclose(other.F[list(q.queried)], other.F[list(q.base)] @ At.T + at, atol=1e-8)
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.transfer_relational_strong(3, other, A, a)
    with pytest.raises(ValueError, match=r"^other must be a NextTokenPredictor; got int$"):
        P.transfer_relational_strong(m, 3, A, a)
    with pytest.raises(ValueError, match=rf"^a must have length {m.dim}; got length {m.dim + 1}$"):
        P.transfer_relational_strong(m, other, A, np.append(a, 0.0))
    with pytest.raises(ValueError, match=rf"^A must have shape \({m.dim}, {m.dim}\); got \({m.dim}, {m.dim + 1}\)$"):
        P.transfer_relational_strong(m, other, np.zeros((m.dim, m.dim + 1)), a)


# --- steering_shift (M4 along N^⊥) ------------------------------------------------------------------
def _steering_model():
    """d = 3, N = span(e1, e2); v = e3 has effects e = G v = [0.1, 0.3, -0.2, 0.05, 0] (all < 1)."""
    F = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [2.0, -1.0, 0.0]])
    G = np.array([[0.0, 0.0, 0.1], [1.0, 0.0, 0.3], [0.0, 1.0, -0.2], [1.0, 1.0, 0.05], [2.0, 0.0, 0.0]])
    return aon.NextTokenPredictor(F, G), np.array([0.0, 0.0, 1.0])


@pytest.mark.parametrize(
    "target, off, correct, expected",
    [
        ((1, 0), (2, 3, 4), True, [0.0, 1.0, 0.0, 0.0, 0.0]),     # κ = size = max(1, 0.3) = 1, off-target 0
        ((2, 0), (2, 3, 4), True, [-1.0, 0.3, 0.0, 0.0, 0.0]),    # y1 off-target: y0 goes to -size
        ((1, 0), (2, 3, 4), False, [0.1, 0.3, 0.8, 0.05, 0.0]),   # first off-target token moved by size
        ((1, 0), (3, 2, 4), False, [0.1, 0.3, -0.2, 1.05, 0.0]),
    ],
)
def test_steering_shift_sets_the_effects_by_hand(target, off, correct, expected):
    m, v = _steering_model()
    t = SteeringTarget(target=target, off_target=off)
    shifted = P.steering_shift(m, t, v, correct=correct)
    assert aon.max_prob_difference(m, shifted) < 1e-12
    np.testing.assert_allclose(shifted.G @ v, expected, atol=1e-12)


def test_steering_shift_default_is_the_wrong_shift():
    m, v = _steering_model()
    t = SteeringTarget(target=(1, 0), off_target=(2, 3, 4))
    np.testing.assert_allclose(P.steering_shift(m, t, v).G @ v, [0.1, 0.3, 0.8, 0.05, 0.0], atol=1e-12)


def test_steering_shift_is_none_when_impossible_or_v_in_N():
    m, v = _steering_model()
    assert P.steering_shift(m, SteeringTarget((2, 3), (2, 3, 4)), v, correct=True) is None
    assert P.steering_shift(m, SteeringTarget((1, 0), (2, 3)), [1.0, 2.0, 0.0]) is None      # v in N
    # a tiny v along N^⊥ is still a direction: the test is relative to |v|
    tiny = P.steering_shift(m, SteeringTarget((1, 0), (2, 3, 4)), 1e-12 * v, correct=True)
    assert tiny is not None
    np.testing.assert_allclose(tiny.G @ v * 1e-12, [0.0, 1.0, 0.0, 0.0, 0.0], atol=1e-9)


def test_steering_shift_validates_its_arguments():
    m, v = _steering_model()
    t = SteeringTarget((1, 0), (2, 3))
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.steering_shift(3, t, v)
    with pytest.raises(ValueError, match=r"^v must have length 3; got length 2$"):
        P.steering_shift(m, t, [0.0, 1.0])


# --- steered_probs and probe_accuracy_bound ------------------------------------------------------------
def test_steered_probs_by_hand():
    F = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    G = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    m = aon.NextTokenPredictor(F, G)
    v = np.array([1.0, -1.0])

    def by_hand(rows, alpha):
        z = (F[rows] + alpha * v) @ G.T
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)

    np.testing.assert_allclose(P.steered_probs(m, v, 0.5), by_hand([0, 1, 2], 0.5), rtol=1e-14)
    np.testing.assert_allclose(P.steered_probs(m, v, 2, contexts=[2, 0]), by_hand([2, 0], 2.0), rtol=1e-14)
    np.testing.assert_allclose(P.steered_probs(m, list(v), 0.0), m.probs(), rtol=1e-14)
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.steered_probs(3, v, 1.0)
    with pytest.raises(ValueError, match=r"^v must have length 2; got length 3$"):
        P.steered_probs(m, [1.0, 0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match=r"^contexts"):
        P.steered_probs(m, v, 1.0, contexts=[0, 3])


def test_probe_accuracy_bound_counts_the_majority_of_identical_rows():
    F = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0 + 1e-11], [2.0, 2.0]])
    G = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    m = aon.NextTokenPredictor(F, G)
    c = P.Concept((0, 1, 2, 3, 4, 5), (1, 1, 0, 1, 0, 0))
    # groups at 9 decimals: {0,1,2} labels 1,1,0 -> 2 right; {3,4} labels 1,0 -> 1; {5} -> 1: bound 4/6
    assert P.probe_accuracy_bound(m, c) == pytest.approx(4 / 6, abs=1e-15)
    # at 12 decimals rows 3 and 4 differ: 5/6
    assert P.probe_accuracy_bound(m, c, decimals=12) == pytest.approx(5 / 6, abs=1e-15)
    # only the concept's contexts count
    assert P.probe_accuracy_bound(m, P.Concept((0, 2), (1, 0))) == 0.5
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.probe_accuracy_bound(3, c)


# --- the constructions' documented shapes and argument names ----------------------------------------
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: P.probe_counterexample_model(0)[0], (40, 30, 4)),        # 2 n_pairs contexts, dim k + 1
        (lambda: P.probe_counterexample_model(0, n_pairs=5, k=2)[0], (10, 30, 3)),
        (lambda: P.steering_counterexample_model(0)[0], (40, 30, 4)),
        (lambda: P.steering_counterexample_model(0, n_contexts=9, n_tokens=8, k=2, n_off=2)[0], (9, 8, 3)),
    ],
)
def test_counterexample_models_have_the_documented_shape(make, shape):
    m = make()
    assert (m.n_contexts, m.n_tokens, m.dim) == shape


def test_steering_counterexample_model_is_what_it_says():
    m, t, v = P.steering_counterexample_model(3, k=3, n_off=3)
    assert t.target == (1, 0) and t.off_target == (2, 3, 4)
    np.testing.assert_array_equal(v, [0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(m.F[:, 3], 0.0)                   # v ∈ N^⊥
    kappa, off = steering_effects(m, t, v)
    assert kappa == pytest.approx(1.0, abs=1e-12) and off == 0.0   # v steers, exactly
    assert not P.condition_steering(m, v).holds                     # SC-steer fails


def test_probe_counterexample_model_is_what_it_says():
    m, c, (w, b) = P.probe_counterexample_model(2, n_pairs=6, k=3)
    assert c.labels == (1,) * 6 + (0,) * 6 and b == 0.0
    np.testing.assert_array_equal(w, [0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(m.F[:6, :3], m.F[6:, :3])          # pairs share P_M f
    np.testing.assert_array_equal(m.F[:, 3], [1.0] * 6 + [-1.0] * 6)
    assert np.ptp(m.G[:, 3]) == 0.0                                 # e_{k+1} ∈ M^⊥


@pytest.mark.parametrize(
    "call",
    [
        lambda: P.probe_counterexample(3),
        lambda: P.relational_sc_counterexample(3, P.RelationalQuery((0, 1, 2), (3, 4, 5), (1, 2))),
        lambda: P.steering_counterexample(3, 0),
    ],
)
def test_constructions_name_a_non_model(call):
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        call()


@pytest.mark.parametrize(
    "call",
    [lambda: P.probe_counterexample_model("x"), lambda: P.steering_counterexample_model("x"),
     lambda: P.steering_counterexample(random_model(5, 4, 2, 0), "x")],
)
def test_constructions_name_a_bad_rng(call):
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator or a non-negative int seed; got 'x'$"):
        call()


def test_linear_subspace_interface_carries_the_claimed_dimension():
    k = P.KINDS["linear_subspace"]
    m, q, dim = k.example(0)
    assert dim == 2                                     # the default sub_dim
    assert P.answer_subspace_dimension(m, q) == 2
    m3, q3, dim3 = k.example(0, sub_dim=3)
    assert dim3 == 3 and P.answer_subspace_dimension(m3, q3) == 3
    other = aon.random_equivalent(m, m.dim, 1)
    assert k.transfer(m, other, q, 1) == 1             # the witness is the claimed dimension
    assert k.transfer(m, other, q) == P.default_claimed_dimension(q)


@pytest.mark.parametrize("n_queried, n_answers, expected", [(6, 9, 4), (9, 6, 4), (6, 6, 4), (3, 8, 1), (8, 3, 1)])
def test_default_claimed_dimension_is_min_minus_two(n_queried, n_answers, expected):
    q = P.RelationalQuery(tuple(range(n_queried)), tuple(range(n_queried, 2 * n_queried)), tuple(range(1, n_answers + 1)))
    assert P.default_claimed_dimension(q) == expected


def test_all_or_none_counts_the_property_outside_the_condition():
    m, prop, _ = P.KINDS["parallel_unembedding"].example(0)
    calls = iter([False, True, False, True, True])
    r = P.all_or_none(m, [m.dim], 2, 0, condition=lambda x: next(calls), has_property=lambda x: True)
    # draws: c=F (other, with property), c=T, c=F (other), c=T -> stop after 2 with the condition
    assert (r.n_drawn, r.n_condition, r.n_condition_property, r.n_other, r.n_other_property) == (4, 2, 2, 2, 2)
    with pytest.raises(ValueError, match=r"^dims must be >= 1; got 0$"):
        P.all_or_none(m, [0], 1, 0, lambda x: True, lambda x: True)


# --- the tolerance reaches every interface method ------------------------------------------------------
def _noisy(m, size=1e-4, seed=0):
    rng = np.random.default_rng(seed)
    return aon.NextTokenPredictor(m.F + size * rng.normal(size=m.F.shape), m.G + size * rng.normal(size=m.G.shape))


@pytest.mark.parametrize("kind", ["parallel_unembedding", "parallel_embedding", "relational_strong",
                                  "relational_projected", "linear_subspace"])
def test_tol_reaches_check_and_distribution(kind):
    k = P.KINDS[kind]
    m, inst, w = _example(kind, 0)
    noisy = _noisy(m)
    for fn in (k.check, k.distribution):
        strict, loose = fn(noisy, inst, w), fn(noisy, inst, w, tol=0.5)
        assert strict.decidable and loose.decidable
        assert 1e-7 < strict.residual < 0.5                  # the noise is visible and small
        assert not strict.holds and loose.holds
        assert loose.residual == pytest.approx(strict.residual, rel=1e-9)


@pytest.mark.parametrize("kind", ["parallel_unembedding", "parallel_embedding"])
def test_tol_reaches_transfer_and_realisation_of_the_parallelisms(kind):
    k = P.KINDS[kind]
    m, inst, _ = _example(kind, 0)
    noisy = _noisy(m)
    assert k.realisation(noisy, inst) is None                 # not parallel at the default tolerance
    real = k.realisation(noisy, inst, tol=0.5)
    assert real is not None and aon.max_prob_difference(noisy, real[0]) < 1e-10
    fn = P.transfer_parallel_unembeddings if kind == "parallel_unembedding" else P.transfer_parallel_embeddings
    with pytest.raises(ValueError, match="nothing to transfer$"):
        fn(noisy, noisy, inst)
    assert np.isfinite(fn(noisy, noisy, inst, tol=0.5))


def test_parallel_unembeddings_transfer_names_other_and_says_why():
    m, prop, _ = P.KINDS["parallel_unembedding"].example(0)
    with pytest.raises(ValueError, match=r"^other must be a NextTokenPredictor; got int$"):
        P.transfer_parallel_unembeddings(m, 3, prop)
    bad = random_model(30, 20, 4, 1)
    with pytest.raises(ValueError, match=r"^the model's log-ratios are not proportional \(δ_1, δ_2 are not parallel "
                                         r"within N\); nothing to transfer$"):
        P.transfer_parallel_unembeddings(bad, bad, prop)


def test_parallel_embedding_interface_objects():
    k = P.KINDS["parallel_embedding"]
    m, prop, _ = k.example(0, lam=-3.0)
    obj = k.equivalent_object(m, prop, None, None, k.distribution(m, prop))
    assert obj["distribution_level_parallel"] is True
    np.testing.assert_allclose(obj["lambda"], -3.0, rtol=1e-8)
    bad = random_model(30, 20, 4, 1)
    obj = k.equivalent_object(bad, prop, None, None, k.distribution(bad, prop))
    assert obj == {"distribution_level_parallel": False}
    # example passes its keyword arguments on
    m5, _, _ = k.example(0, dim=5, n_contexts=12)
    assert (m5.dim, m5.n_contexts) == (5, 12)
    # the realisation whitens the unembeddings: Γᵀ Γ = I in the member
    real, _ = k.realisation(m, prop)
    Gbar = real.unembedding_differences()
    np.testing.assert_allclose(Gbar.T @ Gbar, np.eye(real.dim), atol=1e-9)


def test_parallel_embedding_counterexample_moves_the_first_pair():
    k = P.KINDS["parallel_embedding"]
    m, prop, _ = k.example(0)
    (a1, b1), (a2, b2) = prop.pairs
    c = P.parallel_embedding_counterexample(m, prop)            # default size 1
    assert c.dim == m.dim + 1 and aon.max_prob_difference(m, c) < 1e-12
    assert c.F[b1, -1] == 1.0 and np.count_nonzero(c.F[:, -1]) == 1
    c3 = P.parallel_embedding_counterexample(m, prop, size=3.0)
    assert c3.F[b1, -1] == 3.0
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.parallel_embedding_counterexample(3, prop)
    # through the interface the size is 10 max(1, max |offset|)
    ci = k.counterexample(m, prop)
    ci = ci[0] if isinstance(ci, tuple) else ci
    size = 10.0 * max(1.0, float(np.abs(P.embedding_offsets(m, prop)).max()))
    assert ci.F[b1, -1] == pytest.approx(size, rel=1e-12)


def test_linear_subspace_claimed_dimension_is_validated():
    k = P.KINDS["linear_subspace"]
    m, q, _ = k.example(0)
    assert k.check(m, q, 0).decidable in (True, False)       # 0 is a valid claim (a point)
    with pytest.raises(ValueError, match=r"^dim must be >= 0; got -1$"):
        k.check(m, q, -1)
    with pytest.raises(ValueError, match=r"^dim must be an integer; got 1\.5$"):
        k.check(m, q, 1.5)
    obj = k.equivalent_object(m, q, 3)
    assert obj["claimed_dimension"] == 3
    assert obj["projected_dimension"] == P.answer_subspace_dimension(m, q, projected=True) == 2
    assert obj["unprojected_dimension"] == P.answer_subspace_dimension(m, q, projected=False)


# --- relational strong and steering through the interface -------------------------------------------------
def test_relational_strong_transfer_without_witness_uses_the_models_own_fit():
    k = P.KINDS["relational_strong"]
    m, q, (A, a) = k.example(0)
    other = aon.random_equivalent(m, m.dim, 2)
    At, at = k.transfer(m, other, q)                   # witness read off the model's own check
    At2, at2 = k.transfer(m, other, q, (A, a))
    np.testing.assert_allclose(At, At2, atol=1e-8)
    np.testing.assert_allclose(at, at2, atol=1e-8)
    # an explicit witness is used as given: a wrong one transfers to a wrong map
    Aw, aw = k.transfer(m, other, q, (2.0 * A, a))
    assert not k.check(other, q, (Aw, aw)).holds or np.abs(Aw - At).max() > 1e-3


def test_steering_interface_objects_and_pass_through():
    k = P.KINDS["linear_steering"]
    m, t, v = k.example(0)
    obj = k.equivalent_object(m, t, v)
    c, _ = P.direction_coefficients(m, v)
    np.testing.assert_allclose(obj["c"], c, atol=1e-12)
    mc, tc, vc = P.steering_counterexample_model(0)
    assert not P.condition_steering(mc, vc).holds and k.equivalent_object(mc, tc, vc) == {}
    m6, _, v6 = k.example(0, dim=6)
    assert m6.dim == 6 and v6.shape == (6,)
    # a diverse model has N = R^d: no M4 can move v's effects, so there is no realisation
    assert k.realisation(m, t, v) is None
    assert P.steering_counterexample_model(0)[1].off_target == (2, 3, 4)     # n_off = 3 by default


def test_steering_distribution_check_uses_tol_and_names_model():
    k = P.KINDS["linear_steering"]
    m, t, v = k.example(0)
    noisy = _noisy(m, 1e-3)
    strict, loose = k.distribution(noisy, t, v), k.distribution(noisy, t, v, tol=0.5)
    assert 1e-7 < strict.residual < 0.5 and not strict.holds and loose.holds
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.check_steering_log_odds(3, t, v)


def test_relational_log_odds_map_passes_the_pivot():
    m, q, _ = P.relational_example(0)
    for pivot in (0, 3):
        W, r, res = P.relational_log_odds_map(m, q, pivot)
        W2, r2, res2, _, _ = P.relational_log_odds_fit(m, q, pivot)
        np.testing.assert_array_equal(W, W2)
    W0, _, _ = P.relational_log_odds_map(m, q)
    W3, _, _ = P.relational_log_odds_map(m, q, 3)
    assert np.abs(W0 - W3).max() > 1e-8


# --- conditions, examples and messages ------------------------------------------------------------------
def test_condition_parallel_embeddings_is_unembedding_diversity():
    m = random_model(12, 10, 4, 0)
    c = P.condition_parallel_embeddings(m)
    assert (c.name, c.holds, c.residual, c.label) == ("unembedding diversity M = ℝ^d", True, 0.0, "prop-parallel-embedding")
    low = random_model(12, 10, 4, 0, dim_M=2)
    c = P.condition_parallel_embeddings(low)
    assert (c.holds, c.residual) == (False, 2.0) and isinstance(c.residual, float)
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.condition_parallel_embeddings(3)


def test_steering_example_defaults_and_validation():
    m, t, v = P.steering_example(0)
    assert (m.n_contexts, m.n_tokens, m.dim) == (40, 30, 5) and t.off_target == (2, 3, 4)
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, rtol=1e-12)
    assert P.check_steering(m, t, v).holds
    m4, t4, _ = P.steering_example(0, n_off=4)             # the largest n_off for dim 5
    assert t4.off_target == (2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"^n_off must be >= 2; got 1$"):
        P.steering_example(0, n_off=1)
    with pytest.raises(ValueError, match=r"^n_off must be <= 4; got 5$"):
        P.steering_example(0, n_off=5)
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator or a non-negative int seed; got 'x'$"):
        P.steering_example("x")


def test_steering_interface_needs_a_vector():
    k = P.KINDS["linear_steering"]
    m, t, _ = k.example(0)
    with pytest.raises(ValueError, match=r"^witness must be the steering vector v for a SteeringTarget$"):
        k.check(m, t, None)


def test_relational_projected_lift_names_a_non_model():
    m, q, _ = P.relational_example(0)
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.relational_projected_lift(3, q)


def test_probe_distribution_check_bias_and_tolerance():
    m, c, (w, b) = P.probe_example(0)
    assert P.check_probe_log_odds(m, c, w, b).holds
    r0 = P.check_probe_log_odds(m, c, w).residual           # default bias 0
    assert r0 == P.check_probe_log_odds(m, c, w, 0.0).residual
    assert P.check_probe_log_odds(m, c, w, 1.0).residual != r0   # the bias matters on this model
    wrong = P.check_probe_log_odds(m, c, w, b + 0.5 * float(np.abs(P.probe_scores(m, c, w, b)).max()))
    assert 0 < wrong.residual < 1 and not wrong.holds
    assert P.check_probe_log_odds(m, c, w, b + 0.5 * float(np.abs(P.probe_scores(m, c, w, b)).max()),
                                  tol=wrong.residual + 0.01).holds
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.check_probe_log_odds(3, c, w)


def test_probe_equivalent_object():
    k = P.KINDS["linear_probe"]
    m, c, (w, b) = k.example(0)
    assert P.condition_probe(m, c, w).holds
    obj = k.equivalent_object(m, c, (w, b))
    beta, _ = P.functional_coefficients(m, w, c.contexts)
    np.testing.assert_allclose(obj["beta"], beta, atol=1e-12)
    assert obj["b"] == b
    mc, cc, wc = P.probe_counterexample_model(0)
    assert not P.condition_probe(mc, cc, wc[0]).holds
    assert k.equivalent_object(mc, cc, wc) == {}


def test_subspace_and_sc_examples_have_the_documented_shape():
    m, q = P.subspace_example(0)
    assert (m.n_contexts, m.n_tokens, m.dim) == (50, 30, 5)          # 2 n_base + n_extra contexts
    assert q.base == tuple(range(20)) and q.queried == tuple(range(20, 40)) and q.answers == (1, 2, 3, 4, 5)
    assert P.answer_subspace_dimension(m, q, projected=False) == 2    # the queried points fill a plane
    m1, q1 = P.subspace_example(0, sub_dim=1, n_base=8, n_extra=2, n_tokens=9, dim=3, n_answers=4)
    assert (m1.n_contexts, m1.n_tokens, m1.dim) == (18, 9, 3) and q1.answers == (1, 2, 3, 4)
    assert P.answer_subspace_dimension(m1, q1, projected=False) == 1
    assert P.subspace_example(0, sub_dim=5)[0].dim == 5                # sub_dim = dim is allowed
    with pytest.raises(ValueError, match=r"^sub_dim must be >= 1; got 0$"):
        P.subspace_example(0, sub_dim=0)
    with pytest.raises(ValueError, match=r"^sub_dim must be <= 5; got 6$"):
        P.subspace_example(0, sub_dim=6)
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator or a non-negative int seed; got 'x'$"):
        P.subspace_example("x")

    m, q, (A, a) = P.relational_sc_example(0)
    assert (m.n_contexts, m.n_tokens, m.dim) == (40, 30, 3)          # d = k + 1 with k = 2
    assert q.base == tuple(range(12)) and q.queried == tuple(range(12, 24)) and q.answers == (1, 2, 3)
    np.testing.assert_allclose(m.F[list(q.queried)], m.F[list(q.base)] @ A.T + a, atol=1e-12)
    assert A[0, 2] == 1.0
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator or a non-negative int seed; got 'x'$"):
        P.relational_sc_example("x")


def test_tol_reaches_the_probe_and_steering_interfaces():
    k = P.KINDS["linear_probe"]
    m, c, (w, b) = k.example(0)
    shifted = (w, b + 0.5 * float(np.abs(P.probe_scores(m, c, w, b)).max()))   # some scores flip sign
    for fn in (k.check, k.distribution):
        strict = fn(m, c, shifted)
        assert 0 < strict.residual < 1 and not strict.holds
        assert fn(m, c, shifted, tol=strict.residual + 0.01).holds
    k = P.KINDS["linear_steering"]
    m, t, v = k.example(0)
    noisy = _noisy(m, 1e-3)
    strict = k.check(noisy, t, v)
    assert 1e-7 < strict.residual < 0.5 and not strict.holds and k.check(noisy, t, v, tol=0.5).holds


# --- every condition names its theorem (the audit prints name and label) -------------------------------
CONDITIONS = {
    "linear_probe": ("SC-probe: w ∈ M + N_S^⊥", "thm-probing"),
    "linear_steering": ("SC-steer: v ∈ N + M^⊥", "thm-steering"),
    "linear_subspace": ("none (projected onto Γ_q)", "thm-subspace"),
    "parallel_embedding": ("unembedding diversity M = ℝ^d", "prop-parallel-embedding"),
    "parallel_unembedding": ("embedding diversity N = ℝ^d", "thm-parallelism"),
    "relational_projected": ("SC-RL: A_qᵀ Γ_q ⊆ M + N_S^⊥", "thm-relational-linearity"),
    "relational_strong": ("unembedding diversity M = ℝ^d", "thm-relational-linearity"),
}


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_condition_names_and_labels(kind):
    k = P.KINDS[kind]
    m, inst, w = _example(kind, 0)
    c = k.condition(m, inst, w)
    assert (c.name, c.label) == CONDITIONS[kind]
    assert c.holds is True and isinstance(c.residual, float) and 0.0 <= c.residual < 1e-9


def test_failing_diversity_conditions_report_the_missing_dimensions():
    low_M = random_model(12, 10, 4, 0, dim_M=3)
    low_N = random_model(12, 10, 4, 0, dim_N=2)
    for c, label in [(P.condition_relational_strong(low_M), "thm-relational-linearity"),
                     (P.condition_linear_subspace(low_M, projected=False), "thm-subspace"),
                     (P.condition_parallel_embeddings(low_M), "prop-parallel-embedding")]:
        assert (c.name, c.holds, c.residual, c.label) == ("unembedding diversity M = ℝ^d", False, 1.0, label)
    c = P.condition_parallel_unembeddings(low_N)
    assert (c.name, c.holds, c.residual, c.label) == ("embedding diversity N = ℝ^d", False, 2.0, "thm-parallelism")
    # the projected linear-subspace form has no condition, whatever the model; that is the default
    c = P.condition_linear_subspace(low_M)
    assert (c.name, c.holds, c.residual, c.label) == ("none (projected onto Γ_q)", True, 0.0, "thm-subspace")


def test_identifiable_directions_name_the_lemma_and_use_tol():
    m = random_model(10, 8, 4, 0, dim_M=1, dim_N=2)      # M + N^⊥ is a proper subspace (1 + 2 < 4)
    M = aon.unembedding_difference_span(m)
    N = aon.embedding_span(m)
    inside_w = M[:, 0]
    c = P.identifiable_embedding_directions(m, inside_w)
    assert (c.name, c.holds, c.label) == ("w ∈ M + N^⊥", True, "lem-transfer") and c.residual < 1e-9
    assert P.identifiable_embedding_directions(m, inside_w, contexts=[0, 1, 2]).name == "w ∈ M + N_S^⊥"
    # a direction of N ∩ M^⊥-ish mixed in at 1e-4: fails at the default tol, passes at 1e-2
    out = complement(np.hstack([M, complement(N, 4)]), 4)
    assert out.shape[1] >= 1
    near = inside_w + 1e-4 * out[:, 0]
    strict = P.identifiable_embedding_directions(m, near)
    assert not strict.holds and 1e-7 < strict.residual < 1e-2
    assert P.identifiable_embedding_directions(m, near, tol=1e-2).holds
    with pytest.raises(ValueError, match=r"^w must have length 4; got length 3$"):
        P.identifiable_embedding_directions(m, [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.identifiable_embedding_directions(3, inside_w)
    # the same for unembedding directions: v ∈ N + M^⊥, proper when dim N < dim M
    m = random_model(10, 8, 4, 0, dim_M=2, dim_N=1)
    M = aon.unembedding_difference_span(m)
    N = aon.embedding_span(m)
    inside_v = N[:, 0]
    c = P.identifiable_unembedding_directions(m, inside_v)
    assert (c.name, c.holds, c.label) == ("v ∈ N + M^⊥", True, "lem-transfer")
    out_v = complement(np.hstack([N, complement(M, 4)]), 4)
    near_v = inside_v + 1e-4 * out_v[:, 0]
    assert not P.identifiable_unembedding_directions(m, near_v).holds
    assert P.identifiable_unembedding_directions(m, near_v, tol=1e-2).holds
    with pytest.raises(ValueError, match=r"^v must have length 4; got length 3$"):
        P.identifiable_unembedding_directions(m, [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.identifiable_unembedding_directions(3, inside_v)


# --- instances normalise and validate; the score and effect checks by hand ---------------------------------
def test_concept_and_target_store_tuples_and_name_bad_fields():
    c = P.Concept(contexts=[0, np.int64(1)], labels=np.array([0, 1]))
    assert c.contexts == (0, 1) and type(c.contexts) is tuple and type(c.labels) is tuple and c.labels == (0, 1)
    for kw, message in [
        (dict(contexts=(0,), labels=(0, 1)), r"^contexts must hold at least 2 indices; got 1$"),
        (dict(contexts=(0, 1), labels=(1,)), r"^labels must hold at least 2 indices; got 1$"),
        (dict(contexts=(0, 1), labels=(0, 2)), r"^labels must hold indices below 2; got \(0, 2\)$"),
        (dict(contexts=(0, 1), labels=(1, 1)), r"^labels must contain both classes 0 and 1$"),
    ]:
        with pytest.raises(ValueError, match=message):
            P.Concept(**kw)
    t = SteeringTarget(target=[1, np.int64(0)], off_target=np.array([2, 3]))
    assert t.target == (1, 0) and t.off_target == (2, 3) and type(t.target) is tuple and type(t.off_target) is tuple
    with pytest.raises(ValueError, match=r"^target must hold at least 2 indices; got 1$"):
        SteeringTarget(target=(1,), off_target=(2, 3))
    with pytest.raises(ValueError, match=r"^off_target must hold at least 2 indices; got 1$"):
        SteeringTarget(target=(1, 0), off_target=(2,))


def _line_model(first, second):
    """Two contexts on the e1 axis at `first` and `second`, three tokens."""
    return aon.NextTokenPredictor(np.array([[first, 0.0], [second, 0.0]]), np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))


def test_probe_score_check_by_hand():
    c = P.Concept((0, 1), (1, 0))
    # scores 1 (right) and -1e-12 (right sign, but within 1e-12 * max|score| of 0: an error)
    r = P.check_probe(_line_model(1.0, -1e-12), c, [1.0, 0.0])
    assert (r.holds, r.residual, r.witness) == (False, 0.5, 0.5)
    assert P.check_probe(_line_model(1.0, -1e-12), c, [1.0, 0.0], tol=0.5).holds     # residual <= tol
    # the margin is relative: tiny scores that are all right give accuracy 1
    assert P.check_probe(_line_model(1e-20, -3e-20), c, [1.0, 0.0]).holds
    # every score 0: undecidable, with the reason
    r = P.check_probe(_line_model(1.0, 2.0), c, [0.0, 1.0])
    assert (r.holds, r.residual, r.witness, r.decidable) == (False, 1.0, 0.0, False)
    assert r.reason == "every score is 0: the probe reads nothing"


def test_steering_effect_check_by_hand():
    m, v = _steering_model()                                  # effects e = [0.1, 0.3, -0.2, 0.05, 0]
    t = SteeringTarget(target=(1, 0), off_target=(2, 3, 4))
    r = P.check_steering(m, t, v)
    # kappa = 0.3 - 0.1 = 0.2; off-target spread = 0.05 - (-0.2) = 0.25; residual 0.25 / 0.2
    assert r.witness == pytest.approx(0.2, abs=1e-15) and r.residual == pytest.approx(1.25, rel=1e-12)
    assert not r.holds and P.check_steering(m, t, v, tol=1.25 + 1e-12).holds
    # kappa = 0 (v orthogonal to g(y1) - g(y0)): not a steering vector, residual inf
    r = P.check_steering(m, SteeringTarget((3, 0), (1, 2)), [1.0, -1.0, 0.0])    # e = [0, 1, -1, 0, 2]
    assert (r.holds, r.residual, r.witness) == (False, float("inf"), 0.0)
    # the zero test is relative: a tiny v that steers is still a steering vector
    r = P.check_steering(m, SteeringTarget((1, 0), (2, 3)), 1e-20 * np.array([1.0, 0.0, 0.0]))   # e = 1e-20 [0, 1, 0, 1, 2]
    assert r.residual == pytest.approx(1.0, rel=1e-12) and r.witness == pytest.approx(1e-20, rel=1e-12)


# --- the transfer lemma's coefficients and the affine residual, by hand --------------------------------
def test_functional_coefficients_by_hand():
    # F = I, g(y0) = 0, g(y1) = e1: Λ = [[0, 1], [0, 0]] spans only context 0
    m = aon.NextTokenPredictor(np.eye(2), np.array([[0.0, 0.0], [1.0, 0.0]]))
    beta, res = P.functional_coefficients(m, [0.03, 0.04])        # target F w = (0.03, 0.04)
    np.testing.assert_allclose(beta, [0.0, 0.03], atol=1e-15)
    assert res == pytest.approx(0.8, rel=1e-12)                   # ‖(0, 0.04)‖ / ‖(0.03, 0.04)‖
    beta, res = P.functional_coefficients(m, [3.0, 4.0], contexts=[1])
    np.testing.assert_allclose(beta, [0.0, 0.0], atol=1e-15)
    assert res == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(ValueError, match=r"^contexts must be an integer index in \[0, 2\); got 5$"):
        P.functional_coefficients(m, [1.0, 0.0], contexts=[5])
    with pytest.raises(ValueError, match=r"^w must have length 2; got length 3$"):
        P.functional_coefficients(m, [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.functional_coefficients(3, [1.0, 0.0])


def test_direction_coefficients_by_hand():
    # F = [[1, 0], [0, 0]] (N = span e1), g = 0, e1, e2: Λᵀ c = (0, c0, 0)
    m = aon.NextTokenPredictor(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    c, res = P.direction_coefficients(m, [0.3, 0.4])             # target Ḡ v = (0, 0.3, 0.4)
    np.testing.assert_allclose(c, [0.3, 0.0], atol=1e-15)
    assert res == pytest.approx(0.8, rel=1e-12)                   # ‖(0, 0, 0.4)‖ / 0.5
    _, res1 = P.direction_coefficients(m, [0.3, 0.4], pivot=1)    # another pivot, another least-squares problem
    assert abs(res1 - 0.8) > 1e-3
    with pytest.raises(ValueError, match=r"^v must have length 2; got length 3$"):
        P.direction_coefficients(m, [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.direction_coefficients(3, [1.0, 0.0])


def test_affine_dimension_residual_by_hand():
    # four points of a 3 x 4 rectangle in a plane of R^3, lifted by ±0.5 along e3: σ = (4, 3, 1) * 2 / 2
    Y = np.array([[0.0, 0.0, 0.5], [4.0, 0.0, -0.5], [0.0, 3.0, -0.5], [4.0, 3.0, 0.5]])
    s = np.linalg.svd(Y - Y.mean(axis=0), compute_uv=False)
    np.testing.assert_allclose(s, [4.0, 3.0, 1.0], rtol=1e-12)
    assert P.affine_dimension_residual(Y, 2) == pytest.approx(1.0 / np.sqrt(26.0), rel=1e-12)
    assert P.affine_dimension_residual(Y, 1) == pytest.approx(np.sqrt(10.0 / 26.0), rel=1e-12)
    assert P.affine_dimension_residual(Y.tolist(), 3) == 0.0
    assert P.affine_dimension_residual(np.tile([1e-20, 2e-20], (3, 1)), 0) == 0.0    # constant rows
    tiny = 1e-10 * Y                                        # the test for "constant" is relative
    assert P.affine_dimension_residual(tiny, 2) == pytest.approx(1.0 / np.sqrt(26.0), rel=1e-9)


def test_transfer_relational_projected_validates():
    m, q, _ = P.relational_sc_example(0)
    W, r, _ = P.relational_log_odds_map(m, q)
    other = aon.random_equivalent(m, m.dim, 1)
    At, at = P.transfer_relational_projected(other, q, W.tolist(), r)
    assert At.shape == (other.dim, other.dim) and at.shape == (other.dim,)
    with pytest.raises(ValueError, match=r"^other must be a NextTokenPredictor; got int$"):
        P.transfer_relational_projected(3, q, W, r)
    with pytest.raises(ValueError, match=rf"^W must have shape \({len(q.answers) - 1}, {m.n_tokens}\); got \(1, 2\)$"):
        P.transfer_relational_projected(other, q, np.ones((1, 2)), r)
    with pytest.raises(ValueError, match=rf"^r must have length {len(q.answers) - 1}; got length 7$"):
        P.transfer_relational_projected(other, q, W, np.ones(7))


# --- indices are checked against the model and named -------------------------------------------------------
def test_bad_indices_are_named_with_their_field():
    m = random_model(40, 30, 4, 0)
    w = np.ones(4)
    cases = [
        (lambda: P.check_parallel_embeddings(m, P.ParallelEmbedding(((0, 1), (2, 99)))),
         r"^pairs must be an integer index in \[0, 40\); got 99$"),
        (lambda: P.check_probe(m, P.Concept((0, 99), (0, 1)), w),
         r"^concept\.contexts must be an integer index in \[0, 40\); got 99$"),
        (lambda: P.check_probe(m, "c", w), r"^concept must be a Concept; got str$"),
        (lambda: P.check_steering(m, SteeringTarget((1, 99), (2, 3)), w),
         r"^target\.target must be an integer index in \[0, 30\); got 99$"),
        (lambda: P.check_steering(m, SteeringTarget((1, 0), (2, 99)), w),
         r"^target\.off_target must be an integer index in \[0, 30\); got 99$"),
        (lambda: P.embedding_offsets(m, "p"), r"^prop must be a ParallelEmbedding; got str$"),
        (lambda: P.embedding_offsets(3, P.ParallelEmbedding(((0, 1), (2, 3)))),
         r"^model must be a NextTokenPredictor; got int$"),
        (lambda: P.parallel_embedding_example(0, pairs=((1, 2), (3, 99))),
         r"^pairs must be an integer index in \[0, 40\); got 99$"),
        (lambda: P.parallel_embedding_example("x"), r"^rng must be a numpy\.random\.Generator"),
        (lambda: P.probe_example("x"), r"^rng must be a numpy\.random\.Generator"),
        (lambda: P.probe_scores(m, P.Concept((0, 1), (0, 1)), [1.0, 2.0]), r"^w must have length 4; got length 2$"),
        (lambda: P.probe_scores(3, P.Concept((0, 1), (0, 1)), w), r"^model must be a NextTokenPredictor; got int$"),
        (lambda: P.check_relational_strong(3, P.RelationalQuery((0, 1, 2), (3, 4, 5), (1, 2))),
         r"^model must be a NextTokenPredictor; got int$"),
        (lambda: P.ParallelEmbedding(((0, 0), (1, 2))),
         r"^pairs: each pair must name two different items; got \(\(0, 0\), \(1, 2\)\)$"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_parallel_embedding_instance_and_example():
    prop = P.ParallelEmbedding([[1, 2], [3, 4]])
    assert prop.pairs == ((1, 2), (3, 4)) and type(prop.pairs) is tuple
    m, prop = P.parallel_embedding_example(0)
    assert (m.n_contexts, m.n_tokens, m.dim) == (40, 30, 4) and prop.pairs == ((1, 2), (3, 4))
    (a1, b1), (a2, b2) = prop.pairs
    np.testing.assert_allclose(m.F[b1] - m.F[a1], m.F[b2] - m.F[a2], atol=1e-12)   # λ = 1 by default
    m2, _ = P.parallel_embedding_example(0, lam=-2.0)
    np.testing.assert_allclose(m2.F[b1] - m2.F[a1], -2.0 * (m2.F[b2] - m2.F[a2]), atol=1e-12)


def test_probe_example_and_scores():
    m, c, (w, b) = P.probe_example(0)
    assert (m.n_contexts, m.n_tokens, m.dim) == (40, 30, 4)
    assert c.contexts == tuple(range(40)) and sum(c.labels) == 20          # the bias splits at the median
    assert P.check_probe(m, c, w, b).holds
    np.testing.assert_array_equal(P.probe_scores(m, c, w), m.F @ w)         # default bias 0
    np.testing.assert_array_equal(P.probe_scores(m, c, w, b), m.F @ w + b)


def test_relational_undecidable_reasons_name_the_fit():
    m, q, _ = P.relational_example(12, n_base=5, dim=4)
    assert P.check_relational_strong(m, q).reason == (
        "|S|=5 contexts ≤ rank[F_S,1]=5 free parameters of the relation (A_q, a_q): an affine fit fits anything")
    assert P.check_strong_log_odds(m, q).reason == (
        "|S|=5 contexts ≤ rank[F_S,1]=5 free parameters of the log-odds map: an affine fit fits anything")


def test_subspace_claims_at_the_top_are_undecidable_with_the_reason():
    k = P.KINDS["linear_subspace"]
    m, q, _ = k.example(0)                                  # |S| = 20, |Y_q| = 5: top = min(19, 4) = 4
    c = k.check(m, q, 4)
    assert not c.decidable
    assert c.reason == "claimed dimension 4 ≥ min(|S| − 1, |Y_q| − 1) = 4: every set of answer representations fits"
    c3 = k.check(m, q, 3)
    assert c3.decidable and c3.reason == "" and c3.witness == 2       # witness: the observed dimension
    # with few queried contexts the other bound decides: |S| = 4 -> top = 3
    q4 = P.RelationalQuery(q.base[:4], q.queried[:4], q.answers)
    assert not k.check(m, q4, 3).decidable and k.check(m, q4, 2).decidable
    assert "= 3:" in k.check(m, q4, 3).reason


def test_affine_dimension_uses_rtol():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1e-6], [1.0, 1e-6]])
    assert P.affine_dimension(X) == 2
    assert P.affine_dimension(X, 1e-3) == 1
    assert P.affine_dimension(X.tolist()) == 2
    # the cut-off is relative to the largest entry of X, not of the centred points
    far = X + 1e6
    assert P.affine_dimension(far) == 1 and P.affine_dimension(far, 1e-13) == 2


def test_probe_interface_needs_a_pair_and_relational_projected_object():
    k = P.KINDS["linear_probe"]
    m, c, _ = k.example(0)
    with pytest.raises(ValueError, match=r"^witness must be the probe \(w, b\) for a Concept$"):
        k.check(m, c, None)
    k = P.KINDS["relational_projected"]
    m, q, _ = k.example(0)
    d = k.distribution(m, q)
    W, r = d.witness
    obj = k.equivalent_object(m, q, None, None, d)
    assert set(obj) == {"W", "r"} and obj["W"] is W and obj["r"] is r
    bad, qb = random_model(40, 30, 4, 3), q
    db = k.distribution(bad, qb)
    assert db.decidable and not db.holds and k.equivalent_object(bad, qb, None, None, db) == {}


@pytest.mark.parametrize("kind", ["linear_probe", "linear_steering"])
def test_vector_transfers_default_to_pivot_zero(kind):
    m, inst, wit = _example(kind, 0)
    other = aon.random_equivalent(m, m.dim + 1, 3)
    if kind == "linear_probe":
        w = wit[0]
        base = P.transfer_probe(m, other, inst, w)
        np.testing.assert_array_equal(base, P.transfer_probe(m, other, inst, w, 0))
        np.testing.assert_array_equal(P.transfer_functional(m, other, w, inst.contexts),
                                      P.transfer_functional(m, other, w, inst.contexts, 0))
        with pytest.raises(ValueError, match=r"^other must be a NextTokenPredictor; got int$"):
            P.transfer_functional(m, 3, w)
        # every pivot transfers the functional: the scores agree
        for pivot in (0, 2):
            wt = P.transfer_functional(m, other, w, inst.contexts, pivot)
            np.testing.assert_allclose(other.F @ wt, m.F @ w, atol=1e-8)
    else:
        v = wit
        base = P.transfer_steering(m, other, v)
        np.testing.assert_array_equal(base, P.transfer_direction(m, other, v, 0))
        with pytest.raises(ValueError, match=r"^other must be a NextTokenPredictor; got int$"):
            P.transfer_direction(m, 3, v)
        for pivot in (0, 2):
            vt = P.transfer_direction(m, other, v, pivot)
            np.testing.assert_allclose(other.unembedding_differences() @ vt, m.unembedding_differences() @ v, atol=1e-8)


# --- parallel_residual and affine_fit, by hand ----------------------------------------------------------
def test_parallel_residual_by_hand():
    c = P.parallel_residual(np.array([3.0, 4.0]), np.array([6.0, 8.0]), 1e-7)
    assert c.holds and c.residual == pytest.approx(0.0, abs=1e-15) and c.witness == pytest.approx(0.5, rel=1e-15)
    c = P.parallel_residual(np.array([1.0, 0.0]), np.array([1.0, 1.0]), 1e-7)
    assert not c.holds and c.residual == pytest.approx(2**-0.5, rel=1e-12) and c.witness == pytest.approx(0.5)
    assert P.parallel_residual(np.array([1.0, 0.0]), np.array([1.0, 1.0]), 2**-0.5 + 1e-12).holds
    c = P.parallel_residual(np.zeros(2), np.zeros(2), 0.5)
    assert (c.holds, c.residual, c.witness, c.decidable) == (False, 1.0, None, False)
    assert c.reason == "both vectors are zero: λ is not determined"
    for u, v in [((1.0, 0.0), (0.0, 0.0)), ((0.0, 0.0), (1.0, 0.0)),
                 ((1e-13, 0.0), (1.0, 0.0)), ((1.0, 0.0), (1e-13, 0.0))]:     # one vector (relatively) zero
        c = P.parallel_residual(np.array(u), np.array(v), 0.5)
        assert (c.holds, c.residual, c.witness, c.decidable) == (False, 1.0, None, True), (u, v)
    # small vectors are still directions; `ref` (default 0) sets the scale below which they are not
    assert P.parallel_residual(np.array([1e-6, 0.0]), np.array([2e-6, 0.0]), 1e-7).holds
    assert P.parallel_residual(np.array([1e-15, 0.0]), np.array([1e-15, 0.0]), 1e-7).holds
    assert not P.parallel_residual(np.array([1e-15, 0.0]), np.array([1e-15, 0.0]), 1e-7, ref=1.0).decidable


def test_affine_fit_by_hand():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    Y = 2.0 * X + 1.0 + np.array([[0.1], [-0.1], [-0.1], [0.1]])       # residual orthogonal to [X, 1]
    C, c, r, ok, why = P.affine_fit(X, Y)
    np.testing.assert_allclose(C, [[2.0]], atol=1e-12)
    np.testing.assert_allclose(c, [1.0], atol=1e-12)
    spread = np.linalg.norm(Y - Y.mean(axis=0))
    assert r == pytest.approx(0.2 / spread, rel=1e-10) and ok and why == ""
    # constant Y: residual 0 (not 0/0); tiny but varying Y is judged relative to its own spread
    assert P.affine_fit(X, np.full((4, 1), 5.0))[2] == 0.0
    assert P.affine_fit(X.tolist(), (1e-20 * Y).tolist())[2] == pytest.approx(0.2 / spread, rel=1e-8)
    # two points, rank [X, 1] = 2: undecidable, with the reason and the default name
    *_, ok, why = P.affine_fit(X[:2], Y[:2])
    assert not ok and why == "|S|=2 contexts ≤ rank[F_S,1]=2 free parameters of the fit: an affine fit fits anything"


# --- SC-RL with and without a given relation; the canonical member ---------------------------------------
def test_condition_relational_projected_with_and_without_A():
    m, q, (A, a) = P.relational_sc_example(0)                  # projected 7b holds, SC-RL fails for the true A
    c = P.condition_relational_projected(m, q, A)
    assert (c.name, c.label) == ("SC-RL: A_qᵀ Γ_q ⊆ M + N_S^⊥", "thm-relational-linearity")
    assert not c.holds and 0.1 < c.residual <= 1.0
    assert P.condition_relational_projected(m, q, A, tol=c.residual + 1e-9).holds
    assert P.condition_relational_projected(m, q, A.tolist()).residual == c.residual
    # A = None: does some relation satisfy SC-RL, i.e. are the answer log-odds affine in those of s?
    cu = P.condition_relational_projected(m, q)                 # not here: the copied coordinate is invisible
    assert (cu.name, cu.label) == ("SC-RL: A_qᵀ Γ_q ⊆ M + N_S^⊥", "thm-relational-linearity")
    assert not cu.holds and cu.residual > 1e-3 and isinstance(cu.residual, float)
    assert P.condition_relational_projected(m, q, tol=cu.residual + 1e-9).holds
    ms0, qs0, _ = P.relational_example(1)
    c0 = P.condition_relational_projected(ms0, qs0)
    assert c0.holds and c0.residual < 1e-9
    with pytest.raises(ValueError, match=rf"^A must have shape \({m.dim}, {m.dim}\); got \(2, 2\)$"):
        P.condition_relational_projected(m, q, np.eye(2))
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.condition_relational_projected(3, q)
    # a relation inside M + N_S^⊥ passes: the strong example's relation under unembedding diversity
    ms, qs, (As, _) = P.relational_example(0)
    assert P.condition_relational_projected(ms, qs, As).holds


@pytest.mark.parametrize("whiten", ["embeddings", "unembeddings"])
def test_canonical_member_whitens_what_it_says(whiten):
    m = random_model(12, 10, 4, 0, dim_N=3)
    c = P.canonical_member(m, whiten) if whiten != "embeddings" else P.canonical_member(m)
    assert aon.max_prob_difference(m, c) < 1e-10 and c.dim == 3      # reduced to k = 3
    if whiten == "embeddings":
        np.testing.assert_allclose(c.F.T @ c.F, np.eye(3), atol=1e-9)
    else:
        Gb = c.unembedding_differences()
        np.testing.assert_allclose(Gb.T @ Gb, np.eye(3), atol=1e-9)
    with pytest.raises(ValueError, match=r"^whiten must be 'embeddings' or 'unembeddings'; got 'x'$"):
        P.canonical_member(m, "x")
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.canonical_member(3)


def test_parallel_unembedding_instance_example_and_counterexample():
    prop = P.ParallelUnembedding([[1, 2], [3, 4]])
    assert prop.pairs == ((1, 2), (3, 4)) and type(prop.pairs) is tuple
    with pytest.raises(ValueError, match=r"^pairs: each pair must name two different items; got \(\(1, 1\), \(3, 4\)\)$"):
        P.ParallelUnembedding(((1, 1), (3, 4)))
    m, prop = P.parallel_unembedding_example(0)
    assert (m.n_contexts, m.n_tokens, m.dim) == (40, 30, 4) and prop.pairs == ((1, 2), (3, 4))
    (a1, b1), (a2, b2) = prop.pairs
    np.testing.assert_allclose(m.G[b1] - m.G[a1], m.G[b2] - m.G[a2], atol=1e-12)    # λ = 1 by default
    m2, _ = P.parallel_unembedding_example(0, lam=-2.0, dim=5, n_contexts=12, n_tokens=9)
    assert (m2.n_contexts, m2.n_tokens, m2.dim) == (12, 9, 5)
    np.testing.assert_allclose(m2.G[b1] - m2.G[a1], -2.0 * (m2.G[b2] - m2.G[a2]), atol=1e-12)
    with pytest.raises(ValueError, match=r"^pairs must be an integer index in \[0, 30\); got 99$"):
        P.parallel_unembedding_example(0, pairs=((1, 2), (3, 99)))
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator"):
        P.parallel_unembedding_example("x")
    c = P.parallelism_counterexample(m, prop)                  # lift: u(b1) = size = 1, u = 0 elsewhere
    assert c.dim == m.dim + 1 and aon.max_prob_difference(m, c) < 1e-12
    assert c.G[b1, -1] == 1.0 and np.count_nonzero(c.G[:, -1]) == 1
    assert P.parallelism_counterexample(m, prop, size=2.5).G[b1, -1] == 2.5
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.parallelism_counterexample(3, prop)
    with pytest.raises(ValueError, match=r"^pairs must be an integer index in \[0, 30\); got 99$"):
        P.unembedding_offsets(m, P.ParallelUnembedding(((1, 2), (3, 99))))


def test_relational_example_defaults():
    m, q, (A, a) = P.relational_example(0)
    assert (m.n_contexts, m.n_tokens, m.dim) == (40, 30, 4)          # 2 n_base + n_extra contexts
    assert q.base == tuple(range(12)) and q.queried == tuple(range(12, 24)) and q.answers == (1, 2, 3, 4)
    np.testing.assert_allclose(m.F[list(q.queried)], m.F[list(q.base)] @ A.T + a, atol=1e-10)
    m2, q2, _ = P.relational_example(0, n_base=7, n_extra=3, n_tokens=9, dim=3, n_answers=2)
    assert (m2.n_contexts, m2.n_tokens, m2.dim) == (17, 9, 3) and q2.answers == (1, 2)
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator"):
        P.relational_example("x")


def test_projected_undecidable_reasons_and_strong_objects():
    m, q, _ = P.relational_example(12, n_base=5, dim=4)
    assert P.check_relational_projected(m, q).reason == (
        "|S|=5 contexts ≤ rank[F_S,1]=5 free parameters of the relation (A_q, a_q): an affine fit fits anything")
    assert P.check_relational_log_odds(m, q).reason == (
        "|S|=5 contexts ≤ rank[F_S,1]=5 free parameters of the log-odds map: an affine fit fits anything")
    k = P.KINDS["relational_strong"]
    m, q, _ = k.example(0)
    d = k.distribution(m, q)
    W, r = d.witness
    obj = k.equivalent_object(m, q, None, None, d)
    assert set(obj) == {"W", "r"} and obj["W"] is W and obj["r"] is r
    bad = random_model(40, 30, 4, 3)
    db = k.distribution(bad, q)
    assert db.decidable and not db.holds and k.equivalent_object(bad, q, None, None, db) == {}


def test_relational_strong_counterexample_moves_only_the_queried_contexts():
    m, q, _ = P.relational_example(0)
    c = P.relational_strong_counterexample(m, q, 0)
    assert c.dim == m.dim + 1 and aon.max_prob_difference(m, c) < 1e-12
    moved = np.flatnonzero(c.F[:, -1]).tolist()
    assert moved == list(q.queried)
    c2 = P.relational_strong_counterexample(m, q, 0, size=2.0)
    np.testing.assert_allclose(c2.F[:, -1], 2.0 * c.F[:, -1], rtol=1e-15)
    assert not P.check_relational_strong(c, q).holds
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got int$"):
        P.relational_strong_counterexample(3, q, 0)
    with pytest.raises(ValueError, match=r"^rng must be a numpy\.random\.Generator"):
        P.relational_strong_counterexample(m, q, "x")


# --- the relational query normalises and is checked against the model ----------------------------------
def test_relational_query_fields_and_messages():
    q = P.RelationalQuery([0, np.int64(1)], np.array([2, 3]), [1, 2])
    assert (q.base, q.queried, q.answers) == ((0, 1), (2, 3), (1, 2))
    assert all(type(x) is tuple for x in (q.base, q.queried, q.answers))
    cases = [
        (lambda: P.RelationalQuery((), (2,), (1, 2)), r"^base must hold at least 1 indices; got 0$"),
        (lambda: P.RelationalQuery((0,), (), (1, 2)), r"^queried must hold at least 1 indices; got 0$"),
        (lambda: P.RelationalQuery((0,), (1,), (1,)), r"^answers must hold at least 2 indices; got 1$"),
        (lambda: P.RelationalQuery((0, 1), (2, 3), (1, 1)), r"^answers must be distinct tokens; got \(1, 1\)$"),
    ]
    m = random_model(10, 6, 3, 0)
    cases += [
        (lambda: P.check_relational_strong(m, "q"), r"^query must be a RelationalQuery; got str$"),
        (lambda: P.check_relational_strong(m, P.RelationalQuery((0, 11), (2, 3), (1, 2))),
         r"^query\.base must be an integer index in \[0, 10\); got 11$"),
        (lambda: P.check_relational_strong(m, P.RelationalQuery((0, 1), (2, 12), (1, 2))),
         r"^query\.queried must be an integer index in \[0, 10\); got 12$"),
        (lambda: P.check_relational_strong(m, P.RelationalQuery((0, 1), (2, 3), (1, 6))),
         r"^query\.answers must be an integer index in \[0, 6\); got 6$"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
