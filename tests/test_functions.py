"""Stable primitives: derivative, rewrite, LaTeX and NumPy printing, each checked."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from derivations import check_equal
from derivations.functions import (
    PRIMITIVES,
    expand_primitives,
    log_sigmoid,
    logit,
    logsumexp,
    sigmoid,
    softmax,
    softplus,
)
from derivations.highprec import reference
from tests.conftest import ulp_error

x = sp.Symbol("x", real=True)
u, v, w = sp.symbols("u v w", real=True)
p = sp.Symbol("p", real=True)

UNARY = [sigmoid, softplus, log_sigmoid]


@pytest.mark.parametrize("f", UNARY, ids=lambda f: f.__name__)
def test_fdiff_is_the_derivative_of_the_definition(f) -> None:
    assert check_equal(f(x).fdiff(), sp.diff(f.definition(x), x)).proved


def test_logit_fdiff_on_its_domain() -> None:
    dom = {p: sp.Interval.open(0, 1)}
    assert check_equal(logit(p).fdiff(), sp.diff(logit.definition(p), p), domain=dom).proved


@pytest.mark.parametrize("i", [1, 2, 3])
def test_logsumexp_fdiff_is_softmax(i: int) -> None:
    args = (u, v, w)
    assert check_equal(
        logsumexp(*args).fdiff(i), sp.diff(logsumexp.definition(*args), args[i - 1])
    ).proved


@pytest.mark.parametrize("f", PRIMITIVES, ids=lambda f: f.__name__)
def test_rewrite_to_exp_is_the_definition(f) -> None:
    args = (u, v) if f is logsumexp else (x,)
    assert f(*args).rewrite(sp.exp) == f.definition(*args)
    assert expand_primitives(f(*args)) == f.definition(*args)


def test_special_values() -> None:
    assert sigmoid(0) == sp.Rational(1, 2)
    assert sigmoid(sp.oo) == 1 and sigmoid(-sp.oo) == 0
    assert softplus(0) == sp.log(2)
    assert log_sigmoid(0) == -sp.log(2)
    assert logit(sp.Rational(1, 2)) == 0
    assert logsumexp(x) == x
    with pytest.raises(TypeError):
        logsumexp()


def test_assumptions() -> None:
    assert sigmoid(x).is_positive and sigmoid(x).is_real
    assert softplus(x).is_positive
    assert log_sigmoid(x).is_negative
    assert sigmoid(sp.Symbol("c")).is_positive is None  # complex argument: unknown


def test_latex() -> None:
    assert sp.latex(sigmoid(x)) == r"\sigma\left(x\right)"
    assert sp.latex(softplus(x)) == r"\operatorname{softplus}\left(x\right)"
    assert sp.latex(logsumexp(u, v)) == r"\operatorname{LSE}\left(u, v\right)"
    assert sp.latex(logit(p)) == r"\operatorname{logit}\left(p\right)"


def test_evalf_goes_through_the_definition() -> None:
    exact = (1 / (1 + sp.exp(-2))).evalf(30)
    assert abs(sigmoid(sp.Integer(2)).evalf(30) - exact) < 1e-29


# Arguments where the naive formulas overflow (e^800) or cancel (1 - sigma(40)).
EXTREMES = [-800.0, -745.0, -100.0, -40.0, -1.0, 0.0, 1e-20, 1.0, 40.0, 100.0, 745.0, 800.0]


@pytest.mark.parametrize(
    "expr",
    [
        sigmoid(x),
        softplus(x),
        log_sigmoid(x),
        sigmoid(x) * sigmoid(-x),
        softplus(-x) + log_sigmoid(x),
    ],
    ids=str,
)
def test_lambdified_numpy_is_finite_and_accurate_at_extremes(expr) -> None:
    f = sp.lambdify(x, expr, modules="numpy", cse=True)
    ref = reference(expr, [x])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        got = f(np.array(EXTREMES))
    assert np.all(np.isfinite(got))
    for zi, gi in zip(EXTREMES, got):
        exact = ref(zi)
        if abs(exact) >= np.finfo(np.float64).tiny:
            # The lambdified product of primitives rounds a few times: 8 ulp.
            assert ulp_error(gi, exact) <= 8, (zi, gi, exact)
        else:
            assert abs(gi) <= 2 * np.finfo(np.float64).tiny


def test_lambdified_logsumexp_and_logit() -> None:
    f = sp.lambdify((u, v, w), logsumexp(u, v, w), modules="numpy")
    assert f(800.0, 799.0, -800.0) == pytest.approx(800 + np.log1p(np.exp(-1.0)), rel=1e-15)
    g = sp.lambdify(p, logit(p), modules="numpy")
    assert g(1e-300) == pytest.approx(np.log(1e-300), rel=1e-15)
    assert g(1 - 2.0**-53) == pytest.approx(
        float(mpmath.log((1 - mpmath.mpf(2) ** -53) / mpmath.mpf(2) ** -53)), rel=1e-14
    )


def test_softmax_helper() -> None:
    s = softmax([u, v])
    assert check_equal(s[0], sigmoid(u - v)).proved
    with pytest.raises(ValueError, match="empty"):
        softmax([])


def test_a_shown_expression_rebuilds_from_its_args() -> None:
    # expand_primitives and xreplace rebuild a tree with func(*args); the name comes
    # back as a Str.
    from derivations.functions import expand_primitives, relu
    from derivations.notation import shown

    x = sp.Symbol("x", real=True)
    named = shown(relu(x) + 1, "L")
    assert named.func(*named.args) == named
    assert expand_primitives(named).name == "L"
