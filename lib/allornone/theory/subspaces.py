"""The subspaces attached to a model and its effective (canonical) form.

For a model with embedding table ``F`` and pivoted unembeddings ``Ḡ``:

* ``N`` = span of the embeddings ``f(x)`` (row space of ``F``);
* ``M`` = span of the unembedding differences ``g(y) − g(y₀)`` (row space of ``Ḡ``);
* ``K = P_M(N)`` = the effective subspace, of dimension ``k``, the effective
  complexity, equal to the rank of the log-odds matrix ``F Ḡᵀ``.

Bases are returned as matrices whose *columns* are orthonormal vectors of
``ℝ^d``. Ranks use a tolerance relative to the largest singular value
(``rtol``, default ``1e-9``), because the moves of the equivalence class only
preserve exact zeros up to rounding.

Implements :prf:ref:`def-effective-complexity`, :prf:ref:`lem-effective-complexity`
and the effective form of :prf:ref:`def-extended-linear-equivalence`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_index, as_positive_float, as_vector
from .model import NextTokenPredictor

__all__ = [
    "DEFAULT_RTOL",
    "numerical_rank",
    "orth",
    "complement",
    "projector",
    "in_span",
    "embedding_span",
    "embedding_difference_span",
    "unembedding_difference_span",
    "effective_subspace",
    "effective_complexity",
    "EffectiveForm",
    "effective_form",
    "has_embedding_diversity",
    "has_unembedding_diversity",
    "is_diverse",
]

#: Relative tolerance for numerical ranks: singular values below
#: ``DEFAULT_RTOL * (largest singular value)`` count as zero.
DEFAULT_RTOL = 1e-9


def _check_model(model) -> NextTokenPredictor:
    if not isinstance(model, NextTokenPredictor):
        raise ValueError(f"model must be a NextTokenPredictor; got {type(model).__name__}")
    return model


def _cutoff(s: np.ndarray, rtol: float | None, scale: float) -> float:
    rtol = DEFAULT_RTOL if rtol is None else as_positive_float("rtol", rtol)
    top = float(s[0])  # the callers return early for an empty matrix, so s has an entry
    # ``scale`` is the size the matrix would have without cancellation (e.g.
    # |F|·|Ḡ| for F Ḡᵀ), so that rounding noise of a product that cancels to
    # zero is not counted as rank. The absolute floor makes a zero matrix rank 0.
    return max(rtol * max(top, scale), 1e-300)


def numerical_rank(A, rtol: float | None = None, scale: float = 0.0) -> int:
    """Rank of ``A``: singular values above ``rtol × max(largest one, scale)``."""
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    if A.size == 0:
        return 0
    s = np.linalg.svdvals(A)
    return int(np.sum(s > _cutoff(s, rtol, scale)))


def orth(A, rtol: float | None = None, scale: float = 0.0) -> np.ndarray:
    """Orthonormal basis (columns) of the column space of ``A`` (shape ``(d, r)``)."""
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    if A.size == 0:
        return np.zeros((A.shape[0], 0))
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    r = int(np.sum(s > _cutoff(s, rtol, scale)))
    return U[:, :r]


def complement(B, dim: int | None = None) -> np.ndarray:
    """Orthonormal basis (columns) of the orthogonal complement of ``span(B)`` in ``ℝ^d``.

    ``B`` must have orthonormal columns (as returned by :func:`orth`).
    """
    B = np.asarray(B, dtype=np.float64)
    d = B.shape[0] if dim is None else dim
    if B.shape[1] == 0:
        return np.eye(d)
    U, _, _ = np.linalg.svd(B, full_matrices=True)
    return U[:, B.shape[1]:]


def projector(B) -> np.ndarray:
    """Orthogonal projector ``B Bᵀ`` onto the span of orthonormal columns ``B``."""
    B = np.asarray(B, dtype=np.float64)
    return B @ B.T


def in_span(u, *bases, rtol: float | None = None, atol: float = 1e-8) -> bool:
    """Is ``u`` in ``span(B₁) + span(B₂) + …``? (spec §4 item 7)

    The test projects ``u`` onto the orthonormalised sum of the spans and
    compares the residual with ``atol`` relative to ``max(1, |u|)``.
    """
    u = as_vector("u", u)
    cols = [np.asarray(B, dtype=np.float64).reshape(u.shape[0], -1) for B in bases]
    if not cols or sum(c.shape[1] for c in cols) == 0:
        return bool(np.linalg.norm(u) <= atol)
    Q = orth(np.hstack(cols), rtol)
    resid = u - Q @ (Q.T @ u)
    return bool(np.linalg.norm(resid) <= atol * max(1.0, float(np.linalg.norm(u))))


def embedding_span(model: NextTokenPredictor, rtol: float | None = None, contexts=None) -> np.ndarray:
    """Basis of ``N = span{f(x)}`` (optionally over a subset ``contexts`` of rows)."""
    F = _check_model(model).F
    if contexts is not None:
        F = F[np.asarray(contexts)]
    return orth(F.T, rtol)


def embedding_difference_span(model: NextTokenPredictor, reference: int = 0, rtol: float | None = None) -> np.ndarray:
    """Basis of ``N₀ = span{f(x) − f(x₀)}`` (the group's matrix ``N``)."""
    model = _check_model(model)
    reference = as_index("reference", reference, model.n_contexts)
    return orth((model.F - model.F[reference]).T, rtol)


def unembedding_difference_span(model: NextTokenPredictor, rtol: float | None = None) -> np.ndarray:
    """Basis of ``M = span{g(y) − g(y₀)}``; it does not depend on the pivot."""
    model = _check_model(model)
    return orth(model.unembedding_differences(0).T, rtol)


def effective_subspace(model: NextTokenPredictor, rtol: float | None = None) -> np.ndarray:
    """Basis of the effective subspace ``K = P_M(N)``, shape ``(d, k)``."""
    model = _check_model(model)
    B = unembedding_difference_span(model, rtol)
    return orth(B @ (B.T @ model.F.T), rtol, scale=np.linalg.norm(model.F, 2))


def effective_complexity(model: NextTokenPredictor, tol: float | None = None) -> int:
    """The effective complexity ``k = rank(F Ḡᵀ) = dim P_M(N)``.

    Implements :prf:ref:`def-effective-complexity`. It is the rank of the
    log-odds matrix, so it depends on the distribution only
    (:prf:ref:`lem-effective-complexity`). ``tol`` is the relative rank
    tolerance (default :data:`DEFAULT_RTOL`).
    """
    model = _check_model(model)
    Gbar = model.unembedding_differences(0)
    return numerical_rank(model.F @ Gbar.T, tol, scale=np.linalg.norm(model.F, 2) * np.linalg.norm(Gbar, 2))


@dataclass(frozen=True)
class EffectiveForm:
    """The effective representations of a model (:prf:ref:`def-extended-linear-equivalence`).

    Attributes
    ----------
    E : (k, d) with ``E Eᵀ = I_k`` and ``Eᵀ E = P_K``.
    phi : (n_contexts, k), rows ``φ(x) = E f(x)``.
    gamma : (n_tokens, k), rows ``γ(y) = E ḡ(y)``.
    pivot : the pivot token used for ``ḡ``.
    """

    E: np.ndarray
    phi: np.ndarray
    gamma: np.ndarray
    pivot: int

    @property
    def k(self) -> int:
        return self.E.shape[0]


def effective_form(model: NextTokenPredictor, pivot: int = 0, rtol: float | None = None) -> EffectiveForm:
    """Effective (canonical) coordinates ``φ = E f``, ``γ = E ḡ`` (spec §4 item 3).

    ``B`` is an orthonormal basis of ``M``, ``C`` one of ``span{Bᵀ f(x)}`` and
    ``E = Cᵀ Bᵀ``. Then ``f(x)ᵀ ḡ(y) = φ(x)ᵀ γ(y)`` and both ``{φ(x)}`` and
    ``{γ(y)}`` span ``ℝ^k``.
    """
    model = _check_model(model)
    pivot = model.check_pivot(pivot)
    Gbar = model.unembedding_differences(pivot)
    B = orth(Gbar.T, rtol)
    C = orth(B.T @ model.F.T, rtol, scale=np.linalg.norm(model.F, 2))
    E = C.T @ B.T
    return EffectiveForm(E=E, phi=model.F @ E.T, gamma=Gbar @ E.T, pivot=pivot)


def has_embedding_diversity(model: NextTokenPredictor, rtol: float | None = None) -> bool:
    """Embedding diversity in the span sense: ``N = ℝ^d``."""
    return embedding_span(model, rtol).shape[1] == _check_model(model).dim


def has_unembedding_diversity(model: NextTokenPredictor, rtol: float | None = None) -> bool:
    """Unembedding diversity: ``M = ℝ^d`` (mild when ``n_tokens ≫ d``)."""
    return unembedding_difference_span(model, rtol).shape[1] == _check_model(model).dim


def is_diverse(model: NextTokenPredictor, rtol: float | None = None) -> bool:
    """Diversity of prior work (:prf:ref:`thm-linear-identifiability-diversity`):
    ``M = ℝ^d`` and ``N₀ = ℝ^d``."""
    model = _check_model(model)
    return (
        has_unembedding_diversity(model, rtol)
        and embedding_difference_span(model, 0, rtol).shape[1] == model.dim
    )


# --- intersections of subspaces (used by lem-effective-complexity) -------------

def _orthonormal_columns(name: str, B) -> np.ndarray:
    B = np.asarray(B, dtype=np.float64)
    if B.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array whose columns span a subspace; got shape {B.shape}")
    if not np.all(np.isfinite(B)):
        raise ValueError(f"{name} must be finite")
    if B.shape[1] == 0:
        return B
    return orth(B)


def intersection(B1, B2, atol: float = 1e-8) -> np.ndarray:
    """Orthonormal basis (columns) of ``span(B1) ∩ span(B2)`` in ``ℝ^d``.

    ``B1`` and ``B2`` are ``(d, r1)`` and ``(d, r2)`` matrices whose columns
    span the two subspaces (they need not be orthonormal; a ``(d, 0)`` matrix
    is the zero subspace). With orthonormal bases ``Q1``, ``Q2``, a vector
    ``Q1 a = Q2 b`` of the intersection is a null vector ``(a, b)`` of
    ``[Q1, −Q2]``; the singular values of that matrix are
    ``√(1 ∓ cos θᵢ)`` for the principal angles ``θᵢ``, so a direction counts as
    shared when its singular value is below ``atol`` (an angle of about
    ``√2·atol`` radians).

    Used for ``N ∩ M^⊥`` and ``M ∩ N^⊥`` in :prf:ref:`lem-effective-complexity`.
    """
    Q1 = _orthonormal_columns("B1", B1)
    Q2 = _orthonormal_columns("B2", B2)
    if Q1.shape[0] != Q2.shape[0]:
        raise ValueError(f"B1 and B2 must live in the same space; got {Q1.shape[0]} and {Q2.shape[0]} rows")
    atol = as_positive_float("atol", atol)
    d = Q1.shape[0]
    if Q1.shape[1] == 0 or Q2.shape[1] == 0:
        return np.zeros((d, 0))
    stacked = np.hstack([Q1, -Q2])
    _, s, Vt = np.linalg.svd(stacked, full_matrices=True)
    s_full = np.concatenate([s, np.zeros(stacked.shape[1] - s.size)])
    null = Vt[s_full <= atol].T                  # (r1 + r2, m) null vectors (a; b)
    if null.shape[1] == 0:
        return np.zeros((d, 0))
    # Q1 a and Q2 b agree up to atol; average them and re-orthonormalise
    vecs = 0.5 * (Q1 @ null[: Q1.shape[1]] + Q2 @ null[Q1.shape[1]:])
    return orth(vecs)


def intersection_dim(B1, B2, atol: float = 1e-8) -> int:
    """``dim(span(B1) ∩ span(B2))``; see :func:`intersection`."""
    return intersection(B1, B2, atol).shape[1]


__all__ += ["intersection", "intersection_dim"]
