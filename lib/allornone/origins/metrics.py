"""The cosine metrics of Jiang et al. (2024) §4 (origins.md §4.4) on lookup-table models.

For concept ``i``:

* the **unembedding steering vectors** are ``g(c^(i→1)) − g(c^(i→0))`` over the
  ``2^(m−1)`` settings of the other concepts;
* the **embedding steering vectors** are ``f(d^(i→1)) − f(d^(i→0))`` over the
  ``3^(m−1)`` settings of the other context coordinates;
* "Unembedding" and "Embedding" are the average cosine over all pairs of
  distinct vectors within each set, "Between" the average over all pairs across
  the two sets (our reading: self-pairs excluded, all cross pairs used).

Each is averaged over concepts. With incomplete data only pairs whose two ends
were trained (``tokens`` ⊂ Ĉ, ``contexts`` ⊂ D̂) are used. Averages of unit
vectors are computed through their sums, so sets of ``3^(m−1)`` vectors cost
``O(n)``, not ``O(n²)``. Token and context numbering as in :mod:`allornone.latent`.

Implements :prf:ref:`def-origins-cosines` (book page *Tables 1 and 2*).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_int, as_matrix

__all__ = [
    "unembedding_pairs",
    "embedding_pairs",
    "steering_vectors",
    "mean_pairwise_cosine",
    "mean_cross_cosine",
    "concept_cosines",
    "origins_cosines",
    "cross_concept_cosines",
    "concept_log_odds",
    "kl_per_context",
]


def _present(n: int, subset) -> np.ndarray:
    keep = np.zeros(n, dtype=bool)
    if subset is None:
        keep[:] = True
    else:
        keep[np.asarray(subset, dtype=np.int64)] = True
    return keep


def unembedding_pairs(m: int, i: int, tokens=None) -> tuple[np.ndarray, np.ndarray]:
    """Token numbers ``(c^(i→1), c^(i→0))`` of concept ``i``'s counterfactual pairs (both ends in ``tokens``)."""
    m = as_int("m", m, min=1)
    i = as_int("i", i, min=0, max=m - 1)
    t0 = np.flatnonzero(((np.arange(2**m) >> i) & 1) == 0)
    t1 = t0 + 2**i
    keep = _present(2**m, tokens)
    ok = keep[t0] & keep[t1]
    return t1[ok], t0[ok]


def embedding_pairs(m: int, i: int, contexts=None) -> tuple[np.ndarray, np.ndarray]:
    """Context numbers ``(d^(i→1), d^(i→0))`` of concept ``i``'s counterfactual pairs (both ends in ``contexts``)."""
    m = as_int("m", m, min=1)
    i = as_int("i", i, min=0, max=m - 1)
    base = np.flatnonzero((np.arange(3**m) // 3**i) % 3 == 0)   # d_i = ⋄
    d0, d1 = base + 3**i, base + 2 * 3**i
    keep = _present(3**m, contexts)
    ok = keep[d0] & keep[d1]
    return d1[ok], d0[ok]


def steering_vectors(table, pairs) -> np.ndarray:
    """Rows ``table[a] − table[b]`` for ``pairs = (a, b)``."""
    table = np.asarray(table, dtype=np.float64)
    a, b = pairs
    return table[a] - table[b]


def _unit(V: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    return V / np.maximum(norms, 1e-300)


def mean_pairwise_cosine(V) -> float:
    """Average cosine over all pairs of distinct rows of ``V`` (NaN for fewer than two rows)."""
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2:
        raise ValueError(f"V must be a 2-D array of vectors; got shape {V.shape}")
    n = len(V)
    if n < 2:
        return float("nan")
    U = _unit(V)
    s = U.sum(axis=0)
    return float((s @ s - (U * U).sum()) / (n * (n - 1)))


def mean_cross_cosine(U, V) -> float:
    """Average cosine over all pairs ``(u, v)``, ``u`` a row of ``U`` and ``v`` a row of ``V``."""
    U, V = np.asarray(U, dtype=np.float64), np.asarray(V, dtype=np.float64)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ValueError(f"U and V must be 2-D with the same number of columns; got {U.shape} and {V.shape}")
    if len(U) == 0 or len(V) == 0:
        return float("nan")
    return float(_unit(U).sum(axis=0) @ _unit(V).sum(axis=0) / (len(U) * len(V)))


def _check_tables(F, G, m):
    m = as_int("m", m, min=1)
    G = as_matrix("G", G)
    F = as_matrix("F", F, ncols=G.shape[1])
    if G.shape[0] != 2**m:
        raise ValueError(f"G must have 2^m = {2**m} rows (one per concept vector); got {G.shape[0]}")
    if F.shape[0] != 3**m:
        raise ValueError(f"F must have 3^m = {3**m} rows (one per context); got {F.shape[0]}")
    return F, G, m


def concept_cosines(F, G, m: int, i: int, *, contexts=None, tokens=None) -> dict:
    """The three cosines of concept ``i``: ``unembedding``, ``embedding``, ``between``."""
    F, G, m = _check_tables(F, G, m)
    U = steering_vectors(G, unembedding_pairs(m, i, tokens))
    E = steering_vectors(F, embedding_pairs(m, i, contexts))
    return {"unembedding": mean_pairwise_cosine(U), "embedding": mean_pairwise_cosine(E),
            "between": mean_cross_cosine(U, E)}


def origins_cosines(F, G, m: int, *, contexts=None, tokens=None) -> dict:
    """The Table 1 metrics of one model: each cosine averaged over the ``m`` concepts.

    ``F`` is ``(3^m, dim)``, ``G`` is ``(2^m, dim)``; ``contexts``/``tokens``
    restrict to trained rows. Returns the three averages and, under
    ``per_concept``, the ``(m, 3)`` array they average (NaN-skipping).

    Implements :prf:ref:`def-origins-cosines`.
    """
    F, G, m = _check_tables(F, G, m)
    rows = [concept_cosines(F, G, m, i, contexts=contexts, tokens=tokens) for i in range(m)]
    per = np.array([[r["unembedding"], r["embedding"], r["between"]] for r in rows])
    mean = np.nanmean(per, axis=0) if np.isfinite(per).any() else np.full(3, np.nan)
    return {"unembedding": float(mean[0]), "embedding": float(mean[1]), "between": float(mean[2]),
            "per_concept": per}


def cross_concept_cosines(table, m: int, *, kind: str = "unembedding", subset=None) -> np.ndarray:
    """The ``m × m`` matrix of average cosines between the steering-vector sets of concepts ``i`` and ``j``.

    ``kind`` is ``"unembedding"`` (``table = G``) or ``"embedding"`` (``table = F``).
    The diagonal is the within-concept average (self-pairs excluded), as in the paper's Figure 7a.
    """
    m = as_int("m", m, min=1)
    if kind not in ("unembedding", "embedding"):
        raise ValueError(f"kind must be 'unembedding' or 'embedding'; got {kind!r}")
    table = as_matrix("table", table)
    pairs = unembedding_pairs if kind == "unembedding" else embedding_pairs
    n_rows = 2**m if kind == "unembedding" else 3**m
    if table.shape[0] != n_rows:
        raise ValueError(f"table must have {n_rows} rows for kind={kind!r}; got {table.shape[0]}")
    sets = [steering_vectors(table, pairs(m, i, subset)) for i in range(m)]
    M = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            M[i, j] = mean_pairwise_cosine(sets[i]) if i == j else mean_cross_cosine(sets[i], sets[j])
    return M


def concept_log_odds(log_probs, P, m: int) -> np.ndarray:
    """Every finite concept log-odds ``log p(c^(i→1)|d) − log p(c^(i→0)|d)``.

    Taken over concepts ``i``, contexts ``d`` with ``d_i`` unknown, and tokens
    ``c`` that agree with ``d`` (where the true conditional ``P`` is positive),
    in a fixed order, so that the vector of a model can be compared entry by
    entry with that of ``log P``. These are the log-odds the distribution pins
    down (:prf:ref:`rem-trained-not-equivalent`). Rows of ``log_probs`` and
    ``P`` are all ``3^m`` contexts, columns all ``2^m`` tokens, numbered as in
    :mod:`allornone.latent`.
    """
    m = as_int("m", m, min=1)
    log_probs = np.asarray(log_probs, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64)
    for name, arr in (("log_probs", log_probs), ("P", P)):
        if arr.shape != (3**m, 2**m):
            raise ValueError(f"{name} must have shape (3^m, 2^m) = {(3**m, 2**m)}; got {arr.shape}")
    vals = []
    for i in range(m):
        D = np.flatnonzero((np.arange(3**m) // 3**i) % 3 == 0)      # contexts with d_i unknown
        T0 = np.flatnonzero(((np.arange(2**m) >> i) & 1) == 0)      # tokens with c_i = 0
        ok = P[np.ix_(D, T0)] > 0
        vals.append((log_probs[np.ix_(D, T0 + 2**i)] - log_probs[np.ix_(D, T0)])[ok])
    return np.concatenate(vals)


def kl_per_context(log_p, log_q) -> np.ndarray:
    """``KL(p(·|x) ‖ q(·|x))`` for every context (row) of two log-probability tables."""
    log_p = np.asarray(log_p, dtype=np.float64)
    log_q = np.asarray(log_q, dtype=np.float64)
    if log_p.shape != log_q.shape or log_p.ndim != 2:
        raise ValueError(f"log_p and log_q must be 2-D arrays of one shape; got {log_p.shape} and {log_q.shape}")
    p = np.exp(log_p)
    return (p * np.where(p > 0, log_p - log_q, 0.0)).sum(axis=1)
