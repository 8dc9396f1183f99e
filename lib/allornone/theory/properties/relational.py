"""Relational strings: the query ``q`` on contexts ``S`` shared by the relational
properties (R-Def 7a, 7b, 8): the instance, the answer subspace ``Γ_q`` and
the answer log-odds ``ℓ_q(s ⊕ q)``, and the distribution-level log-odds maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import NextTokenPredictor
from .base import affine_fit, check_contexts, check_model, check_tokens, index_tuple

__all__ = ["RelationalQuery", "LogOddsMapObject", "answer_basis", "answer_log_odds", "relational_log_odds_map",
           "relational_log_odds_fit"]


@dataclass(frozen=True)
class RelationalQuery:
    """A query ``q`` on a finite context set ``S``.

    ``base[i]`` is the row of ``F`` holding ``f(s_i)`` and ``queried[i]`` the
    row holding ``f(s_i ⊕ q)``; ``answers`` are the answer tokens ``Y_q``
    (at least two; the first is the answer pivot ``y_{q,0}``).
    Used by :prf:ref:`def-relational-linearity-strong`,
    :prf:ref:`def-relational-linearity-projected` and
    :prf:ref:`def-linear-subspace`.
    """

    base: tuple
    queried: tuple
    answers: tuple

    def __post_init__(self):
        base = index_tuple("base", self.base)
        queried = index_tuple("queried", self.queried)
        answers = index_tuple("answers", self.answers, min_len=2)
        if len(base) != len(queried):
            raise ValueError(f"base and queried must have the same length (one s ⊕ q per s); got {len(base)} and {len(queried)}")
        if len(set(answers)) != len(answers):
            raise ValueError(f"answers must be distinct tokens; got {answers}")
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "queried", queried)
        object.__setattr__(self, "answers", answers)


def query_of(model, query) -> RelationalQuery:
    """Validate ``query`` against ``model`` and return it."""
    if not isinstance(query, RelationalQuery):
        raise ValueError(f"query must be a RelationalQuery; got {type(query).__name__}")
    check_contexts(model, "query.base", query.base)
    check_contexts(model, "query.queried", query.queried)
    check_tokens(model, "query.answers", query.answers)
    return query


def answer_basis(model: NextTokenPredictor, query: RelationalQuery) -> np.ndarray:
    """``L_q``: columns ``g(y_j) − g(y_{q,0})`` for the answers ``y_j`` after the first, shape (d, |Y_q| − 1).
    Its column span is the answer subspace ``Γ_q``."""
    model = check_model("model", model)
    q = query_of(model, query)
    G = model.G
    return np.stack([G[y] - G[q.answers[0]] for y in q.answers[1:]], axis=1)


def answer_log_odds(model: NextTokenPredictor, query: RelationalQuery) -> np.ndarray:
    """``ℓ_q(s ⊕ q)``: log-odds of each answer against ``y_{q,0}`` after the query, shape (|S|, |Y_q| − 1)."""
    model = check_model("model", model)
    q = query_of(model, query)
    Z = model.logits()[np.array(q.queried)]
    return Z[:, list(q.answers[1:])] - Z[:, [q.answers[0]]]


def relational_log_odds_fit(model: NextTokenPredictor, query: RelationalQuery, pivot: int = 0, full: bool = False):
    """Fit the log-odds after the query on ``[ℓ(s, ·), 1]``.

    ``full=False``: the answer log-odds ``ℓ_q(s ⊕ q)`` (counterpart of R-Def 7b);
    ``full=True``: every log-odds ``ℓ(s ⊕ q, ·)`` (counterpart of R-Def 7a).
    Returns ``(W, r, residual, decidable, reason)``; the residual is relative
    to the spread of the fitted log-odds and identical for every equivalent model.
    """
    model = check_model("model", model)
    q = query_of(model, query)
    Lam = model.log_odds(pivot)
    Y = Lam[list(q.queried)] if full else answer_log_odds(model, q)
    return affine_fit(Lam[list(q.base)], Y, "the log-odds map")


def relational_log_odds_map(model: NextTokenPredictor, query: RelationalQuery, pivot: int = 0):
    """The distributional counterpart of relational linearity: ``W, r`` with
    ``ℓ_q(s ⊕ q) = W ℓ(s, ·) + r`` for all ``s ∈ S``; returns ``(W, r, residual)``.

    ``W`` has shape (|Y_q| − 1, V). A small residual means the projected form
    holds with SC-RL (:prf:ref:`thm-relational-linearity` (b)).
    """
    W, r, res, _, _ = relational_log_odds_fit(model, query, pivot)
    return W, r, res


class LogOddsMapObject:
    """The object every equivalent model shares for the relational forms (R-Def 7a, 7b): the
    log-odds map ``(W, r)`` of their distribution-level counterpart, when it holds (else nothing)."""

    def equivalent_object(self, model, inst, witness=None, tol=None, dist=None) -> dict:
        W, r = dist.witness
        return {"W": W, "r": r} if dist.holds else {}
