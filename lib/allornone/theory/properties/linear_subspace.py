"""Linear subspaces (R-Def 8, R-Thm S).

The answer-relevant representations ``{P_{Γ_q} f(s ⊕ q)}`` lie in an affine
subspace of a *claimed* dimension ``m``. Because ``L_qᵀ`` is injective on
``Γ_q``, their affine dimension equals that of the answer log-odds
``{ℓ_q(s ⊕ q)}`` (:prf:ref:`thm-subspace`): the projected property is the
same in every member (no condition). The unprojected dimension needs
``M = ℝ^d``; :func:`subspace_counterexample` grows it by M5 + M3.

The claim is decidable only if it is not vacuous: ``m < min(|S| − 1, |Y_q| − 1)``
(``|S|`` points always fit an affine subspace of dimension ``|S| − 1``, and the
answer log-odds live in ``ℝ^{|Y_q| − 1}``).
"""

from __future__ import annotations

import numpy as np

from ..._validate import as_int, as_rng
from ..model import NextTokenPredictor
from ..subspaces import numerical_rank, orth
from .base import (Check, Condition, LinearProperty, affine_dimension_residual, check_model, resolve_tol)
from .relational import RelationalQuery, answer_basis, answer_log_odds, query_of

__all__ = ["PROPERTY", "affine_dimension", "answer_subspace_dimension", "check_linear_subspace",
           "check_log_odds_subspace", "condition_linear_subspace", "default_claimed_dimension",
           "subspace_example", "subspace_counterexample"]


def affine_dimension(X, rtol: float | None = None) -> int:
    """Affine dimension of the rows of ``X`` (rank after centring)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    return numerical_rank(X - X.mean(axis=0), rtol, scale=float(np.abs(X).max()))


def _points(model, query, projected: bool) -> np.ndarray:
    model = check_model("model", model)
    q = query_of(model, query)
    X = model.F[list(q.queried)]
    return X @ orth(answer_basis(model, q)) if projected else X


def answer_subspace_dimension(model: NextTokenPredictor, query: RelationalQuery, projected: bool = True,
                              rtol: float | None = None) -> int:
    """Affine dimension ``m`` of ``{P_{Γ_q} f(s ⊕ q)}`` (``projected=True``) or of
    ``{f(s ⊕ q)}``. The projected one equals the affine dimension of the answer
    log-odds (:prf:ref:`thm-subspace`)."""
    return affine_dimension(_points(model, query, projected), rtol)


def default_claimed_dimension(query: RelationalQuery) -> int:
    """The largest non-vacuous claim: ``min(|S| − 1, |Y_q| − 1) − 1`` (a proper subspace)."""
    return min(len(query.queried) - 1, len(query.answers) - 1) - 1


def _decidable(query: RelationalQuery, dim: int) -> tuple[bool, str]:
    top = min(len(query.queried) - 1, len(query.answers) - 1)
    if dim >= top:
        return False, (f"claimed dimension {dim} ≥ min(|S| − 1, |Y_q| − 1) = {top}: "
                       "every set of answer representations fits")
    return True, ""


def _subspace_check(X, query, dim, tol) -> Check:
    dim = as_int("dim", dim, min=0)
    r = affine_dimension_residual(X, dim)
    ok, why = _decidable(query, dim)
    return Check(r <= resolve_tol(tol), r, affine_dimension(X), ok, why)


def check_linear_subspace(model: NextTokenPredictor, query: RelationalQuery, dim: int, projected: bool = True,
                          rtol: float | None = None, tol: float | None = None) -> Check:
    """Do the (projected) representations ``f(s ⊕ q)`` lie in an affine subspace
    of dimension ``≤ dim``? Residual: relative distance of the points from the
    best such subspace (this parametrisation's); witness: the observed dimension.
    Implements :prf:ref:`def-linear-subspace`."""
    return _subspace_check(_points(model, query, projected), query, dim, tol)


def check_log_odds_subspace(model: NextTokenPredictor, query: RelationalQuery, dim: int,
                            tol: float | None = None) -> Check:
    """Distribution-level counterpart: the answer log-odds ``ℓ_q(s ⊕ q)`` lie in an
    affine subspace of dimension ``≤ dim`` (residual identical across the class)."""
    return _subspace_check(answer_log_odds(model, query), query, dim, tol)


def condition_linear_subspace(model: NextTokenPredictor, projected: bool = True) -> Condition:
    """None for the projected form (always all-or-none); ``M = ℝ^d`` for the unprojected one."""
    if projected:
        return Condition("none (projected onto Γ_q)", True, 0.0, "thm-subspace")
    from .relational_strong import condition_relational_strong

    c = condition_relational_strong(model)
    return Condition(c.name, c.holds, c.residual, "thm-subspace")


def subspace_example(rng, *, n_base: int = 20, n_extra: int = 10, n_tokens: int = 30, dim: int = 5,
                     sub_dim: int = 2, n_answers: int = 5):
    """A diverse model whose ``f(s ⊕ q)`` fill an affine subspace of dimension
    ``sub_dim``. Returns ``(model, query)``."""
    from ..examples import random_model

    rng = as_rng("rng", rng)
    as_int("sub_dim", sub_dim, min=1, max=dim)
    m = random_model(2 * n_base + n_extra, n_tokens, dim, rng)
    F = m.F.copy()
    F[n_base:2 * n_base] = rng.normal(size=dim) + rng.normal(size=(n_base, sub_dim)) @ rng.normal(size=(sub_dim, dim))
    q = RelationalQuery(tuple(range(n_base)), tuple(range(n_base, 2 * n_base)), tuple(range(1, n_answers + 1)))
    return m.with_tables(F=F), q


def subspace_counterexample(model: NextTokenPredictor, query: RelationalQuery, rng, extra: int = 2) -> NextTokenPredictor:
    """Lift by ``extra`` new ``M^⊥`` directions (M5) and scatter every
    ``f(s ⊕ q)`` along them (M3): the unprojected dimension grows by ``extra``."""
    from ..equivalence import lift, perturb_embeddings

    model = check_model("model", model)
    q = query_of(model, query)
    rng = as_rng("rng", rng)
    extra = as_int("extra", extra, min=1)
    m = lift(model, np.zeros((model.n_contexts, extra)), np.ones(extra))
    U = np.zeros(m.F.shape)
    U[list(q.queried), -extra:] = rng.normal(size=(len(q.queried), extra))
    return perturb_embeddings(m, U)


class LinearSubspace(LinearProperty):
    """R-Def 8 (projected) through the shared interface; the witness is the
    claimed dimension (default :func:`default_claimed_dimension`)."""

    kind = "linear_subspace"
    instance = RelationalQuery
    theorem = "thm-subspace"
    scope = "every member of the class"
    scope_is_class = True
    counterexample_label = "thm-subspace"
    necessity_label = "thm-subspace"

    @staticmethod
    def _dim(inst, witness):
        return default_claimed_dimension(inst) if witness is None else as_int("dim", witness, min=0)

    def check(self, model, inst, witness=None, tol=None):
        return check_linear_subspace(model, inst, self._dim(inst, witness), tol=tol)

    def condition(self, model, inst, witness=None, tol=None):
        return condition_linear_subspace(model, projected=True)

    def distribution(self, model, inst, witness=None, tol=None):
        return check_log_odds_subspace(model, inst, self._dim(inst, witness), tol)

    def transfer(self, model, other, inst, witness=None):
        return self._dim(inst, witness)

    def example(self, rng, **kwargs):
        m, q = subspace_example(rng, **kwargs)
        return m, q, kwargs.get("sub_dim", 2)

    def counterexample(self, model, inst, witness=None, rng=0, tol=None):
        return None          # the projected form is the same in every member

    def realisation(self, model, inst, witness=None, rng=0, tol=None):
        return None

    def equivalent_object(self, model, inst, witness=None, tol=None, dist=None):
        return {"claimed_dimension": self._dim(inst, witness),
                "projected_dimension": answer_subspace_dimension(model, inst, projected=True),
                "unprojected_dimension": answer_subspace_dimension(model, inst, projected=False),
                "log_odds_affine_dimension": affine_dimension(answer_log_odds(model, inst))}


PROPERTY = LinearSubspace()

# the shared interface as module functions: ``<module>.check(model, inst, witness, tol)`` etc.
check, condition, distribution, transfer = PROPERTY.check, PROPERTY.condition, PROPERTY.distribution, PROPERTY.transfer
example, counterexample, realisation = PROPERTY.example, PROPERTY.counterexample, PROPERTY.realisation
