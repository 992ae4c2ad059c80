"""verify_gradient: a user's loss, a user's gradient, one call."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import numeric
from derivations import verify_gradient
from derivations.functions import log_sigmoid, sigmoid, softplus

z = sp.Symbol("z", real=True)
y = sp.Symbol("y", real=True)
gamma = sp.Symbol("gamma", positive=True)
eps = sp.Symbol("eps", positive=True)

# Binary focal loss with p_t = sigma(s z), s = 2 y - 1.
S = 2 * y - 1
FOCAL = -(sigmoid(-S * z) ** gamma) * log_sigmoid(S * z)
FOCAL_DOMAIN = {y: sp.FiniteSet(0, 1), gamma: sp.Interval(0, 5), z: sp.Interval(-30, 30)}


def focal_grad(z: float, y: float, gamma: float) -> float:
    s = 2 * y - 1
    p, q = numeric.sigmoid(s * z), numeric.sigmoid(-s * z)
    return s * q**gamma * (gamma * p * numeric.log_sigmoid(s * z) - q)


def test_a_correct_focal_loss_gradient_passes() -> None:
    report = verify_gradient(FOCAL, z, focal_grad, FOCAL_DOMAIN)
    assert report.ok, str(report)
    # Stable forms throughout: within a few ulps of the exact gradient.
    assert report.max_rel_error < 1e-14
    assert all(c.gradcheck is not None for c in report.checks[:20])


def test_a_missing_chain_rule_sign_fails_at_the_y_0_points() -> None:
    def buggy(z: float, y: float, gamma: float) -> float:
        return focal_grad(z, y, gamma) * (2 * y - 1)  # s * s = 1: the sign is lost

    report = verify_gradient(FOCAL, z, buggy, FOCAL_DOMAIN)
    assert not report.ok
    assert report.failures and all(c.point[y] == 0 for c in report.failures)
    assert "FAILED" in str(report)


def test_label_smoothing_with_two_wrt_symbols_and_positional_args() -> None:
    # L = softplus(z) - y_s z, y_s = (1 - eps) y + eps / 2:
    # dL/dz = sigma(z) - y_s, dL/dy = -(1 - eps) z.
    ys = (1 - eps) * y + eps / 2
    loss = softplus(z) - ys * z

    def grad(z: float, y: float, eps: float) -> tuple[float, float]:
        return numeric.sigmoid(z) - ((1 - eps) * y + eps / 2), -(1 - eps) * z

    dom = {y: sp.Interval(0, 1), eps: sp.Interval(0, 0.3)}
    assert verify_gradient(loss, [z, y], grad, dom, args=[z, y, eps]).ok

    def forgot_smoothing(z: float, y: float, eps: float) -> tuple[float, float]:
        return numeric.sigmoid(z) - y, -(1 - eps) * z

    assert not verify_gradient(loss, [z, y], forgot_smoothing, dom, args=[z, y, eps]).ok


def test_an_inaccurate_but_right_formula_is_flagged() -> None:
    # sigma(z) (1 - sigma(z)) is the right derivative of sigma but cancels for z >> 1.
    def naive(z: float) -> float:
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)

    report = verify_gradient(sigmoid(z), z, naive, {z: sp.Interval(10, 40)})
    assert not report.ok
    assert report.max_rel_error > 1e-9


def test_argument_errors() -> None:
    with pytest.raises(TypeError, match="SymPy expression"):
        verify_gradient("z**2", z, lambda z: 2 * z)
    with pytest.raises(ValueError, match="does not depend"):
        verify_gradient(z**2, y, lambda z, y: 0.0)
    with pytest.raises(ValueError, match="each free symbol"):
        verify_gradient(z * y, z, lambda z, y: y, args=[z])
    with pytest.raises(ValueError, match="expected 2"):
        verify_gradient(z * y, [z, y], lambda z, y: y)
    with pytest.raises(TypeError, match="wrt"):
        verify_gradient(z * y, "z", lambda z, y: y)
