"""Benchmark: the batched Origins trainer against the one-run loop, side by side in one run.

For R = 10 and R = 100 runs at m = 3..7 (and R = 2 at m = 10 with Table 3's 50 mask patterns) it trains
the same runs (same DAGs, conditionals and initialisations) for a fixed number of steps with

* ``loop``: today's one-run loop, :func:`allornone.origins.train.train` (autograd, one run after another);
* ``batched``: :func:`allornone.origins.batched.train_many` (closed-form gradient, stacked runs);

on the exact objective with full-batch gradient descent (the Table 1 recipe), plus the paper's sampled recipe
(mini-batches of 100, SGD lr 0.1) at m = 5 and m = 7, and the batched trainer with 1 and 2 torch threads at
m = 5. Every measurement runs in its own process (so its peak RSS is its own) and the two trainers of a
configuration run back to back, so both see the same machine load. It reports run-steps per second (CPU
and wall), peak RSS, and the speed-up (ratio of CPU times, less sensitive to the load of a shared machine
than wall time), and copies the timing of the last ``python -m allornone.origins_runs all``.

    python benchmarks/origins.py            # writes benchmarks/origins.json

Targets (issue 13): at R = 100, at least 5x faster than the loop for m <= 5 and at least 2x at m = 7.
This is a script, not a timed test.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = {3: 200, 4: 200, 5: 100, 6: 60, 7: 30, 10: 10}


def child(trainer: str, m: int, R: int, steps: int, method: str, threads: int, masks: int) -> dict:
    import numpy as np
    import torch

    from allornone.origins.batched import train_many
    from allornone.origins.latent import context_distribution, random_latent_model, random_patterns
    from allornone.origins.train import train

    dists = []
    for s in range(R):
        rng = np.random.default_rng(s)
        lm = random_latent_model(m, rng)
        dists.append(context_distribution(lm, patterns=random_patterns(m, masks, rng) if masks else None))
    lr = 0.1 if method == "sgd" else 0.01 * 3**m
    kw = dict(steps=steps, method=method, optimizer="sgd", lr=lr, init_scale=0.1, dtype="float32")
    torch.set_num_threads(1)
    c0, w0 = time.process_time(), time.perf_counter()
    if trainer == "loop":
        out = [train(d, m, seed=s, **kw) for s, d in enumerate(dists)]
    else:
        out = train_many(dists, m, seeds=range(R), threads=threads, **kw)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    assert all(r.steps_run == steps for r in out)
    return {"trainer": trainer, "m": m, "R": R, "steps": steps, "method": method, "threads": threads,
            "masks": masks, "cpu_seconds": cpu, "wall_seconds": wall,
            "run_steps_per_cpu_second": R * steps / cpu, "run_steps_per_wall_second": R * steps / wall,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(trainer, m, R, steps, method="exact", threads=1, masks=0) -> dict:
    cmd = [sys.executable, __file__, "--child", trainer, str(m), str(R), str(steps), method, str(threads), str(masks)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    rows = []
    configs = [(m, R, "exact", 0) for R in (10, 100) for m in (3, 4, 5, 6, 7)]
    configs += [(10, 2, "exact", 50), (5, 100, "sgd", 0), (7, 10, "sgd", 0)]
    for m, R, method, masks in configs:
        steps = STEPS[m] if method == "exact" else 200
        loop = measure("loop", m, R, steps, method, masks=masks)
        batched = measure("batched", m, R, steps, method, masks=masks)
        row = {"m": m, "R": R, "method": method, "masks": masks, "steps": steps, "loop": loop, "batched": batched,
               "speedup_cpu": loop["cpu_seconds"] / batched["cpu_seconds"],
               "speedup_wall": loop["wall_seconds"] / batched["wall_seconds"],
               "load_average_1min": os.getloadavg()[0]}
        rows.append(row)
        print(f"m={m:2d} R={R:3d} {method:5s}: loop {loop['run_steps_per_cpu_second']:9.0f} run-steps/CPU-s, "
              f"batched {batched['run_steps_per_cpu_second']:9.0f}  -> {row['speedup_cpu']:.1f}x CPU "
              f"({row['speedup_wall']:.1f}x wall), RSS {loop['peak_rss_mb']:.0f}/{batched['peak_rss_mb']:.0f} MB",
              flush=True)
    threads = [measure("batched", 5, 100, STEPS[5], "exact", threads=t) for t in (1, 2)]
    print(f"threads at m=5 R=100: 1 -> {threads[0]['wall_seconds']:.2f} s wall, 2 -> {threads[1]['wall_seconds']:.2f} s",
          flush=True)
    regen = None
    ck = ROOT / ".cache" / "origins_rows"
    if ck.exists():
        chunks = [json.loads(p.read_text()) for p in ck.glob("*/*.json")]
        log = ck / "regeneration_log.jsonl"
        entries = [json.loads(x) for x in log.read_text().splitlines() if x.strip()] if log.exists() else []
        regen = {"chunks": len(chunks), "runs": sum(len(c["runs"]) for c in chunks),
                 "chunk_wall_seconds_total": sum(c["seconds"] for c in chunks),
                 "chunk_cpu_seconds_total": sum(c.get("cpu_seconds", float("nan")) for c in chunks),
                 "invocations_of_all": entries,
                 "note": "the sum over every checkpointed chunk of `python -m allornone.origins_runs all` (the run was "
                         "interrupted and resumed, so per-invocation totals are partial); wall time on the shared machine"}
    target = {"m<=5, R=100: >=5x": all(r["speedup_cpu"] >= 5 for r in rows
                                        if r["R"] == 100 and r["m"] <= 5 and r["method"] == "exact"),
              "m=7, R=100: >=2x": all(r["speedup_cpu"] >= 2 for r in rows
                                      if r["R"] == 100 and r["m"] == 7 and r["method"] == "exact")}
    out = {"benchmark": "origins", "command": "python benchmarks/origins.py", "rows": rows,
           "threads_m5_R100": threads, "regeneration": regen, "targets_met_cpu_ratio": target,
           "note": "speed-ups are ratios of CPU seconds of the two trainers run back to back; wall ratios beside",
           "python": platform.python_version(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = Path(__file__).with_suffix(".json")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    print(f"targets: {target}; wrote {path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        t, m, R, steps, method, threads, masks = sys.argv[2:9]
        print(json.dumps(child(t, int(m), int(R), int(steps), method, int(threads), int(masks))))
        sys.exit(0)
    sys.exit(main())
