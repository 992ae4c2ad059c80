"""The sigmoid topic end to end: derivations proved, three sources agreeing, accuracy in ulps.

The pattern every topic follows:
1. every registered derivation of the topic verifies, each step "proved";
2. three sources agree on hypothesis-drawn inputs: the derivation's result
   lambdified to NumPy, a finite difference of the implemented forward
   function, and the implemented gradient;
3. the implemented functions are within a few ulps of the symbolic result
   evaluated at 50 digits (mpmath), across the whole float64 range.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import derivations
import numeric
from derivations.functions import log_sigmoid, sigmoid, softplus
from derivations.highprec import reference
from numeric.testing import finite_arrays
from tests.conftest import ulp_error, worst_ulp_over

z = sp.Symbol("z", real=True)
TINY = np.finfo(np.float64).tiny


@pytest.mark.parametrize("name", derivations.names("sigmoid"))
def test_every_sigmoid_step_is_proved(name: str) -> None:
    report = derivations.get(name).verify()
    assert [sv.verdict.status for sv in report.steps] == ["proved"] * len(report.steps), [
        str(sv.verdict) for sv in report.steps
    ]


# ----- three sources -------------------------------------------------------------------------

RESULT = derivations.get("sigmoid-derivative").result
SYMBOLIC_GRAD = sp.lambdify(z, RESULT, modules="numpy", cse=True)


# |z| <= 600: the complex step's imaginary part, h sigma'(z) with h = 1e-20, must
# stay a normal number (sigma'(600) h is about 1e-281; at 700 it underflows).
@given(finite_arrays(st.integers(1, 50), low=-600, high=600, log_scale=True))
def test_three_sources_agree_on_the_sigmoid_gradient(zs: np.ndarray) -> None:
    implemented = numeric.sigmoid_grad(zs)
    symbolic = SYMBOLIC_GRAD(zs)
    # The sigmoid is elementwise: its Jacobian is diagonal, one complex step gives the diagonal.
    fd = np.imag(numeric.sigmoid(zs + 1e-20j)) / 1e-20
    # Each source is within a few ulps of the exact value (see the accuracy test);
    # 1e-13 relative leaves room for all three and for exp's argument reduction at |z| ~ 700.
    np.testing.assert_allclose(implemented, symbolic, rtol=1e-13, atol=0)
    np.testing.assert_allclose(implemented, fd, rtol=1e-13, atol=0)


@given(finite_arrays(st.integers(1, 8), low=-30, high=30))
def test_gradcheck_of_softplus_is_the_sigmoid(zs: np.ndarray) -> None:
    report = numeric.gradcheck(lambda a: np.sum(numeric.softplus(a)), numeric.sigmoid, zs)
    assert report.ok, str(report)


# ----- accuracy against 50 digits --------------------------------------------------------------

FUNCTIONS = {
    "sigmoid": (numeric.sigmoid, sigmoid(z)),
    "sigmoid_grad": (numeric.sigmoid_grad, RESULT),
    "log_sigmoid": (numeric.log_sigmoid, log_sigmoid(z)),
    "softplus": (numeric.softplus, softplus(z)),
}
# Where the cases are hardest: both tails, the overflow thresholds of exp, and 0.
GRID = np.unique(
    np.concatenate(
        [
            np.linspace(-745, 745, 301),
            [
                -745.0,
                -709.78,
                -708.4,
                -37.5,
                -36.7,
                -1e-8,
                -1e-300,
                0.0,
                1e-300,
                1e-8,
                36.7,
                37.5,
                708.4,
                709.78,
            ],
            np.geomspace(1e-6, 745, 60),
            -np.geomspace(1e-6, 745, 60),
        ]
    )
)
MAX_ULP = 4  # the bar of the foundation issue


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_within_4_ulp_of_the_50_digit_reference(name: str) -> None:
    fn, expr = FUNCTIONS[name]
    ref = reference(expr, [z], digits=50)
    worst = worst_ulp_over(fn(GRID), ref, GRID)  # the bar is on normal results only
    assert worst <= MAX_ULP, f"{name}: {worst:.2f} ulp"


@given(st.floats(-745, 745))
def test_random_points_within_4_ulp(x: float) -> None:
    for name, (fn, expr) in FUNCTIONS.items():
        exact = reference(expr, [z])(x)
        if abs(exact) >= TINY:
            assert ulp_error(fn(x), exact) <= MAX_ULP, (name, x)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_no_inf_or_nan_for_finite_input(x: float) -> None:
    for fn, _ in FUNCTIONS.values():
        assert np.isfinite(fn(x))


def test_sigmoid_grad_keeps_relative_accuracy_where_naive_form_loses_it() -> None:
    # sigma(z)(1 - sigma(z)) is exactly 0 from z = 37.4 on; the true value is e^-z (1 + O(e^-z)).
    for zi in (40.0, 100.0, 700.0):
        assert numeric.sigmoid_grad(zi) == pytest.approx(np.exp(-zi), rel=1e-15)
        s = numeric.sigmoid(zi)
        assert s * (1 - s) == 0.0
