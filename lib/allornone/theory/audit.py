"""Audit an observed linear property: is it all-or-none for this model?

``audit(model, prop)`` answers, for one model and one property instance of
:mod:`allornone.properties`:

* does the model have the property (the checker);
* which subspace condition decides whether it is identifiable, and does it
  hold here;
* the **equivalent object**: the distribution-level form of the property (the
  log-ratio ``λ``, the log-odds map ``W, r``, the probe coefficients ``β``,
  the steering coefficients ``c``), which every equivalent model shares;
* when the condition fails and the property holds, an equivalent model
  constructed with the moves that loses it, with its ``max |Δp|``.

:func:`load_model` reads ``F`` and ``G`` from two ``.npy`` files and
:func:`parse_property` turns a short text description into a property
instance (used by the page *Audit your own model*).

This goes beyond the paper; it implements the verdicts of
:prf:ref:`lem-transfer`, :prf:ref:`thm-parallelism`,
:prf:ref:`thm-relational-linearity`, :prf:ref:`thm-subspace`,
:prf:ref:`thm-probing` and :prf:ref:`thm-steering`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import properties as P
from .equivalence import max_prob_difference
from .model import NextTokenPredictor

__all__ = ["AuditReport", "audit", "load_model", "parse_property", "PROPERTY_KINDS"]

#: Property kinds understood by :func:`parse_property` and :func:`audit` (``form``).
PROPERTY_KINDS = (
    "parallel_unembedding",
    "parallel_embedding",
    "relational_strong",
    "relational_projected",
    "linear_subspace",
    "linear_probe",
    "linear_steering",
)


@dataclass(frozen=True)
class AuditReport:
    """The verdict of :func:`audit`.

    ``identifiable`` is True when the property is all-or-none for this model's
    equivalence class (its condition holds): every equivalent model satisfying
    the same condition agrees with this one. ``counterexample_max_dp`` and
    ``counterexample_holds`` describe a constructed equivalent model (``None``
    when none was built).
    """

    kind: str
    holds: bool
    residual: float
    condition: P.Condition
    identifiable: bool
    equivalent_object: dict = field(default_factory=dict)
    explanation: str = ""
    counterexample_holds: bool | None = None
    counterexample_max_dp: float | None = None

    def __str__(self) -> str:
        lines = [
            f"property:    {self.kind}",
            f"holds:       {self.holds} (residual {self.residual:.2e})",
            f"condition:   {self.condition.name}: {'holds' if self.condition.holds else 'FAILS'}",
            f"identifiable (all-or-none): {self.identifiable}",
        ]
        for k, v in self.equivalent_object.items():
            lines.append(f"equivalent object {k}: {np.array2string(np.asarray(v), precision=4, threshold=8)}")
        if self.counterexample_max_dp is not None:
            lines.append(f"constructed equivalent model: property holds = {self.counterexample_holds}, "
                         f"max |Δp| = {self.counterexample_max_dp:.1e}")
        lines.append(self.explanation)
        return "\n".join(lines)


def audit(model: NextTokenPredictor, prop, *, form: str | None = None, witness=None, dim: int | None = None,
          tol: float | None = None, rng=0) -> AuditReport:
    """Audit one property instance of one model (see the module docstring).

    Parameters
    ----------
    model : NextTokenPredictor
    prop : a property instance of :mod:`allornone.properties`
        :class:`~allornone.properties.ParallelUnembedding`,
        :class:`~allornone.properties.ParallelEmbedding`,
        :class:`~allornone.properties.RelationalQuery` (with ``form`` one of
        ``"relational_strong"``, ``"relational_projected"`` (default),
        ``"linear_subspace"``), :class:`~allornone.properties.Concept`
        (needs ``witness=(w, b)``) or
        :class:`~allornone.properties.SteeringTarget` (needs ``witness=v``).
    dim : for ``"linear_subspace"``, the claimed affine dimension (default: the observed one).
    rng : seed or generator for constructed counterexamples.
    """
    if not isinstance(model, NextTokenPredictor):
        raise ValueError(f"model must be a NextTokenPredictor; got {type(model).__name__}")
    if isinstance(prop, P.ParallelUnembedding):
        return _audit_parallel(model, prop, tol, embedding=False)
    if isinstance(prop, P.ParallelEmbedding):
        return _audit_parallel(model, prop, tol, embedding=True)
    if isinstance(prop, P.RelationalQuery):
        form = "relational_projected" if form is None else form
        if form not in ("relational_strong", "relational_projected", "linear_subspace"):
            raise ValueError(f"form must be relational_strong, relational_projected or linear_subspace for a RelationalQuery; got {form!r}")
        if form == "relational_strong":
            return _audit_strong(model, prop, tol, rng)
        if form == "relational_projected":
            return _audit_projected(model, prop, tol)
        return _audit_subspace(model, prop, dim, rng)
    if isinstance(prop, P.Concept):
        if witness is None or len(witness) != 2:
            raise ValueError("witness must be the probe (w, b) for a Concept")
        return _audit_probe(model, prop, witness[0], witness[1], tol)
    if isinstance(prop, P.SteeringTarget):
        if witness is None:
            raise ValueError("witness must be the steering vector v for a SteeringTarget")
        return _audit_steering(model, prop, witness, tol, rng)
    raise ValueError(f"prop must be a property instance of allornone.properties; got {type(prop).__name__}")


def _audit_parallel(model, prop, tol, embedding: bool) -> AuditReport:
    if embedding:
        kind, check = "parallel_embedding", P.check_parallel_embeddings(model, prop, tol)
        cond = P.condition_parallel_embeddings(model)
        dist = P.check_parallel_log_odds_differences(model, prop, tol)
        dist_name = "the log-odds differences ℓ(x_i', ·) − ℓ(x_i, ·) are proportional"
    else:
        kind, check = "parallel_unembedding", P.check_parallel_unembeddings(model, prop, tol)
        cond = P.condition_parallel_unembeddings(model)
        dist = P.check_same_log_ratios(model, prop, tol)
        dist_name = "the log-ratios log p(b_i|x)/p(a_i|x) are proportional"
    obj = {"distribution_level_parallel": dist.holds}
    if dist.holds:
        obj["lambda"] = dist.witness
    cex_holds = cex_dp = None
    if cond.holds:
        expl = (f"All-or-none: {cond.name} holds, so every equivalent model with {cond.name.split(' ')[0]} "
                f"{cond.name.split(' ')[1]} {'has' if check.holds else 'lacks'} the property"
                + (f" (with the same λ = {dist.witness:.4g})." if check.holds else "."))
    elif check.holds:
        cex = P.parallel_embedding_counterexample(model, prop) if embedding else P.parallelism_counterexample(model, prop)
        cex_holds = (P.check_parallel_embeddings(cex, prop, tol) if embedding else P.check_parallel_unembeddings(cex, prop, tol)).holds
        cex_dp = max_prob_difference(model, cex)
        expl = (f"Not identifiable: {cond.name} fails. The property holds here, but an equivalent model "
                "(a lift, built by the moves) loses it with the same distribution. What is identifiable: "
                f"{dist_name} ({dist.holds}).")
    else:
        expl = (f"Not identifiable: {cond.name} fails and the property does not hold here; "
                + ("some equivalent models (e.g. the reduced one, if diverse) may have it, since "
                   f"{dist_name}." if dist.holds else f"no equivalent model has it, since not even {dist_name}."))
    return AuditReport(kind, check.holds, check.residual, cond, bool(cond.holds), obj, expl, cex_holds, cex_dp)


def _audit_strong(model, q, tol, rng) -> AuditReport:
    check = P.check_relational_strong(model, q, tol)
    cond = P.condition_relational_strong(model)
    W, r, res = P.relational_log_odds_map(model, q)
    obj = {"W": W, "r": r} if res <= P._tol(tol) else {}
    cex_holds = cex_dp = None
    if cond.holds:
        expl = (f"All-or-none: {cond.name} holds, so every unembedding-diverse equivalent model "
                f"{'has' if check.holds else 'lacks'} f(s⊕q) = A_q f(s) + a_q (Ã_q = R̃ A_q R).")
    elif check.holds:
        cex = P.relational_strong_counterexample(model, q, rng)
        cex_holds, cex_dp = P.check_relational_strong(cex, q, tol).holds, max_prob_difference(model, cex)
        expl = (f"Not identifiable: {cond.name} fails; moving f(s⊕q) along M^⊥ (M3) breaks the strong form "
                "without changing p. Audit the projected form instead.")
    else:
        expl = f"Not identifiable: {cond.name} fails; equivalent models may or may not have the strong form."
    return AuditReport("relational_strong", check.holds, check.residual, cond, bool(cond.holds), obj, expl, cex_holds, cex_dp)


def _audit_projected(model, q, tol) -> AuditReport:
    check = P.check_relational_projected(model, q, tol)
    W, r, res = P.relational_log_odds_map(model, q)
    cond = P.condition_relational_projected(model, q, None, tol)
    obj = {"W": W, "r": r} if res <= P._tol(tol) else {}
    if check.holds and cond.holds:
        expl = ("All-or-none: the projected form holds with SC-RL, i.e. the answer log-odds after q are affine in "
                "the log-odds of s (ℓ_q(s⊕q) = W ℓ(s,·) + r); every equivalent model has it, with "
                "Ã_q = (L̃_qᵀ)⁺ W Ḡ̃.")
    elif check.holds:
        expl = ("Not identifiable: the projected form holds but SC-RL fails: the answer depends on a part of f(s) "
                "in N_S ∩ M^⊥ that the distribution does not see; an equivalent model (M3) loses the property.")
    elif cond.holds:
        expl = ("The projected form fails here but the log-odds map exists, which cannot happen for exact data; "
                "check the tolerance.")
    else:
        expl = ("All-or-none (none): the answer log-odds are not affine in the log-odds of s, and no model with "
                "SC-RL can have the property; models without SC-RL may, through directions invisible to p.")
    cex_holds = cex_dp = None
    if check.holds and not cond.holds:
        cex = P.relational_sc_counterexample(model, q)
        cex_holds, cex_dp = P.check_relational_projected(cex, q, tol).holds, max_prob_difference(model, cex)
    ident = bool(cond.holds) or not check.holds
    return AuditReport("relational_projected", check.holds, check.residual, cond, ident, obj, expl, cex_holds, cex_dp)


def _audit_subspace(model, q, dim, rng) -> AuditReport:
    m_proj = P.answer_subspace_dimension(model, q, projected=True)
    m_full = P.answer_subspace_dimension(model, q, projected=False)
    dim = m_proj if dim is None else int(dim)
    check = P.check_linear_subspace(model, q, dim, projected=True)
    cond = P.condition_linear_subspace(model, projected=False)
    obj = {"projected_dimension": m_proj, "unprojected_dimension": m_full,
           "log_odds_affine_dimension": P.affine_dimension(P.answer_log_odds(model, q))}
    cex_holds = cex_dp = None
    if cond.holds:
        expl = ("All-or-none: the projected dimension is the affine dimension of the answer log-odds (shared by every "
                f"equivalent model), and with {cond.name} the unprojected one is too.")
    else:
        cex = P.subspace_counterexample(model, q, rng)
        cex_holds = P.answer_subspace_dimension(cex, q, projected=False) <= m_full
        cex_dp = max_prob_difference(model, cex)
        expl = (f"The projected dimension ({m_proj}) is identifiable; the unprojected one ({m_full}) is not, "
                f"since {cond.name} fails: an equivalent model has unprojected dimension larger.")
    return AuditReport("linear_subspace", check.holds, float(m_proj), cond, True, obj, expl, cex_holds, cex_dp)


def _audit_probe(model, concept, w, b, tol) -> AuditReport:
    check = P.check_probe(model, concept, w, b, tol)
    cond = P.condition_probe(model, concept, w, tol)
    beta, res = P.functional_coefficients(model, w, concept.contexts)
    obj = {"beta": beta, "b": float(b)} if cond.holds else {}
    cex_holds = cex_dp = None
    if cond.holds:
        expl = ("All-or-none: w lies in M + N_S^⊥, so its scores are Σ_y β_y ℓ(s, y) + b; every equivalent model "
                "has the probe w̃ = Σ_y β_y ḡ̃(y) with identical scores.")
    else:
        cex = P.probe_counterexample(model)
        cex_holds = P.check_probe(cex, concept, w, b, tol).holds
        cex_dp = max_prob_difference(model, cex)
        expl = ("Not identifiable: w has a component in N_S ∩ M^⊥, invisible to the distribution; removing the "
                "M^⊥ part of every f(s) (M3) changes the probe's scores without changing p.")
    return AuditReport("linear_probe", check.holds, check.residual, cond, bool(cond.holds), obj, expl, cex_holds, cex_dp)


def _audit_steering(model, target, v, tol, rng) -> AuditReport:
    check = P.check_steering(model, target, v, tol)
    cond = P.condition_steering(model, v, tol)
    c, res = P.direction_coefficients(model, v)
    obj = {"c": c} if cond.holds else {}
    cex_holds = cex_dp = None
    if cond.holds:
        expl = ("All-or-none: v lies in N + M^⊥, so its effect on every log-ratio is Σ_x c_x ℓ(x, ·); every "
                "equivalent model has ṽ = Σ_x c_x f̃(x) with identical steered distributions.")
    else:
        cex = P.steering_counterexample(model, rng)
        cex_holds = P.check_steering(cex, target, v, tol).holds
        cex_dp = max_prob_difference(model, cex)
        expl = ("Not identifiable: v touches M ∩ N^⊥; moving g along N^⊥ (M4) changes the steering effect of v "
                "without changing p.")
    return AuditReport("linear_steering", check.holds, check.residual, cond, bool(cond.holds), obj, expl, cex_holds, cex_dp)


# --- reading a user's model and property ---------------------------------------------------------

def _load_table(name: str, path) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{name}: no such file {str(p)!r}")
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any reading failure is a malformed file
        raise ValueError(f"{name}: {str(p)!r} is not a readable .npy array ({exc})") from exc
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name}: {str(p)!r} must hold a real numeric array; got dtype {getattr(arr, 'dtype', '?')}")
    if arr.ndim != 2:
        raise ValueError(f"{name}: {str(p)!r} must be a 2-D array (rows x dimension d); got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: {str(p)!r} is empty; got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: {str(p)!r} has {int(np.size(arr) - np.isfinite(arr).sum())} NaN or inf entries")
    return arr


def load_model(f_path, g_path) -> NextTokenPredictor:
    """Read ``F`` (n_contexts × d) and ``G`` (n_tokens × d) from ``.npy`` files.

    Raises ``ValueError`` for a missing or unreadable file, a non-numeric or
    non-2-D array, NaN/inf entries, or a mismatch of the dimension ``d``.
    """
    F = _load_table("f_path", f_path)
    G = _load_table("g_path", g_path)
    if F.shape[1] != G.shape[1]:
        raise ValueError(f"F and G must have the same dimension d (columns); got F {F.shape} and G {G.shape}")
    if G.shape[0] < 2:
        raise ValueError(f"g_path: G needs at least two tokens (rows); got shape {G.shape}")
    return NextTokenPredictor(F, G)


def _ints(name: str, text: str) -> tuple:
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = part.split("-")
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
        except ValueError as exc:
            raise ValueError(f"{name}: cannot read {part!r} as an index or a range like 0-9") from exc
    if not out:
        raise ValueError(f"{name} is empty")
    return tuple(out)


def parse_property(kind: str, spec: str):
    """Turn a text description into a property instance.

    ``kind`` is one of ``parallel_unembedding``, ``parallel_embedding`` (``spec``
    = ``"a1,b1;a2,b2"``, token or context rows), or ``relational_strong``,
    ``relational_projected``, ``linear_subspace`` (``spec`` =
    ``"base;queried;answers"``, each a comma list of rows/tokens or ranges
    like ``0-9``). Returns ``(prop, form)`` to pass to :func:`audit`.
    """
    if kind not in PROPERTY_KINDS[:5]:
        raise ValueError(f"kind must be one of {list(PROPERTY_KINDS[:5])} (probes and steering vectors need a "
                         f"vector: use audit() with witness=...); got {kind!r}")
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("spec must be a non-empty string")
    parts = [p.strip() for p in spec.split(";")]
    if kind.startswith("parallel"):
        if len(parts) != 2:
            raise ValueError(f"spec for {kind} must be two pairs 'a1,b1;a2,b2'; got {spec!r}")
        pairs = [_ints("spec", p) for p in parts]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"spec for {kind} must be two pairs 'a1,b1;a2,b2'; got {spec!r}")
        cls = P.ParallelUnembedding if kind == "parallel_unembedding" else P.ParallelEmbedding
        return cls(tuple(pairs)), kind
    if len(parts) != 3:
        raise ValueError(f"spec for {kind} must be 'base;queried;answers'; got {spec!r}")
    base, queried, answers = (_ints(n, p) for n, p in zip(("base", "queried", "answers"), parts))
    return P.RelationalQuery(base, queried, answers), kind


if __name__ == "__main__":
    from ..reallm.audit_cli import main
    raise SystemExit(main())
