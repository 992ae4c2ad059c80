"""numeric.mlp_forward / mlp_loss / mlp_loss_and_grads: gradients against finite differences.

The symbolic side of the three-way agreement (the gradients of fully symbolic
small networks) is in tests/test_backprop.py; here every random network drawn by
hypothesis (1 to 4 layers, widths 1 to 16, both hidden activations, both losses)
is checked against finite differences of the implemented forward pass:

* sigmoid networks by the complex step (analytic, so no truncation error);
* ReLU networks at points where no pre-activation is within MARGIN of the kink at
  0, where the network is analytic near the point: by the complex step (bar 1e-10)
  and by Ridders' extrapolation, within Ridders' own error estimate (Ridders alone
  resolves only about 1e-12 absolute on a loss of order one).

Relative error of an entry: |implemented - finite difference| / (|fd| + rms(fd)),
the RMS over every parameter of the network: an entry that is exactly 0 (a dead
ReLU unit) is measured against the size of the gradient, not against 0; and the whole
scale against FLOOR (see there).  Bar: 1e-10.
"""

from __future__ import annotations

import functools
import itertools

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import numeric
from numeric.testing import mlp_params

BAR = 1e-10
MARGIN = 1e-2
# A gradient that is exactly 0 (a symmetric point: zero weights, softmax equal to the
# targets) comes back from either side as rounding noise, up to about 1e-16: the rounding
# of softmax(z)_j - y_j, both of order one.  It is measured against this floor, so it
# must stay below BAR * FLOOR = 1e-15 (about 5 ulps of 1) in absolute terms.
FLOOR = 1e-5

Params = list[tuple[np.ndarray, np.ndarray]]


def flatten(params: Params) -> np.ndarray:
    return np.concatenate([np.concatenate([W.ravel(), b.ravel()]) for W, b in params])


def unflatten(theta: np.ndarray, like: Params) -> Params:
    out, i = [], 0
    for W, b in like:
        Wn = theta[i : i + W.size].reshape(W.shape)
        i += W.size
        out.append((Wn, theta[i : i + b.size]))
        i += b.size
    return out


def relative_error(implemented: np.ndarray, reference: np.ndarray) -> float:
    scale = np.maximum(np.abs(reference) + np.sqrt(np.mean(reference**2)), FLOOR)
    return float(np.max(np.abs(implemented - reference) / scale))


@st.composite
def problems(draw, hidden: str) -> tuple[Params, np.ndarray, np.ndarray, str]:
    """A network, a batch X (1 to 5 rows), targets Y and the loss."""
    params = draw(mlp_params())
    n = draw(st.integers(1, 5))
    n_in, n_out = params[0][0].shape[1], params[-1][0].shape[0]
    X = draw(hnp.arrays(np.float64, (n, n_in), elements=st.floats(-3, 3)))
    loss = draw(st.sampled_from(["mse", "cross_entropy"]))
    if loss == "mse":
        Y = draw(hnp.arrays(np.float64, (n, n_out), elements=st.floats(0, 1)))
    elif draw(st.booleans()):
        Y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, n_out - 1)))
    else:
        raw = draw(hnp.arrays(np.float64, (n, n_out), elements=st.floats(0.01, 1)))
        Y = raw / raw.sum(axis=1, keepdims=True)
    return params, X, Y, loss


def pre_activations(params: Params, X: np.ndarray) -> list[np.ndarray]:
    """z^(l) of every hidden layer, by an explicit loop (ReLU hidden layers)."""
    zs, a = [], X
    for W, b in params[:-1]:
        z = a @ W.T + b
        zs.append(z)
        a = np.maximum(z, 0)
    return zs


def output_margin(params: Params, X: np.ndarray) -> float:
    """The largest gap between a row's top logit and its runner-up (ReLU hidden layers)."""
    zs = pre_activations(params, X)
    a = np.maximum(zs[-1], 0) if zs else X
    W, b = params[-1]
    logits = np.sort(a @ W.T + b, axis=1)
    return float(np.max(logits[:, -1] - logits[:, -2])) if logits.shape[1] > 1 else 0.0


# Where softmax saturates (top probability 1 - e^-margin), the complex step's imaginary
# part carries rounding of about eps relative to the terms of order one inside the
# log-softmax, against a derivative of order e^-margin: at a margin of 12 that is
# eps e^12 ~ 4e-11 relative, at 15 already above BAR. The reference is then no longer
# good to BAR, so those draws are left out here (saturated rows of
# numeric.cross_entropy_grad are checked against 50 digits in tests/test_softmax.py, and a
# saturated network's gradient below, in "a saturated output against 50 digits").
SATURATION_MARGIN = 12.0


def implemented(params: Params, X, Y, hidden: str, loss: str) -> np.ndarray:
    _, grads = numeric.mlp_loss_and_grads(params, X, Y, hidden=hidden, loss=loss)
    return flatten(grads)


@given(problems("sigmoid"))
def test_sigmoid_networks_agree_with_the_complex_step(problem) -> None:
    params, X, Y, loss = problem

    def f(theta: np.ndarray):
        return numeric.mlp_loss(unflatten(theta, params), X, Y, hidden="sigmoid", loss=loss)

    fd = numeric.complex_step(f, flatten(params))
    assert relative_error(implemented(params, X, Y, "sigmoid", loss), fd) <= BAR


def kink_free(params: Params, X: np.ndarray) -> bool:
    """No hidden pre-activation within MARGIN of the ReLU's kink at 0."""
    return all(np.min(np.abs(z)) >= MARGIN for z in pre_activations(params, X))


@given(problems("relu"))
def test_relu_networks_agree_with_the_complex_step_away_from_kinks(problem) -> None:
    # Away from 0 each ReLU is locally the identity or 0, both analytic: the complex
    # step (h = 1e-20 i) never changes a branch, which numeric.relu picks by Re z.
    params, X, Y, loss = problem
    assume(kink_free(params, X))
    assume(loss != "cross_entropy" or output_margin(params, X) < SATURATION_MARGIN)

    def f(theta: np.ndarray):
        return numeric.mlp_loss(unflatten(theta, params), X, Y, hidden="relu", loss=loss)

    fd = numeric.complex_step(f, flatten(params))
    assert relative_error(implemented(params, X, Y, "relu", loss), fd) <= BAR


@settings(max_examples=25)
@given(problems("relu"))
def test_relu_networks_pass_ridders_gradcheck_away_from_kinks(problem) -> None:
    # Ridders does not need analyticity, but its own error (about 1e-12 absolute on a
    # loss of order one) exceeds BAR for gradients below about 1e-2: so the tolerance
    # here is its error estimate (numeric.gradcheck's rule), not BAR.
    params, X, Y, loss = problem
    assume(kink_free(params, X))

    def f(theta: np.ndarray):
        return numeric.mlp_loss(unflatten(theta, params), X, Y, hidden="relu", loss=loss)

    grad = implemented(params, X, Y, "relu", loss)
    numeric.assert_gradient(f, grad, flatten(params), method="ridders")


# ----- a saturated output against 50 digits ------------------------------------------------------
#
# What hypothesis found (the Ridders test above, a 15-15-13-2 network): class 0's logit ~89 above
# class 1's, so softmax rounds to (1, 0), the loss is ~1e-39 and the gradient 1e-39 to 1e-37.
# Each logit is a sum of terms up to ~100 (|W| |a|), rounded to ~1e-14 absolute, which e^(margin)
# turns into ~1e-14 relative in the loss and in every gradient entry: the loss's values are
# noisier than eps |f| (measured: 16 to 30 eps of spread), and Ridders, taking them to be good
# to eps |f|, gave estimates 18 times below its error (1.2e-12 relative; the implementation's
# own error there was 2.3e-14).  numeric.finite_diff now measures f's noise; this network,
# small enough for a 50-digit reference, failed the same way (entries 73 and 126, at 13.7 and
# 14.8 times the estimate) before.


def saturated_network() -> tuple[Params, np.ndarray, np.ndarray]:
    """6-8-8-2 ReLU network, X = 3 (one row), target class 0.

    Hidden weights and biases uniform in [0.2, 0.5]: every hidden unit is active, its
    pre-activation 5 to 20, far from the kink.  Output weights uniform in [-0.5, 0.5], and
    the output bias puts class 1's logit 88 below class 0's.
    """
    rng = np.random.default_rng(3)
    sizes = [6, 8, 8, 2]
    params = [
        (rng.uniform(0.2, 0.5, (o, i)), rng.uniform(0.2, 0.5, o))
        for i, o in itertools.pairwise(sizes)
    ]
    W = rng.uniform(-0.5, 0.5, params[-1][0].shape)
    X = np.full((1, sizes[0]), 3.0)
    z = numeric.mlp_forward(
        [*params[:-1], (W, params[-1][1])], X, hidden="relu", loss="cross_entropy"
    )
    b = params[-1][1].copy()
    b[1] -= 88.0 + z[0, 1] - z[0, 0]
    return [*params[:-1], (W, b)], X, np.array([0])


def mp_loss(theta: list, like: Params, x: np.ndarray, label: int):
    """The network's cross-entropy on one row, in mpmath at the working precision.

    -log softmax(z)_label = log1p(sum_{j != label} e^(z_j - z_label)): no cancellation
    of the ~39 leading digits that log(sum e^z) - z_label would lose.
    """
    a = [mpmath.mpf(float(v)) for v in x]
    i = 0
    for layer, (W, _) in enumerate(like, start=1):
        n_out, n_in = W.shape
        w, c = theta[i : i + W.size], theta[i + W.size : i + W.size + n_out]
        i += W.size + n_out
        z = [mpmath.fsum(w[j * n_in + k] * a[k] for k in range(n_in)) + c[j] for j in range(n_out)]
        a = z if layer == len(like) else [max(v, 0) for v in z]
    return mpmath.log1p(
        mpmath.fsum(mpmath.exp(v - a[label]) for j, v in enumerate(a) if j != label)
    )


def mp_gradient(params: Params, X: np.ndarray, Y: np.ndarray, dps: int) -> list:
    """d loss / d theta_i by mpmath.diff of :func:`mp_loss` at dps digits."""
    theta = flatten(params)
    with mpmath.workdps(dps):
        base = [mpmath.mpf(float(v)) for v in theta]

        def along(i: int):
            return lambda s: mp_loss(
                [*base[:i], base[i] + s, *base[i + 1 :]], params, X[0], int(Y[0])
            )

        return [mpmath.diff(along(i), 0) for i in range(theta.size)]


@functools.cache
def saturated_reference() -> np.ndarray:
    """The 50-digit gradient of the saturated network (as floats: correctly rounded here),
    checked against 70 digits."""
    params, X, Y = saturated_network()
    ref, check = mp_gradient(params, X, Y, 50), mp_gradient(params, X, Y, 70)
    with mpmath.workdps(70):
        assert all(abs(r - c) <= mpmath.mpf(10) ** -45 * abs(c) for r, c in zip(ref, check))
    return np.array([float(r) for r in ref])


def forward_rounding_bound(params: Params, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """A first-order bound on the rounding of each gradient entry of a ReLU network (one row,
    every hidden unit active, cross-entropy; Higham, "Accuracy and Stability", 3.1 and 3.5).

    A layer's sums of n + 1 terms round by at most (n + 1) eps times the sums of the terms'
    magnitudes; carried up through |W|, every logit is off by at most eps sum_l (n_{l-1} + 1)
    times the absolute network's logit (|W|, |b|, |X| throughout).  e^(z_j - z_0) turns the
    two logits' errors into that much relative error of the output delta; backprop's own
    products and sums add (sum_l (n_{l-1} + 1)) eps more, relative to the absolute gradient
    (|delta|, |W| and |a| throughout).
    """
    eps = np.finfo(np.float64).eps
    terms = sum(W.shape[1] + 1 for W, _ in params)
    a_abs = np.abs(X)
    for W, b in params:
        a_abs = a_abs @ np.abs(W).T + np.abs(b)
    logit_error = terms * eps * a_abs[0]
    (z,) = numeric.mlp_forward(params, X, hidden="relu", loss="cross_entropy")
    delta = np.abs(numeric.cross_entropy_grad(z[None, :], np.eye(z.size)[Y]))
    relative = logit_error.sum() + 2 * terms * eps
    activations = [X, *(np.maximum(z, 0) for z in pre_activations(params, X))]
    grads = []
    for layer in range(len(params) - 1, -1, -1):
        grads.append(np.concatenate([(delta.T @ np.abs(activations[layer])).ravel(), delta[0]]))
        if layer > 0:
            delta = (delta @ np.abs(params[layer][0])) * (activations[layer] > 0)
    return relative * np.concatenate(grads[::-1])


def test_saturated_gradient_agrees_with_50_digits() -> None:
    params, X, Y = saturated_network()
    assert all(np.min(z) >= 5 for z in pre_activations(params, X))  # active, far from the kink
    ref = saturated_reference()
    got = implemented(params, X, Y, "relu", "cross_entropy")
    # Measured: at most 3.9e-15 relative (18 ulps); the bound is ~1e-12 relative: the rounding
    # of logits of size ~100 is the float64 limit, and the class-0 entries (softmax - 1 of a
    # class whose softmax rounds to 1) keep their relative accuracy too.
    assert np.all(np.abs(got - ref) <= forward_rounding_bound(params, X, Y))
    assert np.all(ref != 0)  # each entry is measured relative to a nonzero value


def test_saturated_gradient_with_weighted_targets_keeps_its_accuracy() -> None:
    # Target rows summing to s != 1 (here 3 times one-hot): the loss -sum y log softmax is
    # s times the one-hot loss, so is its gradient.  The direct form s softmax - y gave 0
    # for the saturated class there; the bound is the one-hot entry's bound times s (the
    # extra rounding of multiplying by s, eps relative, is far inside it).
    params, X, Y = saturated_network()
    weighted = np.zeros((1, 2))
    weighted[0, Y[0]] = 3.0
    got = implemented(params, X, weighted, "relu", "cross_entropy")
    ref = 3 * saturated_reference()
    assert np.all(np.abs(got - ref) <= 3 * forward_rounding_bound(params, X, Y))


def test_ridders_estimate_bounds_its_error_on_the_saturated_network() -> None:
    params, X, Y = saturated_network()

    def f(theta: np.ndarray):
        return numeric.mlp_loss(unflatten(theta, params), X, Y, hidden="relu", loss="cross_entropy")

    theta, ref = flatten(params), saturated_reference()
    jac, err = numeric.ridders(f, theta)
    # gradcheck's rule: an entry may be off by SAFETY times the estimate.  Measured with f's
    # noise: at most 1.5 times (before, without it: 14.8 times).
    assert np.all(np.abs(jac - ref) <= numeric.finite_diff.SAFETY * err)
    grad = implemented(params, X, Y, "relu", "cross_entropy")
    assert numeric.gradcheck(f, grad, theta, method="ridders").ok
    # Still sensitive: a 1e-9 relative error in one entry is ~10x above its tolerance.
    grad[73] *= 1 + 1e-9
    report = numeric.gradcheck(f, grad, theta, method="ridders")
    assert [e.index for e in report.mismatches] == [(73,)]


# ----- the forward pass, neuron by neuron -------------------------------------------------------


def neuron_by_neuron(params: Params, X: np.ndarray, hidden: str, loss: str) -> np.ndarray:
    """Each neuron: the weighted sum of the previous layer's activations plus its bias,
    then the activation (notes, "Neural Networks"); plain Python floats and math.exp."""
    import math

    out = []
    for row in X:
        a = [float(v) for v in row]
        for layer, (W, b) in enumerate(params, start=1):
            z = [sum(W[j, k] * a[k] for k in range(len(a))) + b[j] for j in range(len(b))]
            if layer == len(params):
                a = z if loss == "cross_entropy" else [1 / (1 + math.exp(-v)) for v in z]
            elif hidden == "sigmoid":
                a = [1 / (1 + math.exp(-v)) for v in z]
            else:
                a = [max(v, 0.0) for v in z]
        out.append(a)
    return np.array(out)


@pytest.mark.parametrize("hidden", ["sigmoid", "relu"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@given(data=st.data())
def test_forward_is_the_weighted_sum_then_the_activation(hidden: str, loss: str, data) -> None:
    params, X, _, _ = data.draw(problems(hidden))
    # Sums of at most 16 products of order one: a few ulps of the largest term.
    np.testing.assert_allclose(
        numeric.mlp_forward(params, X, hidden=hidden, loss=loss),
        neuron_by_neuron(params, X, hidden, loss),
        rtol=1e-12,
        atol=1e-13,
    )


# ----- behaviour ---------------------------------------------------------------------------------


def small(dtype=np.float64) -> tuple[Params, np.ndarray]:
    rng = np.random.default_rng(1)
    sizes = [3, 4, 2]
    params = [
        (rng.normal(size=(o, i)).astype(dtype), rng.normal(size=o).astype(dtype))
        for i, o in itertools.pairwise(sizes)
    ]
    return params, rng.normal(size=(5, 3)).astype(dtype)


def test_inputs_are_not_modified() -> None:
    params, X = small()
    copies = [(W.copy(), b.copy()) for W, b in params], X.copy()
    for hidden in ("sigmoid", "relu"):
        numeric.mlp_loss_and_grads(params, X, np.full((5, 2), 0.5), hidden=hidden)
    for (W, b), (W0, b0) in zip(params, copies[0]):
        assert np.array_equal(W, W0) and np.array_equal(b, b0)
    assert np.array_equal(X, copies[1])


def test_class_indices_are_one_hot_rows() -> None:
    params, X = small()
    labels = np.array([0, 1, 1, 0, 1])
    by_index = numeric.mlp_loss_and_grads(params, X, labels, loss="cross_entropy")
    by_rows = numeric.mlp_loss_and_grads(params, X, np.eye(2)[labels], loss="cross_entropy")
    assert by_index[0] == by_rows[0]
    for (dW1, db1), (dW2, db2) in zip(by_index[1], by_rows[1]):
        assert np.array_equal(dW1, dW2) and np.array_equal(db1, db2)


def test_loss_and_grads_returns_the_loss_of_mlp_loss() -> None:
    params, X = small()
    Y = np.full((5, 2), 0.25)
    value, grads = numeric.mlp_loss_and_grads(params, X, Y, hidden="relu")
    assert value == numeric.mlp_loss(params, X, Y, hidden="relu")
    assert [(g.shape, h.shape) for g, h in grads] == [(W.shape, b.shape) for W, b in params]


def test_float32_in_float32_out() -> None:
    params, X = small(np.float32)
    value, grads = numeric.mlp_loss_and_grads(params, X, np.zeros((5, 2), np.float32))
    assert np.asarray(value).dtype == np.float32
    assert all(g.dtype == np.float32 and h.dtype == np.float32 for g, h in grads)
    assert numeric.mlp_forward(params, X).dtype == np.float32


def test_nan_in_nan_out() -> None:
    params, X = small()
    X[0, 0] = np.nan
    value, grads = numeric.mlp_loss_and_grads(params, X, np.zeros((5, 2)))
    assert np.isnan(value) and np.isnan(grads[0][0]).any()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, X: ([(p[0][0][:, :2], p[0][1]), p[1]], X), "layer 1: W has shape"),
        (lambda p, X: ([p[0], (p[1][0][:, :3], p[1][1])], X), "layer 2: W has shape"),
        (lambda p, X: ([p[0], (p[1][0], p[1][1][:1])], X), "layer 2: b must have shape"),
        (lambda p, X: (p, X[:, :2]), "layer 1"),
        (lambda p, X: (p, X[0]), "X must be 2-D"),
        (lambda p, X: ([], X), "at least one layer"),
    ],
)
def test_shape_errors_name_the_layer(change, message: str) -> None:
    params, X = small()
    p, x = change(params, X)
    with pytest.raises(ValueError, match=message):
        numeric.mlp_loss_and_grads(p, x, np.zeros((len(np.atleast_2d(x)), 2)))


def test_target_errors_name_the_shapes() -> None:
    params, X = small()
    with pytest.raises(ValueError, match=r"Y must have shape \(5, 2\)"):
        numeric.mlp_loss_and_grads(params, X, np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"outside \[0, 2\)"):
        numeric.mlp_loss_and_grads(params, X, np.array([0, 1, 2, 0, 1]), loss="cross_entropy")
    with pytest.raises(ValueError, match="hidden must be one of"):
        numeric.mlp_forward(params, X, hidden="tanh")
    with pytest.raises(ValueError, match="loss must be one of"):
        numeric.mlp_forward(params, X, loss="hinge")
    with pytest.raises(TypeError, match="W of layer 2"):
        numeric.mlp_forward([params[0], (np.array([["a"]]), params[1][1])], X)


# ----- PyTorch, where installed ------------------------------------------------------------------


@pytest.mark.parametrize("hidden", ["sigmoid", "relu"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_agrees_with_torch_autograd(hidden: str, loss: str) -> None:
    torch = pytest.importorskip("torch")
    params, X = small()
    labels = np.array([0, 1, 1, 0, 1])
    Y = np.eye(2)[labels] if loss == "mse" else labels
    value, grads = numeric.mlp_loss_and_grads(params, X, Y, hidden=hidden, loss=loss)
    tp = [
        (torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
        for W, b in params
    ]
    a = torch.tensor(X)
    for i, (W, b) in enumerate(tp):
        z = a @ W.T + b
        last = i == len(tp) - 1
        if last and loss == "cross_entropy":
            a = z
        else:
            a = torch.sigmoid(z) if (last or hidden == "sigmoid") else torch.relu(z)
    if loss == "mse":
        tv = ((a - torch.tensor(Y)) ** 2).sum() / len(X)
    else:
        tv = torch.nn.functional.cross_entropy(a, torch.tensor(labels))
    tv.backward()
    # Two float64 implementations of the same sums: a few ulps of each entry's terms.
    np.testing.assert_allclose(value, tv.item(), rtol=1e-14)
    for (dW, db), (W, b) in zip(grads, tp):
        np.testing.assert_allclose(dW, W.grad.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(db, b.grad.numpy(), rtol=1e-12, atol=1e-15)
