"""Benchmarks of the book's machinery (``make bench``); results go to benchmarks/results.json.

Measured (wall-clock seconds, on this machine, under whatever load it has;
the load average before and after is recorded next to the numbers):

* ``book_clean``: full-book build (``jupyter-book build -W -n --keep-going``)
  into a temporary ``--path-output`` with a fresh execution cache;
* ``book_cached``: the same build again with nothing changed (every notebook
  comes from the jupyter-cache);
* ``papermill_overhead``: one ``allornone.run`` of a notebook that does nothing
  (the test fixture) and of ``01_next_token_predictors`` at trivial parameters:
  kernel start, execution and shutdown, median of ``--repeat`` runs; the
  fixture also side by side with its cells in one bare Python process
  (overhead in seconds and ratio; more in ``benchmarks/reruns.py``);
* ``sweep``: the same sweep (``--sweep-runs`` seeds of ``01_next_token_predictors``)
  with 1 and with 2 worker processes: runs/s and the speed-up (target >= 1.6 on 2 cores);
* ``trainer``: ``allornone.train.train`` on a fixed small latent-concept problem, steps/s.

Benchmarks are never timed tests: the targets live here.

    .venv/bin/python benchmarks/run.py            # everything (the book builds take minutes)
    .venv/bin/python benchmarks/run.py --quick    # skip the two full-book builds
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "sweep_fixture.ipynb"
SPEEDUP_TARGET = 1.6


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _machine() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "git_commit": commit,
        "nice": os.nice(0),
        "load_average_at_start": _load(),
    }


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_book(tmp: Path) -> dict:
    """Clean build with a fresh cache, then a rebuild with nothing changed."""
    out = tmp / "book"
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "-W", "-n", "--keep-going",
           "--path-output", str(out)]
    res = {}
    for name in ("book_clean", "book_cached"):
        load = _load()
        secs, proc = _timed(lambda: subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True))
        res[name] = {"seconds": round(secs, 2), "ok": proc.returncode == 0, "returncode": proc.returncode,
                     "load_average_before": load}
        if proc.returncode:
            res[name]["error_tail"] = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
    res["n_notebooks"] = len(list((ROOT / "notebooks").glob("*.ipynb")))
    return res


def bench_papermill(tmp: Path, repeat: int) -> dict:
    """Each run through ``run_notebook`` (a warm runner: papermill already
    imported after the first) side by side with the trivial notebook's code
    cells in one fresh Python process (``bare``); benchmarks/reruns.py has the
    fuller comparison (the command line, with and without rfc3987-syntax)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from reruns import BARE

    from allornone.reruns.run import run_notebook

    cases = {
        "trivial_notebook": (FIXTURE, {}),
        "01_next_token_predictors_small_params": ("01_next_token_predictors",
                                                  {"n_contexts": 7, "n_tokens": 5, "dim": 2}),
    }
    run_notebook(FIXTURE, {}, runs_dir=tmp / "pm", force=True, log=lambda *_: None)  # warm-up: imports
    res = {}
    bare = []
    for name, (nb, params) in cases.items():
        times = []
        for i in range(repeat):
            secs, _ = _timed(lambda: run_notebook(nb, params, runs_dir=tmp / "pm", force=True, log=lambda *_: None))
            times.append(secs)
            if name == "trivial_notebook":  # interleaved with the runs
                secs, _ = _timed(lambda: subprocess.run([sys.executable, "-c", BARE, str(FIXTURE), str(tmp / "bare")],
                                                        check=True, capture_output=True, cwd=ROOT))
                bare.append(secs)
        res[name] = {"median_seconds": round(statistics.median(times), 3),
                     "all_seconds": [round(t, 3) for t in times]}
    b = statistics.median(bare)
    res["trivial_notebook"].update(bare_median_seconds=round(b, 3),
                                   overhead_seconds=round(res["trivial_notebook"]["median_seconds"] - b, 3),
                                   ratio_to_bare=round(res["trivial_notebook"]["median_seconds"] / b, 2))
    return res


def _children_cpu() -> float:
    """User+system CPU seconds of every reaped descendant (workers, and the kernels they reaped)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench_sweep(tmp: Path, n_runs: int) -> dict:
    from allornone.reruns.sweep import run_sweep

    res = {"notebook": "01_next_token_predictors", "n_runs": n_runs, "grid": f"seed=range({n_runs})"}
    for workers in (1, 2):
        load = _load()
        cpu0 = _children_cpu()
        secs, (spec, runs, completed) = _timed(lambda: run_sweep(
            "01_next_token_predictors", {"seed": [str(s) for s in range(n_runs)]},
            runs_dir=tmp / f"sweep{workers}", workers=workers, progress=False, log=lambda *_: None))
        ok = completed and all(r.status == "done" for r in runs)
        cpu = _children_cpu() - cpu0
        # CPU seconds of the workers and their kernels over wall seconds: the cores the sweep actually got
        res[f"workers_{workers}"] = {"seconds": round(secs, 2), "runs_per_second": round(n_runs / secs, 3),
                                     "all_done": ok, "load_average_before": load,
                                     "cpu_seconds": round(cpu, 2), "cores_used": round(cpu / secs, 2)}
    res["speedup_2_vs_1"] = round(res["workers_1"]["seconds"] / res["workers_2"]["seconds"], 3)
    res["target_speedup"] = SPEEDUP_TARGET
    res["meets_target"] = res["speedup_2_vs_1"] >= SPEEDUP_TARGET
    return res


def bench_trainer() -> dict:
    try:
        import numpy as np

        from allornone.origins.latent import context_distribution, random_latent_model
        from allornone.origins.train import train
    except ImportError as exc:
        return {"available": False, "reason": f"not available: {exc}"}
    rng = np.random.default_rng(0)
    m, dim, steps = 6, 8, 300
    dist = context_distribution(random_latent_model(m, rng))
    res = {"available": True, "problem": {"m": m, "dim": dim, "steps": steps}}
    for label, kw in {"exact_adam": dict(method="exact", optimizer="adam", lr=0.05),
                      "sgd_minibatch": dict(method="sgd", optimizer="sgd", lr=0.1, batch_size=100)}.items():
        train(dist, dim, steps=5, seed=0, **kw)  # warm-up: torch import and first-call costs
        secs, _ = _timed(lambda: train(dist, dim, steps=steps, seed=0, **kw))
        res[label] = {"seconds": round(secs, 3), "steps_per_second": round(steps / secs, 1)}
    return res


def _guarded(name, fn, *args) -> dict:
    """Run one benchmark; a failure is recorded, not fatal for the others."""
    print(f"{name} ...", flush=True)
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - reported in results.json
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="skip the clean and cached full-book builds")
    p.add_argument("--sweep-runs", type=int, default=8, help="runs in the sweep benchmark (default 8)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions of the papermill-overhead runs")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    args = p.parse_args(argv)

    results = {"machine": _machine(), "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="allornone-bench-") as tmp:
        tmp = Path(tmp)
        if args.quick:
            results["book"] = {"skipped": "--quick"}
        else:
            results["book"] = _guarded("book builds (clean, then cached)", bench_book, tmp)
        results["papermill_overhead"] = _guarded("papermill overhead", bench_papermill, tmp, args.repeat)
        results["sweep"] = _guarded("sweep throughput (1 and 2 workers)", bench_sweep, tmp, args.sweep_runs)
        results["trainer"] = _guarded("trainer", bench_trainer)
    results["machine"]["load_average_at_end"] = _load()

    from allornone.reruns.results import write_json_atomic

    write_json_atomic(args.out, results)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
