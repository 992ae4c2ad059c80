"""The logistic topic end to end: derivations verified, three sources agreeing, accuracy in ulps.

1. every derivation of the topic verifies, none refuted; the chain-rule and
   batch-gradient derivations are proved step by step;
2. three sources agree on hypothesis-drawn problems: the batch-gradient
   derivation's result lambdified to NumPy, the complex step on the
   implemented loss, and the implemented gradient;
3. bce_with_logits and its gradient are within 4 ulp of the 50-digit value of
   the textbook formulas (BCE of the sigmoid, sigma(z) - y) for hard labels.
"""

from __future__ import annotations

import os
from unittest import mock

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import derivations
import numeric
from derivations import logistic as lg
from derivations.functions import expand_primitives
from derivations.highprec import reference
from numeric import _threads, models
from numeric.testing import binary_labels, finite_arrays, soft_labels
from tests.conftest import ulp_error, worst_ulp_over

TINY = np.finfo(np.float64).tiny

# ----- derivations ---------------------------------------------------------------------------

MUST_BE_PROVED = {
    "chain-rule-logit",
    "chain-rule-gradient",
    "direct-gradient",
    "chain-rule-gradient-n3",
    "direct-gradient-n3",
    "batch-gradient",
    "batch-gradient-matrix-form",
    "bce-from-likelihood",
}


@pytest.mark.parametrize("name", derivations.names("logistic"))
def test_every_logistic_step_verifies(name: str) -> None:
    report = derivations.get(name).verify()
    for sv in report.steps:
        assert sv.verdict.status == "proved", (name, sv.index, str(sv.verdict))


def test_the_required_derivations_are_registered() -> None:
    assert set(derivations.names("logistic")) >= MUST_BE_PROVED
    assert {"bernoulli-likelihood", "gradient-step", "hessian", "convexity"} <= set(
        derivations.names("logistic")
    )


def test_the_notes_factor_one_is_refuted() -> None:
    # Notes, factor (1): dl/dyhat = (yhat - y) / (y (1 - yhat)).  It is not.
    from derivations.core import check_equal

    yhat, y = lg.yhat, lg.y
    claimed = (yhat - y) / (y * (1 - yhat))
    verdict = check_equal(
        sp.Derivative(lg.bce(yhat, y), yhat), claimed, domain={y: lg.SOFT, yhat: lg.PROB}
    )
    assert verdict.status == "refuted", str(verdict)


# ----- three sources -------------------------------------------------------------------------

_GRAD = expand_primitives(derivations.get("batch-gradient").result)
_ARGS = (lg.X, lg.w, lg.Y, lg.b, lg.N, lg.d, lg.k)
# Lambdified to mpmath: sigma(z) - y, evaluated in floats, would lose up to all its digits
# where sigma(z) is close to y (z = 20, y = 1 loses 8), and the reference must not.
SYMBOLIC_DW = sp.lambdify(_ARGS, _GRAD[0], modules="mpmath")
SYMBOLIC_DB = sp.lambdify(_ARGS, _GRAD[1], modules="mpmath")
_MPF = np.vectorize(mpmath.mpf, otypes=[object])


def symbolic_gradient(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(dw_1 .. dw_d, db) from the derivation's result at 30 digits or more.

    The result's indices start at 1: the arrays get a leading zero entry.
    """
    n, d = X.shape
    Xp = np.zeros((n + 1, d + 1))
    Xp[1:, 1:] = X
    wp, yp = np.concatenate([[0.0], w]), np.concatenate([[0.0], y])
    args = (_MPF(Xp), _MPF(wp), _MPF(yp), mpmath.mpf(b), n, d)
    # sigma(z) - 1 loses |z| log10(e) digits to cancellation: that many more, and 30 to keep.
    zmax = float(np.max(np.abs(X @ w + b)))
    with mpmath.workdps(30 + int(0.45 * zmax)):
        dw = [SYMBOLIC_DW(*args, k) for k in range(1, d + 1)]
        return np.array([float(v) for v in [*dw, SYMBOLIC_DB(*args, 1)]])


@st.composite
def problems(draw, labels=binary_labels):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 64))
    d = draw(st.integers(1, 16))
    # Features up to 10 and weights up to 1, each spanning three orders of magnitude:
    # |z| stays below about 160, so exp(-|z|) and h * sigma'(z) stay normal numbers.
    X = draw(finite_arrays((n, d), low=-10, high=10, log_scale=True))
    w = draw(finite_arrays(d, low=-1, high=1, log_scale=True))
    b = draw(st.floats(-3, 3))
    y = draw(labels(n))
    return w, b, X, y


def _agree(got: np.ndarray, ref: np.ndarray, scale: np.ndarray, what: str) -> None:
    """Relative error <= 1e-12 where the component is not tiny next to its terms.

    ``ref`` is exact to double precision.  ``scale`` is (1/N) sum_i |r_i x_ik|.  A
    component below scale/10 has cancelled (it is "tiny"): there the sum's own rounding,
    up to N eps scale, is the most that can be asked, and 1e-13 scale allows it for
    N <= 64.  Elsewhere that rounding is at most 64 x 1.1e-16 x 10 = 7e-14 of the
    component; the rounding of z_i (d eps |x||w| <= 4e-14 absolute) moves r_i by at most
    as much relatively; each r_i is within a few ulp: 1e-12 relative holds.
    """
    big = np.abs(ref) >= scale / 10
    err = np.abs(got - ref)
    assert np.all(err[big] <= 1e-12 * np.abs(ref[big])), (what, got, ref)
    assert np.all(err[~big] <= 1e-13 * scale[~big]), (what, got, ref)


def _check_three_sources(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray) -> None:
    dw, db = numeric.logistic_regression_grad(w, b, X, y)
    implemented = np.append(dw, db)
    symbolic = symbolic_gradient(w, b, X, y)
    fd = numeric.complex_step(
        lambda v: numeric.logistic_regression_loss(v[:-1], v[-1], X, y), np.append(w, b)
    )
    r = numeric.bce_with_logits_grad(X @ w + b, y)
    Xb = np.column_stack([X, np.ones(len(y))])
    scale = np.abs(r) @ np.abs(Xb) / len(y)
    _agree(implemented, symbolic, scale, "implemented vs symbolic")
    _agree(fd, symbolic, scale, "complex step vs symbolic")


@given(problems())
def test_three_sources_agree_hard_labels(problem) -> None:  # type: ignore[no-untyped-def]
    _check_three_sources(*problem)


@given(problems(labels=soft_labels))
def test_three_sources_agree_soft_labels(problem) -> None:  # type: ignore[no-untyped-def]
    _check_three_sources(*problem)


@given(problems(), st.integers(1, 9), st.integers(1, 3))
def test_blocks_of_rows_on_threads_give_the_same_gradient(problem, rows: int, threads: int) -> None:  # type: ignore[no-untyped-def]
    """The gradient is accumulated over blocks of rows, shared among threads; here blocks
    of 1 to 9 rows on 1 to 3 threads, so most problems take several blocks and a short
    last one.  The blocks' shares are summed in block order: the same bits on any
    number of threads."""
    w, b, X, y = problem
    with (
        mock.patch.object(models, "_BLOCK_ENTRIES", rows * X.shape[1]),
        mock.patch.object(_threads, "MIN_ENTRIES", 0),
        mock.patch.object(_threads, "available_cores", lambda: threads),
        # The thread count, over any the environment sets for the run.
        mock.patch.dict(os.environ, {_threads.ENV_VAR: str(threads)}),
    ):
        assert models._rows_per_block(X) == rows
        _check_three_sources(w, b, X, y)
        dw, db = numeric.logistic_regression_grad(w, b, X, y)
        with mock.patch.dict(os.environ, {_threads.ENV_VAR: "1"}):
            dw_one, db_one = numeric.logistic_regression_grad(w, b, X, y)
    np.testing.assert_array_equal(dw, dw_one)
    assert db == db_one


@given(problems())
def test_gradcheck_of_the_loss(problem) -> None:  # type: ignore[no-untyped-def]
    w, b, X, y = problem
    report = numeric.gradcheck(
        lambda v: numeric.logistic_regression_loss(v[:-1], v[-1], X, y),
        lambda v: np.append(*numeric.logistic_regression_grad(v[:-1], v[-1], X, y)),
        np.append(w, b),
    )
    assert report.ok, str(report)


# ----- accuracy against 50 digits -------------------------------------------------------------

GRID = np.unique(
    np.concatenate(
        [
            np.linspace(-745, 745, 401),
            np.geomspace(1e-6, 745, 80),
            -np.geomspace(1e-6, 745, 80),
            [0.0, 1e-300, -1e-300, 1e-8, -1e-8, 36.7, -36.7, 37.5, -37.5, 40.0, -40.0],
            [708.4, -708.4, 709.78, -709.78, 744.4, -744.4, 745.0, -745.0],
        ]
    )
)
MAX_ULP = 4  # the bar of issue 4
_Z = sp.Symbol("z", real=True)
# References from the textbook formulas, not from the implemented forms.
LOSS_EXPR = derivations.get("stable-bce").quantity.subs(lg.z, _Z)
GRAD_EXPR = derivations.get("chain-rule-logit").result.subs(lg.z, _Z)


def worst_ulp(fn, expr: sp.Expr, label: float, grid: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    ref = reference(expr.subs(lg.y, int(label)), [_Z], digits=50)
    # the bar is on normal results only
    return worst_ulp_over(fn(grid, np.full_like(grid, label)), ref, grid)


@pytest.mark.parametrize("label", [0.0, 1.0])
@pytest.mark.parametrize(
    "fn, expr",
    [(numeric.bce_with_logits, LOSS_EXPR), (numeric.bce_with_logits_grad, GRAD_EXPR)],
    ids=["bce_with_logits", "bce_with_logits_grad"],
)
def test_within_4_ulp_of_the_50_digit_reference(fn, expr, label: float) -> None:  # type: ignore[no-untyped-def]
    worst = worst_ulp(fn, expr, label, GRID)
    assert worst <= MAX_ULP, f"{fn.__name__}, y = {label}: {worst:.2f} ulp"


@given(st.floats(-745, 745), st.sampled_from([0.0, 1.0]))
def test_random_points_within_4_ulp(z: float, label: float) -> None:
    for fn, expr in (
        (numeric.bce_with_logits, LOSS_EXPR),
        (numeric.bce_with_logits_grad, GRAD_EXPR),
    ):
        exact = reference(expr.subs(lg.y, int(label)), [_Z])(z)
        if abs(exact) >= TINY:
            assert ulp_error(fn(z, label), exact) <= MAX_ULP, (fn.__name__, z, label)


def test_where_pytorch_returns_zero_we_do_not() -> None:
    # y = 1, z > 37: the loss is log1p(e^-z), the gradient -sigma(-z) = -e^-z / (1 + e^-z).
    for zi in (40.0, 100.0, 700.0):
        assert numeric.bce_with_logits(zi, 1.0) == pytest.approx(np.exp(-zi), rel=1e-15)
        assert numeric.bce_with_logits_grad(zi, 1.0) == pytest.approx(-np.exp(-zi), rel=1e-15)
        # y = 0, z < -37 mirrors it.
        assert numeric.bce_with_logits(-zi, 0.0) == pytest.approx(np.exp(-zi), rel=1e-15)
        s = numeric.sigmoid(zi)
        assert s - 1.0 == 0.0  # the naive gradient is exactly 0 here


# ----- behaviour -------------------------------------------------------------------------------


@given(finite_arrays(st.integers(1, 20), low=-30, high=30), st.data())
def test_bce_on_probabilities_matches_bce_on_logits(z: np.ndarray, data) -> None:  # type: ignore[no-untyped-def]
    y = data.draw(soft_labels(z.shape))
    p = numeric.sigmoid(z)
    # p carries a rounding of eps p, which moves log p by eps and log(1 - p) by
    # eps p / (1 - p) <= eps e^|z|: that is what bce(p, y) cannot do better than.
    eps = np.finfo(np.float64).eps
    tol = 1e-14 * numeric.bce_with_logits(z, y) + 4 * eps * np.exp(np.abs(z))
    assert np.all(np.abs(numeric.bce(p, y) - numeric.bce_with_logits(z, y)) <= tol)


@given(finite_arrays(st.integers(1, 20), low=-600, high=600, log_scale=True), st.data())
def test_gradient_of_the_loss_by_complex_step(z: np.ndarray, data) -> None:  # type: ignore[no-untyped-def]
    y = data.draw(soft_labels(z.shape))
    # Elementwise: one complex step along all entries gives the diagonal of the Jacobian.
    fd = np.imag(numeric.bce_with_logits(z + 1e-20j, y)) / 1e-20
    grad = numeric.bce_with_logits_grad(z, y)
    # Each is a few roundings from sigma(z) - y; where that cancels (soft y near sigma(z))
    # both lose the same absolute amount, a few eps: 1e-13 relative or 1e-15 absolute.
    np.testing.assert_allclose(grad, fd, rtol=1e-13, atol=1e-15)


def test_bce_edges() -> None:
    assert numeric.bce(0.0, 0.0) == 0.0 and numeric.bce(1.0, 1.0) == 0.0
    assert numeric.bce(0.0, 1.0) == np.inf
    assert numeric.bce(0.5, 0.5) == pytest.approx(np.log(2), rel=1e-15)
    assert np.isnan(numeric.bce(np.nan, 1.0)) and np.isnan(numeric.bce_with_logits(np.nan, 1.0))


@pytest.mark.parametrize(
    "fn", [numeric.bce, numeric.bce_with_logits, numeric.bce_with_logits_grad], ids=str
)
def test_float32_in_float32_out(fn) -> None:  # type: ignore[no-untyped-def]
    out = fn(np.array([0.25, 0.5], np.float32), np.array([0.0, 1.0], np.float32))
    assert out.dtype == np.float32


def test_model_float32_in_float32_out() -> None:
    X = np.ones((4, 3), np.float32)
    w = np.full(3, 0.1, np.float32)
    y = np.array([0, 1, 1, 0])
    dw, db = numeric.logistic_regression_grad(w, 0.5, X, y)
    assert dw.dtype == np.float32 and np.asarray(db).dtype == np.float32
    assert np.asarray(numeric.logistic_regression_loss(w, 0.5, X, y)).dtype == np.float32


def test_errors_name_the_arguments_and_shapes() -> None:
    X, w, y = np.ones((4, 3)), np.ones(3), np.ones(4)
    with pytest.raises(ValueError, match=r"w must have shape \(d,\) = \(3,\).*\(4, 3\).*\(2,\)"):
        numeric.logistic_regression_grad(np.ones(2), 0.0, X, y)
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) = \(4,\).*\(5,\)"):
        numeric.logistic_regression_loss(w, 0.0, X, np.ones(5))
    with pytest.raises(ValueError, match=r"X must be 2-D.*\(12,\)"):
        numeric.logistic_regression_grad(w, 0.0, np.ones(12), y)
    with pytest.raises(ValueError, match=r"b must be a scalar.*\(2,\)"):
        numeric.logistic_regression_grad(w, np.ones(2), X, y)
    with pytest.raises(ValueError, match=r"y holds labels.*\[0, 1\].*first 2\.0"):
        numeric.logistic_regression_grad(w, 0.0, X, np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match=r"p holds probabilities.*first 1\.5"):
        numeric.bce([0.5, 1.5], [1.0, 0.0])
    with pytest.raises(ValueError, match=r"y holds labels.*first -0\.5"):
        numeric.bce_with_logits([0.5, 1.5], [1.0, -0.5])
    with pytest.raises(ValueError, match=r"z and y must have the same shape.*\(2,\).*\(3,\)"):
        numeric.bce_with_logits_grad([0.5, 1.5], [1.0, 0.0, 1.0])
    with pytest.raises(TypeError, match="X must be"):
        numeric.logistic_regression_loss(w, 0.0, np.array([["a"]]), y)


def test_soft_labels_minimize_at_the_label() -> None:
    # d/dz BCE(sigma(z), y) = 0 exactly where sigma(z) = y: at z = logit(y).
    y = np.array([0.2, 0.5, 0.9])
    z = np.log(y / (1 - y))
    # z carries a few roundings (a few eps relative, |z| < 2.2), so sigma(z) - y is off
    # by about sigma' * |z| * eps < 1e-16.
    np.testing.assert_allclose(numeric.bce_with_logits_grad(z, y), 0.0, atol=1e-16)
