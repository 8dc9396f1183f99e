"""Distribution equivalence: the moves M1–M6, random members of a class, and
recovery of the extended-linear-equivalence map between two equivalent models.

Every move returns a new :class:`~allornone.model.NextTokenPredictor` with the
same next-token distribution (:prf:ref:`prop-moves`); by the identifiability
theorem (:prf:ref:`thm-identifiability`) finitely many moves reach every
distribution-equivalent model of any dimension ``≥ k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_int, as_matrix, as_positive_float, as_rng, as_vector
from .model import NextTokenPredictor
from .subspaces import (
    EffectiveForm,
    effective_complexity,
    effective_form,
    embedding_span,
    unembedding_difference_span,
)

__all__ = [
    "shift",
    "reparametrize",
    "perturb_embeddings",
    "perturb_unembeddings",
    "lift",
    "lift_unembeddings",
    "reduce",
    "random_invertible",
    "random_equivalent",
    "nudge_off_class",
    "max_prob_difference",
    "same_distribution",
    "log_odds_difference",
    "ELMap",
    "recover_el_map",
    "el_map_from_forms",
    "projection_maps",
]


def _check_model(name: str, model) -> NextTokenPredictor:
    if not isinstance(model, NextTokenPredictor):
        raise ValueError(f"{name} must be a NextTokenPredictor; got {type(model).__name__}")
    return model


# --- the six moves (prop-moves) ---------------------------------------------

def shift(model: NextTokenPredictor, b) -> NextTokenPredictor:
    """M1: ``g(y) ↦ g(y) + b`` for one vector ``b`` (adds a constant per context)."""
    model = _check_model("model", model)
    b = as_vector("b", b, size=model.dim)
    return model.with_tables(G=model.G + b)


def reparametrize(model: NextTokenPredictor, A) -> NextTokenPredictor:
    """M2: ``f ↦ A f``, ``g ↦ A⁻ᵀ g`` for an invertible ``d × d`` matrix ``A``."""
    model = _check_model("model", model)
    A = as_matrix("A", A, ncols=model.dim)
    if A.shape[0] != model.dim:
        raise ValueError(f"A must be square of size d={model.dim}; got shape {A.shape}")
    cond = np.linalg.cond(A)
    if not np.isfinite(cond) or cond > 1e12:
        raise ValueError(f"A must be invertible (well conditioned); its condition number is {cond:.3g}")
    # rows: f(x)ᵀ ↦ f(x)ᵀ Aᵀ and g(y)ᵀ ↦ g(y)ᵀ A⁻¹, so f(x)ᵀ g(y) is unchanged
    return NextTokenPredictor(model.F @ A.T, np.linalg.solve(A.T, model.G.T).T)


def _projected(name: str, U, model_rows: int, dim: int, basis: np.ndarray, project: bool, space: str) -> np.ndarray:
    U = as_matrix(name, U, ncols=dim)
    if U.shape[0] != model_rows:
        raise ValueError(f"{name} must have {model_rows} rows (one per {'context' if space == 'M' else 'token'}); got {U.shape[0]}")
    P_out = basis @ basis.T  # projector onto the subspace the perturbation must avoid
    if project:
        return U - U @ P_out
    leak = np.abs(U @ basis).max() if basis.shape[1] else 0.0
    if leak > 1e-9 * max(1.0, np.abs(U).max()):
        raise ValueError(
            f"{name} must lie in {space}^⊥ (it changes the distribution otherwise); its largest component "
            f"along {space} is {leak:.3g}. Pass project=True to project it."
        )
    return U


def perturb_embeddings(model: NextTokenPredictor, U, *, project: bool = False) -> NextTokenPredictor:
    """M3: ``f(x) ↦ f(x) + u(x)`` with every ``u(x) ∈ M^⊥`` (rows of ``U``).

    With ``project=True`` the rows of ``U`` are first projected onto ``M^⊥``;
    otherwise a ``U`` with a component along ``M`` raises ``ValueError``.
    """
    model = _check_model("model", model)
    B = unembedding_difference_span(model)
    U = _projected("U", U, model.n_contexts, model.dim, B, project, "M")
    return model.with_tables(F=model.F + U)


def perturb_unembeddings(model: NextTokenPredictor, W, *, project: bool = False) -> NextTokenPredictor:
    """M4: ``g(y) ↦ g(y) + w(y)`` with every ``w(y) ∈ N^⊥`` (rows of ``W``)."""
    model = _check_model("model", model)
    B = embedding_span(model)
    W = _projected("W", W, model.n_tokens, model.dim, B, project, "N")
    return model.with_tables(G=model.G + W)


def lift(model: NextTokenPredictor, H, c) -> NextTokenPredictor:
    """M5, first form: ``f ↦ [f; h(x)]``, ``g ↦ [g; c]`` with one constant ``c``.

    ``H`` is ``(n_contexts, e)``, ``c`` has length ``e``; the extra term
    ``h(x)ᵀ c`` is constant in ``y``.
    """
    model = _check_model("model", model)
    H = as_matrix("H", H)
    if H.shape[0] != model.n_contexts:
        raise ValueError(f"H must have {model.n_contexts} rows (one per context); got {H.shape[0]}")
    c = as_vector("c", c, size=H.shape[1])
    return NextTokenPredictor(np.hstack([model.F, H]), np.hstack([model.G, np.tile(c, (model.n_tokens, 1))]))


def lift_unembeddings(model: NextTokenPredictor, U) -> NextTokenPredictor:
    """M5, second form: ``f ↦ [f; 0]``, ``g ↦ [g; u(y)]`` with arbitrary ``u(y)`` (rows of ``U``)."""
    model = _check_model("model", model)
    U = as_matrix("U", U)
    if U.shape[0] != model.n_tokens:
        raise ValueError(f"U must have {model.n_tokens} rows (one per token); got {U.shape[0]}")
    return NextTokenPredictor(np.hstack([model.F, np.zeros((model.n_contexts, U.shape[1]))]), np.hstack([model.G, U]))


def reduce(model: NextTokenPredictor, rtol: float | None = None) -> NextTokenPredictor:
    """M6: ``(f, g) ↦ (E f, E g)``, the minimal model of dimension ``k``."""
    model = _check_model("model", model)
    form = effective_form(model, 0, rtol)
    if form.k == 0:
        raise ValueError("the model's distribution is uniform in every context (k = 0); there is no reduced model")
    return NextTokenPredictor(form.phi, model.G @ form.E.T)


# --- random members of the class ---------------------------------------------

def random_invertible(dim: int, rng, cond: float = 10.0) -> np.ndarray:
    """A random ``dim × dim`` matrix with condition number at most ``cond``."""
    dim = as_int("dim", dim, min=1)
    rng = as_rng("rng", rng)
    cond = as_positive_float("cond", cond)
    if cond < 1:
        raise ValueError(f"cond must be >= 1; got {cond}")
    Q1, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    Q2, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    s = np.exp(rng.uniform(-0.5, 0.5, size=dim) * np.log(cond))
    return Q1 @ np.diag(s) @ Q2


def random_equivalent(model: NextTokenPredictor, dim: int, rng, *, scale: float = 1.0, cond: float = 10.0) -> NextTokenPredictor:
    """A random distribution-equivalent model of dimension ``dim ≥ k``.

    Mixes every move: M6 (reduce to dimension ``k``), M5 (lift to ``dim``
    with a random split between the two lift forms), M2 (random ``A`` with
    condition number ≤ ``cond``), M3 and M4 (random perturbations of size
    ``scale`` along ``M^⊥`` and ``N^⊥``), M1 (random shift). Implements
    the construction behind :prf:ref:`thm-identifiability` (item 4).
    """
    model = _check_model("model", model)
    rng = as_rng("rng", rng)
    scale = as_positive_float("scale", scale)
    k = effective_complexity(model)
    dim = as_int("dim", dim)
    if dim < max(k, 1):
        raise ValueError(f"dim must be >= the effective complexity k={k} of the model; got {dim}")
    m = reduce(model)                                                    # M6
    extra = dim - m.dim
    if extra:
        n_a = int(rng.integers(0, extra + 1))
        if n_a:
            m = lift(m, scale * rng.normal(size=(m.n_contexts, n_a)), rng.normal(size=n_a))  # M5a
        if extra - n_a:
            m = lift_unembeddings(m, scale * rng.normal(size=(m.n_tokens, extra - n_a)))   # M5b
    m = reparametrize(m, random_invertible(dim, rng, cond))              # M2
    m = perturb_embeddings(m, scale * rng.normal(size=m.F.shape), project=True)    # M3
    m = perturb_unembeddings(m, scale * rng.normal(size=m.G.shape), project=True)  # M4
    return shift(m, rng.normal(size=dim))                                # M1


def nudge_off_class(model: NextTokenPredictor, eps: float, rng, token: int | None = None) -> NextTokenPredictor:
    """A model at distance ``eps`` from ``model`` that is *not* in its class.

    Moves one unembedding ``g(y)`` by ``eps`` along a unit direction inside
    ``N`` (so the log-odds of ``y`` change in some context). Used to show the
    equivalence test is not vacuous.
    """
    model = _check_model("model", model)
    eps = as_positive_float("eps", eps)
    rng = as_rng("rng", rng)
    N = embedding_span(model)
    if N.shape[1] == 0:
        raise ValueError("the model's embeddings are all zero; every change of g leaves p unchanged")
    y = int(rng.integers(1, model.n_tokens)) if token is None else int(token)
    direction = N @ rng.normal(size=N.shape[1])
    direction /= np.linalg.norm(direction)
    G = model.G.copy()
    G[y] += eps * direction
    return model.with_tables(G=G)


# --- comparing models ---------------------------------------------------------

def _check_pair(a, b):
    a = _check_model("a", a)
    b = _check_model("b", b)
    if (a.n_contexts, a.n_tokens) != (b.n_contexts, b.n_tokens):
        raise ValueError(
            "a and b must be defined on the same contexts and tokens; got "
            f"(n_contexts, n_tokens) = {(a.n_contexts, a.n_tokens)} and {(b.n_contexts, b.n_tokens)}"
        )
    return a, b


def max_prob_difference(a: NextTokenPredictor, b: NextTokenPredictor) -> float:
    """``max_{x,y} |p_a(y|x) − p_b(y|x)|``; the two models may differ in dimension."""
    a, b = _check_pair(a, b)
    return float(np.abs(a.probs() - b.probs()).max())


def log_odds_difference(a: NextTokenPredictor, b: NextTokenPredictor) -> float:
    """``max_{x,y} |Λ_a − Λ_b|`` for the row-centred logits (the log-odds up to the
    choice of pivot), relative to ``max(1, max |Λ|)``; 0 exactly when ``p_a = p_b``.

    Unlike :func:`max_prob_difference` it sees a rare token whose log-odds moved
    a lot while its probability stays tiny.
    """
    a, b = _check_pair(a, b)
    La, Lb = a.logits(), b.logits()
    La = La - La.mean(axis=1, keepdims=True)
    Lb = Lb - Lb.mean(axis=1, keepdims=True)
    scale = max(1.0, float(np.abs(La).max()), float(np.abs(Lb).max()))
    return float(np.abs(La - Lb).max()) / scale


def same_distribution(a: NextTokenPredictor, b: NextTokenPredictor, atol: float | None = None, *,
                      rtol: float = 1e-9) -> bool:
    """Do ``a`` and ``b`` induce the same next-token distribution?

    Decided on the log-odds, as the equivalence is stated (``Λ = Λ̃``,
    :prf:ref:`thm-identifiability`): :func:`log_odds_difference` ``≤ rtol``.
    ``atol``, if given, additionally bounds :func:`max_prob_difference` (the
    0.1 criterion, kept as a secondary figure).
    """
    rtol = as_positive_float("rtol", rtol)
    same = log_odds_difference(a, b) <= rtol
    if atol is not None:
        same = same and max_prob_difference(a, b) <= as_positive_float("atol", atol)
    return same


@dataclass(frozen=True)
class ELMap:
    """The map ``T ∈ GL(k)`` of :prf:ref:`def-extended-linear-equivalence` between two models.

    ``φ_a(x) = T φ_b(x)`` and ``γ_a(y) = T⁻ᵀ γ_b(y)``; the residuals are the
    largest absolute errors of the two identities.
    """

    T: np.ndarray
    residual_phi: float
    residual_gamma: float

    @property
    def residual(self) -> float:
        return max(self.residual_phi, self.residual_gamma)


def el_map_from_forms(fa: EffectiveForm, fb: EffectiveForm) -> ELMap:
    """Like :func:`recover_el_map`, from precomputed effective forms (for many pairs)."""
    if fa.k != fb.k:
        raise ValueError(f"a and b have different effective complexities ({fa.k} vs {fb.k}); they are not ~EL")
    if fa.phi.shape[0] != fb.phi.shape[0] or fa.gamma.shape[0] != fb.gamma.shape[0]:
        raise ValueError("a and b must be defined on the same contexts and tokens")
    Tt, *_ = np.linalg.lstsq(fb.phi, fa.phi, rcond=None)   # φ_a ≈ φ_b Tᵀ
    T = Tt.T
    res_phi = float(np.abs(fa.phi - fb.phi @ T.T).max()) if fa.k else 0.0
    cond = np.linalg.cond(T) if fa.k else 1.0
    if not np.isfinite(cond) or cond > 1e12:
        return ELMap(T=T, residual_phi=res_phi, residual_gamma=float("inf"))
    res_gamma = float(np.abs(fa.gamma - fb.gamma @ np.linalg.inv(T)).max()) if fa.k else 0.0
    return ELMap(T=T, residual_phi=res_phi, residual_gamma=res_gamma)


def recover_el_map(a: NextTokenPredictor, b: NextTokenPredictor, pivot: int = 0) -> ELMap:
    """Recover ``T`` with ``φ_a = T φ_b`` by least squares and report residuals.

    Implements the (2 ⇒ 3) step of :prf:ref:`thm-identifiability`. Raises
    ``ValueError`` if the effective complexities differ (then no such ``T``
    exists and the models cannot be equivalent).
    """
    a, b = _check_pair(a, b)
    return el_map_from_forms(effective_form(a, pivot), effective_form(b, pivot))


def projection_maps(a: NextTokenPredictor, b: NextTokenPredictor, pivot: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The matrices of :prf:ref:`prop-projection-form`: ``R = Ḡ⁺ Ḡ_b`` and ``Q = F⁺ F_b``.

    If ``a`` and ``b`` are equivalent then ``P_M f_a(x) = R f_b(x)`` and
    ``P_N ḡ_a(y) = Q ḡ_b(y)``.
    """
    a, b = _check_pair(a, b)
    R = np.linalg.pinv(a.unembedding_differences(pivot)) @ b.unembedding_differences(pivot)
    Q = np.linalg.pinv(a.F) @ b.F
    return R, Q

