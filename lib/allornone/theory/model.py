"""Next-token predictors on a finite set of contexts and a finite vocabulary.

A model of dimension ``d`` is a pair of tables: embeddings ``F`` (one row
``f(x)`` per context) and unembeddings ``G`` (one row ``g(y)`` per token). It
induces ``p(y | x) = softmax_y(f(x)ᵀ g(y))``.

Implements :prf:ref:`def-next-token-predictor` and the pivoted log-odds of the
book page *Next-token predictors*.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_index, as_matrix

__all__ = ["NextTokenPredictor", "softmax", "log_softmax"]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, stable for large logits (subtracts the row max)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits (subtracts the row max)."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


class NextTokenPredictor:
    """A next-token predictor ``p(y | x) ∝ exp(f(x)ᵀ g(y))`` given by tables.

    Implements :prf:ref:`def-next-token-predictor`.

    Parameters
    ----------
    F : array (n_contexts, d)
        Embeddings; row ``i`` is ``f(x_i)``.
    G : array (n_tokens, d)
        Unembeddings; row ``j`` is ``g(y_j)``.

    Both are copied to float64 and must be finite with the same number of
    columns ``d``. Instances are treated as immutable: every move of the
    equivalence class returns a new model.
    """

    __slots__ = ("_F", "_G")

    def __init__(self, F, G):
        F = as_matrix("F", F)
        G = as_matrix("G", G)
        if F.shape[1] != G.shape[1]:
            raise ValueError(
                f"F and G must have the same number of columns (the dimension d); "
                f"got F with {F.shape[1]} and G with {G.shape[1]}"
            )
        F.setflags(write=False)
        G.setflags(write=False)
        self._F = F
        self._G = G

    # --- the tables -----------------------------------------------------
    @property
    def F(self) -> np.ndarray:
        """Embeddings, shape (n_contexts, d); read-only."""
        return self._F

    @property
    def G(self) -> np.ndarray:
        """Unembeddings, shape (n_tokens, d); read-only."""
        return self._G

    @property
    def dim(self) -> int:
        """Representation dimension ``d``."""
        return self._F.shape[1]

    @property
    def n_contexts(self) -> int:
        return self._F.shape[0]

    @property
    def n_tokens(self) -> int:
        return self._G.shape[0]

    def __repr__(self) -> str:
        return f"NextTokenPredictor(n_contexts={self.n_contexts}, n_tokens={self.n_tokens}, dim={self.dim})"

    # --- the distribution -----------------------------------------------
    def logits(self) -> np.ndarray:
        """``f(x)ᵀ g(y)`` for every context and token, shape (n_contexts, n_tokens)."""
        return self._F @ self._G.T

    def log_probs(self) -> np.ndarray:
        """``log p(y | x)``, shape (n_contexts, n_tokens)."""
        return log_softmax(self.logits())

    def probs(self) -> np.ndarray:
        """``p(y | x)`` by a numerically stable softmax, shape (n_contexts, n_tokens)."""
        return softmax(self.logits())

    def check_pivot(self, pivot) -> int:
        """Validate a pivot token index and return it as an int."""
        return as_index("pivot", pivot, self.n_tokens)

    def unembedding_differences(self, pivot: int = 0) -> np.ndarray:
        """``ḡ(y) = g(y) − g(y₀)`` for every token, shape (n_tokens, d)."""
        pivot = self.check_pivot(pivot)
        return self._G - self._G[pivot]

    def log_odds(self, pivot: int = 0) -> np.ndarray:
        """The log-odds matrix ``Λ[x, y] = log p(y|x) − log p(y₀|x) = f(x)ᵀ ḡ(y)``.

        It is a function of the distribution only (page *Next-token
        predictors*, :prf:ref:`def-next-token-predictor`), shape
        (n_contexts, n_tokens), with a zero column at the pivot.
        """
        return self._F @ self.unembedding_differences(pivot).T

    def with_tables(self, F=None, G=None) -> "NextTokenPredictor":
        """A new model with ``F`` and/or ``G`` replaced."""
        return NextTokenPredictor(self._F if F is None else F, self._G if G is None else G)
