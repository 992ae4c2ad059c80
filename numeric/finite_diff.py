"""Finite differences, and a gradient checker whose tolerance is its own error estimate.

Three ways to differentiate numerically, each with an error estimate:

* **complex step**: f'(x) = Im f(x + i h) / h with h = 1e-20.  No difference
  of nearby values, so no truncation or cancellation of the usual kind: one
  evaluation per entry, accurate to the rounding of f's own arithmetic.
  Needs f to accept complex input and stay analytic.  Its error is estimated
  as 4 eps |f'|, and where that looks too small (an entry that fails), from
  the spread of three steps h, h phi, h phi^2: their truncation errors are
  all below 1e-40, so what differs between them is rounding alone.
* **Ridders' extrapolation**: central differences at h0, h0/2, h0/4, ...
  extrapolated to h = 0 in a Neville tableau.  Its error estimate is the
  larger of the tableau's differences (Numerical Recipes' ``dfridr``) and
  three times the rounding of the quotients used.  About 13 digits in 6 to
  12 evaluations on smooth f.
* **central difference**: (f(x + h) - f(x - h)) / 2h with h = eps^(1/3) |x|,
  with |D(h) - D(2h)| / 3 + eps |f| / h as its error.

The last two divide f's own rounding error by h, so their estimates need
it: each value of f is taken to be off by eps |f| or by f's measured noise,
whichever is larger (:func:`_noise`, Moré and Wild's ECnoise, 8 more
evaluations per column).  eps |f| alone is too optimistic for an f computed
through ill-conditioned steps: the cross-entropy of a saturated softmax is
about e^(margin), the margin a difference of logits summed from terms a
hundred times larger, so f's values carry tens of eps of relative noise; and
the tableau's own differences need not show it, as neighbouring rows share
most of their quotients (a hypothesis-found MLP: 1.2e-12 relative error
against an estimate of 6.5e-14).  :func:`ridders` (and :func:`jacobian` by
Ridders) measures the noise for every column; :func:`gradcheck` for the
entries that fail on eps |f|, which are then differentiated again.

:func:`gradcheck` compares an analytic gradient or Jacobian with one of them.
Unless ``rtol``/``atol`` are given, an entry passes when

    |analytic - numeric| <= SAFETY * (numeric's error estimate)
                            + ROUNDING_ULPS * eps * (|analytic| + RMS of its row)

the second term being the rounding the analytic computation itself may
carry.  Where a non-analytic f fails an entry, one-sided extrapolated
differences decide whether the entry is a *kink* (ReLU, abs, max at a tie):
it is then reported, not failed, when the analytic value equals either
one-sided derivative or lies between them (a subgradient).

``sample=k`` checks k input entries drawn at random; ``projections=k`` checks
k directional derivatives J v along random sign vectors v.  For a projection
the analytic side, sum_k J_k v_k, is summed exactly (``math.fsum``; the
products are exact for v_k = +-1), so its tolerance holds only the numeric
estimate and the analytic rounding, eps |J|_2, not a bound that grows with
the input size: one wrong entry of a 10^6-parameter gradient still shows.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from numeric._arrays import Array, as_float_array

__all__ = [
    "EntryCheck",
    "GradcheckReport",
    "assert_gradient",
    "central_difference",
    "complex_step",
    "gradcheck",
    "jacobian",
    "ridders",
]

Method = Literal["auto", "complex", "ridders", "central"]
METHODS = ("complex", "ridders", "central")
COMPLEX_STEP_H = 1e-20
# Three complex steps whose rounding differs (phi is far from any power of two).
_COMPLEX_STEPS = (
    COMPLEX_STEP_H,
    COMPLEX_STEP_H * 1.618033988749895,
    COMPLEX_STEP_H * 2.618033988749895,
)
# An entry fails only when its error exceeds the numeric error estimate this many times over.
SAFETY = 10.0
# The analytic gradient's own rounding, in eps times (|entry| + RMS of its row).
ROUNDING_ULPS = 64.0
_RIDDERS_TABLE = 10
# Ridders starts large (0.1 of the entry's scale): extrapolation removes the
# truncation error, and a large step keeps the rounding of f(x + h) - f(x - h) small.
_RIDDERS_H0 = 0.1
_RIDDERS_SHRINK = 2.0
# Ridders' estimate above this (relative) sends it back to a smaller starting step.
_RIDDERS_GOOD = 1e-9
# One-sided differences for kinks start small, so they stay on one side of a nearby kink.
_ONE_SIDED_H0 = 1e-3
# f's noise (ECnoise) from _NOISE_POINTS values _NOISE_STEP max(|x_k|, 1) apart: small
# enough that the smooth part of f is gone from the 2nd to 6th differences, large enough to
# change the input's bits (and so every rounding downstream of it).
_NOISE_POINTS = 9
_NOISE_STEP = 1e-9
_WORST_SHOWN = 5
_F64_EPS = float(np.finfo(np.float64).eps)


class _NotAnalytic(Exception):
    pass


class _Counted:
    """Wraps f: counts evaluations and tracks the precision f computes in."""

    def __init__(self, f: Callable[[Array], Any]) -> None:
        self.f = f
        self.calls = 0
        self.eps = _F64_EPS

    def __call__(self, x: Array) -> Array:
        self.calls += 1
        out = np.asarray(self.f(x))
        if out.dtype.kind not in "fc":
            out = out.astype(np.float64)
        # A float32 result from float64 input: f computes in float32.
        self.eps = max(self.eps, float(np.finfo(out.dtype).eps))
        return out


def _direction(x: Array, v: Array, h: complex | float) -> Array:
    return x + h * v.reshape(x.shape)


def _basis(n: int, k: int) -> Array:
    e = np.zeros(n)
    e[k] = 1.0
    return e


def _step(x: Array, k: int | None, relative: float) -> float:
    size = float(np.max(np.abs(x), initial=0.0)) if k is None else abs(float(x.reshape(-1)[k]))
    return relative * max(size, 1.0)


# ----------------------------------------------------------------------------------------
# Columns of the Jacobian: the derivative along v, with an error estimate per output.
# ----------------------------------------------------------------------------------------


def _complex_quotient(f: _Counted, x: Array, v: Array, h: float) -> Array:
    out = f(_direction(x.astype(np.complex128), v, 1j * h))
    if not np.iscomplexobj(out):
        raise _NotAnalytic("f returned a real result for complex input")
    quotient: Array = np.asarray(out.imag.ravel() / h)
    return quotient


def _complex_column(
    f: _Counted, x: Array, v: Array, f0: Array, *, spread: bool, f_term: bool
) -> tuple[Array, Array]:
    """Im f(x + i h v) / h and its rounding estimate.

    ``f_term``: add eps |f|, the rounding of f's real arithmetic reaching the
    imaginary part (a complex division b c - a d cancels at the scale of f,
    whatever the step: softmax of a dominant logit shows it).  ``spread``:
    take at least the spread over three steps h, h phi, h phi^2, which
    measures the rounding that does depend on the step.
    """
    col = _complex_quotient(f, x, v, _COMPLEX_STEPS[0])
    est = 4 * f.eps * np.abs(col)
    if f_term:
        est = est + f.eps * np.abs(f0.ravel())
    if spread:
        others = [_complex_quotient(f, x, v, h) for h in _COMPLEX_STEPS[1:]]
        est = np.maximum(est, np.max([np.abs(o - col) for o in others], axis=0))
    return col, est


def _central_column(
    f: _Counted, x: Array, v: Array, h: float, noise: Array | float = 0.0
) -> tuple[Array, Array]:
    """(f(x + h v) - f(x - h v)) / 2h; error |D(h) - D(2h)| / 3 + (f's rounding) / h,
    the rounding eps |f| or ``noise`` (f's measured noise), whichever is larger."""
    f1, f2 = f(_direction(x, v, h)).ravel(), f(_direction(x, v, -h)).ravel()
    f3, f4 = f(_direction(x, v, 2 * h)).ravel(), f(_direction(x, v, -2 * h)).ravel()
    d1 = (f1 - f2) / (2 * h)
    d2 = (f3 - f4) / (4 * h)
    scale = np.maximum(np.abs(f1), np.abs(f2))
    return d1, np.abs(d1 - d2) / 3 + np.maximum(f.eps * scale, noise) / h


def _tableau(
    diff: Callable[[float], tuple[Array, Array]], h0: float, shrink: float, order_step: int
) -> tuple[Array, Array]:
    """Neville extrapolation of diff(h) to h = 0, with Ridders' error estimate.

    ``diff(h)`` returns the difference quotient and its rounding error.
    ``order_step`` is 2 for central differences (error in even powers of h)
    and 1 for one-sided ones.  The best entry of the tableau is kept per
    output, its error being the larger of Ridders' estimate and three times
    the rounding of the quotients (the extrapolation weights amplify rounding
    by up to that much).  The search stops once rounding has won.
    """
    first, rounding = diff(h0)
    table: list[list[Array]] = [[first]]
    best = first.copy()
    err = np.full_like(best, np.inf)
    h = h0
    factor = shrink**order_step
    for i in range(1, _RIDDERS_TABLE):
        h /= shrink
        quotient, r = diff(h)
        rounding = np.maximum(rounding, r)
        row = [quotient]
        fac = factor
        for j in range(1, i + 1):
            row.append((row[j - 1] * fac - table[i - 1][j - 1]) / (fac - 1))
            fac *= factor
            e = np.maximum(np.abs(row[j] - row[j - 1]), np.abs(row[j] - table[i - 1][j - 1]))
            e = np.maximum(e, 3 * rounding)
            better = e <= err
            best = np.where(better, row[j], best)
            err = np.where(better, e, err)
        table.append(row)
        # Rounding has won: the best sits on the rounding floor, or the highest
        # order is worse than the best by a factor 2 (Ridders' own test).
        if np.all(err <= 3 * rounding) or np.all(np.abs(row[i] - table[i - 1][i - 1]) >= 2 * err):
            break
    return best, err


def _ridders_column(
    f: _Counted, x: Array, v: Array, h0: float, noise: Array | float = 0.0
) -> tuple[Array, Array]:
    """Ridders from h0; restarted from h0/100, then h0/10^4, where the estimate stays poor.

    A kink (abs, max) within the steps spoils the extrapolation, and Ridders'
    estimate then says so; at a smaller scale the kink is out of reach and the
    central difference of a piecewise smooth f is accurate again.  The answer
    with the smallest estimate is kept, per output.

    Each value of f is taken to be off by eps |f| or by ``noise`` (f's measured
    rounding noise, per output), whichever is larger; a quotient at step h, by
    that over h.
    """

    roundings: list[Array] = []

    def central(h: float) -> tuple[Array, Array]:
        up, down = f(_direction(x, v, h)).ravel(), f(_direction(x, v, -h)).ravel()
        rounding = np.maximum(f.eps * (np.abs(up) + np.abs(down)) / 2, noise) / h
        roundings.append(rounding)
        return (up - down) / (2 * h), rounding

    col, err = _tableau(central, h0, _RIDDERS_SHRINK, 2)
    # The rounding seen at the first, largest step bounds every answer's error from
    # below: a restart at a smaller step sees smaller values of f where f(x) = 0,
    # but not less noise from the cancellations inside f.
    floor = 3 * roundings[0]
    for restart in (1e-2, 1e-4):
        good = err <= _RIDDERS_GOOD * (np.abs(col) + np.sqrt(np.mean(col**2)))
        if np.all(good):
            break
        again, again_err = _tableau(central, h0 * restart, _RIDDERS_SHRINK, 2)
        better = again_err < err
        col, err = np.where(better, again, col), np.where(better, again_err, err)
    return col, np.maximum(err, floor) + f.eps * np.abs(col)


def _one_sided(
    f: _Counted, x: Array, v: Array, h0: float, side: int, f0: Array
) -> tuple[Array, Array]:
    def diff(h: float) -> tuple[Array, Array]:
        moved = f(_direction(x, v, side * h)).ravel()
        return (moved - f0) / (side * h), f.eps * (np.abs(moved) + np.abs(f0)) / h

    col, err = _tableau(diff, h0, 2.0, 1)
    return col, err + f.eps * np.abs(col)


def _column(
    method: str,
    f: _Counted,
    x: Array,
    v: Array,
    k: int | None,
    f0: Array,
    noise: Array | float = 0.0,
) -> tuple[Array, Array]:
    if method == "complex":
        # An entry: cheap estimate, with eps |f|.  A projection, whose f may sum
        # 10^6 terms: the measured spread, so the tolerance does not grow with n.
        return _complex_column(f, x, v, f0, spread=k is None, f_term=k is not None)
    if method == "ridders":
        return _ridders_column(f, x, v, _step(x, k, _RIDDERS_H0), noise)
    return _central_column(f, x, v, _step(x, k, _F64_EPS ** (1 / 3)), noise)


def _noise(f: _Counted, x: Array, v: Array, k: int | None, f0: Array) -> Array:
    """f's rounding noise along v, per output: Moré and Wild's ECnoise.

    J. J. Moré and S. M. Wild, "Estimating computational noise", SIAM J. Sci.
    Comput. 33 (2011).  With f_j = f(x + j s v), j = 0..m, the k-th differences
    of the smooth part of f shrink like s^k while those of independent noise of
    standard deviation sigma keep sigma^2 = gamma_k mean((Delta^k f)^2), gamma_k =
    (k!)^2 / (2k)!.  The estimate is the level of the first order k whose
    differences change sign (noise, not a smooth trend) and whose level agrees
    within a factor 4 with the next two orders.  Where no order qualifies (f is
    constant at this resolution, or smooth to the last digit), 0: the caller's
    eps |f| stands.  The points are on one side of x, j = 0..m, as in Moré and
    Wild: a kink at x itself (ReLU at 0, abs at 0) then lies outside them; one
    between them would pass for noise of size |jump in slope| s.
    """
    s = _step(x, k, _NOISE_STEP)
    values = [f0.ravel()] + [f(_direction(x, v, j * s)).ravel() for j in range(1, _NOISE_POINTS)]
    diff = np.stack(values)
    gamma = 1.0
    levels, changes = [], []
    with np.errstate(invalid="ignore", over="ignore"):  # inf in f: no order qualifies
        for order in range(1, _NOISE_POINTS):
            diff = np.diff(diff, axis=0)
            gamma *= order / (2 * (2 * order - 1))  # (k!)^2 / (2k)! from (k-1)'s
            levels.append(np.sqrt(gamma * np.mean(diff**2, axis=0)))
            changes.append((np.max(diff, axis=0) > 0) & (np.min(diff, axis=0) < 0))
    sigma: Array = np.zeros_like(levels[0])
    found = np.zeros(sigma.shape, dtype=bool)
    for order in range(len(levels) - 2):
        window = np.stack(levels[order : order + 3])
        agree = np.max(window, axis=0) <= 4 * np.min(window, axis=0)
        take = ~found & agree & changes[order]
        sigma = np.where(take, levels[order], sigma)
        found |= take
    return sigma


# ----------------------------------------------------------------------------------------
# Public differentiation functions
# ----------------------------------------------------------------------------------------


def _prepare(f: Callable[[Array], Any], x: ArrayLike) -> tuple[_Counted, Array, Array]:
    """f wrapped, x as float64 (float32 input is evaluated in float64), and f(x)."""
    xa = as_float_array(x, "x", allow_complex=False).astype(np.float64)
    counted = _Counted(f)
    f0 = counted(xa)
    if not np.all(np.isfinite(f0)):
        raise ValueError(f"f(x) is not finite (shape {f0.shape}): cannot differentiate here")
    return counted, xa, f0


def _check_method(method: str) -> None:
    if method not in ("auto", *METHODS):
        raise ValueError(
            f"method must be 'auto', 'complex', 'ridders' or 'central', got {method!r}"
        )


def _jacobian_by(method: str, f: Callable[[Array], Any], x: ArrayLike) -> tuple[Array, Array]:
    _check_method(method)
    counted, xa, f0 = _prepare(f, x)
    if method == "auto":
        method = _choose_method(counted, xa, np.random.default_rng(0))
    n = xa.size
    shape = f0.shape + xa.shape
    if n == 0:
        return np.zeros(shape), np.zeros(shape)
    columns = []
    for k in range(n):
        v = _basis(n, k)
        # Ridders' differences divide f's rounding by h, and it picks its step by the
        # estimate: measure f's noise.  (Only the central difference's estimate, which
        # central_difference does not return, would use it; the complex step divides none.)
        noise = _noise(counted, xa, v, k, f0) if method == "ridders" else 0.0
        columns.append(_column(method, counted, xa, v, k, f0, noise))
    jac = np.stack([c for c, _ in columns], axis=-1).reshape(shape)
    err = np.stack([e for _, e in columns], axis=-1).reshape(shape)
    return jac, err


def complex_step(f: Callable[[Array], Any], x: ArrayLike) -> Array:
    """The Jacobian of f at x by the complex step, shape f(x).shape + x.shape.

    f must accept complex arrays and be analytic (no abs, no comparisons of
    complex values, no casts to real).  Accurate to the rounding of f; a
    derivative below about 1e-288 underflows (h f' must stay a normal number).
    """
    return _jacobian_by("complex", f, x)[0]


def central_difference(f: Callable[[Array], Any], x: ArrayLike) -> Array:
    """The Jacobian of f at x by central differences, shape f(x).shape + x.shape."""
    return _jacobian_by("central", f, x)[0]


def ridders(f: Callable[[Array], Any], x: ArrayLike) -> tuple[Array, Array]:
    """The Jacobian of f at x by Ridders' extrapolation, and its error estimate.

    The estimate includes f's own rounding noise, measured along each input
    (see the module's notes); 8 of the evaluations per input are for that.
    """
    return _jacobian_by("ridders", f, x)


def jacobian(f: Callable[[Array], Any], x: ArrayLike, method: Method = "auto") -> Array:
    """The Jacobian of f at x, shape f(x).shape + x.shape, by ``method``.

    ``"auto"`` takes the complex step when f is analytic (see :func:`gradcheck`)
    and Ridders' extrapolation otherwise.
    """
    return _jacobian_by(method, f, x)[0]


# ----------------------------------------------------------------------------------------
# gradcheck
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryCheck:
    """One checked entry: index (output index + input index), values and verdict.

    For projections the index is (projection number, output index...).
    """

    index: tuple[int, ...]
    analytic: float
    numeric: float
    error_estimate: float
    tolerance: float
    status: Literal["ok", "mismatch", "kink"]
    note: str = ""

    @property
    def abs_error(self) -> float:
        return abs(self.analytic - self.numeric)

    @property
    def rel_error(self) -> float:
        scale = max(abs(self.numeric), abs(self.analytic))
        return self.abs_error / scale if scale > 0 else 0.0


@dataclass(frozen=True)
class GradcheckReport:
    """What :func:`gradcheck` found.  ``str(report)`` is a readable summary."""

    ok: bool
    method: str
    evaluations: int
    checked: int
    total: int
    entries: tuple[EntryCheck, ...] = field(repr=False)
    tolerance_rule: str = ""
    elapsed_s: float = 0.0
    unit: str = "entries"

    @property
    def mismatches(self) -> tuple[EntryCheck, ...]:
        return tuple(e for e in self.entries if e.status == "mismatch")

    @property
    def kinks(self) -> tuple[EntryCheck, ...]:
        return tuple(e for e in self.entries if e.status == "kink")

    @property
    def worst(self) -> tuple[EntryCheck, ...]:
        """Entries by how far they exceed their tolerance, mismatches first."""

        def badness(e: EntryCheck) -> tuple[bool, float]:
            return (e.status == "mismatch", e.abs_error / max(e.tolerance, 1e-300))

        return tuple(sorted(self.entries, key=badness, reverse=True)[:_WORST_SHOWN])

    @property
    def max_abs_error(self) -> float:
        return max((e.abs_error for e in self.entries if e.status != "kink"), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((e.rel_error for e in self.entries if e.status != "kink"), default=0.0)

    def __str__(self) -> str:
        verdict = "passed" if self.ok else f"FAILED: {len(self.mismatches)} mismatched"
        what = f"{self.checked} of {self.total}" if self.checked != self.total else f"{self.total}"
        lines = [
            f"gradcheck {verdict} ({what} {self.unit}; method {self.method};"
            f" {self.evaluations} evaluations of f; {self.elapsed_s:.2f} s)",
            f"tolerance: {self.tolerance_rule}",
            f"max abs error {self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g}",
            f"{'index':>14}  {'analytic':>23}  {'numeric':>23}"
            f"  {'rel err':>8}  {'estimate':>8}  status",
        ]
        for e in self.worst:
            lines.append(
                f"{e.index!s:>14}  {e.analytic:>23.16g}  {e.numeric:>23.16g}  {e.rel_error:>8.1e}"
                f"  {e.error_estimate:>8.1e}  {e.status}{': ' + e.note if e.note else ''}"
            )
        shown = {e.index for e in self.worst}
        lines += [f"{e.index!s:>14}  kink: {e.note}" for e in self.kinks if e.index not in shown]
        return "\n".join(lines)


def _analytic(
    grad: Callable[[Array], Any] | ArrayLike, x: Array, out_shape: tuple[int, ...]
) -> Array:
    g = grad(x) if callable(grad) else grad
    if isinstance(g, tuple):
        raise TypeError("grad returned a tuple; give a function returning one array (the Jacobian)")
    ga = np.asarray(g)
    if ga.dtype.kind not in "biuf":
        raise TypeError(f"grad must give real numbers, got dtype {ga.dtype}")
    expected = out_shape + x.shape
    if ga.shape != expected:
        raise ValueError(
            f"grad has shape {ga.shape}; expected f(x).shape + x.shape = {out_shape} + {x.shape}"
        )
    return ga


def _choose_method(f: _Counted, x: Array, rng: np.random.Generator) -> str:
    """Complex step if f takes complex input and agrees with Ridders along a random direction.

    A non-analytic f (abs, max, a cast to real) either rejects complex input,
    returns a real result, or gives a directional derivative that disagrees
    with the real one; at a kink the central difference is the average of
    the one-sided slopes, which the complex step (one-sided) does not match.
    """
    v = rng.choice([-1.0, 1.0], size=x.size)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            col = _complex_quotient(f, x, v, COMPLEX_STEP_H)
    except (_NotAnalytic, TypeError, ValueError):
        return "ridders"
    if not np.all(np.isfinite(col)):
        return "ridders"
    ref, err = _ridders_column(f, x, v, _step(x, None, _RIDDERS_H0))
    agree = np.abs(col - ref) <= SAFETY * err + 1e3 * f.eps * (np.abs(ref) + 1)
    return "complex" if bool(np.all(agree)) else "ridders"


def _kink_note(
    f: _Counted, x: Array, k: int, out: int, analytic: float, f0: Array
) -> tuple[bool, str]:
    """(is the entry a kink, a note on which side the analytic value matched)."""
    v = _basis(x.size, k)
    h0 = _step(x, k, _ONE_SIDED_H0)
    right, err_r = _one_sided(f, x, v, h0, +1, f0)
    left, err_l = _one_sided(f, x, v, h0, -1, f0)
    lo, hi, el, er = left[out], right[out], err_l[out], err_r[out]
    floor = 1e3 * f.eps
    if abs(hi - lo) <= SAFETY * (el + er) + floor * max(abs(lo), abs(hi), 1.0):
        return False, ""
    if abs(analytic - lo) <= SAFETY * el + floor * max(abs(lo), 1.0):
        side = "matches the left derivative"
    elif abs(analytic - hi) <= SAFETY * er + floor * max(abs(hi), 1.0):
        side = "matches the right derivative"
    elif min(lo, hi) < analytic < max(lo, hi):
        side = "lies between them (a subgradient)"
    else:
        return True, f"analytic outside [left {lo:.6g}, right {hi:.6g}]"
    return True, f"left {lo:.6g}, right {hi:.6g}; analytic {side}"


def _tolerance(
    est: Array, num: Array, rtol: float | None, atol: float | None, rounding: Array
) -> Array:
    if rtol is None and atol is None:
        return SAFETY * est + rounding
    return (atol or 0.0) + (rtol or 0.0) * np.abs(num)


def _rule_text(rtol: float | None, atol: float | None, rounding: str) -> str:
    if rtol is None and atol is None:
        return f"{SAFETY:g} x the method's error estimate + {ROUNDING_ULPS:g} eps {rounding}"
    return f"atol {atol or 0:g} + rtol {rtol or 0:g} x |numeric|"


def _entry(index: tuple[int, ...], ana: float, num: float, est: float, tol: float) -> EntryCheck:
    ok = abs(ana - num) <= tol or (math.isnan(ana) and math.isnan(num))
    return EntryCheck(
        index, float(ana), float(num), float(est), float(tol), "ok" if ok else "mismatch"
    )


@dataclass
class _Check:
    """What every part of one gradcheck needs."""

    f: _Counted
    x: Array
    f0: Array
    jac: Array  # analytic, (outputs, inputs), float64
    method: str
    rtol: float | None
    atol: float | None
    eps: float

    def rounding(self, rows: Array) -> Array:
        """The analytic values' own rounding: eps (|entry| + RMS of the row)."""
        rms = np.sqrt(np.mean(self.jac**2, axis=1))
        rounding: Array = ROUNDING_ULPS * self.eps * (np.abs(rows) + rms)
        return rounding

    def entry_column(self, k: int) -> list[EntryCheck]:
        n = self.x.size
        num, est = _column(self.method, self.f, self.x, _basis(n, k), k, self.f0)
        ana = self.jac[:, k]
        tol = _tolerance(est, num, self.rtol, self.atol, self.rounding(ana))
        entries = [self._entry_at(out, k, ana, num, est, tol) for out in range(self.f0.size)]
        if any(e.status == "mismatch" for e in entries) and self.rtol is None and self.atol is None:
            entries = self._second_look(k, num, est, entries)
        return entries

    def _entry_at(
        self, out: int, k: int, ana: Array, num: Array, est: Array, tol: Array
    ) -> EntryCheck:
        index = (*np.unravel_index(out, self.f0.shape), *np.unravel_index(k, self.x.shape))
        return _entry(tuple(int(i) for i in index), ana[out], num[out], est[out], tol[out])

    def _again_with_noise(
        self, v: Array, k: int | None, num: Array, est: Array, fails: Array, rounding: Array
    ) -> tuple[Array, Array, Array] | None:
        """Where f's measured noise exceeds eps |f|: the failing outputs differentiated
        again with it; (num, est, tol) with the others as they were, or None."""
        noise = _noise(self.f, self.x, v, k, self.f0)
        if not np.any(noise > self.f.eps * np.abs(self.f0.ravel())):
            return None
        again, again_est = _column(self.method, self.f, self.x, v, k, self.f0, noise)
        num, est = np.where(fails, again, num), np.where(fails, again_est, est)
        return num, est, _tolerance(est, num, None, None, rounding)

    def _second_look(
        self, k: int, num: Array, est: Array, entries: list[EntryCheck]
    ) -> list[EntryCheck]:
        """A failing entry: the complex step's rounding measured; or f's noise measured
        (and the entry differentiated again with it, if it exceeds eps |f|), then a
        kink looked for."""
        v = _basis(self.x.size, k)
        ana = self.jac[:, k]
        if self.method == "complex":
            num, est = _complex_column(self.f, self.x, v, self.f0, spread=True, f_term=True)
            tol = _tolerance(est, num, None, None, self.rounding(ana))
            return [self._entry_at(out, k, ana, num, est, tol) for out in range(self.f0.size)]
        fails = np.array([e.status != "ok" for e in entries])
        redone = self._again_with_noise(v, k, num, est, fails, self.rounding(ana))
        if redone is not None:
            num, est, tol = redone
            entries = [self._entry_at(out, k, ana, num, est, tol) for out in range(self.f0.size)]
        out_entries = []
        for out, e in enumerate(entries):
            if e.status == "mismatch":
                is_kink, note = _kink_note(self.f, self.x, k, out, e.analytic, self.f0.ravel())
                if is_kink:
                    e = replace(
                        e,
                        status="mismatch" if note.startswith("analytic outside") else "kink",
                        note=note,
                    )
            out_entries.append(e)
        return out_entries

    def projection(self, p: int, v: Array) -> list[EntryCheck]:
        num, est = _column(self.method, self.f, self.x, v, None, self.f0)
        ana = np.array([math.fsum(row * v) for row in self.jac])
        rounding = ROUNDING_ULPS * self.eps * np.sqrt(np.sum(self.jac**2, axis=1))
        tol = _tolerance(est, num, self.rtol, self.atol, rounding)
        fails = np.abs(ana - num) > tol
        if np.any(fails) and self.method != "complex" and self.rtol is None and self.atol is None:
            redone = self._again_with_noise(v, None, num, est, fails, rounding)
            if redone is not None:
                num, est, tol = redone
        return [
            _entry(
                (p, *(int(i) for i in np.unravel_index(out, self.f0.shape))),
                ana[out],
                num[out],
                est[out],
                tol[out],
            )
            for out in range(self.f0.size)
        ]


def gradcheck(
    f: Callable[[Array], Any],
    grad: Callable[[Array], Any] | ArrayLike,
    x: ArrayLike,
    *,
    method: Method = "auto",
    rtol: float | None = None,
    atol: float | None = None,
    sample: int | None = None,
    projections: int | None = None,
    seed: int = 0,
) -> GradcheckReport:
    """Compare an analytic gradient (or Jacobian) of f at x with finite differences.

    Parameters
    ----------
    f:
        R^n -> R or R^m; ``x`` any shape, f(x) a scalar or any shape.
    grad:
        The analytic derivative: a function of x, or an array, of shape
        f(x).shape + x.shape (for scalar f, x.shape).
    method:
        ``"auto"`` (complex step if f is analytic, else Ridders), ``"complex"``,
        ``"ridders"`` or ``"central"``.
    rtol, atol:
        Fixed tolerances.  Left out, each entry's tolerance is SAFETY times the
        method's own error estimate plus the analytic value's rounding.
    sample:
        Check only this many input entries, drawn at random.
    projections:
        Instead of entries, check this many directional derivatives J v along
        random sign vectors v (three evaluations each with the complex step).
    seed:
        Seeds the sample, the projections and the analyticity probe.

    float32 ``x``: f is evaluated at x in float64 (if f itself computes in
    float32, its rounding is taken as float32's), and the analytic gradient is
    compared with a rounding floor scaled to float32 eps: no false failures
    come from float32.
    """
    start = time.perf_counter()
    _check_method(method)
    if sample is not None and projections is not None:
        raise ValueError("give sample or projections, not both")
    if sample is not None and sample < 1:
        raise ValueError(f"sample must be at least 1, got {sample}")
    if projections is not None and projections < 1:
        raise ValueError(f"projections must be at least 1, got {projections}")
    x_in = np.asarray(x)
    counted, xa, f0 = _prepare(f, x)
    g = _analytic(grad, x_in, f0.shape)
    rng = np.random.default_rng(seed)
    chosen = _choose_method(counted, xa, rng) if method == "auto" else method
    eps = max(counted.eps, float(np.finfo(g.dtype).eps) if g.dtype.kind == "f" else _F64_EPS)
    if x_in.dtype == np.float32:
        eps = max(eps, float(np.finfo(np.float32).eps))
    check = _Check(
        counted, xa, f0, g.reshape(f0.size, xa.size).astype(np.float64), chosen, rtol, atol, eps
    )

    entries: list[EntryCheck] = []
    if projections is not None:
        for p in range(projections):
            entries += check.projection(p, rng.choice([-1.0, 1.0], size=xa.size))
        total = projections * f0.size
        rule = "J v, v random signs; " + _rule_text(rtol, atol, "|J row|_2")
    else:
        n = xa.size
        ks = (
            range(n)
            if sample is None or sample >= n
            else np.sort(rng.choice(n, sample, replace=False))
        )
        for k in ks:
            entries += check.entry_column(int(k))
        total = f0.size * n
        rule = _rule_text(rtol, atol, "(|entry| + row RMS)")
    if eps > _F64_EPS:
        rule += " (eps of float32)"
    names = {"complex": "complex step", "ridders": "Ridders", "central": "central difference"}
    return GradcheckReport(
        ok=not any(e.status == "mismatch" for e in entries),
        method=names[chosen] + (" (auto)" if method == "auto" else ""),
        evaluations=counted.calls,
        checked=len(entries),
        total=total,
        entries=tuple(entries),
        tolerance_rule=rule,
        elapsed_s=time.perf_counter() - start,
        unit="directional derivatives" if projections is not None else "entries",
    )


def assert_gradient(
    f: Callable[[Array], Any], grad: Callable[[Array], Any] | ArrayLike, x: ArrayLike, **kwargs: Any
) -> GradcheckReport:
    """Like :func:`gradcheck`, but raise ``AssertionError`` (with the report) on a mismatch."""
    report = gradcheck(f, grad, x, **kwargs)
    if not report.ok:
        raise AssertionError("\n" + str(report))
    return report
