"""The backprop topic end to end: derivations proved, three sources agreeing, accuracy in ulps.

1. every registered backprop derivation verifies, each step "proved";
2. three sources agree on the fully symbolic 2-3-2 networks of the recursion
   derivations (both hidden activations, both losses), at parameters drawn by
   hypothesis: the derivation's gradient lambdified to NumPy, a finite
   difference of the implemented loss (complex step; for ReLU networks away from
   the kink, where each ReLU is analytic), and numeric.mlp_loss_and_grads;
3. the implemented gradient is within a few ulps of the symbolic gradient at 50 digits;
4. the ReLU and step primitives are complete (derivative, LaTeX, NumPy, convention at 0);
5. the verifier's shortcuts (primitives as symbols, sums with fdiff) still refute wrong claims.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import derivations
import numeric
from derivations import backprop as bp
from derivations import check_equal
from derivations.functions import expand_primitives, heaviside, relu, sigmoid
from derivations.highprec import compile_mpmath, estimate
from tests.conftest import ulp_error


@pytest.mark.parametrize("name", derivations.names("backprop"))
def test_every_backprop_step_is_proved(name: str) -> None:
    report = derivations.get(name).verify()
    assert [sv.verdict.status for sv in report.steps] == ["proved"] * len(report.steps), [
        (str(sv.verdict), sv.verdict.detail) for sv in report.steps
    ]


# ----- three sources on the 2-3-2 networks ------------------------------------------------------

NETWORKS = {
    ("sigmoid", "mse"): "backprop-vectorised-recursion",
    ("relu", "mse"): "backprop-recursion-relu",
    ("sigmoid", "cross_entropy"): "backprop-recursion-cross-entropy",
    ("relu", "cross_entropy"): "backprop-recursion-relu-cross-entropy",
}
PARAMS = [*bp._W1, *bp._b1, *bp._W2, *bp._b2]
ARGS = [*PARAMS, *bp._x, *bp._y]
_u = sp.Wild("u")


def stable(entries) -> list[sp.Expr]:
    """1 - sigma(u) as sigma(-u) (sigmoid-symmetry): no cancellation for saturated units."""
    return [e.replace(1 - sigmoid(_u), sigmoid(-_u)) for e in entries]


SYMBOLIC = {
    key: sp.lambdify(ARGS, stable(derivations.get(name).result), modules="numpy", cse=True)
    for key, name in NETWORKS.items()
}
# Every entry agrees to within this, relative to |entry| + the gradient's RMS (see test_mlp.py).
BAR = 1e-10
# A gradient that is exactly 0 (a symmetric point) comes back as rounding noise: the symbolic
# side evaluates softmax as exp(z_i - LSE(z)), whose exponent carries eps |z| with logits |z|
# up to 62 here (|W| <= 2, |x| <= 2): about 1.4e-14.  Measured against this floor, it must
# stay below BAR * FLOOR = 1e-13.
FLOOR = 1e-3


def as_layers(theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (theta[0:6].reshape(3, 2), theta[6:9]),
        (theta[9:15].reshape(2, 3), theta[15:17]),
    ]


def relative_error(a: np.ndarray, ref: np.ndarray) -> float:
    scale = np.maximum(np.abs(ref) + np.sqrt(np.mean(ref**2)), FLOOR)
    return float(np.max(np.abs(a - ref) / scale))


values = st.floats(-2, 2, allow_nan=False)


@pytest.mark.parametrize(("hidden", "loss"), list(NETWORKS))
@given(
    theta=hnp.arrays(np.float64, 17, elements=values),
    x=hnp.arrays(np.float64, 2, elements=values),
    p=st.floats(0.01, 0.99),
)
def test_three_sources_agree_on_the_2_3_2_networks(hidden, loss, theta, x, p) -> None:
    y = np.array([p, 1 - p])  # a probability vector (needed by cross-entropy's delta)
    X, Y = x[None, :], y[None, :]
    if hidden == "relu":
        z1 = theta[0:6].reshape(3, 2) @ x + theta[6:9]
        assume(np.min(np.abs(z1)) >= 1e-3)  # away from the kink
    symbolic = np.array(SYMBOLIC[hidden, loss](*theta, *x, *y), dtype=float)
    _, grads = numeric.mlp_loss_and_grads(as_layers(theta), X, Y, hidden=hidden, loss=loss)
    implemented = np.concatenate([np.concatenate([g.ravel(), h]) for g, h in grads])
    fd = numeric.complex_step(
        lambda t: numeric.mlp_loss(as_layers(t), X, Y, hidden=hidden, loss=loss), theta
    )
    assert relative_error(implemented, symbolic) <= BAR
    assert relative_error(fd, symbolic) <= BAR


@pytest.mark.parametrize(("hidden", "loss"), list(NETWORKS))
def test_implemented_gradient_within_ulps_of_the_50_digit_symbolic_one(hidden, loss) -> None:
    # A few hundred float64 operations, none cancelling badly at these points: each entry
    # within 64 ulp (numeric.finite_diff's ROUNDING_ULPS) of the exact value, or, for an
    # entry far below the gradient's size, within 64 ulp of that size.
    result = derivations.get(NETWORKS[hidden, loss]).result
    exact_fn = compile_mpmath(tuple(expand_primitives(e).doit() for e in result), tuple(ARGS))
    rng = np.random.default_rng(7)
    worst = 0.0
    for _ in range(3):
        theta, x, p = rng.uniform(-2, 2, 17), rng.uniform(-2, 2, 2), rng.uniform(0.1, 0.9)
        y = np.array([p, 1 - p])
        _, grads = numeric.mlp_loss_and_grads(
            as_layers(theta), x[None, :], y[None, :], hidden=hidden, loss=loss
        )
        got = np.concatenate([np.concatenate([g.ravel(), h]) for g, h in grads])
        assert np.all(np.isfinite(got)), got  # max() below would pass over a NaN
        # 60 and 120 digits; the error estimate must show 50 digits at least.
        exact = estimate(exact_fn, [*theta, *x, *y], 60)
        assert all(e.error <= abs(e.value) * 1e-50 + 1e-300 for e in exact)
        size = float(np.sqrt(np.mean(np.square([float(e.value) for e in exact]))))
        for g, e in zip(got, exact):
            if abs(float(e.value)) >= size:
                worst = max(worst, ulp_error(g, e.value))
            else:
                worst = max(worst, abs(g - float(e.value)) / np.spacing(size))
    assert worst <= 64, worst


# ----- the primitives -----------------------------------------------------------------------

x = sp.Symbol("x", real=True)


def test_relu_fdiff_is_the_derivative_of_its_definition_everywhere() -> None:
    # Piecewise((x, x > 0), (0, True)) differentiates branchwise to H with H(0) = 0: equal at 0 too.
    assert check_equal(relu(x).fdiff(), sp.diff(relu.definition(x), x)).proved
    # The step's derivative: 0 away from 0 (its definition differentiates to 0 branchwise).
    assert heaviside(x).fdiff() == sp.DiracDelta(x)
    assert sp.piecewise_fold(sp.diff(heaviside.definition(x), x)) == 0


def test_the_convention_at_zero_is_zero_everywhere() -> None:
    assert heaviside(0) == 0 and relu(0) == 0
    assert heaviside.definition(sp.S.Zero) == 0
    f = sp.lambdify(x, [relu(x), heaviside(x), sp.diff(relu(x), x)], modules="numpy")
    got = f(np.array([-1.0, 0.0, 2.0]))
    assert np.array_equal(got[0], [0.0, 0.0, 2.0])
    assert np.array_equal(got[1], [0.0, 0.0, 1.0])
    assert np.array_equal(got[2], numeric.relu_grad(np.array([-1.0, 0.0, 2.0])))


def test_relu_and_step_print() -> None:
    assert sp.latex(relu(x)) == r"\operatorname{relu}\left(x\right)"
    assert sp.latex(heaviside(x) ** 2) == r"H^{2}\left(x\right)"


def test_relu_of_a_known_sign() -> None:
    pos, neg = sp.Symbol("p", positive=True), sp.Symbol("q", negative=True)
    assert relu(pos) == pos and relu(neg) == 0 and heaviside(pos) == 1 and heaviside(neg) == 0


# ----- the verifier's shortcuts refute wrong claims -------------------------------------------


def test_a_recursion_without_the_hidden_slope_is_refuted() -> None:
    cost, params, grads = bp._network("sigmoid", "mse")
    wrong = list(grads)
    wrong[0] = grads[0] / bp.dsigma(bp._W1[0, 0] * bp._x[0] + bp._W1[0, 1] * bp._x[1] + bp._b1[0])
    v = check_equal(sp.Derivative(cost, params[0]), wrong[0], budget_s=3)
    assert v.status == "refuted", str(v)


def test_the_notes_typo_z_for_2_is_refuted() -> None:
    # Notes: dC0/da^(L-1) = w sigma'(z) z (a - y): the "z" where a 2 belongs.
    claim = bp.w * bp.dsigma(bp.zL) * bp.zL * (bp.aL - bp.y)
    v = check_equal(sp.Derivative(bp.C0, bp.a_prev), claim, budget_s=3)
    assert v.status == "refuted", str(v)


def test_a_wrong_multi_neuron_sum_is_refuted() -> None:
    d = derivations.get("backprop-multi-neuron-activation")
    wrong = d.result.replace(lambda e: e == bp.Wi[bp.j, bp.k], lambda e: bp.Wi[bp.k, bp.j])
    v = check_equal(d.quantity, wrong, domain=d.domain, budget_s=4, points=8)
    assert v.status == "refuted", str(v)


def test_sigmoid_used_in_the_topic_is_the_primitive() -> None:
    assert isinstance(bp.aL, sigmoid)
