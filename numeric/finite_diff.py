"""Finite differences and a gradient checker that turns its own error estimate into the tolerance.

Three ways to differentiate numerically, each with an error estimate:

* **complex step**: f'(x) = Im f(x + i h) / h with h = 1e-20.  No subtraction,
  so no cancellation: accurate to the rounding of f itself, in one
  evaluation per entry.  Needs f to accept complex input and stay analytic.
* **Ridders' extrapolation**: central differences at shrinking steps,
  extrapolated to h = 0 in a Neville tableau; the tableau's differences
  estimate the error (Numerical Recipes, ``dfridr``).  About 14 digits in
  6 to 12 evaluations, on any smooth f.
* **central difference**: (f(x + h) - f(x - h)) / 2h with h = eps^(1/3) |x|,
  compared with the step 2h for a truncation estimate.

:func:`gradcheck` compares an analytic gradient (or Jacobian) with one of
them.  An entry passes when

    |analytic - numeric| <= atol + rtol |numeric|            (if given), else
    |analytic - numeric| <= SAFETY * (numeric's error estimate + rounding floor)

Where the central check fails for a non-analytic f, the entry is examined
with one-sided differences: if the left and right derivatives disagree the
entry is a *kink* (ReLU, abs, max at a tie) and is reported, not failed, when
the analytic value equals either one-sided value or lies between them.

``sample=`` checks a random subset of the entries; ``projections=`` checks
directional derivatives J v along random sign vectors v, whose tolerance
is the numeric error estimate of J v plus the rounding of the dot product,
so a wrong entry shows up whatever the input size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
COMPLEX_STEP_H = 1e-20
# An entry fails only when its error exceeds the error estimate this many times over.
SAFETY = 10.0
# Rounding floor, in eps: of the analytic entry (its size and its row's RMS) and of
# the arithmetic of f (|f| per unit of x: the imaginary part of a complex division,
# for one, cancels at that scale).
ROUNDING_ULPS = 64.0
_RIDDERS_TABLE = 10
# Ridders starts large (0.1 of the entry's scale): extrapolation removes the
# truncation error, and a large step keeps the rounding of f(x + h) - f(x - h) small.
_RIDDERS_H0 = 0.1
_RIDDERS_SHRINK = 2.0
_WORST_SHOWN = 5


class _Counted:
    """Wraps f: counts evaluations, returns float arrays, rejects non-finite output."""

    def __init__(self, f: Callable[[Array], Any], dtype: np.dtype[Any]) -> None:
        self.f = f
        self.dtype = dtype
        self.calls = 0

    def __call__(self, x: Array) -> Array:
        self.calls += 1
        out = np.asarray(self.f(x))
        if out.dtype.kind not in "fc":
            out = out.astype(np.float64)
        return out


# ----------------------------------------------------------------------------------------
# Columns of the Jacobian: d f / d x_k for one input entry k, with an error estimate.
# ----------------------------------------------------------------------------------------


def _unit(x: Array, k: int, h: float, dtype: Any = None) -> Array:
    xp = np.array(x, dtype=dtype or x.dtype, copy=True)
    xp.reshape(-1)[k] += h
    return xp


def _direction(x: Array, v: Array, h: complex | float) -> Array:
    return x + h * v.reshape(x.shape)


def _complex_column(f: _Counted, x: Array, v: Array) -> tuple[Array, Array]:
    """Im f(x + i h v) / h and its rounding estimate."""
    out = f(_direction(x.astype(np.complex128), v, 1j * COMPLEX_STEP_H))
    if not np.iscomplexobj(out):
        raise _NotAnalytic("f returned a real result for complex input")
    col = out.imag.ravel() / COMPLEX_STEP_H
    eps = np.finfo(np.float64).eps
    return col, 4 * eps * np.abs(col)


def _central_column(f: _Counted, x: Array, v: Array, h: float) -> tuple[Array, Array]:
    """Central difference at h, with |D(h) - D(2h)| / 3 + eps |f| / h as its error."""
    f1, f2 = f(_direction(x, v, h)).ravel(), f(_direction(x, v, -h)).ravel()
    f3, f4 = f(_direction(x, v, 2 * h)).ravel(), f(_direction(x, v, -2 * h)).ravel()
    d1 = (f1 - f2) / (2 * h)
    d2 = (f3 - f4) / (4 * h)
    eps = np.finfo(np.float64).eps
    scale = np.maximum(np.abs(f1), np.abs(f2))
    return d1, np.abs(d1 - d2) / 3 + eps * scale / h


def _tableau(
    diff: Callable[[float], tuple[Array, Array]], h0: float, shrink: float, order_step: int
) -> tuple[Array, Array]:
    """Neville extrapolation of diff(h) to h = 0, with Ridders' error estimate.

    ``diff(h)`` returns the difference quotient and its rounding error.
    ``order_step`` is 2 for central differences (error in even powers of h)
    and 1 for one-sided ones.  The best entry of the tableau is kept per
    output component, its error being the larger of Ridders' estimate and
    three times the rounding of the quotients it uses (the extrapolation
    weights amplify rounding by up to that much); the search stops once the
    error grows.
    """
    first, rounding = diff(h0)
    table: list[list[Array]] = [[first]]
    best = first.copy()
    err = np.full_like(best, np.inf)
    h = h0
    for i in range(1, _RIDDERS_TABLE):
        h /= shrink
        quotient, r = diff(h)
        rounding = np.maximum(rounding, r)
        row = [quotient]
        factor = shrink**order_step
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
        # Stop once rounding has won: the best entry sits on the rounding floor,
        # or the highest order is worse than the best by a factor 2.
        if np.all(err <= 3 * rounding) or np.all(np.abs(row[i] - table[i - 1][i - 1]) >= 2 * err):
            break
    return best, err


_EPS = float(np.finfo(np.float64).eps)


def _ridders_column(f: _Counted, x: Array, v: Array, h0: float) -> tuple[Array, Array]:
    def central(h: float) -> tuple[Array, Array]:
        up, down = f(_direction(x, v, h)).ravel(), f(_direction(x, v, -h)).ravel()
        return (up - down) / (2 * h), _EPS * (np.abs(up) + np.abs(down)) / (2 * h)

    col, err = _tableau(central, h0, _RIDDERS_SHRINK, 2)
    return col, err + _EPS * np.abs(col)


def _one_sided(
    f: _Counted, x: Array, v: Array, h0: float, side: int, f0: Array
) -> tuple[Array, Array]:
    def diff(h: float) -> tuple[Array, Array]:
        moved = f(_direction(x, v, side * h)).ravel()
        return (moved - f0) / (side * h), _EPS * (np.abs(moved) + np.abs(f0)) / h

    col, err = _tableau(diff, h0, 2.0, 1)
    return col, err + np.finfo(np.float64).eps * np.abs(col)


def _step(x: Array, k: int | None, relative: float) -> float:
    size = float(np.max(np.abs(x))) if k is None else abs(float(x.reshape(-1)[k]))
    return relative * max(size, 1.0)


class _NotAnalytic(Exception):
    pass


def _column(method: str, f: _Counted, x: Array, v: Array, k: int | None) -> tuple[Array, Array]:
    if method == "complex":
        return _complex_column(f, x, v)
    if method == "ridders":
        return _ridders_column(f, x, v, _step(x, k, _RIDDERS_H0))
    return _central_column(f, x, v, _step(x, k, np.finfo(np.float64).eps ** (1 / 3)))


def _basis(n: int, k: int) -> Array:
    e = np.zeros(n)
    e[k] = 1.0
    return e


# ----------------------------------------------------------------------------------------
# Public differentiation functions
# ----------------------------------------------------------------------------------------


def _prepare(f: Callable[[Array], Any], x: ArrayLike) -> tuple[_Counted, Array, Array]:
    xa = as_float_array(x, "x", allow_complex=False)
    counted = _Counted(f, xa.dtype)
    f0 = counted(xa.astype(np.float64))
    if not np.all(np.isfinite(f0)):
        raise ValueError(f"f(x) is not finite (shape {f0.shape}): cannot differentiate here")
    return counted, xa.astype(np.float64), f0


def _jacobian_by(method: str, f: Callable[[Array], Any], x: ArrayLike) -> tuple[Array, Array, int]:
    counted, xa, f0 = _prepare(f, x)
    n = xa.size
    cols, errs = [], []
    for k in range(n):
        col, err = _column(method, counted, xa, _basis(n, k), k)
        cols.append(col)
        errs.append(err)
    shape = f0.shape + xa.shape
    jac = np.stack(cols, axis=-1).reshape(shape) if n else np.zeros(shape)
    err = np.stack(errs, axis=-1).reshape(shape) if n else np.zeros(shape)
    return jac, err, counted.calls


def complex_step(f: Callable[[Array], Any], x: ArrayLike) -> Array:
    """The Jacobian of f at x by the complex step, shape f(x).shape + x.shape.

    f must accept complex arrays and be analytic (no abs, comparisons on the
    imaginary part, or casts to real).  Accurate to the rounding of f.
    """
    return _jacobian_by("complex", f, x)[0]


def central_difference(f: Callable[[Array], Any], x: ArrayLike) -> Array:
    """The Jacobian of f at x by central differences, shape f(x).shape + x.shape."""
    return _jacobian_by("central", f, x)[0]


def ridders(f: Callable[[Array], Any], x: ArrayLike) -> tuple[Array, Array]:
    """The Jacobian of f at x by Ridders' extrapolation, and its error estimate."""
    jac, err, _ = _jacobian_by("ridders", f, x)
    return jac, err


def jacobian(f: Callable[[Array], Any], x: ArrayLike, method: Method = "auto") -> Array:
    """The Jacobian of f at x, shape f(x).shape + x.shape, by ``method``.

    ``"auto"`` takes the complex step when f is analytic (see :func:`gradcheck`)
    and Ridders' extrapolation otherwise.
    """
    chosen: str = method
    if method == "auto":
        counted, xa, _ = _prepare(f, x)
        chosen = _choose_method(counted, xa, np.random.default_rng(0))
    if chosen not in ("complex", "ridders", "central"):
        raise ValueError(
            f"method must be 'auto', 'complex', 'ridders' or 'central', got {method!r}"
        )
    return _jacobian_by(chosen, f, x)[0]


# ----------------------------------------------------------------------------------------
# gradcheck
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryCheck:
    """One checked entry: index (output index + input index), values and verdict."""

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

    @property
    def mismatches(self) -> tuple[EntryCheck, ...]:
        return tuple(e for e in self.entries if e.status == "mismatch")

    @property
    def kinks(self) -> tuple[EntryCheck, ...]:
        return tuple(e for e in self.entries if e.status == "kink")

    @property
    def worst(self) -> tuple[EntryCheck, ...]:
        """Entries by how far they exceed their tolerance, worst first."""
        ranked = sorted(
            self.entries, key=lambda e: e.abs_error / max(e.tolerance, 1e-300), reverse=True
        )
        return tuple(ranked[:_WORST_SHOWN])

    @property
    def max_abs_error(self) -> float:
        return max((e.abs_error for e in self.entries if e.status != "kink"), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((e.rel_error for e in self.entries if e.status != "kink"), default=0.0)

    def __str__(self) -> str:
        verdict = "passed" if self.ok else f"FAILED: {len(self.mismatches)} mismatched"
        what = (
            f"{self.checked} of {self.total} entries"
            if self.checked != self.total
            else f"{self.total} entries"
        )
        lines = [
            f"gradcheck {verdict} ({what}; method {self.method};"
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
        for e in self.kinks:
            if e.index not in shown:
                lines.append(f"{e.index!s:>14}  kink: {e.note}")
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
    """Complex step when f takes complex input and agrees with Ridders along a random direction."""
    v = rng.choice([-1.0, 1.0], size=x.size)
    try:
        with np.errstate(all="ignore"):
            col, _ = _complex_column(f, x, v)
    except (_NotAnalytic, TypeError, ValueError):
        return "ridders"
    if not np.all(np.isfinite(col)):
        return "ridders"
    ref, err = _ridders_column(f, x, v, _step(x, None, _RIDDERS_H0))
    eps = np.finfo(np.float64).eps
    agree = np.abs(col - ref) <= SAFETY * err + 1e3 * eps * (np.abs(ref) + 1)
    return "complex" if bool(np.all(agree)) else "ridders"


def _kink(
    f: _Counted, x: Array, k: int, out: int, analytic: float, f0: Array
) -> tuple[bool, str, float, float]:
    """(is_kink, note, left, right) from one-sided extrapolated differences along x_k."""
    v = _basis(x.size, k)
    h0 = _step(x, k, 1e-3)
    right, err_r = _one_sided(f, x, v, h0, +1, f0)
    left, err_l = _one_sided(f, x, v, h0, -1, f0)
    lo, hi, el, er = left[out], right[out], err_l[out], err_r[out]
    gap_tol = SAFETY * (el + er) + 1e3 * np.finfo(np.float64).eps * max(abs(lo), abs(hi), 1.0)
    if abs(hi - lo) <= gap_tol:
        return False, "", lo, hi
    tol_l = SAFETY * el + 1e3 * np.finfo(np.float64).eps * max(abs(lo), 1.0)
    tol_r = SAFETY * er + 1e3 * np.finfo(np.float64).eps * max(abs(hi), 1.0)
    if abs(analytic - lo) <= tol_l:
        note = "matches the left derivative"
    elif abs(analytic - hi) <= tol_r:
        note = "matches the right derivative"
    elif min(lo, hi) < analytic < max(lo, hi):
        note = "lies between the one-sided derivatives (a subgradient)"
    else:
        return True, f"outside [left {lo:.6g}, right {hi:.6g}]", lo, hi
    return True, f"left {lo:.6g}, right {hi:.6g}; analytic {note}", lo, hi


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
        Fixed tolerances.  Left out, each entry's tolerance is SAFETY times
        the method's own error estimate plus a rounding floor.
    sample:
        Check only this many input entries, drawn at random.
    projections:
        Instead of entries, check this many directional derivatives J v along
        random sign vectors v (one evaluation each with the complex step).
    seed:
        Seeds the sample, the projections and the analyticity probe.

    float32 input: f is evaluated in float64 when it accepts float64 (the
    analytic gradient is compared with a float32-scaled tolerance), so no
    false failures come from float32 rounding in the differences.
    """
    start = time.perf_counter()
    x32 = np.asarray(x).dtype == np.float32
    counted, xa, f0 = _prepare(f, x)
    g = _analytic(grad, np.asarray(x), f0.shape)
    if method not in ("auto", "complex", "ridders", "central"):
        raise ValueError(
            f"method must be 'auto', 'complex', 'ridders' or 'central', got {method!r}"
        )
    if sample is not None and projections is not None:
        raise ValueError("give sample or projections, not both")
    rng = np.random.default_rng(seed)
    chosen = _choose_method(counted, xa, rng) if method == "auto" else method
    work_eps = float(np.finfo(np.float32 if x32 else np.float64).eps)
    jac = g.reshape(f0.size, xa.size).astype(np.float64)
    row_scale = np.sqrt(np.mean(jac**2, axis=1)) if xa.size else np.zeros(f0.size)

    f_abs = np.abs(f0.ravel())

    def floor(k: int) -> Array:
        """Rounding of the analytic entry and of f's own arithmetic, per output."""
        x_scale = max(abs(float(xa.reshape(-1)[k])), 1.0)
        return ROUNDING_ULPS * work_eps * (np.abs(jac[:, k]) + row_scale + f_abs / x_scale)

    entries: list[EntryCheck] = []
    if projections is not None:
        if projections < 1:
            raise ValueError(f"projections must be at least 1, got {projections}")
        for p in range(projections):
            v = rng.choice([-1.0, 1.0], size=xa.size)
            num, est = _column(chosen, counted, xa, v, None)
            ana = jac @ v
            dot_rounding = ROUNDING_ULPS * work_eps * (np.abs(jac) @ np.abs(v) + f_abs)
            tol = _tolerance(num, est, rtol, atol, dot_rounding)
            for out in range(f0.size):
                entries.append(_entry((p, out), ana[out], num[out], est[out], tol[out]))
        total = projections * f0.size
        rule = "projections J v on random sign vectors v; " + _rule_text(rtol, atol)
    else:
        n = xa.size
        ks = (
            np.arange(n)
            if sample is None or sample >= n
            else np.sort(rng.choice(n, sample, replace=False))
        )
        for k in ks:
            num, est = _column(chosen, counted, xa, _basis(n, int(k)), int(k))
            tol = _tolerance(num, est, rtol, atol, floor(int(k)))
            for out in range(f0.size):
                index = np.unravel_index(out, f0.shape) + np.unravel_index(int(k), xa.shape)
                entry = _entry(
                    tuple(int(i) for i in index), jac[out, k], num[out], est[out], tol[out]
                )
                if entry.status == "mismatch" and chosen != "complex":
                    is_kink, note, _, _ = _kink(counted, xa, int(k), out, jac[out, k], f0.ravel())
                    if is_kink:
                        status = "kink" if not note.startswith("outside") else "mismatch"
                        entry = EntryCheck(**{**entry.__dict__, "status": status, "note": note})
                entries.append(entry)
        total = f0.size * n
        rule = _rule_text(rtol, atol)
    if x32:
        rule += " (float32: rounding floor scaled to float32 eps)"
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
    )


def _tolerance(
    num: Array, est: Array, rtol: float | None, atol: float | None, rounding: Array
) -> Array:
    if rtol is None and atol is None:
        return SAFETY * est + rounding
    return (atol or 0.0) + (rtol or 0.0) * np.abs(num)


def _rule_text(rtol: float | None, atol: float | None) -> str:
    if rtol is None and atol is None:
        return (
            f"{SAFETY:g} x the method's error estimate"
            f" + {ROUNDING_ULPS:g} eps (|entry| + row RMS + |f| / max(|x_k|, 1))"
        )
    return f"atol {atol or 0:g} + rtol {rtol or 0:g} x |numeric|"


def _entry(index: tuple[int, ...], ana: float, num: float, est: float, tol: float) -> EntryCheck:
    ok = abs(ana - num) <= tol or (math.isnan(ana) and math.isnan(num))
    return EntryCheck(
        index, float(ana), float(num), float(est), float(tol), "ok" if ok else "mismatch"
    )


def assert_gradient(
    f: Callable[[Array], Any], grad: Callable[[Array], Any] | ArrayLike, x: ArrayLike, **kwargs: Any
) -> GradcheckReport:
    """Like :func:`gradcheck`, but raise ``AssertionError`` (with the report) on a mismatch."""
    report = gradcheck(f, grad, x, **kwargs)
    if not report.ok:
        raise AssertionError("\n" + str(report))
    return report
