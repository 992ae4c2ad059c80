"""Models: their mean loss over a batch and its gradient.

Rows of X are samples.  Each section is one model; its functions state the
formula, the shapes and the derivation that verifies them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numeric._arrays import Array, as_float_array, real_part
from numeric.losses import _fold, check_labels

__all__ = ["logistic_regression_grad", "logistic_regression_loss"]


# ----- logistic regression ------------------------------------------------------------------


def _logistic_inputs(
    w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike
) -> tuple[Array, Array, Array, Array]:
    """(w, b, X, y) checked: X (N, d), w (d,), y (N,) in [0, 1], b a scalar; one dtype.

    The dtype is the common one of X, w and a NumPy b; a Python number b
    and the labels take it (labels are data of another kind: float32 X and
    w give float32 out whatever y's dtype).  X is not copied when it
    already has that dtype.
    """
    XX = as_float_array(X, "X")
    ww = as_float_array(w, "w")
    yy = np.asarray(y)
    if XX.ndim != 2:
        raise ValueError(f"X must be 2-D (N samples, d features), got shape {XX.shape}")
    n, d = XX.shape
    if n == 0:
        raise ValueError(f"X has no samples (shape {XX.shape}): the mean loss is undefined")
    if ww.shape != (d,):
        raise ValueError(f"w must have shape (d,) = ({d},) to match X {XX.shape}, got {ww.shape}")
    if yy.shape != (n,):
        raise ValueError(f"y must have shape (N,) = ({n},) to match X {XX.shape}, got {yy.shape}")
    bb = np.asarray(b)
    if bb.ndim != 0:
        raise ValueError(f"b must be a scalar, got shape {bb.shape}")
    bb = as_float_array(bb, "b")
    dtype = np.result_type(XX, ww)
    if isinstance(b, (np.ndarray, np.generic)):
        dtype = np.result_type(dtype, bb)
    yy = as_float_array(yy, "y", allow_complex=False)
    check_labels(yy)
    real = real_part(np.zeros((), dtype)).dtype
    return (
        ww.astype(dtype, copy=False),
        bb.astype(dtype),
        XX.astype(dtype, copy=False),
        yy.astype(real, copy=False),
    )


def logistic_regression_loss(w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike) -> Any:
    r"""L(w, b) = (1/N) sum_i BCE(sigma(x_i . w + b), y_i), the mean binary cross-entropy.

    Shapes: w (d,), b scalar, X (N, d) with samples as rows, y (N,) with
    labels in [0, 1] (soft labels allowed).  Each term is computed stably as
    softplus(z_i) - y_i z_i (derivation ``stable-bce``; numeric.bce_with_logits).
    Returns a scalar of the inputs' dtype.  Complex w or b give the analytic
    continuation (for complex-step differentiation).
    """
    ww, bb, XX, yy = _logistic_inputs(w, b, X, y)
    z = XX @ ww
    z += bb
    e, _, relu = _fold(z)
    terms = (relu - yy * z) + np.log1p(e)
    return np.mean(terms)


def logistic_regression_grad(
    w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike
) -> tuple[Any, Any]:
    r"""(dL/dw, dL/db) = (X^T r / N, sum_i r_i / N) with r = sigma(X w + b) - y.

    Shapes as :func:`logistic_regression_loss`; dw has shape (d,), db is a
    scalar.  Derivations ``batch-gradient`` (any N, d) and
    ``batch-gradient-matrix-form``.  The residual is computed as
    (1 - y) sigma(z) - y sigma(-z) (``stable-bce-gradient``), so it keeps
    full relative accuracy for confident, correct predictions.

    Speed: besides the two matrix-vector products X w and X^T r it makes a
    few passes over N-vectors, in place where it can; X is never copied
    when it has the inputs' dtype.
    """
    ww, bb, XX, yy = _logistic_inputs(w, b, X, y)
    z = XX @ ww
    z += bb
    r = _residual_in_place(z, yy) if not np.iscomplexobj(z) else _residual(z, yy)
    n = XX.shape[0]
    dw = XX.T @ r
    dw /= n
    return dw, r.sum() / n


def _residual(z: Array, y: Array) -> Array:
    """(1 - y) sigma(z) - y sigma(-z), out of place (also for complex z)."""
    e, nonneg, _ = _fold(z)
    a = np.where(nonneg, 1, e)
    c = np.where(nonneg, e, 1)
    out: Array = ((1 - y) * a - y * c) / (1 + e)
    return out


def _residual_in_place(z: Array, y: Array) -> Array:
    """(1 - y) sigma(z) - y sigma(-z) for real z, overwriting z; branch-free.

    With e = exp(-|z|): (1 + e) sigma(z) is 1 for z >= 0 and e for z < 0,
    which is max(e, [z >= 0]) exactly (e <= 1); (1 + e) sigma(-z) is
    max(e, [z < 0]).  Masked copies (``np.where``, ``copyto(where=)``) cost
    more than the exponential on random signs; ``maximum`` does not branch.
    NaN propagates through ``maximum``.
    """
    nonneg = (z >= 0).astype(z.dtype)
    e = np.abs(z, out=z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    a = np.maximum(e, nonneg)  # (1 + e) sigma(z)
    np.subtract(1, nonneg, out=nonneg)
    c = np.maximum(e, nonneg, out=nonneg)  # (1 + e) sigma(-z)
    one_minus_y = np.subtract(1, y, dtype=e.dtype)
    r = np.multiply(one_minus_y, a, out=a)
    c *= y
    r -= c
    e += 1
    r /= e
    return r
