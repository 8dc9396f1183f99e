"""The latent-concept model of Jiang et al. (2024), "On the Origins of Linear
Representations in Large Language Models": binary concepts on a random DAG,
ancestral sampling, masking into contexts, and the exact conditionals.

Conventions (shared by :mod:`allornone.train` and :mod:`allornone.metrics`):

* a **concept vector** ``c ∈ {0,1}^m`` is token number ``Σ_i c_i 2^i``
  (:func:`concept_index`); :func:`all_concepts` lists the ``2^m`` of them in
  token order;
* a **context** ``d ∈ {-1,0,1}^m`` (``-1`` = ⋄, unknown) is context number
  ``Σ_i (d_i+1) 3^i`` (:func:`context_index`); :func:`all_contexts` lists the
  ``3^m`` of them;
* a **mask pattern** ``μ ∈ {0,1}^m`` says which coordinates a context keeps
  (``μ_i = 1`` keeps ``c_i``); it is pattern number ``Σ_i μ_i 2^i``.

The true next-token law is ``p(c | d) ∝ p(c) 1[c agrees with d]``
(:func:`exact_conditional`), computed by enumeration in float64.
Everything here is numpy; nothing is imported or read at import time.

Implements :prf:ref:`def-latent-concept-model` and
:prf:ref:`def-exact-conditional` (book page *The latent-concept model*).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validate import as_int, as_rng

__all__ = [
    "LatentConceptModel",
    "ContextDistribution",
    "all_concepts",
    "all_contexts",
    "concept_index",
    "context_index",
    "random_dag",
    "random_latent_model",
    "sample",
    "mask",
    "random_patterns",
    "exact_conditional",
    "context_distribution",
    "empirical_conditional",
]

MAX_M = 14  # 3^14 ≈ 4.8M contexts: the largest enumeration we allow


def _check_m(m) -> int:
    return as_int("m", m, min=1, max=MAX_M)


def all_concepts(m: int) -> np.ndarray:
    """All ``2^m`` concept vectors as an int array ``(2^m, m)`` in token order."""
    m = _check_m(m)
    idx = np.arange(2**m)
    return ((idx[:, None] >> np.arange(m)[None, :]) & 1).astype(np.int64)


def all_contexts(m: int) -> np.ndarray:
    """All ``3^m`` contexts ``d ∈ {-1,0,1}^m`` as an int array ``(3^m, m)`` in context order."""
    m = _check_m(m)
    idx = np.arange(3**m)
    digits = (idx[:, None] // (3 ** np.arange(m))[None, :]) % 3
    return (digits - 1).astype(np.int64)


def concept_index(c) -> np.ndarray:
    """Token number ``Σ_i c_i 2^i`` of concept vectors ``c`` (rows, values in {0,1})."""
    c = np.asarray(c)
    if c.ndim == 0 or not np.isin(c, (0, 1)).all():
        raise ValueError("c must be an array of concept vectors with entries in {0, 1}")
    return (c.astype(np.int64) << np.arange(c.shape[-1])).sum(axis=-1)


def context_index(d) -> np.ndarray:
    """Context number ``Σ_i (d_i+1) 3^i`` of contexts ``d`` (rows, values in {-1,0,1})."""
    d = np.asarray(d)
    if d.ndim == 0 or not np.isin(d, (-1, 0, 1)).all():
        raise ValueError("d must be an array of contexts with entries in {-1, 0, 1}")
    return ((d.astype(np.int64) + 1) * (3 ** np.arange(d.shape[-1]))).sum(axis=-1)


@dataclass(frozen=True)
class LatentConceptModel:
    """A Bayesian network over ``m`` binary concepts.

    ``order`` is a topological order, ``parents[i]`` the parents of node ``i``
    (a tuple, each earlier in ``order``) and ``cpt[i]`` the array of
    ``P(C_i = 1 | parents = pa)`` indexed by ``Σ_k pa_k 2^k`` over the parents
    in the order given. ``support`` optionally restricts the concept vectors
    that occur (Table 4's incomplete Ĉ: the joint is conditioned on
    ``C ∈ support``, which is what rejection sampling produces).

    Implements :prf:ref:`def-latent-concept-model`.
    """

    m: int
    order: tuple
    parents: tuple
    cpt: tuple
    support: np.ndarray | None = field(default=None, compare=False)

    def joint(self) -> np.ndarray:
        """``p(c)`` for every token ``c`` (length ``2^m``, float64, sums to 1)."""
        C = all_concepts(self.m)
        logp = np.zeros(2**self.m)
        for i in range(self.m):
            pa = list(self.parents[i])
            code = (C[:, pa] << np.arange(len(pa))).sum(axis=1) if pa else np.zeros(len(C), dtype=np.int64)
            p1 = np.asarray(self.cpt[i])[code]
            logp += np.log(np.where(C[:, i] == 1, p1, 1.0 - p1))
        p = np.exp(logp)
        if self.support is not None:
            keep = np.zeros(2**self.m, dtype=bool)
            keep[self.support] = True
            p = np.where(keep, p, 0.0)
        return p / p.sum()

    @property
    def n_edges(self) -> int:
        return sum(len(p) for p in self.parents)


def random_dag(m: int, rng, edge_prob: float = 0.5) -> tuple[tuple, tuple]:
    """A random DAG: a random topological order, each earlier node a parent with probability ``edge_prob``.

    Returns ``(order, parents)``. The paper does not specify its generator
    (origins.md §4.1); this is the reconstruction's default.
    """
    m = _check_m(m)
    rng = as_rng("rng", rng)
    if not 0.0 <= float(edge_prob) <= 1.0:
        raise ValueError(f"edge_prob must be in [0, 1]; got {edge_prob!r}")
    order = tuple(int(i) for i in rng.permutation(m))
    parents = [()] * m
    for pos, node in enumerate(order):
        earlier = [order[k] for k in range(pos) if rng.random() < edge_prob]
        parents[node] = tuple(sorted(earlier))
    return order, tuple(parents)


def random_latent_model(m: int, rng, *, edge_prob: float = 0.5, low: float = 0.3, high: float = 0.7,
                        support_size: int | None = None) -> LatentConceptModel:
    """A random DAG with conditionals ``P(C_i=1 | pa) ~ Uniform[low, high]`` (paper: [0.3, 0.7]).

    ``support_size`` (Table 4) keeps only a uniformly random subset of that many
    concept vectors (``Ĉ ⊂ 𝒞``); ``None`` keeps all ``2^m``.

    Implements :prf:ref:`def-latent-concept-model`.
    """
    m = _check_m(m)
    rng = as_rng("rng", rng)
    if not 0.0 < float(low) <= float(high) < 1.0:
        raise ValueError(f"low and high must satisfy 0 < low <= high < 1; got low={low!r}, high={high!r}")
    order, parents = random_dag(m, rng, edge_prob)
    cpt = tuple(rng.uniform(low, high, size=2 ** len(parents[i])) for i in range(m))
    support = None
    if support_size is not None:
        support_size = as_int("support_size", support_size, min=2, max=2**m)
        support = np.sort(rng.choice(2**m, size=support_size, replace=False))
    return LatentConceptModel(m=m, order=order, parents=parents, cpt=cpt, support=support)


def sample(model: LatentConceptModel, n: int, rng) -> np.ndarray:
    """``n`` i.i.d. concept vectors by ancestral sampling, shape ``(n, m)``.

    With a restricted ``support`` the draws are rejection-sampled: vectors
    outside ``Ĉ`` are redrawn.
    """
    if not isinstance(model, LatentConceptModel):
        raise ValueError(f"model must be a LatentConceptModel; got {type(model).__name__}")
    n = as_int("n", n, min=0)
    rng = as_rng("rng", rng)
    out = np.empty((0, model.m), dtype=np.int64)
    while len(out) < n:
        need = n - len(out)
        batch = need if model.support is None else max(2 * need, 64)
        C = np.zeros((batch, model.m), dtype=np.int64)
        for node in model.order:
            pa = list(model.parents[node])
            code = (C[:, pa] << np.arange(len(pa))).sum(axis=1) if pa else np.zeros(batch, dtype=np.int64)
            C[:, node] = rng.random(batch) < np.asarray(model.cpt[node])[code]
        if model.support is not None:
            C = C[np.isin(concept_index(C), model.support)]
        out = np.concatenate([out, C[:need]])
    return out


def random_patterns(m: int, n_patterns: int, rng) -> np.ndarray:
    """``n_patterns`` distinct mask patterns drawn uniformly from the ``2^m`` (Table 3's "max #masks")."""
    m = _check_m(m)
    n_patterns = as_int("n_patterns", n_patterns, min=1, max=2**m)
    rng = as_rng("rng", rng)
    return np.sort(rng.choice(2**m, size=n_patterns, replace=False))


def _pattern_bits(patterns, m: int) -> np.ndarray:
    patterns = np.asarray(patterns, dtype=np.int64)
    if patterns.ndim != 1 or len(patterns) == 0 or patterns.min() < 0 or patterns.max() >= 2**m:
        raise ValueError(f"patterns must be a non-empty 1-D array of integers in [0, 2^m); got {patterns!r}")
    return (patterns[:, None] >> np.arange(m)[None, :]) & 1


def mask(c, rng, *, keep_prob: float = 0.5, patterns=None) -> np.ndarray:
    """Turn concept vectors into contexts: each coordinate is kept (``μ_i=1``) or set to ``-1`` (⋄).

    Default: ``μ_i ~ Bernoulli(keep_prob)`` independently. With ``patterns``
    (pattern numbers), each row uses one pattern drawn uniformly from the pool.
    """
    c = np.asarray(c, dtype=np.int64)
    if c.ndim != 2 or not np.isin(c, (0, 1)).all():
        raise ValueError("c must be a 2-D array of concept vectors with entries in {0, 1}")
    rng = as_rng("rng", rng)
    n, m = c.shape
    if patterns is None:
        if not 0.0 <= float(keep_prob) <= 1.0:
            raise ValueError(f"keep_prob must be in [0, 1]; got {keep_prob!r}")
        mu = rng.random((n, m)) < keep_prob
    else:
        bits = _pattern_bits(patterns, m)
        mu = bits[rng.integers(len(bits), size=n)].astype(bool)
    return np.where(mu, c, -1)


def exact_conditional(model: LatentConceptModel, contexts=None) -> np.ndarray:
    """``p(c | d) ∝ p(c) 1[c_i = d_i wherever d_i ≠ ⋄]`` by enumeration, float64.

    ``contexts`` are context numbers (default: all ``3^m``). Rows of contexts
    that no ``c`` in the support agrees with are all zero.

    Implements :prf:ref:`def-exact-conditional`.
    """
    if not isinstance(model, LatentConceptModel):
        raise ValueError(f"model must be a LatentConceptModel; got {type(model).__name__}")
    m = model.m
    D = all_contexts(m) if contexts is None else all_contexts(m)[np.asarray(contexts, dtype=np.int64)]
    C = all_concepts(m)
    p = model.joint()
    agree = np.ones((len(D), len(C)), dtype=bool)
    for i in range(m):
        agree &= (D[:, [i]] == -1) | (D[:, [i]] == C[None, :, i])
    P = agree * p[None, :]
    Z = P.sum(axis=1, keepdims=True)
    return np.divide(P, Z, out=np.zeros_like(P), where=Z > 0)


@dataclass(frozen=True)
class ContextDistribution:
    """The training data law in closed form: the contexts that occur (``D̂``),
    their probabilities ``w(d)`` and the target rows ``p(· | d)``.

    ``contexts`` are context numbers, ``weights`` sum to 1 and ``P`` has one
    row per context over all ``2^m`` tokens.
    """

    m: int
    contexts: np.ndarray
    weights: np.ndarray
    P: np.ndarray
    p_c: np.ndarray = field(default=None, compare=False)
    patterns: np.ndarray = field(default=None, compare=False)
    pattern_probs: np.ndarray = field(default=None, compare=False)

    @property
    def tokens(self) -> np.ndarray:
        """Token numbers that occur (``Ĉ``)."""
        return np.flatnonzero(self.p_c > 0)

    def sample(self, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
        """``n`` training pairs ``(context numbers, token numbers)``: ``c ~ p(c)``, then a mask.

        Drawing ``c`` from the enumerated joint has the law of ancestral
        sampling (:func:`sample`); it is used by the SGD trainer for speed.
        """
        n = as_int("n", n, min=0)
        rng = as_rng("rng", rng)
        tok = rng.choice(len(self.p_c), size=n, p=self.p_c)
        pat = self.patterns[rng.choice(len(self.patterns), size=n, p=self.pattern_probs)]
        keep = (pat[:, None] >> np.arange(self.m)) & 1
        c = (tok[:, None] >> np.arange(self.m)) & 1
        ctx = ((np.where(keep == 1, c, -1) + 1) * (3 ** np.arange(self.m))).sum(axis=1)
        return ctx, tok

    @property
    def entropy(self) -> float:
        """The expected conditional entropy ``E_d H(p(·|d))``: the smallest possible cross-entropy."""
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.where(self.P > 0, self.P * np.log(self.P), 0.0).sum(axis=1)
        return float(self.weights @ h)


def context_distribution(model: LatentConceptModel, *, keep_prob: float = 0.5, patterns=None) -> ContextDistribution:
    """The law of ``d`` produced by :func:`sample` then :func:`mask`, and ``p(c|d)``, by enumeration.

    ``w(d) = P(μ = μ(d)) · P(C_core = d_core)``; only contexts with ``w(d) > 0`` are kept.
    """
    if not isinstance(model, LatentConceptModel):
        raise ValueError(f"model must be a LatentConceptModel; got {type(model).__name__}")
    m = model.m
    if patterns is None:
        if not 0.0 < float(keep_prob) < 1.0:
            raise ValueError(f"keep_prob must be in (0, 1) for the closed form; got {keep_prob!r}")
        pats = np.arange(2**m)
        k = ((pats[:, None] >> np.arange(m)) & 1).sum(axis=1)
        pat_prob = keep_prob**k * (1 - keep_prob) ** (m - k)
    else:
        pats = np.unique(np.asarray(patterns, dtype=np.int64))
        _pattern_bits(pats, m)
        pat_prob = np.full(len(pats), 1.0 / len(pats))
    p = model.joint()
    C = all_concepts(m)
    bits = _pattern_bits(pats, m)
    # every (pattern, c) pair gives a context; accumulate its probability
    ctx = np.where(bits[:, None, :] == 1, C[None, :, :], -1)             # (patterns, 2^m, m)
    idx = context_index(ctx.reshape(-1, m))
    w = (pat_prob[:, None] * p[None, :]).reshape(-1)
    weights = np.bincount(idx, weights=w, minlength=3**m)
    contexts = np.flatnonzero(weights > 0)
    return ContextDistribution(m=m, contexts=contexts, weights=weights[contexts] / weights[contexts].sum(),
                               P=exact_conditional(model, contexts), p_c=p, patterns=pats,
                               pattern_probs=pat_prob / pat_prob.sum())


def empirical_conditional(c, d, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts from samples: ``(n(d), n(d, c))`` as arrays ``(3^m,)`` and ``(3^m, 2^m)``."""
    m = _check_m(m)
    ci, di = concept_index(np.asarray(c)), context_index(np.asarray(d))
    joint = np.zeros((3**m, 2**m))
    np.add.at(joint, (di, ci), 1.0)
    return joint.sum(axis=1), joint
