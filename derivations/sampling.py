"""Where claims are tested: domains, and random points that respect them.

A *domain* maps what a claim is about to the values it may take:

* a ``Symbol`` or ``Indexed`` entry to a SymPy set (``Interval.open(0, 1)`` for
  a probability, ``FiniteSet(0, 1)`` for a hard label, ``Interval(0, oo)``
  for "z >= 0"), or to a pair ``(lo, hi)`` of integer bounds, inclusive, that
  may name other integer symbols (``(1, K)`` for an index into K classes) and
  may be open-ended (``(2, oo)`` for "K >= 2");
* an ``IndexedBase`` to a set for all its entries, or to :class:`Simplex`;
* a tuple of symbols to :class:`Simplex` (positive, summing to 1).

What the domain leaves out comes from the symbols' assumptions: ``positive``,
``nonnegative``, ``integer``, ... .  A real symbol without assumptions ranges
over the reals; an integer one without bounds over small integers (sizes are
kept small so that sums over them can be expanded).

Points are exact binary fractions (Python floats and ints), so a point is the
same number at every working precision; simplex points sum to exactly 1.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef

__all__ = ["Domain", "DomainError", "Simplex"]

# Integer symbols without bounds: sizes and indices small enough to expand sums.
_SMALL_INT_SPAN = 5
_SIMPLEX_BITS = 30
# Share of integer draws that take an end of the range.
_INT_END_SHARE = 0.3


class DomainError(ValueError):
    """A domain that cannot be used: unknown key or spec, empty range, ..."""


@dataclass(frozen=True)
class Simplex:
    """Domain marker: entries positive, summing to 1 (a probability vector).

    For an ``IndexedBase`` key give ``size`` (an int or an integer symbol) and
    the first index ``start``; the entries ``y[start] .. y[start+size-1]`` are
    drawn together.  A base with several indices is a stack of simplices over
    its last index: each row ``y[n, start] .. y[n, start+size-1]`` sums to 1.
    For a tuple-of-symbols key leave ``size`` out.  The proofs use the sum to 1
    as a hypothesis (:mod:`derivations.sums`).
    """

    size: Any = None
    start: int = 1


Key = Any  # Symbol | Indexed | IndexedBase | tuple[Symbol, ...]


def _real_set_from_assumptions(x: sp.Basic) -> sp.Set:
    if x.is_positive:
        return sp.Interval.open(0, sp.oo)
    if x.is_nonnegative:
        return sp.Interval(0, sp.oo)
    if x.is_negative:
        return sp.Interval.open(-sp.oo, 0)
    if x.is_nonpositive:
        return sp.Interval(-sp.oo, 0)
    return sp.S.Reals


def _int_bounds_from_assumptions(x: sp.Basic) -> tuple[int, int]:
    if x.is_positive:
        return 1, _SMALL_INT_SPAN
    if x.is_nonnegative:
        return 0, _SMALL_INT_SPAN - 1
    if x.is_negative:
        return -_SMALL_INT_SPAN, -1
    return -_SMALL_INT_SPAN // 2, _SMALL_INT_SPAN // 2


def _draw_positive(rng: random.Random) -> float:
    """Log-uniform on [1e-3, 30], with a bias towards order one."""
    if rng.random() < 0.5:
        return rng.uniform(0.05, 3.0)
    return 10.0 ** rng.uniform(-3.0, 1.5)


def _draw_from_interval(iv: sp.Interval, rng: random.Random) -> float:
    lo, hi = iv.inf, iv.sup
    if lo.is_infinite and hi.is_infinite:
        x = rng.uniform(-3.0, 3.0) if rng.random() < 0.6 else _draw_positive(rng)
        return x if rng.random() < 0.5 else -x
    if hi.is_infinite:
        return float(lo) + _draw_positive(rng)
    if lo.is_infinite:
        return float(hi) - _draw_positive(rng)
    a, b = float(lo), float(hi)
    u = rng.random()
    if rng.random() < 0.25:  # crowd the ends, where probabilities misbehave
        u = 10.0 ** rng.uniform(-6.0, -1.0)
        u = u if rng.random() < 0.5 else 1.0 - u
    x = a + (b - a) * u
    if (x == a and iv.left_open) or (x == b and iv.right_open):
        x = a + (b - a) / 2
    return x


def _draw_from_set(s: sp.Set, rng: random.Random) -> Any:
    if isinstance(s, sp.FiniteSet):
        return _exact_number(rng.choice(list(s.args)))
    if isinstance(s, sp.Interval):
        return _draw_from_interval(s, rng)
    if isinstance(s, sp.Union):
        return _draw_from_set(rng.choice(list(s.args)), rng)
    if s == sp.S.Reals:
        return _draw_from_interval(sp.Interval(-sp.oo, sp.oo), rng)
    raise DomainError(f"cannot draw points from the set {s}; use an Interval, FiniteSet or Union")


@functools.lru_cache(maxsize=256)
def _special_values(s: sp.Set) -> tuple[Any, ...]:
    """Points where claims tend to break: 0, +-1, 1/2, 2 and closed end points.

    Remembered per set: ``Set.contains`` is slow, and every point asks again.
    """
    candidates: list[Any] = [0, 1, -1, 0.5, 2]
    if isinstance(s, sp.Interval):
        if not s.left_open and s.inf.is_finite:
            candidates.append(_exact_number(s.inf))
        if not s.right_open and s.sup.is_finite:
            candidates.append(_exact_number(s.sup))
    return tuple(c for c in candidates if s.contains(sp.Rational(c)) is sp.true)


def _exact_number(v: sp.Basic) -> int | float:
    """An int, or the nearest float: a binary number, the same at every precision."""
    v = sp.sympify(v)
    if v.is_Integer:
        return int(v)
    return float(v)


def _draw_simplex(n: int, rng: random.Random) -> list[float]:
    """n positive dyadic fractions summing to exactly 1."""
    if n < 1:
        raise DomainError(f"a simplex needs at least one entry, got size {n}")
    scale = 2**_SIMPLEX_BITS
    while True:
        g = [rng.gammavariate(1.0, 1.0) for _ in range(n)]
        total = sum(g)
        head = [max(1, round(x / total * scale)) for x in g[:-1]]
        last = scale - sum(head)
        if last > 0:
            return [x / scale for x in [*head, last]]


def _as_set(spec: Any, key: Key) -> sp.Set:
    if isinstance(spec, sp.Set):
        if not spec.is_subset(sp.S.Reals):
            raise DomainError(f"domain of {key} must be a set of reals, got {spec}")
        return spec
    raise DomainError(
        f"domain of {key}: expected a SymPy Set, an integer range (lo, hi) or Simplex(),"
        f" got {spec!r}"
    )


class Domain:
    """A validated domain; draws points for the free objects of an expression."""

    def __init__(self, spec: Mapping[Key, Any] | None = None) -> None:
        self.sets: dict[sp.Basic, sp.Set] = {}
        self.int_ranges: dict[sp.Symbol, tuple[sp.Expr, sp.Expr]] = {}
        self.simplex_tuples: list[tuple[sp.Basic, ...]] = []
        self.simplex_bases: dict[sp.IndexedBase, Simplex] = {}
        self.base_sets: dict[sp.IndexedBase, sp.Set] = {}
        for key, value in (spec or {}).items():
            self._add(key, value)

    def _add(self, key: Key, value: Any) -> None:
        if isinstance(key, tuple):
            if not isinstance(value, Simplex) or value.size is not None:
                raise DomainError(f"a tuple key {key} takes Simplex() without size, got {value!r}")
            if not all(isinstance(k, (sp.Symbol, sp.Indexed)) for k in key):
                raise DomainError(f"a tuple key must hold symbols, got {key}")
            self.simplex_tuples.append(key)
        elif isinstance(key, sp.IndexedBase):
            if isinstance(value, Simplex):
                if value.size is None:
                    raise DomainError(f"Simplex for {key} needs a size (int or integer symbol)")
                self.simplex_bases[key] = value
            else:
                self.base_sets[key] = _as_set(value, key)
        elif isinstance(key, (sp.Symbol, sp.Indexed)):
            if isinstance(value, tuple) and len(value) == 2:
                if not (key.is_integer or isinstance(key, sp.Symbol)):
                    raise DomainError(f"integer range given for {key}, which is not a symbol")
                self.int_ranges[key] = (sp.sympify(value[0]), sp.sympify(value[1]))
            else:
                self.sets[key] = _as_set(value, key)
        else:
            raise DomainError(
                f"domain keys are symbols, indexed bases or tuples of symbols; got {key!r}"
            )

    # ----- what a claim's objects range over -------------------------------------------

    def set_for(self, x: sp.Basic) -> sp.Set:
        """The set a real-valued symbol or indexed entry is drawn from."""
        if x in self.sets:
            return self.sets[x]
        if isinstance(x, sp.Indexed) and x.base in self.base_sets:
            return self.base_sets[x.base]
        return _real_set_from_assumptions(x)

    def is_integer_symbol(self, x: sp.Basic) -> bool:
        if x in self.int_ranges:
            return True
        if x in self.sets:
            s = self.sets[x]
            return isinstance(s, (sp.Range, sp.FiniteSet)) and all(v.is_integer for v in s)
        return bool(isinstance(x, sp.Symbol) and x.is_integer)

    def finite_cases(self, xs: Iterable[sp.Basic]) -> dict[sp.Basic, list[Any]]:
        """Symbols whose domain is a finite set, with their values (for proof by cases)."""
        out = {}
        for x in xs:
            s = self.sets.get(x)
            if isinstance(s, sp.FiniteSet):
                out[x] = [_exact_number(v) for v in s.args]
        return out

    # ----- drawing points ---------------------------------------------------------------

    def draw_integers(
        self, symbols: Iterable[sp.Symbol], rng: random.Random, *, span: int | None = None
    ) -> dict[Any, int]:
        """Values for integer symbols, bounds that name other symbols resolved first.

        ``span`` caps each range at lo + span (sizes kept small, so that sums
        written out for them stay short); by default lo + 10.
        """
        cap = 2 * _SMALL_INT_SPAN if span is None else span
        pending = sorted(set(symbols), key=str)
        values: dict[Any, int] = {}
        for _ in range(len(pending) + 1):
            if not pending:
                return values
            still = []
            for x in pending:
                lo_hi = self._int_bounds(x, values)
                if lo_hi is None:
                    still.append(x)
                    continue
                lo, hi = lo_hi
                if hi < lo:
                    raise DomainError(f"empty integer range for {x}: [{lo}, {hi}]")
                hi = min(hi, lo + cap)
                # The ends of a range are where index claims break (j = 0, K = 1): visit them.
                ends = rng.random() < _INT_END_SHARE
                values[x] = rng.choice((lo, hi)) if ends else rng.randint(lo, hi)
            pending = still
        raise DomainError(f"integer bounds depend on each other in a cycle: {pending}")

    def _int_bounds(self, x: sp.Basic, known: Mapping[Any, int]) -> tuple[int, int] | None:
        if x in self.int_ranges:
            lo, hi = (sp.sympify(b).subs(known) for b in self.int_ranges[x])
            if lo.free_symbols or hi.free_symbols:
                return None
            if hi is sp.oo:  # open-ended (K >= 2): small values, so sums stay expandable
                return int(lo), int(lo) + 2 * _SMALL_INT_SPAN
            return int(lo), int(hi)
        s = self.sets.get(x)
        if isinstance(s, sp.FiniteSet):
            return None if not s.args else (int(min(s.args)), int(max(s.args)))
        return _int_bounds_from_assumptions(x)

    def draw_reals(
        self,
        xs: Iterable[sp.Basic],
        rng: random.Random,
        *,
        special: int | None = None,
        ints: Mapping[Any, int] | None = None,
    ) -> dict[Any, Any]:
        """Values for real symbols and indexed entries (simplex groups drawn jointly).

        With ``special=k`` the k-th point of a sweep over the special values
        (0, +-1, 1/2, 2, closed end points): symbol j takes the value (k + j)
        of its list, so a lone symbol visits each of them in turn.  ``ints``
        are the values already drawn for integer symbols (simplex sizes).
        """
        xs = list(xs)
        values: dict[Any, Any] = {}
        for group in self.simplex_tuples:
            if any(x in xs for x in group):
                values.update(zip(group, _draw_simplex(len(group), rng)))
        for base, simplex in self.simplex_bases.items():
            entries = [x for x in xs if isinstance(x, sp.Indexed) and x.base == base]
            if entries:
                values.update(self._draw_indexed_simplex(base, simplex, entries, rng, ints or {}))
        for j, x in enumerate(xs):
            if x in values:
                continue
            s = self.set_for(x)
            options = _special_values(s) if special is not None else ()
            if options:
                values[x] = options[(special + j) % len(options)]  # type: ignore[operator]
            else:
                values[x] = _draw_from_set(s, rng)
        return values

    def special_count(self, xs: Iterable[sp.Basic]) -> int:
        """How many points a sweep over the special values takes."""
        return max((len(_special_values(self.set_for(x))) for x in xs), default=0)

    def _draw_indexed_simplex(
        self,
        base: sp.IndexedBase,
        simplex: Simplex,
        entries: list[sp.Indexed],
        rng: random.Random,
        ints: Mapping[Any, int],
    ) -> dict[Any, float]:
        size = sp.sympify(simplex.size).subs(ints)
        if size.free_symbols:
            raise DomainError(
                f"the size {size} of the simplex of {base} was not fixed before drawing;"
                " give its symbols integer assumptions or ranges"
            )
        n = int(size)
        rows: dict[tuple[Any, ...], list[float]] = {}
        out = {}
        for e in entries:
            *row, idx = e.indices
            pos = int(idx) - simplex.start
            if not 0 <= pos < n:
                raise DomainError(f"{e} is outside the simplex {base}[..., {simplex.start}..{n}]")
            if tuple(row) not in rows:
                rows[tuple(row)] = _draw_simplex(n, rng)
            out[e] = rows[tuple(row)][pos]
        return out


# ----- undefined functions --------------------------------------------------------------


def random_function(nargs: int, rng: random.Random) -> sp.Lambda:
    """A random smooth function of ``nargs`` arguments, to stand for an undefined f.

    c0 + sum_i c_i x_i + c_s sin(sum_i a_i x_i + b) + c_e exp(sum_i e_i x_i / 4):
    an identity that holds for every f holds for it, and one that does not
    fails for it with probability one.
    """
    xs = sp.symbols(f"x0:{nargs}", real=True)

    def coef() -> sp.Rational:
        return sp.Rational(rng.randint(-16, 16) or 1, 8)

    linear = sum((coef() * x for x in xs), sp.S.Zero)
    phase = sum((coef() * x for x in xs), coef())
    growth = sum((coef() * x / 4 for x in xs), sp.S.Zero)
    body = coef() + linear + coef() * sp.sin(phase) + coef() * sp.exp(growth)
    return sp.Lambda(xs, body)


def replace_undefined(exprs: list[Any], rng: random.Random) -> tuple[list[Any], dict[Any, Any]]:
    """Replace each undefined function (the same one everywhere) by a random one."""
    arity: dict[Any, int] = {}
    for e in exprs:
        if isinstance(e, sp.Basic):
            for a in e.atoms(AppliedUndef):
                arity.setdefault(a.func, len(a.args))
    if not arity:
        return exprs, {}
    choice = {f: random_function(arity[f], rng) for f in sorted(arity, key=str)}
    out = []
    for e in exprs:
        if isinstance(e, sp.Basic):
            for f, lam in choice.items():
                e = e.replace(f, lam)
        out.append(e)
    return out, choice


def float_repr(v: Any) -> str:
    """A short, exact-enough text for a sample value."""
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and math.isfinite(v):
        return repr(v)
    return str(v)
