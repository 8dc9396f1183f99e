"""Parallel unembedding differences (R-Def 6, R-Prop 3, R-Thm P, R-Prop 4).

``δ_i = g(b_i) − g(a_i)`` for two token pairs; the property is ``δ_1 = λ δ_2``.
Its distribution-level counterpart is "same log-ratios": the vectors
``r_i(x) = log p(b_i|x)/p(a_i|x)`` over the contexts are parallel; their
``|sin|`` is the identifiable figure of the approximate property. Implements
:prf:ref:`def-parallel-unembedding`, :prf:ref:`prop-parallel-log-ratios`,
:prf:ref:`thm-parallelism` and :prf:ref:`prop-parallelism-counterexample`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._validate import as_rng
from ..model import NextTokenPredictor
from ..subspaces import embedding_span
from .base import (Check, Condition, LinearProperty, canonical_member, check_model, check_tokens, index_pairs,
                   parallel_residual, resolve_tol)

__all__ = ["ParallelUnembedding", "PROPERTY", "unembedding_offsets", "check_parallel_unembeddings",
           "check_same_log_ratios", "log_ratio_vectors", "condition_parallel_unembeddings",
           "transfer_parallel_unembeddings", "parallel_unembedding_example", "parallelism_counterexample",
           "rotated_member"]


@dataclass(frozen=True)
class ParallelUnembedding:
    """Two token pairs ``((a1, b1), (a2, b2))`` — e.g. (easy, easiest) and
    (lucky, luckiest) — with offsets ``δ_i = g(b_i) − g(a_i)``
    (:prf:ref:`def-parallel-unembedding`)."""

    pairs: tuple

    def __post_init__(self):
        object.__setattr__(self, "pairs", index_pairs("pairs", self.pairs))


def unembedding_offsets(model: NextTokenPredictor, prop: ParallelUnembedding) -> np.ndarray:
    """``[δ_1; δ_2]`` with ``δ_i = g(b_i) − g(a_i)``, shape (2, d)."""
    model = check_model("model", model)
    if not isinstance(prop, ParallelUnembedding):
        raise ValueError(f"prop must be a ParallelUnembedding; got {type(prop).__name__}")
    check_tokens(model, "pairs", [v for p in prop.pairs for v in p])
    return np.array([model.G[b] - model.G[a] for a, b in prop.pairs])


def log_ratio_vectors(model: NextTokenPredictor, prop: ParallelUnembedding) -> np.ndarray:
    """``[r_1; r_2]`` with ``r_i(x) = log p(b_i|x) − log p(a_i|x)`` over every context, shape (2, n)."""
    unembedding_offsets(model, prop)  # validates the token pairs against the model
    Z = model.logits()
    return np.array([Z[:, b] - Z[:, a] for a, b in prop.pairs])


def check_parallel_unembeddings(model: NextTokenPredictor, prop: ParallelUnembedding, tol: float | None = None) -> Check:
    """Is ``δ_1 = λ δ_2`` with ``λ ≠ 0``? Witness ``λ``; residual ``|sin ∠(δ_1, δ_2)|``
    (this parametrisation's figure). Implements :prf:ref:`def-parallel-unembedding`."""
    D = unembedding_offsets(model, prop)
    return parallel_residual(D[0], D[1], resolve_tol(tol))


def check_same_log_ratios(model: NextTokenPredictor, prop: ParallelUnembedding, tol: float | None = None) -> Check:
    """The distributional counterpart: ``r_1 = λ r_2`` over all contexts; residual
    ``|sin ∠(r_1, r_2)|``, identical for every equivalent model.

    Equivalent to ``P_N δ_1 = λ P_N δ_2`` (:prf:ref:`prop-parallel-log-ratios`).
    """
    model = check_model("model", model)
    r = log_ratio_vectors(model, prop)
    return parallel_residual(r[0], r[1], resolve_tol(tol), ref=float(np.abs(model.logits()).max()))


def condition_parallel_unembeddings(model: NextTokenPredictor, tol: float | None = None) -> Condition:
    """Embedding diversity ``N = ℝ^d``: the condition of :prf:ref:`thm-parallelism`.
    Residual: ``d − dim N``."""
    model = check_model("model", model)
    r = model.dim - embedding_span(model).shape[1]
    return Condition("embedding diversity N = ℝ^d", r == 0, float(r), "thm-parallelism")


def transfer_parallel_unembeddings(model: NextTokenPredictor, other: NextTokenPredictor, prop: ParallelUnembedding,
                                   tol: float | None = None) -> float:
    """The same ratio ``λ``, read off the log-ratios (a function of the distribution).

    Implements the transfer of :prf:ref:`thm-parallelism`: in every
    embedding-diverse equivalent model ``δ̃_1 = λ δ̃_2`` with this ``λ``.
    Raises ``ValueError`` if the log-ratios are not proportional.
    """
    check_model("other", other)
    c = check_same_log_ratios(model, prop, tol)
    if not c.holds:
        raise ValueError("the model's log-ratios are not proportional (δ_1, δ_2 are not parallel within N); nothing to transfer")
    return float(c.witness)


def parallel_unembedding_example(rng, *, n_contexts: int = 40, n_tokens: int = 30, dim: int = 4,
                                 lam: float = 1.0, pairs=((1, 2), (3, 4))):
    """A diverse model with ``δ_1 = λ δ_2`` (``g(b_1)`` is moved to ``g(a_1) + λ δ_2``).
    Returns ``(model, ParallelUnembedding)``."""
    from ..examples import random_model

    rng = as_rng("rng", rng)
    prop = ParallelUnembedding(pairs)
    m = random_model(n_contexts, n_tokens, dim, rng)
    check_tokens(m, "pairs", [v for p in prop.pairs for v in p])
    G = m.G.copy()
    (a1, b1), (a2, b2) = prop.pairs
    G[b1] = G[a1] + float(lam) * (G[b2] - G[a2])
    return m.with_tables(G=G), prop


def parallelism_counterexample(model: NextTokenPredictor, prop: ParallelUnembedding, size: float = 1.0) -> NextTokenPredictor:
    """:prf:ref:`prop-parallelism-counterexample`: the lift (M5) ``f̃ = [f; 0]``,
    ``g̃(y) = [g(y); u(y)]`` with ``u(b_1) = size`` and ``u = 0`` elsewhere."""
    from ..equivalence import lift_unembeddings

    model = check_model("model", model)
    unembedding_offsets(model, prop)
    U = np.zeros((model.n_tokens, 1))
    U[prop.pairs[0][1], 0] = float(size)
    return lift_unembeddings(model, U)


def rotated_member(model: NextTokenPredictor, rng) -> NextTokenPredictor:
    """``model`` reparametrised (M2) by an orthogonal matrix ``Q`` drawn from ``rng`` (the ``Q`` of the QR
    factorisation of a standard normal ``d × d`` matrix): Euclidean angles and lengths within either
    table, and ``Fᵀ F`` and ``Ḡᵀ Ḡ`` up to the rotation, are unchanged, so is every property of part III."""
    from ..equivalence import reparametrize

    model = check_model("model", model)
    Q, _ = np.linalg.qr(as_rng("rng", rng).normal(size=(model.dim, model.dim)))
    return reparametrize(model, Q)


class ParallelUnembeddings(LinearProperty):
    """R-Def 6 through the shared interface (witness: none)."""

    kind = "parallel_unembedding"
    instance = ParallelUnembedding
    theorem = "thm-parallelism"
    scope = "embedding-diverse members (N = ℝ^d)"
    counterexample_label = "prop-parallelism-counterexample"
    necessity_label = "prop-parallel-log-ratios"

    def check(self, model, inst, witness=None, tol=None):
        return check_parallel_unembeddings(model, inst, tol)

    def condition(self, model, inst, witness=None, tol=None):
        return condition_parallel_unembeddings(model)

    def distribution(self, model, inst, witness=None, tol=None):
        return check_same_log_ratios(model, inst, tol)

    def transfer(self, model, other, inst, witness=None):
        return transfer_parallel_unembeddings(model, other, inst)

    def example(self, rng, **kwargs):
        m, prop = parallel_unembedding_example(rng, **kwargs)
        return m, prop, None

    def counterexample(self, model, inst, witness=None, rng=0, tol=None):
        """:func:`parallelism_counterexample` with ``size = 10 · max(1, max |δ_i|)``."""
        size = 10.0 * max(1.0, float(np.abs(unembedding_offsets(model, inst)).max()))
        return parallelism_counterexample(model, inst, size)

    def realisation(self, model, inst, witness=None, rng=0, tol=None):
        """The canonical member with orthonormal embeddings (its Euclidean angles are the log-ratios'),
        rotated by :func:`rotated_member` with ``rng``; ``None`` if the log-ratios are not parallel."""
        if not check_same_log_ratios(model, inst, tol).holds:
            return None
        return rotated_member(canonical_member(model, "embeddings"), rng), None

    def equivalent_object(self, model, inst, witness=None, tol=None, dist=None):
        obj = {"distribution_level_parallel": bool(dist.holds)}
        if dist.holds:
            obj["lambda"] = dist.witness
        return obj


PROPERTY = ParallelUnembeddings()

# the shared interface as module functions: ``<module>.check(model, inst, witness, tol)`` etc.
check, condition, distribution, transfer = PROPERTY.check, PROPERTY.condition, PROPERTY.distribution, PROPERTY.transfer
example, counterexample, realisation = PROPERTY.example, PROPERTY.counterexample, PROPERTY.realisation
