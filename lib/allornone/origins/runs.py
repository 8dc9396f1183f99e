"""Full parameterised runs for the Origins tables and figures, and the paper's reference numbers.

::

    python -m allornone.origins_runs table1 --out data/origins/table1.json
    python -m allornone.origins_runs table2 --runs 20,20,20,10,10
    python -m allornone.origins_runs table3 --runs 10
    python -m allornone.origins_runs table4 --keys 12 --runs 3 --out data/origins/table4_m12.json
    python -m allornone.origins_runs fig6b

writes ``data/origins/<setting>.json`` holding the exact parameters, the
command line, the library and torch versions, the timing and the per-run
metrics, so the book pages read stored results instead of retraining.

:data:`PAPER` holds the numbers of Jiang et al. (2024) Tables 1–4, typed once
from the arXiv v1 PDF (via the reconstruction notes ``origins.md`` §4.5) as
reference data. They are **the paper's numbers, not ours**; everything else in
this module is computed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from .latent import context_distribution, random_latent_model, random_patterns
from .metrics import cross_concept_cosines
from ..reruns.results import to_jsonable, write_json_atomic
from .train import train

__all__ = ["PAPER", "PAPER_SOURCE", "PAPER_RUNS", "SETTINGS", "JOBS", "run_one", "run_runs", "run_row", "run_setting",
           "summarise", "load_stored", "run_all", "main"]

PAPER_SOURCE = ("Jiang, Rajendran, Ravikumar, Aragam, Veitch (2024), 'On the Origins of Linear Representations "
                "in Large Language Models', ICML 2024 / arXiv:2403.03867 v1, Tables 1-4 (mean ± standard error "
                "over runs); typed from the reconstruction notes shared/paper/origins.md §4.5.")

#: The paper's numbers: ``PAPER[table][key] = {"unembedding": (mean, se), "embedding": ..., "between": ...}``.
#: Keys are ``m`` for Tables 1, 2 and 4 and the maximum number of masks for Table 3 (m = 10).
PAPER = {
    "table1": {  # complete conditionals, SGD lr 0.1, batch 100, dim = m
        3: {"unembedding": (0.972, 0.006), "embedding": (0.982, 0.005), "between": (0.980, 0.005)},
        4: {"unembedding": (0.975, 0.005), "embedding": (0.971, 0.005), "between": (0.973, 0.005)},
        5: {"unembedding": (0.988, 0.004), "embedding": (0.981, 0.004), "between": (0.984, 0.004)},
        6: {"unembedding": (0.997, 0.000), "embedding": (0.985, 0.002), "between": (0.990, 0.001)},
        7: {"unembedding": (0.995, 0.001), "embedding": (0.972, 0.004), "between": (0.981, 0.003)},
    },
    "table2": {  # same with Adam lr 0.001
        3: {"unembedding": (0.910, 0.015), "embedding": (0.923, 0.013), "between": (0.926, 0.012)},
        4: {"unembedding": (0.972, 0.005), "embedding": (0.959, 0.005), "between": (0.965, 0.005)},
        5: {"unembedding": (0.985, 0.004), "embedding": (0.970, 0.004), "between": (0.975, 0.004)},
        6: {"unembedding": (0.996, 0.001), "embedding": (0.977, 0.002), "between": (0.983, 0.001)},
        7: {"unembedding": (0.966, 0.012), "embedding": (0.918, 0.016), "between": (0.929, 0.015)},
    },
    "table3": {  # incomplete contexts, m = 10, 10 runs; key = max number of mask patterns
        50: {"unembedding": (0.974, 0.009), "embedding": (0.946, 0.014), "between": (0.959, 0.011)},
        100: {"unembedding": (0.957, 0.009), "embedding": (0.915, 0.013), "between": (0.934, 0.011)},
    },
    "table4": {  # incomplete concept vectors (and contexts), 10 runs
        10: {"unembedding": (0.951, 0.011), "embedding": (0.777, 0.010), "between": (0.855, 0.011)},
        12: {"unembedding": (0.896, 0.011), "embedding": (0.551, 0.008), "between": (0.696, 0.009)},
    },
}
PAPER_RUNS = {"table1": {3: 100, 4: 100, 5: 50, 6: 20, 7: 10}, "table2": {3: 100, 4: 100, 5: 50, 6: 20, 7: 10},
              "table3": {50: 10, 100: 10}, "table4": {10: 10, 12: 10},
              "fig5": {7: 10}, "fig7a": {7: 10}}   # Figures 5 and 7a: "10 runs"; Figure 6 does not state its count

METRICS = ("unembedding", "embedding", "between")

_COMMON = dict(batch_size=100, stop_plateau=None, keep_history=True)
_PAPER_RECIPE = dict(method="sgd", batch_size=100, log_every=1000, stop_excess=0.0, stop_plateau=[5, 0.005],
                     dtype="float32", masks=0, support_frac=0.0, keep_history=True)

#: Default parameters of each stored setting (every one can be overridden on the command line).
#: ``*_paper`` settings are the paper's own recipe: fresh mini-batches of 100 sampled (c, masked d) pairs,
#: SGD lr 0.1 (Table 1) or Adam lr 1e-3 (Table 2), stopped when the cosines stop changing
#: (``stop_plateau = [window, tol]``: every cosine within ``tol`` over the last ``window`` logs).
SETTINGS = {
    "table1": dict(_COMMON, keys=[3, 4, 5, 6, 7], runs=[100, 100, 50, 20, 10], method="exact", optimizer="sgd",
                   lr=0.01, lr_per_context=True, init_scale=0.1, steps=10000, stop_excess=5e-3, log_every=250,
                   dtype="float32", masks=0, support_frac=0.0),
    "table1_paper": dict(_PAPER_RECIPE, keys=[3, 4, 5, 6, 7], runs=[100, 100, 50, 20, 10], optimizer="sgd", lr=0.1,
                         steps=150000),
    "table2": dict(_COMMON, keys=[3, 4, 5, 6, 7], runs=[100, 100, 50, 20, 10], method="exact", optimizer="adam",
                   lr=0.01, steps=10000, stop_excess=5e-3, log_every=250, dtype="float32", masks=0, support_frac=0.0),
    "table2_paper": dict(_PAPER_RECIPE, keys=[3, 4, 5, 6, 7], runs=[100, 100, 50, 20, 10], optimizer="adam",
                         lr=0.001, steps=150000),
    "table3": dict(_COMMON, keys=[50, 100], runs=[10, 10], m=10, method="exact", optimizer="adam", lr=0.05,
                   steps=500, stop_excess=2e-3, log_every=100, dtype="float32", masks=0, support_frac=0.0),
    "table4": dict(_COMMON, keys=[10], runs=[10], method="exact", optimizer="adam", lr=0.05, steps=500,
                   stop_excess=2e-3, log_every=100, dtype="float32", masks=50, support_frac=0.25),
    "fig5": dict(_COMMON, keys=[7], runs=[10], method="exact", optimizer="sgd", lr=0.01, lr_per_context=True,
                 steps=4000, stop_excess=0.0, log_every=100, dtype="float32", masks=0, support_frac=0.0),
    "fig6": dict(_COMMON, keys=[7, 6, 5, 4, 3], runs=[10, 10, 10, 10, 10], m=7, method="exact", optimizer="sgd",
                 lr=0.01, lr_per_context=True, steps=3000, stop_excess=0.0, log_every=500, dtype="float32", masks=0,
                 support_frac=0.0),
    "fig6b": dict(_COMMON, keys=[10, 8, 6, 4], runs=[10, 10, 10, 10], m=10, method="exact", optimizer="adam",
                  lr=0.05, steps=500, stop_excess=0.0, log_every=100, dtype="float32", masks=50, support_frac=0.0),
}

#: Every stored file and the arguments that make it (``python -m allornone.origins_runs all`` runs them in this
#: order: the tables not yet at the paper's run counts first, then the paper's recipe, then the figures, then
#: the files whose recipe and run counts did not change). The sensitivity of the plateau rule needs no runs of
#: its own: a looser rule's stopping step and cosines are read off the stored histories
#: (:func:`allornone.origins.compare.restop`), since stopping never changes the steps before it.
JOBS = {
    "table2": ["table2"],
    "table3": ["table3"],
    "table4": ["table4"],
    "table1_paper": ["table1_paper"],
    "table2_paper": ["table2_paper"],
    "fig5": ["fig5"],
    "fig6": ["fig6"],
    "table4_m12": ["table4", "--keys", "12", "--runs", "10"],
    "table1": ["table1"],
    "table1_init_inv_sqrt_dim": ["table1", "--init-scale", "0"],
    "fig6b": ["fig6b"],
}


def _build(m: int, seed: int, masks: int, support_frac: float):
    """The DAG, conditionals and mask pool of one run (numpy seed ``seed``), as :func:`run_one` draws them."""
    rng = np.random.default_rng(seed)
    support = None if not support_frac else max(2, int(round(support_frac * 2**m)))
    lm = random_latent_model(m, rng, support_size=support)
    patterns = random_patterns(m, masks, rng) if masks else None
    return lm, context_distribution(lm, patterns=patterns)


def _run_record(seed, m, dim, lm, dist, r, keep_history) -> dict:
    cos = r.cosines()
    out = {"seed": seed, "m": m, "dim": dim, "n_edges": lm.n_edges, "n_contexts": len(dist.contexts),
           "n_tokens": len(dist.tokens), "steps_run": r.steps_run, "seconds": r.seconds,
           "loss": r.history["loss"][-1] if r.history["loss"] else None,
           "excess": r.history["excess"][-1] if r.history["excess"] else None,
           **{k: cos[k] for k in METRICS},
           "cross_concept": cross_concept_cosines(r.G, m, kind="unembedding", subset=dist.tokens)}
    if keep_history:
        out["history"] = r.history
    return out


def run_one(m: int, seed: int, *, dim: int | None = None, masks: int = 0, support_frac: float = 0.0,
            method: str = "exact", optimizer: str = "sgd", lr: float = 20.0, steps: int = 20000,
            stop_excess: float | None = 1e-3, log_every: int = 500, dtype: str = "float32",
            lr_per_context: bool = False, init_scale: float | None = None, keep_history: bool = False,
            batch_size: int = 100, stop_plateau=None, progress: bool = False) -> dict:
    """One run with the one-run reference loop :func:`allornone.origins.train.train`: a fresh random DAG and
    conditionals (numpy seed ``seed``), a fresh initialisation (torch seed ``seed``), training, and the metrics.

    ``lr_per_context=True`` uses the learning rate ``lr · 3^m``: with the exact
    objective a context's gradient is scaled by its probability ``w(d) ≈ 3^{-m}``,
    so this keeps the per-context step comparable across ``m``.
    The stored runs use :func:`run_runs` (the batched trainer), which gives the same records.
    """
    if lr_per_context:
        lr = lr * 3**m
    lm, dist = _build(m, seed, masks, support_frac)
    r = train(dist, dim or m, steps=steps, method=method, optimizer=optimizer, lr=lr, seed=seed,
              log_every=log_every, stop_excess=stop_excess or None, dtype=dtype, progress=progress,
              init_scale=init_scale or None, batch_size=batch_size,
              stop_plateau=tuple(stop_plateau) if stop_plateau else None)
    return _run_record(seed, m, dim or m, lm, dist, r, keep_history)


def run_runs(m: int, seeds, *, dim: int | None = None, masks: int = 0, support_frac: float = 0.0,
             method: str = "exact", optimizer: str = "sgd", lr: float = 20.0, steps: int = 20000,
             stop_excess: float | None = 1e-3, log_every: int = 500, dtype: str = "float32",
             lr_per_context: bool = False, init_scale: float | None = None, keep_history: bool = False,
             batch_size: int = 100, stop_plateau=None, progress: bool = False, desc: str | None = None) -> list[dict]:
    """:func:`run_one` for every seed in ``seeds``, trained together by
    :func:`allornone.origins.batched.train_many` (same records to float tolerance)."""
    from .batched import train_many

    if lr_per_context:
        lr = lr * 3**m
    seeds = [int(s) for s in seeds]
    built = [_build(m, s, masks, support_frac) for s in seeds]
    rs = train_many([d for _, d in built], dim or m, seeds=seeds, steps=steps, method=method, optimizer=optimizer,
                    lr=lr, batch_size=batch_size, init_scale=init_scale or None, log_every=log_every,
                    stop_excess=stop_excess or None, stop_plateau=tuple(stop_plateau) if stop_plateau else None,
                    dtype=dtype, progress=progress, desc=desc)
    return [_run_record(s, m, dim or m, lm, d, r, keep_history) for s, (lm, d), r in zip(seeds, built, rs)]


def summarise(runs: list[dict]) -> dict:
    """Mean and standard error (std / √n, ddof = 1) of each metric over runs."""
    out = {}
    for k in METRICS:
        v = np.array([r[k] for r in runs], dtype=float)
        out[k] = {"mean": float(np.nanmean(v)),
                  "se": float(np.nanstd(v, ddof=1) / np.sqrt(np.isfinite(v).sum())) if len(v) > 1 else float("nan")}
    return out


_TRAIN_KEYS = ("dim", "masks", "support_frac", "method", "optimizer", "lr", "steps", "stop_excess", "log_every",
               "dtype", "lr_per_context", "init_scale", "keep_history", "batch_size", "stop_plateau")


def _row_call(name: str, key: int, m: int | None, kw: dict) -> tuple[int, dict]:
    """``(m, keyword arguments of run_runs)`` for row ``key`` of setting ``name``."""
    kw = {k: v for k, v in kw.items() if k in _TRAIN_KEYS}
    if name.startswith("table3"):
        return m, {**kw, "masks": key}
    if name.startswith("fig6"):
        return m, {**kw, "dim": key}
    return key, {**kw, "keep_history": kw.get("keep_history", False) or name == "fig5"}


def run_row(name: str, key: int, seeds, *, m: int | None = None, progress: bool = False, **kw) -> list[dict]:
    """The runs of one row of setting ``name`` for ``seeds``. Row key is ``m`` (tables 1, 2, 4, fig5), the number
    of mask patterns (table3, with ``m``) or the dimension (fig6 and fig6b, with ``m``)."""
    mm, call = _row_call(name, key, m, kw)
    return run_runs(mm, seeds, progress=progress, desc=f"{name} {key}", **call)


def run_setting(name: str, *, keys, runs, seed0: int = 0, m: int | None = None, progress: bool = True,
                **kw) -> list[dict]:
    """Run every row of a setting (see :func:`run_row`); returns the rows with their summaries."""
    rows = []
    for key, n in zip(keys, runs):
        per = run_row(name, key, range(seed0, seed0 + n), m=m, progress=progress, **kw)
        rows.append({"key": key, "n_runs": n, **summarise(per), "runs": per})
    return rows


def load_stored(name: str, root=None) -> dict:
    """Read ``data/origins/<name>.json`` (``root`` defaults to the project root)."""
    from ..reruns.run import repo_root

    path = Path(root or repo_root()) / "data" / "origins" / f"{name}.json"
    with open(path) as fh:
        return json.load(fh)


# --------------------------------------------------------------------------- command line and `all`


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x]


def _plateau(s: str):
    w, t = s.split(",")
    return [int(w), float(t)]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m allornone.origins_runs", description=__doc__.split("\n\n")[0])
    p.add_argument("setting", choices=sorted(SETTINGS) + ["all"])
    p.add_argument("--keys", type=_ints, help="row keys (m, #masks or dim), comma-separated")
    p.add_argument("--runs", type=_ints, help="runs per row, comma-separated")
    p.add_argument("--m", type=int)
    p.add_argument("--method", choices=["exact", "sgd"])
    p.add_argument("--optimizer", choices=["sgd", "adam"])
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-per-context", type=int, choices=[0, 1], dest="lr_per_context",
                   help="1: learning rate lr * 3^m")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--init-scale", type=float, dest="init_scale", help="std of the initial entries (0: dim^-1/2)")
    p.add_argument("--stop-excess", type=float, dest="stop_excess")
    p.add_argument("--stop-plateau", type=_plateau, dest="stop_plateau", metavar="WINDOW,TOL",
                   help="stop when every cosine moved by at most TOL over the last WINDOW logs")
    p.add_argument("--log-every", type=int, dest="log_every")
    p.add_argument("--dtype", choices=["float32", "float64"])
    p.add_argument("--masks", type=int)
    p.add_argument("--support-frac", type=float, dest="support_frac")
    p.add_argument("--seed0", type=int, default=0)
    p.add_argument("--out", help="output JSON (default data/origins/<setting>.json)")
    p.add_argument("--quiet", action="store_true")
    g = p.add_argument_group("all", "options of `all` (every stored file; resumes from row checkpoints)")
    g.add_argument("--only", help="comma-separated file names among JOBS (default: every one)")
    g.add_argument("--out-dir", default="data/origins", dest="out_dir")
    g.add_argument("--checkpoint-dir", default=".cache/origins_rows", dest="checkpoint_dir")
    g.add_argument("--dask-scheduler", metavar="ADDRESS", dest="dask_scheduler",
                   help="spread the rows over a Dask distributed cluster")
    g.add_argument("--workers", type=int, default=None,
                   help="local worker processes, one torch thread each (default: every usable core)")
    g.add_argument("--partial", action="store_true",
                   help="write files for unfinished jobs from the finished chunks (run counts as achieved)")
    g.add_argument("--no-run", action="store_true", dest="no_run", help="with --partial: only assemble")
    g.add_argument("--tiny", action="store_true", help="test size: 2 runs per row, at most 200 steps, m <= 4")
    g.add_argument("--force", action="store_true", help="ignore checkpoints and finished files")
    return p


def _config(a) -> dict:
    cfg = dict(SETTINGS[a.setting])
    for k in list(cfg) + ["m"]:
        v = getattr(a, k, None)
        if v is not None:
            cfg[k] = v
    if len(cfg["keys"]) != len(cfg["runs"]):
        raise ValueError("--keys and --runs must have the same length")
    return cfg


def _header(setting: str, argv, cfg: dict, seed0: int, t0: float, seconds: float, rows: list) -> dict:
    import torch

    from .. import __version__

    return {
        "setting": setting,
        "command": "python -m allornone.origins_runs " + shlex.join(argv),
        "params": {**cfg, "seed0": seed0},
        "trainer": "allornone.origins.batched.train_many (closed-form gradient; equal to train() to float tolerance)",
        "library_version": __version__, "torch_version": torch.__version__, "numpy_version": np.__version__,
        "python": platform.python_version(), "machine": platform.machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)), "seconds": seconds,
        "paper_table": setting.split("_")[0],
        "paper": {str(k): v for k, v in PAPER.get(setting.split("_")[0], {}).items()},
        "paper_runs": {str(k): v for k, v in PAPER_RUNS.get(setting.split("_")[0], {}).items()},
        "paper_source": PAPER_SOURCE if setting.split("_")[0] in PAPER else None,
        "rows": rows,
    }


def _tiny(setting: str, cfg: dict) -> dict:
    """Test size of a configuration (``all --tiny``): m <= 4, 2 runs per row, at most 200 steps."""
    cfg = dict(cfg)
    if setting == "table3":
        cfg.update(m=4, keys=[4, 6])
    elif setting in ("fig6", "fig6b"):
        cfg.update(m=4, keys=[4, 3])
    else:
        cfg["keys"] = [4] if cfg.get("support_frac") else [3]
    if cfg.get("masks"):
        cfg["masks"] = 6
    cfg["runs"] = [2] * len(cfg["keys"])
    cfg["steps"] = min(cfg["steps"], 200)
    cfg["log_every"] = min(cfg["log_every"], 50)
    return cfg


def _job_plan(a) -> list[dict]:
    names = list(JOBS) if not a.only else [x for x in a.only.split(",") if x]
    bad = [x for x in names if x not in JOBS]
    if bad:
        raise ValueError(f"--only must name files among {sorted(JOBS)}; got {bad}")
    parser = _parser()
    plan = []
    for name in names:
        out = str(Path(a.out_dir) / f"{name}.json")
        argv = JOBS[name] + ["--out", out]
        ja = parser.parse_args(argv)
        cfg = _config(ja)
        if a.tiny:
            cfg = _tiny(ja.setting, cfg)
        chunks = []
        for key, n in zip(cfg["keys"], cfg["runs"]):
            seeds = list(range(ja.seed0, ja.seed0 + n))
            size = _chunk_size(ja.setting, key, cfg)
            chunks += [(key, seeds[i:i + size]) for i in range(0, n, size)]
        plan.append({"name": name, "setting": ja.setting, "argv": argv, "cfg": cfg, "seed0": ja.seed0, "out": out,
                     "chunks": chunks})
    return plan


def _chunk_size(setting: str, key: int, cfg: dict) -> int:
    """Runs per checkpoint: one stacked group of the batched trainer (so a checkpoint is one tensor program)."""
    from .batched import GROUP_ENTRIES

    mm, call = _row_call(setting, key, cfg.get("m"), cfg)
    rows = call.get("batch_size", 100) if call["method"] == "sgd" else 3**mm
    return max(1, GROUP_ENTRIES // (rows * 2**mm))


def _fingerprint(job: dict) -> str:
    import hashlib

    blob = json.dumps({"cfg": job["cfg"], "seed0": job["seed0"], "setting": job["setting"]}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _chunk_path(ckdir: Path, job: dict, key: int, seeds: list) -> Path:
    return ckdir / f"{job['name']}-{_fingerprint(job)}" / f"key{key}_seeds{seeds[0]}-{seeds[-1]}.json"


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                                    # not on Linux
        return max(1, os.cpu_count() or 1)


def _stored_seconds_per_run(job: dict) -> dict:
    """``{row key: mean seconds per run}`` of the job's stored file (empty if there is none), read once per job."""
    if "stored_seconds" not in job:
        job["stored_seconds"] = {}
        try:
            stored = json.loads(Path(job["out"]).read_text())
            for row in stored["rows"]:
                per_run = float(np.mean([x["seconds"] for x in row["runs"]]))
                if np.isfinite(per_run) and per_run > 0:
                    job["stored_seconds"][row["key"]] = per_run
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return job["stored_seconds"]


def _chunk_cost(job: dict, key: int, seeds: list) -> float:
    """Estimated seconds of one chunk, only to start the longest chunks first (longest-processing-time order).

    The stored file of the job, when it holds the row, gives its measured seconds per run; otherwise
    ``steps × (3e-4 s + logit entries × dim × 1e-9 s)`` per run (the per-step cost of the batched trainer)."""
    per_run = _stored_seconds_per_run(job).get(key)
    if per_run is not None:
        return per_run * len(seeds)
    mm, call = _row_call(job["setting"], key, job["cfg"].get("m"), job["cfg"])
    rows = call.get("batch_size", 100) if call["method"] == "sgd" else 3**mm
    dim = call.get("dim") or mm
    return len(seeds) * call["steps"] * (3e-4 + rows * 2**mm * dim * 1e-9)


def _pool_worker_init():
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)              # Ctrl-C is the parent's to handle
    try:                                                      # Linux: a worker dies with its parent (kill -9)
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_indexed_chunk(task):
    i, *args = task
    return i, _run_chunk(*args)


def _run_chunk(setting: str, cfg: dict, key: int, seeds: list) -> dict:
    """One checkpoint's worth of runs (also the unit of work sent to a Dask worker)."""
    t0, c0 = time.time(), time.process_time()
    runs = run_row(setting, key, seeds, m=cfg.get("m"), progress=False,
                   **{k: v for k, v in cfg.items() if k not in ("keys", "runs", "m")})
    return to_jsonable({"key": key, "seeds": seeds, "runs": runs, "seconds": time.time() - t0,
                        "cpu_seconds": time.process_time() - c0, "load_average": list(os.getloadavg())})


def _assemble(job: dict, ckdir: Path, partial: bool) -> dict | None:
    """The stored file of a job from its checkpoints (None if a chunk is missing and not ``partial``)."""
    rows, t_sum = [], 0.0
    for key, n in zip(job["cfg"]["keys"], job["cfg"]["runs"]):
        per = []
        for k2, seeds in job["chunks"]:
            if k2 != key:
                continue
            path = _chunk_path(ckdir, job, key, seeds)
            if not path.exists():
                if not partial:
                    return None
                continue
            ch = json.loads(path.read_text())
            per += ch["runs"]
            t_sum += ch["seconds"]
        if not per:
            continue
        rows.append({"key": key, "n_runs": len(per), "n_runs_planned": n, **summarise(per), "runs": per})
    if not rows:
        return None
    out = _header(job["setting"], job["argv"], job["cfg"], job["seed0"], time.time(), t_sum, rows)
    out["complete"] = all(r["n_runs"] == r["n_runs_planned"] for r in rows) and \
        len(rows) == len(job["cfg"]["keys"])
    return out


def run_all(a) -> int:
    """``python -m allornone.origins_runs all``: every file of :data:`JOBS`, resumable from row-chunk checkpoints
    (written atomically), serially or on a Dask cluster."""
    from tqdm.auto import tqdm

    plan = _job_plan(a)
    workers = _usable_cores() if a.workers is None else a.workers
    if workers < 1:
        raise ValueError(f"--workers must be >= 1; got {workers}")
    if a.dask_scheduler and a.workers is not None:
        raise ValueError("--workers is for local runs; a Dask cluster has its own workers")
    ckdir = Path(a.checkpoint_dir)
    t0 = time.time()
    load0 = list(os.getloadavg())
    todo = []
    for job in plan:
        for key, seeds in job["chunks"]:
            path = _chunk_path(ckdir, job, key, seeds)
            if a.force or not path.exists():
                todo.append((job, key, seeds, path))
    n_total = sum(len(j["chunks"]) for j in plan)
    where = f"Dask at {a.dask_scheduler}" if a.dask_scheduler else f"{workers} local worker(s)"
    print(f"origins_runs all: {len(plan)} files, {n_total} chunks, {n_total - len(todo)} already done "
          f"(checkpoints in {ckdir}; {where})", flush=True)

    def finish_jobs(final: bool):
        for job in plan:
            if job.get("written"):
                continue
            out = _assemble(job, ckdir, partial=final and a.partial)
            if out is not None and (out["complete"] or final):
                write_json_atomic(job["out"], out)
                job["written"] = True
                print(f"wrote {job['out']} ({'complete' if out['complete'] else 'PARTIAL'}: "
                      + ", ".join(f"{r['key']}: {r['n_runs']}/{r['n_runs_planned']}" for r in out["rows"]) + ")",
                      flush=True)

    if not a.no_run and todo:
        bar = tqdm(total=len(todo), desc="origins chunks", disable=a.quiet)
        if a.dask_scheduler:
            from distributed import Client, as_completed

            client = Client(a.dask_scheduler, timeout="30s")
            try:
                futs = {client.submit(_run_chunk, job["setting"], job["cfg"], key, seeds, pure=False,
                                      key=f"origins-{path.parent.name}-{path.stem}"): (job, key, seeds, path)
                        for job, key, seeds, path in todo}
                for fut in as_completed(list(futs)):
                    job, key, seeds, path = futs[fut]
                    write_json_atomic(path, fut.result())
                    bar.set_postfix_str(f"{job['name']} {key}")
                    bar.update(1)
                    finish_jobs(False)
            finally:
                client.close()
        elif workers > 1:
            import multiprocessing

            todo.sort(key=lambda t: -_chunk_cost(t[0], t[1], t[2]))   # longest first: the pool ends together
            pool = multiprocessing.get_context("spawn").Pool(min(workers, len(todo)), initializer=_pool_worker_init)
            try:
                tasks = [(i, job["setting"], job["cfg"], key, seeds) for i, (job, key, seeds, _) in enumerate(todo)]
                for i, result in pool.imap_unordered(_run_indexed_chunk, tasks):
                    job, key, seeds, path = todo[i]
                    write_json_atomic(path, result)           # checkpoints are written by the parent, atomically
                    bar.set_postfix_str(f"{job['name']} {key}")
                    bar.update(1)
                    finish_jobs(False)
            except BaseException:
                pool.terminate()                              # the workers stop with the parent
                raise
            finally:
                pool.close()
                pool.join()
        else:
            for job, key, seeds, path in todo:
                bar.set_postfix_str(f"{job['name']} {key} seeds {seeds[0]}-{seeds[-1]}")
                write_json_atomic(path, _run_chunk(job["setting"], job["cfg"], key, seeds))
                bar.update(1)
                finish_jobs(False)
        bar.close()
    finish_jobs(True)
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    log = {"command": "python -m allornone.origins_runs " + shlex.join(a.argv_), "finished":
           time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "wall_seconds": time.time() - t0,
           "cpu_seconds_this_process": ru.ru_utime + ru.ru_stime, "chunks_total": n_total,
           "chunks_run_now": 0 if a.no_run else len(todo), "chunks_resumed": n_total - len(todo),
           "load_average_at_end": list(os.getloadavg()), "cpu_count": os.cpu_count(),
           "peak_rss_mb": ru.ru_maxrss / 1024, "dask_scheduler": a.dask_scheduler,
           "workers": None if a.dask_scheduler else workers,
           "cpu_seconds_children": (lambda c: c.ru_utime + c.ru_stime)(resource.getrusage(resource.RUSAGE_CHILDREN)),
           "load_average_at_start": load0,
           "files": {j["name"]: bool(j.get("written")) for j in plan}}
    hist_path = Path(a.checkpoint_dir) / "regeneration_log.jsonl"
    hist_path.parent.mkdir(parents=True, exist_ok=True)
    with open(hist_path, "a") as fh:
        fh.write(json.dumps(log) + "\n")
    print(f"origins_runs all: {time.time() - t0:.0f} s wall, {log['cpu_seconds_this_process']:.0f} s CPU", flush=True)
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = _parser()
    a = p.parse_args(argv)
    a.argv_ = argv
    if a.setting == "all":
        try:
            return run_all(a)
        except ValueError as exc:
            p.error(str(exc))
        except KeyboardInterrupt:
            print("origins_runs all: interrupted; finished chunks are saved, the same command resumes",
                  file=sys.stderr, flush=True)
            return 130
    try:
        cfg = _config(a)
    except ValueError as exc:
        p.error(str(exc))
    t0 = time.time()
    rows = run_setting(a.setting, seed0=a.seed0, progress=not a.quiet, **cfg)
    out = _header(a.setting, argv, cfg, a.seed0, t0, time.time() - t0, rows)
    path = Path(a.out) if a.out else Path("data/origins") / f"{a.setting}.json"
    write_json_atomic(path, to_jsonable(out))
    print(f"wrote {path} in {out['seconds']:.0f} s")
    for row in rows:
        print(row["key"], row["n_runs"], {k: f"{row[k]['mean']:.3f}±{row[k]['se']:.3f}" for k in METRICS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
