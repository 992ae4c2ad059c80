r"""Exponentials as independent symbols, with derivatives carried out by the chain rule.

The gradients of softmax and attention are rational functions of
exponentials: $P_{ij} = e^{s_{ij}} / \sum_l e^{s_{il}}$.  SymPy differentiates
such expressions slowly, and multiplies $e^a e^a$ into $e^{2a}$ as it goes,
so a proof that expands the products works on large, irregular terms.

:func:`exponentials_as_symbols` writes each exponential as an integer power of
a fresh positive symbol: exponents that differ by a rational factor share one,
so $e^{s/2}$, $e^{s}$ and $e^{-s}$ become $E$, $E^2$ and $E^{-2}$ with
$E = e^{s/2}$ (integer powers keep the expression rational, which is what
expanding and cancelling need).  Then it carries out every derivative in those
symbols by the chain rule:

.. math::

    \frac{d}{dx} F(x, E_1, \dots, E_m)
      = \frac{\partial F}{\partial x}
        + \sum_k \frac{\partial F}{\partial E_k}\, E_k\, \frac{d a_k}{dx},
    \qquad E_k = e^{a_k}.

The result is exact, and it holds for every value of the symbols.  So an
expression that becomes 0 this way is 0 with $E_k = e^{a_k}$ put back: a proof.
(The symbols forget relations between the exponentials, such as
$e^{a} e^{b} = e^{a + b}$, so a true identity may fail to show as 0 here: never
the other way round.)
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from derivations.functions import StablePrimitive
from derivations.notation import Shown

__all__ = ["exponentials_as_symbols"]


class _Rewriter:
    """One rewriting: the symbols it made, and for each the exponent it stands for."""

    def __init__(self) -> None:
        # Each exponent is c a, a rational c times an ``a`` with its content and sign
        # taken out; the symbol of ``a`` stands for exp(unit a), unit the gcd of its c's.
        self.unit: dict[sp.Expr, sp.Rational] = {}
        self.symbol_of: dict[sp.Expr, sp.Dummy] = {}
        self.exponent_of: dict[sp.Dummy, sp.Expr] = {}
        self._seen: set[sp.Basic] = set()
        self._done: dict[sp.Basic, sp.Basic] = {}
        self._slopes: dict[tuple[sp.Dummy, sp.Basic], sp.Expr] = {}

    def collect(self, node: sp.Basic) -> None:
        """Find every exponential in ``node`` (before :meth:`rewrite`): the units."""
        if node in self._seen:
            return
        self._seen.add(node)
        if isinstance(node, sp.exp):
            c, a = _split(node.args[0])
            self.unit[a] = sp.gcd(self.unit[a], c) if a in self.unit else c
        for part in _parts(node):
            self.collect(part)

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
        if isinstance(node, (Shown, StablePrimitive)):
            return self.rewrite(_parts(node)[0])
        if not node.args:
            return node
        return node.func(*[self.rewrite(a) for a in node.args])

    def _power_of_symbol(self, exponent: sp.Expr) -> sp.Expr:
        """exp(c a) as E^(c / unit), E the symbol for exp(unit a)."""
        c, a = _split(exponent)
        if a not in self.symbol_of:
            symbol = sp.Dummy(f"E{len(self.symbol_of)}", positive=True)
            self.symbol_of[a] = symbol
            self.exponent_of[symbol] = self.unit[a] * self.rewrite(a)
        return self.symbol_of[a] ** (c / self.unit[a])

    def _derivative(self, node: sp.Derivative) -> sp.Expr:
        f = self.rewrite(node.expr)
        for var, count in node.variable_count:
            if var.has(sp.exp, StablePrimitive, sp.Derivative) or not count.is_Integer:
                raise NotImplementedError(f"a derivative by {var}")
            for _ in range(int(count)):
                f = self._total_derivative(f, var)
        return f

    def _total_derivative(self, f: sp.Expr, x: sp.Basic) -> sp.Expr:
        """df/dx: partial in x, plus through each symbol E = exp(a) by dE/dx = E da/dx."""
        terms = [sp.diff(f, x)]
        for symbol in sorted(f.free_symbols & self.exponent_of.keys(), key=str):
            slope = self._slope(symbol, x)
            if slope != 0:
                terms.append(sp.diff(f, symbol) * symbol * slope)
        return sp.Add(*terms)

    def _slope(self, symbol: sp.Dummy, x: sp.Basic) -> sp.Expr:
        """d a / dx for the exponent a that ``symbol`` stands for (remembered)."""
        key = (symbol, x)
        if key not in self._slopes:
            self._slopes[key] = self._total_derivative(self.exponent_of[symbol], x)
        return self._slopes[key]


def _split(exponent: sp.Expr) -> tuple[sp.Rational, sp.Expr]:
    """exponent = c a: c rational, a with content 1 and no leading minus sign."""
    c, a = exponent.as_content_primitive()
    if a.could_extract_minus_sign():
        c, a = -c, -a
    return c, a


def _parts(node: sp.Basic) -> tuple[sp.Basic, ...]:
    """What ``node`` is made of: a named expression's expression, a primitive's definition."""
    if isinstance(node, Shown):
        return (node.expr,)
    if isinstance(node, StablePrimitive):
        return (node.elementary(),)
    return node.args


def exponentials_as_symbols(expr: Any) -> Any:
    """``expr`` with every exp(c a) written E_a^c and every derivative carried out.

    Stable primitives are taken by their elementary definitions and named
    expressions (:class:`~derivations.notation.Shown`) by what they name.
    Raises ``NotImplementedError`` for an expression with a bound variable (a Sum,
    an Integral) or a derivative by something other than a variable.
    """
    if not isinstance(expr, sp.Basic):
        return expr
    rewriter = _Rewriter()
    rewriter.collect(expr)
    return rewriter.rewrite(expr)
