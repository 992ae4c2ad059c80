"""Ball arithmetic on the tape, and derivatives carried out on it (forward mode).

What a ball promises: the exact value lies within ``rad`` of ``mid``.  Each
test computes the exact value independently (SymPy's own derivative of the
expression, evaluated at 60 digits) and checks that the ball holds it and is
narrow: at 30 digits the radius must stay below 1e-20 of the value's size (the
tape's rounding is about 10^-30 per operation; 1e-20 leaves ten digits for the
growth of the bounds through a few dozen operations, and is still far too
narrow for a wrong derivative to pass).
"""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from derivations.balls import Undecidable, Unsupported, compile_tape
from derivations.functions import expand_primitives, log_sigmoid, relu, sigmoid, softplus

x, y = sp.symbols("x y", real=True)
DPS = 30
NARROW = mpmath.mpf("1e-20")

# Expressions in x and y whose derivatives the tape must carry out.
EXPRESSIONS = [
    x**3 * y - 2 * x * y**2 + 7,
    sp.exp(x * y) / (1 + sp.exp(x) + sp.exp(y)),
    sp.log(1 + x**2 + y**2),
    sp.sqrt(2 + x**2) * y,
    (1 + x**2) ** (y / 3),  # a power with a variable exponent
    sp.sin(x) * sp.cos(y) + sp.tanh(x - y) + sp.atan(x * y),
    sp.Abs(x - 3 * y) + sp.Max(x, y, 0) * sp.Min(x, 2 * y),
    sp.Piecewise((x**2 * y, x > y), (x - y, True)),
    sigmoid(x * y) + softplus(x - y) * log_sigmoid(y),
    relu(x + y) * y,
]
# The value itself, then derivatives as SymPy writes them: by x, by y, twice, mixed,
# three times.
DERIVATIVES = [(), (x,), (y,), (x, x), (x, y), (x, y, y)]
coordinate = st.floats(-3, 3, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


def exact(expr: sp.Expr, point: dict[sp.Symbol, float]) -> mpmath.mpf:
    """SymPy's own value at 60 digits (the point's binary values exactly), primitives by
    their definitions."""
    # Floats of 60 digits hold the binary values exactly; exact rationals with 2^52 in
    # the denominator would make SymPy look for perfect powers, which takes minutes.
    exact_point = {v: sp.Float(c, 60) for v, c in point.items()}
    with mpmath.workdps(60):
        return mpmath.mpf(expand_primitives(expr).doit().evalf(60, subs=exact_point))


def ball_at(expr: sp.Expr, point: dict[sp.Symbol, float]):
    tape = compile_tape((expr,), (x, y))
    return tape.evaluate([point[x], point[y]], DPS)[0]


def holds(ball, value: mpmath.mpf) -> bool:
    """The ball holds ``value``, compared at 60 digits (mpmath's default 15 would round)."""
    with mpmath.workdps(60):
        return bool(abs(ball.mid - value) <= ball.rad)


@pytest.mark.parametrize("variables", DERIVATIVES, ids=str)
@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
@settings(max_examples=20)  # for each of the 60 pairs: 1200 points in all
@given(a=coordinate, b=coordinate)
def test_a_value_or_derivative_on_the_tape_holds_the_exact_value(
    expr: sp.Expr, variables: tuple[sp.Symbol, ...], a: float, b: float
) -> None:
    point = {x: a, y: b}
    derivative = sp.Derivative(expr, *variables) if variables else expr
    try:
        ball = ball_at(derivative, point)
    except Undecidable:  # a kink (|u| at 0, two Max arguments equal) or a Piecewise edge
        return
    value = exact(sp.diff(expr, *variables) if variables else expr, point)
    assert holds(ball, value), (ball, value)
    assert ball.rad <= NARROW * max(1, abs(value)), (ball, value)


def test_the_derivative_of_a_primitive_comes_from_its_definition_not_its_fdiff() -> None:
    class wrong_sigmoid(sigmoid):  # the right definition, a wrong derivative
        def fdiff(self, argindex: int = 1) -> sp.Expr:
            return wrong_sigmoid(self.args[0]) ** 2

    ball = ball_at(sp.Derivative(wrong_sigmoid(x), x), {x: 1.0, y: 0.0})
    with mpmath.workdps(60):
        s = 1 / (1 + mpmath.exp(-1))
        assert holds(ball, s * (1 - s))


@pytest.mark.parametrize(
    ("expr", "at"),
    [
        (sp.Derivative(sp.Max(x, y), x), {x: 1.0, y: 1.0}),  # two arguments tie
        (sp.Derivative(sp.sign(x), x), {x: 0.0, y: 0.0}),  # the jump
        (sp.Derivative(sp.Heaviside(x), x), {x: 0.0, y: 0.0}),
        (sp.Derivative(sp.sqrt(x), x), {x: 0.0, y: 0.0}),  # infinite slope
    ],
    ids=str,
)
def test_no_derivative_where_there_is_none(expr: sp.Expr, at: dict[sp.Symbol, float]) -> None:
    with pytest.raises(Undecidable):
        ball_at(expr, at)


def test_a_derivative_by_a_variable_the_function_does_not_hold_is_zero() -> None:
    ball = ball_at(sp.Derivative(x**2, y), {x: 2.0, y: 5.0})
    assert ball.mid == 0 and ball.rad == 0


def test_a_derivative_by_a_variable_without_a_value_is_not_compiled() -> None:
    with pytest.raises(Unsupported, match="y has no value"):
        compile_tape((sp.Derivative(x * y, y),), (x,))


def test_a_gradient_shares_the_function_on_the_tape() -> None:
    """The entries of a gradient evaluate their function once: the tape of the whole
    gradient is much shorter than the tapes of its entries one by one."""
    f = sp.exp(x * y) / (1 + sp.exp(x) + sp.exp(y)) + sp.log(1 + x**2)
    gradient = (sp.Derivative(f, x), sp.Derivative(f, y))
    together = len(compile_tape(gradient, (x, y)).ops)
    apart = sum(len(compile_tape((g,), (x, y)).ops) for g in gradient)
    function_alone = len(compile_tape((f,), (x, y)).ops)
    assert together <= apart - function_alone + 2  # the two arguments are on both


def test_a_derivative_by_an_indexed_entry() -> None:
    """The numeric stage's arguments include entries w[k] of an IndexedBase."""
    w = sp.IndexedBase("w")
    f = sp.exp(w[1] * w[2]) + w[1] ** 3
    tape = compile_tape((sp.Derivative(f, w[1]), sp.Derivative(f, w[3])), (w[1], w[2]))
    d1, d3 = tape.evaluate([0.5, -2.0], DPS)
    with mpmath.workdps(60):
        assert holds(d1, -2 * mpmath.exp(-1) + 3 * mpmath.mpf(0.5) ** 2)
    assert d3.mid == 0 and d3.rad == 0  # f does not hold w[3]
