"""Activations and their derivatives, written once in a stable form.

Each function states its formula, the stable form it computes and the
derivation that verifies it (``verigrad show NAME``).  All are elementwise
unless an ``axis`` is named; float32 in gives float32 out; NaN in gives NaN
out.  Complex input is accepted so that complex-step differentiation works
through them: the branch is chosen by the real part, and each branch is the
same analytic function, so the result is the analytic continuation.

Edge cases pinned by the tests: ``sigmoid(+-800)`` is 1 and 0 with no
warning; ``sigmoid_grad(40)`` is about 4.2e-18 (not 0, as sigma(1 - sigma)
gives); ``softplus(-745)`` is about 5e-324; ``relu_grad(0)`` is 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numeric._arrays import Array, as_float_array, check_axis, real_part, scalar_or_array

__all__ = [
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_jacobian",
    "softplus",
]


def _fold(z: Array) -> tuple[Array, Array]:
    """(u, nonneg): u = |z| for real z (z * sign(Re z) for complex), nonneg = Re z >= 0."""
    nonneg = real_part(z) >= 0
    return np.where(nonneg, z, -z), nonneg


def sigmoid(z: ArrayLike) -> Any:
    r"""sigma(z) = 1 / (1 + e^{-z}), elementwise.

    Stable form: with e = exp(-|z|) in (0, 1], sigma(z) = 1 / (1 + e) for
    z >= 0 and e / (1 + e) for z < 0.  Neither branch overflows and each keeps
    full relative accuracy (within 2 ulp of the exact value).
    """
    z = as_float_array(z, "z")
    u, nonneg = _fold(z)
    e = np.exp(-u)
    return scalar_or_array(np.where(nonneg, 1, e) / (1 + e))


def sigmoid_grad(z: ArrayLike) -> Any:
    r"""sigma'(z) = sigma(z) (1 - sigma(z)) = sigma(z) sigma(-z), elementwise.

    Stable form: e / (1 + e)^2 with e = exp(-|z|); the derivative is even in z.
    Unlike sigma (1 - sigma), it keeps full relative accuracy for |z| > 37,
    where 1 - sigma(z) rounds to 0.  Verified by ``sigmoid-derivative``.
    """
    z = as_float_array(z, "z")
    u, _ = _fold(z)
    e = np.exp(-u)
    d = 1 + e
    return scalar_or_array(e / (d * d))


def log_sigmoid(z: ArrayLike) -> Any:
    r"""log sigma(z) = -softplus(-z) = min(z, 0) - log1p(e^{-|z|}), elementwise."""
    z = as_float_array(z, "z")
    u, nonneg = _fold(z)
    return scalar_or_array(np.where(nonneg, 0, z) - np.log1p(np.exp(-u)))


def softplus(z: ArrayLike) -> Any:
    r"""softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}), elementwise.

    Its derivative is sigma(z).  For z < -37, softplus(z) is about e^z and
    keeps full relative accuracy down to the subnormal range.
    """
    z = as_float_array(z, "z")
    u, nonneg = _fold(z)
    return scalar_or_array(np.where(nonneg, z, 0) + np.log1p(np.exp(-u)))


def relu(z: ArrayLike) -> Any:
    r"""relu(z) = max(z, 0), elementwise (NaN stays NaN)."""
    z = as_float_array(z, "z")
    zero = np.zeros((), dtype=z.dtype)
    return scalar_or_array(np.where(real_part(z) > 0, z, np.where(np.isnan(z), z, zero)))


def relu_grad(z: ArrayLike) -> Any:
    r"""relu'(z) = 1 for z > 0 and 0 for z < 0; the convention at 0 is 0.

    relu is not differentiable at 0; 0 is the convention of PyTorch and JAX
    (any value in [0, 1] is a subgradient).  NaN stays NaN.
    """
    z = as_float_array(z, "z")
    x = real_part(z)
    one = np.ones((), dtype=z.dtype)
    return scalar_or_array(np.where(x > 0, one, np.where(np.isnan(x), z, 0 * one)))


# ----- along an axis ----------------------------------------------------------------------


def _two_diff_into(a: Array, b: Array, d: Array, r: Array, scratch: Array) -> None:
    """d + r = a - b exactly (Knuth's TwoSum), written into d and r; b may broadcast.

    Six passes: d = fl(a - b), bb = d - a (into ``scratch``), then
    r = (a - (d - bb)) - (b + bb).  Non-finite inputs give NaN in r.
    """
    with np.errstate(invalid="ignore"):
        np.subtract(a, b, out=d)
        np.subtract(d, a, out=scratch)
        np.subtract(d, scratch, out=r)
        np.subtract(a, r, out=r)
        scratch += b
        r -= scratch


def _two_diff(a: Array, b: Array) -> tuple[Array, Array]:
    """d = fl(a - b) and the rounding error r, so that a - b = d + r exactly (r is 0
    where it is not finite)."""
    shape, dtype = np.broadcast_shapes(np.shape(a), np.shape(b)), np.result_type(a, b)
    d, r, scratch = (np.empty(shape, dtype) for _ in range(3))
    _two_diff_into(a, b, d, r, scratch)
    return d, np.where(np.isfinite(r), r, 0)


def _shifted_exp(
    z: Array, axis: int, temperature: float = 1.0
) -> tuple[Array, Array, Array, Array]:
    """(e, d, r, m): m the max along ``axis``, d + r = (z - m)/T, e = exp(d + r).

    A row whose max is not finite (all -inf, or an inf) is shifted by 0; m
    is then that max itself, so logsumexp of all -inf is -inf.

    The shift is exact to first order: z - m is computed with its rounding
    error r, and e = exp(fl(z - m)/T) (1 + r/T).  Without the correction, the
    rounding of z - m (up to 0.5 ulp of |z - m|, e.g. 3.6e-15 at 46) would
    cost log-softmax and cross-entropy up to 16 ulp.
    """
    m = np.max(real_part(z), axis=axis, keepdims=True)
    with np.errstate(invalid="ignore"):
        d, r = _two_diff(z, np.where(np.isfinite(m), m, 0))
        if temperature != 1.0:
            d, r = d / temperature, r / temperature
        e = np.exp(d) * (1 + r)
    return e, d, r, m


def _check_temperature(temperature: float) -> float:
    t = float(temperature)
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    return t


def softmax(z: ArrayLike, axis: int = -1, temperature: float = 1.0) -> Any:
    r"""softmax(z / T)_i = e^{z_i / T} / sum_j e^{z_j / T} along ``axis``.

    Shift invariance (``softmax-shift-invariance``) lets it subtract the
    maximum first, so no exponential overflows.  T -> infinity tends to the
    uniform vector, T -> 0+ to the one-hot of the argmax; T must be
    positive and finite (ValueError otherwise).
    """
    z = as_float_array(z, "z")
    axis = check_axis(z, axis, "z")
    e, _, _, _ = _shifted_exp(z, axis, _check_temperature(temperature))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_total(e: Array, d: Array, axis: int) -> Array:
    """log sum_j e_j, e_j = exp(d_j) with max Re d_j = 0: d_t + log1p(sum_{j != t} e_j / e_t).

    t is a maximal entry; for real input d_t = 0 and e_t = 1, so this is log1p of the
    other terms.  For complex input (complex-step differentiation) d_t = i Im z_t is kept.
    """
    top = np.expand_dims(np.argmax(real_part(d), axis=axis), axis)
    rest = e.copy()
    np.put_along_axis(rest, top, 0, axis=axis)
    total: Array = np.sum(rest, axis=axis, keepdims=True)
    if not np.iscomplexobj(d):
        return np.log1p(total)
    d_top = np.take_along_axis(d, top, axis=axis)
    shifted: Array = d_top + np.log1p(total * np.exp(-d_top))
    return shifted


def logsumexp(z: ArrayLike, axis: int = -1) -> Any:
    r"""logsumexp(z) = log sum_j e^{z_j} = m + log1p(sum_{j != argmax} e^{z_j - m}).

    m = max_j z_j.  Taking the largest term out of the sum and finishing
    with log1p keeps the result accurate when one entry dominates.  All
    -inf gives -inf; any +inf gives +inf; NaN gives NaN.
    """
    z = as_float_array(z, "z")
    axis = check_axis(z, axis, "z")
    e, d, _, m = _shifted_exp(z, axis)
    shift = np.where(np.isfinite(m), m, 0)
    with np.errstate(invalid="ignore"):
        lse = np.where(np.isfinite(m), shift + _log_total(e, d, axis), m)
    return scalar_or_array(np.squeeze(lse, axis=axis))


def log_softmax(z: ArrayLike, axis: int = -1) -> Any:
    r"""log softmax(z)_i = z_i - logsumexp(z) = (z_i - m) - log1p(sum_{j != argmax} e^{z_j - m}).

    For the dominant entry this is -log1p(tiny), accurate where 1 - softmax
    would round to 0 (PyTorch and SciPy return exactly 0 there).
    """
    z = as_float_array(z, "z")
    axis = check_axis(z, axis, "z")
    e, d, r, m = _shifted_exp(z, axis)
    out = (d - _log_total(e, d, axis)) + r
    return np.where(np.isneginf(m), np.nan, out)  # all -inf: 0/0, as softmax


def _sum_of_others(s: Array) -> Array:
    """sum_{j != i} s_j along the last axis, from exclusive prefix and suffix sums.

    Equal to 1 - s_i, but computed without the subtraction, which would
    cancel when s_i is close to 1.
    """
    zero = np.zeros_like(s[..., :1])
    before = np.concatenate([zero, np.cumsum(s[..., :-1], axis=-1)], axis=-1)
    after = np.concatenate([np.cumsum(s[..., :0:-1], axis=-1)[..., ::-1], zero], axis=-1)
    others: Array = before + after
    return others


def softmax_jacobian(z: ArrayLike) -> Any:
    r"""The Jacobian of softmax over the last axis: J_ij = s_i (delta_ij - s_j).

    Shape (..., K, K) for z of shape (..., K): diag(s) - s s^T.  The diagonal
    s_i (1 - s_i) is computed as s_i sum_{j != i} s_j, which keeps full
    relative accuracy for a dominant class.  Verified by ``softmax-jacobian``.
    """
    z = as_float_array(z, "z")
    check_axis(z, -1, "z")
    s = softmax(z, axis=-1)
    jac = -s[..., :, None] * s[..., None, :]
    idx = np.arange(s.shape[-1])
    jac[..., idx, idx] = s * _sum_of_others(s)
    return jac
