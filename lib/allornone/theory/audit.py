"""Audit an observed linear property: is it all-or-none for this model's class?

``audit(model, prop)`` applies **one verdict rule** to the shared interface of
:mod:`allornone.theory.properties` (every kind: parallel unembeddings and
embeddings, relational linearity strong and projected, linear subspaces,
probes, steering vectors). With ``check`` (the property in this
parametrisation), ``condition`` (the theorem's subspace or diversity
condition, here) and ``distribution`` (the counterpart on identifiable
quantities, the same for every member):

1. the data cannot decide the distribution-level counterpart (e.g.
   ``|S| ≤ rank[Λ_S, 1]``) → **"undecided by the data"** (under the condition
   this member's check is then undecidable too: e.g. with ``M = ℝ^d``,
   ``rank[F_S, 1] = rank[Λ_S, 1]``);
2. the condition holds → **"all"** if the distribution-level counterpart holds,
   else **"none"**, over the theorem's scope (e.g. the embedding-diverse
   members), justified by the theorem;
3. the condition fails and, for kinds where the property implies its
   counterpart in every member, the counterpart fails → **"none"** over the
   whole class (justified by that implication);
4. otherwise an equivalent pair is constructed — one member with the property,
   one without, same distribution — → **"not identifiable"**; if no pair can
   be built → "undecided by the data".

The verdict uses the member's own (Euclidean) residual only to choose which
pair to build; "all"/"none" rest on the distribution-level residual, which is
identical across the class (:prf:ref:`prop-approximate-properties`, page 07). So
members that agree on the condition get the same verdict at every ``tol``.
``identifiable`` is True exactly for "all" and "none".

:func:`load_model` reads ``F`` and ``G`` from two ``.npy`` files and
:func:`parse_property` turns a short text description into a property
instance (used by the page *Audit your own model*).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import properties as P
from .equivalence import log_odds_difference, max_prob_difference, reduce
from .model import NextTokenPredictor

__all__ = ["AuditReport", "EquivalentPair", "audit", "load_model", "parse_property", "PROPERTY_KINDS", "VERDICTS"]

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

#: The verdict vocabulary.
VERDICTS = ("all", "none", "not identifiable", "undecided by the data")

#: Largest |Λ − Λ̃| (relative) accepted between the members of a constructed pair.
PAIR_RTOL = 1e-8


@dataclass(frozen=True)
class EquivalentPair:
    """Two distribution-equivalent members: ``with_property`` has it, ``without_property``
    does not (their checks ``check_with``, ``check_without``); ``max_dp`` is
    ``max |Δp|`` between them, ``log_odds_difference`` the relative ``|ΔΛ|``."""

    with_property: NextTokenPredictor
    without_property: NextTokenPredictor
    check_with: P.Check
    check_without: P.Check
    max_dp: float
    log_odds_difference: float


@dataclass(frozen=True)
class AuditReport:
    """The verdict of :func:`audit`.

    ``verdict`` is one of :data:`VERDICTS`; ``justification`` the book label of
    the result behind it; ``scope`` the members it quantifies over;
    ``identifiable`` is True exactly when the verdict is "all" or "none".
    ``holds`` and ``residual`` (= ``parametrisation_residual``) are this
    member's check; ``distribution_holds`` and ``distribution_residual`` the
    identifiable counterpart. ``pair`` is the constructed
    :class:`EquivalentPair` behind "not identifiable";
    ``counterexample_holds`` / ``counterexample_max_dp`` describe the member of
    the pair that is not ``model`` (``None`` when there is no pair).

    ``class_verdict`` quantifies over *every* member of the class, whatever
    its condition (with ``class_pair`` behind "not identifiable"): the same
    for every equivalent model. It differs from ``verdict`` only when the
    condition holds here and the theorem's scope is a proper part of the
    class (e.g. parallelism: "all" among embedding-diverse members, "not
    identifiable" over the class, :prf:ref:`prop-parallelism-counterexample`).
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
    verdict: str = ""
    justification: str = ""
    scope: str = ""
    decidable: bool = True
    reason: str = ""
    check: P.Check | None = None
    distribution: P.Check | None = None
    pair: EquivalentPair | None = None
    tol: float = P.DEFAULT_TOL
    class_verdict: str = ""
    class_pair: EquivalentPair | None = None

    @property
    def parametrisation_residual(self) -> float:
        """The residual of the check in this parametrisation (Euclidean; not invariant)."""
        return self.residual

    @property
    def distribution_residual(self) -> float:
        """The residual of the distribution-level counterpart (identical across the class)."""
        return float("nan") if self.distribution is None else self.distribution.residual

    @property
    def distribution_holds(self) -> bool:
        return bool(self.distribution is not None and self.distribution.holds)

    def __str__(self) -> str:
        lines = [
            f"property:    {self.kind}",
            f"verdict:     {self.verdict} ({self.scope}; by {self.justification})",
            f"over the whole class: {self.class_verdict}",
            f"holds here:  {self.holds} (this parametrisation's residual {self.residual:.2e})",
            f"distribution level: {self.distribution_holds} (residual {self.distribution_residual:.2e}, "
            "the same for every equivalent model)",
            f"condition:   {self.condition.name}: {'holds' if self.condition.holds else 'FAILS'}",
            f"identifiable (all-or-none): {self.identifiable}",
        ]
        if not self.decidable:
            lines.append(f"undecided:   {self.reason}")
        for k, v in self.equivalent_object.items():
            lines.append(f"equivalent object {k}: {np.array2string(np.asarray(v), precision=4, threshold=8)}")
        if self.pair is not None:
            lines.append(f"constructed equivalent pair: with property (residual {self.pair.check_with.residual:.2e}, "
                         f"dim {self.pair.with_property.dim}), without (residual "
                         f"{self.pair.check_without.residual:.2e}, dim {self.pair.without_property.dim}), "
                         f"max |Δp| = {self.pair.max_dp:.1e}")
        lines.append(self.explanation)
        return "\n".join(lines)


def _resolve(prop, form):
    if isinstance(prop, P.RelationalQuery):
        form = "relational_projected" if form is None else form
        if form not in ("relational_strong", "relational_projected", "linear_subspace"):
            raise ValueError("form must be relational_strong, relational_projected or linear_subspace for a "
                             f"RelationalQuery; got {form!r}")
        return P.KINDS[form]
    for kind in P.KINDS.values():
        if isinstance(prop, kind.instance):
            if form is not None and form != kind.kind:
                raise ValueError(f"form must be {kind.kind!r} (or None) for a {type(prop).__name__}; got {form!r}")
            return kind
    raise ValueError(f"prop must be a property instance of allornone.properties; got {type(prop).__name__}")


def _valid_pair(kind, with_m, w_with, without_m, w_without, prop, tol):
    """An :class:`EquivalentPair` if both members are equivalent, both checks
    are decidable, one holds and one fails; else ``None``."""
    if with_m is None or without_m is None:
        return None
    if (with_m.n_contexts, with_m.n_tokens) != (without_m.n_contexts, without_m.n_tokens):
        return None
    dl = log_odds_difference(with_m, without_m)
    c_with, c_without = kind.check(with_m, prop, w_with, tol), kind.check(without_m, prop, w_without, tol)
    if dl > PAIR_RTOL or not (c_with.decidable and c_without.decidable and c_with.holds and not c_without.holds):
        return None
    return EquivalentPair(with_m, without_m, c_with, c_without, max_prob_difference(with_m, without_m), dl)


def _candidate_pairs(kind, model, prop, witness, check, rng, tol):
    """Members with and without the property, built from ``model`` and, for
    kinds whose witness is fitted, from its reduced model."""
    if check.decidable and check.holds:
        yield model, witness, kind.counterexample(model, prop, witness, rng, tol), witness
    elif check.decidable:
        r = kind.realisation(model, prop, witness, rng, tol)
        if r is not None:
            yield r[0], r[1], model, witness
    if kind.needs_witness:
        return
    base = reduce(model)
    if kind.check(base, prop, None, tol).holds:
        yield base, None, kind.counterexample(base, prop, None, rng, tol), None
    else:
        r = kind.realisation(base, prop, None, rng, tol)
        if r is not None:
            yield r[0], r[1], base, None


def _find_pair(kind, model, prop, witness, check, rng, tol):
    for cand in _candidate_pairs(kind, model, prop, witness, check, rng, tol):
        pair = _valid_pair(kind, cand[0], cand[1], cand[2], cand[3], prop, tol)
        if pair is not None:
            return pair
    return None


def _decide(kind, model, prop, witness, check, cond_holds, dist, rng, tol):
    """The one verdict rule (``cond_holds``: does the theorem's condition hold?).
    Returns ``(verdict, justification, scope, reason, pair)``."""
    if not dist.decidable:
        return "undecided by the data", kind.theorem, kind.scope, dist.reason, None
    if cond_holds:
        return ("all" if dist.holds else "none"), kind.theorem, kind.scope, "", None
    if not dist.holds and kind.necessity_label:
        return "none", kind.necessity_label, "every member of the class", "", None
    pair = _find_pair(kind, model, prop, witness, check, rng, tol)
    if pair is None:
        return ("undecided by the data", kind.counterexample_label, "every member of the class",
                "no equivalent pair (one member with the property, one without) could be constructed", None)
    return "not identifiable", kind.counterexample_label, "every member of the class", "", pair


_EXPLAIN = {
    "all": "All: {cond} holds here, so every member in scope has the property: its distribution-level "
           "counterpart holds (residual {dres:.2e} ≤ tol {tol:g}, the same number in every equivalent model).",
    "none": "None: the distribution-level counterpart fails (residual {dres:.2e} > tol {tol:g}, the same number "
            "in every equivalent model), so no member in scope has the property.",
    "not identifiable": "Not identifiable: {cond} fails here; the constructed equivalent pair (max |Δp| {dp:.1e}) "
                        "has the property in one member and not in the other.",
    "undecided by the data": "Undecided by the data: {reason}.",
}


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
    dim : for ``"linear_subspace"``, the claimed affine dimension (default: the
        largest non-vacuous claim, ``min(|S| − 1, |Y_q| − 1) − 1``).
    tol : relative tolerance of every residual (default ``DEFAULT_TOL``); at
        ``tol > 0`` the verdict rests on the distribution-level residual.
    rng : seed or generator for constructed members.
    """
    if not isinstance(model, NextTokenPredictor):
        raise ValueError(f"model must be a NextTokenPredictor; got {type(model).__name__}")
    kind = _resolve(prop, form)
    if kind.kind == "linear_subspace":
        witness = witness if dim is None else dim
    elif kind.kind == "linear_probe" and (witness is None or len(witness) != 2):
        raise ValueError("witness must be the probe (w, b) for a Concept")
    kind.validate(model, prop, witness)
    tol = P._tol(tol)
    check = kind.check(model, prop, witness, tol)
    cond = kind.condition(model, prop, witness, tol)
    dist = kind.distribution(model, prop, witness, tol)
    verdict, label, scope, reason, pair = _decide(kind, model, prop, witness, check, cond.holds, dist, rng, tol)
    class_verdict, class_pair = verdict, pair
    if cond.holds and not kind.scope_is_class:
        # the same rule for a member outside the theorem's scope (its condition failing)
        class_verdict, _, _, _, class_pair = _decide(kind, model, prop, witness, check, False, dist, rng, tol)
    other_holds = other_dp = None
    if pair is not None:
        other, oc = ((pair.without_property, pair.check_without) if pair.with_property is model
                     else (pair.with_property, pair.check_with))
        other_holds, other_dp = bool(oc.holds), max_prob_difference(model, other)
    expl = _EXPLAIN[verdict].format(cond=cond.name, dres=dist.residual, tol=tol, reason=reason,
                                    dp=pair.max_dp if pair else 0.0)
    if verdict in ("all", "none") and check.decidable and bool(check.holds) != bool(dist.holds):
        expl += (f" This parametrisation's residual ({check.residual:.2e}) {'passes' if check.holds else 'fails'} "
                 "tol, but it is not invariant across the class: the verdict rests on the distribution-level one.")
    return AuditReport(kind.kind, bool(check.holds), float(check.residual), cond, verdict in ("all", "none"),
                       kind.equivalent_object(model, prop, witness, tol, dist), expl, other_holds, other_dp,
                       verdict, label, scope, verdict != "undecided by the data", reason, check, dist, pair, tol,
                       class_verdict, class_pair)


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


if __name__ == "__main__":  # python -m allornone.audit: the command-line audit of a real model
    from ..reallm.audit_cli import main
    raise SystemExit(main())
