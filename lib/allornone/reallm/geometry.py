"""Linear geometry of word-pair offsets on plain numpy tables (float64).

For a relation given as token pairs ``(a_i, b_i)`` the offsets are the unembedding
differences ``δ_i = g(b_i) − g(a_i)`` (:prf:ref:`def-parallel-unembedding`). This module measures

* how parallel the offsets of one relation are (mean pairwise cosine), against two baselines:
  **shuffled** pairs ``g(b_π(i)) − g(a_i)`` (the same words, wrong partners) and **random**
  pairs of tokens;
* the distribution-level counterpart, the **log-ratios** ``r_i(x) = log p(b_i|x) − log p(a_i|x)
  = f(x)ᵀ δ_i`` over a set of contexts, and how consistent they are across pairs;
* cosines under the **whitened** ("causal") inner product of Park et al.,
  ``⟨u, v⟩ = uᵀ Cov(g)⁻¹ v``, which is unchanged by ``f ↦ A f, g ↦ A⁻ᵀ g``;
* the cross-relation matrix of average cosines (the heatmap of Jiang et al.).

Everything works on arrays (``F`` with one row ``f(x)`` per context, ``G`` with one row
``g(y)`` per token), so it is tested on tiny synthetic models and applied to SmolLM2 unchanged.

``G`` can be large (49152 × 576 for SmolLM2, 262144 × 640 for Gemma 3), so the functions that only
gather a few rows of it neither copy nor validate all of it: a float64 ``G`` is used in place and
only the rows a call reads are checked to be finite. Permutation baselines
(:func:`permutation_test`, :func:`relation_baselines`) work on the gathered rows only.
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from .._validate import as_int, as_matrix, as_rng

#: relations with fewer pairs get no baseline claim: 2 pairs have one derangement, 4 pairs nine
MIN_PAIRS = 5


def _table(name: str, G) -> np.ndarray:
    """``G`` as a 2-D float64 array *without copying* a float64 input (finiteness is checked on gathered rows)."""
    arr = np.asarray(G)
    if arr.dtype != np.float64:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric 2-D array; got {arr.dtype}") from exc
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (rows x dimension); got shape {arr.shape}")
    return arr


def _rows(name: str, G: np.ndarray, idx) -> np.ndarray:
    out = G[idx]
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite; rows used here hold NaN or inf entries")
    return out

__all__ = [
    "MIN_PAIRS",
    "PermutationTest",
    "permutation_test",
    "relation_baselines",
    "diagonal_dominant",
    "numerical_rank_curve",
    "pair_differences",
    "cosine_matrix",
    "mean_pairwise_cosine",
    "mean_cross_cosine",
    "cross_relation_matrix",
    "derangement",
    "shuffled_differences",
    "random_pair_differences",
    "log_ratios",
    "log_ratio_consistency",
    "whitener",
    "whiten",
    "gram_singular_values",
]


def _pairs(name: str, pairs, n_tokens: int) -> np.ndarray:
    arr = np.asarray(pairs)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty integer array of (a, b) token-id pairs, shape (n, 2); got {arr.shape}")
    if arr.min() < 0 or arr.max() >= n_tokens:
        raise ValueError(f"{name} must hold token ids in [0, {n_tokens}); got ids from {arr.min()} to {arr.max()}")
    return arr.astype(np.int64)


def pair_differences(G, pairs) -> np.ndarray:
    """Offsets ``δ_i = g(b_i) − g(a_i)``, one row per pair, shape ``(n_pairs, d)``.

    Implements the vectors of :prf:ref:`def-parallel-unembedding`.
    """
    G = _table("G", G)
    p = _pairs("pairs", pairs, G.shape[0])
    return _rows("G", G, p[:, 1]) - _rows("G", G, p[:, 0])


def cosine_matrix(U, V=None) -> np.ndarray:
    """All cosines between the rows of ``U`` and the rows of ``V`` (default ``V = U``).

    Raises ``ValueError`` if a row is zero (its direction is undefined).
    """
    U = as_matrix("U", U)
    V = U if V is None else as_matrix("V", V, ncols=U.shape[1])
    nu, nv = np.linalg.norm(U, axis=1), np.linalg.norm(V, axis=1)
    if np.any(nu == 0) or np.any(nv == 0):
        raise ValueError("U and V must have no zero rows: a zero offset has no direction")
    return (U / nu[:, None]) @ (V / nv[:, None]).T


def mean_pairwise_cosine(D) -> float:
    """Mean cosine over the distinct pairs ``i < j`` of rows of ``D`` (needs at least 2 rows).

    The within-relation parallelism score: 1 when all offsets are parallel with the same
    orientation (:prf:ref:`def-parallel-unembedding`), about 0 for unrelated directions.
    """
    D = as_matrix("D", D)
    if D.shape[0] < 2:
        raise ValueError(f"D must have at least 2 rows to compare; got {D.shape[0]}")
    C = cosine_matrix(D)
    iu = np.triu_indices(D.shape[0], k=1)
    return float(C[iu].mean())


def mean_cross_cosine(D1, D2) -> float:
    """Mean cosine over all pairs (row of ``D1``, row of ``D2``): one entry of the heatmap."""
    return float(cosine_matrix(D1, D2).mean())


def cross_relation_matrix(groups) -> np.ndarray:
    """``m × m`` matrix of average cosines between the offset sets of ``m`` relations.

    The diagonal is the within-relation mean over distinct pairs (:func:`mean_pairwise_cosine`),
    the off-diagonal entries the mean over all cross pairs (:func:`mean_cross_cosine`). This is
    the cross-concept heatmap of :cite:t:`jiang2024origins` (their Figure 3).
    """
    groups = [as_matrix(f"groups[{i}]", g) for i, g in enumerate(groups)]
    if not groups:
        raise ValueError("groups must hold at least one offset matrix")
    m = len(groups)
    H = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            H[i, j] = mean_pairwise_cosine(groups[i]) if i == j else mean_cross_cosine(groups[i], groups[j])
    return H


def derangement(n: int, rng) -> np.ndarray:
    """A uniformly random permutation of ``range(n)`` with no fixed point (``n ≥ 2``)."""
    n = as_int("n", n, min=2)
    rng = as_rng("rng", rng)
    while True:
        p = rng.permutation(n)
        if not np.any(p == np.arange(n)):
            return p


def shuffled_differences(G, pairs, rng) -> np.ndarray:
    """Shuffled-pair baseline ``g(b_π(i)) − g(a_i)`` with ``π`` a random derangement.

    Same words as the relation, wrong partners: what is left of the parallelism is the part
    shared by all targets (e.g. a common suffix direction), not the pairing.
    """
    G = _table("G", G)
    p = _pairs("pairs", pairs, G.shape[0])
    if p.shape[0] < 2:
        raise ValueError("pairs must hold at least 2 pairs to shuffle")
    pi = derangement(p.shape[0], rng)
    return _rows("G", G, p[pi, 1]) - _rows("G", G, p[:, 0])


def random_pair_differences(G, pool, n_pairs: int, rng) -> np.ndarray:
    """Random-pair baseline: ``g(b) − g(a)`` for ``n_pairs`` random pairs of distinct ids from ``pool``."""
    G = _table("G", G)
    pool = np.unique(np.asarray(pool))
    if pool.ndim != 1 or pool.size < 2 or not np.issubdtype(pool.dtype, np.integer):
        raise ValueError("pool must hold at least 2 distinct integer token ids")
    if pool.min() < 0 or pool.max() >= G.shape[0]:
        raise ValueError(f"pool must hold token ids in [0, {G.shape[0]})")
    n_pairs = as_int("n_pairs", n_pairs, min=2)
    rng = as_rng("rng", rng)
    idx = np.array([rng.choice(pool, size=2, replace=False) for _ in range(n_pairs)])
    return _rows("G", G, idx[:, 1]) - _rows("G", G, idx[:, 0])


def log_ratios(F, D) -> np.ndarray:
    """Log-ratios ``r_i(x) = f(x)ᵀ δ_i = log p(b_i|x) − log p(a_i|x)``, shape ``(n_contexts, n_pairs)``.

    They are functions of the distribution only, the distribution-level counterpart of the
    offsets (:prf:ref:`prop-parallel-log-ratios`).
    """
    F = as_matrix("F", F)
    D = as_matrix("D", D, ncols=F.shape[1])
    return F @ D.T


def log_ratio_consistency(R, centred: bool = True) -> float:
    """Mean over pairs ``i < j`` of the cosine between columns ``r_i`` and ``r_j`` of ``R``.

    ``R`` holds one row per context and one column per pair. With ``centred=True`` the
    columns are centred first, so this is the mean Pearson correlation across contexts;
    with ``centred=False`` it is the mean uncentred cosine, which is ±1 exactly when
    ``r_i = λ r_j`` in every context (the "same log-ratios" counterpart of parallelism).
    Both are functions of the next-token distribution only.
    """
    R = as_matrix("R", R)
    if R.shape[1] < 2 or R.shape[0] < 2:
        raise ValueError(f"R must have at least 2 contexts (rows) and 2 pairs (columns); got shape {R.shape}")
    if not isinstance(centred, bool):
        raise ValueError(f"centred must be True or False; got {centred!r}")
    X = R - R.mean(axis=0) if centred else R
    return mean_pairwise_cosine(X.T)


def whitener(G) -> np.ndarray:
    """``W = Cov(g)^{-1/2}`` (symmetric), with ``Cov`` the covariance of the rows of ``G``.

    Then ``⟨u, v⟩_W = (W u)ᵀ (W v) = uᵀ Cov(g)⁻¹ v`` is the causal inner product of
    :cite:t:`park2024linear`. If ``g ↦ A⁻ᵀ g`` then ``Cov ↦ A⁻ᵀ Cov A⁻¹`` and offsets
    ``δ ↦ A⁻ᵀ δ``, so whitened inner products do not change: ``W' A⁻ᵀ = O W`` with ``O``
    orthogonal. Raises ``ValueError`` if the covariance is singular.
    """
    G = _table("G", G)
    if G.shape[0] <= G.shape[1]:
        raise ValueError(f"G must have more rows (tokens) than columns (d) to estimate Cov(g); got shape {G.shape}")
    # Cov = (GᵀG − n μμᵀ)/(n − 1), without a centred copy of G (226 MB for SmolLM2)
    n = G.shape[0]
    mu = G.mean(axis=0)
    C = (G.T @ G - n * np.outer(mu, mu)) / (n - 1)
    if not np.all(np.isfinite(C)):
        raise ValueError("G must be finite; it has NaN or inf entries")
    w, V = np.linalg.eigh(C)
    if w[0] <= 1e-12 * w[-1]:
        raise ValueError("G must have a non-singular covariance; the rows do not span R^d after centring")
    return (V / np.sqrt(w)) @ V.T


def whiten(D, W) -> np.ndarray:
    """Rows ``W δ`` of the offsets ``D`` under the whitener ``W`` of :func:`whitener`."""
    W = as_matrix("W", W)
    D = as_matrix("D", D, ncols=W.shape[0])
    return D @ W.T


def gram_singular_values(X) -> np.ndarray:
    """Singular values of a tall ``X`` (``n ≥ d``) from the eigenvalues of ``Xᵀ X``, largest first.

    For the 49152 × 576 unembedding matrix this is several times cheaper than an SVD. Squaring
    loses precision: values below about ``1e-7 × (largest)`` are not resolved, so use it for
    ranks only with a relative tolerance well above that (``rtol=1e-6`` on the pages).
    """
    X = _table("X", X)
    if X.shape[0] < X.shape[1]:
        raise ValueError(f"X must have at least as many rows as columns; got shape {X.shape}")
    ev = np.linalg.eigvalsh(X.T @ X)[::-1]
    return np.sqrt(np.clip(ev, 0.0, None))


# --- permutation baselines and counts --------------------------------------------------------

@dataclass(frozen=True)
class PermutationTest:
    """A statistic of a relation's offsets against its values on shuffled pairs.

    ``null`` holds the statistic for ``len(null)`` random derangements ``π`` (offsets
    ``g(b_π(i)) − g(a_i)``); ``p_value = (1 + #{null ≥ observed}) / (1 + len(null))``, the usual
    conservative Monte-Carlo p-value. ``flagged`` is true for a relation with fewer than
    :data:`MIN_PAIRS` pairs: too few derangements for a baseline claim.
    """

    observed: float
    null: np.ndarray
    p_value: float
    n_pairs: int

    @property
    def flagged(self) -> bool:
        return self.n_pairs < MIN_PAIRS

    @property
    def null_mean(self) -> float:
        return float(self.null.mean())

    def beats(self, alpha: float = 0.05) -> bool:
        """``p_value < alpha`` for an unflagged relation (a flagged one never beats its baseline)."""
        return (not self.flagged) and self.p_value < alpha


def permutation_test(Ga, Gb, statistic, n_shuffles: int, rng) -> PermutationTest:
    """Permutation baseline of ``statistic(D)`` for offsets ``D = Gb − Ga`` (row ``i`` pairs ``a_i`` with ``b_i``).

    ``Ga`` and ``Gb`` are the gathered rows ``g(a_i)`` and ``g(b_i)`` (e.g. ``G[ids[:, 0]]``), so a
    shuffle costs a gather of ``n_pairs`` rows, never a pass over ``G``. ``statistic`` maps an
    ``(n_pairs, d)`` offset matrix to a number (e.g. :func:`mean_pairwise_cosine`).
    """
    Ga = as_matrix("Ga", Ga)
    Gb = as_matrix("Gb", Gb, ncols=Ga.shape[1])
    if Ga.shape != Gb.shape or Ga.shape[0] < 2:
        raise ValueError(f"Ga and Gb must have the same shape with at least 2 rows; got {Ga.shape} and {Gb.shape}")
    n_shuffles = as_int("n_shuffles", n_shuffles, min=1)
    rng = as_rng("rng", rng)
    if not callable(statistic):
        raise ValueError("statistic must be a function of the offset matrix")
    observed = float(statistic(Gb - Ga))
    null = np.array([float(statistic(Gb[derangement(Ga.shape[0], rng)] - Ga)) for _ in range(n_shuffles)])
    p = (1 + int(np.sum(null >= observed))) / (1 + n_shuffles)
    return PermutationTest(observed, null, float(p), Ga.shape[0])


def relation_baselines(G, ids: dict, n_shuffles: int, rng, *, F=None, W=None) -> dict:
    """Permutation tests of every relation: ``{"raw": {name: PermutationTest}, ...}``.

    Kinds: ``"raw"`` (mean pairwise cosine of the offsets), ``"whitened"`` (the same after
    :func:`whiten` with ``W``, if given) and ``"log-ratio"`` (:func:`log_ratio_consistency` of
    ``F δ``, if ``F`` is given). ``ids`` maps relation names to ``(n, 2)`` token-id arrays; relations
    with fewer than 2 pairs are skipped (no statistic). ``G`` is only indexed, never copied.
    """
    G = _table("G", G)
    n_shuffles = as_int("n_shuffles", n_shuffles, min=1)
    rng = as_rng("rng", rng)
    # Every statistic is linear in the offsets before its score, so each relation's rows are transformed
    # once and the shuffles permute the transformed rows: whitening (Wg) and log-ratios (F g) per pair.
    kinds = {"raw": (None, mean_pairwise_cosine)}
    if W is not None:
        W = as_matrix("W", W, ncols=G.shape[1])
        kinds["whitened"] = (lambda X: X @ W.T, mean_pairwise_cosine)
    if F is not None:
        F = as_matrix("F", F, ncols=G.shape[1])
        kinds["log-ratio"] = (lambda X: X @ F.T, lambda R: log_ratio_consistency(R.T))
    out = {k: {} for k in kinds}
    for name, p in ids.items():
        p = np.asarray(p)
        if p.ndim != 2 or p.shape[0] < 2:
            continue
        p = _pairs(f"ids[{name!r}]", p, G.shape[0])
        Ga, Gb = _rows("G", G, p[:, 0]), _rows("G", G, p[:, 1])
        for kind, (transform, stat) in kinds.items():
            Ta, Tb = (Ga, Gb) if transform is None else (transform(Ga), transform(Gb))
            out[kind][name] = permutation_test(Ta, Tb, stat, n_shuffles, rng)
    return out


def diagonal_dominant(H) -> np.ndarray:
    """Boolean per row of a square heatmap: is ``H[i, i]`` larger than every other entry of row ``i``?"""
    H = as_matrix("H", H)
    if H.shape[0] != H.shape[1] or H.shape[0] < 2:
        raise ValueError(f"H must be a square matrix with at least 2 rows; got shape {H.shape}")
    off = np.where(np.eye(H.shape[0], dtype=bool), -np.inf, H)
    return np.diag(H) > off.max(axis=1)


def numerical_rank_curve(F, counts, rtol: float = 1e-6) -> np.ndarray:
    """Numerical rank of the first ``n`` rows of ``F`` for every ``n`` in ``counts``.

    The rank counts singular values above ``rtol`` times the largest (of those ``n`` rows): the
    dimension of the span ``N`` of the embeddings of the first ``n`` contexts
    (:prf:ref:`def-real-subspace-conditions`).
    """
    F = as_matrix("F", F)
    counts = [as_int("counts[i]", c, min=1, max=F.shape[0]) for c in counts]
    if not (isinstance(rtol, float) and 0 < rtol < 1):
        raise ValueError(f"rtol must be a float in (0, 1); got {rtol!r}")
    out = []
    for n in counts:
        sv = np.linalg.svd(F[:n], compute_uv=False)
        out.append(int(np.sum(sv > rtol * sv[0])))
    return np.array(out)
