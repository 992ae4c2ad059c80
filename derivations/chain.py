r"""Functions as independent symbols, with derivatives carried out by the chain rule.

The gradients of softmax, attention and small networks are rational functions
of a few function values: exponentials ($P_{ij} = e^{s_{ij}} / \sum_l
e^{s_{il}}$) and stable primitives ($\sigma(w x + b)$).  SymPy differentiates
such expressions slowly, and rewrites them as it goes ($e^a e^a$ becomes
$e^{2a}$), so a proof that expands the products works on large, irregular terms.

:func:`functions_as_symbols` writes each such function value as a fresh
symbol and carries out every derivative in those symbols by the chain rule:

.. math::

    \frac{d}{dx} F(x, S_1, \dots, S_m)
      = \frac{\partial F}{\partial x}
        + \sum_k \frac{\partial F}{\partial S_k}\, \frac{d S_k}{dx},
    \qquad S_k = f_k(u_k(x)),\quad \frac{d S_k}{dx} = f_k'(u_k)\, \frac{d u_k}{dx}.

* An exponential is an integer power of a symbol (positive for a real
  exponent): exponents that differ by a rational factor share one, so
  $e^{s/2}$, $e^{s}$ and $e^{-s}$ become $E$, $E^2$ and $E^{-2}$ with
  $E = e^{s/2}$ (integer powers keep the expression rational, which is what
  expanding and cancelling need), and $dE/dx = E \cdot d(s/2)/dx$.
* A stable primitive is either taken by its elementary definition
  (``primitives="definition"``: nothing hand-written is trusted) or becomes a
  symbol of its own, differentiated by its ``fdiff`` (``primitives="fdiff"``,
  which the tests check against the definition: sigma' = sigma (1 - sigma) keeps
  a network's gradient a polynomial in the sigmas).

The result is exact, and it holds for every value of the symbols.  So an
expression that becomes 0 this way is 0 with the functions put back: a proof.
(The symbols forget relations between the function values, such as
$e^{a} e^{b} = e^{a + b}$, so a true identity may fail to show as 0 here: never
the other way round.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import sympy as sp

from derivations.functions import StablePrimitive
from derivations.notation import stands_for

__all__ = ["functions_as_symbols"]


Primitives = Literal["definition", "fdiff"]


class _Rewriter:
    """One rewriting: the symbols it made, and for each how it depends on the variables."""

    def __init__(self, primitives: Primitives) -> None:
        self.primitives = primitives
        # Each exponent is c a, a rational c times an ``a`` with its content and sign
        # taken out; the symbol of ``a`` stands for exp(unit a), unit the gcd of its c's.
        self.unit: dict[sp.Expr, sp.Rational] = {}
        self.symbol_of: dict[sp.Expr, sp.Dummy] = {}  # of each exponent a
        self.primitive_symbol_of: dict[sp.Basic, sp.Dummy] = {}  # of each f(u)
        # For each symbol S = f(u_1, ..., u_n): the pairs (f_k'(u), u_k), so that
        # dS/dx = sum_k f_k'(u) du_k/dx, all in symbols.
        self.chain: dict[sp.Dummy, list[tuple[sp.Expr, sp.Expr]]] = {}
        self._seen: set[sp.Basic] = set()
        self._done: dict[sp.Basic, sp.Basic] = {}
        self._slopes: dict[tuple[sp.Dummy, sp.Basic], sp.Expr] = {}
        self._partials: dict[tuple[sp.Expr, sp.Basic], sp.Expr] = {}

    def collect(self, node: sp.Basic) -> None:
        """Find every exponential in ``node`` (before :meth:`rewrite`): the units."""
        if node in self._seen:
            return
        self._seen.add(node)
        if isinstance(node, sp.exp):
            c, a = _split(node.args[0])
            self.unit[a] = sp.gcd(self.unit[a], c) if a in self.unit else c
        for part in self._parts(node):
            self.collect(part)

    def _as_symbol(self, node: sp.Basic) -> bool:
        return self.primitives == "fdiff" and isinstance(node, StablePrimitive)

    def _parts(self, node: sp.Basic) -> tuple[sp.Basic, ...]:
        """What ``node`` is made of: what a name or a primitive stands for (a primitive
        that becomes a symbol: its arguments), else its arguments."""
        written_for = None if self._as_symbol(node) else stands_for(node)
        return node.args if written_for is None else (written_for,)

    def rewrite(self, node: sp.Basic) -> sp.Basic:
        if node not in self._done:
            self._done[node] = self._rewritten(node)
        return self._done[node]

    def _rewritten(self, node: sp.Basic) -> sp.Basic:
        if getattr(node, "bound_symbols", None):
            # exp(s_i) under a Sum over i is not one number: no symbol can stand for it.
            raise NotImplementedError(f"{type(node).__name__} binds a variable")
        if isinstance(node, sp.exp):
            return self._power_of_symbol(node.args[0])
        if isinstance(node, sp.Derivative):
            return self._derivative(node)
        if self._as_symbol(node):
            return self._primitive_symbol(node)
        written_for = stands_for(node)
        if written_for is not None:
            return self.rewrite(written_for)
        if not node.args:
            return node
        return node.func(*[self.rewrite(a) for a in node.args])

    def _power_of_symbol(self, exponent: sp.Expr) -> sp.Expr:
        """exp(c a) as E^(c / unit), E the symbol for exp(unit a)."""
        c, a = _split(exponent)
        unit = self.unit.setdefault(a, c)  # an exponential first met in an fdiff: its own
        if a not in self.symbol_of:
            positive = bool(a.is_extended_real) or None  # e^a > 0 for a real a only
            symbol = self.symbol_of[a] = sp.Dummy(f"E{len(self.symbol_of)}", positive=positive)
            self.chain[symbol] = [(symbol, unit * self.rewrite(a))]  # dE/dx = E du/dx
        power = c / unit
        if not power.is_Integer:  # met only after its symbol (in an fdiff): no common unit
            raise NotImplementedError(f"exp({exponent}) is no integer power of exp({unit * a})")
        return self.symbol_of[a] ** power

    def _primitive_symbol(self, node: StablePrimitive) -> sp.Dummy:
        """f(u) as a symbol S, with dS/dx = sum_k fdiff_k(u) du_k/dx."""
        key = node.func(*[self.rewrite(a) for a in node.args])
        if key not in self.primitive_symbol_of:
            real = bool(node.is_real) or None
            symbol = self.primitive_symbol_of[key] = sp.Dummy(type(node).__name__, real=real)
            self.chain[symbol] = [
                (self.rewrite(node.fdiff(k + 1)), self.rewrite(u)) for k, u in enumerate(node.args)
            ]
        return self.primitive_symbol_of[key]

    def _derivative(self, node: sp.Derivative) -> sp.Expr:
        f = self.rewrite(node.expr)
        for var, count in node.variable_count:
            if var.has(sp.exp, StablePrimitive, sp.Derivative) or not count.is_Integer:
                raise NotImplementedError(f"a derivative by {var}")
            for _ in range(int(count)):
                f = self._total_derivative(f, var)
        return f

    def _total_derivative(self, f: sp.Expr, x: sp.Basic) -> sp.Expr:
        """df/dx: partial in x, plus through each symbol S by dS/dx."""
        terms = [self._partial(f, x)]
        for symbol in sorted(f.free_symbols & self.chain.keys(), key=str):
            slope = self._slope(symbol, x)
            if slope != 0:
                terms.append(self._partial(f, symbol) * slope)
        return sp.Add(*terms)

    def _slope(self, symbol: sp.Dummy, x: sp.Basic) -> sp.Expr:
        """dS/dx for the symbol S (remembered)."""
        key = (symbol, x)
        if key not in self._slopes:
            self._slopes[key] = sp.Add(
                *[outer * self._total_derivative(u, x) for outer, u in self.chain[symbol]]
            )
        return self._slopes[key]

    def _partial(self, f: sp.Expr, v: sp.Basic) -> sp.Expr:
        """The partial derivative df/dv (remembered: a gradient's entries share f)."""
        key = (f, v)
        if key not in self._partials:
            self._partials[key] = sp.diff(f, v)
        return self._partials[key]


def _split(exponent: sp.Expr) -> tuple[sp.Rational, sp.Expr]:
    """exponent = c a: c rational, a with content 1 and no leading minus sign."""
    c, a = exponent.as_content_primitive()
    if a.could_extract_minus_sign():
        c, a = -c, -a
    return c, a


def functions_as_symbols(exprs: Sequence[Any], *, primitives: Primitives) -> list[Any]:
    """Each expression with its exponentials (and primitives) as symbols and every
    derivative carried out, by the chain rule.

    ``primitives``: "definition" (each stable primitive by its elementary form) or
    "fdiff" (each a symbol, differentiated by its ``fdiff``).  The expressions
    share their symbols, and the work: the entries of a gradient differentiate
    one function, whose partial derivatives by the symbols are taken once.
    Named expressions (:class:`~derivations.notation.Shown`) are taken by what
    they name.  Anything not a SymPy object is returned as it is.  Raises
    ``NotImplementedError`` for an expression with a bound variable (a Sum, an
    Integral) or a derivative by something other than a variable.
    """
    if primitives not in ("definition", "fdiff"):
        raise ValueError(f"primitives must be 'definition' or 'fdiff', got {primitives!r}")
    rewriter = _Rewriter(primitives)
    for e in exprs:
        if isinstance(e, sp.Basic):
            rewriter.collect(e)
    return [rewriter.rewrite(e) if isinstance(e, sp.Basic) else e for e in exprs]
