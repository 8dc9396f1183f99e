"""Linear equivalence ``~L`` and the earlier identifiability result under diversity.

Two models of the same dimension ``d`` are linearly equivalent if
``f(x) = A f̃(x)`` and ``ḡ(y) = A⁻ᵀ ḡ̃(y)`` for one invertible ``A``
(:prf:ref:`def-linear-equivalence`). Under diversity, equal distributions imply
it (:prf:ref:`thm-linear-identifiability-diversity`), and the proof builds ``A``
from ``d`` tokens whose pivoted unembeddings are linearly independent:
``A = L⁻ᵀ L̃ᵀ``. This module implements that construction, and a least-squares
fit that shows when no linear map relates two embedding tables.

The module is not imported by ``allornone/__init__.py``; use
``from allornone.linear import recover_linear_map``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_int, as_matrix
from .model import NextTokenPredictor
from .subspaces import DEFAULT_RTOL, unembedding_difference_span

__all__ = ["spanning_rows", "LinearMap", "recover_linear_map", "best_linear_fit"]


def _check_model(name: str, model) -> NextTokenPredictor:
    if not isinstance(model, NextTokenPredictor):
        raise ValueError(f"{name} must be a NextTokenPredictor; got {type(model).__name__}")
    return model


def spanning_rows(X, r: int | None = None, rtol: float | None = None) -> np.ndarray:
    """Indices of ``r`` linearly independent rows of ``X``, chosen greedily.

    Pivoted Gram–Schmidt: at each step take the row with the largest
    component orthogonal to the rows already chosen. ``r`` defaults to the
    number of columns. Raises ``ValueError`` if ``X`` has fewer than ``r``
    independent rows (relative tolerance ``rtol``, default
    :data:`~allornone.subspaces.DEFAULT_RTOL`).

    Used to pick the tokens ``y₁, …, y_d`` of the proof of
    :prf:ref:`thm-linear-identifiability-diversity`.
    """
    X = as_matrix("X", X)
    r = X.shape[1] if r is None else as_int("r", r, min=0, max=X.shape[1])
    rtol = DEFAULT_RTOL if rtol is None else float(rtol)
    resid = X.copy()
    norms0 = np.linalg.norm(X, axis=1)
    scale = float(norms0.max()) if norms0.size else 0.0
    chosen: list[int] = []
    for step in range(r):
        norms = np.linalg.norm(resid, axis=1)
        norms[chosen] = -1.0
        i = int(np.argmax(norms))
        if norms[i] <= rtol * scale or scale == 0.0:
            raise ValueError(
                f"X must have at least r={r} linearly independent rows; found only {step}"
            )
        q = resid[i] / norms[i]
        resid = resid - np.outer(resid @ q, q)
        chosen.append(i)
    return np.array(chosen, dtype=int)


@dataclass(frozen=True)
class LinearMap:
    """The map ``A`` of :prf:ref:`def-linear-equivalence` recovered from two models.

    ``f_a(x) ≈ A f_b(x)`` and ``ḡ_a(y) ≈ A⁻ᵀ ḡ_b(y)``; the residuals are the
    largest absolute errors of the two identities over all contexts / tokens.
    ``tokens`` are the ``d`` tokens whose pivoted unembeddings form ``L``.
    """

    A: np.ndarray
    tokens: np.ndarray
    residual_f: float
    residual_g: float

    @property
    def residual(self) -> float:
        return max(self.residual_f, self.residual_g)


def recover_linear_map(a: NextTokenPredictor, b: NextTokenPredictor, pivot: int = 0) -> LinearMap:
    """Recover ``A`` with ``f_a = A f_b`` by the proof of :prf:ref:`thm-linear-identifiability-diversity`.

    Implements the construction ``A = L⁻ᵀ L̃ᵀ``: pick ``d`` tokens whose
    pivoted unembeddings ``ḡ_a(y_i)`` are linearly independent (the columns
    of ``L``; they exist because ``a`` has unembedding diversity), take the
    same tokens in ``b`` (``L̃``), and set ``A = L⁻ᵀ L̃ᵀ``. If the models have
    the same distribution and ``a`` has embedding diversity, both identities
    ``f_a = A f_b`` and ``ḡ_a = A⁻ᵀ ḡ_b`` hold exactly; the returned residuals
    measure them, so the function also works (with large residuals) on pairs
    that are *not* linearly equivalent.

    Raises ``ValueError`` if the models differ in dimension or in their
    contexts/tokens, or if ``a`` lacks unembedding diversity (then no ``L`` exists).
    """
    a = _check_model("a", a)
    b = _check_model("b", b)
    if (a.n_contexts, a.n_tokens) != (b.n_contexts, b.n_tokens):
        raise ValueError(
            "a and b must be defined on the same contexts and tokens; got "
            f"(n_contexts, n_tokens) = {(a.n_contexts, a.n_tokens)} and {(b.n_contexts, b.n_tokens)}"
        )
    if a.dim != b.dim:
        raise ValueError(f"a and b must have the same dimension for ~L; got {a.dim} and {b.dim}")
    pivot = a.check_pivot(pivot)
    d = a.dim
    if unembedding_difference_span(a).shape[1] != d:
        raise ValueError("a must have unembedding diversity (M = R^d) to build an invertible L")
    Ga, Gb = a.unembedding_differences(pivot), b.unembedding_differences(pivot)
    tokens = spanning_rows(Ga, d)
    L, Lt = Ga[tokens].T, Gb[tokens].T           # columns ḡ(y_i), shape (d, d)
    A = np.linalg.solve(L.T, Lt.T)                # A = L⁻ᵀ L̃ᵀ
    res_f = float(np.abs(a.F - b.F @ A.T).max())
    cond = np.linalg.cond(A)
    if not np.isfinite(cond) or cond > 1e12:
        return LinearMap(A=A, tokens=tokens, residual_f=res_f, residual_g=float("inf"))
    # ḡ_a(y)ᵀ = ḡ_b(y)ᵀ A⁻¹, row by row
    res_g = float(np.abs(Ga - np.linalg.solve(A.T, Gb.T).T).max())
    return LinearMap(A=A, tokens=tokens, residual_f=res_f, residual_g=res_g)


def best_linear_fit(F_target, F_source) -> tuple[np.ndarray, float]:
    """Least-squares ``A`` minimising ``‖F_target − F_source Aᵀ‖_F`` and its relative residual.

    Rows are paired (row ``i`` of each is the same context). ``A`` has shape
    ``(d_target, d_source)``. The relative residual
    ``‖F_target − F_source Aᵀ‖_F / ‖F_target‖_F`` is 0 exactly when some
    linear map sends every ``f_source(x)`` to ``f_target(x)``; used to show that
    :prf:ref:`def-linear-equivalence` fails without diversity.
    """
    F_target = as_matrix("F_target", F_target)
    F_source = as_matrix("F_source", F_source)
    if F_target.shape[0] != F_source.shape[0]:
        raise ValueError(
            f"F_target and F_source must have the same number of rows; got {F_target.shape[0]} and {F_source.shape[0]}"
        )
    At, *_ = np.linalg.lstsq(F_source, F_target, rcond=None)
    A = At.T
    denom = float(np.linalg.norm(F_target))
    resid = float(np.linalg.norm(F_target - F_source @ At))
    return A, (resid / denom if denom > 0 else resid)
