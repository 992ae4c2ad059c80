"""numeric.activations: dtypes, edge cases, errors, and agreement with definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numeric
from numeric.testing import finite_arrays

ELEMENTWISE = [
    numeric.sigmoid,
    numeric.sigmoid_grad,
    numeric.log_sigmoid,
    numeric.softplus,
    numeric.relu,
    numeric.relu_grad,
]
ALONG_AXIS = [numeric.softmax, numeric.log_softmax, numeric.logsumexp]


@pytest.mark.parametrize("fn", ELEMENTWISE + ALONG_AXIS, ids=lambda f: f.__name__)
def test_float32_in_float32_out(fn) -> None:
    out = fn(np.array([[-3.0, 0.5, 2.0]], dtype=np.float32))
    assert np.asarray(out).dtype == np.float32


@pytest.mark.parametrize("fn", ELEMENTWISE + ALONG_AXIS, ids=lambda f: f.__name__)
def test_integers_and_lists_become_float64(fn) -> None:
    assert np.asarray(fn([[1, 2, 3]])).dtype == np.float64


@pytest.mark.parametrize("fn", ELEMENTWISE, ids=lambda f: f.__name__)
def test_scalar_in_scalar_out_and_nan_propagates(fn) -> None:
    assert np.ndim(fn(0.5)) == 0
    assert np.isnan(fn(np.nan))


@pytest.mark.parametrize("fn", ELEMENTWISE + ALONG_AXIS, ids=lambda f: f.__name__)
def test_non_numbers_are_a_type_error_naming_the_argument(fn) -> None:
    with pytest.raises(TypeError, match="z must be"):
        fn(np.array(["a", "b"]))


def test_relu_and_its_gradient_at_the_kink() -> None:
    assert numeric.relu(0.0) == 0.0
    assert numeric.relu_grad(0.0) == 0.0
    np.testing.assert_array_equal(numeric.relu_grad([-2.0, 0.0, 3.0]), [0.0, 0.0, 1.0])


@given(finite_arrays(st.integers(1, 20), low=-30, high=30))
def test_stable_forms_match_their_definitions_where_those_are_safe(z: np.ndarray) -> None:
    # |z| <= 30: these textbook forms neither overflow nor cancel (each is a few
    # roundings: 1e-14 relative is about 45 ulp of room).  s (1 - s) would cancel.
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(numeric.sigmoid(z), s, rtol=1e-14)
    np.testing.assert_allclose(numeric.sigmoid_grad(z), s / (1 + np.exp(z)), rtol=1e-14)
    np.testing.assert_allclose(numeric.softplus(z), np.log1p(np.exp(z)), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(
        numeric.log_sigmoid(z), -np.log1p(np.exp(-z)), rtol=1e-13, atol=1e-300
    )


def test_complex_input_gives_the_analytic_continuation() -> None:
    z = np.array([-3.0, -0.5, 0.0, 0.7, 4.0]) + 1e-3j
    np.testing.assert_allclose(numeric.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-14)
    np.testing.assert_allclose(numeric.softplus(z), np.log1p(np.exp(z)), rtol=1e-14)


# ----- along an axis ---------------------------------------------------------------------------


def test_softmax_of_the_notes_example() -> None:
    s = numeric.softmax([1.0, 2.0, 8.0])
    exact = np.exp([1.0, 2.0, 8.0]) / np.exp([1.0, 2.0, 8.0]).sum()
    np.testing.assert_allclose(s, exact, rtol=1e-15)
    assert s.sum() == pytest.approx(1.0, abs=1e-15)


@given(finite_arrays(st.tuples(st.integers(1, 4), st.integers(1, 32)), low=-700, high=700))
def test_softmax_rows_are_probability_vectors(z: np.ndarray) -> None:
    s = numeric.softmax(z, axis=-1)
    assert np.all(s >= 0) and np.all(s <= 1)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=0, atol=32 * np.finfo(float).eps)


@given(finite_arrays(st.tuples(st.integers(1, 4), st.integers(1, 16)), low=-50, high=50))
def test_log_softmax_and_logsumexp_are_consistent(z: np.ndarray) -> None:
    lse = numeric.logsumexp(z, axis=-1)
    # The textbook log(sum(exp)) is accurate to a few eps in absolute terms for |z| <= 50.
    np.testing.assert_allclose(lse, np.log(np.exp(z).sum(axis=-1)), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(numeric.log_softmax(z), z - lse[:, None], rtol=1e-12, atol=1e-12)


def test_temperature() -> None:
    z = np.array([1.0, 2.0, 8.0])
    np.testing.assert_allclose(
        numeric.softmax(z, temperature=2.0), numeric.softmax(z / 2), rtol=1e-15
    )
    hot = numeric.softmax(z, temperature=1e6)
    np.testing.assert_allclose(hot, 1 / 3, rtol=1e-5)
    cold = numeric.softmax(z, temperature=1e-3)
    np.testing.assert_array_equal(cold, [0.0, 0.0, 1.0])
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="temperature"):
            numeric.softmax(z, temperature=bad)


def test_axis_errors_name_the_shape() -> None:
    with pytest.raises(ValueError, match=r"axis 2 is out of range for z with shape \(2, 3\)"):
        numeric.softmax(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match="scalar"):
        numeric.logsumexp(1.0)
    with pytest.raises(ValueError, match="no entries"):
        numeric.log_softmax(np.zeros((2, 0)))


def test_infinite_and_nan_rows() -> None:
    assert numeric.logsumexp([-np.inf, -np.inf]) == -np.inf
    assert numeric.logsumexp([np.inf, 0.0]) == np.inf
    assert np.isnan(numeric.logsumexp([np.nan, 0.0]))
    np.testing.assert_array_equal(numeric.log_softmax([-np.inf, 0.0]), [-np.inf, 0.0])
    np.testing.assert_array_equal(numeric.softmax([-np.inf, 0.0]), [0.0, 1.0])


def test_dominant_class_keeps_its_tiny_log_probability() -> None:
    # log softmax of the dominant entry is -log1p(e^-50 + e^-60): about -1.9e-22, not 0.
    z = np.array([50.0, 0.0, -10.0])
    expected = -np.log1p(np.exp(-50.0) + np.exp(-60.0))
    assert numeric.log_softmax(z)[0] == pytest.approx(expected, rel=1e-15)


@given(finite_arrays(st.tuples(st.integers(1, 3), st.integers(1, 8)), low=-20, high=20))
def test_softmax_jacobian_matches_finite_differences(z: np.ndarray) -> None:
    jac = numeric.softmax_jacobian(z)
    assert jac.shape == z.shape + z.shape[-1:]
    for row, j in zip(z, jac):
        report = numeric.gradcheck(numeric.softmax, j, row, method="complex")
        assert report.ok, str(report)
    np.testing.assert_allclose(jac.sum(axis=-2), 0.0, atol=1e-15)
