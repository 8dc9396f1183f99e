"""Mutation testing of the theory modules (``make mutation``), with mutmut 3.

mutmut mutates the functions of ``lib/allornone/theory/`` one change at a time
and runs, for each mutant, the fast theory tests that call the mutated function
(``-x``, no cache provider, the ``mutation`` hypothesis profile of
``tests/conftest.py``: derandomized, no example database). A mutant is
*killed* when a test fails, *survives* when all pass.

mutmut expects the package at ``src/<name>`` (its module names are the file
paths below ``src``), and writes its ``mutants/`` tree into the working
directory. So the run happens in a scratch copy, ``.cache/mutation/``: the
package is copied to ``src/allornone``, the tests and ``pyproject.toml``
beside it, and ``tools/mutation/mutmut.toml`` is appended to that copy of
``pyproject.toml`` (with the test files its ``tests`` globs match).

Survivors that cannot be killed because they do not change what the code
computes are listed in ``tools/mutation/equivalent.toml`` with the reason;
each entry matches a survivor by module, function and the changed line
(never by mutmut's mutant number, which shifts when a function is edited).
The score is killed / (mutants - equivalent survivors), timeouts counted as
killed. The script prints it, lists every survivor, and writes
``benchmarks/mutation.json``.

    .venv/bin/python tools/mutation/run.py                 # every theory module
    .venv/bin/python tools/mutation/run.py model linear    # some modules (not recorded)
    .venv/bin/python tools/mutation/run.py --no-write      # do not touch benchmarks/
    .venv/bin/python tools/mutation/run.py --retest        # after adding tests: re-run the survivors only
    .venv/bin/python tools/mutation/run.py --report-only   # list the last run's survivors again

The run exits 1 when the score is below 95 %.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORK = ROOT / ".cache" / "mutation"
THEORY = ROOT / "lib" / "allornone" / "theory"
OUT = ROOT / "benchmarks" / "mutation.json"
TARGET = 0.95

KILLED = {1, 3}
TIMEOUT = {36, -24, 24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}


def modules_of_theory() -> list[str]:
    """Dotted names of the theory modules mutmut will mutate (not ``__init__``)."""
    files = sorted(p for p in THEORY.rglob("*.py") if p.name != "__init__.py")
    return [".".join(("allornone",) + p.relative_to(ROOT / "lib" / "allornone").with_suffix("").parts) for p in files]


def load_config() -> tuple[str, list[str]]:
    text = (HERE / "mutmut.toml").read_text()
    data = tomllib.loads(text)
    globs = data["tool"]["allornone-mutation"]["tests"]
    tests = sorted({str(p.relative_to(ROOT)) for g in globs for p in ROOT.glob(g)})
    if not tests:
        raise SystemExit(f"no test file matches {globs}")
    return text, tests


def prepare(text: str, tests: list[str]) -> None:
    """Lay out the scratch copy: src/allornone, tests/, pyproject.toml + the mutmut section."""
    if WORK.exists():
        shutil.rmtree(WORK)
    (WORK / "src").mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    shutil.copytree(ROOT / "lib" / "allornone", WORK / "src" / "allornone", ignore=ignore)
    shutil.copytree(ROOT / "tests", WORK / "tests", ignore=ignore)
    # mutmut runs the tests in mutants/: data/ (read by tests/test_audit.py) by the same relative path
    (WORK / "mutants").mkdir()
    for extra in ("data", "notebooks"):
        if (ROOT / extra).exists():
            os.symlink(ROOT / extra, WORK / "mutants" / extra)
    write_pyproject(text, tests)


def write_pyproject(text: str, tests: list[str]) -> None:
    section = text.replace("[tool.allornone-mutation]", "[tool.allornone-mutation-unused]")
    selection = "pytest_add_cli_args_test_selection = [" + ", ".join(json.dumps(t) for t in tests) + "]\n"
    section = section.replace("[tool.mutmut]\n", "[tool.mutmut]\n" + selection, 1)
    (WORK / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + "\n" + section)


def same_tree(a: Path, b: Path) -> bool:
    """Do the two package copies hold the same .py files with the same bytes?"""
    fa = {p.relative_to(a): p.read_bytes() for p in a.rglob("*.py")}
    fb = {p.relative_to(b): p.read_bytes() for p in b.rglob("*.py")}
    return fa == fb


def prepare_retest(text: str, tests: list[str]) -> None:
    """Keep the last run's verdicts; bring in the current tests (a superset of the last run's).

    Only valid on the same library source: a killed mutant stays killed when tests are added,
    so only the survivors need to run again. mutmut would reset every verdict when the test
    selection changes; the selection only grew, so its stored fingerprint is updated instead.
    """
    if not (WORK / "mutants" / "mutmut-stats.json").exists():
        raise SystemExit("--retest needs a finished run in .cache/mutation/")
    if not same_tree(ROOT / "lib" / "allornone", WORK / "src" / "allornone"):
        raise SystemExit("--retest: lib/allornone changed since the last run; run without --retest")
    info = json.loads((WORK / "run-info.json").read_text())
    missing = sorted(set(info["tests"]) - set(tests))
    if missing:
        raise SystemExit(f"--retest: test files of the last run are gone: {missing}")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    for dest in (WORK / "tests", WORK / "mutants" / "tests"):
        shutil.rmtree(dest)
        shutil.copytree(ROOT / "tests", dest, ignore=ignore)
    write_pyproject(text, tests)
    fingerprint = subprocess.run(
        [sys.executable, "-c", "import json; from mutmut.configuration import config; print(json.dumps(config().config_fingerprint()))"],
        cwd=WORK, capture_output=True, text=True, check=True).stdout
    stats_path = WORK / "mutants" / "mutmut-stats.json"
    stats = json.loads(stats_path.read_text())
    stats["config_fingerprint"] = json.loads(fingerprint)
    stats_path.write_text(json.dumps(stats))


def mutmut_bin() -> str:
    exe = Path(sys.executable).parent / "mutmut"
    if not exe.exists():
        raise SystemExit(f"{exe} not found: install the pinned mutmut (make setup)")
    return str(exe)


def run_mutmut(names: list[str], max_children: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MUTANT_UNDER_TEST")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # one BLAS thread per mutant: spinning OpenBLAS threads burn the CPU-time budget of mutmut's timeout under
    # load and turn survivors into "timeouts" (counted as killed); measured 196 false timeouts on readings.py
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    cmd = [mutmut_bin(), "run", "--max-children", str(max_children), *names]
    start = time.monotonic()
    log = WORK / "mutmut-run.log"
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, cwd=WORK, env=env, stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.stdout.write(log.read_text()[-4000:])
        raise SystemExit(f"mutmut run failed with exit code {proc.returncode} (log: {log})")
    return seconds


def exit_codes() -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in sorted((WORK / "mutants" / "src").rglob("*.py.meta")):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def split_name(name: str) -> tuple[str, str]:
    """``allornone.theory.model.x_f__mutmut_3`` -> (module, function ``x_f``)."""
    parts = name.partition("__mutmut_")[0].split(".")
    for i in range(len(parts) - 1, -1, -1):
        if parts[i].startswith("x_") or parts[i].startswith("x\u01c1"):
            return ".".join(parts[:i]), ".".join(parts[i:])
    raise ValueError(name)


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
names = json.load(sys.stdin)
out = {}
import time
for n in names:
    for attempt in range(3):  # a .meta file being rewritten by a running mutmut reads as bad JSON
        try:
            out[n] = get_diff_for_mutant(n, path=find_mutant(n).path)
            break
        except Exception as exc:  # reported as the diff; the survivor is still listed
            out[n] = f"(no diff: {type(exc).__name__}: {exc})"
            time.sleep(0.2)
json.dump(out, sys.stdout)
"""


def diffs_of(names: list[str]) -> dict[str, str]:
    """mutmut's diff of each mutant (``mutmut show``), in one process."""
    if not names:
        return {}
    out = subprocess.run([sys.executable, "-c", _DIFFS], cwd=WORK, input=json.dumps(names),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def changed_lines(diff: str) -> tuple[list[str], list[str]]:
    minus = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    plus = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return minus, plus


def source_line(module: str, function: str, minus: list[str]) -> int | None:
    """Line number in lib/ of the first line the mutant changes."""
    path = ROOT / "lib" / Path(*module.split(".")).with_suffix(".py")
    source = path.read_text().splitlines()
    name = function.split("\u01c1")[-1] if "\u01c1" in function else function[2:]
    start = 0
    for node in ast.walk(ast.parse("\n".join(source))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            start = node.lineno - 1 - len(node.decorator_list)
            break
    if not minus:
        return start + 1
    for i in range(start, len(source)):
        if source[i].strip() == minus[0]:
            return i + 1
    return None


def load_equivalent() -> list[dict]:
    path = HERE / "equivalent.toml"
    if not path.exists():
        return []
    return tomllib.loads(path.read_text()).get("equivalent", [])


def find_equivalent(entries: list[dict], module: str, function: str, minus: list[str], plus: list[str]) -> dict | None:
    for e in entries:
        if (e["module"] in (module, "*") and e["function"] in (function, "*")
                and e["minus"].strip() == " ".join(minus) and e["plus"].strip() == " ".join(plus)):
            return e
    return None


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "lib", "tests", "tools/mutation"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def wall_seconds(info: dict, seconds: float) -> float:
    """Wall time of the whole measurement: from the first start to now when runs were resumed."""
    if "started" in info and info["retests"]:
        start = dt.datetime.fromisoformat(info["started"]).timestamp()
        return (WORK / "mutmut-run.log").stat().st_mtime - start   # the log's last write ends the last run
    return info.get("seconds", seconds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help="theory modules to mutate (default: all), e.g. model equivalence")
    ap.add_argument("--max-children", type=int, default=2, help="parallel mutant workers (default 2)")
    ap.add_argument("--no-write", action="store_true", help="do not write benchmarks/mutation.json")
    ap.add_argument("--report-only", action="store_true", help="re-read the last run in .cache/mutation/")
    ap.add_argument("--record", action="store_true",
                    help="with --report-only: write benchmarks/mutation.json from the last run")
    ap.add_argument("--retest", action="store_true",
                    help="keep the last run's verdicts (same lib/) and re-run only its survivors with the current tests")
    args = ap.parse_args(argv)
    if args.max_children < 1:
        raise SystemExit("--max-children must be >= 1")

    all_modules = modules_of_theory()
    if args.modules:
        wanted = []
        for m in args.modules:
            full = m if m.startswith("allornone.") else "allornone.theory." + m
            matches = [x for x in all_modules if x == full or x.startswith(full + ".")]
            if not matches:
                raise SystemExit(f"modules: no theory module {m!r}; choose from {', '.join(all_modules)}")
            wanted += matches
        modules = sorted(set(wanted))
    else:
        modules = all_modules

    text, tests = load_config()
    import mutmut

    tool = f"mutmut=={mutmut.__version__}" if hasattr(mutmut, "__version__") else "mutmut"
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    info_path = WORK / "run-info.json"
    if args.retest:
        prepare_retest(text, tests)
        info = json.loads(info_path.read_text())
        names = sorted(k for k, v in exit_codes().items() if split_name(k)[0] in modules
                       and v is not None and v not in KILLED and v not in TIMEOUT)
        print(f"mutation: retesting {len(names)} survivors with {len(tests)} test files (was {len(info['tests'])})")
        seconds = run_mutmut(names, args.max_children) if names else 0.0
        if any(v is None for v in exit_codes().values()):   # an interrupted run: finish it with the new tests
            print("mutation: finishing the mutants the last run did not check")
            seconds += run_mutmut([], args.max_children)
        info["retests"].append({"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                "survivors_retested": len(names), "tests": tests, "seconds": round(seconds, 1)})
        info_path.write_text(json.dumps(info, indent=2))
    elif not args.report_only:
        prepare(text, tests)
        names = [] if not args.modules else [m + ".*" for m in modules]
        print(f"mutation: {tool} over {len(modules)} modules, {len(tests)} test files, {args.max_children} workers")
        info = {"git_commit": git_commit(), "tests": tests, "modules": args.modules or "all", "retests": [],
                "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        info_path.write_text(json.dumps(info, indent=2))
        seconds = run_mutmut(names, args.max_children)
        info["seconds"] = round(seconds, 1)
        info_path.write_text(json.dumps(info, indent=2))
    else:
        seconds = float("nan")
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)

    codes = {k: v for k, v in exit_codes().items() if split_name(k)[0] in modules}
    entries = load_equivalent()
    killed = [k for k, v in codes.items() if v in KILLED]
    timeout = [k for k, v in codes.items() if v in TIMEOUT]
    unchecked = [k for k, v in codes.items() if v is None]
    other = sorted(k for k, v in codes.items() if v is not None and v not in KILLED and v not in TIMEOUT)
    equivalent, real = [], []
    diffs = diffs_of(other)
    for name in other:
        module, function = split_name(name)
        diff = diffs[name]
        minus, plus = changed_lines(diff)
        entry = find_equivalent(entries, module, function, minus, plus)
        row = {
            "id": name,
            "module": module,
            "function": function,
            "line": source_line(module, function, minus),
            "status": "no tests" if codes[name] in NO_TESTS else "survived" if codes[name] in SURVIVED else f"exit {codes[name]}",
            "diff": "\n".join([*("- " + m for m in minus), *("+ " + p for p in plus)]) or diff,
        }
        if entry is not None:
            row["why_equivalent"] = entry["why"]
            equivalent.append(row)
        else:
            real.append(row)

    if unchecked:
        print(f"warning: {len(unchecked)} mutants not checked (interrupted run?); they are left out of the counts")
    n = len(codes) - len(unchecked)
    denominator = n - len(equivalent)
    score = (len(killed) + len(timeout)) / denominator if denominator else float("nan")
    print()
    for row in real:
        print(f"SURVIVED {row['id']} ({row['status']}) {row['module']}:{row['line']}\n    {row['diff'].replace(chr(10), chr(10) + '    ')}")
    for row in equivalent:
        print(f"equivalent {row['id']} {row['module']}:{row['line']}: {row['why_equivalent']}")
    print()
    print(f"mutants {n}, killed {len(killed)}, timeout {len(timeout)}, survived {len(other)} "
          f"({len(equivalent)} equivalent, {len(real)} not), wall time {seconds:.0f} s, CPU time {cpu_seconds:.0f} s")
    print(f"mutation score (non-equivalent mutants killed): {100 * score:.2f}% (target {100 * TARGET:.0f}%)")

    if not args.no_write and not args.modules and (args.record or not args.report_only):
        info = json.loads(info_path.read_text())
        result = {
            "benchmark": "mutation",
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "git_commit": info["git_commit"],
            "retests": info["retests"],
            "tool": tool,
            "command": "make mutation",
            "modules": modules,
            "tests": tests,
            "note": info.get("note", ""),
            "mutants": n,
            "complete": not unchecked,
            "unchecked": len(unchecked),
            "killed": len(killed),
            "survived": len(other),
            "timeout": len(timeout),
            "no_tests": sum(1 for k in other if codes[k] in NO_TESTS),
            "equivalent": [{k: r[k] for k in ("id", "module", "line", "diff", "why_equivalent")} for r in equivalent],
            "surviving_not_equivalent": [{k: r[k] for k in ("id", "module", "line", "diff", "status")} for r in real],
            "score_non_equivalent": round(score, 4),
            "target": TARGET,
            "seconds": round(wall_seconds(info, seconds), 1),
            "cpu_seconds": round(cpu_seconds, 1) if not info["retests"] else None,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "workers": args.max_children,
        }
        OUT.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}")
    return 0 if score >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
