"""Losses and their gradients, written once in a stable form.

Binary cross-entropy (notes, "Deriving BCE"):

* :func:`bce` on probabilities p, the notes' -(y log p + (1 - y) log(1 - p));
* :func:`bce_with_logits` on the logit z, BCE(sigma(z), y), computed as
  softplus(z) - y z (derivation ``stable-bce``);
* :func:`bce_with_logits_grad`, its derivative in z, sigma(z) - y, computed as
  (1 - y) sigma(z) - y sigma(-z) (derivation ``stable-bce-gradient``).

Labels may be soft (y in [0, 1]); a label outside [0, 1], a probability
outside [0, 1], or shapes that differ get a ``ValueError`` that names them.
float32 in gives float32 out; NaN in gives NaN out.  The logit may be complex
(for complex-step differentiation): branches are chosen by its real part and
each branch is the same analytic function.

Edge cases pinned by the tests: ``bce_with_logits(40, 1)`` is about 4.2e-18
and ``bce_with_logits_grad(40, 1)`` about -4.2e-18 (PyTorch returns 0 for
both); ``bce_with_logits(-745, 0)`` is about 5e-324; ``bce(0, 0)`` is 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numeric._arrays import Array, as_float_array, real_part, scalar_or_array

__all__ = ["bce", "bce_with_logits", "bce_with_logits_grad"]


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
    nonneg = real_part(z) >= 0
    e = np.exp(np.where(nonneg, -z, z))
    return e, nonneg, np.where(nonneg, z, 0)


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
    e, _, relu = _fold(zz)
    return scalar_or_array((relu - yy * zz) + np.log1p(e))


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
    e, nonneg, _ = _fold(zz)
    return scalar_or_array(_grad_from_fold(e, nonneg, yy))


def _grad_from_fold(e: Array, nonneg: Array, y: Array) -> Array:
    """((1 - y) sigma(z) - y sigma(-z)) from e = exp(-|z|) and the sign of z."""
    a = np.where(nonneg, 1, e)  # (1 + e) sigma(z)
    c = np.where(nonneg, e, 1)  # (1 + e) sigma(-z)
    out: Array = ((1 - y) * a - y * c) / (1 + e)
    return out
