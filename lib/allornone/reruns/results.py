"""Recording a notebook's key numbers once, for three readers: the book's
prose (myst-nb ``glue``), the tests and sweeps (``results.json``).

In a notebook::

    res = Results("05_identifiability_theorem", out_dir)
    res.record("max_dp", float(max_dp))      # glued as ``max_dp`` and stored
    res.save()                                # writes out_dir/results.json

``out_dir=None`` (the default of every notebook's parameters cell) stores
nothing on disk, so building the book writes no files; ``python -m
allornone.run`` passes a run directory.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["Results", "to_jsonable", "load_results", "write_json_atomic", "glue"]


def to_jsonable(value):
    """Convert numpy scalars/arrays and nested containers to JSON types."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else str(v)
    if value is None or isinstance(value, (int, str)):
        return value
    raise ValueError(f"cannot record a value of type {type(value).__name__} in results.json")


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no procfs: read it the classic way (not thread-safe, hence the fallback)
    os.umask(mask)
    return mask


def write_json_atomic(path, data) -> Path:
    """Write ``data`` as JSON to ``path`` via a temporary file and a rename.
    The file gets the permissions an ordinary ``open`` would give it (0666
    minus the umask; ``mkstemp``'s 0600 would hide it from the group, e.g. the
    other users of a shared Dask filesystem)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_results(path) -> dict:
    """Read a ``results.json`` (or the run directory holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    with open(path) as fh:
        return json.load(fh)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the book stack
        return False
    return get_ipython() is not None


GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value) -> None:
    """What ``myst_nb.glue(name, value, display=False)`` does (myst-nb 1.x: a display output whose
    MIME types carry the papermill-record prefix, named in its ``scrapbook`` metadata), without
    importing myst_nb, which pulls nbformat and jsonschema into every kernel (~0.1 s; issue 12,
    point 9). ``tests/test_run_overhead.py`` checks that both display the same."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    bundle, metadata = format_display_data(value)
    metadata["scrapbook"] = dict(name=name, mime_prefix=GLUE_PREFIX)
    display({GLUE_PREFIX + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)


_glue_value = glue  # ``record``'s keyword ``glue`` shadows the function


class Results:
    """Collects the numbers a notebook reports; see the module docstring."""

    def __init__(self, notebook: str, out_dir=None, *, glue: bool | None = None):
        if not isinstance(notebook, str) or not notebook:
            raise ValueError(f"notebook must be a non-empty name; got {notebook!r}")
        if out_dir is not None and not isinstance(out_dir, (str, os.PathLike)):
            raise ValueError(f"out_dir must be a path or None; got {out_dir!r}")
        self.notebook = notebook
        self.out_dir = None if out_dir in (None, "") else Path(out_dir)
        self._glue = _in_kernel() if glue is None else glue
        self.values: dict = {}

    def record(self, key: str, value, *, glue: bool = True):
        """Store ``value`` under ``key`` (and glue it for the prose); returns ``value``."""
        if not isinstance(key, str) or not key.replace("_", "").isalnum():
            raise ValueError(f"key must be an identifier-like string; got {key!r}")
        self.values[key] = to_jsonable(value)
        if glue and self._glue:
            _glue_value(key, value)
        return value

    def __getitem__(self, key):
        return self.values[key]

    def save(self) -> Path | None:
        """Write ``results.json`` into ``out_dir`` (no-op when ``out_dir`` is None)."""
        if self.out_dir is None:
            return None
        return write_json_atomic(self.out_dir / "results.json", {"notebook": self.notebook, "results": self.values})
