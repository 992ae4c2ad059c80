"""Hypothesis strategies for well-conditioned test inputs, shared by users and our tests.

This is the only module of ``numeric`` that imports hypothesis (install the
``test`` extra).  Each strategy draws float64 arrays unless told otherwise:

* :func:`finite_arrays`: a given shape (or drawn shapes), values in a range,
  optionally spanning orders of magnitude (``log_scale=True``);
* :func:`probability_vectors`: rows positive and summing to 1;
* :func:`one_hot_rows`, :func:`class_indices`: hard multiclass labels;
* :func:`binary_labels`, :func:`soft_labels`: labels for binary losses;
* :func:`mlp_params`: the (W, b) layers of a multilayer perceptron.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numeric._arrays import Array

__all__ = [
    "binary_labels",
    "class_indices",
    "finite_arrays",
    "mlp_params",
    "one_hot_rows",
    "probability_vectors",
    "shapes",
    "soft_labels",
]

Shape = tuple[int, ...]


def shapes(
    *, min_dims: int = 1, max_dims: int = 2, min_side: int = 1, max_side: int = 8
) -> st.SearchStrategy[Shape]:
    """Array shapes, as ``hypothesis.extra.numpy.array_shapes``."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def _as_shape(shape: Shape | int | st.SearchStrategy[Shape]) -> st.SearchStrategy[Shape]:
    if isinstance(shape, st.SearchStrategy):
        return shape
    return st.just((shape,) if isinstance(shape, int) else tuple(shape))


@st.composite
def finite_arrays(
    draw: Any,
    shape: Shape | int | st.SearchStrategy[Shape],
    *,
    low: float = -10.0,
    high: float = 10.0,
    log_scale: bool = False,
    dtype: Any = np.float64,
) -> Array:
    """Finite arrays with entries in [low, high].

    With ``log_scale=True`` the magnitudes are log-uniform between
    10^-3 * max(|low|, |high|) and max(|low|, |high|), with random signs
    (restricted to those that [low, high] allows), so a draw spans orders of
    magnitude.  Special values (0, the ends) appear as hypothesis likes.
    """
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"need finite low < high, got low={low}, high={high}")
    shp = draw(_as_shape(shape))
    if not log_scale:
        elements = st.floats(
            low, high, allow_nan=False, allow_infinity=False, width=np.dtype(dtype).itemsize * 8
        )
        return np.asarray(draw(hnp.arrays(dtype, shp, elements=elements)))
    top = max(abs(low), abs(high))
    exponents = draw(hnp.arrays(np.float64, shp, elements=st.floats(-3.0, 0.0)))
    signs = draw(hnp.arrays(np.float64, shp, elements=st.sampled_from(_signs(low, high))))
    return np.asarray(np.clip(signs * top * 10.0**exponents, low, high), dtype=dtype)


def _signs(low: float, high: float) -> list[float]:
    return [s for s, ok in ((-1.0, low < 0), (1.0, high > 0)) if ok]


@st.composite
def probability_vectors(
    draw: Any, k: int | st.SearchStrategy[int], *, rows: int | None = None, min_prob: float = 1e-6
) -> Array:
    """Probability vectors of length k (shape (k,), or (rows, k)), entries >= min_prob."""
    kk = draw(
        st.integers(1, 32) if k is None else (k if isinstance(k, st.SearchStrategy) else st.just(k))
    )
    shape = (kk,) if rows is None else (rows, kk)
    raw = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.0, 1.0)))
    weights = raw + min_prob * kk + 1e-12
    return np.asarray(weights / weights.sum(axis=-1, keepdims=True))


@st.composite
def class_indices(draw: Any, n: int, k: int) -> Array:
    """n integer class labels in [0, k)."""
    return np.asarray(draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1))))


@st.composite
def one_hot_rows(draw: Any, n: int, k: int) -> Array:
    """An (n, k) float array with one 1 per row."""
    labels = draw(class_indices(n, k))
    return np.asarray(np.eye(k)[labels])


def binary_labels(shape: Shape | int) -> st.SearchStrategy[Array]:
    """Arrays of hard labels in {0, 1} (float64)."""
    shp = (shape,) if isinstance(shape, int) else shape
    return hnp.arrays(np.float64, shp, elements=st.sampled_from([0.0, 1.0]))


def soft_labels(shape: Shape | int) -> st.SearchStrategy[Array]:
    """Arrays of soft labels in [0, 1] (float64), the ends included."""
    shp = (shape,) if isinstance(shape, int) else shape
    return hnp.arrays(np.float64, shp, elements=st.floats(0.0, 1.0))


_DEPTHS = st.integers(1, 4)
_WIDTHS = st.integers(1, 16)


@st.composite
def mlp_params(
    draw: Any,
    *,
    layers: int | st.SearchStrategy[int] = _DEPTHS,
    widths: st.SearchStrategy[int] = _WIDTHS,
    n_in: int | None = None,
    gain: float = 2.0,
) -> list[tuple[Array, Array]]:
    """MLP parameters [(W^(1), b^(1)), ...], W^(l) of shape (n_l, n_{l-1}), b^(l) of (n_l,).

    ``layers`` layers (drawn 1 to 4 by default) with widths drawn from ``widths``
    (the input width too, unless ``n_in`` is given).  Entries are uniform in
    [-gain, gain] / sqrt(n_{l-1}), the scale of the usual initialisations, so
    pre-activations stay of order one and sigmoid units are not all saturated.
    """
    depth = layers if isinstance(layers, int) else draw(layers)
    if depth < 1:
        raise ValueError(f"an MLP needs at least one layer, got layers={depth}")
    sizes = [n_in if n_in is not None else draw(widths)] + [draw(widths) for _ in range(depth)]
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = gain / np.sqrt(fan_in)
        elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False)
        W = draw(hnp.arrays(np.float64, (fan_out, fan_in), elements=elements))
        b = draw(hnp.arrays(np.float64, (fan_out,), elements=elements))
        params.append((np.asarray(W), np.asarray(b)))
    return params
