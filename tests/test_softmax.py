"""The softmax topic end to end: derivations proved, three sources agreeing, accuracy in ulps.

1. every registered derivation of the topic verifies, each step "proved"; the
   symbolic-K Jacobian and cross-entropy gradient by the index-sum rules;
2. three sources agree on hypothesis-drawn logits (K up to 32, |z| up to 700):
   the derivation's result lambdified to NumPy (sums over a symbolic K print as
   Python sums), the complex step of the implemented loss, and the implemented
   gradient;
3. log_softmax, cross_entropy and cross_entropy_grad are within 8 ulp of a
   reference computed from the definitions at 2400 bits (every difference of two
   doubles is exact there), and softmax within 2e-13 relative.
"""

from __future__ import annotations

from functools import cache

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import derivations
import numeric
from derivations import softmax as topic
from derivations.accuracy import worst_ulps
from derivations.highprec import LOG_SOFTMAX_BITS, log_softmax_reference
from numeric.testing import finite_arrays
from tests.conftest import ulp_error

TINY = np.finfo(np.float64).tiny
LOGITS = finite_arrays(st.integers(1, 32), low=-700, high=700)
SPREAD_LOGITS = finite_arrays(st.integers(1, 32), low=-700, high=700, log_scale=True)


# ----- 1. derivations --------------------------------------------------------------------------


@pytest.mark.parametrize("name", derivations.names("softmax"))
def test_every_softmax_step_is_proved(name: str) -> None:
    report = derivations.get(name).verify()
    assert [sv.verdict.status for sv in report.steps] == ["proved"] * len(report.steps), [
        f"{sv.verdict} {sv.verdict.detail}" for sv in report.steps
    ]


@pytest.mark.parametrize("name", ["softmax-jacobian", "cross-entropy-gradient"])
def test_symbolic_k_results_are_proved_for_every_k(name: str) -> None:
    d = derivations.get(name)
    assert topic.K in d.quantity.free_symbols  # K stays a symbol: the claim is for every K
    report = d.verify()
    assert report.status == "proved"
    assert "sums over index ranges" in report.methods


def test_wrong_jacobian_and_gradient_are_refuted() -> None:
    s = topic.s
    i, j = topic.i, topic.j
    wrong_jac = s(i) * (topic.delta(i, j) - s(i))
    v = derivations.check_equal(
        sp.Derivative(s(i), topic.z[j]), wrong_jac, domain=topic.INDICES, budget_s=2
    )
    assert v.status == "refuted"
    # The notes' dL/dyhat = yhat - y is the gradient in the logits, not in the probabilities.
    grad_in_probs = derivations.get("cross-entropy-gradient-in-probabilities")
    notes_claim = topic.yhat[j] - topic.y[j]
    v = derivations.check_equal(grad_in_probs.quantity, notes_claim, domain={j: (1, topic.K)})
    assert v.status == "refuted"


# ----- 2. three sources ------------------------------------------------------------------------


_DELTA = sp.Function("delta")


@cache
def _symbolic(name: str, *args: sp.Basic):
    """The derivation's result as a NumPy function of ``args`` (indices may be arrays)."""
    result = derivations.get(name).result.replace(sp.KroneckerDelta, _DELTA)
    delta = {"delta": lambda a, b: np.equal(a, b).astype(float)}
    return sp.lambdify(args, result, modules=[delta, "numpy"])


def _one_based(v: np.ndarray) -> np.ndarray:
    return np.concatenate([[np.nan], v])  # IndexedBase entries z[1] .. z[K]


def _shifted(z: np.ndarray) -> np.ndarray:
    """z - max z, as an argument of the symbolic results: the same value by
    softmax-shift-invariance, and the naive e^{z_j} / sum_m e^{z_m} then neither
    overflows nor has subnormal intermediates (its sum lies in [1, K])."""
    return _one_based(z - z.max())


# The complex step's imaginary part is h f' with h = 1e-20: below this |f'| it is
# subnormal and has lost bits, so the step is no reference there.
COMPLEX_STEP_FLOOR = TINY / 1e-20


def _agree(
    implemented: np.ndarray, reference: np.ndarray, cancels: np.ndarray, floor: float = TINY
) -> None:
    """rtol 1e-12; where the reference form cancels (s - y with s near y), 8 eps absolute.

    Each side is within a few ulps of its exact value where nothing cancels.  The
    symbolic form s_j - y_j is evaluated naively: it carries an absolute error of a
    few eps, which is 1e-12 relative only where |s_j - y_j| >= 1e-3.  Entries below
    ``floor`` are left out: subnormal values (not "not tiny"), or where the
    reference itself is not accurate.
    """
    eps = np.finfo(np.float64).eps
    kept = np.abs(reference) >= floor
    implemented, reference, cancels = implemented[kept], reference[kept], cancels[kept]
    big = ~cancels | (np.abs(reference) >= 1e-3)
    np.testing.assert_allclose(implemented[big], reference[big], rtol=1e-12, atol=0)
    np.testing.assert_allclose(implemented[~big], reference[~big], rtol=0, atol=8 * eps)


@given(LOGITS, st.data())
def test_three_sources_agree_on_the_cross_entropy_gradient(z: np.ndarray, data) -> None:
    k = z.size
    t = data.draw(st.integers(0, k - 1))
    onehot = np.eye(k)[t]
    implemented = numeric.cross_entropy_grad(z, t)
    symbolic = _symbolic("cross-entropy-gradient", topic.z, topic.y, topic.K, topic.j)(
        _shifted(z), _one_based(onehot), k, np.arange(1, k + 1)
    )
    fd = numeric.complex_step(lambda a: numeric.cross_entropy(a, t), z)
    cancels = onehot == 1
    _agree(implemented, symbolic, cancels)
    _agree(implemented, fd, cancels, COMPLEX_STEP_FLOOR)


@given(finite_arrays(st.integers(1, 32), low=-700, high=700))
def test_three_sources_agree_on_the_softmax_jacobian(z: np.ndarray) -> None:
    k = z.size
    implemented = numeric.softmax_jacobian(z)
    entry = _symbolic("softmax-jacobian", topic.z, topic.K, topic.i, topic.j)
    ii, jj = np.meshgrid(np.arange(1, k + 1), np.arange(1, k + 1), indexing="ij")
    symbolic = entry(_shifted(z), k, ii, jj)
    fd = numeric.complex_step(numeric.softmax, z)  # d softmax_i / d z_j
    # The diagonal s_i (1 - s_i) cancels in the symbolic form when s_i is near 1.
    cancels = np.eye(k, dtype=bool)
    _agree(implemented, symbolic, cancels)
    _agree(implemented, fd, np.ones((k, k), dtype=bool), COMPLEX_STEP_FLOOR)


@given(finite_arrays(st.tuples(st.integers(1, 6), st.integers(1, 5)), low=-5, high=5), st.data())
def test_softmax_regression_gradient_three_ways(X: np.ndarray, data) -> None:
    n, d = X.shape
    k = data.draw(st.integers(2, 5))
    W = data.draw(finite_arrays((k, d), low=-3, high=3))
    b = data.draw(finite_arrays(k, low=-3, high=3))
    t = data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    t = np.array(t)
    dW, db = numeric.softmax_regression_grad(W, b, X, t)
    # The derivation's form: mean over samples of (yhat - y) x^T and (yhat - y).
    err = numeric.softmax(X @ W.T + b) - np.eye(k)[t]
    # The reference forms s - y naively: where s rounds near 1 its entry is off by up to
    # a few eps absolute (the implementation keeps s - 1 exact to a few ulp), times
    # |x| <= 5 in dW, averaged over the n rows: atol = 5 * 4 eps.  Elsewhere each side's
    # entries of s - y are within 4 ulp, each product rounds once and a sum of n terms
    # n times (Higham's gamma_n): (n + 8) eps times the sum of the terms' magnitudes.
    eps = np.finfo(np.float64).eps
    atol = 5 * 4 * eps
    terms_W, terms_b = np.abs(err).T @ np.abs(X) / n, np.abs(err).mean(axis=0)
    assert np.all(np.abs(dW - err.T @ X / n) <= (n + 8) * eps * terms_W + atol)
    assert np.all(np.abs(db - err.mean(axis=0)) <= (n + 8) * eps * terms_b + atol)
    theta = np.concatenate([W.ravel(), b])

    def loss(th: np.ndarray) -> float:
        return numeric.softmax_regression_loss(th[: k * d].reshape(k, d), th[k * d :], X, t)

    report = numeric.gradcheck(loss, np.concatenate([dW.ravel(), db]), theta)
    assert report.ok, str(report)


# ----- 3. accuracy against a high-precision reference -----------------------------------------

PREC_BITS = LOG_SOFTMAX_BITS


def _exact_softmax(row: np.ndarray) -> list:
    with mpmath.workprec(PREC_BITS):
        return [mpmath.exp(v) for v in log_softmax_reference(row)]


MAX_ULP = 8
# Where the cases are hardest: a dominant class (loss about 1e-20 and 1e-300), ties,
# a single class, the largest logits, and neighbours whose difference rounds.
PINNED = [
    np.array([46.0, 0.0, -1.0]),
    np.array([50.0, 0.0, -10.0]),
    np.array([700.0, -700.0, 0.0, 690.0]),
    np.array([3.0, 3.0, 3.0]),
    np.array([5.0]),
    np.array([0.1, 46.3, -12.7, 1e-300, -5e-324]),
    np.linspace(-700, 700, 32),
    # The edges of the product form (numeric.losses._PRODUCT_RANGE) and beyond it.
    np.array([699.0, 698.0]),
    np.array([-700.0, -700.0, -699.5]),
    np.array([800.0, 799.5, -5.0, 0.25]),
    np.array([1e4, 1e4 - 30.0, 0.0]),
]


def _check_row(z: np.ndarray) -> None:
    k = z.size
    ls = log_softmax_reference(z)
    assert worst_ulps(numeric.log_softmax(z), ls) <= MAX_ULP
    with mpmath.workprec(PREC_BITS):
        sm = [mpmath.exp(v) for v in ls]
    losses = numeric.cross_entropy(np.tile(z, (k, 1)), np.arange(k))  # every target
    assert worst_ulps(losses, [-v for v in ls]) <= MAX_ULP
    grads = numeric.cross_entropy_grad(np.tile(z, (k, 1)), np.arange(k))  # (s - e_t) / K
    with mpmath.workprec(PREC_BITS):
        exact = [(sm[c] - (1 if c == t else 0)) / k for t in range(k) for c in range(k)]
    assert worst_ulps(grads, exact) <= MAX_ULP
    s = numeric.softmax(z)
    for g, e in zip(s, sm):
        if abs(e) >= TINY:
            assert abs(mpmath.mpf(float(g)) - e) <= 2e-13 * abs(e)


@pytest.mark.parametrize("z", PINNED, ids=lambda z: f"K{z.size}-{z[0]:g}")
def test_pinned_rows_within_8_ulp(z: np.ndarray) -> None:
    _check_row(z)


@given(LOGITS)
def test_random_rows_within_8_ulp(z: np.ndarray) -> None:
    _check_row(z)


@given(SPREAD_LOGITS)
def test_rows_spanning_magnitudes_within_8_ulp(z: np.ndarray) -> None:
    _check_row(z)


@given(LOGITS)
def test_rows_beyond_the_product_range_within_8_ulp(z: np.ndarray) -> None:
    # Logits up to 2700: the gradient takes the shifted form (TwoSum) there.
    _check_row(z + 2000.0)


def test_dominant_class_keeps_its_tiny_loss_and_gradient() -> None:
    # PyTorch and SciPy give 0 for both: a 100% relative error.
    z = np.array([46.0, 0.0, -1.0])
    loss = numeric.cross_entropy(z, 0)
    grad = numeric.cross_entropy_grad(z, 0)
    exact = -log_softmax_reference(z)[0]
    assert loss > 0 and ulp_error(loss, exact) <= 1
    assert grad[0] < 0 and ulp_error(grad[0], -(1 - _exact_softmax(z)[0])) <= 2


# ----- the numeric API: shapes, targets, errors ----------------------------------------------


def test_index_and_one_hot_targets_agree() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(5, 4)) * 10
    t = np.array([0, 3, 1, 1, 2])
    onehot = np.eye(4)[t]
    np.testing.assert_array_equal(numeric.cross_entropy(z, t), numeric.cross_entropy(z, onehot))
    np.testing.assert_array_equal(
        numeric.cross_entropy_grad(z, t), numeric.cross_entropy_grad(z, onehot)
    )


def test_soft_targets_and_any_axis() -> None:
    rng = np.random.default_rng(2)
    z = rng.normal(size=(3, 4, 2))
    y = rng.random(size=(3, 4, 2))
    y /= y.sum(axis=1, keepdims=True)
    loss = numeric.cross_entropy(z, y, axis=1)
    assert loss.shape == (3, 2)
    # The same sums of four positive terms (|z| ~ 1: log-softmax within a few eps, no
    # cancellation) rounded in another order: 1e-14 relative is ~50 eps.
    expected = -(y * numeric.log_softmax(z, axis=1)).sum(axis=1)
    np.testing.assert_allclose(loss, expected, rtol=1e-14)
    grad = numeric.cross_entropy_grad(z, y, axis=1)
    # s - y cancels where s is near y: entries ~1/6 lose at most a few eps absolute
    # (1e-17 ~ 0.5 eps / 6); elsewhere each side is a few roundings: 1e-13 relative.
    np.testing.assert_allclose(grad, (numeric.softmax(z, axis=1) - y) / 6, rtol=1e-13, atol=1e-17)
    t = rng.integers(0, 4, size=(3, 2))
    assert numeric.cross_entropy(z, t, axis=1).shape == (3, 2)


def test_float32_stays_float32() -> None:
    z = np.array([[1.0, 2.0, 8.0]], dtype=np.float32)
    assert numeric.cross_entropy(z, np.array([2])).dtype == np.float32
    assert numeric.cross_entropy_grad(z, np.array([2])).dtype == np.float32


def test_masked_and_nan_logits() -> None:
    z = np.array([[0.0, -np.inf, 1.0], [np.nan, 0.0, 1.0]])
    loss = numeric.cross_entropy(z, np.array([2, 1]))
    assert np.isfinite(loss[0]) and np.isnan(loss[1])
    g = numeric.cross_entropy_grad(z, np.array([2, 1]))
    assert g[0, 1] == 0 and np.all(np.isfinite(g[0])) and np.all(np.isnan(g[1]))


@pytest.mark.parametrize(
    ("y", "error", "match"),
    [
        (np.array([0, 3]), ValueError, r"class indices y must lie in \[0, 3\).*\[3\]"),
        (np.array([0, -1]), ValueError, r"\[-1\] out of range"),
        (np.array([0, 1, 2]), ValueError, r"class indices y must have shape \(2,\)"),
        (np.array([[0.5, 0.5, 0.0], [1.2, -0.2, 0.0]]), ValueError, "must be >= 0"),
        (np.array([[0.5, 0.4, 0.0], [1.0, 0.0, 0.0]]), ValueError, "row 0 sums to 0.9"),
        (np.ones((2, 4)) / 4, ValueError, r"z's shape \(2, 3\)"),
        (np.array([0.0, 1.0]), TypeError, "class indices must be integers"),
        (np.array([True, False]), TypeError, "not bool"),
    ],
)
def test_bad_targets_are_named(y, error, match) -> None:
    z = np.zeros((2, 3))
    for fn in (numeric.cross_entropy, numeric.cross_entropy_grad):
        with pytest.raises(error, match=match):
            fn(z, y)


def test_bad_temperature_and_regression_shapes_are_named() -> None:
    with pytest.raises(ValueError, match="temperature"):
        numeric.softmax([1.0, 2.0], temperature=0.0)
    W, b, X = np.zeros((3, 2)), np.zeros(3), np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"X has 5 features \(shape \(4, 5\)\) but W takes 2"):
        numeric.softmax_regression_grad(W, b, np.zeros((4, 5)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        numeric.softmax_regression_loss(W, np.zeros(2), X, np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match=r"class indices y must lie in \[0, 3\)"):
        numeric.softmax_regression_loss(W, b, X, np.array([0, 1, 2, 3]))
