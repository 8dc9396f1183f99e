"""``python -m allornone.audit``: audit linear properties of a real language model.

::

    python -m allornone.audit --model smollm2 --pairs data/relations --contexts data/contexts/contexts.txt \\
        --properties parallel-unembeddings,parallel-embeddings --tol 0.5 --json audit.json

For every relation (a list of word pairs ``(a_i, b_i)``) and every requested property the audit compares
pairs of pairs of the relation with the library's :func:`allornone.theory.audit.audit` and prints, per
property and relation: whether the property holds (in this parametrisation, within ``--tol``), the verdict
(*all*, *none*, *not identifiable*, *undecided by the data*) with the book label of the result that justifies
it, the **invariant statistics** (functions of the next-token distribution only, the same in every equivalent
model; the verdict at ``tol > 0`` rests on them) and **this parametrisation's** residual (Euclidean, which an
equivalent model can move).

Properties on real data:

``parallel-unembeddings``
    ``δ_i = g(b_i) − g(a_i)`` parallel (:prf:ref:`def-parallel-unembedding`); decided on the contexts of
    ``--contexts``; invariant statistic: the log-ratios ``r_i(x) = log p(b_i|x)/p(a_i|x)`` over contexts
    (:prf:ref:`prop-parallel-log-ratios`); condition: embedding diversity (:prf:ref:`thm-parallelism`).
``parallel-embeddings``
    ``Δ_i = f(x_i') − f(x_i)`` parallel for the contexts ``x_i = frame + a_i`` and ``x_i' = frame + b_i``
    (:prf:ref:`prop-parallel-embedding`); invariant statistic: the log-probability differences
    ``log p(·|x_i') − log p(·|x_i)`` over the vocabulary; condition: unembedding diversity.

A relation's verdict is the verdict of the conjunction "every compared pair of pairs has the property":
*none* if one comparison is *none*, *all* if every one is *all*, *undecided by the data* if one is, and
otherwise *not identifiable*. For exact properties this is sound: the moves that make a comparison hold or
fail when the condition fails (M4: ``g(y) + w(y)`` with ``w(y) ∈ N^⊥``; M3: ``f(x) + u(x)`` with
``u(x) ∈ M^⊥``) act on every token or context separately, so they can make all comparisons hold at once, or
break one. At ``tol > 0`` the same rule combines the approximate verdicts.

Every input is checked before any model is loaded: a bad file or specification prints one line
``allornone.audit: error: ...`` and exits with status 2. The audit itself runs on plain numpy tables
(:func:`audit_tables`), so it is tested on small synthetic models and on their reparametrisations.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "PROPERTIES",
    "MODELS",
    "InputError",
    "AuditInputs",
    "parse_args",
    "check_inputs",
    "read_pair_source",
    "load_lm",
    "audit_tables",
    "format_report",
    "main",
]

PROG = "allornone.audit"

#: Property name -> (book label of the definition, book label of the result behind the verdict, short text).
PROPERTIES = {
    "parallel-unembeddings": ("def-parallel-unembedding", "thm-parallelism",
                              "unembedding offsets g(b) − g(a) are parallel"),
    "parallel-embeddings": ("prop-parallel-embedding", "prop-parallel-embedding",
                            "embedding offsets f(frame b) − f(frame a) are parallel"),
}

#: Named models; anything else must be a path to a local GGUF file or a Hugging Face model directory.
MODELS = ("smollm2", "gemma3-270m")

VERDICTS = ("all", "none", "not identifiable", "undecided by the data")
DEFAULT_TOL = 0.5


class InputError(ValueError):
    """A bad command-line input: printed as one line, exit status 2, before any model is loaded."""


@dataclass
class AuditInputs:
    """Everything the audit needs, read and checked from the command line (no model loaded yet)."""

    model: str
    relations: dict
    contexts: list
    properties: tuple
    tol: float
    json_path: Path | None = None
    max_pairs: int = 4
    vocab_sample: int | None = 1024
    frame: str = ""
    batch_size: int = 32
    progress: bool = True
    seed: int = 0
    sources: dict = field(default_factory=dict)


# --- reading the inputs -------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise InputError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m {PROG}", description=(
        "Audit linear properties of a real language model on your word pairs and contexts: per property and "
        "relation, whether it holds, the verdict (all / none / not identifiable / undecided by the data) with "
        "the book label that justifies it, the distribution-level (invariant) statistics and this "
        "parametrisation's Euclidean residual."))
    p.add_argument("--model", default="smollm2",
                   help="smollm2 (default), gemma3-270m, or a path to a local .gguf file or Hugging Face model directory")
    p.add_argument("--pairs", default=None,
                   help="a TSV file of 'base<TAB>target' lines, or a folder of *.tsv / '[a - b].txt' files "
                        "(default: the book's data/relations)")
    p.add_argument("--contexts", default=None,
                   help="a text file with one context per line (default: the book's data/contexts/contexts.txt)")
    p.add_argument("--properties", default=",".join(PROPERTIES),
                   help=f"comma-separated, from: {', '.join(PROPERTIES)} (default: all)")
    p.add_argument("--tol", default=str(DEFAULT_TOL),
                   help=f"tolerance on the residual |sin angle| in (0, 1) (default {DEFAULT_TOL})")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the full report as JSON to OUT")
    p.add_argument("--max-contexts", default="1000",
                   help="use at most this many contexts (default 1000: more than d, so embedding diversity can hold)")
    p.add_argument("--max-pairs", default="4",
                   help="compare all pairs of pairs among the first K single-token pairs of each relation (default 4)")
    p.add_argument("--vocab-sample", default="1024",
                   help="tokens besides the pair tokens kept in the audited vocabulary, or 'all' (default 1024)")
    p.add_argument("--frame", default="", help="text before the word in the parallel-embeddings contexts (default: none)")
    p.add_argument("--batch-size", default="32", help="contexts per forward pass (default 32)")
    p.add_argument("--seed", default="0", help="seed of the vocabulary sample (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line; raises :class:`InputError` (one line) on a bad option."""
    return _parser().parse_args(argv)


def _int(name: str, text: str, lo: int) -> int:
    try:
        v = int(text)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be an integer >= {lo}; got {text!r}") from None
    if v < lo:
        raise InputError(f"{name} must be an integer >= {lo}; got {v}")
    return v


def read_pair_source(path) -> dict:
    """Relations ``{name: [(base, target), ...]}`` from one relation file or a folder of them.

    A folder is read with :func:`allornone.reallm.read_relations` (``*.tsv`` files of ``base<TAB>target``
    lines and ``[base - target].txt`` files of two words per line); a single file with
    :func:`allornone.reallm.read_pairs`. Raises :class:`InputError` (one line, naming ``--pairs``) for a
    missing path, an unparsable line (with file and line number), a folder without relation files, or a
    relation with fewer than 2 pairs.
    """
    from .lm import _BRACKET_NAME, read_pairs, read_relations

    path = Path(path)
    try:
        if path.is_dir():
            relations = read_relations(path)
        elif path.is_file():
            m = _BRACKET_NAME.match(path.stem)
            name = f"{m.group(1).strip()} - {m.group(2).strip()}" if m else path.stem
            relations = {name: read_pairs(path)}
        else:
            raise InputError(f"--pairs: no such file or folder: {path}")
    except InputError:
        raise
    except (ValueError, OSError) as exc:  # UnicodeDecodeError is a ValueError
        raise InputError(f"--pairs: {exc}") from None
    for name, pairs in relations.items():
        if len(pairs) < 2:
            raise InputError(f"--pairs: the relation {name!r} has {len(pairs)} word pair(s); at least 2 are needed")
    return relations


def _default_data(sub: str) -> Path:
    from .lm import data_dir

    try:
        return data_dir() / sub
    except Exception as exc:  # noqa: BLE001 - RealLMUnavailable or an odd checkout
        raise InputError(f"no default {sub!r} outside the book's checkout ({exc}); pass the path explicitly") from None


def _check_model_spec(spec: str) -> str:
    """A named model whose package is installed, or an existing GGUF file / model directory (loads nothing)."""
    from .inputs import check_model

    try:
        check_model(spec, verbose=False)
    except ValueError as exc:
        msg = str(exc)
        msg = msg[len("parameter "):] if msg.startswith("parameter ") else msg
        raise InputError(f"--model: {msg}") from None
    p = Path(spec)
    if p.is_file():
        with p.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise InputError(f"--model: {p} is not a GGUF file (it does not start with the GGUF magic bytes)")
    return spec


def check_inputs(args: argparse.Namespace) -> AuditInputs:
    """Read and check every input (files, specs, numbers) without loading a model.

    Raises :class:`InputError` with a one-line message naming the option.
    """
    props = tuple(p.strip() for p in str(args.properties).split(",") if p.strip())
    if not props:
        raise InputError("--properties is empty; choose from " + ", ".join(PROPERTIES))
    unknown = [p for p in props if p not in PROPERTIES]
    if unknown:
        raise InputError(f"--properties: unknown property {unknown[0]!r}; choose from {', '.join(PROPERTIES)}")
    props = tuple(dict.fromkeys(props))
    try:
        tol = float(args.tol)
    except (TypeError, ValueError):
        raise InputError(f"--tol must be a number in (0, 1); got {args.tol!r}") from None
    if not math.isfinite(tol) or not 0 < tol < 1:
        raise InputError(f"--tol must be a number in (0, 1) (a residual |sin angle|); got {args.tol!r}")
    max_contexts = _int("--max-contexts", args.max_contexts, 2)
    max_pairs = _int("--max-pairs", args.max_pairs, 2)
    batch_size = _int("--batch-size", args.batch_size, 1)
    seed = _int("--seed", args.seed, 0)
    vocab_sample = None if str(args.vocab_sample).strip().lower() == "all" else _int("--vocab-sample", args.vocab_sample, 0)
    json_path = None
    if args.json is not None:
        json_path = Path(args.json)
        if json_path.is_dir():
            raise InputError(f"--json: {json_path} is a folder; give a file name")
        if not json_path.parent.is_dir():
            raise InputError(f"--json: the folder {json_path.parent} does not exist")
    pairs_path = Path(args.pairs) if args.pairs is not None else _default_data("relations")
    relations = read_pair_source(pairs_path)
    ctx_path = Path(args.contexts) if args.contexts is not None else _default_data("contexts") / "contexts.txt"
    from .lm import read_contexts

    try:
        contexts = read_contexts(ctx_path)
    except (ValueError, OSError) as exc:
        raise InputError(f"--contexts: {exc}") from None
    if len(contexts) < 2 and "parallel-unembeddings" in props:
        raise InputError(f"--contexts: {ctx_path} has {len(contexts)} context; at least 2 are needed")
    model = _check_model_spec(str(args.model))
    return AuditInputs(model=model, relations=relations, contexts=contexts[:max_contexts], properties=props,
                       tol=tol, json_path=json_path, max_pairs=max_pairs, vocab_sample=vocab_sample,
                       frame=str(args.frame), batch_size=batch_size, progress=not args.no_progress, seed=seed,
                       sources={"pairs": str(pairs_path), "contexts": str(ctx_path),
                                "n_contexts_in_file": len(contexts)})


# --- the model -------------------------------------------------------------------------------------

def load_lm(spec: str):
    """Load the model of a checked ``--model`` spec with :func:`allornone.reallm.load_model` (converted once
    to the content-hashed cache; the logits are checked at load)."""
    from .lm import load_model

    return load_model(spec)


def _embed(lm, contexts, batch_size, progress, desc, cached=False):
    """``F`` for the contexts, with a tqdm bar on stderr over the forward passes."""
    from tqdm.auto import tqdm

    with tqdm(total=len(contexts), desc=desc, unit="context", disable=not progress, file=sys.stderr,
              leave=False) as bar:
        def tick(done, total):
            bar.update(done - bar.n)

        if cached:
            return lm.embed_cached(contexts, batch_size, progress=tick)
        return lm.embed(contexts, batch_size, progress=tick)


def _token_ids(tokenizer, relations):
    """Single-token pairs per relation, and why each other pair was dropped."""
    from .lm import filter_single_token_pairs

    ids, words, dropped = {}, {}, {}
    for name, pairs in relations.items():
        kept, idx, why = filter_single_token_pairs(tokenizer, pairs, with_reasons=True)
        ids[name], words[name] = idx, [tuple(w) for w in kept]
        dropped[name] = [{"pair": list(pw), "reason": r} for pw, r in why]
    return ids, words, dropped


# --- the audit on tables -------------------------------------------------------------------------

def _verdict_of(report, prop_name: str) -> tuple[str, str]:
    """``(verdict, book label)`` of one library audit report."""
    verdict, label = str(report.verdict), report.justification
    if verdict not in VERDICTS:
        raise ValueError(f"the library returned an unknown verdict {verdict!r}")
    if not label:
        raise ValueError(f"the library gave the {prop_name} verdict {verdict!r} without the label that justifies it")
    return verdict, str(label)


def _float_or_none(x):
    return None if x is None else float(x)


def _sin(u: np.ndarray, v: np.ndarray) -> float:
    """``|sin ∠(u, v)|`` (1 if either vector is 0)."""
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if nu == 0 or nv == 0:
        return 1.0
    c = float(u @ v) / (nu * nv)
    return float(math.sqrt(max(0.0, 1.0 - c * c)))


def _mean_cos(X: np.ndarray, centred: bool) -> float:
    """Mean pairwise cosine of the rows of X (Pearson correlation when ``centred``)."""
    if centred:
        X = X - X.mean(axis=1, keepdims=True)
    n = np.linalg.norm(X, axis=1)
    n[n == 0] = 1.0
    C = (X / n[:, None]) @ (X / n[:, None]).T
    return float(C[np.triu_indices(X.shape[0], 1)].mean())


def _combine(verdicts: list) -> str:
    """The verdict of a conjunction of comparisons (see the module docstring)."""
    if "none" in verdicts:
        return "none"
    if all(v == "all" for v in verdicts):
        return "all"
    if "undecided by the data" in verdicts:
        return "undecided by the data"
    return "not identifiable"


def _subsample_vocab(n_tokens: int, keep: np.ndarray, sample: int | None, seed: int) -> np.ndarray:
    keep = np.unique(keep)
    if sample is None or n_tokens - keep.size <= sample:
        return np.arange(n_tokens)
    rest = np.setdiff1d(np.arange(n_tokens), keep)
    extra = np.random.default_rng(seed).choice(rest, size=sample, replace=False)
    return np.sort(np.concatenate([keep, extra]))


def audit_tables(F, G, pair_ids: dict, properties=("parallel-unembeddings",), *, tol: float = DEFAULT_TOL,
                 F_words: dict | None = None, pair_words: dict | None = None, vocab_sample: int | None = None,
                 seed: int = 0, progress: bool = False) -> dict:
    """Audit the properties on plain tables; returns the JSON-ready ``{"properties": {...}, ...}`` dict.

    Parameters
    ----------
    F : (n_contexts, d) array, ``f(x)`` over the corpus (for ``parallel-unembeddings``).
    G : (n_tokens, d) array, ``g(y)``.
    pair_ids : ``{relation: int array (n_pairs, 2)}`` of token ids ``(a_i, b_i)``.
    F_words : ``{relation: (n_pairs, 2, d) array}`` with ``f(frame a_i)``, ``f(frame b_i)`` (for
        ``parallel-embeddings``).
    vocab_sample : keep the pair tokens and this many other tokens (seeded) in the audited vocabulary;
        ``None`` keeps all. Log-ratios of the pair tokens do not depend on the other tokens.

    Every comparison (pair ``i`` against pair ``j > i`` of a relation) is one call of
    :func:`allornone.theory.audit.audit`; the verdict and its label come from there.
    Implements the audit of :prf:ref:`thm-parallelism` and :prf:ref:`prop-parallel-embedding` on a relation.
    """
    from ..theory.audit import audit
    from ..theory.model import NextTokenPredictor, log_softmax
    from ..theory.properties import ParallelEmbedding, ParallelUnembedding
    from tqdm.auto import tqdm

    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2:
        raise ValueError(f"G must be a 2-D array; got shape {G.shape}")
    unknown = [p for p in properties if p not in PROPERTIES]
    if unknown:
        raise ValueError(f"properties must be from {list(PROPERTIES)}; got {unknown[0]!r}")
    if not 0 < float(tol) < 1:
        raise ValueError(f"tol must be in (0, 1); got {tol!r}")
    pair_ids = {n: np.asarray(p, dtype=np.int64).reshape(-1, 2) for n, p in pair_ids.items()}
    names = [n for n, p in pair_ids.items() if len(p) >= 2]
    all_ids = np.concatenate([pair_ids[n].ravel() for n in names]) if names else np.zeros(0, np.int64)
    vocab = _subsample_vocab(G.shape[0], all_ids, vocab_sample, seed)
    where = {int(t): i for i, t in enumerate(vocab)}
    Gs = G[vocab]
    out = {"tol": float(tol), "n_tokens": int(G.shape[0]), "n_tokens_audited": int(vocab.size),
           "dim": int(G.shape[1]), "skipped_relations": sorted(set(pair_ids) - set(names)), "properties": {}}
    for prop in properties:
        if prop == "parallel-unembeddings":
            F = np.asarray(F, dtype=np.float64)
            shared = NextTokenPredictor(F, Gs) if names else None
        elif F_words is None:
            raise ValueError("F_words is needed for parallel-embeddings")
        rels = {}
        todo = [(n, i, j) for n in names for i, j in itertools.combinations(range(len(pair_ids[n])), 2)]
        bar = tqdm(total=len(todo), desc=f"audit {prop}", unit="comparison", disable=not progress,
                   file=sys.stderr, leave=False)
        for n in names:
            p = pair_ids[n]
            local = np.array([[where[int(a)], where[int(b)]] for a, b in p])
            if prop == "parallel-unembeddings":
                model = shared
                D = Gs[local[:, 1]] - Gs[local[:, 0]]          # offsets δ_i (this parametrisation)
                inv = model.F @ D.T                             # log-ratios r_i(x): columns, one per pair
                inv_rows = inv.T
                mk = lambda i, j: ParallelUnembedding(((local[i, 0], local[i, 1]), (local[j, 0], local[j, 1])))
                inv_name = "log-ratios log p(b|x)/p(a|x) over the contexts"
            else:
                Fw = np.asarray(F_words[n], dtype=np.float64)
                if Fw.shape != (len(p), 2, G.shape[1]):
                    raise ValueError(f"F_words[{n!r}] must have shape {(len(p), 2, G.shape[1])}; got {Fw.shape}")
                model = NextTokenPredictor(Fw.reshape(-1, G.shape[1]), Gs)   # rows 2i: frame a_i, 2i+1: frame b_i
                D = Fw[:, 1] - Fw[:, 0]                          # offsets Δ_i
                lp = log_softmax(model.F @ Gs.T)
                inv_rows = lp[1::2] - lp[0::2]                   # log p(·|x_i') − log p(·|x_i) over the vocabulary
                inv_rows = inv_rows - inv_rows.mean(axis=1, keepdims=True)
                mk = lambda i, j: ParallelEmbedding(((2 * i, 2 * i + 1), (2 * j, 2 * j + 1)))
                inv_name = "log-probability differences log p(·|x') − log p(·|x) over the vocabulary (centred)"
            comps = []
            for i, j in itertools.combinations(range(len(p)), 2):
                rep = audit(model, mk(i, j), tol=tol)
                verdict, label = _verdict_of(rep, prop)
                comps.append({
                    "pairs": [list(pair_words[n][i]) if pair_words else [int(x) for x in p[i]],
                              list(pair_words[n][j]) if pair_words else [int(x) for x in p[j]]],
                    "holds": bool(rep.holds), "verdict": verdict, "justification": label,
                    "invariant_residual": _sin(inv_rows[i], inv_rows[j]),
                    "residual_this_parametrisation": _sin(D[i], D[j]),
                    "library_residual": float(rep.residual),
                    "library_distribution_residual": _float_or_none(getattr(rep, "distribution_residual", None)),
                    "scope": str(getattr(rep, "scope", "") or ""),
                    "reason": str(getattr(rep, "reason", "") or ""),
                    "pair_max_dp": _float_or_none(getattr(getattr(rep, "pair", None), "max_dp", None)),
                    "condition": {"name": rep.condition.name, "holds": bool(rep.condition.holds)},
                })
                bar.update()
            verdicts = [c["verdict"] for c in comps]
            verdict = _combine(verdicts)
            label = next((c["justification"] for c in comps if c["verdict"] == verdict), PROPERTIES[prop][1])
            rels[n] = {
                "n_pairs": int(len(p)), "n_comparisons": len(comps),
                "holds": all(c["holds"] for c in comps), "n_hold": sum(c["holds"] for c in comps),
                "verdict": verdict, "justification": label,
                "verdict_counts": {v: verdicts.count(v) for v in VERDICTS if v in verdicts},
                "condition": comps[0]["condition"],
                "invariant": {
                    "statistic": inv_name,
                    "consistency": _mean_cos(inv_rows, centred=False),
                    "correlation": _mean_cos(inv_rows, centred=True),
                    "mean_residual": float(np.mean([c["invariant_residual"] for c in comps])),
                    # the distribution-level residual the library's verdict rests on; the relation's verdict
                    # is a conjunction, so its largest value over the comparisons is the one that matters
                    "verdict_residual_max": max((c["library_distribution_residual"] for c in comps
                                                 if c["library_distribution_residual"] is not None), default=None),
                },
                "this_parametrisation": {
                    "mean_cosine": _mean_cos(D, centred=False),
                    "mean_residual": float(np.mean([c["residual_this_parametrisation"] for c in comps])),
                },
                "comparisons": comps,
            }
        bar.close()
        verdicts = [r["verdict"] for r in rels.values()]
        out["properties"][prop] = {
            "definition": PROPERTIES[prop][0], "description": PROPERTIES[prop][2],
            "n_relations": len(rels), "n_relations_holding": sum(r["holds"] for r in rels.values()),
            "verdict_counts": {v: verdicts.count(v) for v in VERDICTS if v in verdicts},
            "relations": rels,
        }
    return out


# --- the report ------------------------------------------------------------------------------------

def format_report(result: dict) -> str:
    """The readable report of :func:`audit_tables` (plus the model and data sections of :func:`main`)."""
    lines = []
    m, d = result.get("model"), result.get("data")
    if m:
        lines.append(f"model: {m['spec']}  (d = {m['dim']}, {m['n_tokens']} tokens; loaded in {m['load_seconds']:.1f} s; "
                     f"max |f(x)ᵀg(y) − logit| = {m['logit_error']:.1e}, checked at load)")
    if d:
        lines.append(f"data: {d['n_relations']} relations from {d['pairs']}; {d['n_contexts']} contexts from {d['contexts']}")
        for n, r in d["relations"].items():
            if r["n_dropped"]:
                lines.append(f"  {n}: kept {r['n_kept']} of {r['n_written']} pairs ({r['n_dropped']} not single tokens "
                             f"or repeated), compared the first {r['n_compared']}")
    lines.append(f"vocabulary audited: {result['n_tokens_audited']} of {result['n_tokens']} tokens; tol = {result['tol']:g}")
    if result.get("skipped_relations"):
        lines.append(f"skipped (fewer than 2 single-token pairs): {', '.join(result['skipped_relations'])}")
    for prop, pr in result["properties"].items():
        counts = ", ".join(f"{k} {v}" for k, v in pr["verdict_counts"].items())
        lines += ["", f"== {prop} ({pr['definition']}): {pr['description']}",
                  f"   holds in this parametrisation for {pr['n_relations_holding']} of {pr['n_relations']} relations; verdicts: {counts}"]
        if pr["relations"]:
            first = next(iter(pr["relations"].values()))
            c = first["condition"]
            lines.append(f"   condition: {c['name']}: {'holds' if c['holds'] else 'FAILS'}")
            lines.append(f"   invariant statistic: {first['invariant']['statistic']}")
        w = max([8, *map(len, pr["relations"])])
        lines.append(f"   {'relation':{w}} {'verdict':22} {'justified by':24} {'inv. corr':>9} {'inv. resid':>10} "
                     f"{'holds (this)':>12} {'cos (this)':>10} {'resid (this)':>12}")
        for n, r in pr["relations"].items():
            vr = r["invariant"]["verdict_residual_max"]
            lines.append(f"   {n:{w}} {r['verdict']:22} {r['justification']:24} {r['invariant']['correlation']:9.3f} "
                         f"{(f'{vr:.3f}' if vr is not None else '-'):>10} {r['n_hold']:>6}/{r['n_comparisons']:<5} "
                         f"{r['this_parametrisation']['mean_cosine']:10.3f} {r['this_parametrisation']['mean_residual']:12.3f}")
    lines += ["", "inv. = distribution-level, the same in every equivalent model: inv. corr = mean correlation of the "
              "invariant statistic over pairs; inv. resid = the largest distribution-level residual of the compared "
              "pairs of pairs, on which the verdict rests (at most tol for 'all' under the condition).",
              "(this) = this parametrisation's Euclidean figures, which equivalent models can move: holds (this) = "
              "comparisons whose Euclidean residual is within tol; cos and resid are means over pairs."]
    return "\n".join(lines)


# --- the command -----------------------------------------------------------------------------------

def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return status


def run(inputs: AuditInputs) -> dict:
    """Load the model, compute the tables and audit them (see :func:`main`)."""
    t0 = time.perf_counter()
    lm = load_lm(inputs.model)
    load_s = time.perf_counter() - t0
    ids, words, dropped = _token_ids(lm.tokenizer, inputs.relations)
    n_kept = {n: len(v) for n, v in ids.items()}
    ids = {n: v[:inputs.max_pairs] for n, v in ids.items()}
    words = {n: v[:inputs.max_pairs] for n, v in words.items()}
    F = _embed(lm, inputs.contexts, inputs.batch_size, inputs.progress, "f(x) over the contexts", cached=True)
    F_words = None
    if "parallel-embeddings" in inputs.properties:
        names = [n for n in ids if len(ids[n]) >= 2]
        texts = [f"{inputs.frame} {w}" if inputs.frame else f" {w}" for n in names for pair in words[n] for w in pair]
        Fw = _embed(lm, texts, inputs.batch_size, inputs.progress, "f(frame + word)") if texts else np.zeros((0, lm.dim))
        F_words, k = {}, 0
        for n in names:
            m = 2 * len(words[n])
            F_words[n] = Fw[k:k + m].reshape(-1, 2, lm.dim)
            k += m
    result = audit_tables(F, lm.G, ids, inputs.properties, tol=inputs.tol, F_words=F_words, pair_words=words,
                          vocab_sample=inputs.vocab_sample, seed=inputs.seed, progress=inputs.progress)
    result["model"] = {"spec": inputs.model, "dim": int(lm.dim), "n_tokens": int(lm.n_tokens),
                       "load_seconds": load_s, "logit_error": float(lm.logit_error),
                       "info": {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in lm.info.items()}}
    result["data"] = {"pairs": inputs.sources["pairs"], "contexts": inputs.sources["contexts"],
                      "n_contexts": len(inputs.contexts), "n_contexts_in_file": inputs.sources["n_contexts_in_file"],
                      "frame": inputs.frame, "n_relations": len(inputs.relations),
                      "relations": {n: {"n_written": len(inputs.relations[n]), "n_kept": n_kept[n],
                                        "n_compared": len(ids[n]), "n_dropped": len(dropped[n]), "dropped": dropped[n]}
                                    for n in inputs.relations}}
    return result


def main(argv=None) -> int:
    """Run the audit command; returns the exit status (0 ok, 2 bad input, 1 the model failed to load or run)."""
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except InputError as exc:
        return _fail(exc, 2)
    try:
        inputs = check_inputs(args)
    except InputError as exc:
        return _fail(exc, 2)
    try:
        result = run(inputs)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        return _fail(f"{type(exc).__name__}: {exc}", 1)
    print(format_report(result))
    if inputs.json_path is not None:
        inputs.json_path.write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")
        print(f"JSON report written to {inputs.json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
