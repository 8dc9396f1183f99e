"""Relational linearity, projected form (R-Def 7b, SC-RL, R-Thm RL (b), R-Prop 5).

``P_{Γ_q} f(s ⊕ q) = P_{Γ_q}(A_q f(s) + a_q)`` on ``S``, i.e. the answer
log-odds ``L_qᵀ f(s ⊕ q)`` are affine in ``f(s)``. Distribution-level
counterpart: ``ℓ_q(s ⊕ q) = W ℓ(s, ·) + r``; it holds iff some relation
satisfies SC-RL (``A_qᵀ Γ_q ⊆ M + N_S^⊥``). Over the whole class:

* counterpart holds → every member has 7b (with SC-RL): *all*
  (:prf:ref:`thm-relational-linearity` (b));
* counterpart fails → the reduced model (``M = ℝ^k``, so SC-RL is automatic)
  lacks 7b, and the lift ``f̃ = [f; h]``, ``g̃ = [g; 1]`` with
  ``h(s) = ℓ_q(s ⊕ q)`` has it: *not identifiable*
  (:prf:ref:`prop-relational-counterexamples`).
"""

from __future__ import annotations

import numpy as np

from ..._validate import as_matrix, as_rng, as_vector
from ..model import NextTokenPredictor
from ..subspaces import complement, embedding_span, unembedding_difference_span
from .base import Check, Condition, LinearProperty, affine_fit, check_model, resolve_tol, sum_member
from .relational import (LogOddsMapObject, RelationalQuery, answer_basis, answer_log_odds, query_of,
                         relational_log_odds_fit)

__all__ = ["PROPERTY", "check_relational_projected", "condition_relational_projected", "check_relational_log_odds",
           "transfer_relational_projected", "relational_sc_example", "relational_sc_counterexample",
           "relational_projected_lift"]

SC_RL = "SC-RL: A_qᵀ Γ_q ⊆ M + N_S^⊥"


def check_relational_log_odds(model: NextTokenPredictor, query: RelationalQuery, tol: float | None = None) -> Check:
    """Distribution-level counterpart: ``ℓ_q(s ⊕ q) = W ℓ(s, ·) + r``; witness ``(W, r)``;
    undecidable when ``|S| ≤ rank[Λ_S, 1]``."""
    W, r, res, ok, why = relational_log_odds_fit(model, query)
    return Check(res <= resolve_tol(tol), res, (W, r), ok, why)


def check_relational_projected(model: NextTokenPredictor, query: RelationalQuery, tol: float | None = None) -> Check:
    """Is ``P_{Γ_q} f(s ⊕ q) = P_{Γ_q}(A_q f(s) + a_q)`` for all ``s ∈ S``?

    Equivalently the answer log-odds ``L_qᵀ f(s ⊕ q)`` are affine in ``f(s)``;
    residual relative to their spread, undecidable when ``|S| ≤ rank[F_S, 1]``.
    Witness ``(A_q, a_q)``: when the answer log-odds are also affine in the
    log-odds of ``s``, the relation built from that map (it satisfies SC-RL);
    otherwise ``A_q = (L_qᵀ)⁺ C`` from the direct fit.
    Implements :prf:ref:`def-relational-linearity-projected`.
    """
    model = check_model("model", model)
    q = query_of(model, query)
    tol = resolve_tol(tol)
    L = answer_basis(model, q)
    C, c, r, ok, why = affine_fit(model.F[list(q.base)], model.F[list(q.queried)] @ L, "the relation (A_q, a_q)")
    dist = check_relational_log_odds(model, q, tol)
    if dist.holds:
        witness = transfer_relational_projected(model, q, *dist.witness)
    else:
        Lp = np.linalg.pinv(L.T)
        witness = (Lp @ C, Lp @ c)
    return Check(r <= tol, r, witness, ok, why)


def condition_relational_projected(model: NextTokenPredictor, query: RelationalQuery, A=None,
                                   tol: float | None = None) -> Condition:
    """SC-RL: ``A_qᵀ Γ_q ⊆ M + N_S^⊥`` (:prf:ref:`thm-relational-linearity` (b)).

    With ``A=None`` the question is whether *some* relation matrix satisfies
    it, i.e. whether the answer log-odds are affine in the log-odds of ``s``
    (:func:`check_relational_log_odds`); otherwise the given ``A`` is tested.
    """
    model = check_model("model", model)
    q = query_of(model, query)
    tol = resolve_tol(tol)
    if A is None:
        res = relational_log_odds_fit(model, q)[2]
        return Condition(SC_RL, res <= tol, res, "thm-relational-linearity")
    A = as_matrix("A", A)
    if A.shape != (model.dim, model.dim):
        raise ValueError(f"A must have shape ({model.dim}, {model.dim}); got {A.shape}")
    L = answer_basis(model, q)
    Mb = unembedding_difference_span(model)
    NSp = complement(embedding_span(model, contexts=list(q.base)), model.dim)
    r = max(sum_member(u, Mb, NSp) for u in (A.T @ L).T)
    return Condition(SC_RL, r <= tol, r, "thm-relational-linearity")


def transfer_relational_projected(other: NextTokenPredictor, query: RelationalQuery, W, r, pivot: int = 0):
    """``Ã_q = (L̃_qᵀ)⁺ W Ḡ̃`` and ``ã_q = (L̃_qᵀ)⁺ r`` in an equivalent model.

    Implements the construction of :prf:ref:`thm-relational-linearity` (b).
    """
    other = check_model("other", other)
    q = query_of(other, query)
    W = as_matrix("W", W)
    if W.shape != (len(q.answers) - 1, other.n_tokens):
        raise ValueError(f"W must have shape ({len(q.answers) - 1}, {other.n_tokens}); got {W.shape}")
    Lp = np.linalg.pinv(answer_basis(other, q).T)
    return Lp @ W @ other.unembedding_differences(pivot), Lp @ as_vector("r", r, size=W.shape[0])


def relational_sc_example(rng, *, n_base: int = 12, n_extra: int = 16, n_tokens: int = 30, k: int = 2,
                          n_answers: int = 3):
    """A model of dimension ``d = k + 1`` with ``M = span(e_1 … e_k)`` whose
    query copies the ``e_{k+1}`` coordinate of ``f(s)`` (invisible to the
    distribution) into ``e_1`` of ``f(s ⊕ q)``: relationally linear in the
    projected form, but SC-RL fails. Returns ``(model, query, (A_q, a_q))``."""
    rng = as_rng("rng", rng)
    d = k + 1
    n = 2 * n_base + n_extra
    F = rng.normal(size=(n, d))
    G = np.hstack([rng.normal(size=(n_tokens, k)), np.full((n_tokens, 1), rng.normal())])
    A = np.zeros((d, d))
    A[0, k] = 1.0                          # e_1 of f(s ⊕ q) := e_{k+1} of f(s)
    A[1:k, 1:k] = rng.normal(size=(k - 1, k - 1))
    a = rng.normal(size=d)
    F[n_base:2 * n_base] = F[:n_base] @ A.T + a
    q = RelationalQuery(tuple(range(n_base)), tuple(range(n_base, 2 * n_base)), tuple(range(1, n_answers + 1)))
    return NextTokenPredictor(F, G), q, (A, a)


def relational_sc_counterexample(model: NextTokenPredictor, query: RelationalQuery) -> NextTokenPredictor:
    """:prf:ref:`prop-relational-counterexamples`, projected form: M3 removes
    the ``M^⊥`` component of every ``f(s)``, ``s ∈ S``."""
    from ..equivalence import perturb_embeddings

    model = check_model("model", model)
    q = query_of(model, query)
    P = complement(unembedding_difference_span(model), model.dim)
    U = np.zeros(model.F.shape)
    U[list(q.base)] = -(model.F[list(q.base)] @ P) @ P.T
    return perturb_embeddings(model, U)


def relational_projected_lift(model: NextTokenPredictor, query: RelationalQuery) -> NextTokenPredictor:
    """The lift (M5) ``f̃ = [f; h]``, ``g̃ = [g; 1]`` with ``h(s) = ℓ_q(s ⊕ q)`` on the
    contexts of ``S`` (0 elsewhere): the answer log-odds become a coordinate of
    ``f̃(s)``, so 7b holds (without SC-RL) and ``p`` is unchanged."""
    from ..equivalence import lift

    model = check_model("model", model)
    q = query_of(model, query)
    Y = answer_log_odds(model, q)
    H = np.zeros((model.n_contexts, Y.shape[1]))
    H[list(q.base)] = Y
    return lift(model, H, np.ones(Y.shape[1]))


class RelationalProjected(LogOddsMapObject, LinearProperty):
    """R-Def 7b through the shared interface (witness: fitted). The condition
    (some relation with SC-RL) is the distribution-level counterpart itself,
    so the verdict is the same for every member of the class."""

    kind = "relational_projected"
    instance = RelationalQuery
    theorem = "thm-relational-linearity"
    scope = "every member of the class"
    scope_is_class = True
    counterexample_label = "prop-relational-counterexamples"
    necessity_label = None

    def check(self, model, inst, witness=None, tol=None):
        return check_relational_projected(model, inst, tol)

    def condition(self, model, inst, witness=None, tol=None):
        return condition_relational_projected(model, inst, None, tol)

    def distribution(self, model, inst, witness=None, tol=None):
        return check_relational_log_odds(model, inst, tol)

    def transfer(self, model, other, inst, witness=None):
        W, r = check_relational_log_odds(model, inst).witness
        return transfer_relational_projected(other, inst, W, r)

    def example(self, rng, **kwargs):
        from .relational_strong import relational_example

        return relational_example(rng, **kwargs)

    def counterexample(self, model, inst, witness=None, rng=0, tol=None):
        return relational_sc_counterexample(model, inst)

    def realisation(self, model, inst, witness=None, rng=0, tol=None):
        return relational_projected_lift(model, inst), None


PROPERTY = RelationalProjected()

# the shared interface as module functions: ``<module>.check(model, inst, witness, tol)`` etc.
check, condition, distribution, transfer = PROPERTY.check, PROPERTY.condition, PROPERTY.distribution, PROPERTY.transfer
example, counterexample, realisation = PROPERTY.example, PROPERTY.counterexample, PROPERTY.realisation
