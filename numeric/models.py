"""Models: their forward passes, losses and hand-written gradients.

Each section is one model; each gradient is verified by a derivation
(``verigrad show NAME``), by finite differences and by the tests' symbolic
results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numeric import activations, losses
from numeric._arrays import Array, as_float_array, real_part
from numeric._threads import run_row_blocks
from numeric.losses import check_labels

__all__ = [
    "logistic_regression_grad",
    "logistic_regression_loss",
    "mlp_forward",
    "mlp_loss",
    "mlp_loss_and_grads",
    "softmax_regression_grad",
    "softmax_regression_loss",
]


# ----- logistic regression ------------------------------------------------------------------


def _logistic_inputs(
    w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike
) -> tuple[Array, Array, Array, Array]:
    """(w, b, X, y) checked: X (N, d), w (d,), y (N,) in [0, 1], b a scalar; one dtype.

    The dtype is the common one of X, w and a NumPy b; a Python number b
    and the labels take it (labels are data of another kind: float32 X and
    w give float32 out whatever y's dtype).  X is not copied when it
    already has that dtype.
    """
    XX = as_float_array(X, "X")
    ww = as_float_array(w, "w")
    yy = np.asarray(y)
    if XX.ndim != 2:
        raise ValueError(f"X must be 2-D (N samples, d features), got shape {XX.shape}")
    n, d = XX.shape
    if n == 0:
        raise ValueError(f"X has no samples (shape {XX.shape}): the mean loss is undefined")
    if ww.shape != (d,):
        raise ValueError(f"w must have shape (d,) = ({d},) to match X {XX.shape}, got {ww.shape}")
    if yy.shape != (n,):
        raise ValueError(f"y must have shape (N,) = ({n},) to match X {XX.shape}, got {yy.shape}")
    bb = np.asarray(b)
    if bb.ndim != 0:
        raise ValueError(f"b must be a scalar, got shape {bb.shape}")
    bb = as_float_array(bb, "b")
    dtype = np.result_type(XX, ww)
    if isinstance(b, (np.ndarray, np.generic)):
        dtype = np.result_type(dtype, bb)
    yy = as_float_array(yy, "y", allow_complex=False)
    check_labels(yy)
    real = real_part(np.zeros((), dtype)).dtype
    return (
        ww.astype(dtype, copy=False),
        bb.astype(dtype),
        XX.astype(dtype, copy=False),
        yy.astype(real, copy=False),
    )


def logistic_regression_loss(w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike) -> Any:
    r"""L(w, b) = (1/N) sum_i BCE(sigma(x_i . w + b), y_i), the mean binary cross-entropy.

    Shapes: w (d,), b scalar, X (N, d) with samples as rows, y (N,) with
    labels in [0, 1] (soft labels allowed).  Each term is computed stably as
    softplus(z_i) - y_i z_i (derivation ``stable-bce``; numeric.bce_with_logits).
    Returns a scalar of the inputs' dtype.  Complex w or b give the analytic
    continuation (for complex-step differentiation).
    """
    ww, bb, XX, yy = _logistic_inputs(w, b, X, y)
    z = XX @ ww
    z += bb
    return np.mean(losses.bce_terms(z, yy))


# Entries of X per block of logistic_regression_grad: 2^17 (1 MiB of float64), which
# stays in a core's cache between the block's two products.  It is also below the size
# from which OpenBLAS splits a matrix-vector product among its own threads (seen
# between 2^18 and 2^19 entries); on a loaded machine those threads' busy-waiting made
# blocks of 2^19 entries ten to twenty times slower.
_BLOCK_ENTRIES = 1 << 17


def _rows_per_block(X: Array) -> int:
    """How many rows of X make about ``_BLOCK_ENTRIES`` entries (at least one)."""
    return max(1, _BLOCK_ENTRIES // max(1, int(X.shape[1])))


def logistic_regression_grad(
    w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike
) -> tuple[Any, Any]:
    r"""(dL/dw, dL/db) = (X^T r / N, sum_i r_i / N) with r = sigma(X w + b) - y.

    Shapes as :func:`logistic_regression_loss`; dw has shape (d,), db is a
    scalar.  Derivations ``batch-gradient`` (any N, d) and
    ``batch-gradient-matrix-form``.  The residual is computed as
    (1 - y) sigma(z) - y sigma(-z) (``stable-bce-gradient``), so it keeps
    full relative accuracy for confident, correct predictions.

    Speed: X is read from memory once.  The rows are taken in blocks of
    about 2^17 entries: z_B = X_B w + b, r_B, then X_B^T r_B while X_B is
    still in cache, so the two matrix-vector products cost about one pass
    over X.  Large X is shared among threads (numeric._threads); the blocks'
    shares are summed in block order, so the result does not depend on the
    number of threads.  X is never copied when it has the inputs' dtype.
    """
    ww, bb, XX, yy = _logistic_inputs(w, b, X, y)
    n = XX.shape[0]
    residual = losses.bce_residual if np.iscomplexobj(ww) else _residual_in_place
    rows = min(n, _rows_per_block(XX))
    n_blocks = -(-n // rows)
    dw_parts = np.empty((n_blocks, XX.shape[1]), ww.dtype)
    db_parts = np.empty(n_blocks, ww.dtype)

    def block(part: slice, z: Array) -> None:
        X_B = XX[part]
        z_B = np.matmul(X_B, ww, out=z[: X_B.shape[0]])
        z_B += bb
        r = residual(z_B, yy[part])
        k = part.start // rows
        np.matmul(X_B.T, r, out=dw_parts[k])
        db_parts[k] = r.sum()

    run_row_blocks(block, n, rows, XX.size, lambda: np.empty(rows, ww.dtype))
    dw: Array = dw_parts.sum(axis=0)
    dw /= n
    return dw, db_parts.sum() / n


def _residual_in_place(z: Array, y: Array) -> Array:
    """(1 - y) sigma(z) - y sigma(-z) for real z, overwriting z; branch-free, two temporaries.

    With e = exp(-|z|): (1 + e) sigma(z) is 1 for z >= 0 and e for z < 0,
    which is max(e, [z >= 0]) exactly (e <= 1); (1 + e) sigma(-z) is
    max(e, [z < 0]).  Masked copies (``np.where``, ``copyto(where=)``) cost
    more than the exponential on random signs; ``maximum`` does not branch.
    Each N-sized temporary costs a fresh allocation, so z's buffer is reused
    for e, then 1 + e, then 1 - y.  NaN propagates through ``maximum``.
    """
    step = np.greater_equal(z, 0).view(np.uint8)  # [z >= 0]
    e = np.abs(z, out=z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    s_pos: Array = np.maximum(e, step)  # (1 + e) sigma(z)
    np.subtract(1, step, out=step)  # [z < 0]
    s_neg: Array = np.maximum(e, step)  # (1 + e) sigma(-z)
    e += 1
    s_pos /= e  # sigma(z)
    s_neg /= e  # sigma(-z)
    one_minus_y = np.subtract(1, y, out=z)
    s_pos *= one_minus_y
    s_neg *= y
    s_pos -= s_neg
    return s_pos


# ----- multilayer perceptron (notes: "Neural Networks", "Backpropagation") ---------------------
#
# Layer l (1-based, as in the notes): z^(l) = a^(l-1) W^(l)^T + b^(l) for a batch of rows,
# a^(l) = act(z^(l)), a^(0) = X.  Hidden layers use `hidden` ("sigmoid" or "relu"); the
# output layer is a sigmoid for loss="mse" and linear (logits) for loss="cross_entropy".
# Backward (backprop-vectorised-recursion), with delta^(l) = dC/dz^(l) row by row:
#   delta^(L) = 2 (a^(L) - Y) * sigma'(z^(L)) / N          (mse)
#   delta^(L) = (softmax(z^(L)) * rowsum(Y) - Y) / N       (cross_entropy; rowsum 1 usually)
#   delta^(l) = (delta^(l+1) W^(l+1)) * act'(z^(l))
#   dC/dW^(l) = delta^(l)^T a^(l-1),  dC/db^(l) = sum over rows of delta^(l).
# Memory: one array per layer is kept: z^(l) for a sigmoid layer (a^(l) is recomputed from it
# in the backward pass, and sigma'(z) = e/(1 + e)^2 with e = exp(-|z|) keeps full relative
# accuracy where a (1 - a) would round 1 - a to 0), a^(l) for a ReLU layer (relu' = [a > 0]).
# Each act'(z) is computed in the buffer it replaces, so either pass holds about one layer
# more than what is kept.

HIDDEN = ("sigmoid", "relu")
LOSSES = ("mse", "cross_entropy")

Params = Sequence[tuple[ArrayLike, ArrayLike]]


def _check_choice(value: str, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _check_params(params: Params, X: ArrayLike) -> tuple[list[tuple[Array, Array]], Array]:
    """(W, b) pairs and X as arrays; ValueError naming the layer whose shapes do not chain."""
    if not isinstance(params, (list, tuple)):
        raise TypeError(f"params must be a list of (W, b) pairs, got {type(params).__name__}")
    if len(params) == 0:
        raise ValueError("params must hold at least one layer, got an empty list")
    x = as_float_array(X, "X")
    if x.ndim != 2:
        raise ValueError(f"X must be 2-D (N samples, n_in features), got shape {x.shape}")
    layers = []
    width, source = x.shape[1], f"X has {x.shape[1]} columns"
    for layer, pair in enumerate(params, start=1):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"layer {layer}: params entries must be (W, b) pairs")
        W = as_float_array(pair[0], f"W of layer {layer}")
        b = as_float_array(pair[1], f"b of layer {layer}")
        if W.ndim != 2:
            raise ValueError(f"layer {layer}: W must be 2-D (n_out, n_in), got shape {W.shape}")
        if W.shape[1] != width:
            raise ValueError(
                f"layer {layer}: W has shape {W.shape}, so it takes {W.shape[1]} inputs, "
                f"but {source}"
            )
        if b.shape != (W.shape[0],):
            raise ValueError(f"layer {layer}: b must have shape ({W.shape[0]},), got {b.shape}")
        layers.append((W, b))
        width, source = W.shape[0], f"layer {layer} has {W.shape[0]} outputs"
    return layers, x


def _dtype(layers: list[tuple[Array, Array]], x: Array) -> np.dtype[Any]:
    return np.result_type(x, *[a for pair in layers for a in pair])


def _sigmoid(z: Array) -> Array:
    """sigma(z) = 1 / (1 + e^{-z}) in a new array.

    Each of the operations rounds once, so the result is within a few ulps everywhere;
    e^{-z} overflows to inf for z < -709, giving 0 where sigma(z) < 1e-308 (the warning
    is silenced here only).
    """
    if np.iscomplexobj(z):
        out: Array = activations.sigmoid(z)
        return out
    a = np.negative(z)
    with np.errstate(over="ignore"):
        np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)
    return a


def _relu_inplace(z: Array) -> Array:
    """z <- max(z, 0) (NaN stays NaN)."""
    if np.iscomplexobj(z):
        z[...] = activations.relu(z)
        return z
    np.maximum(z, 0, out=z)
    return z


def _forward(
    layers: list[tuple[Array, Array]], x: Array, hidden: str, loss: str
) -> tuple[list[Array], Array]:
    """(kept, output): kept[l] is z^(l+1) (sigmoid or linear layer) or a^(l+1) (ReLU layer);
    output is sigma(z^(L)) for loss="mse", the logits z^(L) for loss="cross_entropy"."""
    dtype = _dtype(layers, x)
    a = x.astype(dtype, copy=False)
    kept = []
    for layer, (W, b) in enumerate(layers, start=1):
        z = a @ W.T.astype(dtype, copy=False)
        z += b
        del a  # the previous layer's output is not kept (for a sigmoid layer, z is)
        kind = _kind(layer, len(layers), hidden, loss)
        if kind == "relu":
            a = _relu_inplace(z)
            kept.append(a)
        else:
            kept.append(z)
            a = _sigmoid(z) if kind == "sigmoid" else z
    return kept, a


def _kind(layer: int, depth: int, hidden: str, loss: str) -> str:
    """The activation of layer ``layer`` (1-based) of ``depth``: sigmoid, relu or linear."""
    if layer < depth:
        return hidden
    return "sigmoid" if loss == "mse" else "linear"


def mlp_forward(params: Params, X: ArrayLike, hidden: str = "sigmoid", loss: str = "mse") -> Array:
    r"""The network's output for the rows of X.

    a^(0) = X (N, n_0); for l = 1..L, z^(l) = a^(l-1) W^(l)^T + b^(l) with W^(l) of shape
    (n_l, n_{l-1}) and b^(l) of shape (n_l,); hidden layers a^(l) = act(z^(l)), act the
    sigmoid or relu.  Returns (N, n_L): sigma(z^(L)) for loss="mse", the logits z^(L) for
    loss="cross_entropy".  Verified by ``backprop-layer`` (one layer is the weighted sum,
    then the sigmoid, neuron by neuron).
    """
    _check_choice(hidden, "hidden", HIDDEN)
    _check_choice(loss, "loss", LOSSES)
    layers, x = _check_params(params, X)
    return _forward(layers, x, hidden, loss)[1]


def _targets(Y: ArrayLike, out: Array, loss: str) -> Array:
    """Y as an (N, n_L) array: class indices (cross_entropy) become one-hot rows."""
    n, k = out.shape
    if loss == "cross_entropy":
        y = np.asarray(Y)
        if y.dtype.kind in "iu":
            if y.shape != (n,):
                raise ValueError(f"Y of class indices must have shape ({n},), got {y.shape}")
            if y.size and (y.min() < 0 or y.max() >= k):
                raise ValueError(
                    f"Y holds class indices outside [0, {k}) (the last layer has {k} outputs): "
                    f"min {y.min()}, max {y.max()}"
                )
            onehot = np.zeros((n, k), dtype=out.real.dtype)
            onehot[np.arange(n), y] = 1
            return onehot
    y = as_float_array(Y, "Y")
    if y.shape != (n, k):
        raise ValueError(
            f"Y must have shape ({n}, {k}) (N rows of X, outputs of the last layer), got {y.shape}"
        )
    return y


def _loss_value(out: Array, y: Array, loss: str) -> Any:
    n = out.shape[0]
    if loss == "mse":
        r = out - y
        return np.sum(r * r) / n
    return -np.sum(y * activations.log_softmax(out, axis=-1)) / n


def mlp_loss(
    params: Params, X: ArrayLike, Y: ArrayLike, hidden: str = "sigmoid", loss: str = "mse"
) -> Any:
    r"""The mean loss C = (1/N) sum_k C_k over the rows of X, without gradients.

    "mse": C_k = sum_j (a_j^(L) - y_kj)^2; "cross_entropy": C_k = -sum_j y_kj log softmax(z^(L))_j,
    Y class indices (N,) or rows of probabilities (N, n_L).  Accepts complex params and X
    (for complex-step checks).
    """
    _check_choice(hidden, "hidden", HIDDEN)
    _check_choice(loss, "loss", LOSSES)
    layers, x = _check_params(params, X)
    out = _forward(layers, x, hidden, loss)[1]
    return _loss_value(out, _targets(Y, out, loss), loss)


def _sigmoid_backward(g: Array, z: Array) -> Array:
    """g <- g * sigma'(z) = g e / (1 + e)^2 with e = exp(-|z|) (sigmoid-derivative); z is used up.

    Full relative accuracy for every z: no 1 - sigma(z) is formed.
    """
    if np.iscomplexobj(z) or np.iscomplexobj(g):
        g *= activations.sigmoid_grad(z)
        return g
    np.abs(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    g *= z
    z += 1
    g /= z
    g /= z
    return g


def _weight_grad(delta: Array, below: Array) -> Array:
    """dC/dW = delta^T a, computed as (a^T delta)^T: the same sums, and the faster order
    for BLAS on row-major operands (measured: about 1.7x on 4096 x 784 by 4096 x 256)."""
    return np.ascontiguousarray((below.T @ delta).T)


def _relu_backward(g: Array, a: Array) -> Array:
    """g <- g * [a > 0] = g * relu'(z); relu'(0) = 0."""
    np.multiply(g, a.real > 0, out=g)
    return g


def _cross_entropy_delta(out: Array, y: Array) -> Array:
    """(softmax(out) s - Y) / N with s the row sums of Y (1 for probability rows).

    Rows of nonnegative weights with a positive sum take the kernel of
    :func:`numeric.cross_entropy_grad` on Y / s (rows that sum to 1), times s: it
    keeps the dominant class's softmax - 1 = -tail / (1 + tail) accurate where
    softmax rounds to 1 (the direct form gives 0 there, and with it a zero gradient
    for every layer).  Other Y, and complex out (complex-step differentiation), take
    the direct form.
    """
    s = y.sum(axis=1, keepdims=True)
    if not np.iscomplexobj(out) and np.all(y >= 0) and np.all(s > 0):
        delta: Array = losses.cross_entropy_grad(out, y / s)
        delta *= s
        return delta
    delta = activations.softmax(out, axis=-1)
    delta *= s
    delta -= y
    delta /= out.shape[0]
    return delta


def mlp_loss_and_grads(
    params: Params, X: ArrayLike, Y: ArrayLike, hidden: str = "sigmoid", loss: str = "mse"
) -> tuple[Any, list[tuple[Array, Array]]]:
    r"""The mean loss and its gradient in every parameter, by backpropagation.

    Shapes as :func:`mlp_forward`; Y as :func:`mlp_loss`.  Returns (C, [(dW^(1), db^(1)), ...,
    (dW^(L), db^(L))]) with dW^(l) of W^(l)'s shape and db^(l) of b^(l)'s:
    delta^(L) = 2 (a^(L) - Y) * sigma'(z^(L)) / N (mse) or (softmax(z^(L)) s - Y) / N
    (cross_entropy; s the row sums of Y, 1 for probability rows);
    delta^(l) = (delta^(l+1) W^(l+1)) * act'(z^(l));
    dW^(l) = delta^(l)^T a^(l-1); db^(l) = sum over rows of delta^(l).
    Verified by ``backprop-vectorised-recursion`` (against differentiating a fully symbolic
    2-3-2 network) and by finite differences.  sigma'(z) is computed as e / (1 + e)^2 with
    e = exp(-|z|): relative accuracy is kept for saturated units too.
    """
    _check_choice(hidden, "hidden", HIDDEN)
    _check_choice(loss, "loss", LOSSES)
    layers, x = _check_params(params, X)
    kept, out = _forward(layers, x, hidden, loss)
    y = _targets(Y, out, loss)
    n = x.shape[0]
    value = _loss_value(out, y, loss)
    if loss == "mse":
        delta = out - y
        delta *= 2 / n
        _sigmoid_backward(delta, kept.pop())
    else:
        delta = _cross_entropy_delta(out, y)
        kept.pop()
    del out
    grads: list[tuple[Array, Array]] = []
    for layer in range(len(layers) - 1, 0, -1):
        stored = kept.pop()
        below = _sigmoid(stored) if hidden == "sigmoid" else stored
        grads.append((_weight_grad(delta, below), delta.sum(axis=0)))
        del below
        g = delta @ layers[layer][0].astype(delta.dtype, copy=False)
        del delta  # free it before the next layer's delta is complete
        delta = _sigmoid_backward(g, stored) if hidden == "sigmoid" else _relu_backward(g, stored)
        del stored, g
    grads.append((_weight_grad(delta, x.astype(delta.dtype, copy=False)), delta.sum(axis=0)))
    grads.reverse()
    return value, grads


# ----- softmax regression (notes: "Logistic Regression", the multiclass part) ------------------
#
# Logits Z = X W^T + b (N, K); loss = mean over rows of cross_entropy(Z, Y).
# Gradient (softmax-regression-gradient): with G = (softmax(Z) - Y) / N = cross_entropy_grad,
#   dL/dW = G^T X  (K, d),   dL/db = sum over rows of G  (K,).


def _softmax_regression_inputs(
    W: ArrayLike, b: ArrayLike, X: ArrayLike
) -> tuple[Array, Array, Array]:
    w = as_float_array(W, "W", allow_complex=False)
    bias = as_float_array(b, "b", allow_complex=False)
    x = as_float_array(X, "X", allow_complex=False)
    if w.ndim != 2:
        raise ValueError(f"W must be 2-D (K classes, d features), got shape {w.shape}")
    if x.ndim != 2:
        raise ValueError(f"X must be 2-D (N samples, d features), got shape {x.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"X has {x.shape[1]} features (shape {x.shape}) but W takes {w.shape[1]}"
            f" (shape {w.shape})"
        )
    if bias.shape != (w.shape[0],):
        raise ValueError(
            f"b must have shape ({w.shape[0]},) for W of shape {w.shape}, got {bias.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError("X has no rows: the mean loss over 0 samples is undefined")
    return w, bias, x


def _logits(w: Array, bias: Array, x: Array) -> Array:
    dtype = np.result_type(w, bias, x)
    z: Array = x.astype(dtype, copy=False) @ w.T.astype(dtype, copy=False)
    z += bias
    return z


def softmax_regression_loss(W: ArrayLike, b: ArrayLike, X: ArrayLike, Y: ArrayLike) -> Any:
    r"""Mean cross-entropy of softmax regression: (1/N) sum_n CE(softmax(W x_n + b), y_n).

    ``W`` (K, d), ``b`` (K,), ``X`` (N, d); ``Y`` class indices (N,) (integers
    in [0, K)) or probability rows (N, K).  Returns a scalar.  Per row as
    :func:`numeric.cross_entropy`.
    """
    w, bias, x = _softmax_regression_inputs(W, b, X)
    return losses.cross_entropy(_logits(w, bias, x), Y).mean()


def softmax_regression_grad(
    W: ArrayLike, b: ArrayLike, X: ArrayLike, Y: ArrayLike
) -> tuple[Array, Array]:
    r"""Gradient of :func:`softmax_regression_loss`: (dW, db) = (G^T X, sum_n G_n).

    G = (softmax(X W^T + b) - Y) / N, so dL/dW = (1/N) sum_n (yhat_n - y_n) x_n^T
    (K, d) and dL/db = (1/N) sum_n (yhat_n - y_n) (K,).  Verified by
    ``softmax-regression-gradient`` (for symbolic N, K and d).
    """
    w, bias, x = _softmax_regression_inputs(W, b, X)
    g = losses.cross_entropy_grad(_logits(w, bias, x), Y)
    return g.T @ x.astype(g.dtype, copy=False), g.sum(axis=0)
