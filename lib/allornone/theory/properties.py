"""Linear properties of next-token predictors, their subspace conditions, and
their transfer to distribution-equivalent models.

For every property of part III of the book this module has three functions:

* a **checker** — does this model have the property (with a tolerance)?
  Checkers return a :class:`Check` (``holds``, a ``residual`` and the
  ``witness``: the ratio ``λ``, the relation ``(A, a)``, …);
* a **condition** — the subspace condition under which the property is
  all-or-none; returns a :class:`Condition`;
* a **transfer** — the matching object in an equivalent model (the ratio, the
  relation matrix, the probe, the steering vector).

A property *instance* is a small frozen dataclass that names the tokens or
contexts involved, by their row index in ``G`` or ``F``:

=================================  =====================================================
:class:`ParallelUnembedding`       two token pairs ``(a_i, b_i)``; ``δ_i = g(b_i) − g(a_i)``
:class:`ParallelEmbedding`         two context pairs ``(x_i, x_i')``; ``Δ_i = f(x_i') − f(x_i)``
:class:`RelationalQuery`           rows of ``S``, the paired rows of ``S ⊕ q``, answer tokens ``Y_q``
:class:`Concept`                   rows of ``S`` and a 0/1 label per row (for probes)
:class:`SteeringTarget`            a target pair ``(y_1, y_0)`` and an off-target token set
=================================  =====================================================

A relational string ``s ⊕ q`` is simply another context of the finite table:
``RelationalQuery(base=(0, 1, 2), queried=(10, 11, 12), answers=(3, 4, 5))``
says that row 10 of ``F`` is the context ``s₀ ⊕ q`` for the context ``s₀`` of
row 0, and so on.

Everything is float64 numpy. Tolerances are relative to the size of the
quantities compared. Implements the items of the book pages
:prf:ref:`lem-transfer` to :prf:ref:`thm-steering`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .._validate import as_index, as_int, as_positive_float, as_rng, as_vector
from .equivalence import max_prob_difference, random_equivalent
from .model import NextTokenPredictor, softmax
from .subspaces import (
    complement,
    embedding_span,
    in_span,
    numerical_rank,
    orth,
    unembedding_difference_span,
)

__all__ = [
    "DEFAULT_TOL",
    "Check",
    "Condition",
    "ParallelUnembedding",
    "ParallelEmbedding",
    "RelationalQuery",
    "Concept",
    "SteeringTarget",
    # transfer lemma
    "identifiable_embedding_directions",
    "identifiable_unembedding_directions",
    "functional_coefficients",
    "direction_coefficients",
    "transfer_functional",
    "transfer_direction",
    # parallelism
    "unembedding_offsets",
    "embedding_offsets",
    "check_parallel_unembeddings",
    "check_same_log_ratios",
    "condition_parallel_unembeddings",
    "transfer_parallel_unembeddings",
    "check_parallel_embeddings",
    "check_parallel_log_odds_differences",
    "condition_parallel_embeddings",
    "transfer_parallel_embeddings",
    # relational linearity
    "answer_basis",
    "answer_log_odds",
    "check_relational_strong",
    "condition_relational_strong",
    "transfer_relational_strong",
    "check_relational_projected",
    "condition_relational_projected",
    "relational_log_odds_map",
    "transfer_relational_projected",
    # linear subspace
    "affine_dimension",
    "answer_subspace_dimension",
    "check_linear_subspace",
    "condition_linear_subspace",
    # probing
    "probe_scores",
    "check_probe",
    "condition_probe",
    "transfer_probe",
    # steering
    "steering_effects",
    "check_steering",
    "condition_steering",
    "transfer_steering",
    "steered_probs",
    # experiments
    "AllOrNone",
    "all_or_none",
    # constructed examples and counterexamples
    "parallel_unembedding_example",
    "parallelism_counterexample",
    "parallel_embedding_example",
    "parallel_embedding_counterexample",
    "relational_example",
    "relational_strong_counterexample",
    "relational_sc_example",
    "relational_sc_counterexample",
    "subspace_example",
    "subspace_counterexample",
    "probe_example",
    "probe_counterexample_model",
    "probe_counterexample",
    "probe_accuracy_bound",
    "steering_example",
    "steering_counterexample_model",
    "steering_counterexample",
]

#: Default relative tolerance of the checkers.
DEFAULT_TOL = 1e-7


# --- results -------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """The answer of a checker: ``holds`` (within the tolerance), the
    ``residual`` that was compared with the tolerance, and the ``witness``
    (the object that makes the property true, e.g. ``λ`` or ``(A, a)``)."""

    holds: bool
    residual: float
    witness: object = None

    def __bool__(self) -> bool:
        return bool(self.holds)


@dataclass(frozen=True)
class Condition:
    """A subspace condition: its ``name`` (as in the book), whether it ``holds``,
    and the ``residual`` (distance from satisfying it, relative)."""

    name: str
    holds: bool
    residual: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.holds)


# --- property instances -----------------------------------------------------------

def _index_tuple(name: str, values, upper: int | None = None, min_len: int = 1) -> tuple:
    try:
        vals = tuple(int(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of integer indices; got {values!r}") from exc
    if len(vals) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} indices; got {len(vals)}")
    if any(v < 0 for v in vals):
        raise ValueError(f"{name} must hold non-negative indices; got {vals}")
    if upper is not None and any(v >= upper for v in vals):
        raise ValueError(f"{name} must hold indices below {upper}; got {vals}")
    return vals


def _pairs(name: str, pairs) -> tuple:
    try:
        out = tuple(tuple(int(v) for v in p) for p in pairs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be two pairs of integer indices; got {pairs!r}") from exc
    if len(out) != 2 or any(len(p) != 2 for p in out):
        raise ValueError(f"{name} must be exactly two pairs (a1, b1), (a2, b2); got {pairs!r}")
    if any(v < 0 for p in out for v in p):
        raise ValueError(f"{name} must hold non-negative indices; got {out}")
    if any(p[0] == p[1] for p in out):
        raise ValueError(f"{name}: each pair must name two different items; got {out}")
    return out


@dataclass(frozen=True)
class ParallelUnembedding:
    """Two token pairs ``((a1, b1), (a2, b2))`` — e.g. (easy, easiest) and
    (lucky, luckiest) — with offsets ``δ_i = g(b_i) − g(a_i)``
    (:prf:ref:`def-parallel-unembedding`)."""

    pairs: tuple

    def __post_init__(self):
        object.__setattr__(self, "pairs", _pairs("pairs", self.pairs))


@dataclass(frozen=True)
class ParallelEmbedding:
    """Two context pairs ``((x1, x1'), (x2, x2'))`` with offsets
    ``Δ_i = f(x_i') − f(x_i)`` (:prf:ref:`prop-parallel-embedding`)."""

    pairs: tuple

    def __post_init__(self):
        object.__setattr__(self, "pairs", _pairs("pairs", self.pairs))


@dataclass(frozen=True)
class RelationalQuery:
    """A query ``q`` on a finite context set ``S``.

    ``base[i]`` is the row of ``F`` holding ``f(s_i)`` and ``queried[i]`` the
    row holding ``f(s_i ⊕ q)``; ``answers`` are the answer tokens ``Y_q``
    (at least two; the first is the answer pivot ``y_{q,0}``).
    Used by :prf:ref:`def-relational-linearity-strong`,
    :prf:ref:`def-relational-linearity-projected` and
    :prf:ref:`def-linear-subspace`.
    """

    base: tuple
    queried: tuple
    answers: tuple

    def __post_init__(self):
        base = _index_tuple("base", self.base)
        queried = _index_tuple("queried", self.queried)
        answers = _index_tuple("answers", self.answers, min_len=2)
        if len(base) != len(queried):
            raise ValueError(f"base and queried must have the same length (one s ⊕ q per s); got {len(base)} and {len(queried)}")
        if len(set(answers)) != len(answers):
            raise ValueError(f"answers must be distinct tokens; got {answers}")
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "queried", queried)
        object.__setattr__(self, "answers", answers)


@dataclass(frozen=True)
class Concept:
    """A binary concept ``c: S → {0, 1}``: ``contexts`` (rows of ``F``) and one
    0/1 ``labels`` entry per context (:prf:ref:`def-linear-probe`)."""

    contexts: tuple
    labels: tuple

    def __post_init__(self):
        contexts = _index_tuple("contexts", self.contexts, min_len=2)
        labels = _index_tuple("labels", self.labels, upper=2, min_len=2)
        if len(contexts) != len(labels):
            raise ValueError(f"labels must have one entry per context; got {len(labels)} labels for {len(contexts)} contexts")
        if len(set(labels)) != 2:
            raise ValueError("labels must contain both classes 0 and 1")
        object.__setattr__(self, "contexts", contexts)
        object.__setattr__(self, "labels", labels)


@dataclass(frozen=True)
class SteeringTarget:
    """A steering task (:prf:ref:`def-steering`): raise ``log p(y1)/p(y0)``
    (``target = (y1, y0)``) while leaving every log-ratio inside ``off_target``
    unchanged."""

    target: tuple
    off_target: tuple

    def __post_init__(self):
        target = _index_tuple("target", self.target, min_len=2)
        if len(target) != 2 or target[0] == target[1]:
            raise ValueError(f"target must be two different tokens (y1, y0); got {self.target!r}")
        off = _index_tuple("off_target", self.off_target, min_len=2)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "off_target", off)


# --- helpers ----------------------------------------------------------------------------

def _check_model(name: str, model) -> NextTokenPredictor:
    if not isinstance(model, NextTokenPredictor):
        raise ValueError(f"{name} must be a NextTokenPredictor; got {type(model).__name__}")
    return model


def _tol(tol) -> float:
    return DEFAULT_TOL if tol is None else as_positive_float("tol", tol)


def _check_tokens(model, name, idx):
    for i in idx:
        as_index(name, i, model.n_tokens)


def _check_contexts(model, name, idx):
    for i in idx:
        as_index(name, i, model.n_contexts)


def _parallel(u: np.ndarray, v: np.ndarray, tol: float) -> Check:
    """Is ``u = λ v`` with ``λ ≠ 0``? Residual: ``|sin ∠(u, v)|`` (1 if either is ~0)."""
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    scale = max(nu, nv, 1e-300)
    if min(nu, nv) <= tol * scale or scale <= 1e-300:
        return Check(False, 1.0, None)
    lam = float(u @ v) / nv**2
    sin = float(np.linalg.norm(u - lam * v)) / nu
    return Check(sin <= tol, sin, lam)


def _sum_member(u: np.ndarray, *bases: np.ndarray) -> float:
    """Relative distance of ``u`` from ``span(B1) + span(B2) + …`` (0 if inside)."""
    cols = [b for b in bases if b.shape[1]]
    n = float(np.linalg.norm(u))
    if n == 0:
        return 0.0
    if not cols:
        return 1.0
    Q = orth(np.hstack(cols))
    return float(np.linalg.norm(u - Q @ (Q.T @ u))) / n


def _rows_span(A: np.ndarray) -> np.ndarray:
    return orth(np.atleast_2d(A).T)


# --- the transfer lemma (R-Lem 3) -------------------------------------------------------

def identifiable_embedding_directions(model: NextTokenPredictor, w, contexts=None, tol: float | None = None) -> Condition:
    """Is ``w ∈ M + N^⊥`` (or ``M + N_S^⊥`` for a subset ``contexts``)?

    Implements :prf:ref:`lem-transfer` (i): exactly these vectors define a
    functional ``x ↦ wᵀ f(x)`` of the contexts that the distribution fixes.
    """
    model = _check_model("model", model)
    w = as_vector("w", w, size=model.dim)
    tol = _tol(tol)
    N = embedding_span(model, contexts=None if contexts is None else list(contexts))
    r = _sum_member(w, unembedding_difference_span(model), complement(N, model.dim))
    return Condition("w ∈ M + N^⊥" if contexts is None else "w ∈ M + N_S^⊥", r <= tol, r)


def identifiable_unembedding_directions(model: NextTokenPredictor, v, tol: float | None = None) -> Condition:
    """Is ``v ∈ N + M^⊥``? Implements :prf:ref:`lem-transfer` (ii)."""
    model = _check_model("model", model)
    v = as_vector("v", v, size=model.dim)
    tol = _tol(tol)
    r = _sum_member(v, embedding_span(model), complement(unembedding_difference_span(model), model.dim))
    return Condition("v ∈ N + M^⊥", r <= tol, r)


def functional_coefficients(model: NextTokenPredictor, w, contexts=None, pivot: int = 0) -> tuple[np.ndarray, float]:
    """Coefficients ``β`` with ``wᵀ f(x) = Σ_y β_y ℓ(x, y)`` on ``contexts``
    (all by default), by least squares, and the relative residual.

    A small residual means ``w ∈ M + N_S^⊥`` (:prf:ref:`lem-transfer` (i)).
    """
    model = _check_model("model", model)
    w = as_vector("w", w, size=model.dim)
    rows = np.arange(model.n_contexts) if contexts is None else np.asarray(contexts, dtype=int)
    _check_contexts(model, "contexts", rows)
    Lam = model.log_odds(pivot)[rows]
    target = model.F[rows] @ w
    beta, *_ = np.linalg.lstsq(Lam, target, rcond=None)
    scale = max(float(np.linalg.norm(model.F[rows], 2) * np.linalg.norm(w)), 1e-300)
    return beta, float(np.abs(Lam @ beta - target).max()) / scale


def direction_coefficients(model: NextTokenPredictor, v, pivot: int = 0) -> tuple[np.ndarray, float]:
    """Coefficients ``c`` with ``vᵀ ḡ(y) = Σ_x c_x ℓ(x, y)`` for every token,
    and the relative residual (small iff ``v ∈ N + M^⊥``, :prf:ref:`lem-transfer` (ii))."""
    model = _check_model("model", model)
    v = as_vector("v", v, size=model.dim)
    Gbar = model.unembedding_differences(pivot)
    Lam = model.log_odds(pivot)
    target = Gbar @ v
    c, *_ = np.linalg.lstsq(Lam.T, target, rcond=None)
    scale = max(float(np.linalg.norm(Gbar, 2) * np.linalg.norm(v)), 1e-300)
    return c, float(np.abs(Lam.T @ c - target).max()) / scale


def transfer_functional(model: NextTokenPredictor, other: NextTokenPredictor, w, contexts=None, pivot: int = 0) -> np.ndarray:
    """The counterpart ``w̃ = Σ_y β_y ḡ̃(y)`` of ``w`` in an equivalent model.

    Implements :prf:ref:`lem-transfer` (i): if ``w ∈ M + N_S^⊥`` then
    ``w̃ᵀ f̃(s) = wᵀ f(s)`` for every ``s`` in ``contexts``.
    """
    _check_model("other", other)
    beta, _ = functional_coefficients(model, w, contexts, pivot)
    return other.unembedding_differences(pivot).T @ beta


def transfer_direction(model: NextTokenPredictor, other: NextTokenPredictor, v, pivot: int = 0) -> np.ndarray:
    """The counterpart ``ṽ = Σ_x c_x f̃(x)`` of ``v`` in an equivalent model.

    Implements :prf:ref:`lem-transfer` (ii): if ``v ∈ N + M^⊥`` then
    ``ṽᵀ ḡ̃(y) = vᵀ ḡ(y)`` for every token ``y``.
    """
    _check_model("other", other)
    c, _ = direction_coefficients(model, v, pivot)
    return other.F.T @ c


# --- parallelism (R-Def 6, R-Prop 3, R-Thm P, R-Var P') ------------------------------------

def unembedding_offsets(model: NextTokenPredictor, prop: ParallelUnembedding) -> np.ndarray:
    """``[δ_1; δ_2]`` with ``δ_i = g(b_i) − g(a_i)``, shape (2, d)."""
    model = _check_model("model", model)
    if not isinstance(prop, ParallelUnembedding):
        raise ValueError(f"prop must be a ParallelUnembedding; got {type(prop).__name__}")
    _check_tokens(model, "pairs", [v for p in prop.pairs for v in p])
    return np.array([model.G[b] - model.G[a] for a, b in prop.pairs])


def embedding_offsets(model: NextTokenPredictor, prop: ParallelEmbedding) -> np.ndarray:
    """``[Δ_1; Δ_2]`` with ``Δ_i = f(x_i') − f(x_i)``, shape (2, d)."""
    model = _check_model("model", model)
    if not isinstance(prop, ParallelEmbedding):
        raise ValueError(f"prop must be a ParallelEmbedding; got {type(prop).__name__}")
    _check_contexts(model, "pairs", [v for p in prop.pairs for v in p])
    return np.array([model.F[b] - model.F[a] for a, b in prop.pairs])


def check_parallel_unembeddings(model: NextTokenPredictor, prop: ParallelUnembedding, tol: float | None = None) -> Check:
    """Is ``δ_1 = λ δ_2`` with ``λ ≠ 0``? Witness: ``λ``; residual ``|sin ∠(δ_1, δ_2)|``.

    Implements :prf:ref:`def-parallel-unembedding`.
    """
    D = unembedding_offsets(model, prop)
    return _parallel(D[0], D[1], _tol(tol))


def check_same_log_ratios(model: NextTokenPredictor, prop: ParallelUnembedding, tol: float | None = None) -> Check:
    """The distributional counterpart: ``log p(b_1|x)/p(a_1|x) = λ log p(b_2|x)/p(a_2|x)`` for all ``x``.

    Equivalent to ``P_N δ_1 = λ P_N δ_2`` (:prf:ref:`prop-parallel-log-ratios`).
    Depends on the distribution only.
    """
    model = _check_model("model", model)
    unembedding_offsets(model, prop)  # validates the token pairs against the model
    lp = model.log_probs()
    r = [lp[:, b] - lp[:, a] for a, b in prop.pairs]
    return _parallel(r[0], r[1], _tol(tol))


def condition_parallel_unembeddings(model: NextTokenPredictor, tol: float | None = None) -> Condition:
    """Embedding diversity ``N = ℝ^d``: the condition of :prf:ref:`thm-parallelism`."""
    model = _check_model("model", model)
    r = model.dim - embedding_span(model).shape[1]
    return Condition("embedding diversity N = ℝ^d", r == 0, float(r))


def transfer_parallel_unembeddings(model: NextTokenPredictor, other: NextTokenPredictor, prop: ParallelUnembedding,
                                   tol: float | None = None) -> float:
    """The matching object of parallel offsets in an equivalent model: the same
    ratio ``λ``, read off the log-ratios (a function of the distribution).

    Implements the transfer of :prf:ref:`thm-parallelism`: in every
    embedding-diverse equivalent model ``δ̃_1 = λ δ̃_2`` with this ``λ``.
    Raises ``ValueError`` if the log-ratios are not proportional.
    """
    _check_model("other", other)
    c = check_same_log_ratios(model, prop, tol)
    if not c.holds:
        raise ValueError("the model's log-ratios are not proportional (δ_1, δ_2 are not parallel within N); nothing to transfer")
    return float(c.witness)


def check_parallel_embeddings(model: NextTokenPredictor, prop: ParallelEmbedding, tol: float | None = None) -> Check:
    """Is ``Δ_1 = λ Δ_2``? Implements :prf:ref:`prop-parallel-embedding`."""
    D = embedding_offsets(model, prop)
    return _parallel(D[0], D[1], _tol(tol))


def check_parallel_log_odds_differences(model: NextTokenPredictor, prop: ParallelEmbedding, tol: float | None = None,
                                        pivot: int = 0) -> Check:
    """Distributional counterpart: ``ℓ(x_1', ·) − ℓ(x_1, ·) = λ (ℓ(x_2', ·) − ℓ(x_2, ·))``
    (equivalent to ``P_M Δ_1 = λ P_M Δ_2``)."""
    model = _check_model("model", model)
    embedding_offsets(model, prop)  # validates the context pairs against the model
    Lam = model.log_odds(pivot)
    r = [Lam[b] - Lam[a] for a, b in prop.pairs]
    return _parallel(r[0], r[1], _tol(tol))


def condition_parallel_embeddings(model: NextTokenPredictor, tol: float | None = None) -> Condition:
    """Unembedding diversity ``M = ℝ^d``: the condition of :prf:ref:`prop-parallel-embedding`."""
    model = _check_model("model", model)
    r = model.dim - unembedding_difference_span(model).shape[1]
    return Condition("unembedding diversity M = ℝ^d", r == 0, float(r))


def transfer_parallel_embeddings(model: NextTokenPredictor, other: NextTokenPredictor, prop: ParallelEmbedding,
                                 tol: float | None = None) -> float:
    """The ratio ``λ`` of parallel embedding offsets, read off the log-odds;
    every unembedding-diverse equivalent model has ``Δ̃_1 = λ Δ̃_2``."""
    _check_model("other", other)
    c = check_parallel_log_odds_differences(model, prop, tol)
    if not c.holds:
        raise ValueError("the log-odds differences are not proportional; nothing to transfer")
    return float(c.witness)


# --- relational linearity (R-Def 7a/7b, R-Thm RL) -------------------------------------------

def _query(model, query) -> RelationalQuery:
    if not isinstance(query, RelationalQuery):
        raise ValueError(f"query must be a RelationalQuery; got {type(query).__name__}")
    _check_contexts(model, "query.base", query.base)
    _check_contexts(model, "query.queried", query.queried)
    _check_tokens(model, "query.answers", query.answers)
    return query


def answer_basis(model: NextTokenPredictor, query: RelationalQuery) -> np.ndarray:
    """``L_q``: columns ``g(y_j) − g(y_{q,0})`` for the answers ``y_j`` after the first, shape (d, |Y_q| − 1).
    Its column span is the answer subspace ``Γ_q``."""
    model = _check_model("model", model)
    q = _query(model, query)
    G = model.G
    return np.stack([G[y] - G[q.answers[0]] for y in q.answers[1:]], axis=1)


def answer_log_odds(model: NextTokenPredictor, query: RelationalQuery) -> np.ndarray:
    """``ℓ_q(s ⊕ q)``: log-odds of each answer against ``y_{q,0}`` after the query, shape (|S|, |Y_q| − 1)."""
    model = _check_model("model", model)
    q = _query(model, query)
    lp = model.log_probs()[np.array(q.queried)]
    return lp[:, list(q.answers[1:])] - lp[:, [q.answers[0]]]


def _affine_fit(X: np.ndarray, Y: np.ndarray):
    """Least squares ``Y ≈ X Cᵀ + c``; returns (C, c, relative residual)."""
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    sol, *_ = np.linalg.lstsq(Xa, Y, rcond=None)
    C, c = sol[:-1].T, sol[-1]
    scale = max(float(np.abs(Y).max()), float(np.linalg.norm(Xa, 2) * np.linalg.norm(sol, 2)), 1e-300)
    return C, c, float(np.abs(Xa @ sol - Y).max()) / scale


def check_relational_strong(model: NextTokenPredictor, query: RelationalQuery, tol: float | None = None) -> Check:
    """Is ``f(s ⊕ q) = A_q f(s) + a_q`` for all ``s ∈ S``? Witness ``(A_q, a_q)``
    (least squares, minimum norm). Implements :prf:ref:`def-relational-linearity-strong`."""
    model = _check_model("model", model)
    q = _query(model, query)
    A, a, r = _affine_fit(model.F[list(q.base)], model.F[list(q.queried)])
    return Check(r <= _tol(tol), r, (A, a))


def condition_relational_strong(model: NextTokenPredictor, tol: float | None = None) -> Condition:
    """Unembedding diversity ``M = ℝ^d``: the condition of :prf:ref:`thm-relational-linearity` (a)."""
    c = condition_parallel_embeddings(model, tol)
    return Condition(c.name, c.holds, c.residual)


def transfer_relational_strong(model: NextTokenPredictor, other: NextTokenPredictor, A, a, pivot: int = 0):
    """``(Ã_q, ã_q) = (R̃ A_q R, R̃ a_q)`` with ``R = Ḡ⁺ Ḡ̃`` and ``R̃ = Ḡ̃⁺ Ḡ``.

    Implements the transfer of :prf:ref:`thm-relational-linearity` (a); valid
    when both models have unembedding diversity.
    """
    model = _check_model("model", model)
    other = _check_model("other", other)
    A = np.asarray(A, dtype=np.float64)
    a = as_vector("a", a, size=model.dim)
    if A.shape != (model.dim, model.dim):
        raise ValueError(f"A must have shape ({model.dim}, {model.dim}); got {A.shape}")
    Gb, Gt = model.unembedding_differences(pivot), other.unembedding_differences(pivot)
    R = np.linalg.pinv(Gb) @ Gt
    Rt = np.linalg.pinv(Gt) @ Gb
    return Rt @ A @ R, Rt @ a


def check_relational_projected(model: NextTokenPredictor, query: RelationalQuery, tol: float | None = None) -> Check:
    """Is ``P_{Γ_q} f(s ⊕ q) = P_{Γ_q}(A_q f(s) + a_q)`` for all ``s ∈ S``?

    Equivalently the answer log-odds ``L_qᵀ f(s ⊕ q)`` are affine in ``f(s)``.
    Witness ``(A_q, a_q)``: when the answer log-odds are also affine in the
    log-odds of ``s`` (SC-RL can hold), the witness built from that map, which
    satisfies SC-RL; otherwise ``A_q = (L_qᵀ)⁺ C`` from the direct fit.
    Implements :prf:ref:`def-relational-linearity-projected`.
    """
    model = _check_model("model", model)
    q = _query(model, query)
    tol = _tol(tol)
    L = answer_basis(model, q)
    Y = model.F[list(q.queried)] @ L
    C, c, r = _affine_fit(model.F[list(q.base)], Y)
    W, rr, res = relational_log_odds_map(model, q)
    if res <= tol:
        return Check(r <= tol, r, transfer_relational_projected(model, q, W, rr))
    Lp = np.linalg.pinv(L.T)
    return Check(r <= tol, r, (Lp @ C, Lp @ c))


def condition_relational_projected(model: NextTokenPredictor, query: RelationalQuery, A=None,
                                   tol: float | None = None) -> Condition:
    """SC-RL: ``A_qᵀ Γ_q ⊆ M + N_S^⊥`` (:prf:ref:`thm-relational-linearity` (b)).

    With ``A=None`` the question is whether *some* relation matrix satisfies
    it, i.e. whether the answer log-odds are affine in the log-odds of ``s``
    (:func:`relational_log_odds_map`); otherwise the given ``A`` is tested.
    """
    model = _check_model("model", model)
    q = _query(model, query)
    tol = _tol(tol)
    name = "SC-RL: A_qᵀ Γ_q ⊆ M + N_S^⊥"
    if A is None:
        res = relational_log_odds_map(model, q)[2]
        return Condition(name, res <= tol, res)
    A = np.asarray(A, dtype=np.float64)
    if A.shape != (model.dim, model.dim):
        raise ValueError(f"A must have shape ({model.dim}, {model.dim}); got {A.shape}")
    L = answer_basis(model, q)
    Mb = unembedding_difference_span(model)
    NSp = complement(embedding_span(model, contexts=list(q.base)), model.dim)
    r = max(_sum_member(u, Mb, NSp) for u in (A.T @ L).T)
    return Condition(name, r <= tol, r)


def relational_log_odds_map(model: NextTokenPredictor, query: RelationalQuery, pivot: int = 0):
    """The distributional counterpart of relational linearity: ``W, r`` with
    ``ℓ_q(s ⊕ q) = W ℓ(s, ·) + r`` for all ``s ∈ S``; returns ``(W, r, residual)``.

    ``W`` has shape (|Y_q| − 1, V). A small residual means the projected form
    holds with SC-RL (:prf:ref:`thm-relational-linearity` (b)).
    """
    model = _check_model("model", model)
    q = _query(model, query)
    Lam = model.log_odds(pivot)[list(q.base)]
    C, c, res = _affine_fit(Lam, answer_log_odds(model, q))
    return C, c, res


def transfer_relational_projected(other: NextTokenPredictor, query: RelationalQuery, W, r, pivot: int = 0):
    """``Ã_q = (L̃_qᵀ)⁺ W Ḡ̃`` and ``ã_q = (L̃_qᵀ)⁺ r`` in an equivalent model.

    Implements the construction of :prf:ref:`thm-relational-linearity` (b).
    """
    other = _check_model("other", other)
    q = _query(other, query)
    W = np.asarray(W, dtype=np.float64)
    if W.shape != (len(q.answers) - 1, other.n_tokens):
        raise ValueError(f"W must have shape ({len(q.answers) - 1}, {other.n_tokens}); got {W.shape}")
    Lp = np.linalg.pinv(answer_basis(other, q).T)
    return Lp @ W @ other.unembedding_differences(pivot), Lp @ as_vector("r", r, size=W.shape[0])


# --- linear subspaces (R-Def 8, R-Thm S) -----------------------------------------------------

def affine_dimension(X, rtol: float | None = None) -> int:
    """Affine dimension of the rows of ``X`` (rank after centring)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    return numerical_rank(X - X.mean(axis=0), rtol, scale=float(np.abs(X).max()))


def answer_subspace_dimension(model: NextTokenPredictor, query: RelationalQuery, projected: bool = True,
                              rtol: float | None = None) -> int:
    """Affine dimension ``m`` of ``{P_{Γ_q} f(s ⊕ q)}`` (``projected=True``) or of
    ``{f(s ⊕ q)}``. The projected one equals the affine dimension of the answer
    log-odds (:prf:ref:`thm-subspace`)."""
    model = _check_model("model", model)
    q = _query(model, query)
    X = model.F[list(q.queried)]
    if projected:
        B = orth(answer_basis(model, q))
        X = X @ B
    return affine_dimension(X, rtol)


def check_linear_subspace(model: NextTokenPredictor, query: RelationalQuery, dim: int, projected: bool = True,
                          rtol: float | None = None) -> Check:
    """Do the (projected) representations ``f(s ⊕ q)`` lie in an affine subspace
    of dimension ``≤ dim``? Implements :prf:ref:`def-linear-subspace`."""
    dim = as_int("dim", dim, min=0)
    m = answer_subspace_dimension(model, query, projected, rtol)
    return Check(m <= dim, float(m), m)


def condition_linear_subspace(model: NextTokenPredictor, projected: bool = True) -> Condition:
    """None for the projected form (always all-or-none); ``M = ℝ^d`` for the unprojected one."""
    if projected:
        return Condition("none (projected onto Γ_q)", True, 0.0)
    c = condition_parallel_embeddings(model)
    return Condition(c.name, c.holds, c.residual)


# --- linear probing (R-Def 9, R-Thm Pr) --------------------------------------------------------

def _concept(model, concept) -> Concept:
    if not isinstance(concept, Concept):
        raise ValueError(f"concept must be a Concept; got {type(concept).__name__}")
    _check_contexts(model, "concept.contexts", concept.contexts)
    return concept


def probe_scores(model: NextTokenPredictor, concept: Concept, w, b: float = 0.0) -> np.ndarray:
    """``wᵀ f(s) + b`` for every ``s`` of the concept."""
    model = _check_model("model", model)
    c = _concept(model, concept)
    w = as_vector("w", w, size=model.dim)
    return model.F[list(c.contexts)] @ w + float(b)


def check_probe(model: NextTokenPredictor, concept: Concept, w, b: float = 0.0, tol: float | None = None) -> Check:
    """Does ``sign(wᵀ f(s) + b) = 2c(s) − 1`` on every ``s``? Residual: the error rate;
    witness: the accuracy. Scores within ``tol`` (relative) of 0 count as errors.
    Implements :prf:ref:`def-linear-probe`."""
    s = probe_scores(model, concept, w, b)
    y = 2 * np.array(concept.labels) - 1
    margin = _tol(tol) * max(float(np.abs(s).max()), 1e-300)
    acc = float(np.mean(s * y > margin))
    return Check(acc == 1.0, 1.0 - acc, acc)


def condition_probe(model: NextTokenPredictor, concept: Concept, w, tol: float | None = None) -> Condition:
    """SC-probe: ``w ∈ M + N_S^⊥`` (:prf:ref:`thm-probing`)."""
    model = _check_model("model", model)
    c = _concept(model, concept)
    cond = identifiable_embedding_directions(model, w, c.contexts, tol)
    return Condition("SC-probe: w ∈ M + N_S^⊥", cond.holds, cond.residual)


def transfer_probe(model: NextTokenPredictor, other: NextTokenPredictor, concept: Concept, w, pivot: int = 0) -> np.ndarray:
    """``w̃ = Σ_y β_y ḡ̃(y)``: the probe of an equivalent model with identical
    scores (:prf:ref:`thm-probing`; the bias ``b`` is unchanged)."""
    model = _check_model("model", model)
    c = _concept(model, concept)
    return transfer_functional(model, other, w, c.contexts, pivot)


# --- linear steering (R-Def 10, R-Thm St) ----------------------------------------------------------

def _steer(model, target) -> SteeringTarget:
    if not isinstance(target, SteeringTarget):
        raise ValueError(f"target must be a SteeringTarget; got {type(target).__name__}")
    _check_tokens(model, "target.target", target.target)
    _check_tokens(model, "target.off_target", target.off_target)
    return target


def steering_effects(model: NextTokenPredictor, target: SteeringTarget, v) -> tuple[float, float]:
    """``κ = vᵀ(g(y1) − g(y0))`` and the largest off-target effect ``max |vᵀ(g(y) − g(y'))|``."""
    model = _check_model("model", model)
    t = _steer(model, target)
    v = as_vector("v", v, size=model.dim)
    G = model.G
    kappa = float(v @ (G[t.target[0]] - G[t.target[1]]))
    off = G[list(t.off_target)] @ v
    return kappa, float(off.max() - off.min())


def check_steering(model: NextTokenPredictor, target: SteeringTarget, v, tol: float | None = None) -> Check:
    """Is ``v`` a steering vector: ``κ ≠ 0`` and no off-target effect? Witness ``κ``;
    residual: off-target effect relative to ``|κ|``. Implements :prf:ref:`def-steering`."""
    kappa, off = steering_effects(model, target, v)
    if abs(kappa) <= 1e-12 * max(1.0, float(np.abs(model.G).max() * np.linalg.norm(v))):
        return Check(False, float("inf"), kappa)
    r = off / abs(kappa)
    return Check(r <= _tol(tol), r, kappa)


def condition_steering(model: NextTokenPredictor, v, tol: float | None = None) -> Condition:
    """SC-steer: ``v ∈ N + M^⊥`` (:prf:ref:`thm-steering`)."""
    c = identifiable_unembedding_directions(model, v, tol)
    return Condition("SC-steer: v ∈ N + M^⊥", c.holds, c.residual)


def transfer_steering(model: NextTokenPredictor, other: NextTokenPredictor, v, pivot: int = 0) -> np.ndarray:
    """``ṽ = Σ_x c_x f̃(x)``: the steering vector of an equivalent model
    (:prf:ref:`thm-steering`)."""
    return transfer_direction(model, other, v, pivot)


def steered_probs(model: NextTokenPredictor, v, alpha: float, contexts=None) -> np.ndarray:
    """``softmax((f(s) + α v)ᵀ g)`` for ``contexts`` (all by default)."""
    model = _check_model("model", model)
    v = as_vector("v", v, size=model.dim)
    rows = np.arange(model.n_contexts) if contexts is None else np.asarray(contexts, dtype=int)
    _check_contexts(model, "contexts", rows)
    return softmax((model.F[rows] + float(alpha) * v) @ model.G.T)


# --- the all-or-none experiment ----------------------------------------------------------------------

@dataclass(frozen=True)
class AllOrNone:
    """Counts of an all-or-none experiment over random equivalent models.

    ``n_condition`` models satisfied the condition, ``n_condition_property`` of
    them had the property; ``n_other`` did not satisfy it and
    ``n_other_property`` of those had the property. ``max_dp`` is the largest
    ``max |Δp|`` between the model and any drawn member; ``dims`` the dimensions drawn.
    """

    n_drawn: int
    n_condition: int
    n_condition_property: int
    n_other: int
    n_other_property: int
    max_dp: float
    dims: tuple = field(default=())

    @property
    def all_with_condition(self) -> bool:
        return self.n_condition > 0 and self.n_condition_property == self.n_condition

    @property
    def none_with_condition(self) -> bool:
        return self.n_condition > 0 and self.n_condition_property == 0


def all_or_none(model: NextTokenPredictor, dims, n_models: int, rng,
                condition: Callable[[NextTokenPredictor], bool],
                has_property: Callable[[NextTokenPredictor], bool], *, max_draws: int | None = None) -> AllOrNone:
    """Draw random equivalent models (``aon.random_equivalent``, cycling through
    ``dims``) until ``n_models`` of them satisfy ``condition`` (or ``max_draws``,
    default ``30 · n_models``, is reached), and count who has the property.

    ``condition(m)`` and ``has_property(m)`` receive each drawn member ``m``.
    """
    model = _check_model("model", model)
    n_models = as_int("n_models", n_models, min=1)
    rng = as_rng("rng", rng)
    dims = tuple(as_int("dims", d, min=1) for d in np.atleast_1d(dims))
    if not dims:
        raise ValueError("dims must hold at least one dimension")
    max_draws = 30 * n_models if max_draws is None else as_int("max_draws", max_draws, min=n_models)
    counts = [0, 0, 0, 0]
    drawn, max_dp, seen = 0, 0.0, set()
    while counts[0] < n_models and drawn < max_draws:
        d = dims[drawn % len(dims)]
        m = random_equivalent(model, d, rng)
        drawn += 1
        seen.add(d)
        max_dp = max(max_dp, max_prob_difference(model, m))
        c, p = bool(condition(m)), bool(has_property(m))
        if c:
            counts[0] += 1
            counts[1] += p
        else:
            counts[2] += 1
            counts[3] += p
    return AllOrNone(drawn, counts[0], counts[1], counts[2], counts[3], max_dp, tuple(sorted(seen)))


# --- constructed examples and counterexamples ------------------------------------------------------
#
# Each ``*_example`` returns a model that has a property together with its
# condition; each ``*_counterexample`` returns a distribution-equivalent model
# (built with the moves M3–M5) that loses it. The book's pages and the summary
# table use exactly these constructions.

def _base_model(n_contexts: int, n_tokens: int, dim: int, rng) -> NextTokenPredictor:
    from .examples import random_model

    return random_model(n_contexts, n_tokens, dim, rng)


def parallel_unembedding_example(rng, *, n_contexts: int = 40, n_tokens: int = 30, dim: int = 4,
                                 lam: float = 1.0, pairs=((1, 2), (3, 4))):
    """A diverse model with ``δ_1 = λ δ_2`` (``g(b_1)`` is moved to ``g(a_1) + λ δ_2``).
    Returns ``(model, ParallelUnembedding)``."""
    rng = as_rng("rng", rng)
    prop = ParallelUnembedding(pairs)
    m = _base_model(n_contexts, n_tokens, dim, rng)
    _check_tokens(m, "pairs", [v for p in prop.pairs for v in p])
    G = m.G.copy()
    (a1, b1), (a2, b2) = prop.pairs
    G[b1] = G[a1] + float(lam) * (G[b2] - G[a2])
    return m.with_tables(G=G), prop


def parallelism_counterexample(model: NextTokenPredictor, prop: ParallelUnembedding) -> NextTokenPredictor:
    """:prf:ref:`prop-parallelism-counterexample`: the lift (M5) ``f̃ = [f; 0]``,
    ``g̃(y) = [g(y); u(y)]`` with ``u(b_1) = 1`` and ``u = 0`` elsewhere."""
    from .equivalence import lift_unembeddings

    model = _check_model("model", model)
    unembedding_offsets(model, prop)
    U = np.zeros((model.n_tokens, 1))
    U[prop.pairs[0][1], 0] = 1.0
    return lift_unembeddings(model, U)


def parallel_embedding_example(rng, *, n_contexts: int = 40, n_tokens: int = 30, dim: int = 4,
                               lam: float = 1.0, pairs=((1, 2), (3, 4))):
    """A diverse model with ``Δ_1 = λ Δ_2``. Returns ``(model, ParallelEmbedding)``."""
    rng = as_rng("rng", rng)
    prop = ParallelEmbedding(pairs)
    m = _base_model(n_contexts, n_tokens, dim, rng)
    _check_contexts(m, "pairs", [v for p in prop.pairs for v in p])
    F = m.F.copy()
    (a1, b1), (a2, b2) = prop.pairs
    F[b1] = F[a1] + float(lam) * (F[b2] - F[a2])
    return m.with_tables(F=F), prop


def parallel_embedding_counterexample(model: NextTokenPredictor, prop: ParallelEmbedding) -> NextTokenPredictor:
    """M5 then M3: lift ``f̃ = [f; 0]``, ``g̃ = [g; 1]`` (a new direction of
    ``M^⊥``) and move ``f̃(x_1')`` by one unit along it."""
    from .equivalence import lift, perturb_embeddings

    model = _check_model("model", model)
    embedding_offsets(model, prop)
    m = lift(model, np.zeros((model.n_contexts, 1)), np.ones(1))
    U = np.zeros(m.F.shape)
    U[prop.pairs[0][1], -1] = 1.0
    return perturb_embeddings(m, U)


def relational_example(rng, *, n_base: int = 12, n_extra: int = 16, n_tokens: int = 30, dim: int = 4,
                       n_answers: int = 4):
    """A diverse model in which ``f(s ⊕ q) = A_q f(s) + a_q`` exactly.

    Rows ``0 … n_base−1`` are the contexts ``s``, rows ``n_base … 2 n_base − 1``
    the strings ``s ⊕ q``, the remaining ``n_extra`` rows other contexts;
    tokens ``1 … n_answers`` are the answers. Returns ``(model, query, (A_q, a_q))``.
    """
    rng = as_rng("rng", rng)
    m = _base_model(2 * n_base + n_extra, n_tokens, dim, rng)
    A, a = rng.normal(size=(dim, dim)), rng.normal(size=dim)
    F = m.F.copy()
    F[n_base:2 * n_base] = F[:n_base] @ A.T + a
    q = RelationalQuery(tuple(range(n_base)), tuple(range(n_base, 2 * n_base)), tuple(range(1, n_answers + 1)))
    return m.with_tables(F=F), q, (A, a)


def relational_strong_counterexample(model: NextTokenPredictor, query: RelationalQuery, rng) -> NextTokenPredictor:
    """:prf:ref:`prop-relational-counterexamples`, strong form: lift with a new
    ``M^⊥`` direction (M5) and move every ``f(s ⊕ q)`` randomly along it (M3)."""
    from .equivalence import lift, perturb_embeddings

    model = _check_model("model", model)
    q = _query(model, query)
    rng = as_rng("rng", rng)
    m = lift(model, np.zeros((model.n_contexts, 1)), np.ones(1))
    U = np.zeros(m.F.shape)
    U[list(q.queried), -1] = rng.normal(size=len(q.queried))
    return perturb_embeddings(m, U)


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
    from .equivalence import perturb_embeddings

    model = _check_model("model", model)
    q = _query(model, query)
    P = complement(unembedding_difference_span(model), model.dim)
    U = np.zeros(model.F.shape)
    U[list(q.base)] = -(model.F[list(q.base)] @ P) @ P.T
    return perturb_embeddings(model, U)


def subspace_example(rng, *, n_base: int = 20, n_extra: int = 10, n_tokens: int = 30, dim: int = 5,
                     sub_dim: int = 2, n_answers: int = 5):
    """A diverse model whose ``f(s ⊕ q)`` fill an affine subspace of dimension
    ``sub_dim``. Returns ``(model, query)``."""
    rng = as_rng("rng", rng)
    as_int("sub_dim", sub_dim, min=1, max=dim)
    m = _base_model(2 * n_base + n_extra, n_tokens, dim, rng)
    F = m.F.copy()
    F[n_base:2 * n_base] = rng.normal(size=dim) + rng.normal(size=(n_base, sub_dim)) @ rng.normal(size=(sub_dim, dim))
    q = RelationalQuery(tuple(range(n_base)), tuple(range(n_base, 2 * n_base)), tuple(range(1, n_answers + 1)))
    return m.with_tables(F=F), q


def subspace_counterexample(model: NextTokenPredictor, query: RelationalQuery, rng, extra: int = 2) -> NextTokenPredictor:
    """Lift by ``extra`` new ``M^⊥`` directions (M5) and scatter every
    ``f(s ⊕ q)`` along them (M3): the unprojected dimension grows by ``extra``."""
    from .equivalence import lift, perturb_embeddings

    model = _check_model("model", model)
    q = _query(model, query)
    rng = as_rng("rng", rng)
    extra = as_int("extra", extra, min=1)
    m = lift(model, np.zeros((model.n_contexts, extra)), np.ones(extra))
    U = np.zeros(m.F.shape)
    U[list(q.queried), -extra:] = rng.normal(size=(len(q.queried), extra))
    return perturb_embeddings(m, U)


def probe_example(rng, *, n_contexts: int = 40, n_tokens: int = 30, dim: int = 4):
    """A diverse model with a random probe ``w`` and the concept it defines
    (labels ``wᵀ f(s) + b > 0``, ``b`` centres the scores).
    Returns ``(model, concept, (w, b))``."""
    rng = as_rng("rng", rng)
    m = _base_model(n_contexts, n_tokens, dim, rng)
    w = rng.normal(size=dim)
    s = m.F @ w
    b = -float(np.median(s)) + 1e-3 * float(np.abs(s).max())
    labels = tuple(int(v) for v in (s + b > 0))
    return m, Concept(tuple(range(n_contexts)), labels), (w, b)


def probe_counterexample_model(rng, *, n_pairs: int = 20, n_tokens: int = 30, k: int = 3):
    """A model of dimension ``k + 1`` with ``M = span(e_1 … e_k)`` whose concept
    lives only along ``e_{k+1} ∈ M^⊥``: contexts come in pairs with equal
    ``P_M f`` and opposite labels. Returns ``(model, concept, (w, b))`` with
    ``w = e_{k+1}`` (accuracy 1, SC-probe fails)."""
    rng = as_rng("rng", rng)
    base = rng.normal(size=(n_pairs, k))
    F = np.vstack([np.hstack([base, np.ones((n_pairs, 1))]), np.hstack([base, -np.ones((n_pairs, 1))])])
    G = np.hstack([rng.normal(size=(n_tokens, k)), np.full((n_tokens, 1), rng.normal())])
    labels = (1,) * n_pairs + (0,) * n_pairs
    w = np.zeros(k + 1)
    w[k] = 1.0
    return NextTokenPredictor(F, G), Concept(tuple(range(2 * n_pairs)), labels), (w, 0.0)


def probe_counterexample(model: NextTokenPredictor) -> NextTokenPredictor:
    """M3: remove the ``M^⊥`` component of every embedding."""
    from .equivalence import perturb_embeddings

    model = _check_model("model", model)
    P = complement(unembedding_difference_span(model), model.dim)
    return perturb_embeddings(model, -(model.F @ P) @ P.T)


def probe_accuracy_bound(model: NextTokenPredictor, concept: Concept, decimals: int = 9) -> float:
    """An upper bound on the accuracy of *any* linear probe: contexts with
    identical embeddings (to ``decimals``) get identical scores, so at most the
    majority label of each group of identical rows can be right."""
    model = _check_model("model", model)
    c = _concept(model, concept)
    X = np.round(model.F[list(c.contexts)], decimals)
    groups: dict = {}
    for row, lab in zip(map(tuple, X), c.labels):
        groups.setdefault(row, [0, 0])[lab] += 1
    return float(sum(max(v) for v in groups.values())) / len(c.contexts)


def steering_example(rng, *, n_contexts: int = 40, n_tokens: int = 30, dim: int = 5, n_off: int = 3):
    """A diverse model and a unit steering vector ``v`` that moves ``log p(y_1)/p(y_0)``
    (``target = (1, 0)``) and no log-ratio among ``off_target = (2, …, n_off + 1)``.
    Returns ``(model, target, v)``."""
    rng = as_rng("rng", rng)
    as_int("n_off", n_off, min=2, max=dim - 1)
    m = _base_model(n_contexts, n_tokens, dim, rng)
    t = SteeringTarget((1, 0), tuple(range(2, n_off + 2)))
    D = (m.G[list(t.off_target[1:])] - m.G[t.off_target[0]]).T
    P = complement(orth(D), dim)
    v = P @ (P.T @ (m.G[1] - m.G[0]))   # the feasible direction that moves the target most
    return m, t, v / np.linalg.norm(v)


def steering_counterexample_model(rng, *, n_contexts: int = 40, n_tokens: int = 30, k: int = 3, n_off: int = 3):
    """A model of dimension ``k + 1`` with ``N = span(e_1 … e_k)`` and a
    steering vector ``v = e_{k+1} ∈ M ∩ N^⊥`` (off-target tokens share their
    last coordinate). Returns ``(model, target, v)``; SC-steer fails."""
    rng = as_rng("rng", rng)
    F = np.hstack([rng.normal(size=(n_contexts, k)), np.zeros((n_contexts, 1))])
    G = rng.normal(size=(n_tokens, k + 1))
    t = SteeringTarget((1, 0), tuple(range(2, n_off + 2)))
    G[list(t.off_target), k] = G[t.off_target[0], k]
    G[1, k] = G[0, k] + 1.0
    v = np.zeros(k + 1)
    v[k] = 1.0
    return NextTokenPredictor(F, G), t, v


def steering_counterexample(model: NextTokenPredictor, rng) -> NextTokenPredictor:
    """M4: move every ``g(y)`` randomly along ``N^⊥``."""
    from .equivalence import perturb_unembeddings

    model = _check_model("model", model)
    rng = as_rng("rng", rng)
    return perturb_unembeddings(model, rng.normal(size=model.G.shape), project=True)
