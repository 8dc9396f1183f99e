"""Linear probes (R-Def 9, SC-probe, R-Thm Pr).

A probe ``(w, b)`` reads a binary concept off the contexts:
``sign(wᵀ f(s) + b) = 2 c(s) − 1`` on ``S``. Under SC-probe
(``w ∈ M + N_S^⊥``) its scores are ``Σ_y β_y ℓ(s, y) + b`` — identifiable —
and every equivalent model has the probe ``w̃ = Σ_y β_y ḡ̃(y)`` with identical
scores (:prf:ref:`thm-probing`). Otherwise ``w`` has a component along
``M^⊥ ∩ N_S``, which M3 moves freely (:prf:ref:`lem-transfer` (iii)).

The approximate form is the error rate; its distribution-level version is the
error rate of the scores ``Λ_S β + b``.
"""

from __future__ import annotations

import numpy as np

from ..._validate import as_rng, as_vector
from ..model import NextTokenPredictor
from ..subspaces import complement, embedding_span, intersection, unembedding_difference_span
from .base import (Check, Condition, LinearProperty, check_contexts, check_model, functional_coefficients,
                   identifiable_embedding_directions, index_tuple, resolve_tol, transfer_functional)

__all__ = ["Concept", "PROPERTY", "probe_scores", "check_probe", "check_probe_log_odds", "condition_probe",
           "transfer_probe", "probe_example", "probe_counterexample_model", "probe_counterexample",
           "probe_accuracy_bound", "probe_flip"]

from dataclasses import dataclass


@dataclass(frozen=True)
class Concept:
    """A binary concept ``c: S → {0, 1}``: ``contexts`` (rows of ``F``) and one
    0/1 ``labels`` entry per context (:prf:ref:`def-linear-probe`)."""

    contexts: tuple
    labels: tuple

    def __post_init__(self):
        contexts = index_tuple("contexts", self.contexts, min_len=2)
        labels = index_tuple("labels", self.labels, upper=2, min_len=2)
        if len(contexts) != len(labels):
            raise ValueError(f"labels must have one entry per context; got {len(labels)} labels for {len(contexts)} contexts")
        if len(set(labels)) != 2:
            raise ValueError("labels must contain both classes 0 and 1")
        object.__setattr__(self, "contexts", contexts)
        object.__setattr__(self, "labels", labels)


def concept_of(model, concept) -> Concept:
    """Validate ``concept`` against ``model`` and return it."""
    if not isinstance(concept, Concept):
        raise ValueError(f"concept must be a Concept; got {type(concept).__name__}")
    check_contexts(model, "concept.contexts", concept.contexts)
    return concept


def probe_scores(model: NextTokenPredictor, concept: Concept, w, b: float = 0.0) -> np.ndarray:
    """``wᵀ f(s) + b`` for every ``s`` of the concept."""
    model = check_model("model", model)
    c = concept_of(model, concept)
    w = as_vector("w", w, size=model.dim)
    return model.F[list(c.contexts)] @ w + float(b)


def _score_check(scores: np.ndarray, concept: Concept, tol) -> Check:
    """Error rate of ``sign(scores)`` against the labels (scores within
    ``1e-12 · max |score|`` of 0 count as errors); witness: the accuracy."""
    y = 2 * np.array(concept.labels) - 1
    top = float(np.abs(scores).max())
    if top <= 1e-300:
        return Check(False, 1.0, 0.0, False, "every score is 0: the probe reads nothing")
    acc = float(np.mean(scores * y > 1e-12 * top))
    return Check(1.0 - acc <= resolve_tol(tol), 1.0 - acc, acc)


def check_probe(model: NextTokenPredictor, concept: Concept, w, b: float = 0.0, tol: float | None = None) -> Check:
    """Does ``sign(wᵀ f(s) + b) = 2c(s) − 1`` on every ``s``? Residual: the error rate;
    witness: the accuracy. Implements :prf:ref:`def-linear-probe`."""
    return _score_check(probe_scores(model, concept, w, b), concept, tol)


def check_probe_log_odds(model: NextTokenPredictor, concept: Concept, w, b: float = 0.0,
                         tol: float | None = None) -> Check:
    """Distribution-level counterpart: the error rate of the identifiable scores
    ``Σ_y β_y ℓ(s, y) + b`` (``β`` from :func:`functional_coefficients`); equal to
    :func:`check_probe` under SC-probe, and carried unchanged by :func:`transfer_probe`."""
    model = check_model("model", model)
    c = concept_of(model, concept)
    beta, _ = functional_coefficients(model, w, c.contexts)
    return _score_check(model.log_odds(0)[list(c.contexts)] @ beta + float(b), c, tol)


def condition_probe(model: NextTokenPredictor, concept: Concept, w, tol: float | None = None) -> Condition:
    """SC-probe: ``w ∈ M + N_S^⊥`` (:prf:ref:`thm-probing`)."""
    model = check_model("model", model)
    c = concept_of(model, concept)
    cond = identifiable_embedding_directions(model, w, c.contexts, tol)
    return Condition("SC-probe: w ∈ M + N_S^⊥", cond.holds, cond.residual, "thm-probing")


def transfer_probe(model: NextTokenPredictor, other: NextTokenPredictor, concept: Concept, w, pivot: int = 0) -> np.ndarray:
    """``w̃ = Σ_y β_y ḡ̃(y)``: the probe of an equivalent model with identical
    scores (:prf:ref:`thm-probing`; the bias ``b`` is unchanged)."""
    model = check_model("model", model)
    c = concept_of(model, concept)
    return transfer_functional(model, other, w, c.contexts, pivot)


def probe_example(rng, *, n_contexts: int = 40, n_tokens: int = 30, dim: int = 4):
    """A diverse model with a random probe ``w`` and the concept it defines
    (labels ``wᵀ f(s) + b > 0``; ``b = −median(wᵀ f) + 10⁻³ · max |wᵀ f|`` centres the scores,
    and for an odd number of contexts gives the median one the margin ``10⁻³ · max |wᵀ f|``,
    label 1, so no score is 0).
    Returns ``(model, concept, (w, b))``."""
    from ..examples import random_model

    rng = as_rng("rng", rng)
    m = random_model(n_contexts, n_tokens, dim, rng)
    w = rng.normal(size=dim)
    s = m.F @ w
    b = -float(np.median(s)) + 1e-3 * float(np.abs(s).max())
    labels = tuple(int(v) for v in (s + b > 0))
    return m, Concept(tuple(range(n_contexts)), labels), (w, b)


def probe_counterexample_model(rng, *, n_pairs: int = 20, n_tokens: int = 30, k: int = 3):
    """A model of dimension ``k + 1`` with ``M = span(e_1 … e_k)`` whose concept
    lives only along ``e_{k+1} ∈ M^⊥``: contexts come in pairs with equal
    ``P_M f`` and opposite labels. Returns ``(model, concept, (w, b))`` with
    ``w = e_{k+1}`` (accuracy 1, SC-probe fails)."""
    rng = as_rng("rng", rng)
    base = rng.normal(size=(n_pairs, k))
    F = np.vstack([np.hstack([base, np.ones((n_pairs, 1))]), np.hstack([base, -np.ones((n_pairs, 1))])])
    G = np.hstack([rng.normal(size=(n_tokens, k)), np.full((n_tokens, 1), rng.normal())])
    labels = (1,) * n_pairs + (0,) * n_pairs
    w = np.zeros(k + 1)
    w[k] = 1.0
    return NextTokenPredictor(F, G), Concept(tuple(range(2 * n_pairs)), labels), (w, 0.0)


def probe_counterexample(model: NextTokenPredictor) -> NextTokenPredictor:
    """M3: remove the ``M^⊥`` component of every embedding."""
    from ..equivalence import perturb_embeddings

    model = check_model("model", model)
    P = complement(unembedding_difference_span(model), model.dim)
    return perturb_embeddings(model, -(model.F @ P) @ P.T)


def probe_flip(model: NextTokenPredictor, concept: Concept, w, b: float = 0.0, correct: bool = False):
    """M3 along ``u``, the part of ``w`` in ``M^⊥ ∩ N_S``: move each ``f(s)`` so that
    its score becomes ``± max(1, max |score|)`` — right for every ``s``
    (``correct=True``) or wrong for every ``s``. ``None`` if ``w ⊥ (M^⊥ ∩ N_S)``
    (then SC-probe holds and no M3 changes the scores)."""
    from ..equivalence import perturb_embeddings

    model = check_model("model", model)
    c = concept_of(model, concept)
    w = as_vector("w", w, size=model.dim)
    Q = intersection(complement(unembedding_difference_span(model), model.dim),
                     embedding_span(model, contexts=list(c.contexts)))
    u = Q @ (Q.T @ w)
    wu = float(w @ u)
    if Q.shape[1] == 0 or wu <= 1e-9 * float(w @ w):
        return None
    s = probe_scores(model, c, w, b)
    sign = (2 * np.array(c.labels) - 1) * (1 if correct else -1)
    U = np.zeros(model.F.shape)
    U[list(c.contexts)] = np.outer((sign * max(1.0, float(np.abs(s).max())) - s) / wu, u)
    return perturb_embeddings(model, U)


def probe_accuracy_bound(model: NextTokenPredictor, concept: Concept, decimals: int = 9) -> float:
    """An upper bound on the accuracy of *any* linear probe: contexts with
    identical embeddings (to ``decimals``) get identical scores, so at most the
    majority label of each group of identical rows can be right."""
    model = check_model("model", model)
    c = concept_of(model, concept)
    X = np.round(model.F[list(c.contexts)], decimals)
    groups: dict = {}
    for row, lab in zip(map(tuple, X), c.labels):
        groups.setdefault(row, [0, 0])[lab] += 1
    return float(sum(max(v) for v in groups.values())) / len(c.contexts)


def _wb(witness):
    try:
        w, b = witness
    except (TypeError, ValueError) as exc:
        raise ValueError("witness must be the probe (w, b) for a Concept") from exc
    return w, float(b)


class LinearProbe(LinearProperty):
    """R-Def 9 through the shared interface; the witness is the probe ``(w, b)``."""

    kind = "linear_probe"
    instance = Concept
    needs_witness = True
    theorem = "thm-probing"
    scope = "every member, with the transferred probe w̃ = Σ_y β_y ḡ̃(y)"
    scope_is_class = True
    counterexample_label = "lem-transfer"
    necessity_label = None

    def validate(self, model, inst, witness=None):
        super().validate(model, inst, witness)
        _wb(witness)

    def check(self, model, inst, witness=None, tol=None):
        return check_probe(model, inst, *_wb(witness), tol=tol)

    def condition(self, model, inst, witness=None, tol=None):
        return condition_probe(model, inst, _wb(witness)[0])

    def distribution(self, model, inst, witness=None, tol=None):
        return check_probe_log_odds(model, inst, *_wb(witness), tol=tol)

    def transfer(self, model, other, inst, witness=None):
        w, b = _wb(witness)
        return transfer_probe(model, other, inst, w), b

    def example(self, rng, **kwargs):
        return probe_example(rng, **kwargs)

    def counterexample(self, model, inst, witness=None, rng=0, tol=None):
        return probe_flip(model, inst, *_wb(witness), correct=False)

    def realisation(self, model, inst, witness=None, rng=0, tol=None):
        m = probe_flip(model, inst, *_wb(witness), correct=True)
        return None if m is None else (m, witness)

    def equivalent_object(self, model, inst, witness=None, tol=None, dist=None):
        w, b = _wb(witness)
        beta, res = functional_coefficients(model, w, inst.contexts)
        return {"beta": beta, "b": b} if condition_probe(model, inst, w).holds else {}


PROPERTY = LinearProbe()

# the shared interface as module functions: ``<module>.check(model, inst, witness, tol)`` etc.
check, condition, distribution, transfer = PROPERTY.check, PROPERTY.condition, PROPERTY.distribution, PROPERTY.transfer
example, counterexample, realisation = PROPERTY.example, PROPERTY.counterexample, PROPERTY.realisation
