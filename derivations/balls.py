"""Ball arithmetic: every value carries a bound on its own rounding error.

An expression is compiled once into a tape (a list of operations in
evaluation order).  Evaluating the tape at a point with mpmath at p digits
gives, for each result, a midpoint m and a radius r such that the exact
value lies in [m - r, m + r] (to first order in the rounding unit u = 2^-prec):
sums add their radii and the rounding of the sum, products use
|a| r_b + |b| r_a + r_a r_b, exp multiplies by e^r - 1, log divides by
m - r, and so on (midpoint-radius interval arithmetic, as in Arb).

This is what makes a refutation trustworthy: two sides "differ" only when
their balls are disjoint, so total cancellation (e^1200 - e^1200 (1 - e^-90000),
which is 0 at any modest precision) can never pass for a difference.  A
comparison whose balls are too wide to decide asks for more digits.

Derivatives are carried out on the tape itself, by forward-mode automatic
differentiation: ``Derivative(f, x)`` compiles f, then appends, for every
operation f depends on, the operations of its derivative by the argument x
(the sum, product, power and chain rules).  Those are ball operations like
any other, so a derivative's value comes with the same error bound, and the
numeric stage never needs SymPy to differentiate (slow for large
expressions) or trusts a hand-written derivative: the stable primitives are
compiled from their elementary definitions.

Expressions with a node the tape does not know raise :class:`Unsupported`;
the caller then falls back to two plain evaluations at p and 2p digits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import mpmath
import sympy as sp

from derivations.notation import stands_for

__all__ = ["Ball", "Tape", "Undecidable", "Unsupported", "compile_tape"]


class Unsupported(Exception):
    """The expression holds an operation the tape cannot evaluate with error bounds."""


class Undecidable(ArithmeticError):
    """A branch (Piecewise, Heaviside at 0, ...) cannot be chosen at this precision."""


@dataclass(frozen=True)
class Ball:
    """A number known to lie within ``rad`` of ``mid`` (mid may be complex)."""

    mid: Any
    rad: Any

    @property
    def is_finite(self) -> bool:
        return bool(mpmath.isfinite(self.mid) and mpmath.isfinite(self.rad))

    @property
    def is_real(self) -> bool:
        return not isinstance(self.mid, mpmath.mpc) or self.mid.imag == 0

    def real(self) -> Ball:
        return Ball(self.mid.real if isinstance(self.mid, mpmath.mpc) else self.mid, self.rad)


def _u() -> Any:
    """The unit roundoff 2^-prec of the working precision."""
    return _unit_roundoff(mpmath.mp.prec)


@cache
def _unit_roundoff(prec: int) -> Any:
    return mpmath.mpf(2) ** (-prec)  # a power of two: exact at any precision


def _round(mid: Any, rad: Any) -> Ball:
    """Add the rounding of the operation that produced ``mid``."""
    return Ball(mid, rad + abs(mid) * _u())


# ----- operations on balls ----------------------------------------------------------------


def _add(args: Sequence[Ball]) -> Ball:
    mid = mpmath.fsum(b.mid for b in args)
    terms = mpmath.fsum(abs(b.mid) for b in args)
    return Ball(mid, mpmath.fsum(b.rad for b in args) + len(args) * terms * _u())


def _mul2(a: Ball, b: Ball) -> Ball:
    return _round(a.mid * b.mid, abs(a.mid) * b.rad + abs(b.mid) * a.rad + a.rad * b.rad)


def _mul(args: Sequence[Ball]) -> Ball:
    out = args[0]
    for b in args[1:]:
        out = _mul2(out, b)
    return out


def _inv(a: Ball) -> Ball:
    m = abs(a.mid)
    if a.rad >= m:
        raise Undecidable("division by a number not distinguishable from 0")
    return _round(1 / a.mid, a.rad / (m * (m - a.rad)))


def _pow(base: Ball, exp: Ball, exp_value: sp.Expr | None) -> Ball:
    if exp_value is not None and exp_value.is_Integer:
        n = int(exp_value)
        b = _inv(base) if n < 0 else base
        n = abs(n)
        mid = b.mid**n
        return _round(mid, abs((abs(b.mid) + b.rad) ** n - abs(b.mid) ** n))
    if exp_value is not None and exp_value.is_Rational:
        e = mpmath.mpf(exp_value.p) / exp_value.q
        m = abs(base.mid)
        if base.rad >= m:
            raise Undecidable("fractional power of a number not distinguishable from 0")
        mid = base.mid**e
        worst = max(abs((m - base.rad) ** (e - 1)), abs((m + base.rad) ** (e - 1)))
        return _round(mid, abs(e) * worst * base.rad)
    return _exp(_mul2(exp, _log(base)))


def _exp(a: Ball) -> Ball:
    mid = mpmath.exp(a.mid)
    return _round(mid, abs(mid) * mpmath.expm1(a.rad))


def _log(a: Ball) -> Ball:
    m = abs(a.mid)
    if a.rad >= m:
        raise Undecidable("log of a number not distinguishable from 0")
    return _round(mpmath.log(a.mid), -mpmath.log1p(-a.rad / m))


def _lipschitz(fn: Callable[[Any], Any], bound: float) -> Callable[[Ball], Ball]:
    def apply(a: Ball) -> Ball:
        return _round(fn(a.mid), bound * a.rad)

    return apply


def _sign_of(a: Ball) -> int:
    if not a.is_real:
        raise Undecidable("sign of a complex number")
    if a.mid > a.rad:
        return 1
    if a.mid < -a.rad:
        return -1
    if a.mid == 0 and a.rad == 0:
        return 0
    raise Undecidable("sign of a number not distinguishable from 0")


def _abs(a: Ball) -> Ball:
    return Ball(abs(a.mid), a.rad)


def _max(args: Sequence[Ball]) -> Ball:
    best = max(args, key=lambda b: b.mid)
    return Ball(best.mid, max(b.rad for b in args))


def _min(args: Sequence[Ball]) -> Ball:
    best = min(args, key=lambda b: b.mid)
    return Ball(best.mid, max(b.rad for b in args))


def _heaviside(a: Ball, h0: Ball | None = None) -> Ball:
    s = _sign_of(a)
    if s == 0:
        return h0 if h0 is not None else Ball(mpmath.mpf(1) / 2, mpmath.mpf(0))
    return Ball(mpmath.mpf(1 if s > 0 else 0), mpmath.mpf(0))


def _flat(a: Ball) -> Ball:
    """The derivative of a step (sign, Heaviside): 0 wherever ``a`` is not 0."""
    if _sign_of(a) == 0:
        raise Undecidable("the derivative of a step at its jump")
    return _exact(0)


def _extreme_tangent(args: Sequence[Ball], largest: bool) -> Ball:
    """The derivative of Max (or Min) of n arguments, given as n values then n derivatives:
    the derivative of the one argument that is strictly the largest (smallest)."""
    n = len(args) // 2
    values = args[:n]
    order = sorted(range(n), key=lambda k: values[k].mid, reverse=largest)
    best, runner_up = values[order[0]], values[order[1]]
    if abs(best.mid - runner_up.mid) <= best.rad + runner_up.rad:
        raise Undecidable("the derivative of Max or Min where two arguments tie")
    return args[n + order[0]]


def _exact(value: int) -> Ball:
    return Ball(mpmath.mpf(value), mpmath.mpf(0))


_RELATION_TEST: dict[type, Callable[[int], bool]] = {
    sp.StrictGreaterThan: lambda s: s > 0,
    sp.GreaterThan: lambda s: s >= 0,
    sp.StrictLessThan: lambda s: s < 0,
    sp.LessThan: lambda s: s <= 0,
    sp.Equality: lambda s: s == 0,
    sp.Unequality: lambda s: s != 0,
}


# ----- the tape -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Op:
    kind: str
    args: tuple[int, ...]
    payload: Any = None


class Tape:
    """Expressions compiled to a list of ball operations over ``args``."""

    def __init__(self, exprs: Sequence[sp.Basic], args: Sequence[sp.Basic]) -> None:
        self.ops: list[_Op] = []
        self._index: dict[sp.Basic, int] = {}
        self._emitted: dict[tuple[Any, ...], int] = {}
        # For each argument (by op index): the op of every op's derivative by it, or None
        # where that derivative is identically 0.
        self._tangents: dict[int, dict[int, int | None]] = {}
        self.n_args = len(args)
        for a in args:
            self._index[a] = len(self.ops)
            self.ops.append(_Op("arg", ()))
        self.outputs = [self._compile(e) for e in exprs]

    def _emit(self, kind: str, args: Sequence[int] = (), payload: Any = None) -> int:
        """The op ``kind(args)``: appended, unless the same op is on the tape already."""
        key = (kind, tuple(args), type(payload), payload)
        if key not in self._emitted:
            self.ops.append(_Op(kind, tuple(args), payload))
            self._emitted[key] = len(self.ops) - 1
        return self._emitted[key]

    def _const(self, value: Any) -> int:
        return self._emit("const", payload=sp.sympify(value))

    def _compile(self, e: sp.Basic) -> int:
        if e in self._index:
            return self._index[e]
        if isinstance(e, sp.Symbol):
            raise Unsupported(f"free symbol {e} has no value")
        if e.is_Number or isinstance(e, sp.NumberSymbol) or e is sp.I:
            i = self._emit("const", payload=e)
        elif isinstance(e, (sp.logic.boolalg.BooleanTrue, sp.logic.boolalg.BooleanFalse)):
            i = self._emit("bool", payload=bool(e))
        elif isinstance(e, sp.Add):
            i = self._emit("add", [self._compile(a) for a in e.args])
        elif isinstance(e, sp.Mul):
            i = self._emit("mul", [self._compile(a) for a in e.args])
        elif isinstance(e, sp.Pow):
            exp_value = e.exp if e.exp.is_Rational else None
            i = self._emit("pow", [self._compile(e.base), self._compile(e.exp)], exp_value)
        elif isinstance(e, sp.exp):
            i = self._emit("exp", [self._compile(e.args[0])])
        elif isinstance(e, sp.log) and len(e.args) == 1:
            i = self._emit("log", [self._compile(e.args[0])])
        elif type(e) in _UNARY:
            i = self._emit(type(e).__name__, [self._compile(e.args[0])])
        elif isinstance(e, (sp.Max, sp.Min, sp.Heaviside)):
            i = self._emit(type(e).__name__, [self._compile(a) for a in e.args])
        elif isinstance(e, sp.Piecewise):
            parts = []
            for expr, cond in e.args:
                parts += [self._compile(cond), self._compile(expr)]
            i = self._emit("piecewise", parts)
        elif type(e) in _RELATION_TEST:
            i = self._emit("relation", [self._compile(e.lhs - e.rhs)], _RELATION_TEST[type(e)])
        elif isinstance(e, sp.Derivative):
            i = self._compile_derivative(e)
        elif (written_for := stands_for(e)) is not None:  # a name, a primitive
            i = self._compile(written_for)
        else:
            raise Unsupported(f"no ball arithmetic for {type(e).__name__}")
        self._index[e] = i
        return i

    def _compile_derivative(self, e: sp.Derivative) -> int:
        i = self._compile(e.expr)
        for var, count in e.variable_count:
            if isinstance(var, (sp.Symbol, sp.Indexed)) and var not in e.expr.free_symbols:
                return self._const(0)  # f does not depend on var
            x = self._index.get(var)
            if x is None or x >= self.n_args or not count.is_Integer:
                raise Unsupported(f"a derivative by {var} (not one of the arguments)")
            for _ in range(int(count)):
                i = self._derivative(i, x)
        return i

    # ----- forward-mode differentiation of the tape

    def _derivative(self, i: int, x: int) -> int:
        """The op of d(op i)/d(argument x): the derivative of every op that op i depends
        on, in tape order, each from its own arguments' derivatives (forward mode)."""
        tangents = self._tangents.setdefault(x, {})
        for j in self._dependencies(i):
            if j not in tangents:
                tangents[j] = self._tangent(j, x, tangents)
        tangent = tangents[i]
        return self._const(0) if tangent is None else tangent

    def _dependencies(self, i: int) -> list[int]:
        """Op i and every op it reads, directly or not, in tape order."""
        seen, stack = {i}, [i]
        while stack:
            for j in self.ops[stack.pop()].args:
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        return sorted(seen)

    def _tangent(self, j: int, x: int, tangents: dict[int, int | None]) -> int | None:
        """The op of d(op j)/d(argument x), or None where it is identically 0."""
        op = self.ops[j]
        if op.kind == "arg":
            return self._const(1) if j == x else None
        ts = [tangents[k] for k in op.args]
        if op.kind in ("bool", "relation") or all(t is None for t in ts):
            return None  # a truth value, or a function of constants only
        a, t0 = op.args, ts[0]
        kind = op.kind
        if kind == "add":
            return self._sum([t for t in ts if t is not None])
        if kind == "mul":
            return self._sum(
                [self._product([t, *a[:k], *a[k + 1 :]]) for k, t in enumerate(ts) if t is not None]
            )
        if kind == "pow":
            return self._power_tangent(j, ts[0], ts[1])
        if kind == "exp":
            return self._product([j, t0])
        if kind == "log":
            return self._product([t0, self._power(a[0], -1)])
        if kind == "sin":
            return self._product([self._emit("cos", [a[0]]), t0])
        if kind == "cos":
            return self._product([self._const(-1), self._emit("sin", [a[0]]), t0])
        if kind == "tanh":  # 1 - tanh^2
            square = self._product([self._const(-1), self._power(j, 2)])
            return self._product([self._sum([self._const(1), square]), t0])
        if kind == "atan":  # 1 / (1 + a^2)
            return self._product(
                [t0, self._power(self._sum([self._const(1), self._power(a[0], 2)]), -1)]
            )
        if kind == "Abs":  # sign(a), as SymPy differentiates |a| for real a
            return self._product([self._emit("sign", [a[0]]), t0])
        if kind in ("sign", "Heaviside", "flat"):
            return self._emit("flat", [a[0]])
        if kind in ("Max", "Min"):
            zero = self._const(0)
            return self._emit(f"{kind}_tangent", [*a, *(zero if t is None else t for t in ts)])
        if kind in ("Max_tangent", "Min_tangent"):  # the same choice, one derivative deeper
            n, zero = len(a) // 2, self._const(0)
            return self._emit(kind, [*a[:n], *(zero if t is None else t for t in ts[n:])])
        if kind == "piecewise":  # the derivative of the branch that applies
            parts: list[int] = []
            for cond, t in zip(a[0::2], ts[1::2]):
                parts += [cond, self._const(0) if t is None else t]
            return self._emit("piecewise", parts)
        raise Unsupported(f"no derivative of {kind}")

    def _power_tangent(self, j: int, t_base: int | None, t_exponent: int | None) -> int:
        """d(b^e): e b^(e-1) db for a rational e; b^e (de log b + e db / b) otherwise."""
        op = self.ops[j]
        (base, exponent), n = op.args, op.payload
        if n is not None:  # the exponent is a constant: only the base varies
            assert t_base is not None
            if n == 1:
                return t_base
            return self._product([self._const(n), self._power(base, n - 1), t_base])
        terms = []
        if t_exponent is not None:
            terms.append(self._product([t_exponent, self._emit("log", [base])]))
        if t_base is not None:
            terms.append(self._product([exponent, t_base, self._power(base, -1)]))
        return self._product([j, self._sum(terms)])

    def _sum(self, terms: Sequence[int]) -> int:
        return terms[0] if len(terms) == 1 else self._emit("add", terms)

    def _product(self, factors: Sequence[int]) -> int:
        return factors[0] if len(factors) == 1 else self._emit("mul", factors)

    def _power(self, base: int, n: Any) -> int:
        """base^n for a rational n."""
        exponent = sp.Rational(n)
        return self._emit("pow", [base, self._const(exponent)], exponent)

    def evaluate(self, point: Sequence[Any], dps: int) -> list[Ball]:
        """Balls for every output at ``point`` (exact binary numbers), at ``dps`` digits."""
        if len(point) != self.n_args:
            raise ValueError(f"expected {self.n_args} values, got {len(point)}")
        with mpmath.workdps(dps):
            values: list[Any] = []
            for op in self.ops:
                values.append(self._step(op, values, point))
            return [values[i] for i in self.outputs]

    def _step(self, op: _Op, values: list[Any], point: Sequence[Any]) -> Any:
        a = [values[i] for i in op.args]
        kind = op.kind
        if kind == "arg":
            return Ball(mpmath.mpmathify(point[len(values)]), mpmath.mpf(0))
        if kind == "const":
            return _constant(op.payload)
        if kind == "bool":
            return op.payload
        if kind == "add":
            return _add(a)
        if kind == "mul":
            return _mul(a)
        if kind == "pow":
            return _pow(a[0], a[1], op.payload)
        if kind == "exp":
            return _exp(a[0])
        if kind == "log":
            return _log(a[0])
        if kind in _UNARY_BALL:
            return _UNARY_BALL[kind](a[0])
        if kind == "Max":
            return _max(a)
        if kind == "Min":
            return _min(a)
        if kind == "Heaviside":
            return _heaviside(*a)
        if kind == "relation":
            return op.payload(_sign_of(a[0]))
        if kind == "flat":
            return _flat(a[0])
        if kind == "Max_tangent":
            return _extreme_tangent(a, largest=True)
        if kind == "Min_tangent":
            return _extreme_tangent(a, largest=False)
        if kind == "piecewise":
            for cond, expr in zip(a[0::2], a[1::2]):
                if cond:
                    return expr
            raise Undecidable("no branch of a Piecewise applies")
        raise Unsupported(kind)  # pragma: no cover


def _constant(c: sp.Basic) -> Ball:
    """The ball of a constant at the working precision."""
    return _constant_ball(c, mpmath.mp.prec)


# Remembered per (constant, working precision): a tape is evaluated at many points, and
# each evaluation would round sqrt(2) or 1/3 again.
@lru_cache(maxsize=4096)
def _constant_ball(c: sp.Basic, prec: int) -> Ball:
    """The ball of ``c`` at ``prec`` bits, which must be the working precision (a key)."""
    if c.is_Integer:
        return _exact(int(c))
    if isinstance(c, sp.Float):
        return Ball(mpmath.mpf(c._mpf_), mpmath.mpf(0))
    if c is sp.I:
        return Ball(mpmath.mpc(0, 1), mpmath.mpf(0))
    if c.is_Rational:
        return _round(mpmath.mpf(c.p) / c.q, mpmath.mpf(0))
    if c is sp.S.ComplexInfinity or c is sp.S.NaN or c.is_infinite:
        raise Undecidable(f"the constant {c}")
    return _round(mpmath.mpmathify(c.evalf(mpmath.mp.dps + 5)), mpmath.mpf(0))


_UNARY: dict[type, str] = {
    sp.Abs: "Abs",
    sp.sin: "sin",
    sp.cos: "cos",
    sp.tanh: "tanh",
    sp.atan: "atan",
    sp.sign: "sign",
}
_UNARY_BALL: dict[str, Callable[[Ball], Ball]] = {
    "Abs": _abs,
    "sin": _lipschitz(mpmath.sin, 1.0),
    "cos": _lipschitz(mpmath.cos, 1.0),
    "tanh": _lipschitz(mpmath.tanh, 1.0),
    "atan": _lipschitz(mpmath.atan, 1.0),
    "sign": lambda b: _exact(_sign_of(b)),
}


@lru_cache(maxsize=2048)
def compile_tape(exprs: tuple[sp.Basic, ...], args: tuple[sp.Basic, ...]) -> Tape:
    """A cached :class:`Tape` for ``exprs`` over ``args``; raises :class:`Unsupported`."""
    return Tape(exprs, args)
