"""Rerun one notebook with other parameters: ``python -m allornone.run``.

::

    python -m allornone.run 05_identifiability_theorem -p n_models 500 -p seed 3

executes the notebook with papermill into ``runs/<notebook>/<hash>/`` (the
executed notebook, ``params.json`` and the ``results.json`` the notebook
writes), where ``<hash>`` is a short hash of the complete parameter set. The
run is written into a temporary directory and renamed into place only when it
succeeded, so ``runs/`` never holds a half-written run; a finished run is not
executed again unless ``--force`` is given.

Parameter names, types and values are checked before any kernel starts: names
against the notebook's ``parameters`` cell, types against its defaults, values
by executing its ``validate-parameters`` cell.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ParameterError",
    "NotebookSpec",
    "find_notebook",
    "read_spec",
    "resolve_parameters",
    "parameter_hash",
    "run_dir_for",
    "is_complete",
    "clean_stale",
    "RunFailed",
    "run_notebook",
    "main",
]

RESERVED = ("out_dir",)


class ParameterError(ValueError):
    """A parameter name, type or value a notebook does not accept."""


class RunFailed(RuntimeError):
    """A notebook raised while executing; ``failed_dir`` holds ``error.txt`` and the partial notebook."""

    def __init__(self, message: str, failed_dir: Path):
        super().__init__(message)
        self.failed_dir = Path(failed_dir)

    @property
    def error_file(self) -> Path:
        return self.failed_dir / "error.txt"


@dataclass(frozen=True)
class NotebookSpec:
    path: Path
    defaults: dict
    validate_source: str

    @property
    def name(self) -> str:
        return self.path.stem


def repo_root() -> Path:
    """The project root: the nearest parent of the cwd holding ``_toc.yml``, else the source checkout."""
    for p in [Path.cwd(), *Path.cwd().parents]:
        if (p / "_toc.yml").exists() and (p / "notebooks").is_dir():
            return p
    return Path(__file__).resolve().parents[3]


def find_notebook(name) -> Path:
    """Resolve ``name`` (a path, a file name or a stem like ``05_identifiability_theorem``)."""
    p = Path(name)
    if p.suffix == ".ipynb" and p.exists():
        return p.resolve()
    nb_dir = repo_root() / "notebooks"
    stem = p.stem if p.suffix == ".ipynb" else p.name
    candidate = nb_dir / f"{stem}.ipynb"
    if candidate.exists():
        return candidate
    available = sorted(q.stem for q in nb_dir.glob("*.ipynb"))
    raise ParameterError(f"no notebook {name!r}; available: {', '.join(available)}")


def _cells_with_tag(nb: dict, tag: str) -> list:
    return [c for c in nb.get("cells", []) if tag in c.get("metadata", {}).get("tags", [])]


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def parse_parameters_cell(source: str) -> dict:
    """Names and literal defaults of a ``parameters`` cell; anything but
    ``name = literal`` (optionally annotated) is refused."""
    tree = ast.parse(source)
    defaults = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        else:
            raise ParameterError(f"parameters cell must hold only `name = literal` lines; found: {ast.unparse(node)}")
        try:
            defaults[target] = ast.literal_eval(value)
        except ValueError:
            raise ParameterError(f"parameter {target} must have a literal default; found: {ast.unparse(value)}") from None
    return defaults


def read_spec(path) -> NotebookSpec:
    """Read a notebook's parameter defaults and its validation cell."""
    path = Path(path)
    nb = json.loads(path.read_text())
    params = _cells_with_tag(nb, "parameters")
    if len(params) != 1:
        raise ParameterError(f"{path.name} must have exactly one cell tagged 'parameters'; found {len(params)}")
    validate = _cells_with_tag(nb, "validate-parameters")
    return NotebookSpec(
        path=path,
        defaults=parse_parameters_cell(_source(params[0])),
        validate_source="\n".join(_source(c) for c in validate),
    )


def _coerce(name: str, raw, default):
    """Parse a command-line value and match it to the type of the default."""
    value = raw
    if isinstance(raw, str):
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        return raw if isinstance(raw, str) else str(value)
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)):
            return list(value)
    else:
        return value
    raise ParameterError(
        f"parameter {name} expects {type(default).__name__} (default {default!r}); got {raw!r}"
    )


def resolve_parameters(spec: NotebookSpec, overrides: dict) -> dict:
    """Defaults updated by ``overrides``; unknown names, wrong types and
    values refused by the notebook's validation cell raise :class:`ParameterError`."""
    unknown = sorted(set(overrides) - set(spec.defaults) - set(RESERVED))
    if unknown:
        valid = ", ".join(k for k in spec.defaults if k not in RESERVED)
        raise ParameterError(f"{spec.name} has no parameter {', '.join(unknown)}; valid parameters: {valid}")
    params = {k: v for k, v in spec.defaults.items() if k not in RESERVED}
    for k, v in overrides.items():
        if k in RESERVED:
            raise ParameterError(f"{k} is set by the runner; do not pass it")
        params[k] = _coerce(k, v, spec.defaults[k])
    if spec.validate_source:
        namespace = {**params, "out_dir": None}
        try:
            exec(compile(spec.validate_source, f"<{spec.name}: validate-parameters>", "exec"), namespace)
        except ValueError as exc:
            raise ParameterError(f"{spec.name}: {exc}") from None
    return params


def parameter_hash(params: dict) -> str:
    """Short stable hash of a parameter set (the run directory's name)."""
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def run_dir_for(spec: NotebookSpec, params: dict, runs_dir=None) -> Path:
    runs_dir = Path(runs_dir) if runs_dir else repo_root() / "runs"
    return runs_dir / spec.name / parameter_hash(params)


def is_complete(run_dir: Path) -> bool:
    """A run directory is complete when it holds the executed notebook, its
    parameters and its results (it only ever appears by an atomic rename)."""
    run_dir = Path(run_dir)
    return all((run_dir / f).exists() for f in ("results.json", "notebook.ipynb", "params.json"))


_HOST = socket.gethostname().replace("-", "_")


def _tmp_name(final: Path) -> str:
    return f".tmp-{final.name}-{_HOST}-{os.getpid()}-{time.time_ns()}"


def _pid_alive(pid: int) -> bool:
    """Is ``pid`` a running process? A zombie (killed but not yet reaped, as
    happens to workers of a SIGKILLed sweep when PID 1 does not reap) is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no procfs (e.g. macOS): trust kill(pid, 0)
        return True
    state = stat.rsplit(")", 1)[-1].split()[0]  # the field after "(comm)"
    return state not in ("Z", "X")


def clean_stale(notebook_runs_dir) -> list:
    """Remove ``.tmp-*`` / ``.old-*`` directories left in ``runs/<notebook>/``
    by runs that were killed on this host (their process no longer exists).
    Directories of live processes or of other hosts are left alone; they are
    never mistaken for complete runs anyway. Returns the removed paths."""
    removed = []
    d = Path(notebook_runs_dir)
    if not d.is_dir():
        return removed
    for p in d.iterdir():
        if not p.name.startswith((".tmp-", ".old-")) or not p.is_dir():
            continue
        parts = p.name.split("-")
        # .tmp-<hash>-<host>-<pid>-<ns>; .old-<hash>-<pid> (older .tmp names had no host)
        try:
            if p.name.startswith(".old-"):
                host, pid = _HOST, int(parts[-1])
            elif len(parts) >= 5:
                host, pid = parts[-3], int(parts[-2])
            else:
                host, pid = _HOST, int(parts[-2])
        except ValueError:
            continue
        if host == _HOST and pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def run_notebook(notebook, overrides: dict | None = None, *, runs_dir=None, force: bool = False,
                 progress_bar: bool = False, log=print) -> Path:
    """Execute one notebook with papermill; return its run directory.

    Raises :class:`ParameterError` before any compute for bad parameters and
    :class:`RunFailed` (a ``RuntimeError`` whose ``failed_dir`` holds the saved
    traceback ``error.txt``) if the notebook fails. On ``KeyboardInterrupt`` the
    partial run is moved to ``<hash>.failed`` too and the interrupt re-raised,
    so an interrupted run is never taken for a complete one.
    """
    spec = read_spec(find_notebook(notebook))
    params = resolve_parameters(spec, dict(overrides or {}))
    final = run_dir_for(spec, params, runs_dir)
    if is_complete(final) and not force:
        log(f"{spec.name}: already complete in {final} (use --force to rerun)")
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(final.parent)
    tmp = final.parent / _tmp_name(final)
    tmp.mkdir()
    import papermill as pm  # imported here: it is slow to import

    started = time.time()
    try:
        pm.execute_notebook(
            str(spec.path), str(tmp / "notebook.ipynb"),
            parameters={**params, "out_dir": str(tmp)},
            kernel_name="python3", progress_bar=progress_bar, cwd=str(spec.path.parent),
        )
        if not (tmp / "results.json").exists():
            raise RuntimeError(f"{spec.name} finished but wrote no results.json (does it call Results.save()?)")
    except BaseException as exc:
        failed = final.parent / f"{final.name}.failed"
        shutil.rmtree(failed, ignore_errors=True)
        (tmp / "error.txt").write_text("".join(traceback.format_exception(exc)))
        (tmp / "params.json").write_text(
            json.dumps({"notebook": spec.name, "parameters": params}, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, failed)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise RunFailed(f"{spec.name} failed; traceback in {failed / 'error.txt'}", failed) from exc
    (tmp / "params.json").write_text(json.dumps({"notebook": spec.name, "parameters": params}, indent=2, sort_keys=True) + "\n")
    failed = final.parent / f"{final.name}.failed"
    if failed.exists():  # an earlier attempt failed; this one succeeded
        shutil.rmtree(failed, ignore_errors=True)
    if final.exists():  # --force: swap the old run out first
        old = final.parent / f".old-{final.name}-{os.getpid()}"
        os.replace(final, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, final)
    log(f"{spec.name}: done in {time.time() - started:.1f} s -> {final}")
    return final


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m allornone.run",
        description="Execute one notebook of the book with other parameters (papermill).",
    )
    p.add_argument("notebook", help="notebook stem (05_identifiability_theorem) or path")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override a parameter; VALUE is parsed as a Python literal, else taken as a string")
    p.add_argument("--runs-dir", default=None, help="where runs go (default: runs/ at the project root)")
    p.add_argument("--force", action="store_true", help="rerun even if this parameter set is complete")
    p.add_argument("--list", action="store_true", help="list the notebook's parameters and defaults, then exit")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.list:
            spec = read_spec(find_notebook(args.notebook))
            for k, v in spec.defaults.items():
                if k not in RESERVED:
                    print(f"{k} = {v!r}")
            return 0
        overrides = {}
        for name, value in args.parameter:
            if name in overrides:
                raise ParameterError(f"parameter {name} given twice")
            overrides[name] = value
        run_notebook(args.notebook, overrides, runs_dir=args.runs_dir, force=args.force, progress_bar=True)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
