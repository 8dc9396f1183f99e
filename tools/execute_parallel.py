"""Pre-execute the book's notebooks in parallel into myst-nb's jupyter-cache.

``jupyter-book build`` with ``execute_notebooks: cache`` executes the notebooks that are
not in ``_build/.jupyter_cache`` one after another. This script executes them first, N at
a time, exactly as myst-nb's cache mode would (same kernel = the notebook's kernelspec,
cwd = the notebook's folder, the timeout and allow_errors of ``_config.yml``, the notebook
read with nbformat v4 as myst-nb reads an ``.ipynb``), and stores each successful result
in the same cache, keyed by the same hash of code cells + kernelspec. The build that
follows then finds every notebook as cached and executes none.

A notebook that fails is not cached (jupyter-cache only stores successful runs), so the
build re-executes it and reports it with ``-W`` as usual; this script prints a one-line
error naming it and exits 1.

    python tools/execute_parallel.py [--workers 2] [--root .] [--path-output ROOT] [--toc _toc.yml]

``make book`` runs it before ``jupyter-book build`` (``BOOK_WORKERS=1 make book``: no
pre-execution, today's serial build). The test build can run it the same way, as a
subprocess: ``[sys.executable, "tools/execute_parallel.py", "--root", root, "--toc", toc]``.

Only ``.ipynb`` entries of ``_toc.yml`` are executed (the ``.md`` pages have no code cells).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml
from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc
from jupyter_cache.executors.utils import single_nb_execution

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class IPCWorker(ExecutionWorkerLocalMProc):
    """jupyter-cache's local worker (cwd = the notebook's folder), with kernels on the ipc transport: Unix
    sockets in a private temporary folder, as ``allornone.run`` starts them. Nothing listens on the network,
    and ipykernel does not print its "running over TCP without encryption" warning into the build log."""

    @staticmethod
    def execute(project_nb, data):
        import tempfile

        from allornone.reruns.run import _ipc_kernel_manager

        with tempfile.TemporaryDirectory(prefix="aon-book-") as sock_dir:
            return single_nb_execution(project_nb.nb, cwd=str(Path(project_nb.uri).parent), timeout=data.timeout,
                                       allow_errors=data.allow_errors,
                                       kernel_manager_class=_ipc_kernel_manager(sock_dir))


def toc_notebooks(root: Path, toc: Path | None = None) -> list[Path]:
    """The ``.ipynb`` files of the toc, in reading order."""
    data = yaml.safe_load((toc or root / "_toc.yml").read_text())
    files = [data["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in data.get("parts", [{"chapters": data.get("chapters", [])}]):
        walk(part.get("chapters"))
    out = []
    for f in files:
        stem = re.sub(r"\.(md|ipynb)$", "", f)
        path = (root / f"{stem}.ipynb").resolve()
        if path.exists():
            out.append(path)
    return out


def execution_config(root: Path) -> tuple[int, bool]:
    """(timeout, allow_errors) from ``_config.yml``, with jupyter-book's defaults."""
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    execute = config.get("execute") or {}
    mode = execute.get("execute_notebooks", "auto")
    if mode != "cache":
        raise ValueError(f"_config.yml: execute_notebooks is {mode!r}; pre-execution needs 'cache'")
    return int(execute.get("timeout", 30)), bool(execute.get("allow_errors", False))


def _quiet_worker() -> None:
    # jupyter-cache's workers log through multiprocessing's logger; the parent prints the lines
    logging.getLogger("multiprocessing").addHandler(logging.NullHandler())
    logging.getLogger("multiprocessing").propagate = False


def _last_error_line(traceback: str | None) -> str:
    lines = [ANSI.sub("", line).strip() for line in (traceback or "").splitlines()]
    lines = [line for line in lines if line and not set(line) <= set("-")]
    return lines[-1] if lines else "unknown error (no traceback recorded)"


def execute_parallel(
    root: Path | str = ".",
    *,
    workers: int = 2,
    path_output: Path | str | None = None,
    toc: Path | str | None = None,
    out=sys.stdout,
) -> int:
    """Execute every uncached toc notebook into ``<path_output>/_build/.jupyter_cache``.

    Returns the number of notebooks that failed (0 = all cached). Raises ValueError on bad input.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.cache.db import NbProjectRecord
    from jupyter_cache.executors.basic import ProcessData

    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    root = Path(root).resolve()
    if not (root / "_config.yml").is_file():
        raise ValueError(f"root: no _config.yml in {root}")
    timeout, allow_errors = execution_config(root)
    notebooks = toc_notebooks(root, Path(toc).resolve() if toc else None)
    cache_dir = Path(path_output or root).resolve() / "_build" / ".jupyter_cache"
    cache = get_cache(str(cache_dir))

    records = [cache.add_nb_to_project(str(nb)) for nb in notebooks]
    todo_uris = {r.uri for r in cache.list_unexecuted(filter_uris=[str(nb) for nb in notebooks])}
    cached = [r for r in records if r.uri not in todo_uris]
    todo = [r for r in records if r.uri in todo_uris]
    for r in cached:
        print(f"cached   {_rel(r.uri, root)}", file=out, flush=True)
    if not todo:
        print(f"execute_parallel: all {len(records)} notebooks cached", file=out, flush=True)
        return 0

    # longest first (times of earlier runs of the same file, if the cache has any): fewer idle workers
    previous = {}
    for rec in cache.list_cache_records():
        seconds = (rec.data or {}).get("execution_seconds")
        if seconds is not None:
            previous[rec.uri] = max(previous.get(rec.uri, 0.0), float(seconds))
    todo.sort(key=lambda r: -previous.get(r.uri, float("inf")))  # unknown first, then stable toc order
    NbProjectRecord.remove_tracebacks([r.pk for r in todo], cache.db)

    jobs = [ProcessData(r.pk, r.uri, cache, timeout, allow_errors) for r in todo]
    print(
        f"execute_parallel: {len(todo)} of {len(records)} notebooks to execute, {workers} worker(s), "
        f"timeout {timeout} s",
        file=out,
        flush=True,
    )
    failed: list[str] = []
    start = time.perf_counter()
    # ProcessPoolExecutor, not multiprocessing.Pool: a worker that dies (OOM kill) breaks the pool
    # and fails its notebooks instead of hanging the build forever
    ctx = mp.get_context("fork" if sys.platform != "win32" else "spawn")
    worker = IPCWorker()
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_quiet_worker) as pool:
        futures = {pool.submit(worker, job): job.uri for job in jobs}
        for done, future in enumerate(as_completed(futures), start=1):
            uri = futures[future]
            try:
                code, _ = future.result()
            except Exception as err:  # BrokenProcessPool and the like: nothing was cached
                code = 2
                NbProjectRecord.set_traceback(uri, f"{type(err).__name__}: {err}", cache.db)
            elapsed = time.perf_counter() - start
            tag = "executed" if code == 0 else "FAILED  "
            print(f"{tag} {_rel(uri, root)}  [{done}/{len(jobs)}, {elapsed:.0f} s]", file=out, flush=True)
            if code != 0:
                failed.append(uri)
    for uri in failed:
        record = cache.get_project_record(uri)
        print(
            f"execute_parallel: error: {_rel(uri, root)} failed: {_last_error_line(record.traceback)}",
            file=sys.stderr,
            flush=True,
        )
    return len(failed)


def _rel(uri: str, root: Path) -> str:
    try:
        return str(Path(uri).relative_to(root))
    except ValueError:
        return uri


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("BOOK_WORKERS", "2")
    if not default.isdigit():
        parser.error(f"BOOK_WORKERS must be a positive integer, got {default!r}")
    parser.add_argument(
        "--workers", type=int, default=int(default), help="parallel kernels (default $BOOK_WORKERS or 2)"
    )
    parser.add_argument("--root", default=".", help="book source root (default .)")
    parser.add_argument("--path-output", default=None, help="as jupyter-book build --path-output")
    parser.add_argument("--toc", default=None, help="as jupyter-book build --toc")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    try:
        failed = execute_parallel(args.root, workers=args.workers, path_output=args.path_output, toc=args.toc)
    except ValueError as err:
        print(f"execute_parallel: error: {err}", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
