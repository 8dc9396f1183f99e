"""Per-run overhead of the rerun layer (issue 12, point 9) -> benchmarks/reruns.json.

The same trivial notebook (tests/data/sweep_fixture.ipynb at its defaults) is
timed three ways, interleaved and repeated so that the machine's load hits all
of them alike (wall-clock seconds, median of ``--repeat``):

* ``bare``: its code cells executed in one fresh Python process (``python -c``):
  interpreter start, imports and the computation, no kernel;
* ``cli``: ``python -m allornone.run <fixture> --force``: what a user pays per
  rerun (runner start, papermill, a kernel, shutdown);
* ``warm_runner``: ``run_notebook`` called again in a process that already ran
  one (what each run of a sweep worker pays after its first).

The overhead of a way is its median minus ``bare``'s; the ratio is their quotient.
Both are given in wall-clock seconds and in CPU seconds (user + system, of the
process and the descendants it reaped, i.e. the kernel): on a shared, loaded
machine the wall time mostly measures the load, while the CPU seconds are what
a run costs on a free core.
Each is measured twice: ``as_locked`` (``requirements.lock``, which leaves out
rfc3987-syntax) and ``with_rfc3987_syntax`` (the optional jsonschema format
checker that compiles a grammar at every nbformat import: in the runner and in
the kernel). Whichever of the two the venv has installed is measured directly;
the other is simulated: an installed package is hidden by a module on
PYTHONPATH that raises ImportError (kernels inherit PYTHONPATH), exactly what
``jsonschema`` sees when the package is absent. When it is not installed, the
``with`` variant is skipped.

    .venv/bin/python benchmarks/reruns.py [--repeat 5] [--before 09c92be] [--out benchmarks/reruns.json]

On the idle machine: ``.venv/bin/python benchmarks/reruns.py --repeat 5 --out benchmarks/reruns_idle.json``
(``summary`` gives the one-off CLI run's median wall and CPU overhead over ``bare``).

``--before REV`` (repeatable) adds the library as it was at git revision REV
(run with the venv as installed) as another variant: the before/after comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "sweep_fixture.ipynb"
TARGET_OVERHEAD_S = 1.0

BARE = r"""
import json, sys
nb = json.load(open(sys.argv[1]))
ns = {}
for cell in nb["cells"]:
    if cell["cell_type"] != "code":
        continue
    src = "".join(cell["source"])
    if "parameters" in cell["metadata"].get("tags", []):
        src += "\nout_dir = " + repr(sys.argv[2])
    exec(compile(src, "cell", "exec"), ns)
"""

WARM = r"""
import json, resource, sys, time
from allornone.reruns.run import run_notebook

def cpu():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

times, cpus = [], []
for i in range(int(sys.argv[3]) + 1):
    t, c = time.perf_counter(), cpu()
    run_notebook(sys.argv[1], {}, runs_dir=sys.argv[2], force=True, log=lambda *_: None)
    times.append(time.perf_counter() - t)
    cpus.append(cpu() - c)
print(json.dumps([times[1:], cpus[1:]]))
"""


def _env(extra_path: str | None, lib: Path = ROOT / "lib") -> dict:
    paths = [p for p in (extra_path, str(lib), os.environ.get("PYTHONPATH")) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _time(cmd, env) -> tuple[float, float]:
    """Wall seconds and CPU seconds of ``cmd`` and every descendant it reaped (the kernel)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{cmd[:3]} exited with {proc.returncode}")
    return time.perf_counter() - t, ru.ru_utime + ru.ru_stime


def _summary(times: list, bare: tuple) -> dict:
    wall, cpu = [t for t, _ in times], [c for _, c in times]
    med, cmed = statistics.median(wall), statistics.median(cpu)
    return {"median_seconds": round(med, 3), "all_seconds": [round(t, 3) for t in wall],
            "overhead_seconds": round(med - bare[0], 3), "ratio_to_bare": round(med / bare[0], 2),
            "median_cpu_seconds": round(cmed, 3), "cpu_overhead_seconds": round(cmed - bare[1], 3),
            "cpu_ratio_to_bare": round(cmed / bare[1], 2)}


def measure(repeat: int, tmp: Path, before: list | None = None) -> dict:
    installed = importlib.util.find_spec("rfc3987_syntax") is not None
    shim = tmp / "shim"
    shim.mkdir()
    (shim / "rfc3987_syntax.py").write_text('raise ImportError("hidden by benchmarks/reruns.py")\n')
    variants = {"as_locked": (str(shim) if installed else None, ROOT / "lib")}
    if installed:
        variants["with_rfc3987_syntax"] = (None, ROOT / "lib")
    for rev in before or []:  # the library at an older commit, with the venv as installed
        old = tmp / f"before-{rev}"
        old.mkdir()
        archive = subprocess.run(["git", "archive", rev, "lib"], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        variants[f"before_{rev}"] = (None, old / "lib")
    py = sys.executable
    times = {v: {"bare": [], "cli": []} for v in variants}
    for i in range(repeat):  # interleaved: every variant and way once per round
        for v, (extra, lib) in variants.items():
            env = _env(extra, lib)
            times[v]["bare"].append(_time([py, "-c", BARE, str(FIXTURE), str(tmp / f"bare-{v}")], env))
            times[v]["cli"].append(_time([py, "-m", "allornone.run", str(FIXTURE), "--force",
                                          "--runs-dir", str(tmp / f"cli-{v}")], env))
    out = {}
    for v, (extra, lib) in variants.items():
        proc = subprocess.run([py, "-c", WARM, str(FIXTURE), str(tmp / f"warm-{v}"), str(repeat)],
                              env=_env(extra, lib), check=True, capture_output=True, text=True, cwd=ROOT)
        warm_wall, warm_cpu = json.loads(proc.stdout.strip().splitlines()[-1])
        warm = list(zip(warm_wall, warm_cpu))
        bare = (statistics.median(t for t, _ in times[v]["bare"]), statistics.median(c for _, c in times[v]["bare"]))
        out[v] = {"bare": {"median_seconds": round(bare[0], 3), "median_cpu_seconds": round(bare[1], 3),
                           "all_seconds": [round(t, 3) for t, _ in times[v]["bare"]]},
                  "cli": _summary(times[v]["cli"], bare),
                  "warm_runner": _summary(warm, bare),
                  "simulated": extra is not None}
        # on a loaded machine wall time measures the load; CPU seconds are what a run costs on a free core
        out[v]["meets_target_wall"] = out[v]["cli"]["overhead_seconds"] <= TARGET_OVERHEAD_S
        out[v]["meets_target_cpu"] = out[v]["cli"]["cpu_overhead_seconds"] <= TARGET_OVERHEAD_S
    out["rfc3987_syntax_installed"] = installed
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--before", action="append", default=[], metavar="REV",
                   help="also measure the library at git revision REV (e.g. 09c92be, before issue 12); repeatable")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "reruns.json"))
    args = p.parse_args(argv)
    res = {"machine": {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                       "nproc": len(os.sched_getaffinity(0)), "python": sys.version.split()[0],
                       "nice": os.nice(0), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
           "notebook": str(FIXTURE.relative_to(ROOT)), "repeat": args.repeat,
           "target_overhead_seconds": TARGET_OVERHEAD_S}
    with tempfile.TemporaryDirectory(prefix="aon-bench-reruns-") as tmp:
        res["results"] = measure(args.repeat, Path(tmp), args.before)
    res["summary"] = {v: {"cli_overhead_wall_s": r["cli"]["overhead_seconds"],
                          "cli_overhead_cpu_s": r["cli"]["cpu_overhead_seconds"],
                          "warm_overhead_wall_s": r["warm_runner"]["overhead_seconds"],
                          "warm_overhead_cpu_s": r["warm_runner"]["cpu_overhead_seconds"]}
                      for v, r in res["results"].items() if isinstance(r, dict)}
    res["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    sys.path.insert(0, str(ROOT / "lib"))
    from allornone.reruns.results import write_json_atomic

    write_json_atomic(args.out, res)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
