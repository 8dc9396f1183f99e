"""The shared LinearProperty interface: every kind, every branch, checks with power.

Each generated model is asserted to give decidable checks, so a test cannot
pass because a fit is vacuous.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import allornone as aon
from allornone import properties as P
from allornone.theory.audit import audit
from allornone.theory.examples import random_model
from allornone.theory.subspaces import complement, embedding_span, unembedding_difference_span

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KIND_NAMES = sorted(P.KINDS)


def _example(kind, seed):
    """(model, instance, witness) of the kind's own example, sizes with power."""
    k = P.KINDS[kind]
    if kind == "linear_subspace":
        return k.example(seed, sub_dim=2)
    return k.example(seed)


def _form(kind):
    return kind if kind in ("relational_strong", "relational_projected", "linear_subspace") else None


def _audit(kind, model, inst, witness, **kw):
    if kind == "linear_subspace":
        return audit(model, inst, form=kind, dim=witness, **kw)
    return audit(model, inst, form=_form(kind), witness=witness, **kw)


@pytest.mark.parametrize("module", ["parallel_unembeddings", "parallel_embeddings", "relational_strong",
                                    "relational_projected", "linear_subspace", "probe", "steering"])
def test_every_module_exposes_the_interface_as_functions(module):
    import importlib

    mod = importlib.import_module(f"allornone.theory.properties.{module}")
    for name in ("check", "condition", "distribution", "transfer", "example", "counterexample", "realisation"):
        assert getattr(mod, name) == getattr(mod.PROPERTY, name)
    assert P.KINDS[mod.PROPERTY.kind] is mod.PROPERTY


def test_kinds_registry_is_complete():
    from allornone.theory.audit import PROPERTY_KINDS

    assert set(P.KINDS) == set(PROPERTY_KINDS)
    for name, k in P.KINDS.items():
        assert k.kind == name and isinstance(k, P.LinearProperty)
        assert k.theorem and k.scope and k.counterexample_label


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_example_has_the_property_with_power(kind):
    k = P.KINDS[kind]
    m, inst, w = _example(kind, 0)
    c, d, cond = k.check(m, inst, w), k.distribution(m, inst, w), k.condition(m, inst, w)
    assert c.decidable and d.decidable, (c.reason, d.reason)
    assert c.holds and d.holds and cond.holds
    assert c.residual < 1e-9 and d.residual < 1e-9
    r = _audit(kind, m, inst, w)
    assert r.verdict == "all" and r.identifiable and r.justification == k.theorem and r.decidable


@pytest.mark.parametrize("kind", KIND_NAMES)
@FAST
@given(seed=st.integers(0, 2**31 - 1), extra=st.integers(0, 3))
def test_distribution_residual_is_the_same_in_every_member(kind, seed, extra):
    """The distribution-level figure is a function of p: equal in a random member
    (with the transferred witness for probes and steering)."""
    k = P.KINDS[kind]
    m, inst, w = _example(kind, seed % 1000)
    other = aon.random_equivalent(m, aon.effective_complexity(m) + extra, np.random.default_rng(seed))
    wt = w
    if kind == "linear_probe":
        wt = k.transfer(m, other, inst, w)
    elif kind == "linear_steering":
        wt = k.transfer(m, other, inst, w)
    d, dt = k.distribution(m, inst, w), k.distribution(other, inst, wt)
    assert dt.decidable and dt.holds == d.holds
    assert abs(dt.residual - d.residual) < 1e-7
    r, rt = _audit(kind, m, inst, w), _audit(kind, other, inst, wt)
    assert rt.class_verdict == r.class_verdict != "undecided by the data"
    if k.condition(other, inst, wt).holds:
        assert rt.verdict == r.verdict == "all"
    else:
        assert rt.verdict == "not identifiable"
        assert rt.pair.max_dp < 1e-12 and rt.pair.check_with.holds and not rt.pair.check_without.holds


# --- the failing branch ("none") of every kind -------------------------------------------------

def _unrelated_query(seed, n_base=12, dim=4, n_answers=4):
    """A diverse model whose f(s ⊕ q) are unrelated to f(s): no relation holds."""
    m = random_model(2 * n_base + 6, 30, dim, seed)
    q = P.RelationalQuery(tuple(range(n_base)), tuple(range(n_base, 2 * n_base)), tuple(range(1, n_answers + 1)))
    return m, q


def test_none_parallel_unembedding():
    m = random_model(30, 20, 4, 1)
    prop = P.ParallelUnembedding(((1, 2), (3, 4)))
    r = audit(m, prop)
    assert r.verdict == "none" and r.identifiable and r.justification == "thm-parallelism"
    assert r.distribution.decidable and r.distribution_residual > 0.1
    lifted = aon.lift_unembeddings(m, np.random.default_rng(0).normal(size=(m.n_tokens, 2)))
    rl = audit(lifted, prop)            # N ≠ ℝ^d: no theorem, but property ⇒ same log-ratios
    assert not rl.condition.holds and rl.verdict == "none" and rl.justification == "prop-parallel-log-ratios"


def test_none_parallel_embedding():
    m = random_model(30, 20, 4, 2)
    prop = P.ParallelEmbedding(((1, 2), (3, 4)))
    r = audit(m, prop)
    assert r.verdict == "none" and r.justification == "prop-parallel-embedding"
    lifted = aon.lift(m, np.random.default_rng(0).normal(size=(m.n_contexts, 1)), np.ones(1))
    assert audit(lifted, prop).verdict == "none"


def test_none_relational_strong():
    m, q = _unrelated_query(3)
    r = audit(m, q, form="relational_strong")
    assert r.check.decidable and r.distribution.decidable and r.condition.holds
    assert r.verdict == "none" and r.justification == "thm-relational-linearity" and r.residual > 0.1


def test_none_linear_probe():
    m, concept, (w, b) = P.probe_example(4)
    labels = tuple(int(v) for v in np.random.default_rng(1).integers(0, 2, size=len(concept.contexts)))
    c2 = P.Concept(concept.contexts, labels)
    r = audit(m, c2, witness=(w, b))
    assert r.condition.holds and r.verdict == "none" and r.justification == "thm-probing"
    assert r.distribution_residual == pytest.approx(r.residual)


def test_none_linear_steering():
    m, t, v = P.steering_example(5)
    r = audit(m, t, witness=np.random.default_rng(2).normal(size=m.dim))
    assert r.condition.holds and r.verdict == "none" and r.justification == "thm-steering"


# --- the not-identifiable branch of every kind, both directions -----------------------------------------

def _assert_pair(r, model):
    p = r.pair
    assert r.verdict == "not identifiable" and not r.identifiable and p is not None
    assert p.check_with.holds and p.check_with.decidable
    assert not p.check_without.holds and p.check_without.decidable
    assert p.max_dp < 1e-12 and p.log_odds_difference < 1e-9
    assert aon.same_distribution(p.with_property, model) and aon.same_distribution(p.without_property, model)
    assert model in (p.with_property, p.without_property) or r.counterexample_holds is not None


def test_not_identifiable_parallel_both_directions():
    m, prop = P.parallel_unembedding_example(6)
    lifted = aon.lift_unembeddings(m, np.zeros((m.n_tokens, 1)))         # parallel, N ≠ ℝ^d
    r = audit(lifted, prop)
    _assert_pair(r, lifted)
    assert r.pair.with_property is lifted and r.justification == "prop-parallelism-counterexample"
    scrambled = aon.lift_unembeddings(m, np.random.default_rng(0).normal(size=(m.n_tokens, 1)))
    assert not P.check_parallel_unembeddings(scrambled, prop).holds     # not parallel, same log-ratios
    r2 = audit(scrambled, prop)
    _assert_pair(r2, scrambled)
    assert r2.pair.without_property is scrambled


def test_not_identifiable_parallel_embedding_both_directions():
    m, prop = P.parallel_embedding_example(7)
    lifted = aon.lift(m, np.zeros((m.n_contexts, 1)), np.ones(1))
    _assert_pair(audit(lifted, prop), lifted)
    scrambled = aon.lift(m, np.random.default_rng(0).normal(size=(m.n_contexts, 1)), np.ones(1))
    assert not P.check_parallel_embeddings(scrambled, prop).holds
    r = audit(scrambled, prop)
    _assert_pair(r, scrambled)
    assert r.pair.without_property is scrambled


def test_not_identifiable_relational_strong_both_directions():
    m, q, _ = P.relational_example(8)
    lifted = aon.lift(m, np.zeros((m.n_contexts, 1)), np.ones(1))
    r = audit(lifted, q, form="relational_strong")
    _assert_pair(r, lifted)
    u, uq = _unrelated_query(9)
    ul = aon.lift(u, np.zeros((u.n_contexts, 1)), np.ones(1))            # M ≠ ℝ^d, no relation at all
    r2 = audit(ul, uq, form="relational_strong")
    _assert_pair(r2, ul)
    assert r2.pair.without_property is ul


def test_not_identifiable_probe_both_directions():
    m, c, (w, b) = P.probe_counterexample_model(10)
    r = audit(m, c, witness=(w, b))
    _assert_pair(r, m)
    assert r.pair.check_without.witness == 0.0                          # every sign flipped
    labels = list(c.labels)
    labels[0], labels[-1] = labels[-1], labels[0]
    c2 = P.Concept(c.contexts, tuple(labels))
    assert not P.check_probe(m, c2, w, b).holds
    r2 = audit(m, c2, witness=(w, b))
    _assert_pair(r2, m)
    assert r2.pair.without_property is m


def test_not_identifiable_steering_both_directions():
    m, t, v = P.steering_counterexample_model(11)
    _assert_pair(audit(m, t, witness=v), m)
    v2 = v + 0.5 * np.eye(m.dim)[0]                                    # now moves an off-target ratio
    assert not P.check_steering(m, t, v2).holds and not P.condition_steering(m, v2).holds
    r = audit(m, t, witness=v2)
    _assert_pair(r, m)
    assert r.pair.without_property is m


# --- undecided by the data --------------------------------------------------------------------------

def test_relational_with_too_few_contexts_is_undecided():
    m, q, _ = P.relational_example(12, n_base=5, dim=4)                 # |S| = 5 = rank[F_S, 1]
    c = P.check_relational_strong(m, q)
    assert not c.decidable and "|S|=5" in c.reason and "rank[F_S,1]=5" in c.reason
    assert not P.check_relational_projected(m, q).decidable
    for form in ("relational_strong", "relational_projected"):
        r = audit(m, q, form=form)
        assert r.verdict == "undecided by the data" and not r.identifiable and not r.decidable


def test_unrelated_data_also_fit_when_undecidable():
    """The reason for the rule: with |S| ≤ rank[F_S,1] unrelated data pass the fit."""
    m, q = _unrelated_query(13, n_base=5, dim=4)
    c = P.check_relational_strong(m, q)
    assert c.holds and not c.decidable
    m2, q2 = _unrelated_query(13, n_base=12, dim=4)
    c2 = P.check_relational_strong(m2, q2)
    assert c2.decidable and not c2.holds


def test_vanishing_log_ratios_are_undecided():
    m, prop = P.parallel_unembedding_example(14)
    F = np.hstack([m.F, np.zeros((m.n_contexts, 1))])
    G = np.hstack([m.G, np.zeros((m.n_tokens, 1))])
    G[[1, 2, 3, 4], :-1] = G[1, :-1]                                    # δ_i ∈ N^⊥ only
    G[2, -1], G[4, -1] = 1.0, 2.0
    lm = aon.NextTokenPredictor(F, G)
    assert P.check_parallel_unembeddings(lm, prop).holds
    d = P.check_same_log_ratios(lm, prop)
    assert not d.decidable and "λ" in d.reason
    assert audit(lm, prop).verdict == "undecided by the data"


def test_subspace_claim_that_cannot_fail_is_undecided():
    m, q = P.subspace_example(15, sub_dim=2, n_answers=4)
    r = audit(m, q, form="linear_subspace", dim=3)                     # ≥ |Y_q| − 1 = 3
    assert r.verdict == "undecided by the data" and "claimed dimension 3" in r.reason


# --- N_S ≠ N and N₀ ≠ N -------------------------------------------------------------------------------

def _split_model(seed, k=3, n_in=16, n_out=8):
    """d = k + 1, M = span(e_1..e_k); contexts 0..n_in−1 have e_{k+1}-coordinate 0
    (N_S ⊆ M), the others do not (N ∩ M^⊥ = span e_{k+1})."""
    rng = np.random.default_rng(seed)
    F = np.vstack([np.hstack([rng.normal(size=(n_in, k)), np.zeros((n_in, 1))]),
                   rng.normal(size=(n_out, k + 1))])
    G = np.hstack([rng.normal(size=(20, k)), np.full((20, 1), rng.normal())])
    return aon.NextTokenPredictor(F, G)


def test_probe_on_a_proper_subset_of_contexts():
    m = _split_model(16)
    k = m.dim - 1
    w = np.r_[np.random.default_rng(0).normal(size=k), 5.0]              # e_{k+1} part: in N ∩ M^⊥
    S = tuple(range(16))
    s = m.F[list(S)] @ w
    concept = P.Concept(S, tuple(int(v > np.median(s)) for v in s))
    assert P.condition_probe(m, concept, w).holds                       # w ∈ M + N_S^⊥
    assert not P.identifiable_embedding_directions(m, w).holds          # w ∉ M + N^⊥
    r = audit(m, concept, witness=(w, 0.0 - float(np.median(s))))
    other = aon.random_equivalent(m, m.dim + 2, np.random.default_rng(1))
    wt = P.transfer_probe(m, other, concept, w)
    ro = audit(other, concept, witness=(wt, -float(np.median(s))))
    assert r.verdict == ro.verdict and r.verdict in ("all", "none")
    # the same vector on all contexts is not identifiable
    all_ctx = P.Concept(tuple(range(m.n_contexts)), tuple([0, 1] * (m.n_contexts // 2)))
    assert not P.condition_probe(m, all_ctx, w).holds


def test_sc_rl_on_a_proper_subset_of_contexts():
    m = _split_model(17, n_in=12, n_out=12)
    k = m.dim - 1
    base, queried = tuple(range(12)), tuple(range(12, 24))
    A = np.zeros((m.dim, m.dim))
    A[0, k] = 1.0                                  # reads the e_{k+1} coordinate, which is 0 on S
    q = P.RelationalQuery(base, queried, (1, 2, 3))
    assert P.condition_relational_projected(m, q, A).holds              # A_qᵀ Γ_q ⊆ M + N_S^⊥
    L = P.answer_basis(m, q)
    Nperp = complement(embedding_span(m), m.dim)
    assert max(P._sum_member(u, unembedding_difference_span(m), Nperp) for u in (A.T @ L).T) > 0.1


def test_constant_coordinate_n0_differs_from_n():
    """Every context has a constant coordinate: N = ℝ^d but N₀ ≠ ℝ^d. The parallelism
    condition is embedding diversity in the span sense (N), so it holds."""
    m, prop = P.parallel_unembedding_example(18, dim=3)
    cm = aon.NextTokenPredictor(np.hstack([m.F, np.ones((m.n_contexts, 1))]),
                                np.hstack([m.G, np.random.default_rng(0).normal(size=(m.n_tokens, 1))]))
    assert not aon.is_diverse(cm) and aon.has_embedding_diversity(cm)
    r = audit(cm, prop)
    assert r.condition.holds and r.distribution.decidable
    assert r.verdict == ("all" if r.distribution_holds else "none")
    assert r.holds == r.distribution_holds                               # exact: P ⇔ same log-ratios under N = ℝ^d


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "lib" / "allornone" / "theory"
                                         / "properties").glob("*.py")), ids=lambda p: p.name)
def test_public_functions_of_the_property_modules_have_docstrings(path):
    import ast

    tree = ast.parse(path.read_text())
    undocumented = [n.name for n in tree.body
                    if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")
                    and ast.get_docstring(n) is None]
    assert not undocumented and ast.get_docstring(tree), (path.name, undocumented)


def test_a_pair_whose_checks_have_no_power_is_not_shown():
    """|S| = 9: the counterpart is decidable (rank[Λ_S,1] = 5) but every lift that
    would have the strong form has rank[F̃_S,1] ≥ 9: no pair with power exists."""
    u, uq = _unrelated_query(19, n_base=9, dim=4)
    ul = aon.lift(u, np.zeros((u.n_contexts, 1)), np.ones(1))
    r = audit(ul, uq, form="relational_strong")
    assert r.distribution.decidable and r.check.decidable and not r.check.holds
    assert r.verdict == "undecided by the data" and "no equivalent pair" in r.reason and r.pair is None


def test_projected_all_in_a_member_whose_own_fit_is_vacuous():
    """R-Thm RL (b) covers every member: a lifted member with rank[F_S,1] ≥ |S| still gets "all"."""
    m, q, _ = P.relational_example(20, n_base=10, dim=3)
    big = aon.lift(m, np.random.default_rng(0).normal(size=(m.n_contexts, 9)), np.ones(9))
    assert not P.check_relational_projected(big, q).decidable
    r = audit(big, q)
    assert r.distribution.decidable and r.verdict == "all"


def test_rounding_noise_is_not_a_log_ratio_direction():
    m, prop = P.parallel_unembedding_example(21)
    F = np.hstack([m.F, np.zeros((m.n_contexts, 1))])
    G = np.hstack([m.G, np.zeros((m.n_tokens, 1))])
    G[[1, 2, 3, 4], :-1] = G[1, :-1]
    G[2, -1], G[4, -1] = 1.0, 2.0
    moved = aon.reparametrize(aon.NextTokenPredictor(F, G), aon.random_invertible(m.dim + 1, 0, cond=30))
    r = P.log_ratio_vectors(moved, prop)
    assert 0 < np.abs(r).max() < 1e-10                                 # not exactly zero any more
    assert not P.check_same_log_ratios(moved, prop).decidable


def _chain(seed, n=13, dim=4):
    """Contexts x_0 … x_{n-1} with x_{i+1} = x_i ⊕ q and f(x_{i+1}) = A f(x_i) + a: base and
    queried rows overlap (s ⊕ q is itself a context of S)."""
    m = random_model(n + 6, 30, dim, seed)
    rng = np.random.default_rng(seed)
    A = np.linalg.qr(rng.normal(size=(dim, dim)))[0] * 0.9
    a = rng.normal(size=dim)
    F = m.F.copy()
    for i in range(1, n):
        F[i] = A @ F[i - 1] + a
    q = P.RelationalQuery(tuple(range(n - 1)), tuple(range(1, n)), (1, 2, 3))
    return m.with_tables(F=F), q


def _has(kind, model, inst, witness, member):
    other, w = member
    assert aon.same_distribution(model, other)
    c = P.KINDS[kind].check(other, inst, w)
    return c.decidable and c.holds


def test_realisations_have_the_property():
    K = P.KINDS
    m, prop = P.parallel_unembedding_example(22)
    scr = aon.lift_unembeddings(m, np.random.default_rng(0).normal(size=(m.n_tokens, 1)))
    assert _has("parallel_unembedding", scr, prop, None, K["parallel_unembedding"].realisation(scr, prop))
    assert K["parallel_unembedding"].realisation(random_model(30, 20, 4, 0), prop) is None
    me, pe = P.parallel_embedding_example(22)
    scr = aon.lift(me, np.random.default_rng(0).normal(size=(me.n_contexts, 1)), np.ones(1))
    assert _has("parallel_embedding", scr, pe, None, K["parallel_embedding"].realisation(scr, pe))
    assert K["parallel_embedding"].realisation(random_model(30, 20, 4, 0), pe) is None
    cm, cq = _chain(23)
    assert P.check_relational_strong(cm, cq).holds and P.check_relational_strong(cm, cq).decidable
    lifted = aon.lift(cm, np.random.default_rng(1).normal(size=(cm.n_contexts, 1)), np.ones(1))
    assert not P.check_relational_strong(lifted, cq).holds
    assert _has("relational_strong", lifted, cq, None, K["relational_strong"].realisation(lifted, cq))
    um, uq = _unrelated_query(24)
    assert _has("relational_strong", um, uq, None, K["relational_strong"].realisation(um, uq))
    cu = cm.with_tables(F=np.random.default_rng(2).normal(size=cm.F.shape))   # overlapping rows, no relation
    assert K["relational_strong"].realisation(cu, cq) is None
    assert _has("relational_projected", um, uq, None, K["relational_projected"].realisation(um, uq))
    pm, pc, (w, b) = P.probe_counterexample_model(25)
    bad = P.Concept(pc.contexts, tuple(1 - v for v in pc.labels))
    assert _has("linear_probe", pm, bad, (w, b), K["linear_probe"].realisation(pm, bad, (w, b)))
    sm, st_, v = P.steering_counterexample_model(25)
    v2 = v + 0.5 * np.eye(sm.dim)[0]
    assert _has("linear_steering", sm, st_, v2, K["linear_steering"].realisation(sm, st_, v2))
    dm, dp, (dw, db) = P.probe_example(26)                               # w ∈ M + N_S^⊥: nothing to move
    assert K["linear_probe"].realisation(dm, dp, (dw, db)) is None


def test_counterexamples_lack_the_property():
    K = P.KINDS
    for kind in ("parallel_unembedding", "parallel_embedding", "relational_strong"):
        m, inst, w = K[kind].example(27)
        cex = K[kind].counterexample(m, inst, w, 0)
        c = K[kind].check(cex, inst, w, 0.5)                           # fails even at a loose tol
        assert aon.same_distribution(m, cex) and c.decidable and not c.holds
    m, q, _ = P.relational_sc_example(27)
    cex = K["relational_projected"].counterexample(m, q)
    assert aon.same_distribution(m, cex) and not P.check_relational_projected(cex, q).holds


def test_a_construction_that_changes_p_is_never_shown_as_a_pair(monkeypatch):
    m, prop = P.parallel_unembedding_example(28)
    lifted = aon.lift_unembeddings(m, np.zeros((m.n_tokens, 1)))
    kind = P.KINDS["parallel_unembedding"]
    off = aon.nudge_off_class(P.parallelism_counterexample(lifted, prop, 10.0), 1e-3, np.random.default_rng(0))
    monkeypatch.setattr(kind, "counterexample", lambda *a, **k: off)
    r = audit(lifted, prop)
    assert r.pair is None or aon.same_distribution(r.pair.without_property, lifted)


def test_probe_orthogonal_to_the_free_directions_cannot_be_moved():
    pm, pc, _ = P.probe_counterexample_model(29)
    w = np.eye(pm.dim)[0]                                              # in M, ⊥ N ∩ M^⊥ = span e_{k+1}
    assert P.probe_flip(pm, pc, w, 0.0) is None and P.probe_flip(pm, pc, w, 0.0, correct=True) is None
    assert P.condition_probe(pm, pc, w).holds


def test_steering_vector_inside_n_cannot_be_moved_by_m4():
    m, t, v = P.steering_example(30)
    assert P.steering_shift(m, t, v) is None and P.steering_shift(m, t, v, correct=True) is None
    cm, ct, cv = P.steering_counterexample_model(30, n_off=3)
    both = P.SteeringTarget(ct.off_target[:2], ct.off_target)         # target inside the off-target set
    assert P.steering_shift(cm, both, cv, correct=True) is None
