"""Functions as symbols, derivatives by the chain rule (derivations.chain).

The rewriting must be exact: with each symbol put back as the exponential it
stands for, the result equals SymPy's own derivative.  That is checked at
random points to 50 digits.  And it must be useful: the softmax Jacobian and
the attention gradients come out as rational functions whose difference from
the formulas expands to 0.
"""

from __future__ import annotations

import random

import pytest
import sympy as sp

from derivations.chain import _Rewriter, functions_as_symbols
from derivations.functions import (
    expand_primitives,
    log_sigmoid,
    logsumexp,
    sigmoid,
    softmax,
    softplus,
)
from derivations.notation import shown

x, y, z = sp.symbols("x y z", real=True)


def rewritten_and_put_back(expr: sp.Expr, primitives: str) -> tuple[sp.Expr, sp.Expr]:
    """The rewriting, and the same with every symbol the function value it stands for."""
    rewriter = _Rewriter(primitives)
    rewriter.collect(expr)
    rewritten = back = rewriter.rewrite(expr)
    # An exponential's symbol E = exp(u) has the chain [(E, u)].
    values = {s: sp.exp(rewriter.chain[s][0][1]) for s in rewriter.symbol_of.values()}
    values.update({s: f for f, s in rewriter.primitive_symbol_of.items()})
    while back.has(*values):  # an argument may hold symbols itself
        back = back.xreplace(values)
    return rewritten, back


def agree_at_random_points(a: sp.Expr, b: sp.Expr, n: int = 5) -> bool:
    """a and b agree to 1e-40 (relative, or absolute below 1) at n random points, both
    evaluated and compared at 50 digits: the rounding of a few dozen operations stays
    near 1e-48, and a wrong rewriting is off in the leading digits."""
    rng = random.Random(1)
    for _ in range(n):
        point = {v: sp.Float(rng.uniform(-2, 2), 50) for v in (x, y, z)}
        va, vb = a.evalf(50, subs=point), b.evalf(50, subs=point)
        if sp.Abs(va - vb) > sp.Float("1e-40", 50) * sp.Max(1, sp.Abs(vb)):
            return False
    return True


CASES = [
    sp.Derivative(sp.exp(x * y) / (1 + sp.exp(x) + sp.exp(2 * y)), x),
    sp.Derivative(sp.exp(x / 2) * sp.exp(-x) + sp.exp(sp.exp(x * z)), x, z),
    sp.Derivative(sigmoid(x * y) ** 2, y, 2),
    sp.Derivative(softplus(sigmoid(x) * y) + log_sigmoid(-x * z), x, z),
    sp.Derivative(logsumexp(x, 2 * y, sp.exp(z)), x, z),
    sp.Derivative(shown(sp.exp(x) * sp.sin(y), "f"), y),
    sp.Derivative(sp.UnevaluatedExpr(sigmoid(x) * (1 - sigmoid(x))) * y, x),
    sp.Derivative(sp.log(sp.exp(x) + sp.exp(y)), x, y),
]


@pytest.mark.parametrize("primitives", ["definition", "fdiff"])
@pytest.mark.parametrize("expr", CASES, ids=str)
def test_the_rewriting_equals_sympys_derivative(expr: sp.Expr, primitives: str) -> None:
    rewritten, back = rewritten_and_put_back(expr, primitives)
    assert not rewritten.has(sp.exp, sp.Derivative)
    assert agree_at_random_points(back, expand_primitives(expr).doit())


def test_exponents_a_rational_factor_apart_share_one_symbol_with_integer_powers() -> None:
    (rewritten,) = functions_as_symbols(
        [sp.exp(x / 2) + sp.exp(x) + sp.exp(-3 * x / 2)], primitives="definition"
    )
    (symbol,) = rewritten.free_symbols
    assert rewritten == symbol + symbol**2 + symbol**-3


def test_the_expressions_share_their_symbols() -> None:
    a, b = functions_as_symbols([sp.exp(2 * x) * y, sp.exp(x) + sp.exp(y)], primitives="definition")
    (e_x,) = a.free_symbols - {y}
    assert b.has(e_x) and a == e_x**2 * y


def test_the_softmax_jacobian_expands_to_zero() -> None:
    z3 = sp.symbols("z1:4", real=True)
    s = softmax(z3)
    claims = [
        sp.Derivative(s[i], z3[j]) - s[i] * (int(i == j) - s[j]) for i in range(3) for j in range(3)
    ]
    assert all(sp.expand(e) == 0 for e in functions_as_symbols(claims, primitives="definition"))


def test_a_wrong_derivative_does_not_vanish() -> None:
    z2 = sp.symbols("z1:3", real=True)
    s = softmax(z2)
    wrong = sp.Derivative(s[0], z2[0]) - s[0] * (1 + s[0])  # sign of s_0^2 flipped
    (rewritten,) = functions_as_symbols([wrong], primitives="definition")
    assert sp.cancel(sp.together(rewritten)) != 0


def test_an_exponential_under_a_sum_is_refused() -> None:
    i, n = sp.symbols("i n", integer=True, positive=True)
    w = sp.IndexedBase("w")
    with pytest.raises(NotImplementedError, match="binds a variable"):
        functions_as_symbols(
            [sp.Derivative(sp.Sum(sp.exp(w[i] * x), (i, 1, n)), x)], primitives="fdiff"
        )


def test_anything_but_an_expression_is_returned_as_it_is() -> None:
    assert functions_as_symbols([3, None], primitives="fdiff") == [3, None]


def test_a_network_gradient_by_fdiff_is_a_polynomial_in_the_sigmas() -> None:
    w1, w2, b = sp.symbols("w1 w2 b", real=True)
    h = sigmoid(w1 * x + b)
    loss = (sigmoid(w2 * h) - y) ** 2
    claim = (
        sp.Derivative(loss, w1)
        - 2 * (sigmoid(w2 * h) - y) * sigmoid(w2 * h) * (1 - sigmoid(w2 * h)) * w2 * h * (1 - h) * x
    )
    (rewritten,) = functions_as_symbols([claim], primitives="fdiff")
    assert sp.expand(rewritten) == 0


def test_primitives_must_be_named() -> None:
    with pytest.raises(ValueError, match="primitives must be"):
        functions_as_symbols([x], primitives="fdif")  # type: ignore[arg-type]


def test_an_exponential_met_after_its_symbol_must_be_an_integer_power_of_it() -> None:
    """exp(x/2) is no integer power of exp(x): without a common unit found beforehand
    (as for an exponential that first appears in an fdiff), the rewriting refuses it."""
    rewriter = _Rewriter("definition")
    (symbol,) = rewriter.rewrite(sp.exp(x)).free_symbols
    assert rewriter.rewrite(sp.exp(-2 * x)) == symbol**-2
    with pytest.raises(NotImplementedError, match="no integer power"):
        rewriter.rewrite(sp.exp(x / 2))


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("attention-backward-dk", "exponentials as symbols, chain rule"),
        ("softmax-jacobian-k3", "exponentials as symbols, chain rule"),
        ("backprop-recursion-cross-entropy", "rational form, primitives as symbols"),
    ],
)
def test_the_gradients_are_proved_in_symbols(name: str, method: str) -> None:
    """The strategies of this module prove the first step of these derivations (the
    direct derivative against the formula): what keeps `verigrad verify` fast."""
    import derivations

    report = derivations.get(name).verify()
    assert report.steps[0].verdict.status == "proved"
    assert report.steps[0].verdict.method == method
