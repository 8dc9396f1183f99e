"""Linear steering (R-Def 10, SC-steer, R-Thm St).

``v`` steers ``(y_1, y_0)`` off ``Y_off`` if ``κ = vᵀ(g(y_1) − g(y_0)) ≠ 0`` and
``vᵀ(g(y) − g(y')) = 0`` inside ``Y_off``. Under SC-steer (``v ∈ N + M^⊥``)
``vᵀ ḡ(y) = Σ_x c_x ℓ(x, y)`` — identifiable — and ``ṽ = Σ_x c_x f̃(x)`` steers
every equivalent model identically (:prf:ref:`thm-steering`). Otherwise ``v``
touches ``M ∩ N^⊥`` and M4 changes its effect freely (:prf:ref:`lem-transfer` (iii)).

Residual: the off-target effect relative to ``|κ|``; its distribution-level
version uses the effects ``Λᵀ c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._validate import as_int, as_rng, as_vector
from ..model import NextTokenPredictor, softmax
from ..subspaces import complement, embedding_span, orth
from .base import (Check, Condition, LinearProperty, check_contexts, check_model, check_tokens,
                   direction_coefficients, identifiable_unembedding_directions, index_tuple, resolve_tol,
                   transfer_direction)

__all__ = ["SteeringTarget", "PROPERTY", "steering_effects", "check_steering", "check_steering_log_odds",
           "condition_steering", "transfer_steering", "steered_probs", "steering_example",
           "steering_counterexample_model", "steering_counterexample", "steering_shift"]


@dataclass(frozen=True)
class SteeringTarget:
    """A steering task (:prf:ref:`def-steering`): raise ``log p(y1)/p(y0)``
    (``target = (y1, y0)``) while leaving every log-ratio inside ``off_target``
    unchanged."""

    target: tuple
    off_target: tuple

    def __post_init__(self):
        target = index_tuple("target", self.target, min_len=2)
        if len(target) != 2 or target[0] == target[1]:
            raise ValueError(f"target must be two different tokens (y1, y0); got {self.target!r}")
        off = index_tuple("off_target", self.off_target, min_len=2)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "off_target", off)


def target_of(model, target) -> SteeringTarget:
    """Validate ``target`` against ``model`` and return it."""
    if not isinstance(target, SteeringTarget):
        raise ValueError(f"target must be a SteeringTarget; got {type(target).__name__}")
    check_tokens(model, "target.target", target.target)
    check_tokens(model, "target.off_target", target.off_target)
    return target


def _effects_check(e: np.ndarray, t: SteeringTarget, tol) -> Check:
    """``e[y]`` = the effect of the steering vector on token ``y``'s logit."""
    kappa = float(e[t.target[0]] - e[t.target[1]])
    off = e[list(t.off_target)]
    spread = float(off.max() - off.min())
    if abs(kappa) <= 1e-12 * max(1e-300, float(np.abs(e).max())):
        return Check(False, float("inf"), kappa)
    r = spread / abs(kappa)
    return Check(r <= resolve_tol(tol), r, kappa)


def steering_effects(model: NextTokenPredictor, target: SteeringTarget, v) -> tuple[float, float]:
    """``κ = vᵀ(g(y1) − g(y0))`` and the largest off-target effect ``max |vᵀ(g(y) − g(y'))|``."""
    model = check_model("model", model)
    t = target_of(model, target)
    v = as_vector("v", v, size=model.dim)
    G = model.G
    kappa = float(v @ (G[t.target[0]] - G[t.target[1]]))
    off = G[list(t.off_target)] @ v
    return kappa, float(off.max() - off.min())


def check_steering(model: NextTokenPredictor, target: SteeringTarget, v, tol: float | None = None) -> Check:
    """Is ``v`` a steering vector: ``κ ≠ 0`` and no off-target effect? Witness ``κ``;
    residual: off-target effect relative to ``|κ|``. Implements :prf:ref:`def-steering`."""
    model = check_model("model", model)
    t = target_of(model, target)
    v = as_vector("v", v, size=model.dim)
    return _effects_check(model.G @ v, t, tol)


def check_steering_log_odds(model: NextTokenPredictor, target: SteeringTarget, v, tol: float | None = None) -> Check:
    """Distribution-level counterpart: the same test on the identifiable effects
    ``Σ_x c_x ℓ(x, ·)`` (``c`` from :func:`direction_coefficients`)."""
    model = check_model("model", model)
    t = target_of(model, target)
    c, _ = direction_coefficients(model, v)
    return _effects_check(model.log_odds(0).T @ c, t, tol)


def condition_steering(model: NextTokenPredictor, v, tol: float | None = None) -> Condition:
    """SC-steer: ``v ∈ N + M^⊥`` (:prf:ref:`thm-steering`)."""
    c = identifiable_unembedding_directions(model, v, tol)
    return Condition("SC-steer: v ∈ N + M^⊥", c.holds, c.residual, "thm-steering")


def transfer_steering(model: NextTokenPredictor, other: NextTokenPredictor, v, pivot: int = 0) -> np.ndarray:
    """``ṽ = Σ_x c_x f̃(x)``: the steering vector of an equivalent model
    (:prf:ref:`thm-steering`)."""
    return transfer_direction(model, other, v, pivot)


def steered_probs(model: NextTokenPredictor, v, alpha: float, contexts=None) -> np.ndarray:
    """``softmax((f(s) + α v)ᵀ g)`` for ``contexts`` (all by default)."""
    model = check_model("model", model)
    v = as_vector("v", v, size=model.dim)
    rows = np.arange(model.n_contexts) if contexts is None else np.asarray(contexts, dtype=int)
    check_contexts(model, "contexts", rows)
    return softmax((model.F[rows] + float(alpha) * v) @ model.G.T)


def steering_example(rng, *, n_contexts: int = 40, n_tokens: int = 30, dim: int = 5, n_off: int = 3):
    """A diverse model and a unit steering vector ``v`` that moves ``log p(y_1)/p(y_0)``
    (``target = (1, 0)``) and no log-ratio among ``off_target = (2, …, n_off + 1)``.
    Returns ``(model, target, v)``."""
    from ..examples import random_model

    rng = as_rng("rng", rng)
    as_int("n_off", n_off, min=2, max=dim - 1)
    m = random_model(n_contexts, n_tokens, dim, rng)
    t = SteeringTarget((1, 0), tuple(range(2, n_off + 2)))
    D = (m.G[list(t.off_target[1:])] - m.G[t.off_target[0]]).T
    P = complement(orth(D), dim)
    v = P @ (P.T @ (m.G[1] - m.G[0]))   # the feasible direction that moves the target most
    return m, t, v / np.linalg.norm(v)


def steering_counterexample_model(rng, *, n_contexts: int = 40, n_tokens: int = 30, k: int = 3, n_off: int = 3):
    """A model of dimension ``k + 1`` with ``N = span(e_1 … e_k)`` and a
    steering vector ``v = e_{k+1} ∈ M ∩ N^⊥`` (off-target tokens share their
    last coordinate). Returns ``(model, target, v)``; SC-steer fails."""
    rng = as_rng("rng", rng)
    F = np.hstack([rng.normal(size=(n_contexts, k)), np.zeros((n_contexts, 1))])
    G = rng.normal(size=(n_tokens, k + 1))
    t = SteeringTarget((1, 0), tuple(range(2, n_off + 2)))
    G[list(t.off_target), k] = G[t.off_target[0], k]
    G[1, k] = G[0, k] + 1.0
    v = np.zeros(k + 1)
    v[k] = 1.0
    return NextTokenPredictor(F, G), t, v


def steering_counterexample(model: NextTokenPredictor, rng) -> NextTokenPredictor:
    """M4: move every ``g(y)`` randomly along ``N^⊥``."""
    from ..equivalence import perturb_unembeddings

    model = check_model("model", model)
    rng = as_rng("rng", rng)
    return perturb_unembeddings(model, rng.normal(size=model.G.shape), project=True)


def steering_shift(model: NextTokenPredictor, target: SteeringTarget, v, correct: bool = False):
    """M4 along ``u = P_{N^⊥} v``: set ``vᵀ g̃(y)`` on the target and off-target
    tokens so that ``v`` steers (``correct=True``: off-target effects 0,
    ``κ ≠ 0``) or does not (one off-target token moved by ``max(1, |κ|)``).
    ``None`` if ``v ∈ N`` (no M4 changes its effects) or the task is impossible."""
    from ..equivalence import perturb_unembeddings

    model = check_model("model", model)
    t = target_of(model, target)
    v = as_vector("v", v, size=model.dim)
    N = embedding_span(model)
    u = v - N @ (N.T @ v)
    uu = float(u @ u)
    if uu <= 1e-18 * max(float(v @ v), 1e-300):
        return None
    e = model.G @ v
    size = max(1.0, float(np.abs(e).max()))
    if correct:
        y1, y0 = t.target
        if y1 in t.off_target and y0 in t.off_target:
            return None
        want = {y: 0.0 for y in t.off_target}
        if y1 not in want:
            want.setdefault(y0, 0.0)
            want[y1] = want[y0] + size
        else:
            want[y0] = want[y1] - size
    else:
        want = {t.off_target[0]: e[t.off_target[0]] + size}
    W = np.zeros(model.G.shape)
    for y, val in want.items():
        W[y] = (val - e[y]) / uu * u
    return perturb_unembeddings(model, W)


def _v(witness):
    if witness is None:
        raise ValueError("witness must be the steering vector v for a SteeringTarget")
    return witness


class LinearSteering(LinearProperty):
    """R-Def 10 through the shared interface; the witness is the vector ``v``."""

    kind = "linear_steering"
    instance = SteeringTarget
    needs_witness = True
    theorem = "thm-steering"
    scope = "every member, with the transferred vector ṽ = Σ_x c_x f̃(x)"
    scope_is_class = True
    counterexample_label = "lem-transfer"
    necessity_label = None

    def check(self, model, inst, witness=None, tol=None):
        return check_steering(model, inst, _v(witness), tol)

    def condition(self, model, inst, witness=None, tol=None):
        return condition_steering(model, _v(witness))

    def distribution(self, model, inst, witness=None, tol=None):
        return check_steering_log_odds(model, inst, _v(witness), tol)

    def transfer(self, model, other, inst, witness=None):
        return transfer_steering(model, other, _v(witness))

    def example(self, rng, **kwargs):
        return steering_example(rng, **kwargs)

    def counterexample(self, model, inst, witness=None, rng=0, tol=None):
        return steering_shift(model, inst, _v(witness), correct=False)

    def realisation(self, model, inst, witness=None, rng=0, tol=None):
        m = steering_shift(model, inst, _v(witness), correct=True)
        return None if m is None else (m, witness)

    def equivalent_object(self, model, inst, witness=None, tol=None, dist=None):
        c, _ = direction_coefficients(model, _v(witness))
        return {"c": c} if condition_steering(model, _v(witness)).holds else {}


PROPERTY = LinearSteering()

# the shared interface as module functions: ``<module>.check(model, inst, witness, tol)`` etc.
check, condition, distribution, transfer = PROPERTY.check, PROPERTY.condition, PROPERTY.distribution, PROPERTY.transfer
example, counterexample, realisation = PROPERTY.example, PROPERTY.counterexample, PROPERTY.realisation
