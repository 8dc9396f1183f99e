"""Checks for notebook parameters.

Every notebook's cell right after its ``parameters`` cell is tagged
``validate-parameters`` and calls :func:`check` for each parameter, so a bad
value stops the notebook with a clear message before any compute.
``python -m allornone.run`` executes that cell on its own before it starts a
kernel, so the same check also guards reruns and sweeps.
"""

from __future__ import annotations

import numbers

__all__ = ["check"]

_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list", type(None): "None"}


def _matches(value, kind) -> bool:
    if kind is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return isinstance(value, kind)


def check(name: str, value, kind=int, *, min=None, max=None, choices=None):
    """Raise ``ValueError`` unless ``value`` is of ``kind`` (a type or tuple of
    types) and within ``[min, max]`` / among ``choices``. Returns ``value``."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not any(_matches(value, k) for k in kinds):
        expected = " or ".join(_NAMES.get(k, k.__name__) for k in kinds)
        raise ValueError(f"parameter {name} must be {expected}; got {value!r}")
    if choices is not None and value not in choices:
        raise ValueError(f"parameter {name} must be one of {list(choices)}; got {value!r}")
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if min is not None and value < min:
            raise ValueError(f"parameter {name} must be >= {min}; got {value!r}")
        if max is not None and value > max:
            raise ValueError(f"parameter {name} must be <= {max}; got {value!r}")
    return value
