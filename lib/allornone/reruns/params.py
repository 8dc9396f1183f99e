"""Checks for notebook parameters.

Every notebook's cell right after its ``parameters`` cell is tagged
``validate-parameters`` and calls :func:`check` for each parameter, so a bad
value stops the notebook with a clear message before any compute.
``python -m allornone.run`` executes that cell on its own before it starts a
kernel, so the same check also guards reruns and sweeps.

What :func:`check` refuses, beyond the declared ``kind``, ``min``, ``max`` and
``choices``:

* ``None``, unless ``allow_none=True`` (or ``kind`` includes ``type(None)``);
* a float that is not finite (``inf``, ``nan``), unless ``finite=False``;
* a list element of the wrong type or out of bounds, when ``of=`` gives the
  element type (``min``/``max``/``choices`` then apply to the elements);
* a count too large for this machine's memory: an integer parameter without
  ``max`` is bounded by a memory estimate, ``value * bytes_each`` bytes
  (default 8: at least one float64 per unit) against the physical memory
  (or the cgroup limit). A notebook whose count costs more per unit declares
  it, e.g. ``bytes_each=8 * n_contexts * n_tokens``. Seeds (``seed``,
  ``*_seed``) are not counts and get no memory bound;
* with ``file="npy" | "file" | "dir"``, a path that does not exist or is not
  of that kind; an ``.npy`` file's header (shape and dtype) is read without
  loading the data and object (pickled) arrays are refused (:func:`inspect_file`).
"""

from __future__ import annotations

import math
import numbers
import os
import re
from pathlib import Path

__all__ = ["check", "inspect_file", "memory_limit", "format_bytes"]

_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list", type(None): "None"}
_SEED = re.compile(r"^seeds?$|_seed$")  # a seed, not a count (n_seeds is a count)


def _matches(value, kind) -> bool:
    if kind is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return isinstance(value, kind)


def memory_limit() -> int:
    """Bytes of memory a run may use: the physical memory, or the cgroup's
    limit when that is lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        total = 2**40
    for f in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(f).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def format_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} EB"  # pragma: no cover


def _check_one(name, value, kinds, *, min, max, choices, finite, bytes_each):
    if not any(_matches(value, k) for k in kinds):
        expected = " or ".join(_NAMES.get(k, getattr(k, "__name__", str(k))) for k in kinds)
        raise ValueError(f"parameter {name} must be {expected}; got {value!r}")
    if value is None:
        return
    if choices is not None and value not in choices:
        raise ValueError(f"parameter {name} must be one of {list(choices)}; got {value!r}")
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return
    if finite and not math.isfinite(value):
        raise ValueError(f"parameter {name} must be a finite number; got {value!r}")
    if min is not None and value < min:
        raise ValueError(f"parameter {name} must be >= {min}; got {value!r}")
    if max is not None and value > max:
        raise ValueError(f"parameter {name} must be <= {max}; got {value!r}")
    if isinstance(value, numbers.Integral) and (max is None or bytes_each is not None) and not _SEED.search(name):
        per = 8 if bytes_each is None else bytes_each
        limit = memory_limit()
        if per > 0 and value * per > limit:
            raise ValueError(
                f"parameter {name} = {value} needs about {format_bytes(value * per)} of memory "
                f"({format_bytes(per)} per unit); this machine has {format_bytes(limit)}, "
                f"so {name} must be <= {limit // per}")


def check(name: str, value, kind=int, *, min=None, max=None, choices=None, allow_none: bool = False,
          finite: bool = True, of=None, bytes_each=None, file=None):
    """Raise ``ValueError`` unless ``value`` is of ``kind`` (a type or tuple of
    types) and within ``[min, max]`` / among ``choices`` (see the module
    docstring for ``allow_none``, ``finite``, ``of``, ``bytes_each`` and
    ``file``). Returns ``value``."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if allow_none:
        kinds = (*kinds, type(None))
    if of is not None:
        _check_one(name, value, kinds, min=None, max=None, choices=None, finite=finite, bytes_each=0)
        if value is not None:
            of_kinds = of if isinstance(of, tuple) else (of,)
            for i, v in enumerate(value):
                _check_one(f"{name}[{i}]", v, of_kinds, min=min, max=max, choices=choices, finite=finite,
                           bytes_each=bytes_each)
        return value
    _check_one(name, value, kinds, min=min, max=max, choices=choices, finite=finite, bytes_each=bytes_each)
    if file is not None and value is not None:
        inspect_file(name, value, file)
    return value


def inspect_file(name: str, path, kind: str = "file", *, base=None) -> dict:
    """Check that parameter ``name`` names an existing input of ``kind``
    (``"file"``, ``"dir"`` or ``"npy"``) and return what was learnt without
    loading it: ``{"path", "kind", "bytes"}``, plus ``"shape"`` and ``"dtype"``
    for an ``.npy`` file (read from its header). Relative paths resolve
    against ``base`` (default: the current directory). Raises ``ValueError``."""
    if kind not in ("file", "dir", "npy"):
        raise ValueError(f"file kind must be 'file', 'dir' or 'npy'; got {kind!r}")
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(f"parameter {name} must be a path; got {path!r}")
    p = Path(path).expanduser()
    if base is not None and not p.is_absolute():
        p = Path(base) / p
    try:
        if kind == "dir":
            if not p.is_dir():
                raise ValueError(f"parameter {name}: {p} is not a directory" if p.exists()
                                 else f"parameter {name}: directory {p} does not exist")
            return {"path": str(p), "kind": "dir", "bytes": sum(f.stat().st_size for f in p.rglob("*") if f.is_file())}
        if not p.exists():
            raise ValueError(f"parameter {name}: file {p} does not exist")
        if not p.is_file():
            raise ValueError(f"parameter {name}: {p} is not a regular file")
        size = p.stat().st_size
        info = {"path": str(p), "kind": kind, "bytes": size}
        if kind == "npy":
            info.update(_npy_header(name, p, size))
        else:
            with open(p, "rb") as fh:  # readable?
                fh.read(1)
        return info
    except OSError as exc:
        raise ValueError(f"parameter {name}: cannot read {p}: {exc.strerror or exc}") from None


def _npy_header(name: str, p: Path, size: int) -> dict:
    """Shape and dtype of an ``.npy`` file from its header; the data is not read."""
    import numpy as np
    from numpy.lib import format as npformat

    with open(p, "rb") as fh:
        try:
            version = npformat.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = npformat.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = npformat.read_array_header_2_0(fh)
            else:
                shape, _, dtype = npformat._read_array_header(fh, version)
        except ValueError as exc:
            raise ValueError(f"parameter {name}: {p} is not a .npy file ({exc})") from None
        offset = fh.tell()
    if dtype.hasobject:
        raise ValueError(f"parameter {name}: {p} holds Python objects (dtype {dtype}); "
                         "pickled arrays are refused, save a numeric array")
    if dtype.kind not in "biuf":
        raise ValueError(f"parameter {name}: {p} must hold numbers; its dtype is {dtype}")
    need = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size < need:
        raise ValueError(f"parameter {name}: {p} is truncated: its header says shape {shape} of {dtype} "
                         f"({need} bytes) but the file has {size} bytes")
    return {"shape": [int(s) for s in shape], "dtype": str(dtype)}
