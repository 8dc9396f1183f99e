"""Sharp tests of allornone.theory.audit's verdict rule, written to kill the mutants `make mutation`
left alive: closed-form two-dimensional models whose verdict is known (thm-parallelism in an
anisotropic embedding-diverse member, where this parametrisation's residual and the
distribution-level one disagree), the exact sentence parts of the report, the error messages,
the boundary of PAIR_RTOL, the seed of the constructed pair, and a spy kind that checks that
audit hands every method of the shared interface the ``tol``, ``rng``, model and witness it was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import allornone as aon
from allornone.theory import audit as A
from allornone.theory import properties as TP
from allornone.theory.equivalence import lift, reduce
from allornone.theory.examples import random_model
from allornone.theory.model import NextTokenPredictor
from allornone.theory.properties.base import Check, Condition, LinearProperty

PU = TP.ParallelUnembedding(((0, 1), (2, 3)))


def _pu_model(F, d2):
    """Tokens 0..3 with δ1 = g(1) − g(0) = (1, 0) and δ2 = g(3) − g(2) = d2 (d = 2)."""
    G = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], list(d2)])
    return NextTokenPredictor(np.asarray(F, dtype=float), G)


# --- thm-parallelism with disagreeing residuals ---------------------------------------------
def test_none_although_this_parametrisation_passes():
    """F = diag(1, 1000): δ1 = (1, 0), δ2 = (1, .01) are nearly parallel (|sin| = .01/√1.0001),
    but the log-ratio vectors F δ1 = (1, 0), F δ2 = (1, 10) are not (|sin| = 10/√101)."""
    m = _pu_model([[1.0, 0.0], [0.0, 1000.0]], (1.0, 0.01))
    r = A.audit(m, PU, tol=0.05)
    assert r.kind == "parallel_unembedding" and r.tol == 0.05
    assert r.verdict == "none" and r.justification == "thm-parallelism" and r.decidable
    assert r.scope == "embedding-diverse members (N = ℝ^d)" and r.reason == ""
    assert r.identifiable and r.holds and not r.distribution_holds and r.condition.holds
    assert r.residual == pytest.approx(0.01 / np.sqrt(1.0001), rel=1e-9)
    assert r.distribution_residual == pytest.approx(10 / np.sqrt(101), rel=1e-9)
    assert r.pair is None and r.counterexample_holds is None and r.counterexample_max_dp is None
    assert r.explanation.startswith("None: the distribution-level counterpart fails (residual 9.95e-01 > tol 0.05")
    assert ("This parametrisation's residual (1.00e-02) passes tol, but it is not invariant across the class: "
            "the verdict rests on the distribution-level one.") in r.explanation
    assert r.class_verdict == "none" and r.class_pair is None      # prop-parallel-log-ratios: none anywhere


def test_all_although_this_parametrisation_fails():
    """F = diag(1000, 1): δ2 = (1, 1) is 45° from δ1, but F δ1 = (1000, 0), F δ2 = (1000, 1)
    are within |sin| = 1/√1000001 ≈ 1e-3 of parallel."""
    m = _pu_model([[1000.0, 0.0], [0.0, 1.0]], (1.0, 1.0))
    r = A.audit(m, PU, tol=0.05)
    assert r.verdict == "all" and r.justification == "thm-parallelism" and r.reason == ""
    assert r.identifiable and not r.holds and r.distribution_holds
    assert r.residual == pytest.approx(np.sqrt(0.5), rel=1e-9)
    assert r.distribution_residual == pytest.approx(1 / np.sqrt(1000001), rel=1e-9)
    assert r.counterexample_holds is None and r.counterexample_max_dp is None
    assert r.explanation.startswith("All: embedding diversity N = ℝ^d holds here, so every member in scope "
                                    "has the property: its distribution-level counterpart holds (residual 1.00e-03 ≤ tol 0.05")
    assert "This parametrisation's residual (7.07e-01) fails tol, but it is not invariant" in r.explanation
    # over the whole class (members that are not embedding-diverse): a pair exists (prop-parallelism-counterexample)
    assert r.class_verdict == "not identifiable" and r.class_pair is not None
    assert r.class_pair.check_with.holds and not r.class_pair.check_without.holds
    # at the default tolerance neither residual passes: none, no note
    r0 = A.audit(m, PU)
    assert r0.verdict == "none" and r0.tol == TP.DEFAULT_TOL and "not invariant" not in r0.explanation


def test_not_identifiable_sentence_names_the_condition_and_the_pair():
    model, q, _ = TP.relational_example(2)
    lifted = aon.lift(model, np.zeros((model.n_contexts, 1)), np.ones(1))   # M ≠ ℝ^d
    r = A.audit(lifted, q, form="relational_strong")
    assert r.verdict == "not identifiable" and r.justification == "prop-relational-counterexamples"
    assert r.scope == "every member of the class" and r.reason == ""
    assert 0 < r.pair.max_dp < 1e-12
    assert r.explanation.startswith("Not identifiable: unembedding diversity M = ℝ^d fails here; the constructed "
                                    f"equivalent pair (max |Δp| {r.pair.max_dp:.1e}) has the property")
    assert r.counterexample_holds is False and r.counterexample_max_dp == pytest.approx(r.pair.max_dp, abs=1e-15)


def test_undecided_without_a_pair_says_why():
    m = random_model(20, 30, 4, 32)
    q = TP.RelationalQuery(tuple(range(12)), tuple(range(1, 13)), (1, 2, 3))
    r = A.audit(lift(m, np.zeros((20, 1)), np.ones(1)), q, form="relational_strong")
    assert r.verdict == "undecided by the data" and not r.decidable and not r.identifiable
    assert r.justification == "prop-relational-counterexamples" and r.scope == "every member of the class"
    assert r.reason == "no equivalent pair (one member with the property, one without) could be constructed"
    assert r.explanation == f"Undecided by the data: {r.reason}."


# --- the seed of the constructed pair ----------------------------------------------------------
def test_rng_draws_the_counterexample_same_seed_same_pair_default_zero():
    model, q, _ = TP.relational_example(2)
    lifted = aon.lift(model, np.zeros((model.n_contexts, 1)), np.ones(1))
    pairs = {s: A.audit(lifted, q, form="relational_strong", rng=s).pair for s in (0, 1)}
    default = A.audit(lifted, q, form="relational_strong").pair
    gen = A.audit(lifted, q, form="relational_strong", rng=np.random.default_rng(1)).pair
    for p in (*pairs.values(), default, gen):
        assert p.with_property is lifted and p.check_with.holds and not p.check_without.holds
        assert p.max_dp < 1e-12 and p.log_odds_difference <= A.PAIR_RTOL
    np.testing.assert_array_equal(default.without_property.F, pairs[0].without_property.F)
    np.testing.assert_array_equal(gen.without_property.F, pairs[1].without_property.F)
    assert not np.allclose(pairs[0].without_property.F, pairs[1].without_property.F)


# --- errors ---------------------------------------------------------------------------------
def test_audit_errors_name_the_argument():
    m, prop = TP.parallel_unembedding_example(0)
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got str$"):
        A.audit("model", prop)
    q = TP.RelationalQuery((0, 1), (2, 3), (1, 2))
    with pytest.raises(ValueError, match=r"^form must be relational_strong, relational_projected or linear_subspace "
                                         r"for a RelationalQuery; got 'parallel_unembedding'$"):
        A.audit(m, q, form="parallel_unembedding")
    with pytest.raises(ValueError, match=r"^form must be 'parallel_unembedding' \(or None\) for a "
                                         r"ParallelUnembedding; got 'relational_strong'$"):
        A.audit(m, prop, form="relational_strong")
    with pytest.raises(ValueError, match=r"^prop must be a property instance of allornone.properties; got str$"):
        A.audit(m, "parallel")


def test_probe_needs_a_two_part_witness():
    pm, concept, (w, b) = TP.probe_example(1)
    for bad in (None, (w,), (w, b, 0.0)):
        with pytest.raises(ValueError, match=r"^witness must be the probe \(w, b\) for a Concept$"):
            A.audit(pm, concept, witness=bad)
    assert A.audit(pm, concept, witness=(w, b)).verdict == "all"


# --- PAIR_RTOL is the largest accepted |ΔΛ| ----------------------------------------------------------
@dataclass(frozen=True)
class SpyQuery:
    holds: Callable          # model -> does the property hold in it?
    cond: bool = False
    dist_holds: bool = True
    cex: Callable = lambda m: None      # model -> counterexample or None
    real: Callable = lambda m: None     # model -> (member, witness) or None


class Spy(LinearProperty):
    """A kind whose answers the test scripts, recording every call."""

    kind = "spy"
    instance = SpyQuery
    theorem = "thm-spy"
    scope = "spy scope"
    counterexample_label = "prop-spy-counterexample"
    necessity_label = None

    def __init__(self):
        self.calls = []

    def _rec(self, name, model, inst, witness, rng="-", tol="-"):
        self.calls.append((name, model, inst, witness, rng, tol))

    def check(self, model, inst, witness=None, tol=None):
        self._rec("check", model, inst, witness, tol=tol)
        return Check(bool(inst.holds(model)), 0.0)

    def condition(self, model, inst, witness=None, tol=None):
        self._rec("condition", model, inst, witness, tol=tol)
        return Condition("spy condition", inst.cond, 0.0, "thm-spy")

    def distribution(self, model, inst, witness=None, tol=None):
        self._rec("distribution", model, inst, witness, tol=tol)
        return Check(inst.dist_holds, 0.0)

    def transfer(self, model, other, inst, witness=None):
        return witness

    def example(self, rng, **kwargs):
        raise NotImplementedError

    def counterexample(self, model, inst, witness=None, rng=0, tol=None):
        self._rec("counterexample", model, inst, witness, rng, tol)
        return inst.cex(model)

    def realisation(self, model, inst, witness=None, rng=0, tol=None):
        self._rec("realisation", model, inst, witness, rng, tol)
        return inst.real(model)

    def equivalent_object(self, model, inst, witness=None, tol=None, dist=None):
        self._rec("equivalent_object", model, inst, witness, tol=tol)
        return {"tol seen": tol}


def _up(m, k=1):
    return lift(m, np.zeros((m.n_contexts, k)), np.ones(k))


def test_pair_rtol_is_inclusive():
    """Row-centred logits of F = [[2e-8]], G = [[0], [1]] are ±1e-8 exactly; of F = [[0]] zero:
    |ΔΛ| / max(1, |Λ|) = 1e-8 = PAIR_RTOL, accepted; a hair more is refused."""
    G = np.array([[0.0], [1.0]])
    zero = NextTokenPredictor(np.array([[0.0]]), G)
    spy = Spy()
    q = SpyQuery(holds=lambda m: bool(m.F.any()))
    at = NextTokenPredictor(np.array([[2e-8]]), G)
    pair = A._valid_pair(spy, at, None, zero, None, q, 0.5)
    assert pair is not None and pair.log_odds_difference == A.PAIR_RTOL == 1e-8
    above = NextTokenPredictor(np.array([[np.nextafter(2e-8, 1.0)]]), G)
    assert A._valid_pair(spy, above, None, zero, None, q, 0.5) is None
    assert {c[5] for c in spy.calls} == {0.5}                     # both checks at the given tol


# --- audit hands the kind its tol, rng, model and witness ----------------------------------------------
@pytest.fixture
def spy(monkeypatch):
    s = Spy()
    monkeypatch.setitem(TP.KINDS, "spy", s)
    return s


def _model4():
    """A 4-dimensional member whose reduced model has dimension 3."""
    return _up(random_model(8, 6, 3, 0))


def _assert_plumbing(spy, tol, rng):
    for name, _, _, _, r, t in spy.calls:
        assert t == tol, (name, t)
        if r != "-":
            assert r is rng, (name, r)


def test_spy_counterexample_of_this_member(spy):
    m = _model4()
    q = SpyQuery(holds=lambda x: x.dim == 4, cex=lambda x: _up(x))
    gen = np.random.default_rng(5)
    r = A.audit(m, q, witness="W", tol=0.125, rng=gen)
    assert r.kind == "spy" and r.verdict == "not identifiable" and r.justification == "prop-spy-counterexample"
    assert r.pair.with_property is m and r.pair.without_property.dim == 5 and r.tol == 0.125
    assert r.equivalent_object == {"tol seen": 0.125}
    cex = [c for c in spy.calls if c[0] == "counterexample"]
    assert [(c[1] is m, c[2] is q, c[3]) for c in cex] == [(True, True, "W")]
    _assert_plumbing(spy, 0.125, gen)


def test_spy_realisation_of_this_member(spy):
    m = _model4()
    q = SpyQuery(holds=lambda x: x.dim == 5, real=lambda x: (_up(x), "W5"))
    gen = np.random.default_rng(6)
    r = A.audit(m, q, witness="W", tol=0.25, rng=gen)
    assert r.verdict == "not identifiable" and r.pair.without_property is m and r.pair.with_property.dim == 5
    real = [c for c in spy.calls if c[0] == "realisation"]
    assert [(c[1] is m, c[2] is q, c[3]) for c in real] == [(True, True, "W")]
    _assert_plumbing(spy, 0.25, gen)


def test_spy_counterexample_of_the_reduced_model(spy):
    m = _model4()
    q = SpyQuery(holds=lambda x: x.dim in (3, 4), cex=lambda x: _up(x, 2) if x.dim == 3 else None)
    gen = np.random.default_rng(7)
    r = A.audit(m, q, witness="W", tol=0.375, rng=gen)
    assert r.verdict == "not identifiable"
    assert r.pair.with_property.dim == 3 and r.pair.without_property.dim == 5
    cex = [c for c in spy.calls if c[0] == "counterexample"]
    assert [(c[1].dim, c[2] is q, c[3]) for c in cex] == [(4, True, "W"), (3, True, None)]
    base = reduce(m)
    np.testing.assert_allclose(cex[1][1].logits(), base.logits(), atol=1e-9)
    checks = [c for c in spy.calls if c[0] == "check" and c[1].dim == 3]
    assert checks and all(c[3] is None for c in checks)
    _assert_plumbing(spy, 0.375, gen)


def test_spy_realisation_of_the_reduced_model(spy):
    m = _model4()
    q = SpyQuery(holds=lambda x: x.dim == 5, real=lambda x: (_up(x, 2), None) if x.dim == 3 else None)
    gen = np.random.default_rng(8)
    r = A.audit(m, q, witness="W", tol=0.5, rng=gen)
    assert r.verdict == "not identifiable" and r.pair.without_property.dim == 3
    real = [c for c in spy.calls if c[0] == "realisation"]
    assert [(c[1].dim, c[2] is q, c[3]) for c in real] == [(4, True, "W"), (3, True, None)]
    _assert_plumbing(spy, 0.5, gen)


def test_spy_class_verdict_searches_with_the_same_arguments(spy):
    """Condition holds here, scope is not the class: verdict "all" with an empty reason; the class
    verdict comes from the same search a member outside the scope gets."""
    m = _model4()
    q = SpyQuery(holds=lambda x: x.dim == 4, cond=True, cex=lambda x: _up(x))
    gen = np.random.default_rng(9)
    r = A.audit(m, q, witness="W", tol=0.0625, rng=gen)
    assert r.verdict == "all" and r.reason == "" and r.justification == "thm-spy" and r.scope == "spy scope"
    assert r.pair is None and r.counterexample_holds is None and r.counterexample_max_dp is None
    assert r.class_verdict == "not identifiable" and r.class_pair.with_property is m
    cex = [c for c in spy.calls if c[0] == "counterexample"]
    assert [(c[1] is m, c[3]) for c in cex] == [(True, "W")]
    _assert_plumbing(spy, 0.0625, gen)


def test_spy_no_pair_is_undecided(spy):
    m = _model4()
    q = SpyQuery(holds=lambda x: True)
    r = A.audit(m, q, tol=0.75)
    assert r.verdict == "undecided by the data" and r.scope == "every member of the class"
    assert r.reason.startswith("no equivalent pair") and r.pair is None and r.counterexample_holds is None
    _assert_plumbing(spy, 0.75, 0)
