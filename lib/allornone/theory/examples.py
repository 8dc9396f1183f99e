"""Constructed models used across the book: random models whose subspaces
``N`` (embedding span) and ``M`` (unembedding-difference span) have prescribed
dimensions and overlap.

Implements the examples of :prf:ref:`lem-effective-complexity` and
:prf:ref:`ex-two-dimensions`.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_int, as_rng
from .model import NextTokenPredictor

__all__ = ["random_model", "worked_example_pair"]


def random_model(n_contexts: int, n_tokens: int, dim: int, rng, *, dim_N: int | None = None,
                 dim_M: int | None = None, dim_N_in_M_perp: int | None = None, pivot: int = 0,
                 scale: float = 1.0) -> NextTokenPredictor:
    """A random model with ``dim N = dim_N``, ``dim M = dim_M`` and
    ``dim(N ∩ M^⊥) = dim_N_in_M_perp``, so that its effective complexity is
    ``k = dim_N − dim_N_in_M_perp`` (:prf:ref:`lem-effective-complexity` (a)).

    Defaults give a diverse model (``N = M = ℝ^d``); ``dim_N_in_M_perp=None``
    puts ``N`` in generic position (``dim(N ∩ M^⊥) = max(0, dim_N − dim_M)``). Raises ``ValueError`` for
    impossible combinations, naming the constraint.
    """
    n_contexts = as_int("n_contexts", n_contexts, min=1)
    n_tokens = as_int("n_tokens", n_tokens, min=2)
    dim = as_int("dim", dim, min=1)
    rng = as_rng("rng", rng)
    dim_N = dim if dim_N is None else as_int("dim_N", dim_N, min=0, max=dim)
    dim_M = dim if dim_M is None else as_int("dim_M", dim_M, min=0, max=dim)
    if dim_N_in_M_perp is None:  # generic position: N ∩ M^⊥ as small as the dimensions allow
        dim_N_in_M_perp = max(0, dim_N - dim_M)
    j = as_int("dim_N_in_M_perp", dim_N_in_M_perp, min=0, max=dim_N)
    if dim_N > n_contexts:
        raise ValueError(f"dim_N={dim_N} needs at least as many contexts; n_contexts={n_contexts}")
    if dim_M > n_tokens - 1:
        raise ValueError(f"dim_M={dim_M} needs n_tokens >= dim_M + 1; n_tokens={n_tokens}")
    if j > dim - dim_M:
        raise ValueError(f"dim_N_in_M_perp={j} exceeds dim M^⊥ = dim - dim_M = {dim - dim_M}")
    if dim_N - j > dim_M:
        raise ValueError(f"dim_N - dim_N_in_M_perp = {dim_N - j} must be <= dim_M = {dim_M} (it is the rank k)")
    if not 0 <= pivot < n_tokens:
        raise ValueError(f"pivot must be an index in [0, {n_tokens}); got {pivot}")

    Q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    M_basis, M_perp = Q[:, :dim_M], Q[:, dim_M:]
    # N: j directions inside M^⊥, plus dim_N - j generic directions (components in M and in M^⊥).
    # (j <= dim M^⊥ was checked above; a zero-size draw takes nothing from rng, so empty blocks need no branch)
    coef = np.vstack([rng.normal(size=(dim_M, dim_N - j)), rng.normal(size=(M_perp.shape[1] - j, dim_N - j))])
    generic = np.hstack([M_basis, M_perp[:, j:]]) @ coef
    N_basis = np.hstack([M_perp[:, :j], generic])

    F = scale * rng.normal(size=(n_contexts, dim_N)) @ N_basis.T
    Gbar = scale * rng.normal(size=(n_tokens, dim_M)) @ M_basis.T
    Gbar[pivot] = 0.0
    G = Gbar + rng.normal(size=dim)  # a common offset g(y₀): the pivot's own unembedding
    return NextTokenPredictor(F, G)


def worked_example_pair(rng, *, n_contexts: int = 40, n_tokens: int = 30):
    """The worked example of :prf:ref:`ex-two-dimensions`: a 6-dimensional
    model with ``dim N = 4``, ``dim M = 5`` (so ``k = 4``) and a 9-dimensional
    model reached from it by M6 → M5 → M2 → M3. Returns ``(model, other)``."""
    from .equivalence import lift, lift_unembeddings, perturb_embeddings, random_invertible, reduce, reparametrize

    rng = as_rng("rng", rng)
    model = random_model(n_contexts, n_tokens, 6, rng, dim_N=4, dim_M=5)
    m = reduce(model)                                                       # M6: dimension 4
    m = lift(m, rng.normal(size=(n_contexts, 3)), rng.normal(size=3))        # M5: dimension 7
    m = lift_unembeddings(m, rng.normal(size=(n_tokens, 2)))                 # M5 (second form): 9
    m = reparametrize(m, random_invertible(9, rng))                          # M2
    m = perturb_embeddings(m, rng.normal(size=m.F.shape), project=True)      # M3
    return model, m
