"""Rerun one notebook with other parameters: ``python -m allornone.run``.

::

    python -m allornone.run 05_identifiability_theorem -p n_models 500 -p seed 3

executes the notebook with papermill into ``runs/<notebook>/<key>/`` (the
executed notebook, ``params.json`` and the ``results.json`` the notebook
writes). ``<key>`` (:func:`run_key`) is a short hash of everything that
determines the result: the complete parameter set, the content of every input
file a parameter names (:func:`file_parameters`) and the notebook's code
(:func:`notebook_source_hash`). Overwrite an input file or edit a code cell and
the same command makes a new run; ``--force`` reruns an unchanged key. The run
is written into a temporary directory and renamed into place only when it
succeeded, so ``runs/`` never holds a half-written run.

Parameter names, types and values are checked before any kernel starts: names
against the notebook's ``parameters`` cell, types against its defaults (list
elements against the default's elements; ``None`` only where the default is
``None``), values by executing its ``validate-parameters`` cell, and input
files by opening them (``.npy``: shape and dtype from the header). Relative
paths, of ``--runs-dir`` and of file parameters given on the command line,
resolve against the caller's current directory; a file parameter left at its
default resolves against the notebook's folder, as in the book.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
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
    "file_parameters",
    "notebook_source_hash",
    "input_hashes",
    "run_key",
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
    source_hash: str = ""

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
    text = str(name)
    if not text or "\0" in text:
        raise ParameterError(f"no notebook {text!r}")
    if any(len(part.encode()) > 255 for part in Path(text).parts):
        raise ParameterError(f"no notebook named {text[:40]!r}... ({len(text)} characters: longer than a file name can be)")
    nb_dir = repo_root() / "notebooks"
    try:
        p = Path(text).expanduser()
        if p.suffix == ".ipynb" and p.exists():
            if not p.is_file():
                raise ParameterError(f"notebook {text} is not a file")
            return p.resolve()
        stem = p.stem if p.suffix == ".ipynb" else p.name
        candidate = nb_dir / f"{stem}.ipynb"
        if candidate.is_file():
            return candidate
        available = sorted(q.stem for q in nb_dir.glob("*.ipynb"))
    except OSError as exc:
        raise ParameterError(f"cannot look up notebook {text!r}: {exc.strerror or exc}") from None
    raise ParameterError(f"no notebook {text!r}; available: {', '.join(available)}")


def _cells_with_tag(nb: dict, tag: str) -> list:
    return [c for c in nb.get("cells", []) if isinstance(c, dict)
            and tag in ((c.get("metadata") or {}).get("tags") or [])]


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


def notebook_source_hash(nb: dict) -> str:
    """SHA-256 of a notebook's code: the source of its code cells, in order.
    Outputs, metadata and Markdown do not count (they do not change a result)."""
    h = hashlib.sha256()
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            src = _source(cell).encode()
            h.update(len(src).to_bytes(8, "little") + src)
    return h.hexdigest()


def read_spec(path) -> NotebookSpec:
    """Read a notebook's parameter defaults, its validation cell and its code hash."""
    path = Path(path)
    try:
        nb = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{path.name} is not a notebook (not valid JSON: {exc})") from None
    except OSError as exc:
        raise ParameterError(f"cannot read notebook {path}: {exc.strerror or exc}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ParameterError(f"{path.name} is not a notebook (no list of cells)")
    params = _cells_with_tag(nb, "parameters")
    if len(params) != 1:
        raise ParameterError(f"{path.name} must have exactly one cell tagged 'parameters'; found {len(params)}")
    validate = _cells_with_tag(nb, "validate-parameters")
    try:
        defaults = parse_parameters_cell(_source(params[0]))
    except SyntaxError as exc:
        raise ParameterError(f"{path.name}: the parameters cell is not valid Python ({exc.msg}, line {exc.lineno})") from None
    return NotebookSpec(
        path=path,
        defaults=defaults,
        validate_source="\n".join(_source(c) for c in validate),
        source_hash=notebook_source_hash(nb),
    )


def _coerce(name: str, raw, default):
    """Parse a command-line value and match it to the type of the default
    (a list's elements to the type of the default's elements)."""
    value = raw
    if isinstance(raw, str):
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = raw
            if isinstance(default, float) and raw.strip().lower().lstrip("+-") in ("inf", "infinity", "nan"):
                value = float(raw)
    if default is None:
        return value
    if value is None:
        raise ParameterError(f"parameter {name} does not accept None (default {default!r})")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
            if not math.isfinite(value):
                raise ParameterError(f"parameter {name} must be a finite number; got {raw!r}")
            return value
    elif isinstance(default, str):
        return raw if isinstance(raw, str) else str(value)
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)):
            kinds = {type(v) for v in default}
            if len(kinds) == 1 and (kinds & {bool, int, float, str}):
                item = next(iter(kinds))
                return [_coerce(f"{name}[{i}]", v, item()) for i, v in enumerate(value)]
            return list(value)
    else:
        return value
    raise ParameterError(
        f"parameter {name} expects {type(default).__name__} (default {default!r}); got {raw!r}"
    )


FILE_SUFFIXES = ("_path", "_file", "_dir")


def file_parameters(spec: NotebookSpec) -> list[str]:
    """The parameters that name an input file or folder: by convention, every
    parameter whose name ends in ``_path`` or ``_file`` (a file; ``.npy`` files
    have their header checked) or ``_dir`` (a folder: all its files count),
    except the runner's ``out_dir``. Their content is part of the run key."""
    return [k for k in spec.defaults if k not in RESERVED and k.endswith(FILE_SUFFIXES)]


def _file_kind(name: str, value: str) -> str:
    if name.endswith("_dir"):
        return "dir"
    return "npy" if str(value).endswith(".npy") else "file"


def resolve_parameters(spec: NotebookSpec, overrides: dict, *, cwd=None) -> dict:
    """Defaults updated by ``overrides``; unknown names, wrong types, values
    refused by the notebook's validation cell and unreadable input files raise
    :class:`ParameterError`.

    File parameters (:func:`file_parameters`) come back as absolute paths: a
    value given in ``overrides`` resolves against ``cwd`` (default: the current
    directory), a default against the notebook's folder."""
    from .params import inspect_file

    unknown = sorted(set(overrides) - set(spec.defaults) - set(RESERVED))
    if unknown:
        valid = ", ".join(k for k in spec.defaults if k not in RESERVED)
        raise ParameterError(f"{spec.name} has no parameter {', '.join(unknown)}; valid parameters: {valid}")
    params = {k: v for k, v in spec.defaults.items() if k not in RESERVED}
    for k, v in overrides.items():
        if k in RESERVED:
            raise ParameterError(f"{k} is set by the runner; do not pass it")
        params[k] = _coerce(k, v, spec.defaults[k])
    base = Path(cwd) if cwd is not None else Path.cwd()
    for k in file_parameters(spec):
        v = params[k]
        if isinstance(v, str) and v:
            p = Path(v).expanduser()
            if not p.is_absolute():
                p = (base if k in overrides else spec.path.parent) / p
            params[k] = os.path.normpath(str(p.absolute()))
    if spec.validate_source:
        namespace = {**params, "out_dir": None}
        try:
            exec(compile(spec.validate_source, f"<{spec.name}: validate-parameters>", "exec"), namespace)
        except (ValueError, TypeError, OverflowError, MemoryError) as exc:
            raise ParameterError(f"{spec.name}: {exc}") from None
    for k in file_parameters(spec):
        v = params[k]
        if v is None or v == "":
            continue
        try:
            inspect_file(k, v, _file_kind(k, v))
        except ValueError as exc:
            raise ParameterError(f"{spec.name}: {exc}") from None
    return params


def parameter_hash(params: dict) -> str:
    """Short stable hash of a parameter set."""
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


_FILE_HASHES: dict = {}


def _file_sha256(p: Path) -> str:
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _FILE_HASHES:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _FILE_HASHES[key] = h.hexdigest()
    return _FILE_HASHES[key]


def input_hashes(spec: NotebookSpec, params: dict) -> dict:
    """``{parameter: sha256}`` of the content of every input file a parameter
    names; for a folder, of its files' relative names and contents."""
    out = {}
    for k in file_parameters(spec):
        v = params.get(k)
        if not isinstance(v, str) or not v:
            continue
        p = Path(v)
        try:
            if p.is_dir():
                h = hashlib.sha256()
                for f in sorted(q for q in p.rglob("*") if q.is_file()):
                    h.update(str(f.relative_to(p)).encode() + b"\0" + _file_sha256(f).encode())
                out[k] = h.hexdigest()
            elif p.is_file():
                out[k] = _file_sha256(p)
        except OSError as exc:
            raise ParameterError(f"{spec.name}: cannot read {k} {p}: {exc.strerror or exc}") from None
    return out


def run_key(spec: NotebookSpec, params: dict) -> str:
    """The run directory's name: a short hash of the parameters, the input
    files' contents (:func:`input_hashes`) and the notebook's code."""
    blob = json.dumps({"parameters": params, "inputs": input_hashes(spec, params), "notebook": spec.source_hash},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def resolve_runs_dir(runs_dir=None) -> Path:
    """``--runs-dir`` as an absolute path (relative to the current directory;
    default ``runs/`` at the project root); a path naming a file is refused."""
    try:
        d = (Path(runs_dir).expanduser() if runs_dir else repo_root() / "runs").absolute()
        for q in [d, *d.parents]:
            if q.exists():
                if not q.is_dir():
                    raise ParameterError(f"--runs-dir {runs_dir or d}: {q} is a file, not a directory")
                break
    except OSError as exc:
        raise ParameterError(f"--runs-dir {runs_dir}: {exc.strerror or exc}") from None
    return Path(os.path.normpath(d))


def run_dir_for(spec: NotebookSpec, params: dict, runs_dir=None) -> Path:
    return resolve_runs_dir(runs_dir) / spec.name / run_key(spec, params)


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


#: extra options of every kernel the runner starts: IPython's history in memory (what nbclient asks
#: for too; no SQLite file to create and lock)
KERNEL_ARGS = ("--HistoryManager.hist_file=:memory:",)


#: what ``python -m ipykernel_launcher`` does (the ``python3`` kernelspec's command), except that
#: debugpy is not imported: a batch run has no debugger attached, and importing it costs ~0.08 s
#: of every kernel's start (ipykernel then reports ``debugger: false``)
KERNEL_LAUNCHER = (
    "import sys; sys.modules['debugpy'] = None\n"
    "if sys.path and sys.path[0] == '': del sys.path[0]\n"
    "from ipykernel import kernelapp; kernelapp.launch_new_instance()"
)


@dataclass
class _Kernel:
    """A kernel process started by :func:`_start_kernel` before papermill is imported."""

    process: object
    connection_file: str
    info: dict
    cmd: list


def _start_kernel(sock_dir: str, cwd, log_file) -> _Kernel:
    """Start the ``python3`` kernel (ipykernel, ipc transport, sockets in ``sock_dir``) now, without
    importing jupyter_client or papermill: it boots while this process imports them (issue 12, point 9).
    Started as jupyter_client's launcher does: its own session (Ctrl-C in the terminal does not reach it;
    its process group is its pid), stdin a pipe, ``JPY_PARENT_PID`` set (it exits when its parent dies)."""
    import secrets
    import subprocess

    info = {"transport": "ipc", "ip": os.path.join(sock_dir, "k"), "shell_port": 1, "iopub_port": 2,
            "stdin_port": 3, "control_port": 4, "hb_port": 5, "key": secrets.token_hex(16),
            "signature_scheme": "hmac-sha256", "kernel_name": "python3"}
    cf = os.path.join(sock_dir, "kernel.json")
    fd = os.open(cf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh)
    cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", os.path.realpath(cf)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONEXECUTABLE"}
    env["JPY_PARENT_PID"] = str(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", KERNEL_LAUNCHER, *cmd[3:], *KERNEL_ARGS], stdin=subprocess.PIPE, stdout=log_file, stderr=log_file,
                            cwd=str(cwd), env=env, start_new_session=True)
    return _Kernel(proc, cf, info, cmd)


def _ipc_kernel_manager(sock_dir: str, log_file=None, launched: list | None = None, prestarted: _Kernel | None = None):
    """A kernel manager class whose kernels talk over local Unix sockets in
    ``sock_dir`` (the ipc transport) instead of TCP on 127.0.0.1: nothing
    listens on the network, and ipykernel does not warn that TCP is
    unencrypted. The kernel process's own stdout/stderr (its log, not the
    cells' output, which papermill records in the notebook) go to ``log_file``;
    the pid of every kernel started is appended to ``launched``.

    With ``prestarted`` (:func:`_start_kernel`), the manager adopts that
    already booting kernel instead of launching one, provided the command
    jupyter_client would run for the ``python3`` kernelspec is the same;
    otherwise (a custom kernelspec) it kills it and launches its own."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self):
            return "ipc"

        @default("ip")
        def _default_ip(self):
            return os.path.join(sock_dir, "k")

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._prestarted = prestarted
            if prestarted is not None:  # its connection file is the one pre_launch "writes"
                self.connection_file = prestarted.connection_file
                self.load_connection_info(prestarted.info)
                self._connection_file_written = True

        def _adopt(self, kernel_cmd) -> bool:
            k, self._prestarted = self._prestarted, None
            if k is None:
                return False
            base, ks = k.cmd, self.kernel_spec
            if (kernel_cmd[:len(base)] == base and set(kernel_cmd[len(base):]) <= set(KERNEL_ARGS)
                    and ks is not None and not ks.env):
                prov = self.provisioner
                prov.process, prov.pid, prov.cwd = k.process, k.process.pid, os.getcwd()
                try:
                    prov.pgid = os.getpgid(k.process.pid)
                except OSError:
                    prov.pgid = None
                return True
            _kill_kernels([k.process.pid])  # not the kernel this kernelspec asks for
            k.process.wait()
            return False

        async def _async_finish_shutdown(self, waittime=None, pollinterval=0.1, restart=False):
            # wait for the exiting kernel polling every 10 ms, not 100 ms (paid by every run)
            await super()._async_finish_shutdown(waittime, min(pollinterval, 0.01), restart)

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            if self._adopt(kernel_cmd):
                self._reconcile_connection_info(self.provisioner.connection_info)
                return
            if log_file is not None:
                kw.setdefault("stdout", log_file)
                kw.setdefault("stderr", log_file)
            await super()._async_launch_kernel(kernel_cmd, **kw)
            proc = getattr(self.provisioner, "process", None)
            if launched is not None and proc is not None:
                launched.append(proc.pid)

    return IPCKernelManager


def _engine_name() -> str:
    """papermill's nbclient engine, registered as ``allornone``, saving the executed notebook when
    the run starts (watchers see that it began), during long cells (papermill's autosave) and at the
    end or on a failure, but not twice per cell: each save validates the whole notebook against its
    JSON schema (issue 12, point 9)."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
    from papermill.exceptions import PapermillException

    try:
        papermill_engines.get_engine("allornone")
        return "allornone"
    except PapermillException:
        pass

    class FewSaves(NotebookExecutionManager):
        _quiet = False

        def save(self, **kwargs):
            if not self._quiet:
                super().save(**kwargs)

        def _without_save(self, method, *args, **kwargs):
            self._quiet = True
            try:
                return method(*args, **kwargs)
            finally:
                self._quiet = False

        def cell_start(self, *args, **kwargs):
            return self._without_save(super().cell_start, *args, **kwargs)

        def cell_complete(self, *args, **kwargs):
            return self._without_save(super().cell_complete, *args, **kwargs)

    class Engine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                             autosave_cell_every=30, **kwargs):  # papermill's Engine.execute_notebook
            nb_man = FewSaves(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                              autosave_cell_every=autosave_cell_every)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register("allornone", Engine)
    return "allornone"


def _kill_kernels(pids: list):
    """Kill kernels left running by an interrupted run (each leads its own
    session, so its process group is its pid)."""
    import signal

    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _kernel_error_line(exc: BaseException) -> str:
    """The last line of a kernel-side error (``ValueError: ...``), or of any other exception."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        lines = [ln for ln in str(evalue or "").splitlines() if ln.strip()]
        return f"{ename}: {lines[-1].strip()}" if lines else str(ename)
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[-1].strip()}" if lines else type(exc).__name__


def _interrupted(exc: BaseException) -> bool:
    return isinstance(exc, KeyboardInterrupt) or getattr(exc, "ename", None) == "KeyboardInterrupt"


def run_notebook(notebook, overrides: dict | None = None, *, runs_dir=None, force: bool = False,
                 progress_bar: bool = False, log=print) -> Path:
    """Execute one notebook with papermill; return its run directory.

    Raises :class:`ParameterError` before any compute for bad parameters and
    :class:`RunFailed` (a ``RuntimeError`` whose ``failed_dir`` holds the saved
    traceback ``error.txt``; its message ends with the error's last line) if the
    notebook fails. On ``KeyboardInterrupt`` (also when the kernel was the one
    interrupted) the partial run is moved to ``<key>.failed`` too and
    ``KeyboardInterrupt`` is raised, so an interrupted run is never taken for a
    complete one.
    """
    import tempfile

    spec = read_spec(find_notebook(notebook))
    params = resolve_parameters(spec, dict(overrides or {}))
    final = run_dir_for(spec, params, runs_dir)
    if is_complete(final) and not force:
        log(f"{spec.name}: already complete in {final} (use --force to rerun)")
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"--runs-dir {runs_dir}: cannot create {final.parent}: {exc.strerror or exc}") from None
    clean_stale(final.parent)
    tmp = final.parent / _tmp_name(final)
    tmp.mkdir()
    record = {"notebook": spec.name, "parameters": params, "inputs": input_hashes(spec, params),
              "notebook_source_sha256": spec.source_hash}
    started = time.time()
    sock_dir, kernels = None, []
    kernel_log = open(tmp / "kernel.log", "wb")
    try:
        sock_dir = tempfile.mkdtemp(prefix="aon-kernel-")
        kernel = _start_kernel(sock_dir, spec.path.parent, kernel_log)  # boots while papermill is imported
        kernels.append(kernel.process.pid)
        import papermill as pm  # imported here: it is slow to import

        pm.execute_notebook(
            str(spec.path), str(tmp / "notebook.ipynb"),
            parameters={**params, "out_dir": str(tmp)},
            kernel_name="python3", engine_name=_engine_name(), progress_bar=progress_bar, cwd=str(spec.path.parent),
            kernel_manager_class=_ipc_kernel_manager(sock_dir, kernel_log, kernels, kernel),
        )
        if not (tmp / "results.json").exists():
            raise RuntimeError(f"{spec.name} finished but wrote no results.json (does it call Results.save()?)")
    except BaseException as exc:
        _kill_kernels(kernels)
        failed = final.parent / f"{final.name}.failed"
        shutil.rmtree(failed, ignore_errors=True)
        (tmp / "error.txt").write_text("".join(traceback.format_exception(exc)))
        (tmp / "params.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, failed)
        if _interrupted(exc):
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise KeyboardInterrupt from exc
        if isinstance(exc, SystemExit):
            raise
        raise RunFailed(f"{spec.name} failed: {_kernel_error_line(exc)} (traceback in {failed / 'error.txt'})",
                        failed) from exc
    finally:
        kernel_log.close()
        if sock_dir:
            shutil.rmtree(sock_dir, ignore_errors=True)
    (tmp / "params.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    if (tmp / "kernel.log").stat().st_size == 0:
        (tmp / "kernel.log").unlink()
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
    except KeyboardInterrupt:
        print("\ninterrupted: the run did not complete (its partial output is kept as <key>.failed/)",
              file=sys.stderr, flush=True)
        _quiet_stderr()
        return 130
    return 0


def _quiet_stderr():
    """After Ctrl-C, silence whatever dying kernels and event loops would still print."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:  # pragma: no cover
        pass


if __name__ == "__main__":
    sys.exit(main())
