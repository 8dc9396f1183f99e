"""Benchmark: the whole Origins regeneration, ``python -m allornone.origins_runs all``, timed from scratch.

Runs the command exactly as a user would (every file of ``allornone.origins.runs.JOBS``, default
``--workers``: every usable core), with a fresh checkpoint folder so that nothing is resumed, and writes
the stored files to ``data/origins/`` as ``all`` always does. It records the wall time, the CPU time of the
command and its workers, the peak RSS of the largest process, the load average before and after, and per
file the sum of its chunks' wall and CPU seconds (from the checkpoints).

    python benchmarks/origins_all.py                 # writes benchmarks/origins_all.json
    python benchmarks/origins_all.py --workers 1     # the same, one process

Target (issue 13): under 30 minutes on 2 cores. This is a script, not a timed test; nothing asserts on the
time. Run it on an otherwise idle machine: the wall time is the figure the target speaks about.
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
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "origins_all.json"
TARGET_S = 30 * 60


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=None, help="passed to `all --workers` (default: its default)")
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args(argv)
    ck = ROOT / ".cache" / "origins_rows_benchmark"
    shutil.rmtree(ck, ignore_errors=True)
    cmd = [sys.executable, "-m", "allornone.origins_runs", "all", "--checkpoint-dir", str(ck)]
    if a.workers is not None:
        cmd += ["--workers", str(a.workers)]
    load0 = list(os.getloadavg())
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(proc.stdout, end="")
    if proc.returncode != 0:
        print(f"origins_all: the command failed (exit {proc.returncode})", file=sys.stderr)
        return proc.returncode
    files = defaultdict(lambda: {"chunks": 0, "chunk_wall_seconds": 0.0, "chunk_cpu_seconds": 0.0})
    for p in sorted(ck.glob("*/*.json")):
        d = json.loads(p.read_text())
        f = files[p.parent.name.rsplit("-", 1)[0]]
        f["chunks"] += 1
        f["chunk_wall_seconds"] += d["seconds"]
        f["chunk_cpu_seconds"] += d["cpu_seconds"]
    out = {
        "benchmark": "origins_all",
        "command": "python -m allornone.origins_runs all" + (f" --workers {a.workers}" if a.workers else ""),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"nproc": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
                    "python": platform.python_version(), "load_average_at_start": load0,
                    "load_average_at_end": list(os.getloadavg())},
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round((c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime), 1),
        "peak_rss_mb_largest_process": round(c1.ru_maxrss / 1024, 1),
        "target_seconds": TARGET_S,
        "meets_target": wall < TARGET_S,
        "files": {k: {kk: round(v, 1) if isinstance(v, float) else v for kk, v in f.items()}
                  for k, f in sorted(files.items())},
        "note": "wall time of one run from scratch (fresh checkpoint folder); per-file seconds are the sums of the "
                "chunks' own times inside the workers",
    }
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"origins_all: {wall:.0f} s wall, {out['cpu_seconds']:.0f} s CPU "
          f"({'meets' if out['meets_target'] else 'misses'} the 30-minute target); wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
