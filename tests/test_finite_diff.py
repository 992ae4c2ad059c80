"""Finite differences and gradcheck: accurate, honest about their error, and loud on a bug."""

from __future__ import annotations

import numpy as np
import pytest

import numeric
from numeric.finite_diff import central_difference, complex_step, jacobian, ridders

RNG = np.random.default_rng(7)
A = RNG.normal(size=(50, 20))


def f_softplus(x: np.ndarray) -> np.ndarray:
    """f(x) = sum(log(1 + exp(A x))), the function of the gradient-checker issue."""
    return np.sum(numeric.softplus(A @ x))


def g_softplus(x: np.ndarray) -> np.ndarray:
    return A.T @ numeric.sigmoid(A @ x)


X = RNG.normal(size=20)


def test_the_three_methods_agree_with_the_exact_gradient() -> None:
    exact = g_softplus(X)
    np.testing.assert_allclose(complex_step(f_softplus, X), exact, rtol=1e-13)
    jac, err = ridders(f_softplus, X)
    # Ridders' own estimate bounds its error (with the usual safety factor).
    assert np.all(np.abs(jac - exact) <= 10 * err)
    np.testing.assert_allclose(jac, exact, rtol=1e-11)
    np.testing.assert_allclose(central_difference(f_softplus, X), exact, rtol=1e-8)
    np.testing.assert_allclose(jacobian(f_softplus, X), exact, rtol=1e-13)


def test_vector_output_gives_the_jacobian_with_the_right_shape() -> None:
    x = RNG.normal(size=(2, 3))
    jac = complex_step(lambda a: np.sin(a) * 2, x)
    assert jac.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(jac.reshape(6, 6), np.diag(2 * np.cos(x).ravel()), atol=1e-15)


def test_gradcheck_passes_a_correct_gradient_with_auto_complex_step() -> None:
    report = numeric.gradcheck(f_softplus, g_softplus, X)
    assert report.ok
    assert report.method.startswith("complex step")
    assert report.evaluations > 0 and report.checked == 20


def test_gradcheck_names_a_planted_bug() -> None:
    def buggy(x: np.ndarray) -> np.ndarray:
        g = g_softplus(x)
        g[7] *= 1 + 1e-9
        return g

    report = numeric.gradcheck(f_softplus, buggy, X)
    assert not report.ok
    assert [e.index for e in report.mismatches] == [(7,)]
    assert report.worst[0].index == (7,)
    with pytest.raises(AssertionError, match=r"\(7,\).*mismatch"):
        numeric.assert_gradient(f_softplus, buggy, X)


def test_kink_is_reported_not_failed() -> None:
    x = np.array([0.0, 1.5, -2.0])
    report = numeric.gradcheck(
        lambda a: np.sum(numeric.relu(a)), numeric.relu_grad, x, method="ridders"
    )
    assert report.ok
    assert [e.index for e in report.kinks] == [(0,)]
    assert "left" in report.kinks[0].note


def test_kink_with_a_value_outside_both_sides_fails() -> None:
    x = np.array([0.0])
    report = numeric.gradcheck(lambda a: np.sum(np.abs(a)), np.array([3.0]), x, method="ridders")
    assert not report.ok


def test_shape_errors_name_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"grad has shape \(3,\); expected .*\(20,\)"):
        numeric.gradcheck(f_softplus, np.zeros(3), X)
    with pytest.raises(ValueError, match="method"):
        numeric.gradcheck(f_softplus, g_softplus, X, method="forward")
    with pytest.raises(ValueError, match="not finite"), np.errstate(invalid="ignore"):
        numeric.gradcheck(lambda a: np.sum(np.log(a)), lambda a: 1 / a, np.array([-1.0]))


def test_fixed_tolerances_are_used_when_given() -> None:
    def off(x: np.ndarray) -> np.ndarray:
        return g_softplus(x) * (1 + 1e-6)

    assert numeric.gradcheck(f_softplus, off, X, rtol=1e-5).ok
    assert not numeric.gradcheck(f_softplus, off, X, rtol=1e-8).ok


def test_report_text_is_readable() -> None:
    text = str(numeric.gradcheck(f_softplus, g_softplus, X))
    assert text.startswith("gradcheck passed")
    assert "evaluations" in text and "tolerance" in text
