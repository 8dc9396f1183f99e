"""allornone.audit: verdicts, the shipped example, loading and parsing user input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import allornone as aon
from allornone import properties as P
from allornone.theory.audit import AuditReport, audit, load_model, parse_property

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "audit_example"


def test_audit_is_exported():
    assert aon.audit is audit and "audit" in aon.__all__


def test_parallel_identifiable_and_not():
    model, prop = P.parallel_unembedding_example(0)
    r = audit(model, prop)
    assert isinstance(r, AuditReport) and r.holds and r.identifiable and r.condition.holds
    assert r.equivalent_object["lambda"] == pytest.approx(1.0)
    lifted = aon.lift_unembeddings(model, np.zeros((model.n_tokens, 1)))   # N ≠ ℝ^d, still parallel
    r2 = audit(lifted, prop)
    assert r2.holds and not r2.identifiable
    assert r2.counterexample_holds is False and r2.counterexample_max_dp < 1e-12
    assert "Not identifiable" in str(r2)


def test_parallel_embedding_audit():
    model, prop = P.parallel_embedding_example(1)
    assert audit(model, prop).identifiable
    lifted = aon.lift(model, np.zeros((model.n_contexts, 1)), np.ones(1))
    r = audit(lifted, prop)
    assert r.holds and not r.identifiable and r.counterexample_holds is False


def test_relational_audits():
    model, q, _ = P.relational_example(2)
    assert audit(model, q).identifiable and audit(model, q).holds
    assert audit(model, q, form="relational_strong").identifiable
    sub = audit(model, q, form="linear_subspace")
    assert sub.equivalent_object["projected_dimension"] == sub.equivalent_object["log_odds_affine_dimension"]
    m2, q2, _ = P.relational_sc_example(3)
    r = audit(m2, q2)
    assert r.holds and not r.identifiable and r.counterexample_holds is False and r.counterexample_max_dp < 1e-12
    lifted = aon.lift(model, np.zeros((model.n_contexts, 1)), np.ones(1))
    rs = audit(lifted, q, form="relational_strong")
    assert rs.holds and not rs.identifiable and rs.counterexample_holds is False
    with pytest.raises(ValueError, match="form"):
        audit(model, q, form="nonsense")


def test_probe_and_steering_audits():
    m, c, (w, b) = P.probe_example(4)
    assert audit(m, c, witness=(w, b)).identifiable
    m2, c2, (w2, b2) = P.probe_counterexample_model(4)
    r = audit(m2, c2, witness=(w2, b2))
    assert r.holds and not r.identifiable and r.counterexample_holds is False
    m3, t, v = P.steering_example(5)
    assert audit(m3, t, witness=v).identifiable
    m4, t4, v4 = P.steering_counterexample_model(5)
    r4 = audit(m4, t4, witness=v4)
    assert r4.holds and not r4.identifiable and r4.counterexample_holds is False
    with pytest.raises(ValueError, match="witness"):
        audit(m3, t)
    with pytest.raises(ValueError, match="prop"):
        audit(m3, "parallel")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31 - 1), st.integers(0, 5))
def test_identifiable_verdicts_agree_across_the_class(seed, extra):
    """When audit says identifiable, an equivalent model satisfying the condition agrees on `holds`."""
    model, prop = P.parallel_unembedding_example(seed, n_contexts=20, n_tokens=10, dim=3)
    other = aon.random_equivalent(model, 3 + extra, np.random.default_rng(seed))
    r, ro = audit(model, prop), audit(other, prop)
    assert r.identifiable
    if ro.identifiable:
        assert ro.holds == r.holds
    assert ro.equivalent_object["lambda"] == pytest.approx(r.equivalent_object["lambda"], rel=1e-6)


def test_shipped_example_matches_its_generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_example", EXAMPLE / "make_example.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    m = load_model(EXAMPLE / "F.npy", EXAMPLE / "G.npy")
    ref = mod.make()
    assert np.allclose(m.F, ref.F) and np.allclose(m.G, ref.G)
    prop, form = parse_property("parallel_unembedding", "5,6;7,8")
    r = audit(m, prop, form=form)
    assert not r.condition.holds and r.equivalent_object["distribution_level_parallel"]


def test_load_model_errors(tmp_path):
    good_F, good_G = np.ones((4, 3)), np.arange(15.0).reshape(5, 3)
    np.save(tmp_path / "F.npy", good_F)
    np.save(tmp_path / "G.npy", good_G)
    assert load_model(tmp_path / "F.npy", tmp_path / "G.npy").dim == 3
    with pytest.raises(ValueError, match="no such file"):
        load_model(tmp_path / "missing.npy", tmp_path / "G.npy")
    (tmp_path / "bad.npy").write_text("not an array")
    with pytest.raises(ValueError, match="not a readable"):
        load_model(tmp_path / "bad.npy", tmp_path / "G.npy")
    np.save(tmp_path / "v.npy", np.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        load_model(tmp_path / "v.npy", tmp_path / "G.npy")
    np.save(tmp_path / "G4.npy", np.ones((5, 4)))
    with pytest.raises(ValueError, match="same dimension"):
        load_model(tmp_path / "F.npy", tmp_path / "G4.npy")
    nan = good_F.copy()
    nan[0, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(ValueError, match="NaN"):
        load_model(tmp_path / "nan.npy", tmp_path / "G.npy")
    np.save(tmp_path / "s.npy", np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="numeric"):
        load_model(tmp_path / "s.npy", tmp_path / "G.npy")


def test_parse_property():
    p, f = parse_property("parallel_embedding", "1,2; 3,4")
    assert isinstance(p, P.ParallelEmbedding) and p.pairs == ((1, 2), (3, 4)) and f == "parallel_embedding"
    q, f = parse_property("relational_projected", "0-2;3-5;7,8")
    assert q.base == (0, 1, 2) and q.queried == (3, 4, 5) and q.answers == (7, 8)
    for kind, spec in [("parallel_unembedding", "1,2"), ("parallel_unembedding", "1,2,3;4,5"),
                       ("relational_strong", "0-2;3-5"), ("relational_strong", "a;b;c"), ("bogus", "1,2;3,4"),
                       ("parallel_unembedding", "")]:
        with pytest.raises(ValueError):
            parse_property(kind, spec)


# --- issue 10: the two wrong or vacuous audits, the verdict vocabulary --------------------------------

from allornone.theory.audit import VERDICTS  # noqa: E402
from allornone.theory.examples import random_model  # noqa: E402


def _projected_failing_without_sc_rl(seed=3, n_base=16):
    """7b fails and SC-RL fails: the sc example with unrelated f(s ⊕ q)."""
    m, q, _ = P.relational_sc_example(seed, n_base=n_base)
    F = m.F.copy()
    F[list(q.queried)] = np.random.default_rng(seed + 10_000).normal(size=(n_base, m.dim))
    return m.with_tables(F=F), q


def test_bug_a_projected_relational_without_sc_rl_is_not_identifiable():
    model, q = _projected_failing_without_sc_rl()
    assert not P.check_relational_projected(model, q).holds and P.check_relational_projected(model, q).decidable
    assert not P.condition_relational_projected(model, q).holds
    r = audit(model, q, form="relational_projected")
    assert r.verdict == "not identifiable" and not r.identifiable
    assert r.justification == "prop-relational-counterexamples"
    p = r.pair
    assert p.without_property is model and p.max_dp < 1e-12
    assert p.check_with.holds and p.check_with.decidable and not p.check_without.holds
    # the member with the property is the lift f̃ = [f; h], g̃ = [g; 1], h(s) = answer log-odds after q
    lifted = p.with_property
    h = P.answer_log_odds(model, q)
    assert lifted.dim == model.dim + h.shape[1]
    assert np.allclose(lifted.F[list(q.base), model.dim:], h)
    assert np.allclose(lifted.G[:, model.dim:], 1.0)
    assert r.counterexample_holds is True and r.counterexample_max_dp < 1e-12


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31 - 1), st.integers(0, 3))
def test_bug_a_verdict_is_the_same_for_every_member(seed, extra):
    model, q = _projected_failing_without_sc_rl(seed % 1000)
    other = aon.random_equivalent(model, aon.effective_complexity(model) + extra, np.random.default_rng(seed))
    assert audit(other, q).verdict == "not identifiable"


def test_bug_b_linear_subspace_of_a_structureless_model_is_none():
    m = random_model(40, 30, 5, 1)
    q = P.RelationalQuery(tuple(range(12)), tuple(range(12, 24)), (1, 2, 3, 4, 5))
    r = audit(m, q, form="linear_subspace")
    assert r.decidable and r.verdict == "none" and not r.holds
    assert r.identifiable                      # "none" is an all-or-none verdict, by the theorem
    assert r.equivalent_object["claimed_dimension"] == 3 < r.equivalent_object["log_odds_affine_dimension"] == 4
    assert r.residual > 0.01 and r.justification == "thm-subspace"
    assert not audit(m, q, form="linear_subspace", dim=2).holds


def test_bug_b_linear_subspace_with_structure_is_all_and_dimension_not_in_residual():
    m, q = P.subspace_example(0, sub_dim=2)
    r = audit(m, q, form="linear_subspace", dim=2)
    assert r.verdict == "all" and r.holds and r.residual < 1e-9
    assert audit(m, q, form="linear_subspace", dim=1).verdict == "none"


def test_tiny_coordinate_cannot_rescue_an_unrelated_relation():
    """A 1e-8 extra coordinate of f(s) made unrelated f(s ⊕ q) pass the strong check."""
    rng = np.random.default_rng(0)
    base = random_model(30, 20, 3, 2)
    m = aon.NextTokenPredictor(np.hstack([base.F, 1e-8 * rng.normal(size=(30, 1))]),
                               np.hstack([base.G, rng.normal(size=(20, 1))]))
    q = P.RelationalQuery(tuple(range(12)), tuple(range(12, 24)), (1, 2, 3))
    c = P.check_relational_strong(m, q)
    assert c.decidable and not c.holds and c.residual > 0.5
    A, a = c.witness
    fitted = m.F[list(q.base)] @ A.T + a
    assert np.abs(m.F[list(q.queried)] - fitted).max() > 0.5           # the absolute misfit is large
    assert audit(m, q, form="relational_strong").verdict != "all"


def test_report_vocabulary_and_identifiable_flag():
    cases = [audit(*P.parallel_unembedding_example(0)),
             audit(random_model(30, 20, 4, 1), P.ParallelUnembedding(((1, 2), (3, 4))))]
    m, prop = P.parallel_unembedding_example(0)
    cases.append(audit(aon.lift_unembeddings(m, np.zeros((m.n_tokens, 1))), prop))
    mm, qq, _ = P.relational_example(1, n_base=5)
    cases.append(audit(mm, qq))
    assert [r.verdict for r in cases] == ["all", "none", "not identifiable", "undecided by the data"]
    for r in cases:
        assert r.verdict in VERDICTS and r.identifiable == (r.verdict in ("all", "none"))
        assert r.justification and r.scope and r.verdict in str(r)
        assert r.parametrisation_residual == r.residual
    assert cases[2].pair is not None and all(r.pair is None for r in cases[:2] + cases[3:])


def test_form_mismatch_is_refused():
    m, prop = P.parallel_unembedding_example(0)
    with pytest.raises(ValueError, match="form"):
        audit(m, prop, form="relational_strong")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31 - 1), st.integers(0, 4))
def test_class_verdict_is_the_same_for_every_member(seed, extra):
    """Over the whole class, parallelism with same log-ratios is not identifiable
    (R-Prop 4) and without them none — whatever the member's own condition."""
    model, prop = P.parallel_unembedding_example(seed % 1000, n_contexts=20, n_tokens=10, dim=3)
    plain = random_model(20, 10, 3, seed % 1000)
    for m, expected in ((model, "not identifiable"), (plain, "none")):
        other = aon.random_equivalent(m, 3 + extra, np.random.default_rng(seed))
        r, ro = audit(m, prop), audit(other, prop)
        assert r.class_verdict == ro.class_verdict == expected
        if expected == "not identifiable":
            assert r.class_pair.max_dp < 1e-12 and not r.class_pair.check_without.holds
    assert audit(model, prop).verdict == "all"                       # within its scope


def test_class_verdict_equals_verdict_when_the_scope_is_the_class():
    m, q, _ = P.relational_example(0)
    r = audit(m, q)
    assert r.class_verdict == r.verdict == "all" and r.class_pair is None
    pm, pc, wb = P.probe_example(1)
    assert audit(pm, pc, witness=wb).class_verdict == "all"
