"""Clean book build: serial (plain jupyter-book build) vs parallel pre-execution (tools/execute_parallel.py).

Each variant builds from a fresh jupyter-cache into its own temporary --path-output; the
variants are interleaved (serial, parallel, serial, ... for --repeats rounds). Reports wall
seconds, CPU seconds of all child processes (kernels included) and the load average before
and after each build, plus how many notebooks the parallel variant's build still executed
(must be 0: the cache lookup found them all). Writes benchmarks/book_parallel.json.

    PYTHONPATH=$PWD/lib nice -n 10 /work/main/.venv/bin/python benchmarks/book_parallel.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
JB_FLAGS = ["-W", "-n", "--keep-going"]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd: list[str]) -> tuple[int, str]:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def build(variant: str, workers: int) -> dict:
    # clean means clean: the real-LM pages cache embeddings in <repo>/.cache/reallm across builds
    shutil.rmtree(ROOT / ".cache" / "reallm", ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"book_{variant}_") as out:
        load_before = os.getloadavg()
        cpu0, t0 = _children_cpu(), time.perf_counter()
        steps = []
        if variant == "parallel":
            rc, log = _run(
                [sys.executable, str(ROOT / "tools" / "execute_parallel.py"), "--workers", str(workers),
                 "--path-output", out]
            )
            steps.append({"step": "execute_parallel", "returncode": rc, "seconds": time.perf_counter() - t0})
        rc, log = _run([str(BIN / "jupyter-book"), "build", str(ROOT), "--path-output", out, *JB_FLAGS])
        wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
        load_after = os.getloadavg()
        steps.append({"step": "jupyter-book build", "returncode": rc})
        rebuild = {}
        if variant == "parallel":  # untimed: `make book` again with nothing changed must execute nothing
            t1 = time.perf_counter()
            rc1, log1 = _run([sys.executable, str(ROOT / "tools" / "execute_parallel.py"), "--path-output", out])
            rc2, log2 = _run([str(BIN / "jupyter-book"), "build", str(ROOT), "--path-output", out, *JB_FLAGS])
            rebuild = {
                "returncodes": [rc1, rc2],
                "wall_seconds": round(time.perf_counter() - t1, 1),
                "execute_parallel_said": [ln for ln in log1.splitlines() if ln.startswith("execute_parallel")],
                "notebooks_executed_by_build": log2.count("Executing notebook using"),
                "notebooks_from_cache_in_build": log2.count("Using cached notebook"),
            }
    return {
        "variant": variant,
        "workers": workers if variant == "parallel" else 1,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "build_ok": all(s["returncode"] == 0 for s in steps),
        "notebooks_executed_by_build": log.count("Executing notebook using"),
        "notebooks_from_cache_in_build": log.count("Using cached notebook"),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "steps": steps,
        "second_make_book_nothing_changed": rebuild,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "book_parallel.json"))
    args = parser.parse_args()
    if args.workers < 1 or args.repeats < 1:
        parser.error("--workers and --repeats must be >= 1")
    runs = []
    for i in range(args.repeats):
        for variant in ("serial", "parallel"):
            r = build(variant, args.workers)
            r["round"] = i
            runs.append(r)
            print(json.dumps({k: v for k, v in r.items() if k not in ("steps", "second_make_book_nothing_changed")}), flush=True)

    def total(variant, key):
        return sum(r[key] for r in runs if r["variant"] == variant)

    result = {
        "what": "clean jupyter-book build -W: serial executor vs tools/execute_parallel.py pre-execution",
        "cpu_count": os.cpu_count(),
        "nice": os.nice(0),
        "python": platform.python_version(),
        "note": "machine shared with other jobs during the run: see loadavg; wall ratio is only meaningful under low load",
        "runs": runs,
        "wall_ratio_serial_over_parallel": round(total("serial", "wall_seconds") / total("parallel", "wall_seconds"), 3),
        "cpu_ratio_parallel_over_serial": round(total("parallel", "cpu_seconds") / total("serial", "cpu_seconds"), 3),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("wall_ratio_serial_over_parallel", "cpu_ratio_parallel_over_serial")}))


if __name__ == "__main__":
    main()
