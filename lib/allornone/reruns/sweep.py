"""Run a notebook over a grid of parameters: ``python -m allornone.sweep``.

::

    python -m allornone.sweep 01_next_token_predictors --grid seed=0,1,2,3 dim=2,3 --workers 2
    python -m allornone.sweep 01_next_token_predictors --grid-file grid.yaml
    python -m allornone.sweep 01_next_token_predictors --grid seed='range(8)' --dask-scheduler tcp://10.0.0.5:8786

Every combination of the grid is one run of :func:`allornone.run.run_notebook`
(papermill), so each lands atomically in ``runs/<notebook>/<hash>/`` and a run
that is already complete is skipped: rerunning the same command after Ctrl-C,
a killed worker or a crash resumes the sweep with nothing lost or half-written.

The whole grid is validated (names, types and the notebook's own
``validate-parameters`` checks, for every combination) before anything runs.
Runs execute in parallel worker *processes* (``--workers``, default: one per
core) or on a Dask distributed cluster (``--dask-scheduler ADDRESS``). A run
that fails is reported with its ``error.txt`` and does not stop the others.
At the end the runs are gathered into one tidy table
(``runs/<notebook>/sweep.csv``: one row per run, a column per parameter and per
result) and a summary plot (``runs/<notebook>/sweep.png``).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from allornone.reruns.run import (
    RESERVED,
    ParameterError,
    RunFailed,
    clean_stale,
    find_notebook,
    is_complete,
    read_spec,
    resolve_parameters,
    resolve_runs_dir,
    run_key,
    run_notebook,
)

__all__ = [
    "parse_grid_items",
    "load_grid_file",
    "expand_grid",
    "PlannedRun",
    "plan_sweep",
    "run_sweep",
    "collect_table",
    "write_table",
    "summary_plot",
    "main",
]

EXIT_OK, EXIT_FAILED_RUNS, EXIT_BAD_PARAMETERS, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_RUNS = 100_000  # a larger grid is refused before it is expanded


# --------------------------------------------------------------------------- grid


def _split_top_level(text: str) -> list[str]:
    """Split ``text`` on commas that are outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


_RANGE = re.compile(r"^range\(\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?(?:,\s*(-?\d+)\s*)?\)$")


def parse_grid_items(items) -> dict:
    """``["seed=0,1,2", "dim=2,3"]`` → ``{"seed": ["0", "1", "2"], "dim": ["2", "3"]}``.

    Values stay strings (the runner parses them as Python literals and matches
    them to the type of the default); commas inside brackets or quotes do not
    split, so ``shape=[1,2],[3,4]`` gives two list values. ``seed=range(8)``
    (or ``range(a, b[, step])``) expands to integers.
    """
    grid: dict = {}
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise ParameterError(f"grid entries look like name=v1,v2,...; got {item!r}")
        name, _, values = item.partition("=")
        name = name.strip()
        if not name.isidentifier():
            raise ParameterError(f"grid entry {item!r}: {name!r} is not a parameter name")
        if name in grid:
            raise ParameterError(f"parameter {name} appears twice in the grid")
        m = _RANGE.match(values.strip())
        if m:
            args = [int(a) for a in m.groups() if a is not None]
            try:
                r = range(*args)
            except ValueError as exc:
                raise ParameterError(f"grid entry {item!r}: {exc}") from None
            if len(r) > MAX_RUNS:
                raise ParameterError(f"grid entry {item!r} has {len(r)} values; a sweep runs at most {MAX_RUNS}")
            vals = [str(v) for v in r]
        else:
            vals = _split_top_level(values)
        if not vals or any(v == "" for v in vals):
            raise ParameterError(f"grid entry {item!r} has an empty value")
        grid[name] = vals
    return grid


def load_grid_file(path) -> dict:
    """Read a YAML grid: a mapping ``name: [v1, v2, ...]`` (a scalar means one
    value), optionally nested under a top-level ``grid:`` key."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"grid file {path} does not exist") from None
    except IsADirectoryError:
        raise ParameterError(f"grid file {path} is a directory, not a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ParameterError(f"grid file {path} is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise ParameterError(f"grid file {path}: cannot read it: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ParameterError(f"grid file {path} is not valid YAML: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("grid"), dict):
        data = data["grid"]
    if not isinstance(data, dict) or not data:
        raise ParameterError(f"grid file {path} must hold a mapping name: [values]; got {type(data).__name__}")
    grid = {}
    for name, values in data.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ParameterError(f"grid file {path}: {name!r} is not a parameter name")
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ParameterError(f"grid file {path}: parameter {name} has no values")
        grid[name] = values
    return grid


def expand_grid(grid: dict) -> list[dict]:
    """Every combination of a grid, in order (the last name varies fastest).
    A grid of more than ``MAX_RUNS`` combinations is refused before expanding."""
    names = list(grid)
    total = math.prod(len(grid[n]) for n in names)
    if total > MAX_RUNS:
        sizes = " x ".join(f"{len(grid[n])} {n}" for n in names)
        raise ParameterError(f"the grid has {total} combinations ({sizes}); a sweep runs at most {MAX_RUNS}")
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


# --------------------------------------------------------------------------- plan


@dataclass
class PlannedRun:
    params: dict
    hash: str
    run_dir: Path
    complete: bool = False
    status: str = "pending"   # pending | done | skipped | failed
    error_file: Path | None = None
    message: str = ""
    seconds: float = float("nan")
    extra: dict = field(default_factory=dict)


def plan_sweep(notebook, grid: dict, *, runs_dir=None, force: bool = False):
    """Validate every combination of ``grid`` and return ``(spec, runs)``.

    Raises :class:`ParameterError` listing every bad combination (at most a
    few examples of each distinct message) before anything is executed.
    Duplicate combinations (same resolved parameters) are run once.
    """
    spec = read_spec(find_notebook(notebook))
    if not grid:
        raise ParameterError("empty grid: give --grid name=v1,v2 ... or --grid-file")
    runs_dir = resolve_runs_dir(runs_dir)
    errors: dict = {}
    runs, seen = [], set()
    combos = expand_grid(grid)
    for combo in combos:
        try:
            params = resolve_parameters(spec, combo)
        except ParameterError as exc:
            errors.setdefault(str(exc), []).append(combo)
            continue
        h = run_key(spec, params)
        if h in seen:
            continue
        seen.add(h)
        run_dir = runs_dir / spec.name / h
        runs.append(PlannedRun(params=params, hash=h, run_dir=run_dir, complete=is_complete(run_dir) and not force))
    if errors:
        lines = [f"{sum(map(len, errors.values()))} of {len(combos)} grid combinations are invalid; nothing was run:"]
        for msg, bad in errors.items():
            shown = "; ".join(", ".join(f"{k}={v}" for k, v in c.items()) for c in bad[:3])
            more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
            lines.append(f"  {msg}\n    in: {shown}{more}")
        raise ParameterError("\n".join(lines))
    return spec, runs


# --------------------------------------------------------------------------- execution

_BUSY = False
_IN_POOL_WORKER = False


def _die_with_parent(parent_pid: int):
    """Ask Linux to send this process SIGTERM when its parent (the sweep) dies,
    so a ``kill -9`` of the sweep does not leave workers running."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watcher thread below still works
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    import threading

    def watch():  # also covers a worker whose parent is a thread that exits (prctl is per thread)
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _worker_init(parent_pid: int | None = None):
    """Worker processes ignore Ctrl-C (the parent decides), die with their
    sweep, and turn SIGTERM into KeyboardInterrupt while a notebook runs, so the
    runner moves the partial run aside (``<key>.failed``) and shuts its kernel
    down; their console output is silenced from then on (the parent reports)."""
    global _IN_POOL_WORKER
    _IN_POOL_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def _term(signum, frame):
        _silence()
        if _BUSY:
            raise KeyboardInterrupt
        os._exit(0)

    signal.signal(signal.SIGTERM, _term)
    if parent_pid is not None:
        _die_with_parent(parent_pid)


def _silence():
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:  # pragma: no cover
        pass


def _run_one(notebook_path: str, params: dict, runs_dir: str, force: bool) -> dict:
    """Execute one run (in a worker process); never raises for a failing notebook."""
    global _BUSY
    started = time.time()
    out = {"hash": None, "status": "done", "error_file": None, "message": ""}
    _BUSY = True
    try:
        out["hash"] = run_notebook(notebook_path, params, runs_dir=runs_dir, force=force, log=lambda *_: None).name
    except RunFailed as exc:
        out.update(status="failed", error_file=str(exc.error_file), message=_last_line(exc.error_file))
    except ParameterError as exc:  # e.g. an input file removed or made unreadable since the sweep was planned
        out.update(status="failed", message=f"refused before its kernel started: {exc}")
    except KeyboardInterrupt:
        out.update(status="interrupted")
        if _IN_POOL_WORKER:
            os._exit(1)  # the parent is shutting the pool down
    finally:
        _BUSY = False
    out["seconds"] = time.time() - started
    return out


def _last_line(error_file) -> str:
    try:
        lines = [ln for ln in Path(error_file).read_text().splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="run", desc="sweep", disable=None if enabled else True, file=sys.stderr, dynamic_ncols=True)


def _report(bar, run: PlannedRun, result: dict, log):
    run.status = result["status"]
    run.seconds = result.get("seconds", float("nan"))
    if result["status"] == "failed":
        run.error_file = Path(result["error_file"]) if result["error_file"] else None
        run.message = result["message"]
        bar.write(f"FAILED {run.hash} ({_fmt(run.params)}): {run.message}"
                  + (f"\n       traceback: {run.error_file}" if run.error_file else ""))


def _fmt(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _run_local(spec, todo, runs_dir, workers, force, progress, log) -> bool:
    """Run ``todo`` in a process pool; return False if interrupted."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                               initargs=(os.getpid(),))
    bar = _progress(len(todo), progress)
    pending = {}
    queue = list(todo)
    try:
        # keep at most `workers` runs submitted, so an interrupt has nothing queued to cancel
        while queue or pending:
            while queue and len(pending) < workers:
                run = queue.pop(0)
                fut = pool.submit(_run_one, str(spec.path), run.params, str(runs_dir), force)
                pending[fut] = run
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in done:
                run = pending.pop(fut)
                _report(bar, run, fut.result(), log)
                bar.update(1)
        pool.shutdown(wait=True)
        return True
    except KeyboardInterrupt:
        _stop_pool(pool)
        return False
    finally:
        bar.close()


def _stop_pool(pool, timeout: float = 30.0):
    procs = list(getattr(pool, "_processes", {}).values())
    for p in procs:
        if p.is_alive():
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + timeout
    for p in procs:
        p.join(max(0.0, deadline - time.time()))
        if p.is_alive():
            p.kill()
            p.join(5)
    try:
        pool.shutdown(wait=False, cancel_futures=True)
    except Exception:  # noqa: BLE001 - the pool is broken on purpose
        pass


_ADDRESS = re.compile(r"^(?:(tcp|tls)://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})/?$")


def check_scheduler(address: str, timeout: float = 5.0) -> str:
    """Refuse a malformed Dask scheduler address, or one where nothing listens
    (a TCP connect within ``timeout`` seconds), with a one-line
    :class:`ParameterError`; return the address with its scheme."""
    m = _ADDRESS.match(str(address).strip())
    if not m or not 0 < int(m.group(3)) < 65536:
        raise ParameterError(f"--dask-scheduler {address!r} is not an address like tcp://HOST:PORT")
    scheme, host, port = m.group(1) or "tcp", m.group(2).strip("[]"), int(m.group(3))
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror as exc:
        raise ParameterError(f"--dask-scheduler {address}: unknown host {host!r} ({exc.strerror})") from None
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ParameterError(f"--dask-scheduler {address}: no scheduler reachable at {host}:{port} ({reason})") from None
    return f"{scheme}://{m.group(2)}:{port}"


def _run_dask(spec, todo, runs_dir, address, force, progress, log) -> bool:
    from distributed import Client, as_completed

    address = check_scheduler(address)
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ParameterError(f"--dask-scheduler {address}: cannot connect ({type(exc).__name__}: {exc})") from None
    bar = _progress(len(todo), progress)
    futures = {}
    try:
        for run in todo:
            fut = client.submit(_run_one, str(spec.path), run.params, str(runs_dir), force,
                                key=f"allornone-{spec.name}-{run.hash}", pure=False)
            futures[fut.key] = (fut, run)
        for fut in as_completed([f for f, _ in futures.values()]):
            run = futures[fut.key][1]
            if fut.status == "error":
                exc = fut.exception()
                run.status, run.message = "failed", f"{type(exc).__name__}: {exc}"
                bar.write(f"FAILED {run.hash} ({_fmt(run.params)}) on the cluster: {run.message}")
            else:
                _report(bar, run, fut.result(), log)
            bar.update(1)
        return True
    except KeyboardInterrupt:
        client.cancel([f for f, _ in futures.values()])
        return False
    finally:
        bar.close()
        client.close()


def run_sweep(notebook, grid: dict, *, runs_dir=None, workers: int | None = None, dask_scheduler: str | None = None,
              force: bool = False, progress: bool = True, log=print):
    """Validate and execute a grid; return ``(spec, runs, completed)``.

    ``completed`` is False when the sweep was interrupted (Ctrl-C / SIGTERM);
    every run that finished before that is complete on disk.
    """
    spec, runs = plan_sweep(notebook, grid, runs_dir=runs_dir, force=force)
    runs_dir = runs[0].run_dir.parent.parent
    (runs_dir / spec.name).mkdir(parents=True, exist_ok=True)
    removed = clean_stale(runs_dir / spec.name)
    for run in runs:
        if run.complete:
            run.status = "skipped"
    todo = [r for r in runs if not r.complete]
    workers = workers or _cpu_count()
    where = f"Dask cluster {dask_scheduler}" if dask_scheduler else f"{min(workers, max(len(todo), 1))} worker process(es)"
    log(f"{spec.name}: {len(runs)} runs, {len(runs) - len(todo)} already complete, {len(todo)} to run on {where}"
        + (f"; removed {len(removed)} stale temporary dir(s)" if removed else ""))
    if not todo:
        return spec, runs, True
    if dask_scheduler:
        completed = _run_dask(spec, todo, runs_dir, dask_scheduler, force, progress, log)
    else:
        completed = _run_local(spec, todo, runs_dir, min(workers, len(todo)), force, progress, log)
    return spec, runs, completed


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- table and plot


def _scalar(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return json.dumps(v, sort_keys=True)


def collect_table(spec, runs=None, *, runs_dir=None) -> list[dict]:
    """One row per run: ``hash``, ``status``, every parameter, every result
    (non-scalar results JSON-encoded), and ``error_file`` for failed runs.

    ``runs=None`` gathers every complete run found under ``runs/<notebook>/``.
    A result named like a parameter or a fixed column is prefixed ``result_``.
    """
    if runs is None:
        base = resolve_runs_dir(runs_dir) / spec.name
        runs = []
        for d in sorted(base.iterdir()) if base.is_dir() else []:
            if d.is_dir() and not d.name.startswith(".") and is_complete(d):
                params = json.loads((d / "params.json").read_text())["parameters"]
                runs.append(PlannedRun(params=params, hash=d.name, run_dir=d, complete=True, status="done"))
    param_names = [k for k in spec.defaults if k not in RESERVED]
    taken = {"hash", "status", "error_file", *param_names}
    rows = []
    for run in runs:
        row = {"hash": run.hash}
        if is_complete(run.run_dir):
            row["status"] = "done"
        else:
            row["status"] = run.status if run.status in ("failed", "interrupted") else "missing"
        for k in param_names:
            row[k] = _scalar(run.params.get(k))
        if row["status"] == "done":
            results = json.loads((run.run_dir / "results.json").read_text()).get("results", {})
            for k, v in sorted(results.items()):
                row[f"result_{k}" if k in taken else k] = _scalar(v)
        row["error_file"] = str(run.error_file) if run.error_file else ""
        rows.append(row)
    return rows


def write_table(rows: list[dict], path) -> Path:
    """Write ``rows`` to CSV (or Parquet if the name ends in ``.parquet`` and
    pyarrow is installed), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    if "error_file" in columns:  # keep it last
        columns.remove("error_file")
        columns.append("error_file")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
        pq.write_table(table, tmp)
    else:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=columns, restval="")
            w.writeheader()
            for row in rows:
                w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    os.replace(tmp, path)
    return path


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def default_metric(done: list[dict], numeric: list[str], rtol: float = 1e-9):
    """The result to plot by default: the one that varies most across the runs
    relative to its size, ignoring results whose spread is at rounding-error
    level (below ``rtol`` times the largest value and below ``rtol`` absolutely),
    such as a distance that is 1e-15 in every run. None if nothing varies."""
    best, best_score = None, 0.0
    for k in numeric:
        vals = [float(r[k]) for r in done]
        spread = max(vals) - min(vals)
        scale = max(abs(v) for v in vals)
        if spread <= rtol * max(scale, 1.0):
            continue
        score = spread / scale
        if score > best_score:
            best, best_score = k, score
    return best


def summary_plot(rows: list[dict], path, *, param_names=(), grid_names=(), x=None, y=None, log=print) -> Path | None:
    """Plot result ``y`` against parameter ``x`` over the finished runs: one
    point per run, a line through the mean at each ``x``, one line per value of
    the other varying parameters (``seed`` is averaged over, not split).

    Defaults: ``x`` is the first grid parameter that is not ``seed`` and takes
    several values (else ``seed``, else the first grid parameter); ``y`` is
    :func:`default_metric`, the numeric result that varies most across the
    runs beyond rounding error (if none does, the plot is skipped and the log
    asks for ``--plot-y``). Returns the path, or None if there is nothing to plot."""
    done = [r for r in rows if r.get("status") == "done"]
    if not done:
        log("summary plot skipped: no finished runs")
        return None
    grid_names = list(grid_names) or list(param_names)
    varying = [n for n in grid_names if len({json.dumps(r.get(n), default=str) for r in done}) > 1]
    if x is None:
        x = next((n for n in varying if n != "seed"), varying[0] if varying else (grid_names or [None])[0])
    not_results = {"hash", "status", "error_file", *param_names}
    numeric = sorted(k for k in done[0] if k not in not_results and all(_is_number(r.get(k)) for r in done))
    if y is None:
        y = default_metric(done, numeric)
        if y is None:
            if numeric:
                log("summary plot skipped: no result varies beyond rounding error across the runs; "
                    f"choose one with --plot-y ({', '.join(numeric)})")
                return None
        else:
            others = [k for k in numeric if k != y]
            log(f"summary plot: {y} against {x}" + (f" (other results: {', '.join(others)}; --plot-y to choose)"
                                                   if others else ""))
    if x is None or y is None:
        log("summary plot skipped: no parameter or no numeric result")
        return None
    if y not in numeric:
        log(f"summary plot skipped: no numeric result {y!r}; numeric results: {', '.join(numeric) or 'none'}")
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    split = [n for n in varying if n not in (x, "seed")]
    groups: dict = {}
    for r in done:
        groups.setdefault(tuple(r.get(n) for n in split), []).append(r)
    xs_all = [r.get(x) for r in done]
    numeric_x = all(_is_number(v) for v in xs_all)
    cats = sorted({json.dumps(v, default=str) for v in xs_all})

    def xpos(v):
        return v if numeric_x else cats.index(json.dumps(v, default=str))

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for key, rs in sorted(groups.items(), key=lambda kv: json.dumps(kv[0], default=str)):
        label = ", ".join(f"{n}={v}" for n, v in zip(split, key)) or None
        px = [xpos(r.get(x)) for r in rs]
        py = [r[y] for r in rs]
        pts = ax.plot(px, py, "o", alpha=0.5, label=None)[0]
        means: dict = {}
        for a, b in zip(px, py):
            means.setdefault(a, []).append(b)
        mx = sorted(means)
        ax.plot(mx, [sum(means[a]) / len(means[a]) for a in mx], "-", color=pts.get_color(),
                label=label if len(groups) <= 10 else None)
    if not numeric_x:
        ax.set_xticks(range(len(cats)), cats, rotation=30)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    n_failed = sum(r.get("status") == "failed" for r in rows)
    ax.set_title(f"{len(done)} runs" + (f" ({n_failed} failed, not shown)" if n_failed else ""))
    if split and len(groups) <= 10:
        ax.legend(fontsize="small")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m allornone.sweep",
        description="Run a notebook of the book over a grid of parameters (papermill; resumable; parallel or on Dask).",
    )
    p.add_argument("notebook", help="notebook stem (01_next_token_predictors) or path")
    p.add_argument("--grid", nargs="+", action="extend", default=[], metavar="NAME=V1,V2",
                   help="values of one parameter (Python literals, comma-separated; NAME=range(8) for integers); "
                        "repeat for more parameters: every combination is run")
    p.add_argument("--grid-file", help="YAML file mapping parameter names to lists of values (combined with --grid)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per available core)")
    p.add_argument("--dask-scheduler", metavar="ADDRESS",
                   help="run on this Dask distributed scheduler (e.g. tcp://host:8786) instead of local processes")
    p.add_argument("--runs-dir", default=None, help="where runs go (default: runs/ at the project root)")
    p.add_argument("--force", action="store_true", help="rerun combinations that are already complete")
    p.add_argument("--table", default=None, help="tidy table path (.csv or .parquet; default runs/<notebook>/sweep.csv)")
    p.add_argument("--plot", default=None, help="summary plot path (default runs/<notebook>/sweep.png)")
    p.add_argument("--plot-x", default=None, help="parameter on the plot's x axis")
    p.add_argument("--plot-y", default=None, help="result on the plot's y axis")
    p.add_argument("--collect", action="store_true",
                   help="run nothing: gather every complete run under runs/<notebook>/ into the table and plot")
    p.add_argument("--dry-run", action="store_true", help="validate the grid and list the runs, run nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _check_outputs(args, spec):
    if args.table and Path(args.table).suffix not in (".csv", ".parquet"):
        raise ParameterError(f"--table must end in .csv or .parquet; got {args.table}")
    if args.table and args.table.endswith(".parquet"):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ParameterError("--table *.parquet needs pyarrow, which is not installed; use a .csv name") from None
    if args.plot_x and args.plot_x not in spec.defaults:
        valid = ", ".join(k for k in spec.defaults if k not in RESERVED)
        raise ParameterError(f"--plot-x {args.plot_x}: {spec.name} has no such parameter; valid parameters: {valid}")
    if args.workers is not None and args.workers < 1:
        raise ParameterError(f"--workers must be >= 1; got {args.workers}")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        grid = parse_grid_items(args.grid)
        if args.grid_file:
            for name, values in load_grid_file(args.grid_file).items():
                if name in grid:
                    raise ParameterError(f"parameter {name} is in both --grid and --grid-file")
                grid[name] = values
        if args.collect:
            spec = read_spec(find_notebook(args.notebook))
            _check_outputs(args, spec)
            runs, completed = None, True
        else:
            spec, planned = plan_sweep(args.notebook, grid, runs_dir=args.runs_dir, force=args.force)
            _check_outputs(args, spec)
            if args.dask_scheduler:
                check_scheduler(args.dask_scheduler)
            if args.dry_run:
                for run in planned:
                    print(f"{run.hash}  {'complete' if run.complete else 'to run  '}  {_fmt(run.params)}")
                return EXIT_OK
            previous = signal.signal(signal.SIGTERM, _raise_interrupt)
            try:
                spec, runs, completed = run_sweep(
                    args.notebook, grid, runs_dir=args.runs_dir, workers=args.workers,
                    dask_scheduler=args.dask_scheduler, force=args.force, progress=not args.no_progress)
            except KeyboardInterrupt:  # before the pool took over
                print("interrupted before any run started", file=sys.stderr)
                return EXIT_INTERRUPTED
            finally:
                signal.signal(signal.SIGTERM, previous)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_PARAMETERS
    base = resolve_runs_dir(args.runs_dir) / spec.name
    rows = collect_table(spec, runs, runs_dir=args.runs_dir)
    table = write_table(rows, args.table or base / "sweep.csv")
    plot = summary_plot(rows, args.plot or base / "sweep.png", param_names=[k for k in spec.defaults if k not in RESERVED],
                        grid_names=list(grid), x=args.plot_x, y=args.plot_y,
                        log=print if completed else (lambda *_: None))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "failed", "interrupted", "missing")}
    summary = (f"{counts['done']} done, {counts['failed']} failed"
               + (f", {counts['interrupted'] + counts['missing']} not finished" if not completed else "")
               + f"; table {table}" + (f"; plot {plot}" if plot else ""))
    if not completed:  # one line after Ctrl-C
        print(f"interrupted: {summary}; rerun the same command to resume (finished runs are skipped)",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{spec.name}: {summary}")
    messages = {run.hash: run.message for run in runs or []}
    for r in rows:
        if r["status"] == "failed":
            print(f"  failed {r['hash']}: " + (f"traceback in {r['error_file']}" if r["error_file"]
                                               else messages.get(r["hash"], "")))
    return EXIT_FAILED_RUNS if counts["failed"] else EXIT_OK


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
