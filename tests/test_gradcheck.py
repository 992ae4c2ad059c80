"""The gradient checker's bars: sensitivity, no false alarms, kinks, float32, large inputs.

The function of the issue: f(x) = sum(log(1 + exp(A x))), A 50 x 20, float64,
with one gradient entry multiplied by (1 + delta).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numeric
from numeric.testing import finite_arrays


def softplus_problem(seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(50, 20))

    def f(x: np.ndarray) -> float:
        return np.sum(numeric.softplus(A @ x))

    def grad(x: np.ndarray) -> np.ndarray:
        return A.T @ numeric.sigmoid(A @ x)

    return f, grad, rng.normal(size=20), rng


def planted(grad, entry: int, delta: float):
    def buggy(x: np.ndarray) -> np.ndarray:
        g = np.array(grad(x), dtype=float)
        g[entry] *= 1 + delta
        return g

    return buggy


TRIALS = [(seed, entry) for seed in range(10) for entry in range(0, 20, 2)]  # 100 trials


def test_a_1e_9_bug_is_caught_and_named_in_all_100_trials() -> None:
    missed = []
    for seed, entry in TRIALS:
        f, grad, x, _ = softplus_problem(seed)
        report = numeric.gradcheck(f, planted(grad, entry, 1e-9), x)
        if report.ok or [e.index for e in report.mismatches] != [(entry,)]:
            missed.append((seed, entry))
    assert missed == []


def test_no_false_alarm_on_correct_gradients_in_20_seeds() -> None:
    for seed in range(20):
        f, grad, x, _ = softplus_problem(seed)
        report = numeric.gradcheck(f, grad, x)
        assert report.ok, str(report)
        assert report.method == "complex step (auto)"


def abs_max_problem(seed: int) -> tuple:
    """A non-analytic f: sum |A x| + sum max(B x, 0.3 B x) (abs and a leaky max)."""
    rng = np.random.default_rng(100 + seed)
    A, B = rng.normal(size=(30, 20)), rng.normal(size=(30, 20))

    def f(x: np.ndarray) -> float:
        bx = B @ x
        return np.sum(np.abs(A @ x)) + np.sum(np.maximum(bx, 0.3 * bx))

    def grad(x: np.ndarray) -> np.ndarray:
        bx = B @ x
        return A.T @ np.sign(A @ x) + B.T @ np.where(bx > 0, 1.0, 0.3)

    return f, grad, rng.normal(size=20)


def test_a_1e_6_bug_in_a_non_analytic_function_is_caught_in_all_100_trials() -> None:
    missed = []
    for seed, entry in TRIALS:
        f, grad, x = abs_max_problem(seed)
        report = numeric.gradcheck(f, planted(grad, entry, 1e-6), x)
        assert report.method == "Ridders (auto)"
        if report.ok or [e.index for e in report.mismatches] != [(entry,)]:
            missed.append((seed, entry))
    assert missed == []


def test_no_false_alarm_on_the_non_analytic_function() -> None:
    for seed in range(20):
        f, grad, x = abs_max_problem(seed)
        report = numeric.gradcheck(f, grad, x)
        assert report.ok, str(report)


# ----- kinks ------------------------------------------------------------------------------------


def relu_network_at_a_kink() -> tuple:
    """A ReLU network whose pre-activations are exactly 0 at x for rows 0 and 2.

    Integer weights make W1 x + b1 exact, so the zeros are exact.
    """
    W1 = np.array([[1.0, -2.0, 1.0], [2.0, 1.0, 0.0], [-1.0, 1.0, 1.0], [0.5, 0.5, -1.0]])
    x = np.array([1.0, 2.0, 3.0])
    b1 = np.array([0.0, 1.0, -4.0, 3.0])  # pre-activations: 0, 5, 0, 1.5
    w2 = np.array([1.5, -2.0, 0.7, 1.0])

    def f(xx: np.ndarray) -> float:
        return float(w2 @ numeric.relu(W1 @ xx + b1))

    def grad(xx: np.ndarray) -> np.ndarray:
        return W1.T @ (w2 * numeric.relu_grad(W1 @ xx + b1))

    return f, grad, x


def test_relu_network_at_exact_zeros_reports_kinks_not_failures() -> None:
    f, grad, x = relu_network_at_a_kink()
    report = numeric.gradcheck(f, grad, x)
    assert report.ok, str(report)
    assert report.method == "Ridders (auto)"  # the probe sees the kink
    assert report.kinks  # every input moves a zero pre-activation
    assert all("left" in e.note and "analytic" in e.note for e in report.kinks)


def test_relu_network_weights_at_a_kink() -> None:
    W1 = np.array([[1.0, -2.0, 1.0], [2.0, 1.0, 0.0]])
    x = np.array([1.0, 2.0, 3.0])
    b1 = np.array([0.0, 1.0])  # row 0 sits exactly at 0

    def f(w: np.ndarray) -> float:
        return float(np.sum(numeric.relu(w @ x + b1)))

    def grad(w: np.ndarray) -> np.ndarray:
        return numeric.relu_grad(w @ x + b1)[:, None] * x[None, :]

    report = numeric.gradcheck(f, grad, W1)
    assert report.ok, str(report)
    assert {e.index for e in report.kinks} == {(0, 0), (0, 1), (0, 2)}


def test_a_bug_at_a_kink_is_still_a_failure() -> None:
    f, grad, x = relu_network_at_a_kink()
    report = numeric.gradcheck(f, lambda xx: grad(xx) + 10.0, x)
    assert not report.ok


# ----- float32 ---------------------------------------------------------------------------------


@given(finite_arrays(st.integers(1, 12), low=-5, high=5, dtype=np.float32))
def test_float32_input_raises_no_false_alarm(x32: np.ndarray) -> None:
    w = np.linspace(-1, 1, x32.size).astype(np.float32)

    def f(x: np.ndarray) -> np.ndarray:
        return np.sum(numeric.softplus(w * x))

    def grad(x: np.ndarray) -> np.ndarray:
        return w * numeric.sigmoid(w * x)  # float32 in, float32 out

    assert grad(x32).dtype == np.float32
    report = numeric.gradcheck(f, grad, x32)
    assert report.ok, str(report)


def test_function_computing_in_float32_raises_no_false_alarm() -> None:
    rng = np.random.default_rng(3)
    A = rng.normal(size=(8, 6)).astype(np.float32)
    x = rng.normal(size=6).astype(np.float32)

    def f(xx: np.ndarray) -> np.ndarray:
        return np.sum(numeric.softplus(A @ xx.astype(np.float32)))  # float32 whatever it gets

    def grad(xx: np.ndarray) -> np.ndarray:
        return A.T @ numeric.sigmoid(A @ xx)

    report = numeric.gradcheck(f, grad, x)
    assert report.ok, str(report)
    assert "float32" in report.tolerance_rule
    # Differences of a float32 f resolve about 1e-5 absolute here (Ridders' estimate,
    # eps32 |f| / h): a 1% bug in an entry of 0.25 is 10x above that.
    bug = numeric.gradcheck(f, planted(grad, 2, 1e-2), x)
    assert [e.index for e in bug.mismatches] == [(2,)]


# ----- large inputs ------------------------------------------------------------------------------


def test_sample_checks_only_that_many_entries() -> None:
    f, grad, x, _ = softplus_problem(0)
    report = numeric.gradcheck(f, grad, x, sample=5, seed=1)
    assert report.checked == 5 and report.total == 20
    assert "5 of 20" in str(report)


def test_projections_find_a_1e_9_bug_among_a_million_parameters() -> None:
    n = 10**6
    rng = np.random.default_rng(1)
    a, x = rng.normal(size=n), rng.normal(size=n)

    def f(xx: np.ndarray) -> float:
        return np.sum(numeric.softplus(a * xx))

    def grad(xx: np.ndarray) -> np.ndarray:
        return a * numeric.sigmoid(a * xx)

    assert numeric.gradcheck(f, grad, x, projections=2).ok
    entry = int(np.argmax(np.abs(grad(x))))  # a sizeable entry: the bug shifts J v by delta |J_k|
    report = numeric.gradcheck(f, planted(grad, entry, 1e-9), x, projections=2)
    assert not report.ok
    assert "directional derivatives" in str(report)


def test_vector_output_jacobian_check() -> None:
    z = np.array([0.3, -1.2, 2.0, 0.0])
    report = numeric.gradcheck(numeric.softmax, numeric.softmax_jacobian, z)
    assert report.ok and report.total == 16
    bad = numeric.softmax_jacobian(z).copy()
    bad[1, 2] *= 1 + 1e-8
    assert [e.index for e in numeric.gradcheck(numeric.softmax, bad, z).mismatches] == [(1, 2)]


def test_argument_errors() -> None:
    f, grad, x, _ = softplus_problem(0)
    with pytest.raises(ValueError, match="sample or projections"):
        numeric.gradcheck(f, grad, x, sample=3, projections=3)
    with pytest.raises(ValueError, match="sample must be at least 1"):
        numeric.gradcheck(f, grad, x, sample=0)
    with pytest.raises(TypeError, match="tuple"):
        numeric.gradcheck(f, lambda xx: (grad(xx), 0.0), x)
    with pytest.raises(TypeError, match="x must be"):
        numeric.gradcheck(f, grad, np.array(["a"]))


def _cancelling_square(x: np.ndarray) -> np.ndarray:
    """f(b) = sum (sigmoid(b) - 1/2)^2: zero with a zero gradient at b = 0, and
    sigmoid(b) - 1/2 cancels, so f's rounding is not proportional to f."""
    return np.sum((numeric.sigmoid(x) - 0.5) ** 2)


def test_a_zero_gradient_is_not_failed_on_the_rounding_inside_f() -> None:
    x = np.zeros(2)
    report = numeric.gradcheck(_cancelling_square, np.zeros(2), x, method="ridders")
    assert report.ok, report


def test_a_small_error_beside_a_zero_gradient_is_still_caught() -> None:
    # The rounding floor is ~eps f(x + h0) / h0 ~ 1e-18 here: 1e-12 is far above it.
    x = np.zeros(2)
    report = numeric.gradcheck(_cancelling_square, np.array([0.0, 1e-12]), x, method="ridders")
    assert not report.ok


# ----- a noisy f ---------------------------------------------------------------------------------


def noisy_square(sigma: float):
    """f(x) = sum x^2 + sigma u(x), u uniform with standard deviation 1, drawn from x's bits.

    Noise of a known size, far above eps |f| and fresh at every point, like the rounding
    of an ill-conditioned f; the exact derivative is 2 x.
    """

    def f(x: np.ndarray) -> float:
        seed = int.from_bytes(
            hashlib.sha256(np.ascontiguousarray(x).tobytes()).digest()[:8], "little"
        )
        u = np.random.default_rng(seed).uniform(-np.sqrt(3), np.sqrt(3))
        return float(np.sum(x * x) + sigma * u)

    return f


NOISE_X = np.random.default_rng(0).normal(size=20)


@pytest.mark.parametrize("sigma", [1e-12, 1e-10, 1e-8])
def test_ridders_estimate_covers_the_noise_of_f(sigma: float) -> None:
    # Taking f's values to be good to eps |f| (~4e-15 here), the estimate was 14 to 75 times
    # below the error; with the noise measured it bounds it (measured: error <= 0.55 x estimate).
    f = noisy_square(sigma)
    jac, err = numeric.ridders(f, NOISE_X)
    assert np.all(np.abs(jac - 2 * NOISE_X) <= err)


@pytest.mark.parametrize("sigma", [1e-12, 1e-10, 1e-8])
def test_gradcheck_passes_a_noisy_f_and_still_catches_a_bug_above_its_noise(sigma: float) -> None:
    f = noisy_square(sigma)
    assert numeric.gradcheck(f, 2 * NOISE_X, NOISE_X, method="ridders").ok
    assert numeric.gradcheck(f, 2 * NOISE_X, NOISE_X, method="ridders", projections=3).ok
    # The noise reaches the derivative as about sigma / h, h ~ 0.1 (Ridders' first step):
    # a bug 10^4 times that is far outside the tolerance (measured: at most 1.4% of the bug).
    bug = 2 * NOISE_X
    bug[3] += 1e4 * sigma / 0.1
    report = numeric.gradcheck(f, bug, NOISE_X, method="ridders")
    assert [e.index for e in report.mismatches] == [(3,)]
    assert numeric.gradcheck(f, bug, NOISE_X, method="ridders", projections=2).ok is False
