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

__all__ = ["PAPER", "PAPER_SOURCE", "SETTINGS", "run_one", "run_setting", "summarise", "load_stored", "main"]

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
              "table3": {50: 10, 100: 10}, "table4": {10: 10, 12: 10}}

METRICS = ("unembedding", "embedding", "between")

#: Default parameters of each stored setting (every one can be overridden on the command line).
SETTINGS = {
    "table1": dict(keys=[3, 4, 5, 6, 7], runs=[100, 100, 50, 20, 10], method="exact", optimizer="sgd", lr=0.01,
                   lr_per_context=True, init_scale=0.1, steps=10000, stop_excess=5e-3, log_every=250, dtype="float32", masks=0,
                   support_frac=0.0),
    "table2": dict(keys=[3, 4, 5, 6, 7], runs=[20, 20, 10, 5, 5], method="exact", optimizer="adam", lr=0.01,
                   steps=10000, stop_excess=5e-3, log_every=250, dtype="float32", masks=0, support_frac=0.0),
    "table3": dict(keys=[50, 100], runs=[2, 2], m=10, method="exact", optimizer="adam", lr=0.05,
                   steps=500, stop_excess=2e-3, log_every=100, dtype="float32", masks=0, support_frac=0.0),
    "table4": dict(keys=[10], runs=[2], method="exact", optimizer="adam", lr=0.05, steps=500,
                   stop_excess=2e-3, log_every=100, dtype="float32", masks=50, support_frac=0.25),
    "fig5": dict(keys=[7], runs=[10], method="exact", optimizer="sgd", lr=0.01, lr_per_context=True, steps=4000,
                 stop_excess=0.0, log_every=100, dtype="float32", masks=0, support_frac=0.0),
    "fig6": dict(keys=[7, 6, 5, 4, 3], runs=[3, 3, 3, 3, 3], m=7, method="exact", optimizer="sgd", lr=0.01,
                 lr_per_context=True, steps=3000, stop_excess=0.0, log_every=500, dtype="float32", masks=0,
                 support_frac=0.0),
    "fig6b": dict(keys=[10, 8, 6, 4], runs=[10, 10, 10, 10], m=10, method="exact", optimizer="adam", lr=0.05,
                  steps=500, stop_excess=0.0, log_every=100, dtype="float32", masks=50, support_frac=0.0),
}


def run_one(m: int, seed: int, *, dim: int | None = None, masks: int = 0, support_frac: float = 0.0,
            method: str = "exact", optimizer: str = "sgd", lr: float = 20.0, steps: int = 20000,
            stop_excess: float | None = 1e-3, log_every: int = 500, dtype: str = "float32",
            lr_per_context: bool = False, init_scale: float | None = None, keep_history: bool = False,
            progress: bool = False) -> dict:
    """One run: a fresh random DAG and conditionals (numpy seed ``seed``), a fresh initialisation
    (torch seed ``seed``), training, and the metrics of the trained tables.

    ``lr_per_context=True`` uses the learning rate ``lr · 3^m``: with the exact
    objective a context's gradient is scaled by its probability ``w(d) ≈ 3^{-m}``,
    so this keeps the per-context step comparable across ``m``.
    """
    if lr_per_context:
        lr = lr * 3**m
    rng = np.random.default_rng(seed)
    support = None if not support_frac else max(2, int(round(support_frac * 2**m)))
    lm = random_latent_model(m, rng, support_size=support)
    patterns = random_patterns(m, masks, rng) if masks else None
    dist = context_distribution(lm, patterns=patterns)
    r = train(dist, dim or m, steps=steps, method=method, optimizer=optimizer, lr=lr, seed=seed,
              log_every=log_every, stop_excess=stop_excess or None, dtype=dtype, progress=progress,
              init_scale=init_scale or None)
    cos = r.cosines()
    out = {"seed": seed, "m": m, "dim": dim or m, "n_edges": lm.n_edges, "n_contexts": len(dist.contexts),
           "n_tokens": len(dist.tokens), "steps_run": r.steps_run, "seconds": r.seconds,
           "loss": r.history["loss"][-1] if r.history["loss"] else None,
           "excess": r.history["excess"][-1] if r.history["excess"] else None,
           **{k: cos[k] for k in METRICS},
           "cross_concept": cross_concept_cosines(r.G, m, kind="unembedding", subset=dist.tokens)}
    if keep_history:
        out["history"] = r.history
    return out


def summarise(runs: list[dict]) -> dict:
    """Mean and standard error (std / √n, ddof = 1) of each metric over runs."""
    out = {}
    for k in METRICS:
        v = np.array([r[k] for r in runs], dtype=float)
        out[k] = {"mean": float(np.nanmean(v)),
                  "se": float(np.nanstd(v, ddof=1) / np.sqrt(np.isfinite(v).sum())) if len(v) > 1 else float("nan")}
    return out


def run_setting(name: str, *, keys, runs, seed0: int = 0, m: int | None = None, progress: bool = True,
                **kw) -> list[dict]:
    """Run every row of a setting. Row key is ``m`` (tables 1, 2, 4, fig5), the number of
    mask patterns (table3, with ``m``) or the dimension (fig6 and fig6b, with ``m``)."""
    if progress:
        from tqdm.auto import tqdm
    else:
        def tqdm(it, **_):
            return it

    rows = []
    for key, n in zip(keys, runs):
        per = []
        for r in tqdm(range(n), desc=f"{name} {key}", disable=not progress):
            if name == "table3":
                per.append(run_one(m, seed0 + r, **{**kw, "masks": key}))
            elif name in ("fig6", "fig6b"):
                per.append(run_one(m, seed0 + r, dim=key, **kw))
            else:
                per.append(run_one(key, seed0 + r, keep_history=(name == "fig5"), **kw))
        rows.append({"key": key, "n_runs": n, **summarise(per), "runs": per})
    return rows


def load_stored(name: str, root=None) -> dict:
    """Read ``data/origins/<name>.json`` (``root`` defaults to the project root)."""
    from ..reruns.run import repo_root

    path = Path(root or repo_root()) / "data" / "origins" / f"{name}.json"
    with open(path) as fh:
        return json.load(fh)


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m allornone.origins_runs", description=__doc__.split("\n\n")[0])
    p.add_argument("setting", choices=sorted(SETTINGS))
    p.add_argument("--keys", type=_ints, help="row keys (m, #masks or dim), comma-separated")
    p.add_argument("--runs", type=_ints, help="runs per row, comma-separated")
    p.add_argument("--m", type=int)
    p.add_argument("--method", choices=["exact", "sgd"])
    p.add_argument("--optimizer", choices=["sgd", "adam"])
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-per-context", type=int, choices=[0, 1], dest="lr_per_context",
                   help="1: learning rate lr * 3^m")
    p.add_argument("--steps", type=int)
    p.add_argument("--init-scale", type=float, dest="init_scale", help="std of the initial entries (0: dim^-1/2)")
    p.add_argument("--stop-excess", type=float, dest="stop_excess")
    p.add_argument("--log-every", type=int, dest="log_every")
    p.add_argument("--dtype", choices=["float32", "float64"])
    p.add_argument("--masks", type=int)
    p.add_argument("--support-frac", type=float, dest="support_frac")
    p.add_argument("--seed0", type=int, default=0)
    p.add_argument("--out", help="output JSON (default data/origins/<setting>.json)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    cfg = dict(SETTINGS[a.setting])
    for k in list(cfg) + ["m"]:
        v = getattr(a, k, None)
        if v is not None:
            cfg[k] = v
    if len(cfg["keys"]) != len(cfg["runs"]):
        p.error("--keys and --runs must have the same length")
    import torch

    from .. import __version__

    t0 = time.time()
    rows = run_setting(a.setting, seed0=a.seed0, progress=not a.quiet, **cfg)
    out = {
        "setting": a.setting,
        "command": "python -m allornone.origins_runs " + shlex.join(argv),
        "params": {**cfg, "seed0": a.seed0},
        "library_version": __version__, "torch_version": torch.__version__, "numpy_version": np.__version__,
        "python": platform.python_version(), "machine": platform.machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)), "seconds": time.time() - t0,
        "paper": {str(k): v for k, v in PAPER.get(a.setting, {}).items()},
        "paper_source": PAPER_SOURCE if a.setting in PAPER else None,
        "rows": rows,
    }
    path = Path(a.out) if a.out else Path("data/origins") / f"{a.setting}.json"
    write_json_atomic(path, to_jsonable(out))
    print(f"wrote {path} in {out['seconds']:.0f} s")
    for row in rows:
        print(row["key"], row["n_runs"], {k: f"{row[k]['mean']:.3f}±{row[k]['se']:.3f}" for k in METRICS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
