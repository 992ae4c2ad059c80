"""Losses and their gradients, each written once in a stable form.

Each loss states its formula, the stable form it computes and the derivation
that verifies it (``verigrad show NAME``).  Bad input raises ``ValueError``
(or ``TypeError``) naming the argument and the shapes or values at fault.
float32 in gives float32 out; NaN in gives NaN out.

Binary cross-entropy (notes, "Deriving BCE"; derivations: logistic topic):

* :func:`bce` on probabilities p, the notes' -(y log p + (1 - y) log(1 - p));
* :func:`bce_with_logits` on the logit z, BCE(sigma(z), y), computed as
  softplus(z) - y z (derivation ``stable-bce``);
* :func:`bce_with_logits_grad`, its derivative in z, sigma(z) - y, computed as
  (1 - y) sigma(z) - y sigma(-z) (derivation ``stable-bce-gradient``).

Their labels may be soft (y in [0, 1]); a label outside [0, 1], a
probability outside [0, 1], or shapes that differ get a ``ValueError`` that
names them.  The logit may be complex (for complex-step differentiation):
branches are chosen by its real part and each branch is the same analytic
function.  Edge cases pinned by the tests: ``bce_with_logits(40, 1)`` is about
4.2e-18 and ``bce_with_logits_grad(40, 1)`` about -4.2e-18 (PyTorch's gradient
there is 0); ``bce_with_logits(-745, 0)`` is about 5e-324; ``bce(0, 0)`` is 0.

Multiclass: :func:`cross_entropy` and :func:`cross_entropy_grad` (softmax topic).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numeric import activations
from numeric._arrays import Array, as_float_array, check_axis, real_part, scalar_or_array
from numeric._threads import run_row_blocks
from numeric.activations import _two_diff, _two_diff_into, log_softmax

__all__ = ["bce", "bce_with_logits", "bce_with_logits_grad", "cross_entropy", "cross_entropy_grad"]

# =====================================================================================
# Binary: cross-entropy on probabilities and on logits (derivations: logistic topic)
# =====================================================================================


def check_labels(y: Array, name: str = "y", what: str = "labels (soft labels allowed)") -> None:
    """ValueError naming ``name`` if an entry lies outside [0, 1] (NaN passes through)."""
    yr = real_part(y)
    bad = (yr < 0) | (yr > 1)
    if np.any(bad):
        first = float(yr[bad].flat[0])
        raise ValueError(
            f"{name} holds {what} and must lie in [0, 1]; {int(np.count_nonzero(bad))} of its"
            f" entries do not, the first {first!r} ({name} has shape {y.shape})"
        )


def check_same_shape(a: Array, a_name: str, b: Array, b_name: str) -> None:
    """ValueError naming both arguments and their shapes unless the shapes are equal."""
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape; got {a_name} {a.shape}"
            f" and {b_name} {b.shape}"
        )


def _pair(z: ArrayLike, y: ArrayLike, z_name: str) -> tuple[Array, Array]:
    zz = as_float_array(z, z_name)
    yy = as_float_array(y, "y", allow_complex=False)
    check_same_shape(zz, z_name, yy, "y")
    check_labels(yy)
    dtype = np.result_type(zz, yy)
    return zz.astype(dtype, copy=False), yy.astype(dtype, copy=False)


def bce(p: ArrayLike, y: ArrayLike) -> Any:
    r"""BCE(p, y) = -(y log p + (1 - y) log(1 - p)), elementwise, p and y in [0, 1].

    Shapes of p and y must be equal.  A term whose weight is 0 counts as 0
    (0 log 0 = 0), so bce(0, 0) = bce(1, 1) = 0; p = 0 with y > 0 gives
    +inf.  log(1 - p) is computed as log1p(-p), accurate for small p.  On
    logits prefer :func:`bce_with_logits`: sigma(z) rounds to 1 for z > 37.
    """
    pp, yy = _pair(p, y, "p")
    check_labels(pp, "p", "probabilities")
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(yy == 0, 0, yy * np.log(pp))
        neg = np.where(yy == 1, 0, (1 - yy) * np.log1p(-pp))
    return scalar_or_array(0.0 - (pos + neg))  # 0 - 0 is +0, where -(0) would be -0


def _fold(z: Array) -> tuple[Array, Array, Array]:
    """(e, nonneg, relu): e = exp(-|z|), nonneg = Re z >= 0, relu = max(z, 0) (analytically)."""
    u, nonneg = activations._fold(z)
    return np.exp(-u), nonneg, np.where(nonneg, z, 0)


def bce_terms(z: Array, y: Array) -> Array:
    """BCE(sigma(z), y) as max(z, 0) - y z + log1p(e^{-|z|}), for checked arrays."""
    e, _, relu = _fold(z)
    out: Array = (relu - y * z) + np.log1p(e)
    return out


def bce_residual(z: Array, y: Array) -> Array:
    """sigma(z) - y as (1 - y) sigma(z) - y sigma(-z), for checked arrays (also complex z)."""
    e, nonneg, _ = _fold(z)
    a = np.where(nonneg, 1, e)  # (1 + e) sigma(z), e = exp(-|z|)
    c = np.where(nonneg, e, 1)  # (1 + e) sigma(-z)
    out: Array = ((1 - y) * a - y * c) / (1 + e)
    return out


def bce_with_logits(z: ArrayLike, y: ArrayLike) -> Any:
    r"""BCE(sigma(z), y) = softplus(z) - y z = (1 - y) softplus(z) + y softplus(-z), elementwise.

    Stable form: max(z, 0) - y z + log1p(e^{-|z|}).  No exponential
    overflows; for a hard label the first two terms cancel exactly where
    they would otherwise lose the small log1p term (y = 1, z > 0 gives
    z - z = 0), and for y = 0, z < 0 the result is log1p(e^z), accurate down
    to the subnormal range.  Within 2 ulp of the exact value for hard labels
    over z in [-745, 745] (tests/test_logistic.py).  Verified by ``stable-bce``.
    """
    zz, yy = _pair(z, y, "z")
    return scalar_or_array(bce_terms(zz, yy))


def bce_with_logits_grad(z: ArrayLike, y: ArrayLike) -> Any:
    r"""d/dz BCE(sigma(z), y) = sigma(z) - y = (1 - y) sigma(z) - y sigma(-z), elementwise.

    Stable form: with e = exp(-|z|), sigma(z) = 1/(1 + e) or e/(1 + e) by the
    sign of z, and sigma(-z) the other one, so
    ((1 - y) a - y c) / (1 + e) with (a, c) = (1, e) for z >= 0 and (e, 1)
    for z < 0.  Nothing cancels for a hard label: y = 1, z = 40 gives
    -e^{-40}/(1 + e^{-40}), not sigma(40) - 1 = 0.  Verified by
    ``stable-bce-gradient`` and ``chain-rule-logit``.
    """
    zz, yy = _pair(z, y, "z")
    return scalar_or_array(bce_residual(zz, yy))


# =====================================================================================
# Multiclass: softmax cross-entropy (derivations: softmax topic)
# =====================================================================================
#
# Both functions work on rows: the class axis is moved last and the other axes
# flattened.  Rows are processed in blocks of about _BLOCK entries, so the several
# passes of the stable form (max, shift with its rounding error, exp, sums) run in
# cache rather than over the whole array in memory.
#
# With m = max_k z_k (at k = top) and d_k + r_k = z_k - m exactly (TwoSum; r_k is the
# rounding error of fl(z_k - m)), e_k = exp(d_k) (1 + r_k), e_top = 1, and
# tail = sum_{k != top} e_k:
#     log softmax(z)_k = d_k + r_k - log1p(tail)
#     softmax(z)_k     = e_k / (1 + tail)
#     softmax(z)_top - 1 = -tail / (1 + tail)      (no cancellation: 1 - s_top never formed)
# Without r, the rounding of z - m (up to 0.5 ulp of |z - m|: 3.6e-15 at 46) would
# become a relative error of exp and cost the loss and the gradient up to 16 ulp.
#
# The gradient needs only the e_k, up to a factor common to the row, and where every
# logit of a block lies within [-_PRODUCT_RANGE, _PRODUCT_RANGE - log K] it takes
# E_k = e^{z_k} instead: a normal number within 1 ulp (NumPy's exp; e^700 = 1.0e304, and
# the row sum stays below e^700), with no subtraction to carry.  Then, with
# tail = e^{-m} sum_{k != top} E_k,
#     (softmax(z)_k - [k = top]) / N = E_k * (e^{-m} / ((1 + tail) N))   for k != top,
# one pass for the exponential and one for the product where the shifted form takes
# eight; each entry is within about 3.5 ulp before y is subtracted.  Other blocks (with
# larger logits, -inf or NaN) take the shifted form.

_BLOCK = 1 << 15
_PRODUCT_RANGE = 700.0
# A probability row must sum to 1 within this many units of its dtype's epsilon
# times the row length: the rounding of a sum of K entries (each rounded once).
SUM_TOLERANCE_ULPS = 16


def _rows(z: Array, axis: int) -> tuple[Array, tuple[int, ...]]:
    """z with ``axis`` last, as a C-contiguous (rows, K) array, and the batch shape."""
    moved = np.moveaxis(z, axis, -1)
    batch = moved.shape[:-1]
    return np.ascontiguousarray(moved.reshape(-1, moved.shape[-1])), batch


def _targets(y: ArrayLike, z: Array, axis: int) -> tuple[str, Array]:
    """("index", int array (rows,)) or ("probs", float array (rows, K)), validated."""
    arr = np.asarray(y)
    batch = z.shape[:axis] + z.shape[axis + 1 :]
    k = z.shape[axis]
    if arr.dtype.kind in "iu":
        if arr.shape != batch:
            raise ValueError(
                f"class indices y must have shape {batch} (z's shape {z.shape} without axis"
                f" {axis}), got {arr.shape}"
            )
        flat = arr.reshape(-1).astype(np.intp, copy=False)
        bad = (flat < 0) | (flat >= k)
        if np.any(bad):
            raise ValueError(
                f"class indices y must lie in [0, {k}) for z with {k} classes;"
                f" got {flat[bad][:5].tolist()} out of range"
            )
        return "index", flat
    if arr.dtype.kind == "b":
        raise TypeError("y must be integer class indices or float probability rows, not bool")
    probs = as_float_array(arr, "y", allow_complex=False)
    if probs.shape != z.shape:
        if probs.shape == batch:
            raise TypeError(
                f"y has z's batch shape {batch} but dtype {probs.dtype}: class indices must be"
                " integers (or give probability rows of z's shape)"
            )
        raise ValueError(f"probability rows y must have z's shape {z.shape}, got {probs.shape}")
    rows, _ = _rows(probs, axis)
    _check_probability_rows(rows)
    return "probs", rows


def _check_probability_rows(rows: Array) -> None:
    if np.any(rows < 0):
        raise ValueError(f"probability rows y must be >= 0; smallest entry {float(rows.min())!r}")
    if np.any(np.isnan(rows)):
        raise ValueError("probability rows y contain NaN")
    eps = float(np.finfo(rows.dtype).eps)
    tol = SUM_TOLERANCE_ULPS * eps * rows.shape[-1]
    sums = rows.sum(axis=-1)
    off = np.abs(sums - 1) > tol
    if np.any(off):
        raise ValueError(
            f"probability rows y must sum to 1 (within {tol:.3g}); row {int(np.argmax(off))}"
            f" sums to {float(sums[off][0])!r}"
        )


def _row_max(zb: Array) -> tuple[Array, Array]:
    """(top, m): the argmax and the max of each row of zb, shapes (rows,)."""
    top = np.argmax(zb, axis=1)
    return top, zb[np.arange(zb.shape[0]), top]


def _shift(zb: Array, m: Array, d: Array, r: Array, bb: Array) -> None:
    """d + r = z - m exactly (TwoSum), into d and r; m is each row's max, bb scratch.

    A row whose max is not finite (a NaN, +inf, or all -inf) has no softmax:
    its d is NaN, so everything computed from it is NaN.  A -inf logit gives
    a NaN r, handled with the tail.
    """
    column = m[:, None]
    if not np.all(np.isfinite(column)):
        column = np.where(np.isfinite(column), column, np.nan)
    _two_diff_into(zb, column, d, r, bb)


def _exp_in_place(zb: Array, top: Array, m: Array, out: Array) -> tuple[Array, Array] | None:
    """out = e^{z}, dominant entries 0; returns (tail, e^{-m}) (see the section comment).

    None, with ``out`` untouched, when a logit of the block lies outside
    [-_PRODUCT_RANGE, _PRODUCT_RANGE - log K] or is NaN.
    """
    high = _PRODUCT_RANGE - np.log(zb.shape[1])
    if not (m.max() <= high and zb.min() >= -_PRODUCT_RANGE):
        return None
    np.exp(zb, out=out)
    out[np.arange(zb.shape[0]), top] = 0
    row_factor = np.exp(-m)
    tail = out.sum(axis=1) * row_factor
    return tail, row_factor


def _exp_and_tail(d: Array, r: Array, top: Array, out: Array, *, keep_r: bool) -> Array:
    """out = e^{d} (1 + r), dominant entries set to 0 (their e is 1); returns tail = row sums.

    Rows where that is not finite (a -inf logit, as a mask gives, or NaN or
    inf) are redone without r: -inf gives e = 0, and NaN stays NaN.  With
    ``keep_r=False`` r is overwritten (one temporary fewer).
    """
    rows = np.arange(out.shape[0])
    with np.errstate(invalid="ignore", over="ignore"):
        np.exp(d, out=out)
        out += np.multiply(out, r, out=None if keep_r else r)
        out[rows, top] = 0
        tail = out.sum(axis=1)
        bad = np.flatnonzero(~np.isfinite(tail))
        if bad.size:
            redo = np.exp(d[bad])
            redo[np.arange(bad.size), top[bad]] = 0
            out[bad] = redo
            tail[bad] = redo.sum(axis=1)
    result: Array = tail
    return result


def cross_entropy(z: ArrayLike, y: ArrayLike, axis: int = -1) -> Any:
    r"""Per-row cross-entropy of softmax(z) against y: -sum_k y_k log softmax(z)_k.

    ``z``: logits, classes along ``axis`` (complex z, for complex-step
    differentiation, gives the analytic continuation).  ``y``: integer class indices of
    z's shape without ``axis`` (the loss is then -log softmax(z)_y), or
    probability rows of z's shape (entries >= 0, each row summing to 1
    within ``SUM_TOLERANCE_ULPS * eps * K``).  Returns z's shape without
    ``axis`` (a scalar for a single row).

    Stable form: -log softmax(z)_k = log1p(tail) - (z_k - m), with the
    rounding of z_k - m carried (see the module's section comment); for the
    dominant class this is log1p(tail), about 1e-20 for a margin of 46, where
    log(softmax) would give 0.  Verified by ``cross-entropy-from-likelihood``
    and ``log-softmax-stable``.
    """
    z = as_float_array(z, "z")
    axis = check_axis(z, axis, "z")
    kind, target = _targets(y, z, axis)
    rows, batch = _rows(z, axis)
    if np.iscomplexobj(rows):  # complex-step differentiation: the analytic continuation
        return scalar_or_array(_complex_cross_entropy(rows, kind, target).reshape(batch))
    out = np.empty(rows.shape[0], dtype=rows.dtype)

    def block(part: slice, work: list[Array]) -> None:
        out[part] = _loss_block(rows[part], kind, target[part], work)

    _run_blocks(block, rows, scratch_count=3)
    return scalar_or_array(out.reshape(batch))


def _loss_block(zb: Array, kind: str, target: Array, work: list[Array]) -> Array:
    """-sum_k y_k log softmax(zb)_k for one block of rows; see the section comment.

    The tail comes from the product form where it applies; z_k - m then needs its
    rounding error only where it is used: at the target, for class indices (TwoSum
    on one entry per row), everywhere for probability rows.
    """
    d, r, e = (w[: zb.shape[0]] for w in work)
    top, m = _row_max(zb)
    i = np.arange(zb.shape[0])
    exps = _exp_in_place(zb, top, m, e)
    if exps is None:
        _shift(zb, m, d, r, e)
        tail = _exp_and_tail(d, r, top, e, keep_r=True)
    else:
        tail = exps[0]
        if kind == "index":
            d_t, r_t = _two_diff(zb[i, target], m)
            picked: Array = (np.log1p(tail) - d_t) - r_t
            return picked
        _shift(zb, m, d, r, e)  # e's exponentials are in the tail already
    with np.errstate(invalid="ignore"):
        lse = np.log1p(tail)  # log sum_k e^{z_k - m}
        if kind == "index":
            picked = (lse - d[i, target]) - r[i, target]
            return picked
        neg_log = (lse[:, None] - d) - r  # -log softmax: every entry >= 0
        return _weighted(neg_log, target)


def _grad_block(
    zb: Array, g: Array, kind: str, target: Array, n_rows: int, work: list[Array]
) -> None:
    """g = (softmax(zb) - y) / n_rows for one block of rows; see the section comment."""
    top, m = _row_max(zb)
    exps = _exp_in_place(zb, top, m, g)
    if exps is None:
        d, r = (w[: zb.shape[0]] for w in work)
        _shift(zb, m, d, r, g)  # g is scratch until it holds e
        tail = _exp_and_tail(d, r, top, g, keep_r=False)
        row_factor: Array | float = 1.0
    else:
        tail, row_factor = exps
    # g holds e times a factor of its row (1 / row_factor), its dominant entries 0
    i = np.arange(zb.shape[0])
    total_n = (1 + tail) * n_rows
    scale = 1 / total_n  # s_top / N
    g *= (row_factor / total_n)[:, None]  # softmax / N, but for the dominant entries
    # The dominant entry: (s_top - y_top)/N = ((1 - y_top) - tail/(1 + tail))/N.
    g_top = -tail * scale
    inv_n = 1.0 / n_rows
    if kind == "index":
        hit = target == top
        g[i, top] = np.where(hit, g_top, scale)  # s_top/N = scale when y_top = 0
        g[i[~hit], target[~hit]] -= inv_n  # s_t <= 1/2 there: no cancellation
    else:
        g -= target * inv_n
        y_top = target[i, top]
        # As the index path rounds it, so one-hot rows give the same bits.
        g[i, top] = np.where(y_top == 0, scale, (1 - y_top) * inv_n + g_top)


def _weighted(neg_log: Array, target: Array) -> Array:
    """sum_k y_k (-log softmax_k) over the last axis; a zero y_k adds 0 even where the
    log is infinite (a masked class)."""
    total: Array = np.sum(np.where(target == 0, 0, target * neg_log), axis=-1)
    return total


def _run_blocks(
    fn: Callable[[slice, list[Array]], None], rows: Array, *, scratch_count: int
) -> None:
    """fn(part, scratch) over consecutive blocks of rows of about _BLOCK entries each.

    Large arrays are shared among a few threads (numeric._threads); each thread
    has its own ``scratch_count`` block-sized work arrays.
    """
    n_rows, k = rows.shape
    step = min(n_rows, max(1, _BLOCK // k))

    def scratch() -> list[Array]:
        return [np.empty((step, k), dtype=rows.dtype) for _ in range(scratch_count)]

    run_row_blocks(fn, n_rows, step, rows.size, scratch)


def _complex_cross_entropy(rows: Array, kind: str, target: Array) -> Array:
    neg_log = -log_softmax(rows, axis=-1)
    if kind == "index":
        picked: Array = neg_log[np.arange(rows.shape[0]), target]
        return picked
    return _weighted(neg_log, target)


def cross_entropy_grad(z: ArrayLike, y: ArrayLike, axis: int = -1) -> Any:
    r"""Gradient of the mean cross-entropy over the rows: (softmax(z) - y) / N.

    ``z``, ``y`` and ``axis`` as for :func:`cross_entropy`; N is the number
    of rows (1 for a single vector, where this is softmax(z) - y).  Returns
    an array of z's shape and dtype.

    The entry of the dominant class, softmax - 1, is computed as
    -sum_{k != top} e_k / sum_k e_k: it keeps full relative accuracy where
    softmax rounds to 1 (PyTorch returns 0 there).  Verified by
    ``cross-entropy-gradient`` (for any K, with sum_k y_k = 1).
    """
    z = as_float_array(z, "z", allow_complex=False)
    axis = check_axis(z, axis, "z")
    kind, target = _targets(y, z, axis)
    rows, batch = _rows(z, axis)
    n_rows = rows.shape[0]
    out = np.empty_like(rows)

    def block(part: slice, work: list[Array]) -> None:
        _grad_block(rows[part], out[part], kind, target[part], n_rows, work)

    _run_blocks(block, rows, scratch_count=2)
    return np.moveaxis(out.reshape(*batch, rows.shape[1]), -1, axis)
