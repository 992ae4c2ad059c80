"""The decision procedure (is a == b?) and derivations as data.

``check_equal(a, b)`` answers with a :class:`Verdict`:

* ``"refuted"``: a point where the two sides differ, confirmed at high
  precision (mpmath, 60 and 120 digits), given as ``counterexample``;
* ``"proved"``: a symbolic normal form of ``a - b`` is zero (or, for a
  relation, a symbolic argument that it holds);
* ``"numerically-consistent"``: no proof within the budget, but the sides
  agree at every random point tried;
* ``"undecided"``: no proof and no usable point (every point failed to
  evaluate).  A registered derivation never ends here.

Order matters.  The sides are first compared at random points that respect the
domain (fast, and it stops a wrong claim before ``simplify`` hangs on it): the
first ``FIRST_POINTS`` of them (or the first group of sizes); the rest only if
no proof is found, with time kept for them, so a step left without proof is
tested at every point it asks for, and a proved step does not wait for
evidence it no longer needs.  The points are evaluated on a tape of ball
operations (:mod:`derivations.balls`) that carries out derivatives itself, by
forward-mode automatic differentiation: the numeric evidence never rests on
SymPy's differentiation.  Then cheap normal forms,
``cancel(together(expand(e.rewrite(exp))))``, are tried on the symbols with
their assumptions, case by case over finite sets, and over bounded intervals
reparametrized by a positive symbol; ``simplify`` comes last.  A claim with
sums over a symbolic range (``Sum``, ``KroneckerDelta``) first goes through
the rules of :mod:`derivations.sums`.  Every attempt runs under the time
budget; one that runs out is named in the verdict's ``method``.

Relations work the same way: ``check_equal(rel)`` asks whether ``rel`` holds
on the domain, ``check_equal(rel1, rel2)`` whether the two are equivalent.

Primitives (``sigmoid``, ``softplus``, ...) are expanded to their elementary
definitions before anything is evaluated; and before anything is differentiated,
with one exception: the proof strategies "rational form, primitives as symbols"
and "sums over index ranges, primitives by fdiff" differentiate with the
primitives' ``fdiff`` (each proved equal to the derivative of its definition
by tests/test_functions.py and tests/test_backprop.py).  The first, like
"exponentials as symbols, chain rule" for softmax and attention gradients,
writes each applied function as a fresh symbol and differentiates by the chain
rule in those symbols (:mod:`derivations.chain`).  A zero found then holds
whatever values the symbols take, so it is a proof; it makes a network of many
sigmoid layers (whose elementary form is a tower of exponentials) cheap to
compare.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from itertools import product
from typing import Any, Literal

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from derivations import highprec
from derivations.balls import Ball, Tape, Unsupported, compile_tape
from derivations.budget import BudgetExceeded, run_with_budget, signals_usable, time_limit
from derivations.chain import functions_as_symbols
from derivations.functions import PRIMITIVES, expand_primitives
from derivations.sampling import Domain, Simplex, float_repr, replace_undefined
from derivations.sums import (
    expand_finite_sums,
    has_index_sums,
    index_sign_shown,
    index_sums_vanish,
)

__all__ = [
    "DEFAULT_BUDGET_S",
    "Derivation",
    "DerivationReport",
    "Simplex",
    "Status",
    "Step",
    "Verdict",
    "check_equal",
]

Status = Literal["proved", "refuted", "numerically-consistent", "undecided"]

DEFAULT_BUDGET_S = 5.0
DEFAULT_POINTS = 24
DEFAULT_DPS = 30
# The numeric stage may use this share of the budget; proofs get the rest.
NUMERIC_SHARE = 0.4
# A forked check (off the main thread) may take this long to start and report.
CHILD_GRACE_S = 1.0
# A point whose comparison is not settled gets more digits, up to this many times the start.
MAX_DPS_FACTOR = 8
# An error radius below this share of the values is settled.
RESOLVED = 1e-20
# Fewer agreeing points than this is no evidence.
MIN_POINTS = 3
# Points tested before the proofs (where sizes or random functions are drawn in groups,
# the first group instead); the rest of them only when no proof is found.
FIRST_POINTS = 8
# The proofs leave the points not yet tested this many times the time the first ones took
# per point (capped by the numeric stage's share of the budget).
RESERVE_FACTOR = 2.0
# "products expanded", tried first, may use this share of the time left for proofs.
EXPANDED_SHARE = 0.25
# Integer ranges of the first group of points span at most this many values past their
# start (K in 1..3); each later group two more.
INT_SPAN_START = 2

_RELATIONS: dict[type, str] = {
    sp.Equality: "==",
    sp.Unequality: "!=",
    sp.GreaterThan: ">=",
    sp.StrictGreaterThan: ">",
    sp.LessThan: "<=",
    sp.StrictLessThan: "<",
}


# ----------------------------------------------------------------------------------------
# Verdicts
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The answer to "is a == b?" (or "does this relation hold?").

    ``counterexample`` maps each symbol (or indexed entry) to its value and is
    set only when ``status == "refuted"``; ``values`` then holds the two sides
    there, as text.  ``points`` counts the random points where both sides
    were evaluated and agreed.
    """

    status: Status
    method: str
    elapsed_s: float
    counterexample: dict[Any, Any] | None = None
    values: tuple[str, str] | None = None
    points: int = 0
    detail: str = ""

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    @property
    def refuted(self) -> bool:
        return self.status == "refuted"

    def __str__(self) -> str:
        text = f"{self.status} ({self.method}; {self.elapsed_s:.2f} s)"
        if self.counterexample is not None:
            at = ", ".join(f"{k} = {float_repr(v)}" for k, v in self.counterexample.items())
            text += f"; at {at}"
            if self.values:
                text += f": {self.values[0]} vs {self.values[1]}"
        return text


# ----------------------------------------------------------------------------------------
# Claims: what is compared
# ----------------------------------------------------------------------------------------


def _as_sympy(x: Any, name: str) -> Any:
    if isinstance(x, str):
        raise TypeError(
            f"{name} is a string; build SymPy objects in code, or parse text with "
            "derivations.parse (which never calls eval)"
        )
    if isinstance(x, bool):
        return sp.true if x else sp.false
    if isinstance(x, int):
        return sp.Integer(x)
    if isinstance(x, Fraction):
        return sp.Rational(x.numerator, x.denominator)
    if isinstance(x, float):
        return sp.Float(x)
    if isinstance(x, (sp.Basic, sp.MatrixBase)):
        return x
    raise TypeError(
        f"{name} must be a SymPy expression, matrix or relation, not {type(x).__name__}"
    )


def _is_logical(x: Any) -> bool:
    """A relation or truth value (a Symbol is a Boolean in SymPy, but not this)."""
    return isinstance(
        x,
        (
            sp.core.relational.Relational,
            sp.logic.boolalg.BooleanAtom,
            sp.logic.boolalg.BooleanFunction,
        ),
    )


@dataclass(frozen=True)
class _Relation:
    lhs: Any
    op: str
    rhs: Any

    @classmethod
    def of(cls, rel: sp.Basic, name: str) -> _Relation:
        op = _RELATIONS.get(type(rel))
        if op is None:
            raise TypeError(
                f"{name} must be a single relation (==, !=, <, <=, >, >=), got {type(rel).__name__}"
            )
        return cls(rel.lhs, op, rel.rhs)

    def holds(self, sign: int) -> bool:
        """Truth of ``lhs op rhs`` given the sign of lhs - rhs."""
        return {
            "==": sign == 0,
            "!=": sign != 0,
            ">=": sign >= 0,
            ">": sign > 0,
            "<=": sign <= 0,
            "<": sign < 0,
        }[self.op]

    def sympy(self) -> sp.Basic:
        cls = {v: k for k, v in _RELATIONS.items()}[self.op]
        return cls(self.lhs, self.rhs, evaluate=False)


@dataclass(frozen=True)
class _Claim:
    """equal: pairs (a_i, b_i); holds: one relation; equivalent: two relations."""

    kind: Literal["equal", "holds", "equivalent"]
    pairs: tuple[tuple[Any, Any], ...] = ()
    relations: tuple[_Relation, ...] = ()

    @classmethod
    def of(cls, a: Any, b: Any) -> _Claim:
        a, b = _as_sympy(a, "a"), _as_sympy(b, "b")
        a_bool, b_bool = _is_logical(a), _is_logical(b)
        if a_bool and b is sp.true:
            if a in (sp.true, sp.false):
                return cls(
                    "holds", relations=(_Relation(sp.S.Zero, "==" if a else "!=", sp.S.Zero),)
                )
            rel = _Relation.of(a, "a")
            if rel.op == "==":
                return cls._equal(rel.lhs, rel.rhs)
            return cls("holds", relations=(rel,))
        if a is sp.true and b_bool:
            a, b = b, a
        if a_bool and b is sp.true:
            return cls.of(a, b)
        if a_bool and b_bool:
            return cls("equivalent", relations=(_Relation.of(a, "a"), _Relation.of(b, "b")))
        if a_bool or b_bool:
            raise TypeError(
                "cannot compare a relation with an expression: pass two expressions, "
                "two relations, or one relation alone"
            )
        return cls._equal(a, b)

    @classmethod
    def _equal(cls, a: Any, b: Any) -> _Claim:
        a_mat, b_mat = isinstance(a, sp.MatrixBase), isinstance(b, sp.MatrixBase)
        if a_mat or b_mat:
            if not (a_mat and b_mat):
                raise TypeError("cannot compare a matrix with a scalar")
            if a.shape != b.shape:
                raise ValueError(f"shapes differ: a is {a.shape}, b is {b.shape}")
            return cls("equal", pairs=tuple(zip(a, b)))
        return cls("equal", pairs=((a, b),))

    def sides(self) -> list[Any]:
        if self.kind == "equal":
            return [x for pair in self.pairs for x in pair]
        return [x for r in self.relations for x in (r.lhs, r.rhs)]


# ----------------------------------------------------------------------------------------
# Numeric stage
# ----------------------------------------------------------------------------------------


@dataclass
class _Evidence:
    agreed: int = 0
    skipped: int = 0
    counterexample: dict[Any, Any] | None = None
    values: tuple[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    dps: int = DEFAULT_DPS


# Prepared expressions of this process, kept for the next claim that holds them: a line of
# a derivation is one side of two links, and the proof stage meets the sides of the numeric
# stage again.  At most this many.
PREPARED_KEPT = 512


def _prepare(expr: Any) -> Any:
    """Primitives expanded, then derivatives and sums carried out (remembered: doit is slow)."""
    return _prepared(expr) if isinstance(expr, sp.Basic) else expr


@lru_cache(maxsize=PREPARED_KEPT)
def _prepared(expr: sp.Basic) -> Any:
    if isinstance(expr, sp.Derivative) and not any(v.has(*PRIMITIVES) for v in expr.variables):
        # The function prepared once (remembered: the entries of a gradient share it),
        # then differentiated; doit(deep=False) leaves the prepared function as it is.
        function = _prepare(expr.expr)
        return sp.Derivative(function, *expr.variable_count).doit(deep=False)
    e = expand_primitives(expr)
    return e.doit() if isinstance(e, sp.Basic) else e


def _integer_symbols(exprs: Iterable[Any], domain: Domain) -> set[sp.Symbol]:
    found: set[sp.Symbol] = set()
    for e in exprs:
        if isinstance(e, sp.Basic):
            free = set(e.free_symbols)
            # d/dw[k]: SymPy leaves the index k out of the derivative's free symbols.
            for der in e.atoms(sp.Derivative):
                for var in der.variables:
                    free |= var.free_symbols
            found |= {s for s in free if domain.is_integer_symbol(s)}
    # Bounds of ranges name further integer symbols (an index i in 1..K needs K).
    for x in list(found):
        if x in domain.int_ranges:
            for bound in domain.int_ranges[x]:
                found |= set(bound.free_symbols)
    for simplex in domain.simplex_bases.values():
        found |= set(sp.sympify(simplex.size).free_symbols)
    return found


def _fmt(x: Any) -> str:
    return str(mpmath.nstr(x, 17))


class _PointTester:
    """Compiles a claim for one choice of integers and random functions, and tests points.

    Values are balls (midpoint and error radius, :mod:`derivations.balls`), so
    "differ" means disjoint balls; a comparison the balls cannot settle asks
    for twice the digits, up to ``MAX_DPS_FACTOR`` times the starting count.
    """

    def __init__(
        self,
        claim: _Claim,
        domain: Domain,
        ints: Mapping[Any, int],
        rng: random.Random,
    ):
        sides, self.functions = replace_undefined(claim.sides(), rng)
        self.claim = claim
        self.ints = dict(ints)
        written = [expand_finite_sums(s.subs(ints) if ints else s) for s in sides]
        try:  # derivatives on the tape (forward mode): no symbolic differentiation
            self._compile(written, fallback=False)
        except Unsupported:  # derivatives (and the rest) carried out by SymPy
            self._compile([_prepare(s) for s in written], fallback=True)

    def _compile(self, sides: list[Any], *, fallback: bool) -> None:
        """The tape of ``sides`` over their Indexed objects and symbols; with ``fallback``,
        plain mpmath evaluation where the tape cannot hold them."""
        free = set().union(*(s.free_symbols for s in sides))
        indexed = sorted((x for x in free if isinstance(x, sp.Indexed)), key=str)
        labels = {x.base.label for x in indexed}  # w of w[1]: free, but not a value
        symbols = sorted((x for x in free - labels if not isinstance(x, sp.Indexed)), key=str)
        leftover = [x for x in symbols if x.is_integer]
        if leftover:
            raise ValueError(f"integer symbols left without values: {leftover}")
        self.objects = [*indexed, *symbols]
        try:
            self.tape: Tape | None = compile_tape(tuple(sides), tuple(self.objects))
        except Unsupported:
            if not fallback:
                raise
            # lambdify names its arguments: the Indexed objects become plain symbols.
            dummies = {x: sp.Dummy(str(x)) for x in indexed}
            args = tuple(dummies.get(x, x) for x in self.objects)
            self.tape = None
            self.fn = highprec.compile_mpmath(tuple(s.xreplace(dummies) for s in sides), args)

    def _balls(self, values: Sequence[Any], dps: int) -> list[Ball]:
        if self.tape is not None:
            return self.tape.evaluate(values, dps)
        return [Ball(e.value, e.error) for e in highprec.estimate(self.fn, values, dps // 2)]

    def test(self, point: Mapping[Any, Any], dps: int) -> tuple[str, tuple[str, str] | None]:
        """'agree', 'differ' (with both sides as text) or 'skip' at ``point``, from dps digits."""
        values = [point[x] for x in self.objects]
        precision, cap = dps, MAX_DPS_FACTOR * dps
        while True:
            final = precision >= cap
            try:
                balls = self._balls(values, precision)
                if not all(b.is_finite for b in balls):
                    return "skip", None
                decided = self._decide(balls, final)
            except (ArithmeticError, ValueError, TypeError):  # Undecidable included
                decided = ("skip", None) if final else None
            if decided is not None:
                return decided
            precision *= 2

    def _decide(self, balls: list[Ball], final: bool) -> tuple[str, tuple[str, str] | None] | None:
        if self.claim.kind == "equal":
            unsure = False
            for a, b in zip(balls[0::2], balls[1::2]):
                gap, rad = abs(a.mid - b.mid), a.rad + b.rad
                if gap > 2 * rad:
                    return "differ", (_fmt(a.mid), _fmt(b.mid))
                unsure |= not _resolved(rad, a, b)
            return None if unsure and not final else ("agree", None)
        if not all(b.is_real for b in balls):
            return "skip", None
        truths = []
        for rel, lhs, rhs in zip(self.claim.relations, balls[0::2], balls[1::2]):
            gap = Ball(lhs.mid.real - rhs.mid.real, lhs.rad + rhs.rad)
            if abs(gap.mid) > 2 * gap.rad:
                sign = 1 if gap.mid > 0 else -1
            elif final or _resolved(gap.rad, lhs, rhs):
                sign = 0
            else:
                return None
            truths.append(rel.holds(sign))
        if self.claim.kind == "holds":
            shown = (_fmt(balls[0].mid), _fmt(balls[1].mid))
            return ("agree", None) if truths[0] else ("differ", shown)
        shown = (str(truths[0]).lower(), str(truths[1]).lower())
        return ("agree", None) if truths[0] == truths[1] else ("differ", shown)


def _resolved(rad: Any, a: Ball, b: Ball) -> bool:
    """The error radius is negligible next to the values (or exactly zero)."""
    return bool(rad == 0 or rad <= RESOLVED * max(abs(a.mid), abs(b.mid)))


class _NumericStage:
    """The random points of one claim, tested in the order they are drawn, in two runs.

    :meth:`run` tests points until ``until`` have been tried (or the deadline, or a
    confirmed difference); a later call goes on from there with the same draws, so
    the points tested in two runs are those one run would test.  ``check_equal``
    tests the first run's points before the proofs (:meth:`first_run`) and the rest
    only when no proof is found: a proved step needs no more evidence, and a step
    left without proof gets every point it would have had.
    """

    def __init__(self, claim: _Claim, domain: Domain, *, points: int, dps: int, seed: int):
        self.claim, self.domain, self.points, self.dps = claim, domain, points, dps
        self.rng = random.Random(seed)
        self.evidence = _Evidence(dps=2 * dps)
        self.tested = 0
        self.exhausted = False  # every point drawn, or the draws broken off
        self.elapsed_s = 0.0
        # Each group of points draws new sizes (and new random functions).
        sides = claim.sides()
        self.ints_needed = sorted(_integer_symbols(sides, domain), key=str)
        drawn_anew = self.ints_needed or any(
            isinstance(e, sp.Basic) and e.has(AppliedUndef) for e in sides
        )
        self.groups = max(1, min(6, points // 4)) if drawn_anew else 1
        self.per_group = -(-points // self.groups)
        self._draws = self._drawn()

    def first_run(self) -> int:
        """Points tested before the proofs: the first group of sizes (the smallest) or of
        random functions where there are several, else the first ``FIRST_POINTS``."""
        return self.per_group if self.groups > 1 else min(self.points, FIRST_POINTS)

    def _drawn(self) -> Iterator[tuple[_PointTester, dict[Any, Any]]]:
        domain, rng, per_group = self.domain, self.rng, self.per_group
        for g in range(self.groups):
            # Small sizes first (written-out sums grow with their product), larger ones later.
            ints = domain.draw_integers(self.ints_needed, rng, span=INT_SPAN_START + 2 * g)
            tester = _PointTester(self.claim, domain, ints, rng)
            if tester.functions:
                shown = ", ".join(f"{f} -> {lam}" for f, lam in tester.functions.items())
                self.evidence.notes.append(f"undefined functions replaced by random ones ({shown})")
            n_special = min(domain.special_count(tester.objects), per_group // 2) if g == 0 else 0
            for k in range(per_group):
                special = k if k < n_special else None
                yield (
                    tester,
                    domain.draw_reals(tester.objects, rng, special=special, ints=tester.ints),
                )

    def run(self, until: int | None, deadline: float) -> None:
        """Test points until ``until`` are tried (None: :meth:`first_run`), the deadline
        passes, or two sides differ; the outcome is in ``evidence``."""
        started = time.monotonic()
        evidence, dps = self.evidence, self.dps
        try:
            until = self.first_run() if until is None else until
            while self.tested < until and not self.exhausted:
                if time.monotonic() >= deadline:
                    evidence.notes.append("numeric stage stopped by the time budget")
                    break
                try:
                    tester, point = next(self._draws)
                except StopIteration:
                    self.exhausted = True
                    break
                self.tested += 1
                outcome, shown_values = tester.test(point, 2 * dps)
                if outcome == "differ":
                    confirm, _ = tester.test(point, 4 * dps)
                    if confirm == "differ":
                        evidence.counterexample = {**tester.ints, **point}
                        evidence.values = shown_values
                        self.exhausted = True
                        break
                    outcome = "skip"
                if outcome == "agree":
                    evidence.agreed += 1
                else:
                    evidence.skipped += 1
        except BaseException:
            self.exhausted = True  # a generator that raised cannot go on
            raise
        finally:
            self.elapsed_s += time.monotonic() - started
        if self.tested >= self.points:
            self.exhausted = True

    def time_to_finish(self) -> float:
        """A generous estimate of the time the points left would take (0 if none are)."""
        if self.exhausted:
            return 0.0
        per_point = self.elapsed_s / max(1, self.tested)
        return RESERVE_FACTOR * per_point * (self.points - self.tested)


# ----------------------------------------------------------------------------------------
# Proof stage
# ----------------------------------------------------------------------------------------


def _normal_form(e: sp.Expr) -> sp.Expr:
    return sp.cancel(sp.together(sp.expand(e.rewrite(sp.exp))))


def _assumption_dummies(exprs: Sequence[Any], domain: Domain) -> dict[Any, Any]:
    """Symbols replaced by ones that carry what the domain knows (positive, integer, ...)."""
    subs: dict[Any, Any] = {}
    free = set().union(*(e.free_symbols for e in exprs if isinstance(e, sp.Basic)))
    for x in sorted(free, key=str):
        s = domain.sets.get(x)
        if s is None or not isinstance(x, sp.Symbol):
            continue
        facts: dict[str, bool] = {"real": True}
        if s.is_subset(sp.Interval.open(0, sp.oo)):
            facts["positive"] = True
        elif s.is_subset(sp.Interval(0, sp.oo)):
            facts["nonnegative"] = True
        elif s.is_subset(sp.Interval.open(-sp.oo, 0)):
            facts["negative"] = True
        elif s.is_subset(sp.Interval(-sp.oo, 0)):
            facts["nonpositive"] = True
        if isinstance(s, sp.FiniteSet) and all(v.is_integer for v in s):
            facts["integer"] = True
        subs[x] = sp.Dummy(x.name, **facts)
    for group in domain.simplex_tuples:
        if all(isinstance(x, sp.Symbol) for x in group):
            pos = {x: sp.Dummy(x.name, positive=True) for x in group[:-1]}
            subs.update(pos)
            subs[group[-1]] = 1 - sp.Add(*pos.values())
    return subs


def _reparametrizations(exprs: Sequence[Any], domain: Domain) -> dict[Any, Any]:
    """Bounded intervals written through a positive t: (a, b) is (a + b t) / (1 + t).

    Exact on the open interval, so a zero found this way is a proof there.
    """
    subs: dict[Any, Any] = {}
    free = set().union(*(e.free_symbols for e in exprs if isinstance(e, sp.Basic)))
    for x in sorted(free, key=str):
        s = domain.sets.get(x)
        if not isinstance(s, sp.Interval):
            continue
        a, b = s.inf, s.sup
        t = sp.Dummy(f"t_{x}", positive=True)
        if a.is_finite and b.is_finite:
            subs[x] = (a + b * t) / (1 + t)
        elif a.is_finite and a != 0:
            subs[x] = a + t
        elif b.is_finite and b != 0:
            subs[x] = b - t
    return subs


_ZeroTest = Callable[[sp.Expr], bool]


def _zero_by_rational_form(e: sp.Expr) -> bool:
    """cancel(together(e)): a rational function of the generators as they stand."""
    return bool(sp.cancel(sp.together(e)) == 0)


def _expanded_products(e: sp.Expr) -> sp.Expr:
    """Products and integer powers of sums multiplied out, nothing else rewritten.

    No exponential or logarithm is split and nothing is put over a common
    denominator, so the terms of a large sum of quotients (the entries of a
    softmax and their derivatives) cancel term by term, often in a fraction of
    the time the rational normal form takes.
    """
    return sp.expand(e, power_exp=False, power_base=False, log=False)


def _zero_by_expanded_products(e: sp.Expr) -> bool:
    return bool(_expanded_products(e) == 0)


def _zero_by_normal_form(e: sp.Expr) -> bool:
    return bool(_normal_form(e) == 0)


def _zero_expanded_or_rational(e: sp.Expr) -> bool:
    """Products expanded, then the rational form: for differences whose function values
    are symbols and whose derivatives are carried out (:mod:`derivations.chain`).  A
    polynomial in the symbols (a network's gradient) is settled by expand alone."""
    flat = _expanded_products(e)
    return bool(flat == 0 or _zero_by_rational_form(flat))


def _zero_by_simplify(e: sp.Expr) -> bool:
    return bool(sp.simplify(e) == 0)


@dataclass(frozen=True)
class _Strategy:
    """A way to show differences are zero: its name, the expressions it works on
    (made inside its budget), the test, and the share of the time left it may use
    once the expressions are ready."""

    name: str
    exprs: Callable[[], list[Any]]
    is_zero: _ZeroTest
    share: float = 1.0


def _prove_zero(
    pairs: Sequence[tuple[Any, Any]], domain: Domain, deadline: float, notes: list[str]
) -> str | None:
    """Name of the method that shows a - b is zero for every pair (a, b), or None."""
    raw = [a - b for a, b in pairs]
    memo: dict[str, list[Any]] = {}

    # Prepared lazily, inside a strategy's budget: doit() itself can be slow
    # (a sum over a symbolic range tries closed forms).  The sides are prepared
    # one by one, as the numeric stage prepared (and remembered) them.
    def prepared() -> list[Any]:
        if "prepared" not in memo:
            memo["prepared"] = [_prepare(a) - _prepare(b) for a, b in pairs]
        return memo["prepared"]

    def base() -> list[Any]:
        if "base" not in memo:
            assumed = _assumption_dummies(prepared(), domain)
            memo["base"] = [
                d.xreplace(assumed) if isinstance(d, sp.Basic) else d for d in prepared()
            ]
        return memo["base"]

    strategies: list[_Strategy] = []
    with_primitives = any(isinstance(d, sp.Basic) and d.has(*PRIMITIVES) for d in raw)
    if has_index_sums(raw):
        # Before doit() turns the sums into Piecewise: see derivations.sums.
        if with_primitives:
            strategies.append(
                _Strategy(
                    "sums over index ranges, primitives by fdiff",
                    lambda: raw,
                    lambda e: index_sums_vanish(e, domain, expand=False),
                )
            )
        strategies.append(
            _Strategy("sums over index ranges", lambda: raw, lambda e: index_sums_vanish(e, domain))
        )
    elif with_primitives:
        # Works on the differences as written: no doit() of expanded primitives needed.
        assumed = _assumption_dummies(raw, domain)
        strategies.append(
            _Strategy(
                "rational form, primitives as symbols",
                lambda: functions_as_symbols(
                    [d.xreplace(assumed) if isinstance(d, sp.Basic) else d for d in raw],
                    primitives="fdiff",
                ),
                _zero_expanded_or_rational,
            )
        )
    elif any(isinstance(d, sp.Basic) and d.has(sp.Derivative) and d.has(sp.exp) for d in raw):
        strategies.append(
            _Strategy(
                "exponentials as symbols, chain rule",
                lambda: functions_as_symbols(raw, primitives="definition"),
                _zero_expanded_or_rational,
                EXPANDED_SHARE,
            )
        )
    strategies += [
        _Strategy("products expanded", base, _zero_by_expanded_products, EXPANDED_SHARE),
        _Strategy("rational normal form", base, _zero_by_rational_form),
        _Strategy("normal form", base, _zero_by_normal_form),
    ]
    cases = domain.finite_cases(x for d in raw if isinstance(d, sp.Basic) for x in d.free_symbols)
    if cases and _case_count(cases) <= 64:
        names = ", ".join(f"{x} in {{{', '.join(map(str, v))}}}" for x, v in cases.items())
        strategies.append(
            _Strategy(
                f"cases {names}: normal form", lambda: _by_cases(raw, cases), _zero_by_normal_form
            )
        )
    reparam = _reparametrizations(raw, domain)
    if reparam:
        names = ", ".join(f"{x} in {domain.sets[x]}" for x in reparam)
        strategies.append(
            _Strategy(
                f"normal form on {names} reparametrized",
                lambda: [d.xreplace(reparam) for d in prepared()],
                _zero_by_normal_form,
            )
        )
    strategies.append(_Strategy("simplify", base, _zero_by_simplify))
    if cases and _case_count(cases) <= 64:
        strategies.append(
            _Strategy("cases: simplify", lambda: _by_cases(raw, cases), _zero_by_simplify)
        )
    for strategy in strategies:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            notes.append(f"{strategy.name}: no time left")
            continue
        try:
            with time_limit(remaining):
                items = strategy.exprs()
                # The share counts from when the expressions are ready; a whole share
                # ends with the outer limit and needs none of its own.
                share = strategy.share * (deadline - time.monotonic())
                with time_limit(share) if strategy.share < 1 else nullcontext():
                    if all(strategy.is_zero(e) for e in items):
                        return strategy.name
        except BudgetExceeded:
            notes.append(f"{strategy.name}: exceeded the time budget")
            sp.core.cache.clear_cache()
        except (NotImplementedError, TypeError, ValueError, sp.PolynomialError) as exc:
            notes.append(f"{strategy.name}: {type(exc).__name__}")
    return None


def _case_count(cases: Mapping[Any, list[Any]]) -> int:
    n = 1
    for v in cases.values():
        n *= len(v)
    return n


def _by_cases(diffs: Sequence[Any], cases: Mapping[Any, list[Any]]) -> list[Any]:
    keys = list(cases)
    out = []
    for combo in product(*(cases[k] for k in keys)):
        subs = {k: sp.nsimplify(v) for k, v in zip(keys, combo)}
        out.extend(_prepare(d.subs(subs)) for d in diffs if isinstance(d, sp.Basic))
    return out


def _real_derivatives(d: sp.Expr) -> sp.Expr:
    """Derivatives of a real function by real variables, as real symbols (SymPy leaves their
    sign assumptions unknown, so -f'(x)^2 <= 0 would not show)."""
    subs = {
        der: sp.Dummy("D", real=True)
        for der in d.atoms(sp.Derivative)
        if der.expr.is_real and all(v.is_real for v in der.variables)
    }
    return d.xreplace(subs) if subs else d


def _sign_shown(d: sp.Expr, strict: bool) -> bool:
    """d > 0 (strict) or d >= 0 shown by SymPy's assumptions on d as written, on its
    normal form, or on that form factored (each tried only when the one before fails)."""

    def forms() -> Iterator[sp.Expr]:
        yield (written := _real_derivatives(d))
        yield (normal := _normal_form(written))
        yield sp.factor(normal)

    return any(_sign_holds(form, strict) for form in forms())


def _sign_holds(form: sp.Expr, strict: bool) -> bool:
    """SymPy's assumptions show form > 0 (strict) or form >= 0."""
    return bool(form.is_positive if strict else form.is_nonnegative)


_NEGATE = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}


def _solution_set(rel: _Relation, x: sp.Symbol, domain: Domain) -> sp.Set | None:
    s = sp.solveset(_prepare(rel.sympy()), x, domain.set_for(x))
    return None if isinstance(s, sp.ConditionSet) else s


def _univariate_symbol(rels: Sequence[_Relation]) -> sp.Symbol | None:
    free = set()
    for r in rels:
        free |= sp.sympify(r.lhs).free_symbols | sp.sympify(r.rhs).free_symbols
    return next(iter(free)) if len(free) == 1 and isinstance(next(iter(free)), sp.Symbol) else None


def _prove_relation(claim: _Claim, domain: Domain, deadline: float, notes: list[str]) -> str | None:
    rels = list(claim.relations)
    x = _univariate_symbol(rels)
    attempts: list[tuple[str, Callable[[], bool]]] = []
    if claim.kind == "holds":
        rel = rels[0]
        if rel.op in (">=", ">", "<=", "<"):
            d = rel.lhs - rel.rhs if rel.op in (">=", ">") else rel.rhs - rel.lhs
            strict = rel.op in (">", "<")

            def by_sign_as_written() -> bool:
                # The primitives' signs are facts (sigmoid > 0, relu >= 0, ...): a sum of
                # their products with squares shows its sign before anything is expanded.
                form = _real_derivatives(d.xreplace(_assumption_dummies([d], domain)))
                return _sign_holds(form, strict)

            def by_sign() -> bool:
                diff = _prepare(d)
                return _sign_shown(diff.xreplace(_assumption_dummies([diff], domain)), strict)

            def by_sign_reparametrized() -> bool:
                diff = _prepare(d)
                subs = _reparametrizations([diff], domain)
                return bool(subs) and _sign_shown(diff.xreplace(subs), strict)

            if has_index_sums([d]):
                # First: doit() on a sum over a symbolic range is slow and gives Piecewise.
                attempts.append(
                    (
                        "sign over index ranges",
                        lambda: index_sign_shown(d, domain, strict=strict),
                    )
                )
            if isinstance(d, sp.Basic) and d.has(*PRIMITIVES):
                attempts.append(("sign as written, the primitives' own signs", by_sign_as_written))
            attempts.append(("sign of the normal form", by_sign))
            attempts.append(
                (
                    "sign of the normal form, intervals reparametrized (open interior)",
                    by_sign_reparametrized,
                )
            )
        if x is not None:
            negated = _Relation(rel.lhs, _NEGATE[rel.op], rel.rhs)
            attempts.append(
                (
                    "solveset: no point fails",
                    lambda: _solution_set(negated, x, domain) == sp.S.EmptySet,
                )
            )
    else:
        r1, r2 = rels
        # First the cheap one: a positive multiple shows most rewritings of one relation
        # (a few ms, where solveset takes a tenth of a second or more).
        attempts.append(("positive multiple", lambda: _positive_multiple(r1, r2, domain)))
        if x is not None:

            def same_solutions() -> bool:
                s1, s2 = _solution_set(r1, x, domain), _solution_set(r2, x, domain)
                if s1 is None or s2 is None:
                    return False
                return bool(sp.Union(sp.Complement(s1, s2), sp.Complement(s2, s1)) == sp.S.EmptySet)

            attempts.append(("solveset: same solutions", same_solutions))
    for name, attempt in attempts:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            notes.append(f"{name}: no time left")
            continue
        try:
            with time_limit(remaining):
                if attempt():
                    return name
        except BudgetExceeded:
            notes.append(f"{name}: exceeded the time budget")
            sp.core.cache.clear_cache()
        except (NotImplementedError, TypeError, ValueError, sp.PolynomialError) as exc:
            notes.append(f"{name}: {type(exc).__name__}")
    return None


def _positive_multiple(r1: _Relation, r2: _Relation, domain: Domain) -> bool:
    """lhs1 - rhs1 = c (lhs2 - rhs2) with c > 0 and the same (or mirrored) relation."""
    flip = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}
    d1 = _prepare(r1.lhs - r1.rhs)
    d2 = _prepare(r2.lhs - r2.rhs)
    if r2.op == r1.op:
        pass
    elif flip[r2.op] == r1.op:
        d2 = -d2
    else:
        return False
    subs = _assumption_dummies([d1, d2], domain)
    ratio = _normal_form((d1 / d2).xreplace(subs))
    return bool(ratio.is_positive and ratio.is_finite)


# ----------------------------------------------------------------------------------------
# check_equal
# ----------------------------------------------------------------------------------------


def check_equal(
    a: Any,
    b: Any = True,
    *,
    domain: Mapping[Any, Any] | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    points: int = DEFAULT_POINTS,
    dps: int = DEFAULT_DPS,
    seed: int = 0,
) -> Verdict:
    """Decide whether ``a == b``; see the module docstring for the procedure.

    Parameters
    ----------
    a, b:
        Two expressions, two matrices of the same shape, two relations (are
        they equivalent?), or one relation and ``b`` left out (does it hold?).
    domain:
        Where the symbols range; see :mod:`derivations.sampling`.  Symbols it
        leaves out range over what their assumptions allow.
    budget_s:
        Wall-clock budget for the whole check, in seconds; the check returns
        within it (plus a few milliseconds), whatever the input.
    points, dps, seed:
        Random points to try, working precision in digits (each point is
        evaluated at ``2 * dps`` and a refutation confirmed at ``4 * dps``),
        and the seed that makes the points repeatable.

    Raises ``TypeError`` for objects that are not SymPy (strings included:
    nothing here parses text) and ``ValueError`` for mismatched shapes or an
    unusable domain.
    """
    if not budget_s > 0:
        raise ValueError(f"budget_s must be positive, got {budget_s}")
    if points < 1 or dps < 15:
        raise ValueError(f"need points >= 1 and dps >= 15, got points={points}, dps={dps}")
    if not signals_usable():
        # Budgets are kept with SIGALRM, which only the main thread receives:
        # elsewhere the whole check runs in a forked child, killed on time.
        def in_child() -> Verdict:
            return check_equal(
                a, b, domain=domain, budget_s=budget_s, points=points, dps=dps, seed=seed
            )

        start = time.monotonic()
        try:
            return run_with_budget(in_child, budget_s + CHILD_GRACE_S)
        except BudgetExceeded:
            # A loaded machine can spend the grace on the fork itself.
            return Verdict(
                "undecided",
                "none: the forked check did not report within its budget",
                time.monotonic() - start,
                detail=f"budget {budget_s} s plus {CHILD_GRACE_S} s for the child process",
            )
    start = time.monotonic()
    deadline = start + budget_s
    claim = _Claim.of(a, b)
    dom = domain if isinstance(domain, Domain) else Domain(domain)

    stage = _NumericStage(claim, dom, points=points, dps=dps, seed=seed)
    numeric_deadline = start + budget_s * NUMERIC_SHARE
    _run_numeric(stage, None, numeric_deadline)
    if stage.evidence.counterexample is not None:
        return _refuted(stage, dps, start)

    # The proofs leave time for the points not yet tested, should no proof be found.
    reserve = min(stage.time_to_finish(), max(0.0, numeric_deadline - time.monotonic()))
    proof_notes: list[str] = []
    if claim.kind == "equal":
        method = _prove_zero(claim.pairs, dom, deadline - reserve, proof_notes)
    else:
        method = _prove_relation(claim, dom, deadline - reserve, proof_notes)
    if method is None and not stage.exhausted:
        _run_numeric(stage, points, deadline)
        if stage.evidence.counterexample is not None:
            return _refuted(stage, dps, start)
    evidence = stage.evidence
    notes = [*evidence.notes, *proof_notes]
    elapsed = time.monotonic() - start
    numeric = f"{evidence.agreed} points agree at {evidence.dps} digits"
    if evidence.skipped:
        numeric += f", {evidence.skipped} not evaluable"
    if method is not None:
        return Verdict(
            "proved", method, elapsed, points=evidence.agreed, detail="; ".join([numeric, *notes])
        )
    no_proof = "no proof: " + ("; ".join(notes) if notes else "no method applies")
    if evidence.agreed >= min(MIN_POINTS, points):
        return Verdict(
            "numerically-consistent",
            f"numeric: {numeric}",
            elapsed,
            points=evidence.agreed,
            detail=no_proof,
        )
    return Verdict(
        "undecided", f"numeric: {numeric}", elapsed, points=evidence.agreed, detail=no_proof
    )


def _run_numeric(stage: _NumericStage, until: int | None, deadline: float) -> None:
    """``stage.run`` under a hard limit at ``deadline`` (a single point can be slow)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        stage.evidence.notes.append("numeric stage: no time left")
        return
    try:
        with time_limit(remaining):
            stage.run(until, deadline)
    except BudgetExceeded:
        stage.evidence.notes.append("numeric stage exceeded its share of the budget")


def _refuted(stage: _NumericStage, dps: int, start: float) -> Verdict:
    evidence = stage.evidence
    return Verdict(
        "refuted",
        f"numeric: differ at {2 * dps} digits, confirmed at {4 * dps}",
        time.monotonic() - start,
        counterexample=evidence.counterexample,
        values=evidence.values,
        points=evidence.agreed,
        detail="; ".join(evidence.notes),
    )


# ----------------------------------------------------------------------------------------
# Derivations
# ----------------------------------------------------------------------------------------

_STEP_RELATIONS = ("=", "<=", "<", ">=", ">")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Step:
    """One line of a derivation: an expression (or relation) and why it follows.

    ``relation`` says how this line relates to the previous one: ``"="`` (for
    relations: equivalent), or ``"<="``, ``"<"``, ``">="``, ``">"`` for a chain
    of inequalities.
    """

    expr: Any
    why: str
    relation: str = "="

    def __post_init__(self) -> None:
        if self.relation not in _STEP_RELATIONS:
            raise ValueError(
                f"Step relation must be one of {_STEP_RELATIONS}, got {self.relation!r}"
            )
        if not self.why.strip():
            raise ValueError("every Step needs a justification (why)")
        _as_sympy(self.expr, "Step.expr")


def _chain_relation(relations: Iterable[str]) -> str:
    """The relation between the first and last line of a chain of steps."""
    kinds = {r for r in relations if r != "="}
    if not kinds:
        return "="
    if kinds <= {"<=", "<"}:
        return "<" if "<" in kinds else "<="
    if kinds <= {">=", ">"}:
        return ">" if ">" in kinds else ">="
    raise ValueError(f"a chain of steps mixes directions: {sorted(kinds)}")


@dataclass(frozen=True)
class StepVerdict:
    """A step and the verdict on its link to the previous line."""

    index: int
    step: Step
    verdict: Verdict


@dataclass(frozen=True)
class DerivationReport:
    """The verdicts on every step of one derivation."""

    derivation: Derivation
    steps: tuple[StepVerdict, ...]
    elapsed_s: float

    @property
    def status(self) -> Status:
        statuses = {s.verdict.status for s in self.steps}
        for status in ("refuted", "undecided", "numerically-consistent"):
            if status in statuses:
                return status  # type: ignore[return-value]
        return "proved"

    @property
    def methods(self) -> str:
        return ", ".join(sorted({s.verdict.method for s in self.steps}))


@dataclass(frozen=True)
class Derivation:
    """A result derived step by step, each step checked against the previous one.

    ``quantity`` is what is derived (``Derivative(sigmoid(z), z)``, or a
    relation); ``steps`` lead from it to the result.  The first step is
    checked against ``quantity`` itself, evaluated by SymPy from the
    elementary definitions; every later step against the step before it.
    ``domain``, ``budget_s`` (per step) and ``points`` are passed to
    :func:`check_equal`; ``implementation`` names the ``numeric`` function the
    result verifies, if any.
    """

    quantity: Any
    steps: tuple[Step, ...]
    name: str = ""
    title: str = ""
    topic: str = ""
    description: str = ""
    domain: Mapping[Any, Any] = field(default_factory=dict)
    implementation: str | None = None
    budget_s: float = DEFAULT_BUDGET_S
    points: int = DEFAULT_POINTS

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if self.name and not _NAME.match(self.name):
            raise ValueError(f"derivation name must be kebab-case (a-z, 0-9, -), got {self.name!r}")
        if not self.steps:
            raise ValueError(f"derivation {self.name or '(unnamed)'} has no steps")
        _as_sympy(self.quantity, "quantity")
        _chain_relation(s.relation for s in self.steps)
        Domain(self.domain)  # validate early

    @property
    def result(self) -> Any:
        return self.steps[-1].expr

    @property
    def relation(self) -> str:
        """How the quantity relates to the result: '=', '<=', '<', '>=' or '>'."""
        return _chain_relation(s.relation for s in self.steps)

    @property
    def is_relational(self) -> bool:
        return _is_logical(self.quantity)

    def verify(
        self, *, budget_s: float | None = None, on_step: Callable[[StepVerdict], None] | None = None
    ) -> DerivationReport:
        """Check every step; returns one verdict per step."""
        start = time.monotonic()
        budget = self.budget_s if budget_s is None else budget_s
        domain = Domain(self.domain)
        results = []
        previous = self.quantity
        for i, step in enumerate(self.steps):
            verdict = _check_link(previous, step, domain, budget, self.points)
            sv = StepVerdict(i, step, verdict)
            results.append(sv)
            if on_step is not None:
                on_step(sv)
            previous = step.expr
        return DerivationReport(self, tuple(results), time.monotonic() - start)


def _check_link(previous: Any, step: Step, domain: Domain, budget_s: float, points: int) -> Verdict:
    if step.relation == "=":
        return check_equal(previous, step.expr, domain=domain, budget_s=budget_s, points=points)
    cls = {"<=": sp.Le, "<": sp.Lt, ">=": sp.Ge, ">": sp.Gt}[step.relation]
    claim = cls(previous, step.expr, evaluate=False)
    return check_equal(claim, domain=domain, budget_s=budget_s, points=points)
