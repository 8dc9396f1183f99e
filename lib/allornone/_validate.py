"""Input checks shared by the library: every public function validates its
arguments here, so bad input fails early with a ``ValueError`` that names the
argument and says what was expected."""

from __future__ import annotations

import numbers

import numpy as np


def as_matrix(name: str, value, *, ncols: int | None = None) -> np.ndarray:
    """Return ``value`` as a finite float64 2-D array, or raise ``ValueError``.

    ``ncols`` optionally fixes the number of columns (the representation
    dimension).
    """
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric 2-D array; got {type(value).__name__}") from exc
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows x dimension); got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; it has {bad} NaN or inf entries")
    if ncols is not None and arr.shape[1] != ncols:
        raise ValueError(f"{name} must have {ncols} columns (the representation dimension); got shape {arr.shape}")
    return arr


def as_vector(name: str, value, *, size: int | None = None) -> np.ndarray:
    """Return ``value`` as a finite float64 1-D array of length ``size``."""
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric 1-D array; got {type(value).__name__}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array; got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise ValueError(f"{name} must have length {size}; got length {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it has NaN or inf entries")
    return arr


def as_index(name: str, value, upper: int) -> int:
    """Return ``value`` as an int in ``range(upper)`` (an index into a table)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer index in [0, {upper}); got {value!r}")
    value = int(value)
    if not 0 <= value < upper:
        raise ValueError(f"{name} must be an integer index in [0, {upper}); got {value}")
    return value


def as_int(name: str, value, *, min: int | None = None, max: int | None = None) -> int:
    """Return ``value`` as an int within ``[min, max]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    value = int(value)
    if min is not None and value < min:
        raise ValueError(f"{name} must be >= {min}; got {value}")
    if max is not None and value > max:
        raise ValueError(f"{name} must be <= {max}; got {value}")
    return value


def as_positive_float(name: str, value) -> float:
    """Return ``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def as_rng(name: str, value) -> np.random.Generator:
    """Accept a ``numpy.random.Generator`` or an int seed."""
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0:
        return np.random.default_rng(int(value))
    raise ValueError(f"{name} must be a numpy.random.Generator or a non-negative int seed; got {value!r}")
