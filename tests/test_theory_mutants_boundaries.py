"""Every check and condition holds when its residual equals the tolerance: ``holds = residual <= tol``.

The contract of :class:`allornone.theory.properties.base.Check` and ``Condition`` (book label
``def-check``-style documentation in ``properties/base.py``): a property holds within ``tol`` when its
residual is at most ``tol``. Each case computes the residual once, then asks again with ``tol`` set to
exactly that residual (must hold) and to the next float below it (must fail, when the residual is > 0).
The residuals come from the library's own constructions on failing and holding instances, so they are
ordinary floats, not chosen values.
"""

from __future__ import annotations

import numpy as np
import pytest

from allornone.theory import equivalence as EQ
from allornone.theory.properties import base as B
from allornone.theory.properties import linear_subspace as LS
from allornone.theory.properties import relational_projected as RP
from allornone.theory.properties import relational_strong as RS
from allornone.theory.properties import steering as ST


def _strong():
    m, q, _ = RS.relational_example(0)
    return RS.relational_strong_counterexample(m, q, 5, size=1.0), q


def _sc():
    m, q, _ = RP.relational_sc_example(0)
    return RP.relational_sc_counterexample(m, q), q


def _sub():
    m, q = LS.subspace_example(0)
    return LS.subspace_counterexample(m, q, 0, extra=2), q


_W = np.random.default_rng(0).normal(size=5)


def _steer():
    m, t, v = ST.steering_example(0)
    return m, t, v + 0.3 * np.random.default_rng(1).normal(size=v.shape)   # moves the off-target ratios too

CASES = {
    "relational strong (fails)": lambda tol: RS.check_relational_strong(*_strong(), tol=tol),
    "relational strong, log-odds": lambda tol: RS.check_strong_log_odds(*_strong(), tol=tol),
    "relational projected": lambda tol: RP.check_relational_projected(*_strong(), tol=tol),
    "relational projected, log-odds": lambda tol: RP.check_relational_log_odds(*_strong(), tol=tol),
    "SC-RL (holds)": lambda tol: RP.condition_relational_projected(*_strong(), tol=tol),
    "SC-RL (fails)": lambda tol: RP.condition_relational_projected(*_sc(), tol=tol),
    "linear subspace, dim 2 + 2 claimed 3": lambda tol: LS.check_linear_subspace(*_sub(), 3, projected=False, tol=tol),
    "linear subspace, projected": lambda tol: LS.check_linear_subspace(*_sub(), 2, tol=tol),
    "linear subspace, log-odds": lambda tol: LS.check_log_odds_subspace(*_sub(), 2, tol=tol),
    "w ∈ M + N^⊥ (fails)": lambda tol: B.identifiable_embedding_directions(_strong()[0], _W, tol=tol),
    "v ∈ N + M^⊥ (holds)": lambda tol: B.identifiable_unembedding_directions(_strong()[0], _W, tol=tol),
    "steering (fails)": lambda tol: ST.check_steering(*_steer(), tol=tol),
    "steering (holds)": lambda tol: ST.check_steering(*ST.steering_example(0), tol=tol),
    "u ∥ v (sin 0.287)": lambda tol: B.parallel_residual(np.array([1.0, 0.3]), np.array([1.0, 0.0]), tol=tol),
}


@pytest.mark.parametrize("name", list(CASES))
def test_holds_exactly_when_residual_at_most_tol(name):
    check = CASES[name]
    r = check(1e-8 if name.startswith("u ∥") else None).residual
    assert np.isfinite(r) and r >= 0
    assert check(r).holds, f"{name}: residual {r!r} with tol = residual must hold"
    if r > 0:
        assert not check(float(np.nextafter(r, 0.0))).holds, f"{name}: tol just below the residual must fail"


def test_same_distribution_tolerances_are_inclusive():
    """``same_distribution`` is ``log-odds difference <= rtol`` (and ``max |Δp| <= atol`` when given)."""
    rng = np.random.default_rng(3)
    from allornone.theory.model import NextTokenPredictor

    F, G = rng.normal(size=(6, 3)), rng.normal(size=(5, 3))
    a = NextTokenPredictor(F, G)
    b = NextTokenPredictor(F, G + 1e-6 * rng.normal(size=G.shape))
    d, p = EQ.log_odds_difference(a, b), EQ.max_prob_difference(a, b)
    assert d > 0 and p > 0
    assert EQ.same_distribution(a, b, rtol=d) and not EQ.same_distribution(a, b, rtol=float(np.nextafter(d, 0)))
    assert EQ.same_distribution(a, b, p, rtol=1.0) and not EQ.same_distribution(a, b, float(np.nextafter(p, 0)), rtol=1.0)
