"""Relational linearity, strong form (R-Def 7a, R-Thm RL (a), R-Prop 5).

``f(s ⊕ q) = A_q f(s) + a_q`` on ``S``. Distribution-level counterpart: the
log-odds ``ℓ(s ⊕ q, ·)`` are affine in ``ℓ(s, ·)``. All-or-none among
unembedding-diverse members (:prf:ref:`thm-relational-linearity` (a)); moving
``f(s ⊕ q)`` along ``M^⊥`` breaks it otherwise
(:prf:ref:`prop-relational-counterexamples`).
"""

from __future__ import annotations

import numpy as np

from ..._validate import as_rng, as_vector
from ..model import NextTokenPredictor
from ..subspaces import unembedding_difference_span
from .base import Check, Condition, LinearProperty, affine_fit, check_model, resolve_tol
from .relational import LogOddsMapObject, RelationalQuery, query_of, relational_log_odds_fit

__all__ = ["PROPERTY", "check_relational_strong", "condition_relational_strong", "transfer_relational_strong",
           "relational_example", "relational_strong_counterexample", "check_strong_log_odds"]


def check_relational_strong(model: NextTokenPredictor, query: RelationalQuery, tol: float | None = None) -> Check:
    """Is ``f(s ⊕ q) = A_q f(s) + a_q`` for all ``s ∈ S``? Witness ``(A_q, a_q)``
    (least squares, minimum norm); residual ``‖F_{S⊕q} − [F_S, 1] B‖ / ‖F_{S⊕q} − mean‖``;
    undecidable when ``|S| ≤ rank[F_S, 1]``. Implements :prf:ref:`def-relational-linearity-strong`."""
    model = check_model("model", model)
    q = query_of(model, query)
    A, a, r, ok, why = affine_fit(model.F[list(q.base)], model.F[list(q.queried)], "the relation (A_q, a_q)")
    return Check(r <= resolve_tol(tol), r, (A, a), ok, why)


def check_strong_log_odds(model: NextTokenPredictor, query: RelationalQuery, tol: float | None = None) -> Check:
    """Distribution-level counterpart of R-Def 7a: ``ℓ(s ⊕ q, ·) = W ℓ(s, ·) + r``; witness ``(W, r)``."""
    W, r, res, ok, why = relational_log_odds_fit(model, query, full=True)
    return Check(res <= resolve_tol(tol), res, (W, r), ok, why)


def condition_relational_strong(model: NextTokenPredictor, tol: float | None = None) -> Condition:
    """Unembedding diversity ``M = ℝ^d``: the condition of :prf:ref:`thm-relational-linearity` (a)."""
    model = check_model("model", model)
    r = model.dim - unembedding_difference_span(model).shape[1]
    return Condition("unembedding diversity M = ℝ^d", r == 0, float(r), "thm-relational-linearity")


def transfer_relational_strong(model: NextTokenPredictor, other: NextTokenPredictor, A, a, pivot: int = 0):
    """``(Ã_q, ã_q) = (R̃ A_q R, R̃ a_q)`` with ``R = Ḡ⁺ Ḡ̃`` and ``R̃ = Ḡ̃⁺ Ḡ``.

    Implements the transfer of :prf:ref:`thm-relational-linearity` (a); valid
    when both models have unembedding diversity.
    """
    model = check_model("model", model)
    other = check_model("other", other)
    A = np.asarray(A, dtype=np.float64)
    a = as_vector("a", a, size=model.dim)
    if A.shape != (model.dim, model.dim):
        raise ValueError(f"A must have shape ({model.dim}, {model.dim}); got {A.shape}")
    Gb, Gt = model.unembedding_differences(pivot), other.unembedding_differences(pivot)
    R = np.linalg.pinv(Gb) @ Gt
    Rt = np.linalg.pinv(Gt) @ Gb
    return Rt @ A @ R, Rt @ a


def relational_example(rng, *, n_base: int = 12, n_extra: int = 16, n_tokens: int = 30, dim: int = 4,
                       n_answers: int = 4):
    """A diverse model in which ``f(s ⊕ q) = A_q f(s) + a_q`` exactly.

    Rows ``0 … n_base−1`` are the contexts ``s``, rows ``n_base … 2 n_base − 1``
    the strings ``s ⊕ q``, the remaining ``n_extra`` rows other contexts;
    tokens ``1 … n_answers`` are the answers. Returns ``(model, query, (A_q, a_q))``.
    Keep ``n_base > dim + 1`` for checks with power.
    """
    from ..examples import random_model

    rng = as_rng("rng", rng)
    m = random_model(2 * n_base + n_extra, n_tokens, dim, rng)
    A, a = rng.normal(size=(dim, dim)), rng.normal(size=dim)
    F = m.F.copy()
    F[n_base:2 * n_base] = F[:n_base] @ A.T + a
    q = RelationalQuery(tuple(range(n_base)), tuple(range(n_base, 2 * n_base)), tuple(range(1, n_answers + 1)))
    return m.with_tables(F=F), q, (A, a)


def relational_strong_counterexample(model: NextTokenPredictor, query: RelationalQuery, rng,
                                     size: float = 1.0) -> NextTokenPredictor:
    """:prf:ref:`prop-relational-counterexamples`, strong form: lift with a new
    ``M^⊥`` direction (M5) and move every ``f(s ⊕ q)`` along it (M3) by ``size · z``, with
    ``z ~ N(0, 1)`` drawn from ``rng`` (one per queried context)."""
    from ..equivalence import lift, perturb_embeddings

    model = check_model("model", model)
    q = query_of(model, query)
    rng = as_rng("rng", rng)
    m = lift(model, np.zeros((model.n_contexts, 1)), np.ones(1))
    U = np.zeros(m.F.shape)
    U[list(q.queried), -1] = float(size) * rng.normal(size=len(q.queried))
    return perturb_embeddings(m, U)


def relational_strong_lift(model: NextTokenPredictor, query: RelationalQuery):
    """An equivalent model that has the strong form: ``f̃ = [f; h]``, ``g̃ = [g; 0]``
    with ``h(s_i) = f(s_i ⊕ q)`` on the base rows (then
    ``f̃(s ⊕ q) = [[0, I], [0, 0]] f̃(s)``). ``None`` when a row is both a
    context and a queried string, or a context repeats (no such lift)."""
    from ..equivalence import lift

    q = query_of(model, query)
    if set(q.base) & set(q.queried) or len(set(q.base)) != len(q.base):
        return None
    H = np.zeros((model.n_contexts, model.dim))
    H[list(q.base)] = model.F[list(q.queried)]
    return lift(model, H, np.zeros(model.dim))


class RelationalStrong(LogOddsMapObject, LinearProperty):
    """R-Def 7a through the shared interface (witness: fitted)."""

    kind = "relational_strong"
    instance = RelationalQuery
    theorem = "thm-relational-linearity"
    scope = "unembedding-diverse members (M = ℝ^d)"
    counterexample_label = "prop-relational-counterexamples"
    necessity_label = None

    def check(self, model, inst, witness=None, tol=None):
        return check_relational_strong(model, inst, tol)

    def condition(self, model, inst, witness=None, tol=None):
        return condition_relational_strong(model)

    def distribution(self, model, inst, witness=None, tol=None):
        return check_strong_log_odds(model, inst, tol)

    def transfer(self, model, other, inst, witness=None):
        A, a = self.check(model, inst).witness if witness is None else witness
        return transfer_relational_strong(model, other, A, a)

    def example(self, rng, **kwargs):
        return relational_example(rng, **kwargs)

    def counterexample(self, model, inst, witness=None, rng=0, tol=None):
        """:func:`relational_strong_counterexample` with ``size = 10 · max(1, max |F|)``, drawn from ``rng``."""
        size = 10.0 * max(1.0, float(np.abs(model.F).max()))
        return relational_strong_counterexample(model, inst, rng, size)

    def realisation(self, model, inst, witness=None, rng=0, tol=None):
        """The reduced model if the log-odds counterpart holds (R-Thm RL (a)), else
        :func:`relational_strong_lift` (``None`` if it does not apply), rotated by
        :func:`~.parallel_unembeddings.rotated_member` with ``rng`` (7a is invariant under M2)."""
        from ..equivalence import reduce
        from .parallel_unembeddings import rotated_member

        member = reduce(model) if check_strong_log_odds(model, inst, tol).holds else relational_strong_lift(model, inst)
        return None if member is None else (rotated_member(member, rng), None)


PROPERTY = RelationalStrong()

# the shared interface as module functions: ``<module>.check(model, inst, witness, tol)`` etc.
check, condition, distribution, transfer = PROPERTY.check, PROPERTY.condition, PROPERTY.distribution, PROPERTY.transfer
example, counterexample, realisation = PROPERTY.example, PROPERTY.counterexample, PROPERTY.realisation
