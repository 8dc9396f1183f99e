"""Parallel embedding differences (R-Var P').

``Δ_i = f(x_i') − f(x_i)`` for two context pairs; the property is
``Δ_1 = λ Δ_2``. Distribution-level counterpart: the log-odds differences
``ℓ(x_i', ·) − ℓ(x_i, ·)`` over the tokens are parallel. All-or-none among
unembedding-diverse members; M3 breaks it otherwise. Implements
:prf:ref:`prop-parallel-embedding`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._validate import as_rng
from ..model import NextTokenPredictor
from ..subspaces import unembedding_difference_span
from .base import (Check, Condition, LinearProperty, canonical_member, check_contexts, check_model, index_pairs,
                   parallel_residual, resolve_tol)

__all__ = ["ParallelEmbedding", "PROPERTY", "embedding_offsets", "check_parallel_embeddings",
           "check_parallel_log_odds_differences", "condition_parallel_embeddings", "transfer_parallel_embeddings",
           "parallel_embedding_example", "parallel_embedding_counterexample"]


@dataclass(frozen=True)
class ParallelEmbedding:
    """Two context pairs ``((x1, x1'), (x2, x2'))`` with offsets
    ``Δ_i = f(x_i') − f(x_i)`` (:prf:ref:`prop-parallel-embedding`)."""

    pairs: tuple

    def __post_init__(self):
        object.__setattr__(self, "pairs", index_pairs("pairs", self.pairs))


def embedding_offsets(model: NextTokenPredictor, prop: ParallelEmbedding) -> np.ndarray:
    """``[Δ_1; Δ_2]`` with ``Δ_i = f(x_i') − f(x_i)``, shape (2, d)."""
    model = check_model("model", model)
    if not isinstance(prop, ParallelEmbedding):
        raise ValueError(f"prop must be a ParallelEmbedding; got {type(prop).__name__}")
    check_contexts(model, "pairs", [v for p in prop.pairs for v in p])
    return np.array([model.F[b] - model.F[a] for a, b in prop.pairs])


def check_parallel_embeddings(model: NextTokenPredictor, prop: ParallelEmbedding, tol: float | None = None) -> Check:
    """Is ``Δ_1 = λ Δ_2``? Residual ``|sin|`` (this parametrisation's).
    Implements :prf:ref:`prop-parallel-embedding`."""
    D = embedding_offsets(model, prop)
    return parallel_residual(D[0], D[1], resolve_tol(tol))


def check_parallel_log_odds_differences(model: NextTokenPredictor, prop: ParallelEmbedding, tol: float | None = None,
                                        pivot: int = 0) -> Check:
    """Distributional counterpart: ``ℓ(x_1', ·) − ℓ(x_1, ·) = λ (ℓ(x_2', ·) − ℓ(x_2, ·))``
    (equivalent to ``P_M Δ_1 = λ P_M Δ_2``); residual identical across the class."""
    model = check_model("model", model)
    embedding_offsets(model, prop)  # validates the context pairs against the model
    Lam = model.log_odds(pivot)
    r = [Lam[b] - Lam[a] for a, b in prop.pairs]
    return parallel_residual(r[0], r[1], resolve_tol(tol), ref=float(np.abs(Lam).max()))


def condition_parallel_embeddings(model: NextTokenPredictor, tol: float | None = None) -> Condition:
    """Unembedding diversity ``M = ℝ^d``: the condition of :prf:ref:`prop-parallel-embedding`.
    Residual: ``d − dim M``."""
    model = check_model("model", model)
    r = model.dim - unembedding_difference_span(model).shape[1]
    return Condition("unembedding diversity M = ℝ^d", r == 0, float(r), "prop-parallel-embedding")


def transfer_parallel_embeddings(model: NextTokenPredictor, other: NextTokenPredictor, prop: ParallelEmbedding,
                                 tol: float | None = None) -> float:
    """The ratio ``λ`` of parallel embedding offsets, read off the log-odds;
    every unembedding-diverse equivalent model has ``Δ̃_1 = λ Δ̃_2``."""
    check_model("other", other)
    c = check_parallel_log_odds_differences(model, prop, tol)
    if not c.holds:
        raise ValueError("the log-odds differences are not proportional; nothing to transfer")
    return float(c.witness)


def parallel_embedding_example(rng, *, n_contexts: int = 40, n_tokens: int = 30, dim: int = 4,
                               lam: float = 1.0, pairs=((1, 2), (3, 4))):
    """A diverse model with ``Δ_1 = λ Δ_2``. Returns ``(model, ParallelEmbedding)``."""
    from ..examples import random_model

    rng = as_rng("rng", rng)
    prop = ParallelEmbedding(pairs)
    m = random_model(n_contexts, n_tokens, dim, rng)
    check_contexts(m, "pairs", [v for p in prop.pairs for v in p])
    F = m.F.copy()
    (a1, b1), (a2, b2) = prop.pairs
    F[b1] = F[a1] + float(lam) * (F[b2] - F[a2])
    return m.with_tables(F=F), prop


def parallel_embedding_counterexample(model: NextTokenPredictor, prop: ParallelEmbedding,
                                      size: float = 1.0) -> NextTokenPredictor:
    """M5 then M3: lift ``f̃ = [f; 0]``, ``g̃ = [g; 1]`` (a new direction of
    ``M^⊥``) and move ``f̃(x_1')`` by ``size`` along it."""
    from ..equivalence import lift, perturb_embeddings

    model = check_model("model", model)
    embedding_offsets(model, prop)
    m = lift(model, np.zeros((model.n_contexts, 1)), np.ones(1))
    U = np.zeros(m.F.shape)
    U[prop.pairs[0][1], -1] = float(size)
    return perturb_embeddings(m, U)


class ParallelEmbeddings(LinearProperty):
    """R-Var P' through the shared interface (witness: none)."""

    kind = "parallel_embedding"
    instance = ParallelEmbedding
    theorem = "prop-parallel-embedding"
    scope = "unembedding-diverse members (M = ℝ^d)"
    counterexample_label = "prop-parallel-embedding"
    necessity_label = "prop-parallel-embedding"

    def check(self, model, inst, witness=None, tol=None):
        return check_parallel_embeddings(model, inst, tol)

    def condition(self, model, inst, witness=None, tol=None):
        return condition_parallel_embeddings(model)

    def distribution(self, model, inst, witness=None, tol=None):
        return check_parallel_log_odds_differences(model, inst, tol)

    def transfer(self, model, other, inst, witness=None):
        return transfer_parallel_embeddings(model, other, inst)

    def example(self, rng, **kwargs):
        m, prop = parallel_embedding_example(rng, **kwargs)
        return m, prop, None

    def counterexample(self, model, inst, witness=None, rng=0, tol=None):
        """:func:`parallel_embedding_counterexample` with ``size = 10 · max(1, max |Δ_i|)``."""
        size = 10.0 * max(1.0, float(np.abs(embedding_offsets(model, inst)).max()))
        return parallel_embedding_counterexample(model, inst, size)

    def realisation(self, model, inst, witness=None, rng=0, tol=None):
        """The canonical member with orthonormal pivoted unembeddings, rotated by
        :func:`~.parallel_unembeddings.rotated_member` with ``rng``; ``None`` if the log-odds
        differences are not parallel."""
        from .parallel_unembeddings import rotated_member

        if not check_parallel_log_odds_differences(model, inst, tol).holds:
            return None
        return rotated_member(canonical_member(model, "unembeddings"), rng), None

    def equivalent_object(self, model, inst, witness=None, tol=None, dist=None):
        obj = {"distribution_level_parallel": bool(dist.holds)}
        if dist.holds:
            obj["lambda"] = dist.witness
        return obj


PROPERTY = ParallelEmbeddings()

# the shared interface as module functions: ``<module>.check(model, inst, witness, tol)`` etc.
check, condition, distribution, transfer = PROPERTY.check, PROPERTY.condition, PROPERTY.distribution, PROPERTY.transfer
example, counterexample, realisation = PROPERTY.example, PROPERTY.counterexample, PROPERTY.realisation
