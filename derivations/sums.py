r"""Sums over symbolic index ranges: the one mechanism the verifier uses for them.

A claim about a vector of any length K is written with ``IndexedBase``,
``Sum(f(k), (k, lo, hi))`` and ``KroneckerDelta``.  SymPy's own ``doit`` turns
such a sum into a ``Piecewise`` over the index ranges, which the normal forms
cannot cancel.  Here the sums are rewritten by rules that hold on the stated
ranges, until what is left can be compared by the rational normal form:

1. derivatives are carried out, sums left standing
   (d/dz_j sum_k f(z_k) = sum_k f'(z_k) delta_{kj});
2. logarithms of products of positive factors are split (a sum of positive
   terms is positive), the log of a product over k becomes a sum over k,
   exponentials of sums are split, b^x = e^{x log b} for b > 0;
3. linearity: sum_k (a_k + b_k) = sum_k a_k + sum_k b_k, and a factor that does
   not depend on k is pulled out of the sum;
4. a sum of a delta: sum_{k=lo}^{hi} f(k) delta_{kj} = f(j) when j is known to
   lie in lo..hi (its range in the domain, or the limits of an enclosing sum);
5. a constant: sum_{k=lo}^{hi} c = (hi - lo + 1) c;
6. hypotheses: sum_{k=lo}^{hi} y_k = 1 for ``y`` on a :class:`Simplex` of the
   domain covering exactly lo..hi (for a multi-index base, each row
   ``y[n, start..]`` sums to 1);
7. a delta of two free indices splits the claim into the cases i = j
   (substituted) and i != j (the delta is 0);
8. for an inequality only: a sum of positive terms over a range that holds a
   free index i is its i-th term plus the rest, and the rest is positive when
   the range has two indices or more (nonnegative otherwise);
9. each remaining sum becomes an atom, the same atom for the same sum up to
   the name of its index (positive when its terms are), and the difference
   goes to ``cancel(together(expand(...)))``.

Each rule is an identity on the ranges, so a zero reached this way is a proof.
The ranges come from the domain: ``{i: (1, K)}`` (see :mod:`derivations.sampling`),
open-ended ones included (``{K: (2, sp.oo)}``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import count, permutations
from typing import Any

import sympy as sp

from derivations.functions import expand_primitives
from derivations.sampling import Domain, Simplex

__all__ = [
    "expand_finite_sums",
    "has_index_sums",
    "index_normal_form",
    "index_sign_shown",
    "index_sums_vanish",
    "within",
]

Ranges = Mapping[sp.Basic, tuple[sp.Expr, sp.Expr]]

# Case splits on deltas of free indices double the work each: at most this many.
MAX_DELTA_SPLITS = 3


def has_index_sums(exprs: Any) -> bool:
    """True if any expression holds a Sum or a KroneckerDelta (the rules apply)."""
    return any(isinstance(e, sp.Basic) and e.has(sp.Sum, sp.KroneckerDelta) for e in exprs)


def _is_concrete(limits: Any) -> bool:
    return all(lo.is_Integer and hi.is_Integer for _, lo, hi in limits)


def _written_out(node: sp.Expr) -> sp.Expr:
    """A Sum or Product with integer limits, as the explicit Add or Mul of its terms."""
    combine = sp.Add if isinstance(node, sp.Sum) else sp.Mul
    out = node.function
    for k, lo, hi in node.limits:  # innermost first
        if hi < lo:
            return node.doit()  # an empty or reversed range: SymPy's convention
        rebinds = any(k in (x for x, *_ in inner.limits) for inner in _bound_scopes(out))
        values = range(int(lo), int(hi) + 1)
        # xreplace is much faster; subs where an inner sum binds the same name.
        terms = [out.subs(k, v) if rebinds else out.xreplace({k: v}) for v in values]
        out = combine(*terms)
    return out


def _bound_scopes(e: sp.Basic) -> list[Any]:
    return list(e.atoms(sp.Sum, sp.Product))


def expand_finite_sums(e: Any) -> Any:
    """Every Sum and Product with integer limits written out term by term.

    For the numeric stage, once the sizes are drawn: much faster than
    ``doit``, which tries closed forms before it adds K terms.
    """
    if not isinstance(e, sp.Basic) or not e.has(sp.Sum, sp.Product):
        return e
    while True:
        done = e.replace(
            lambda n: isinstance(n, (sp.Sum, sp.Product)) and _is_concrete(n.limits), _written_out
        )
        if done == e:
            return done
        e = done


# ----- facts about ranges ------------------------------------------------------------------


def _nonnegative(e: sp.Expr, ranges: Ranges) -> bool:
    """e >= 0 is known: directly, or after writing ranged symbols as lo + n, n >= 0."""
    e = sp.expand(e)
    if e.is_nonnegative:
        return True
    subs = {}
    for x, (lo, _) in ranges.items():
        if x in e.free_symbols and lo.is_finite:
            subs[x] = lo + sp.Dummy(nonnegative=True, integer=True)
    shifted = sp.expand(e.xreplace(subs)) if subs else e
    if shifted.is_nonnegative:
        return True
    subs = {}
    for x, (_, hi) in ranges.items():
        if x in e.free_symbols and hi.is_finite:
            subs[x] = hi - sp.Dummy(nonnegative=True, integer=True)
    return bool(subs) and bool(sp.expand(e.xreplace(subs)).is_nonnegative)


def within(x: sp.Expr, lo: sp.Expr, hi: sp.Expr, ranges: Ranges) -> bool:
    """x is known to lie in lo..hi: a number between them, or a symbol whose range is inside."""
    if x in ranges:
        xlo, xhi = ranges[x]
        return _nonnegative(xlo - lo, ranges) and _nonnegative(hi - xhi, ranges)
    return _nonnegative(x - lo, ranges) and _nonnegative(hi - x, ranges)


def _nonempty(lo: sp.Expr, hi: sp.Expr, ranges: Ranges) -> bool:
    return _nonnegative(hi - lo, ranges)


# ----- positivity and logarithms ----------------------------------------------------------


def _positive(e: sp.Expr, ranges: Ranges) -> bool:
    """e > 0 is known; a sum over a nonempty range of positive terms counts."""
    if isinstance(e, sp.Sum):
        (k, lo, hi), *more = e.limits
        inner = sp.Sum(e.function, *more) if more else e.function
        return _nonempty(lo, hi, ranges) and _positive(inner, {**ranges, k: (lo, hi)})
    if e.is_positive:
        return True
    if isinstance(e, (sp.Add, sp.Mul)):
        if all(_positive(a, ranges) for a in e.args):
            return True
        # Over a common denominator: 1 - t/(1 + t) is 1/(1 + t).
        common = sp.factor_terms(sp.together(e)) if isinstance(e, sp.Add) else e
        return not isinstance(common, sp.Add) and common != e and _positive(common, ranges)
    if isinstance(e, sp.Pow):
        return _positive(e.base, ranges) and bool(e.exp.is_real)
    if isinstance(e, sp.exp):
        return bool(e.args[0].is_real)
    return False


def _split_log(arg: sp.Expr, ranges: Ranges) -> sp.Expr | None:
    """log(arg) as a sum of logs, if every factor is positive; None otherwise."""
    if isinstance(arg, sp.exp) and arg.args[0].is_real:
        return arg.args[0]
    if isinstance(arg, sp.Pow) and _positive(arg.base, ranges) and arg.exp.is_real:
        inner = _split_log(arg.base, ranges)
        return arg.exp * (inner if inner is not None else sp.log(arg.base))
    if isinstance(arg, sp.Mul) and all(_positive(f, ranges) for f in arg.args):
        parts = [_split_log(f, ranges) for f in arg.args]
        return sp.Add(*[p if p is not None else sp.log(f) for p, f in zip(parts, arg.args)])
    return None


def _expand_logs_and_exps(e: sp.Expr, ranges: Ranges) -> sp.Expr:
    def split(node: sp.Expr) -> sp.Expr:
        if isinstance(node, sp.log):
            out = _split_log(node.args[0], ranges)
            return out if out is not None else node
        if isinstance(node, sp.exp) and isinstance(node.args[0], sp.Add):
            return sp.Mul(*[sp.exp(a) for a in node.args[0].args])
        if (
            isinstance(node, sp.Pow)
            and not node.exp.is_Number
            and node.exp.is_real
            and _positive(node.base, ranges)
            and not isinstance(node.base, sp.Sum)
        ):
            return sp.exp(node.exp * sp.log(node.base))  # b^x = e^{x log b}, b > 0
        return node

    return e.replace(lambda n: isinstance(n, (sp.log, sp.exp, sp.Pow)), split)


def _log_of_products(e: sp.Expr, ranges: Ranges) -> sp.Expr:
    """log prod_k f(k) = sum_k log f(k) when every factor is positive."""

    def to_sum(node: sp.log) -> sp.Expr:
        arg = node.args[0]
        if isinstance(arg, sp.Product):
            scope = {**ranges, **{k: (lo, hi) for k, lo, hi in arg.limits}}
            if _positive(arg.function, scope):
                return sp.Sum(_log_of_products(sp.log(arg.function), scope), *arg.limits)
        return node

    return e.replace(lambda n: isinstance(n, sp.log) and n.args[0].has(sp.Product), to_sum)


def _expand(e: sp.Expr) -> sp.Expr:
    """Products multiplied out; exponentials left to rule 2 (SymPy would turn e^{sum} into
    a product, and the same sum would then show in two forms)."""
    return sp.expand(e, power_exp=False)


# ----- the rules on one sum ------------------------------------------------------------------


def _hypothesis(
    term: sp.Expr, k: sp.Symbol, lo: sp.Expr, hi: sp.Expr, simplices: Mapping[Any, Simplex]
) -> sp.Expr | None:
    """1 if sum_{k=lo}^{hi} term is a row of a simplex of the domain; None otherwise."""
    if not isinstance(term, sp.Indexed) or term.base not in simplices:
        return None
    simplex = simplices[term.base]
    if term.indices[-1] != k or any(k in i.free_symbols for i in term.indices[:-1]):
        return None
    first, last = simplex.start, simplex.start + sp.sympify(simplex.size) - 1
    if sp.expand(lo - first) == 0 and sp.expand(hi - last) == 0:
        return sp.S.One
    return None


def _sum_of_term(
    term: sp.Expr,
    k: sp.Symbol,
    lo: sp.Expr,
    hi: sp.Expr,
    ranges: Ranges,
    simplices: Mapping[Any, Simplex],
) -> sp.Expr:
    """sum_{k=lo}^{hi} term, for one term of an expanded summand."""
    factors = sp.Mul.make_args(term)
    outside = sp.Mul(*[f for f in factors if k not in f.free_symbols])
    inside = [f for f in factors if k in f.free_symbols]
    if not inside:
        return outside * (hi - lo + 1)
    for n, f in enumerate(inside):
        if isinstance(f, sp.KroneckerDelta):
            a, b = f.args
            other = b if a == k else a if b == k else None
            if other is not None and k not in other.free_symbols and within(other, lo, hi, ranges):
                rest = sp.Mul(*(inside[:n] + inside[n + 1 :]))
                return outside * rest.subs(k, other)  # subs: bound indices stay bound
    dep = sp.Mul(*inside)
    known = _hypothesis(dep, k, lo, hi, simplices)
    if known is not None:
        return outside * known
    return outside * sp.Sum(dep, (k, lo, hi))


def _rewrite(e: sp.Expr, ranges: Ranges, simplices: Mapping[Any, Simplex]) -> sp.Expr:
    """Apply rules 2-6 bottom-up; ``ranges`` includes the indices of enclosing sums."""
    if isinstance(e, sp.Sum):
        # Innermost index first; every index of the sum is in range inside its body.
        limits = list(e.limits)
        body = _rewrite(e.function, {**ranges, **{x: (a, b) for x, a, b in limits}}, simplices)
        for n, (k, lo, hi) in enumerate(limits):
            scope = {**ranges, **{x: (a, b) for x, a, b in limits[n:]}}
            body = _expand(_expand_logs_and_exps(body, scope))
            body = sp.Add(
                *[_sum_of_term(t, k, lo, hi, scope, simplices) for t in sp.Add.make_args(body)]
            )
        return body
    if not e.args or not e.has(sp.Sum):
        return _expand_logs_and_exps(e, ranges) if isinstance(e, sp.Expr) else e
    rebuilt = e.func(*[_rewrite(a, ranges, simplices) for a in e.args])
    return _expand_logs_and_exps(rebuilt, ranges)


# ----- the whole procedure -------------------------------------------------------------------


def _carry_out_derivatives(e: sp.Expr) -> sp.Expr:
    return e.replace(lambda n: isinstance(n, sp.Derivative), lambda n: n.doit(deep=False))


Limit = tuple[Any, Any, Any]


def _renamed_indices(s: sp.Sum, names: Iterator[sp.Symbol]) -> tuple[sp.Expr, list[Limit]]:
    """A sum's summand and limits with each index renamed to the next of ``names``.

    With ``subs``, which leaves an inner sum's index of the same name bound; a
    limit's bounds may name the indices after it (SymPy lists the innermost first).
    """
    body, limits = s.function, []
    for k, lo, hi in s.limits:
        new = next(names)
        body = body.subs(k, new)
        limits = [(x, a.subs(k, new), b.subs(k, new)) for x, a, b in limits]
        limits.append((new, lo, hi))
    return body, limits


def _index_names(prefix: str) -> Iterator[sp.Symbol]:
    """Fresh integer symbols ``prefix_0``, ``prefix_1``, ..."""
    return (sp.Symbol(f"{prefix}_{i}", integer=True) for i in count())


def _canonical(s: sp.Sum) -> sp.Sum:
    """The same sum with its indices renamed in order of appearance, so equal sums compare equal.

    Names are fresh for every index (outer ones renamed first), so no renaming
    can capture a variable.
    """
    names = _index_names("_sum_index")

    def walk(e: sp.Basic) -> sp.Basic:
        if isinstance(e, sp.Sum):
            body, limits = _renamed_indices(e, names)
            return sp.Sum(walk(body), *limits)
        if not e.args:
            return e
        return e.func(*[walk(a) for a in e.args])

    return walk(s)  # type: ignore[return-value]


def _facts(s: sp.Sum, ranges: Ranges) -> dict[str, bool]:
    """What is known of a sum's value: positive, nonnegative or real.

    Inner sums of its terms stand in as fresh symbols with their own facts
    while the terms are asked (a fact true for every such value is true).
    """
    if _positive(s, ranges):
        return {"positive": True}
    scope = {**ranges, **{k: (lo, hi) for k, lo, hi in s.limits}}
    body = _outermost_sums(s.function, lambda inner: sp.Dummy(**_facts(inner, scope)))
    if body.is_nonnegative:
        return {"nonnegative": True}
    return {"real": True} if body.is_real else {}


def _outermost_sums(e: sp.Basic, fn: Any) -> sp.Basic:
    """``e`` with each sum that is not inside another sum replaced by ``fn(sum)``."""
    if isinstance(e, sp.Sum):
        return fn(e)
    if not e.args or not e.has(sp.Sum):
        return e
    return e.func(*[_outermost_sums(a, fn) for a in e.args])


def _atomize(e: sp.Expr, ranges: Ranges) -> sp.Expr:
    """Each outermost sum replaced by one Dummy per distinct (canonical) sum.

    Only outermost sums: an inner sum may depend on the index of the sum
    around it, and is part of that sum's canonical form instead.
    """
    atoms: dict[sp.Basic, sp.Dummy] = {}

    def atom(s: sp.Sum) -> sp.Dummy:
        key = _canonical(s)
        if key not in atoms:
            atoms[key] = sp.Dummy("S", **_facts(s, ranges))
        return atoms[key]

    return _outermost_sums(e, atom)


def _delta_cases(e: sp.Expr, splits: int = MAX_DELTA_SPLITS) -> Iterator[sp.Expr]:
    """The cases i = j and i != j of the first delta of free indices, recursively."""
    deltas = sorted(
        (d for d in e.atoms(sp.KroneckerDelta) if not d.has(sp.Dummy)), key=sp.default_sort_key
    )
    if not deltas or splits == 0:
        yield e
        return
    a, b = deltas[0].args
    pick, keep = (b, a) if isinstance(b, sp.Symbol) else (a, b)
    if isinstance(pick, sp.Symbol):
        yield from _delta_cases(e.subs(pick, keep), splits - 1)
    yield from _delta_cases(e.xreplace({deltas[0]: sp.S.Zero}), splits - 1)


def index_normal_form(e: sp.Expr, domain: Domain, *, expand: bool = True) -> sp.Expr:
    """``e`` with derivatives carried out and rules 2-6 applied (sums still standing).

    ``expand=False`` keeps the stable primitives (sigmoid, relu, ...) as they are and
    differentiates them by their ``fdiff`` (each proved equal to the derivative of its
    definition by tests/test_functions.py): the summands of a network's gradient then
    keep the same shape on both sides, and the atoms of rule 9 match.
    """
    ranges = dict(domain.int_ranges)
    e = _shown_as_computed(e)
    e = _carry_out_derivatives(expand_primitives(e) if expand else e)
    e = _open_intervals_reparametrized(e, domain)
    return _rewrite(_log_of_products(e, ranges), ranges, domain.simplex_bases)


def _open_intervals_reparametrized(e: sp.Expr, domain: Domain) -> sp.Expr:
    """Entries x[i] of a base on an open interval (a, b) written as (a + b t_i) / (1 + t_i).

    An exact change of variables (t_i > 0 ranges over all of (a, b)), the one
    the verifier uses for symbols; it makes x[i] - a and b - x[i] visibly
    positive, so logs of (1 - p_i) split for a probability p_i in (0, 1).
    """
    for base, s in domain.base_sets.items():
        if not (isinstance(s, sp.Interval) and s.left_open and s.right_open):
            continue
        a, b = s.inf, s.sup
        if not (a.is_finite and b.is_finite) or not e.has(base):
            continue
        t = sp.IndexedBase(sp.Dummy(f"t_{base.label}"), positive=True)
        e = e.replace(
            lambda n, base=base: isinstance(n, sp.Indexed) and n.base == base,
            lambda n, a=a, b=b, t=t: (a + b * t[n.indices]) / (1 + t[n.indices]),
        )
        # Bases of powers and arguments of logs over a common denominator, so that their
        # sign shows: 1 - t/(1 + t) becomes 1/(1 + t).
        e = e.replace(
            lambda n, t=t: isinstance(n, sp.Pow) and isinstance(n.base, sp.Add) and n.base.has(t),
            lambda n: sp.together(n.base) ** n.exp,
        )
        e = e.replace(
            lambda n, t=t: isinstance(n, sp.log) and isinstance(n.args[0], sp.Add) and n.has(t),
            lambda n: sp.log(sp.together(n.args[0])),
        )
    return e


def _shown_as_computed(e: sp.Expr) -> sp.Expr:
    """Factors kept apart for display (derivations.notation.shown_product) multiplied out."""
    return e.replace(lambda n: isinstance(n, sp.UnevaluatedExpr), lambda n: n.args[0])


# An expression the rules were not written for (deep nesting, unusual objects) is left
# unproved, never wrongly proved: these errors mean "not shown".
_NOT_SHOWN = (AttributeError, IndexError, RecursionError)


def index_sums_vanish(e: sp.Expr, domain: Domain, *, expand: bool = True) -> bool:
    """True if the rules show ``e == 0`` on the domain's ranges (a proof); False if not shown.

    ``expand``: as in :func:`index_normal_form`.
    """
    try:
        return _vanish(e, domain, expand)
    except _NOT_SHOWN:
        return False


def _vanish(e: sp.Expr, domain: Domain, expand: bool = True) -> bool:
    ranges = dict(domain.int_ranges)
    reduced = index_normal_form(e, domain, expand=expand)
    for case in _delta_cases(reduced):
        case = _rewrite(case, ranges, domain.simplex_bases)  # a substitution may enable a rule
        if not any(
            sp.cancel(sp.together(_expand(_atomize(form(case), ranges)))) == 0
            for form in (lambda c: c, _combined, _merged)
        ):
            return False
    return True


def _combined(e: sp.Expr) -> sp.Expr:
    """Rule 10: sums over the same range gathered into one, its summand in normal form.

    Terms c * sum_k f(k), with c free of k, over the same limits become
    sum_k (c_1 f_1(k) + c_2 f_2(k) + ...); inside it, for a fixed k, inner
    sums are atoms (rule 9) and the summand goes to cancel(together(...)).
    So the same sum written two ways (the derivative of a loss, and the
    residual times the feature) cancels although no rule splits it evenly.
    """
    rest: list[sp.Expr] = []
    groups: dict[tuple[Any, ...], list[sp.Expr]] = {}
    for term in sp.Add.make_args(_expand(e)):
        sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum)]
        bound = {k for s in sums for k, _, _ in s.limits}
        if len(sums) != 1 or (term / sums[0]).free_symbols & bound:
            rest.append(term)
            continue
        (s,) = sums
        groups.setdefault(tuple(s.limits), []).append(term / s * s.function)
    out = [sp.Add(*rest)]
    for limits, parts in groups.items():
        normal = _summand_normal_form(sp.Add(*parts))
        out.append(sp.Sum(normal, *limits) if normal != 0 else sp.S.Zero)
    return sp.Add(*out)


# Sums of more indices than this are left nested: their canonical form tries every order.
MAX_MERGED_INDICES = 5


def _merged(e: sp.Expr) -> sp.Expr:
    """Rule 11: nested and multiplied finite sums as one sum over all their indices.

    A sum that is a factor of a summand, or a positive integer power of one,
    goes out to the sum around it (its indices renamed fresh, one copy per power):
    sum_i f_i (sum_k a_ik)^2 = sum_{i,k,l} f_i a_ik a_il, and a product of sums is
    the sum over both indices.  Allowed when the inner bounds do not name an
    outer index: the sums are finite, and a sum over a fixed range is linear, so
    the order of summation is free (even for SymPy's reversed ranges).  The result's
    summand is one product; :func:`_ordered_canonical` then names the indices.
    """
    names = _index_names("_merged_index")

    def flat_term(term: sp.Expr, bound: set[Any]) -> tuple[sp.Expr, list[Limit]]:
        """A product term as (summand, limits): its sum factors moved out."""
        factors, limits = [], []
        for f in sp.Mul.make_args(term):
            base, power = (f.base, f.exp) if isinstance(f, sp.Pow) else (f, sp.S.One)
            movable = (
                isinstance(base, sp.Sum)
                and power.is_Integer
                and 1 <= int(power) <= MAX_MERGED_INDICES
                and _independent(base.limits, bound)
            )
            if not movable:
                factors.append(f)
                continue
            for _ in range(int(power)):
                body, more = _renamed_indices(base, names)
                inner, deeper = flat_term(body, bound | {k for k, _, _ in more})
                factors.append(inner)
                limits += more + deeper
        return sp.Mul(*factors), limits

    terms = []
    for term in sp.Add.make_args(_expand(e)):
        summand, limits = flat_term(term, set())
        if not limits or len(limits) > MAX_MERGED_INDICES:
            terms.append(term)
            continue
        bound = {k for k, _, _ in limits}
        parts = sp.Mul.make_args(_expand(summand))
        outside = sp.Mul(*[f for f in parts if not f.free_symbols & bound])
        inside = sp.Mul(*[f for f in parts if f.free_symbols & bound])
        terms.append(outside * _ordered_canonical(sp.Sum(inside, *limits)))
    return sp.Add(*terms)


def _independent(limits: Any, bound: set[Any]) -> bool:
    """No bound of ``limits`` names one of their own indices or one of ``bound``."""
    names = bound | {k for k, _, _ in limits}
    return not any((lo.free_symbols | hi.free_symbols) & names for _, lo, hi in limits)


def _ordered_canonical(s: sp.Sum) -> sp.Sum:
    """The canonical form (:func:`_canonical`) least in SymPy's order over every order of
    the limits: a sum of independent ranges is the same sum in any order."""
    candidates = (_canonical(sp.Sum(s.function, *order)) for order in permutations(s.limits))
    return min(candidates, key=sp.default_sort_key)


def _summand_normal_form(f: sp.Expr) -> sp.Expr:
    """cancel(together(...)) of one summand, its inner sums held as atoms (rule 9)."""
    atoms: dict[sp.Basic, sp.Dummy] = {}

    def atom(inner: sp.Sum) -> sp.Dummy:
        return atoms.setdefault(inner, sp.Dummy("S"))

    flat = _outermost_sums(f, atom)  # an inner sum stays inside its own sum
    normal = sp.cancel(sp.together(_expand(flat)))
    return normal.xreplace({d: inner for inner, d in atoms.items()})


def _peel(e: sp.Expr, ranges: Ranges) -> sp.Expr:
    """Rule 8: sum_k f(k) = f(i) + R, R > 0 (or >= 0), for a free index i in the range."""
    free = sorted((x for x in e.free_symbols if x in ranges), key=str)
    peeled: dict[sp.Basic, sp.Expr] = {}  # the same sum gets the same rest R

    def peel(s: sp.Sum) -> sp.Expr:
        if s not in peeled:
            peeled[s] = _peel_one(s)
        return peeled[s]

    def _peel_one(s: sp.Sum) -> sp.Expr:
        ((k, lo, hi),) = s.limits
        if not _positive(s.function, {**ranges, k: (lo, hi)}):
            return s
        for i in free:
            if within(i, lo, hi, ranges):
                many = _nonnegative(hi - lo - 1, ranges)
                rest = sp.Dummy("R", positive=True) if many else sp.Dummy("R", nonnegative=True)
                return s.function.subs(k, i) + rest
        return s

    return e.replace(lambda n: isinstance(n, sp.Sum) and len(n.limits) == 1, peel)


def index_sign_shown(e: sp.Expr, domain: Domain, *, strict: bool) -> bool:
    """True if the rules show ``e > 0`` (``strict``) or ``e >= 0`` on the domain's ranges."""
    try:
        return _sign_shown(e, domain, strict)
    except _NOT_SHOWN:
        return False


def _sign_shown(e: sp.Expr, domain: Domain, strict: bool) -> bool:
    ranges = dict(domain.int_ranges)
    # Sums as written first (a sum of squares keeps its sign), then rewritten by the rules.
    as_written = _carry_out_derivatives(expand_primitives(e))
    if _each_case_signed(as_written, ranges, strict, rewrite=None):
        return True
    return _each_case_signed(index_normal_form(e, domain), ranges, strict, rewrite=domain)


def _each_case_signed(e: sp.Expr, ranges: Ranges, strict: bool, rewrite: Domain | None) -> bool:
    for case in _delta_cases(e):
        if rewrite is not None:
            case = _rewrite(case, ranges, rewrite.simplex_bases)
        flat = _atomize(_peel(case, ranges), ranges)
        for form in (flat, sp.factor(sp.cancel(sp.together(_expand(flat))))):
            verdict = form.is_positive if strict else form.is_nonnegative
            if verdict:
                break
        else:
            return False
    return True
