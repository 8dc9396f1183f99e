"""Our stored Origins rows beside the paper's numbers: gaps in standard errors, flags, training curves.

Used by the book pages of part IV (``15_origins_tables``, ``16_origins_incomplete``,
``17_origins_figures``) on the files of ``data/origins/`` (:func:`allornone.origins.runs.load_stored`).

The **gap in standard errors** of a row and metric is
``(ours − paper) / √(se_ours² + se_paper²)``, the z-score of the difference of two
independent means. A row **misses** the paper when that exceeds 2 in absolute value
or the means differ by more than 0.03 (:data:`MISS_SE`, :data:`MISS_ABS`); the
pages show the training curve of every row that misses.
"""

from __future__ import annotations

import numpy as np

from .runs import METRICS, PAPER, PAPER_RUNS

__all__ = ["MISS_SE", "MISS_ABS", "gap_in_se", "compare_rows", "comparison_markdown", "missed", "mean_history",
           "recipe_of", "restop", "restopped_row"]

MISS_SE, MISS_ABS = 2.0, 0.03


def gap_in_se(ours_mean: float, ours_se: float, paper_mean: float, paper_se: float) -> float:
    """``(ours − paper) / √(se_ours² + se_paper²)``; ±inf if both standard errors are 0 and the means differ."""
    se = float(np.hypot(np.nan_to_num(ours_se), np.nan_to_num(paper_se)))
    d = float(ours_mean) - float(paper_mean)
    if se == 0.0:
        return 0.0 if d == 0.0 else float(np.copysign(np.inf, d))
    return d / se


def recipe_of(stored: dict) -> str:
    """One-line description of the training recipe of a stored file, from its parameters."""
    p = stored["params"]
    if p["method"] == "sgd":
        stop = p.get("stop_plateau")
        rule = (f"stopped when every cosine's mean over the last {stop[0]} logs (every {p['log_every']} steps) "
                f"moved by at most {stop[1]:g}" if stop else "no stop rule")
        return (f"the paper's recipe: mini-batches of {p.get('batch_size', 100)} sampled pairs, "
                f"{p['optimizer'].upper() if p['optimizer'] == 'sgd' else 'Adam'} lr {p['lr']:g}, "
                f"at most {p['steps']} steps, {rule}")
    lr = f"{p['lr']:g}·3^m" if p.get("lr_per_context") else f"{p['lr']:g}"
    stop = f", stop at excess loss {p['stop_excess']:g}" if p.get("stop_excess") else ""
    opt = "full-batch gradient descent" if p["optimizer"] == "sgd" else "Adam"
    return f"exact objective, {opt} lr {lr}, at most {p['steps']} steps{stop}"


def compare_rows(stored: dict, table: str) -> list[dict]:
    """One dict per row and metric: key, runs (ours, planned, paper's), ours and paper's mean ± se, gap, gap in s.e.,
    and whether the row misses the paper (see the module docstring)."""
    out = []
    for row in stored["rows"]:
        paper = PAPER.get(table, {}).get(row["key"])
        for k in METRICS:
            rec = {"key": row["key"], "metric": k, "n_runs": row["n_runs"],
                   "n_runs_planned": row.get("n_runs_planned", row["n_runs"]),
                   "n_runs_paper": PAPER_RUNS.get(table, {}).get(row["key"]),
                   "mean": row[k]["mean"], "se": row[k]["se"]}
            if paper:
                rec.update(paper_mean=paper[k][0], paper_se=paper[k][1], gap=row[k]["mean"] - paper[k][0],
                           gap_se=gap_in_se(row[k]["mean"], row[k]["se"], *paper[k]))
                rec["missed"] = bool(abs(rec["gap_se"]) > MISS_SE or abs(rec["gap"]) > MISS_ABS)
            out.append(rec)
    return out


def missed(stored: dict, table: str) -> list:
    """Keys of the rows where at least one metric misses the paper."""
    keys = []
    for rec in compare_rows(stored, table):
        if rec.get("missed") and rec["key"] not in keys:
            keys.append(rec["key"])
    return keys


def comparison_markdown(stored: dict, table: str, key_name: str = "m") -> str:
    """Markdown table: per row, runs (ours / paper), and per metric ours, the paper's and the gap in s.e."""
    recs = compare_rows(stored, table)
    lines = [f"| {key_name} | runs (ours / paper) | "
             + " | ".join(f"{k} (ours) | {k} (paper) | gap (s.e.)" for k in METRICS) + " |",
             "|---|---|" + "---|---|---|" * len(METRICS)]
    for row in stored["rows"]:
        cells = []
        for k in METRICS:
            r = next(x for x in recs if x["key"] == row["key"] and x["metric"] == k)
            se = f"±{r['se']:.3f}" if np.isfinite(r["se"]) else ""
            if "paper_mean" in r:
                flag = " **✗**" if r["missed"] else ""
                cells += [f"{r['mean']:.3f}{se}", f"{r['paper_mean']:.3f}±{r['paper_se']:.3f}",
                          f"{r['gap_se']:+.1f}{flag}"]
            else:
                cells += [f"{r['mean']:.3f}{se}", "—", "—"]
        n_paper = PAPER_RUNS.get(table, {}).get(row["key"], "—")
        n = f"{row['n_runs']}" + (f" (of {row['n_runs_planned']} planned)"
                                  if row.get("n_runs_planned", row["n_runs"]) != row["n_runs"] else "")
        lines.append(f"| {row['key']} | {n} / {n_paper} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mean_history(row: dict) -> dict:
    """Mean over a row's runs of each logged curve (``step``, excess loss and the three cosines).

    Runs that stopped early keep their last value, so the mean at a step is the mean of the tables as they
    would be reported at that step."""
    hists = [r["history"] for r in row["runs"] if r.get("history")]
    if not hists:
        raise ValueError("the row's runs carry no training history")
    longest = max(hists, key=lambda h: len(h["step"]))
    steps = np.asarray(longest["step"])
    out = {"step": steps}
    for k in ("excess",) + METRICS:
        M = np.array([np.concatenate([h[k], [h[k][-1]] * (len(steps) - len(h[k]))]) for h in hists], dtype=float)
        out[k] = np.nanmean(M, axis=0)
    out["n_running"] = np.array([sum(len(h["step"]) > i for h in hists) for i in range(len(steps))])
    return out


def restop(history: dict, window: int, tol: float) -> int:
    """Index of the logged step where the plateau rule ``(window, tol)`` would have stopped this run.

    Stopping never changes the steps before it, so a run trained under a stricter rule (or to its step budget)
    contains the run a looser rule would have produced: the cosines at the returned index are exactly what
    that rule reports. Returns the last index if the rule never fires within the history.
    """
    from .train import plateaued

    for i in range(len(history["step"])):
        prefix = {k: v[:i + 1] for k, v in history.items()}
        if plateaued(prefix, window, tol):
            return i
    return len(history["step"]) - 1


def restopped_row(row: dict, window: int, tol: float) -> dict:
    """A stored row's summary (mean ± se of the three cosines, mean steps) under another plateau rule;
    ``n_not_fired`` counts the runs whose history ends before that rule fires (they are reported at their end)."""
    from .runs import summarise

    from .train import plateaued

    per, never = [], 0
    for run in row["runs"]:
        h = run["history"]
        i = restop(h, window, tol)
        never += not plateaued({k: v[:i + 1] for k, v in h.items()}, window, tol)
        per.append({"steps_run": h["step"][i], **{k: h[k][i] for k in METRICS}})
    return {"key": row["key"], "n_runs": len(per), **summarise(per),
            "mean_steps": float(np.mean([r["steps_run"] for r in per])), "n_not_fired": never}
