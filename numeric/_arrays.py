"""Argument checking shared by the numeric functions.

Every public function converts its inputs here, so the rules are the same
everywhere: float32 stays float32, complex stays complex (for complex-step
differentiation), everything else numeric becomes float64; anything else is
a ``TypeError`` that names the argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[Any]

_KEPT = (np.float32, np.float64, np.complex64, np.complex128)


def as_float_array(x: ArrayLike, name: str, *, allow_complex: bool = True) -> Array:
    """``x`` as an array of float32, float64 (default) or complex.

    Integers, booleans, float16 and long double become float64.  Raises
    ``TypeError`` naming ``name`` for strings, objects and other non-numbers.
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    kind = arr.dtype.kind
    if kind not in "biufc":
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype}")
    if kind == "c":
        if not allow_complex:
            raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
        return arr if arr.dtype.type in _KEPT else arr.astype(np.complex128)
    if arr.dtype.type in _KEPT:
        return arr
    return arr.astype(np.float64)


def result_type(*arrays: Array) -> np.dtype[Any]:
    """The common float dtype of already-converted arrays."""
    return np.result_type(*arrays)


def scalar_or_array(a: Array) -> Any:
    """A 0-d result as a NumPy scalar, as NumPy ufuncs return it."""
    return a[()] if a.ndim == 0 else a


def check_axis(z: Array, axis: int, name: str) -> int:
    """``axis`` normalized to a non-negative index of ``z``; ValueError if out of range."""
    if z.ndim == 0:
        raise ValueError(f"{name} must have at least one axis, got a scalar")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"axis must be an int, got {type(axis).__name__}")
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"axis {axis} is out of range for {name} with shape {z.shape}")
    axis = int(axis) % z.ndim
    if z.shape[axis] == 0:
        raise ValueError(f"{name} has no entries along axis {axis} (shape {z.shape})")
    return axis


def real_part(z: Array) -> Array:
    """The real part, without a copy for real arrays."""
    return z.real if np.iscomplexobj(z) else z
