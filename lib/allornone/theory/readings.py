"""Readings of the sourced statements about the paper, and numpy-only measurements to test them.

Implements the computations of the back-matter page *What the paper says, beside what the
book proves* (``notebooks/24_paper_and_book``): each ambiguous sourced statement (which of
``N``, ``M`` is the embedding span; what ``Γ_q`` is; what "parallelism preserved only within
a subspace ``N``" means; whether Theorem 14's ``Γ ⊆ N``, ``Γ_q ⊆ M`` make relational
linearity all-or-none) is turned into a *reading*: a rule that builds the subspaces from a
model's own tables, so that every member of an equivalence class has its own ``N``, ``M``,
``Γ``, ``Γ_q``. :func:`parallel_reading` and :func:`relational_reading` evaluate
a reading on many equivalent models.

The measurements here use numpy's SVD and least squares only, not the property layer
(:mod:`allornone.theory.properties`), so that pages 06 and 10–12 can check the library's
verdicts against an independent computation (see :prf:ref:`lem-transfer`,
:prf:ref:`thm-probing`, :prf:ref:`thm-steering`, :prf:ref:`thm-relational-linearity`,
:prf:ref:`thm-parallelism`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RTOL = 1e-9
"""Relative cut-off on singular values for every rank in this module."""


def _as_matrix(name: str, X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be a finite 2-D array (or a vector); got shape {np.shape(X)}")
    return X


def basis(X, rtol: float = RTOL) -> np.ndarray:
    """Orthonormal basis of the column span of ``X`` (shape ``d × r``), by SVD."""
    X = _as_matrix("X", X)
    if X.size == 0:
        return np.zeros((X.shape[0], 0))
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    return U[:, s > rtol * s[0]]                     # X = 0: s[0] = 0 keeps no column


def complement_basis(B, dim: int | None = None) -> np.ndarray:
    """Orthonormal basis of the orthogonal complement of ``span(B)`` in ``ℝ^dim``."""
    B = _as_matrix("B", B)
    dim = B.shape[0] if dim is None else int(dim)
    Q = basis(B)
    if Q.shape[1] == 0:
        return np.eye(dim)
    U, s, _ = np.linalg.svd(Q, full_matrices=True)
    return U[:, Q.shape[1]:]


def intersection_dim(A, B, rtol: float = 1e-8) -> int:
    """``dim(span A ∩ span B)``, measured as the nullity of ``[Q_A, −Q_B]`` (stacked
    orthonormal bases): a measurement independent of the rank formula of :prf:ref:`lem-effective-complexity`."""
    QA, QB = basis(A), basis(B)
    if QA.shape[1] == 0 or QB.shape[1] == 0:
        return 0
    s = np.linalg.svd(np.hstack([QA, -QB]), compute_uv=False)
    n_cols = QA.shape[1] + QB.shape[1]
    return int(n_cols - np.sum(s > rtol * max(s[0], 1.0)))


def intersection_basis(A, B, rtol: float = 1e-8) -> np.ndarray:
    """Orthonormal basis of ``span A ∩ span B``, from the null space of ``[Q_A, −Q_B]``."""
    QA, QB = basis(A), basis(B)
    if QA.shape[1] == 0 or QB.shape[1] == 0:
        return np.zeros((QA.shape[0], 0))
    _, s, Vt = np.linalg.svd(np.hstack([QA, -QB]))
    rank = int(np.sum(s > rtol * max(s[0], 1.0)))
    coeffs = Vt[rank:].T                             # null vectors (a; b) with Q_A a = Q_B b
    return basis(QA @ coeffs[:QA.shape[1]])          # no null vector: basis of a d × 0 array


def inclusion_residual(U, V) -> float:
    """How far ``span V`` is from lying inside ``span U``: ``‖V − P_U V‖ / ‖V‖``
    (Frobenius; 0 exactly when ``span V ⊆ span U``)."""
    V = _as_matrix("V", V)
    nv = np.linalg.norm(V)
    if nv == 0:
        return 0.0
    Q = basis(U) if np.size(U) else np.zeros((V.shape[0], 0))
    return float(np.linalg.norm(V - Q @ (Q.T @ V)) / nv)


def sum_residual(w, *spans) -> float:
    """Distance of ``w`` from ``span U₁ + span U₂ + …``, relative to ``‖w‖``
    (the component of ``w`` in ``(U₁ + U₂ + …)^⊥``, by SVD)."""
    w = np.asarray(w, dtype=np.float64).ravel()
    mats = [_as_matrix("span", U) for U in spans if np.size(U)]
    if not mats:
        return 1.0 if np.linalg.norm(w) else 0.0
    return inclusion_residual(np.hstack(mats), w)


def spaces(model, contexts=None) -> dict:
    """The subspaces of a model, from its tables only: ``N`` (span of the embeddings of
    ``contexts``, all by default), ``N0`` (span of their differences to the first one), ``M``
    (span of the unembedding differences), each an orthonormal basis."""
    F = model.F if contexts is None else model.F[list(contexts)]
    G = model.G
    return {"N": basis(F.T), "N0": basis((F - F[0]).T), "M": basis((G - G[0]).T)}


def affine_fit(X, Y) -> tuple[float, bool]:
    """Fit ``Y ≈ [X, 1] C`` by least squares. Returns ``(residual, decidable)``:
    ``residual`` is the largest absolute error divided by the spread of ``Y``
    (``max |Y − mean Y|``), so that neither a tiny ``Y`` nor an ill-conditioned ``X``
    can make a bad fit look good; a ``Y`` constant to machine precision (spread at most
    ``1e-12 max |Y|``) is exactly affine, and its error, rounding only, is divided by
    ``max |Y|``. ``decidable`` is whether the data can refute an affine map at all: more
    rows than ``rank [X, 1]``."""
    X, Y = _as_matrix("X", X), _as_matrix("Y", Y)
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    sol, *_ = np.linalg.lstsq(Xa, Y, rcond=None)
    spread = float(np.abs(Y - Y.mean(axis=0)).max())
    size = float(np.abs(Y).max())
    err = float(np.abs(Xa @ sol - Y).max())
    rank = basis(Xa).shape[1]
    scale = spread if spread > 1e-12 * size else size
    return err / max(scale, 1e-300), bool(X.shape[0] > rank)


def least_squares_probe(model, contexts, labels) -> tuple[np.ndarray, float]:
    """The member's own probe: the minimum-norm least-squares fit of ``2c − 1`` on
    ``[f(s), 1]`` (:prf:ref:`def-linear-probe`), computed from this model alone."""
    Xa = np.hstack([model.F[list(contexts)], np.ones((len(contexts), 1))])
    sol, *_ = np.linalg.lstsq(Xa, 2.0 * np.asarray(labels, dtype=np.float64) - 1.0, rcond=None)
    return sol[:-1], float(sol[-1])


def sc_probe_residual(model, contexts, w) -> float:
    """Distance of ``w`` from ``M + N_S^⊥``: the sine of the angle between ``w`` and that sum,
    ``‖P w‖ / ‖w‖`` with ``P`` the orthogonal projector onto its complement ``N_S ∩ M^⊥`` (found
    as ``F_Sᵀ c`` with ``Ḡ F_Sᵀ c = 0``); it does not depend on the basis chosen for it."""
    sp = spaces(model, contexts)
    NS = sp["N"]
    G = model.G - model.G[0]
    # coordinates a with G (N_S a) = 0  ⇒  N_S a ∈ N_S ∩ M^⊥
    A = complement_basis((G @ NS).T)                 # N_S = {0}: A is 0 × 0 and inter d × 0
    inter = NS @ A
    w = np.asarray(w, dtype=np.float64)
    if inter.shape[1] == 0 or np.linalg.norm(w) == 0:
        return 0.0
    return float(np.linalg.norm(inter.T @ w) / np.linalg.norm(w))


def min_norm_steering(model, target, off_target) -> np.ndarray:
    """The member's own steering vector: the minimum-norm ``v`` with ``vᵀ(g(y₁) − g(y₀)) = 1``
    and ``vᵀ(g(y) − g(y')) = 0`` on the off-target tokens (:prf:ref:`def-steering`)."""
    G = model.G
    y1, y0 = target
    off = list(off_target)
    D = np.vstack([G[y1] - G[y0]] + [G[y] - G[off[0]] for y in off[1:]])
    t = np.zeros(D.shape[0]); t[0] = 1.0
    v, *_ = np.linalg.lstsq(D, t, rcond=None)
    return v


def sc_steer_residual(model, v) -> float:
    """Distance of ``v`` from ``N + M^⊥``: ``‖P v‖ / ‖v‖`` with ``P`` the orthogonal projector
    onto its complement ``M ∩ N^⊥`` (found as ``Ḡᵀ c`` with ``F Ḡᵀ c = 0``); basis-free."""
    sp = spaces(model)
    Mb = sp["M"]
    A = complement_basis((model.F @ Mb).T)           # M = {0}: A is 0 × 0 and inter d × 0
    inter = Mb @ A
    v = np.asarray(v, dtype=np.float64)
    if inter.shape[1] == 0 or np.linalg.norm(v) == 0:
        return 0.0
    return float(np.linalg.norm(inter.T @ v) / np.linalg.norm(v))


def reproduce_scores(model, contexts, scores) -> float:
    """Can ``model`` reproduce the probe ``scores`` on ``contexts`` with some ``(w, b)``?
    The relative residual of the least-squares fit (0: yes, exactly)."""
    return affine_fit(model.F[list(contexts)], scores)[0]


def reproduce_effect(model, effect) -> float:
    """Can ``model`` reproduce a steering effect ``y ↦ vᵀ ḡ(y)`` (one entry per token, pivot
    0) with some vector ``u``, i.e. ``Ḡ u = effect``? Largest error relative to ``max |effect|``."""
    G = model.G - model.G[0]
    e = np.asarray(effect, dtype=np.float64)
    u, *_ = np.linalg.lstsq(G, e, rcond=None)
    return float(np.abs(G @ u - e).max() / max(float(np.abs(e).max()), 1e-300))


def sin_angle(u, v) -> float:
    """``|sin ∠(u, v)|`` (1 when either vector is zero)."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        return 1.0
    # the component of u orthogonal to v (accurate near 0, unlike sqrt(1 - cos²))
    return float(min(1.0, np.linalg.norm(u - (u @ v) / nv**2 * v) / nu))


# --- readings of the sourced statements ---------------------------------------------------------

N_READINGS = {
    "book": "N = span{f(x)} (embedding span), M = span{g(y) − g(y₀)}",
    "swapped": "N = span{g(y) − g(y₀)}, M = span{f(x)} (the two names exchanged)",
}
"""Which of ``N``, ``M`` is the embedding span (:doc:`24_paper_and_book`)."""

GAMMA_Q_READINGS = {
    "answer": "Γ_q = span{g(y) − g(y') : y, y' ∈ Y_q} (answer differences; the book's)",
    "queried": "Γ_q = span{f(s ⊕ q) : s ∈ S} (the embeddings of the queried strings)",
}
"""What ``Γ_q`` is."""

GAMMA_READINGS = {
    "answer": "Γ = Γ_q (linearity asserted on the answer subspace, the book's projected form)",
    "whole": "Γ = ℝ^d (linearity of the whole embedding, the book's strong form)",
}
"""On which subspace ``Γ`` relational linearity is asserted."""


def named_spaces(model, query, n_reading: str) -> dict:
    """``N`` and ``M`` under reading ``n_reading`` (a key of :data:`N_READINGS`)."""
    sp = spaces(model)
    if n_reading == "book":
        return {"N": sp["N"], "M": sp["M"]}
    if n_reading == "swapped":
        return {"N": sp["M"], "M": sp["N"]}
    raise ValueError(f"n_reading must be one of {sorted(N_READINGS)}; got {n_reading!r}")


def gamma_q(model, query, reading: str) -> np.ndarray:
    """``Γ_q`` under ``reading`` (a key of :data:`GAMMA_Q_READINGS`), as an orthonormal basis."""
    if reading == "answer":
        G = model.G[list(query.answers)]
        return basis((G[1:] - G[0]).T)
    if reading == "queried":
        return basis(model.F[list(query.queried)].T)
    raise ValueError(f"reading must be one of {sorted(GAMMA_Q_READINGS)}; got {reading!r}")


def gamma(model, query, reading: str, gq: str = "answer") -> np.ndarray:
    """``Γ`` under ``reading`` (a key of :data:`GAMMA_READINGS`); ``Γ = Γ_q`` uses the
    ``Γ_q`` reading ``gq``."""
    if reading == "answer":
        return gamma_q(model, query, gq)
    if reading == "whole":
        return np.eye(model.dim)
    raise ValueError(f"reading must be one of {sorted(GAMMA_READINGS)}; got {reading!r}")


def relational_on(model, query, Gamma, tol: float = 1e-8) -> tuple[bool, float, bool]:
    """Does the model linearly represent ``query`` on ``span Gamma``: is
    ``P_Γ f(s ⊕ q)`` an affine function of ``f(s)`` on ``S``? Returns
    ``(holds, residual, decidable)`` (see :func:`affine_fit`)."""
    Q = basis(Gamma)
    Y = model.F[list(query.queried)] @ Q
    r, dec = affine_fit(model.F[list(query.base)], Y)
    return r <= tol, r, dec


@dataclass
class ReadingResult:
    """Outcome of one reading on a family of equivalence classes.

    Per class (key: the class's name): ``n`` members tried, ``n_cond`` of them satisfying the
    reading's conditions, ``n_cond_prop`` of those with the property, ``n_undecided`` members
    where the data cannot decide the property. ``split`` names the classes where members that
    satisfy the conditions disagree on the property (the reading is then not all-or-none), and
    ``witness`` holds, for the first split, the indices of a member with and one without."""

    per_class: dict = field(default_factory=dict)
    split: list = field(default_factory=list)
    witness: tuple | None = None

    @property
    def all_or_none(self) -> bool:
        return not self.split

    @property
    def n_cond(self) -> int:
        return sum(c["n_cond"] for c in self.per_class.values())

    @property
    def n_members(self) -> int:
        return sum(c["n"] for c in self.per_class.values())

    @property
    def n_undecided(self) -> int:
        return sum(c["n_undecided"] for c in self.per_class.values())


def evaluate_reading(classes: dict, condition, prop) -> ReadingResult:
    """Evaluate a reading on ``classes`` (name → list of equivalent models; the first is the
    class's own model). ``condition(m)`` and ``prop(m)`` are evaluated on every member;
    ``prop`` returns ``(holds, decidable)``. A class is *split* when two members that satisfy
    the condition, and on which the property is decidable, disagree."""
    out = ReadingResult()
    for name, members in classes.items():
        c = {"n": len(members), "n_cond": 0, "n_cond_prop": 0, "n_undecided": 0, "with": None, "without": None}
        for i, m in enumerate(members):
            holds, dec = prop(m)
            if not dec:
                c["n_undecided"] += 1
                continue
            if condition(m):
                c["n_cond"] += 1
                if holds:
                    c["n_cond_prop"] += 1
                    c["with"] = i if c["with"] is None else c["with"]
                else:
                    c["without"] = i if c["without"] is None else c["without"]
        if c["with"] is not None and c["without"] is not None:
            out.split.append(name)
            if out.witness is None:
                out.witness = (name, c["with"], c["without"])
        out.per_class[name] = c
    return out


def parallel_reading(members, pairs, space: str, lam: float, tol: float = 1e-8) -> tuple[int, int]:
    """Theorem 15's "parallelism preserved only within a subspace ``N``", with ``N`` read as
    ``space`` (a key of :func:`spaces`: ``"N"`` the embedding span, ``"N0"`` the span of
    embedding differences, ``"M"`` the span of unembedding differences): in how many
    ``members`` is ``P_N δ₁ = λ P_N δ₂`` (``δᵢ = g(bᵢ) − g(aᵢ)``)? Returns
    ``(n_within, n_parallel)``: members parallel within ``N``, and members whose full offsets
    are parallel (so that "only within" has content). Tests :prf:ref:`thm-parallelism` (a)."""
    (a1, b1), (a2, b2) = pairs
    n_within = n_par = 0
    for m in members:
        N = spaces(m)[space]
        d1, d2 = m.G[b1] - m.G[a1], m.G[b2] - m.G[a2]
        p1, p2 = N @ (N.T @ d1), N @ (N.T @ d2)
        n_within += bool(np.linalg.norm(p1 - lam * p2) <= tol * max(np.linalg.norm(p1), 1e-300))
        n_par += bool(np.linalg.norm(d1 - lam * d2) <= tol * max(np.linalg.norm(d1), 1e-300))
    return n_within, n_par


def relational_reading(classes: dict, query, n_reading: str, gamma_reading: str, gq_reading: str,
                            tol: float = 1e-8, incl_tol: float = 1e-8) -> ReadingResult:
    """Theorem 14 as the seed summary states it, read with the given readings: among
    equivalent members satisfying ``Γ ⊆ N`` and ``Γ_q ⊆ M`` (each member's own subspaces), is
    "linearly represents the query on ``Γ``" all or none? See :func:`evaluate_reading`."""

    def condition(m):
        nm = named_spaces(m, query, n_reading)
        G = gamma(m, query, gamma_reading, gq_reading)
        Gq = gamma_q(m, query, gq_reading)
        return inclusion_residual(nm["N"], G) <= incl_tol and inclusion_residual(nm["M"], Gq) <= incl_tol

    def prop(m):
        holds, _, dec = relational_on(m, query, gamma(m, query, gamma_reading, gq_reading), tol)
        return holds, dec

    return evaluate_reading(classes, condition, prop)


def lift_to_gain(model, query):
    """An equivalent model that *gains* relational linearity in every form: lift by ``d``
    coordinates with ``h(s) = f(s ⊕ q)`` on the contexts ``s ∈ S`` (zero elsewhere) and
    ``c = 0`` (move M5, :prf:ref:`prop-moves`); then ``f̃(s ⊕ q)`` is a linear function of
    ``f̃(s)``. The construction of issue 10's wrong verdict, made general."""
    from .equivalence import lift

    H = np.zeros((model.n_contexts, model.dim))
    H[list(query.base)] = model.F[list(query.queried)]
    return lift(model, H, np.zeros(model.dim))


def relational_classes(rng, *, n_base: int, n_extra: int, n_tokens: int, dim: int, n_answers: int,
                       n_members: int, max_dim_factor: int = 3) -> tuple[dict, object]:
    """Three equivalence classes for the Theorem 14 readings, each as a list of members (the
    class's own model first): ``"linear"`` (a diverse model with an exactly affine query),
    ``"via M⊥"`` (the projected form holds only through a direction of ``M^⊥``, SC-RL fails),
    ``"not linear"`` (the first model with its queried rows redrawn). Each gets ``n_members``
    random equivalent members (dimensions ``k .. max_dim_factor·k``), the member of
    :func:`lift_to_gain`, and, for the first two, the library's counterexample that loses the
    property (:prf:ref:`prop-relational-counterexamples`). Returns ``(classes, query)``."""
    from . import properties as P
    from .equivalence import random_equivalent
    from .subspaces import effective_complexity

    rng = np.random.default_rng(rng)
    lin, q, _ = P.relational_example(rng, n_base=n_base, n_extra=n_extra, n_tokens=n_tokens, dim=dim,
                                     n_answers=n_answers)
    via, q2, _ = P.relational_sc_example(rng, n_base=n_base, n_extra=n_extra, n_tokens=n_tokens, k=dim - 1,
                                         n_answers=n_answers)
    if (q.base, q.queried, q.answers) != (q2.base, q2.queried, q2.answers):
        raise ValueError("the two examples must share the query's rows")
    F = lin.F.copy()
    F[list(q.queried)] = rng.normal(size=(len(q.queried), lin.dim))
    non = lin.with_tables(F=F)

    def members(B):
        k = effective_complexity(B)
        span = max_dim_factor * k - k + 1
        return [B] + [random_equivalent(B, k + i % span, rng) for i in range(n_members)] + [lift_to_gain(B, q)]

    classes = {"linear": members(lin) + [P.relational_strong_counterexample(lin, q, rng)],
               "via M⊥": members(via) + [P.relational_sc_counterexample(via, q2)],
               "not linear": members(non)}
    return classes, q
