"""The shared interface of the linear properties of part III, and the transfer lemma.

Every property of the book (parallel unembeddings, parallel embeddings,
relational linearity in its strong and projected forms, linear subspaces,
probes, steering vectors) is one module of this package exposing one
:class:`LinearProperty`:

``check(model, inst, witness, tol) -> Check``
    the property as the book defines it, on *this* parametrisation
    (``holds``, a ``residual``, the ``witness``, and ``decidable``: whether
    the data can decide at all, with the ``reason`` when they cannot);
``condition(model, inst, witness) -> Condition``
    the subspace or diversity condition of the all-or-none theorem, with its
    book label;
``distribution(model, inst, witness, tol) -> Check``
    the distribution-level counterpart, computed from identifiable quantities
    only (log-odds, log-ratio vectors over contexts, probe scores): its
    residual is the same number for every member of the equivalence class;
``transfer(model, other, inst, witness)``
    the witness in an equivalent model;
``example(rng, ...)`` and ``counterexample(model, inst, ...)``
    the constructions of the pages, and ``realisation(model, inst, ...)``: an
    equivalent member that *has* the property (or ``None``).

:func:`allornone.theory.audit.audit` applies one verdict rule to this
interface. Residuals are relative to the data being fitted (e.g.
``‖Y − X B‖_F / ‖Y − Ȳ‖_F``), so ill-conditioning cannot rescue a fit.

Approximate properties (:prf:ref:`prop-approximate-properties`, page 07). At a
tolerance ``tol > 0`` the property is *defined* by the distribution-level
residual, ``distribution(...).residual <= tol``. That residual is a function
of the log-odds matrix ``Λ`` only, so it is identical across the class:
``Λ = Λ̃`` for equivalent models (:prf:ref:`thm-identifiability`), and every
distribution-level figure here is computed from ``Λ`` restricted to the named
contexts and tokens (and, for probes and steering, from the coefficients
``β`` or ``c`` that the transfer carries unchanged). The Euclidean residual of
``check`` is "this parametrisation's": for two members related by M2 with a
matrix ``A``, ``|sin ∠(A u, A v)| ≤ κ(A) |sin ∠(u, v)|`` (proof: for every
``λ``, ``‖A u − λ A v‖ ≤ σ_max ‖u − λ v‖`` and ``‖A u‖ ≥ σ_min ‖u‖``), so the
Euclidean angle moves by at most a factor ``κ(A)``, and in an
embedding-diverse member ``|sin|`` of the log-ratio vectors lies within a
factor ``κ(F)`` of the Euclidean ``|sin|`` of the offsets.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..._validate import as_index, as_positive_float, as_vector
from ..equivalence import reduce, reparametrize
from ..model import NextTokenPredictor
from ..subspaces import complement, embedding_span, numerical_rank, orth, unembedding_difference_span

__all__ = [
    "DEFAULT_TOL",
    "Check",
    "Condition",
    "LinearProperty",
    "affine_fit",
    "affine_dimension_residual",
    "parallel_residual",
    "canonical_member",
    "identifiable_embedding_directions",
    "identifiable_unembedding_directions",
    "functional_coefficients",
    "direction_coefficients",
    "transfer_functional",
    "transfer_direction",
]

#: Default relative tolerance of the checkers ("exact up to rounding").
DEFAULT_TOL = 1e-7


# --- results -------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """The answer of a checker.

    ``holds`` (within the tolerance), the ``residual`` compared with it, the
    ``witness`` (``λ``, ``(A, a)``, the accuracy, ``κ``, …), and
    ``decidable``: False when the data cannot decide at all (then ``holds``
    carries no information), with the ``reason``.
    """

    holds: bool
    residual: float
    witness: object = None
    decidable: bool = True
    reason: str = ""

    def __bool__(self) -> bool:
        return bool(self.holds)


@dataclass(frozen=True)
class Condition:
    """A subspace or diversity condition: its ``name`` (as in the book), whether
    it ``holds``, the ``residual`` (distance from satisfying it, relative) and
    the ``label`` of the theorem it belongs to."""

    name: str
    holds: bool
    residual: float = 0.0
    label: str = ""

    def __bool__(self) -> bool:
        return bool(self.holds)


# --- validation helpers ---------------------------------------------------------------

def check_model(name: str, model) -> NextTokenPredictor:
    """Return ``model`` or raise ``ValueError`` naming the argument ``name``."""
    if not isinstance(model, NextTokenPredictor):
        raise ValueError(f"{name} must be a NextTokenPredictor; got {type(model).__name__}")
    return model


def resolve_tol(tol) -> float:
    """``None`` → :data:`DEFAULT_TOL`; otherwise a finite number > 0."""
    return DEFAULT_TOL if tol is None else as_positive_float("tol", tol)


def check_tokens(model, name, idx):
    """Raise ``ValueError`` unless every index in ``idx`` is a token of ``model``."""
    for i in idx:
        as_index(name, i, model.n_tokens)


def check_contexts(model, name, idx):
    """Raise ``ValueError`` unless every index in ``idx`` is a context of ``model``."""
    for i in idx:
        as_index(name, i, model.n_contexts)


def index_tuple(name: str, values, upper: int | None = None, min_len: int = 1) -> tuple:
    """``values`` as a tuple of non-negative ints (at least ``min_len``, below ``upper``)."""
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


def index_pairs(name: str, pairs) -> tuple:
    """Exactly two pairs of distinct non-negative indices, as a tuple of tuples."""
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


# --- figures ----------------------------------------------------------------------------

def parallel_residual(u: np.ndarray, v: np.ndarray, tol: float, ref: float = 0.0) -> Check:
    """Is ``u = λ v`` with ``λ ≠ 0``? Residual ``|sin ∠(u, v)|``, witness ``λ``.

    A vector of norm at most ``1e-12 · max(|u|, |v|, ref)`` counts as zero (``ref``: the
    size of the data the vectors come from, so rounding noise is not a
    direction). A zero vector is parallel to nothing (residual 1); two zero
    vectors make the question undecidable (``λ`` is not determined).
    """
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    floor = 1e-12 * max(nu, nv, float(ref))
    if max(nu, nv) <= floor:
        return Check(False, 1.0, None, False, "both vectors are zero: λ is not determined")
    if min(nu, nv) <= floor:
        return Check(False, 1.0)
    lam = float(u @ v) / nv**2
    sin = min(1.0, float(np.linalg.norm(u - lam * v)) / nu)
    return Check(sin <= tol, sin, lam)


def affine_fit(X: np.ndarray, Y: np.ndarray, what: str = "the fit"):
    """Least squares ``Y ≈ X Cᵀ + c``.

    Returns ``(C, c, residual, decidable, reason)``. The residual is
    ``‖Y − [X, 1] B‖_F / ‖Y − Ȳ‖_F`` (0 when ``Y`` is constant): relative to
    the variation of the data being fitted, so a tiny extra coordinate of
    ``X`` (a huge coefficient) cannot make an unrelated ``Y`` pass. The fit is
    undecidable when ``|S| ≤ rank[X, 1]``: an affine map then fits anything.
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    sol, *_ = np.linalg.lstsq(Xa, Y, rcond=None)
    C, c = sol[:-1].T, sol[-1]
    spread = float(np.linalg.norm(Y - Y.mean(axis=0)))
    resid = float(np.linalg.norm(Y - Xa @ sol))
    r = 0.0 if spread <= 1e-12 * max(float(np.linalg.norm(Y)), 1e-300) else resid / spread
    rank = numerical_rank(Xa)
    n = X.shape[0]
    if n <= rank:
        return C, c, r, False, (f"|S|={n} contexts ≤ rank[F_S,1]={rank} free parameters of {what}: "
                                "an affine fit fits anything")
    return C, c, r, True, ""


def affine_dimension_residual(Y: np.ndarray, dim: int) -> float:
    """``√(Σ_{i>dim} σ_i²) / √(Σ σ_i²)`` for the singular values of the centred
    rows of ``Y``: the relative distance of the points from the best affine
    subspace of dimension ``dim`` (0 for constant ``Y``)."""
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    s = np.linalg.svd(Y - Y.mean(axis=0), compute_uv=False)
    total = float(np.sqrt(np.sum(s**2)))
    if total <= 1e-12 * max(float(np.linalg.norm(Y)), 1e-300):
        return 0.0
    return float(np.sqrt(np.sum(s[dim:] ** 2))) / total


def sum_member(u: np.ndarray, *bases: np.ndarray) -> float:
    """Relative distance of ``u`` from ``span(B1) + span(B2) + …`` (0 if inside)."""
    cols = [b for b in bases if b.shape[1]]
    n = float(np.linalg.norm(u))
    if n == 0:
        return 0.0
    if not cols:
        return 1.0
    Q = orth(np.hstack(cols))
    return float(np.linalg.norm(u - Q @ (Q.T @ u))) / n


def canonical_member(model: NextTokenPredictor, whiten: str = "embeddings") -> NextTokenPredictor:
    """The reduced model (M6, ``N = M = ℝ^k``) reparametrised (M2) so that its
    effective embeddings (``whiten="embeddings"``: ``Φᵀ Φ = I``) or pivoted
    unembeddings (``"unembeddings"``: ``Γᵀ Γ = I``) are orthonormal.

    In this member Euclidean angles between unembedding (resp. embedding)
    offsets equal the angles of the log-ratio vectors over contexts (resp.
    log-odds differences over tokens): the member in which "this
    parametrisation's" figure is the distribution-level one.
    """
    m = reduce(check_model("model", model))
    if whiten == "embeddings":
        S = m.F.T @ m.F
        w, V = np.linalg.eigh(S)
        A = V @ np.diag(w ** -0.5) @ V.T
    elif whiten == "unembeddings":
        Gb = m.unembedding_differences(0)
        w, V = np.linalg.eigh(Gb.T @ Gb)
        A = V @ np.diag(w ** 0.5) @ V.T
    else:
        raise ValueError(f"whiten must be 'embeddings' or 'unembeddings'; got {whiten!r}")
    return reparametrize(m, A)


# --- the transfer lemma (R-Lem 3) -------------------------------------------------------

def identifiable_embedding_directions(model: NextTokenPredictor, w, contexts=None, tol: float | None = None) -> Condition:
    """Is ``w ∈ M + N^⊥`` (or ``M + N_S^⊥`` for a subset ``contexts``)?

    Implements :prf:ref:`lem-transfer` (i): exactly these vectors define a
    functional ``x ↦ wᵀ f(x)`` of the contexts that the distribution fixes.
    """
    model = check_model("model", model)
    w = as_vector("w", w, size=model.dim)
    tol = resolve_tol(tol)
    N = embedding_span(model, contexts=None if contexts is None else list(contexts))
    r = sum_member(w, unembedding_difference_span(model), complement(N, model.dim))
    return Condition("w ∈ M + N^⊥" if contexts is None else "w ∈ M + N_S^⊥", r <= tol, r, "lem-transfer")


def identifiable_unembedding_directions(model: NextTokenPredictor, v, tol: float | None = None) -> Condition:
    """Is ``v ∈ N + M^⊥``? Implements :prf:ref:`lem-transfer` (ii)."""
    model = check_model("model", model)
    v = as_vector("v", v, size=model.dim)
    tol = resolve_tol(tol)
    r = sum_member(v, embedding_span(model), complement(unembedding_difference_span(model), model.dim))
    return Condition("v ∈ N + M^⊥", r <= tol, r, "lem-transfer")


def functional_coefficients(model: NextTokenPredictor, w, contexts=None, pivot: int = 0) -> tuple[np.ndarray, float]:
    """Coefficients ``β`` with ``wᵀ f(x) = Σ_y β_y ℓ(x, y)`` on ``contexts``
    (all by default), by least squares, and the relative residual
    ``‖Λ β − F w‖ / ‖F w‖``.

    A small residual means ``w ∈ M + N_S^⊥`` (:prf:ref:`lem-transfer` (i)).
    """
    model = check_model("model", model)
    w = as_vector("w", w, size=model.dim)
    rows = np.arange(model.n_contexts) if contexts is None else np.asarray(contexts, dtype=int)
    check_contexts(model, "contexts", rows)
    Lam = model.log_odds(pivot)[rows]
    target = model.F[rows] @ w
    beta, *_ = np.linalg.lstsq(Lam, target, rcond=None)
    scale = max(float(np.linalg.norm(target)), 1e-300)
    return beta, float(np.linalg.norm(Lam @ beta - target)) / scale


def direction_coefficients(model: NextTokenPredictor, v, pivot: int = 0) -> tuple[np.ndarray, float]:
    """Coefficients ``c`` with ``vᵀ ḡ(y) = Σ_x c_x ℓ(x, y)`` for every token,
    and the relative residual (small iff ``v ∈ N + M^⊥``, :prf:ref:`lem-transfer` (ii))."""
    model = check_model("model", model)
    v = as_vector("v", v, size=model.dim)
    Gbar = model.unembedding_differences(pivot)
    Lam = model.log_odds(pivot)
    target = Gbar @ v
    c, *_ = np.linalg.lstsq(Lam.T, target, rcond=None)
    scale = max(float(np.linalg.norm(target)), 1e-300)
    return c, float(np.linalg.norm(Lam.T @ c - target)) / scale


def transfer_functional(model: NextTokenPredictor, other: NextTokenPredictor, w, contexts=None, pivot: int = 0) -> np.ndarray:
    """The counterpart ``w̃ = Σ_y β_y ḡ̃(y)`` of ``w`` in an equivalent model.

    Implements :prf:ref:`lem-transfer` (i): if ``w ∈ M + N_S^⊥`` then
    ``w̃ᵀ f̃(s) = wᵀ f(s)`` for every ``s`` in ``contexts``.
    """
    check_model("other", other)
    beta, _ = functional_coefficients(model, w, contexts, pivot)
    return other.unembedding_differences(pivot).T @ beta


def transfer_direction(model: NextTokenPredictor, other: NextTokenPredictor, v, pivot: int = 0) -> np.ndarray:
    """The counterpart ``ṽ = Σ_x c_x f̃(x)`` of ``v`` in an equivalent model.

    Implements :prf:ref:`lem-transfer` (ii): if ``v ∈ N + M^⊥`` then
    ``ṽᵀ ḡ̃(y) = vᵀ ḡ(y)`` for every token ``y``.
    """
    check_model("other", other)
    c, _ = direction_coefficients(model, v, pivot)
    return other.F.T @ c


# --- the interface ------------------------------------------------------------------------

class LinearProperty(ABC):
    """One linear property of part III (see the module docstring).

    Class attributes: ``kind`` (the name used by :func:`audit`), ``instance``
    (the dataclass naming tokens/contexts), ``needs_witness``, ``theorem``
    (label of the all-or-none theorem), ``scope`` (the members it quantifies
    over when the condition holds; ``scope_is_class`` when that is every
    member), ``counterexample_label``, and
    ``necessity_label``: the label of "property ⇒ distribution-level
    counterpart" when that holds in every member (then a failing
    counterpart means *no* member has the property), else ``None``.
    """

    kind: str = ""
    instance: type = object
    needs_witness: bool = False
    theorem: str = ""
    scope: str = ""
    scope_is_class: bool = False
    counterexample_label: str = ""
    necessity_label: str | None = None

    def validate(self, model, inst, witness=None):
        """Raise ``ValueError`` unless ``inst`` (and ``witness``) fit ``model``."""
        check_model("model", model)
        if not isinstance(inst, self.instance):
            raise ValueError(f"prop must be a {self.instance.__name__} for {self.kind}; got {type(inst).__name__}")
        if self.needs_witness and witness is None:
            raise ValueError(f"witness is required for {self.kind}")

    @abstractmethod
    def check(self, model, inst, witness=None, tol=None) -> Check: ...

    @abstractmethod
    def condition(self, model, inst, witness=None, tol=None) -> Condition: ...

    @abstractmethod
    def distribution(self, model, inst, witness=None, tol=None) -> Check: ...

    @abstractmethod
    def transfer(self, model, other, inst, witness=None): ...

    @abstractmethod
    def example(self, rng, **kwargs): ...

    @abstractmethod
    def counterexample(self, model, inst, witness=None, rng=0, tol=None):
        """An equivalent model that lacks the property (``None`` if none is built)."""

    @abstractmethod
    def realisation(self, model, inst, witness=None, rng=0, tol=None):
        """``(other, other_witness)``: an equivalent model that has the property,
        or ``None`` if no construction applies."""

    def equivalent_object(self, model, inst, witness=None, tol=None, dist=None) -> dict:
        """The distribution-level object every equivalent model shares (for the report)."""
        return {}

    def witness_in(self, model, other, inst, witness=None):
        """The witness to use when checking ``other`` after a move that keeps
        coordinates (M3/M4/M5): the same object by default."""
        return witness
