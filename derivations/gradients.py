"""Check a user's hand-written gradient of a user's own loss, in one call.

    verify_gradient(expr, wrt, implementation, domain)

differentiates ``expr`` symbolically, then at points drawn from the domain
compares ``implementation`` with

* the symbolic gradient evaluated at 50 digits (mpmath): the exact answer,
  so the report gives the implementation's error, in relative terms;
* finite differences of ``expr`` itself (lambdified to NumPy), through
  :func:`numeric.gradcheck`, whose tolerance is its own error estimate: an
  independent check that does not trust SymPy's differentiation either.

The implementation is called with every free symbol's value as a Python
float, by keyword (the symbol's name), or positionally in the order ``args``
gives; it returns the gradient: a number for one ``wrt`` symbol, a sequence
for several.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import sympy as sp

import numeric
from derivations.highprec import reference
from derivations.sampling import Domain, float_repr

__all__ = ["GradientReport", "PointCheck", "verify_gradient"]

DEFAULT_RTOL = 1e-9
# Finite differences are dearer than a reference value: check this many points.
FD_POINTS = 20


@dataclass(frozen=True)
class PointCheck:
    """One point: the values, the implementation's and the exact gradient, the verdicts."""

    point: dict[sp.Symbol, float]
    implemented: tuple[float, ...]
    exact: tuple[float, ...]
    rel_error: float
    ok: bool
    gradcheck: numeric.GradcheckReport | None = None


@dataclass(frozen=True)
class GradientReport:
    """What :func:`verify_gradient` found; ``str(report)`` is a readable summary."""

    expr: sp.Expr
    wrt: tuple[sp.Symbol, ...]
    gradient: tuple[sp.Expr, ...]
    rtol: float
    checks: tuple[PointCheck, ...] = field(repr=False)

    @property
    def ok(self) -> bool:
        return all(c.ok and (c.gradcheck is None or c.gradcheck.ok) for c in self.checks)

    @property
    def max_rel_error(self) -> float:
        return max((c.rel_error for c in self.checks), default=0.0)

    @property
    def failures(self) -> tuple[PointCheck, ...]:
        return tuple(
            c for c in self.checks if not c.ok or (c.gradcheck is not None and not c.gradcheck.ok)
        )

    def __str__(self) -> str:
        n_fd = sum(c.gradcheck is not None for c in self.checks)
        fd_bad = sum(c.gradcheck is not None and not c.gradcheck.ok for c in self.checks)
        verdict = (
            "passed" if self.ok else f"FAILED at {len(self.failures)} of {len(self.checks)} points"
        )
        lines = [
            f"verify_gradient {verdict}",
            f"  d/d({', '.join(map(str, self.wrt))}) of {self.expr}",
            f"  = ({', '.join(map(str, self.gradient))})",
            f"  against the 50-digit symbolic gradient: max rel error {self.max_rel_error:.2g}"
            f" (tolerance {self.rtol:g}) at {len(self.checks)} points",
            f"  against finite differences: {n_fd - fd_bad} of {n_fd} points agree",
        ]
        for c in self.failures[:3]:
            at = ", ".join(f"{k} = {float_repr(v)}" for k, v in c.point.items())
            lines.append(f"  at {at}: implemented {_fmt(c.implemented)}, exact {_fmt(c.exact)}")
            if c.gradcheck is not None and not c.gradcheck.ok:
                lines.append("    finite differences: " + str(c.gradcheck).splitlines()[0])
        return "\n".join(lines)


def _fmt(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.17g}" for v in values) + ")"


def _as_symbols(wrt: sp.Symbol | Sequence[sp.Symbol]) -> tuple[sp.Symbol, ...]:
    symbols = (wrt,) if isinstance(wrt, sp.Symbol) else tuple(wrt)
    if not symbols or not all(isinstance(s, sp.Symbol) for s in symbols):
        raise TypeError(f"wrt must be a Symbol or a sequence of Symbols, got {wrt!r}")
    return symbols


def _as_vector(value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=float).reshape(-1)
    if arr.size != n:
        raise ValueError(
            f"implementation returned {arr.size} values; expected {n} (one per wrt symbol)"
        )
    return arr


def _caller(
    implementation: Callable[..., Any], order: tuple[sp.Symbol, ...], positional: bool
) -> Callable[..., Any]:
    """implementation as a function of the values in ``order``."""
    if positional:
        return implementation
    names = [s.name for s in order]

    def call(*values: float) -> Any:
        return implementation(**dict(zip(names, values)))

    return call


def verify_gradient(
    expr: sp.Expr,
    wrt: sp.Symbol | Sequence[sp.Symbol],
    implementation: Callable[..., Any],
    domain: Mapping[Any, Any] | None = None,
    *,
    args: Sequence[sp.Symbol] | None = None,
    points: int = 50,
    rtol: float = DEFAULT_RTOL,
    seed: int = 0,
) -> GradientReport:
    """Check ``implementation`` against the symbolic gradient of ``expr`` and finite differences.

    Parameters
    ----------
    expr:
        A SymPy expression of the loss (strings are refused: build it in code).
    wrt:
        The symbol(s) to differentiate by.
    implementation:
        ``implementation(z=..., y=...)`` (keywords named after the symbols),
        or ``implementation(*values)`` in the order of ``args`` -> the
        gradient (a number, or one value per ``wrt`` symbol).
    domain:
        Where the symbols range (see :mod:`derivations.sampling`), e.g.
        ``{y: FiniteSet(0, 1), gamma: Interval(0, 5)}``.
    args:
        Call the implementation positionally, in this order (every free
        symbol once).  Left out, it is called with keywords.
    points, rtol, seed:
        How many points, the relative tolerance against the exact gradient
        (relative to the largest component at the point), and the seed.
    """
    if not isinstance(expr, sp.Expr):
        raise TypeError(f"expr must be a SymPy expression, got {type(expr).__name__}")
    wrt_t = _as_symbols(wrt)
    free = expr.free_symbols
    missing = [s for s in wrt_t if s not in free]
    if missing:
        raise ValueError(f"expr does not depend on {missing}")
    order = tuple(args) if args is not None else wrt_t + tuple(sorted(free - set(wrt_t), key=str))
    if set(order) != free | set(wrt_t) or len(set(order)) != len(order):
        raise ValueError(
            f"args {order} must list each free symbol of expr once: {sorted(free, key=str)}"
        )
    if args is None:
        bad = [s.name for s in order if not s.name.isidentifier()]
        if bad:
            raise ValueError(
                f"symbol names {bad} are not Python identifiers: pass args= to call positionally"
            )
    call = _caller(implementation, order, positional=args is not None)
    if points < 1 or not rtol > 0:
        raise ValueError(f"need points >= 1 and rtol > 0, got points={points}, rtol={rtol}")

    gradient = tuple(sp.diff(expr, w) for w in wrt_t)
    exact_fns = [reference(g, order) for g in gradient]
    loss = sp.lambdify(order, expr, modules="numpy", cse=True)
    positions = [order.index(w) for w in wrt_t]
    dom = Domain(domain)
    rng = random.Random(seed)
    checks = []
    for p in range(points):
        values = dom.draw_reals(order, rng, special=p if p < 5 else None)
        point = {s: values[s] for s in order}
        checks.append(
            _check_point(point, order, positions, call, exact_fns, loss, rtol, p < FD_POINTS)
        )
    return GradientReport(expr, wrt_t, gradient, rtol, tuple(checks))


def _check_point(
    point: dict[sp.Symbol, Any],
    order: tuple[sp.Symbol, ...],
    positions: list[int],
    implementation: Callable[..., Any],
    exact_fns: list[Callable[..., Any]],
    loss: Callable[..., Any],
    rtol: float,
    with_fd: bool,
) -> PointCheck:
    values = [float(point[s]) for s in order]
    implemented = _as_vector(implementation(*values), len(positions))
    with mpmath.workdps(50):
        exact = np.array([float(fn(*values)) for fn in exact_fns])
    scale = float(np.max(np.abs(exact))) if exact.size else 0.0
    err = (
        float(np.max(np.abs(implemented - exact))) / scale
        if scale > 0
        else float(np.max(np.abs(implemented)))
    )
    report = None
    if with_fd:

        def f(w: np.ndarray) -> Any:
            full = list(values)
            for i, pos in enumerate(positions):
                full[pos] = w[i]
            return loss(*full)

        def g(w: np.ndarray) -> np.ndarray:
            full = list(values)
            for i, pos in enumerate(positions):
                full[pos] = float(w[i])
            return _as_vector(implementation(*full), len(positions))

        report = numeric.gradcheck(f, g, np.array([values[p] for p in positions]))
    return PointCheck(
        point, tuple(implemented.tolist()), tuple(exact.tolist()), err, bool(err <= rtol), report
    )
