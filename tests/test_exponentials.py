"""Exponentials as symbols, derivatives by the chain rule (derivations.exponentials).

The rewriting must be exact: with each symbol put back as the exponential it
stands for, the result equals SymPy's own derivative.  That is checked at
random points to 50 digits.  And it must be useful: the softmax Jacobian and
the attention gradients come out as rational functions whose difference from
the formulas expands to 0.
"""

from __future__ import annotations

import random

import mpmath
import pytest
import sympy as sp

from derivations.exponentials import _Rewriter, exponentials_as_symbols
from derivations.functions import expand_primitives, sigmoid, softmax
from derivations.notation import shown

x, y, z = sp.symbols("x y z", real=True)


def rewritten_and_put_back(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """The rewriting, and the same with every symbol E the exponential it stands for."""
    rewriter = _Rewriter()
    rewriter.collect(expr)
    rewritten = back = rewriter.rewrite(expr)
    exps = {s: sp.exp(a) for s, a in rewriter.exponent_of.items()}
    while back.has(*exps):  # an exponent may hold exponentials itself
        back = back.xreplace(exps)
    return rewritten, back


def agree_at_random_points(a: sp.Expr, b: sp.Expr, n: int = 5) -> bool:
    rng = random.Random(1)
    for _ in range(n):
        point = {v: sp.Float(rng.uniform(-2, 2), 50) for v in (x, y, z)}
        with mpmath.workdps(50):
            va, vb = complex(a.evalf(50, subs=point)), complex(b.evalf(50, subs=point))
        if abs(va - vb) > 1e-40 * max(1.0, abs(vb)):
            return False
    return True


CASES = [
    sp.Derivative(sp.exp(x * y) / (1 + sp.exp(x) + sp.exp(2 * y)), x),
    sp.Derivative(sp.exp(x / 2) * sp.exp(-x) + sp.exp(sp.exp(x * z)), x, z),
    sp.Derivative(sigmoid(x * y) ** 2, y, 2),
    sp.Derivative(shown(sp.exp(x) * sp.sin(y), "f"), y),
    sp.Derivative(sp.log(sp.exp(x) + sp.exp(y)), x, y),
]


@pytest.mark.parametrize("expr", CASES, ids=str)
def test_the_rewriting_equals_sympys_derivative(expr: sp.Expr) -> None:
    rewritten, back = rewritten_and_put_back(expr)
    assert not rewritten.has(sp.exp, sp.Derivative)
    assert agree_at_random_points(back, expand_primitives(expr).doit())


def test_exponents_a_rational_factor_apart_share_one_symbol_with_integer_powers() -> None:
    rewritten = exponentials_as_symbols(sp.exp(x / 2) + sp.exp(x) + sp.exp(-3 * x / 2))
    (symbol,) = rewritten.free_symbols
    assert rewritten == symbol + symbol**2 + symbol**-3


def test_the_softmax_jacobian_expands_to_zero() -> None:
    z3 = sp.symbols("z1:4", real=True)
    s = softmax(z3)
    for i in range(3):
        for j in range(3):
            claim = sp.Derivative(s[i], z3[j]) - s[i] * (int(i == j) - s[j])
            flat = sp.expand(exponentials_as_symbols(claim))
            assert flat == 0


def test_a_wrong_derivative_does_not_vanish() -> None:
    z2 = sp.symbols("z1:3", real=True)
    s = softmax(z2)
    wrong = sp.Derivative(s[0], z2[0]) - s[0] * (1 + s[0])  # sign of s_0^2 flipped
    rewritten = exponentials_as_symbols(wrong)
    assert sp.cancel(sp.together(rewritten)) != 0


def test_an_exponential_under_a_sum_is_refused() -> None:
    i, n = sp.symbols("i n", integer=True, positive=True)
    w = sp.IndexedBase("w")
    with pytest.raises(NotImplementedError, match="binds a variable"):
        exponentials_as_symbols(sp.Derivative(sp.Sum(sp.exp(w[i] * x), (i, 1, n)), x))


def test_anything_but_an_expression_is_returned_as_it_is() -> None:
    assert exponentials_as_symbols(3) == 3
