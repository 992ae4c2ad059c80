"""High-precision evaluation with mpmath.

:func:`reference` gives a callable for accuracy tests: the value correct to a
requested number of digits, raising the precision until two evaluations agree.

:func:`estimate` is the verifier's fallback for expressions that ball
arithmetic (:mod:`derivations.balls`) cannot evaluate: the expression is
compiled once (``lambdify`` to mpmath) and evaluated at p and 2p digits.  If
the computation loses k digits to cancellation, the p-digit value is wrong by
about 10^(k-p) relative and the 2p-digit value by about 10^(k-2p); so the
difference of the two, times 10^(-p), estimates the error of the 2p-digit
value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mpmath
import sympy as sp

from derivations.functions import expand_primitives

__all__ = ["Estimate", "compile_mpmath", "estimate", "log_softmax_reference", "reference"]

_HALF = mpmath.mpf(1) / 2


def _heaviside(x: Any, h0: Any = _HALF) -> Any:
    return 0 if x < 0 else (h0 if x == 0 else 1)


def _kronecker(i: Any, j: Any) -> int:
    return 1 if i == j else 0


_EXTRA: dict[str, Any] = {"Heaviside": _heaviside, "KroneckerDelta": _kronecker}


@lru_cache(maxsize=4096)
def compile_mpmath(exprs: tuple[sp.Basic, ...], args: tuple[sp.Basic, ...]) -> Callable[..., Any]:
    """``lambdify(args, exprs)`` to mpmath, returning a list; cached on its arguments."""
    return sp.lambdify(args, list(exprs), modules=[_EXTRA, "mpmath"])  # type: ignore[no-any-return]


def _run(fn: Callable[..., Any], point: Sequence[Any], dps: int) -> list[Any]:
    with mpmath.workdps(dps):
        values = fn(*[mpmath.mpmathify(v) for v in point])
        return [mpmath.mpmathify(v) for v in values]


@dataclass(frozen=True)
class Estimate:
    """A value computed at ``dps`` digits and a bound on its absolute error."""

    value: Any
    error: Any
    dps: int

    @property
    def is_finite(self) -> bool:
        return bool(mpmath.isfinite(self.value))

    @property
    def is_real(self) -> bool:
        return not isinstance(self.value, mpmath.mpc) or self.value.imag == 0


def estimate(fn: Callable[..., Any], point: Sequence[Any], dps: int) -> list[Estimate]:
    """Values of ``fn(*point)`` at 2*dps digits, with error estimates from a dps-digit run."""
    low = _run(fn, point, dps)
    high = _run(fn, point, 2 * dps)
    out = []
    with mpmath.workdps(2 * dps):
        for lo, hi in zip(low, high):
            err = abs(hi - lo) * mpmath.mpf(10) ** (-dps) if mpmath.isfinite(lo) else mpmath.inf
            floor = abs(hi) * mpmath.mpf(10) ** (-(2 * dps - 5))
            if isinstance(hi, mpmath.mpc) and hi.imag == 0:
                hi = hi.real
            out.append(Estimate(hi, err + floor, 2 * dps))
    return out


def reference(
    expr: sp.Expr, args: Sequence[sp.Symbol], *, digits: int = 50, max_dps: int = 4000
) -> Callable[..., Any]:
    """A callable giving ``expr`` at the point ``args`` correct to ``digits`` digits.

    The primitives are expanded to their elementary definitions and the value
    is computed at rising precision until two successive values agree to
    ``digits`` significant digits.  The first precision is digits + 20 plus
    |x| log10(e) digits for the largest input |x|: 1 + e^{-x} loses that many
    digits to cancellation, and two evaluations that both lost everything
    would agree on a wrong value.  Returns an ``mpmath.mpf``; raises
    ``ArithmeticError`` if ``max_dps`` is not enough.
    """
    fn = compile_mpmath((expand_primitives(sp.sympify(expr)).doit(),), tuple(args))

    def value(*point: Any) -> Any:
        largest = max((abs(float(x)) for x in point), default=0.0)
        dps = digits + 20 + int(largest * 0.4343) + 1
        previous = _run(fn, point, dps)[0]
        while dps < max_dps:
            dps *= 2
            current = _run(fn, point, dps)[0]
            with mpmath.workdps(dps):
                if current == previous or abs(current - previous) <= abs(current) * mpmath.mpf(
                    10
                ) ** (-digits - 2):
                    return current
            previous = current
        raise ArithmeticError(f"no {digits}-digit value of {expr} at {point} by {max_dps} digits")

    return value


# A difference of two doubles of magnitude up to 2^14 is exact with 1100 bits.
LOG_SOFTMAX_BITS = 2400


def log_softmax_reference(row: Sequence[float]) -> list[Any]:
    """log softmax(z)_k = z_k - log sum_j e^{z_j} at LOG_SOFTMAX_BITS bits (mpmath numbers):
    every z_k - m of the float64 inputs is exact (derivation ``log-softmax-stable``)."""
    with mpmath.workprec(LOG_SOFTMAX_BITS):
        zs = [mpmath.mpf(float(v)) for v in row]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in zs))
        return [v - lse for v in zs]
