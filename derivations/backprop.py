r"""Backpropagation: the layer, the chain rule of the notes, and the vectorised recursion.

Notes, "Neural Networks" (a layer is $\sigma(W a + b)$; ReLU instead of the
sigmoid), "NN gradient descent" (the cost averaged over the data) and
"Backpropagation" (the single-neuron chain, the four-layer network of one
neuron per layer, multi-neuron layers).  The recursion proved here is the one
numeric.mlp_loss_and_grads computes; the last derivations prove it against
differentiating fully symbolic 2-3-2 networks directly, for sigmoid and ReLU
hidden layers, with the squared error and with softmax cross-entropy.

The notes write $\partial C_0/\partial a^{(L-1)} = w^{(L)}\sigma'(z^{(L)})\,z(a^{(L)} - y)$:
the "z" is a typo for 2 (backprop-single-neuron-activation).
"""

from __future__ import annotations

import sympy as sp

from derivations.core import Derivation, Simplex, Step
from derivations.functions import heaviside, logsumexp, relu, sigmoid
from derivations.notation import shown_product, symbol_matrix
from derivations.registry import derivation

TOPIC = "backprop"


def dsigma(z: sp.Expr) -> sp.Expr:
    r"""$\sigma'(z) = \sigma(z)(1 - \sigma(z))$ (sigmoid-derivative)."""
    return sigmoid(z) * (1 - sigmoid(z))


# ----- one layer ---------------------------------------------------------------------------------

_W = sp.Matrix(2, 3, lambda j, k: sp.Symbol(f"w_{j + 1}{k + 1}", real=True))
_a0 = sp.Matrix(3, 1, lambda k, _: sp.Symbol(f"a^{{(0)}}_{k + 1}", real=True))
_b = sp.Matrix(2, 1, lambda j, _: sp.Symbol(f"b_{j + 1}", real=True))


@derivation
def backprop_layer() -> Derivation:
    r"""A layer is the weighted sum plus the bias, through the sigmoid: $\sigma(W a^{(0)} + b)$

    Componentwise: $a^{(1)}_j = \sigma(w_{j1} a_1 + w_{j2} a_2 + w_{j3} a_3 + b_j)$, the
    notes' neuron, for a layer of 2 neurons on 3 inputs.  numeric.mlp_forward computes
    it for a batch of rows as $\sigma(A W^T + b)$.
    """
    weighted = [sum((_W[j, k] * _a0[k] for k in range(3)), sp.S.Zero) + _b[j] for j in range(2)]
    return Derivation(
        quantity=(_W * _a0 + _b).applyfunc(sigmoid),
        steps=[
            Step(
                sp.Matrix([sigmoid(s) for s in weighted]),
                r"row $j$ of $W a^{(0)}$ is $\sum_k w_{jk} a^{(0)}_k$; $\sigma$ acts componentwise",
            ),
        ],
        implementation="numeric.mlp_forward",
    )


# ----- the single-neuron chain of the notes --------------------------------------------------

w, b, a_prev, y = sp.symbols("w^{(L)} b^{(L)} a^{(L-1)} y", real=True)
zL = w * a_prev + b
aL = sigmoid(zL)
C0 = (aL - y) ** 2


def _chain(dz: sp.Expr, about: str) -> list[Step]:
    return [
        Step(
            shown_product(dz, dsigma(zL), 2 * (aL - y)),
            r"chain rule: $\frac{\partial z^{(L)}}{\partial %s}"
            r"\frac{\partial a^{(L)}}{\partial z^{(L)}}\frac{\partial C_0}{\partial a^{(L)}}$, "
            r"with "
            r"$\partial C_0/\partial a^{(L)} = 2(a^{(L)} - y)$ and "
            r"$\partial a^{(L)}/\partial z^{(L)} = \sigma'(z^{(L)}) = \sigma(1 - \sigma)$" % about,
        ),
    ]


@derivation
def backprop_single_neuron_weight() -> Derivation:
    r"""The last weight: $\partial C_0/\partial w^{(L)} = a^{(L-1)}\sigma'(z^{(L)})\,2(a^{(L)} - y)$

    $C_0 = (a^{(L)} - y)^2$, $z^{(L)} = w^{(L)} a^{(L-1)} + b^{(L)}$, $a^{(L)} = \sigma(z^{(L)})$;
    $\partial z^{(L)}/\partial w^{(L)} = a^{(L-1)}$.
    """
    return Derivation(quantity=sp.Derivative(C0, w), steps=_chain(a_prev, "w^{(L)}"))


@derivation
def backprop_single_neuron_bias() -> Derivation:
    r"""The last bias: $\partial C_0/\partial b^{(L)} = \sigma'(z^{(L)})\,2(a^{(L)} - y)$

    $\partial z^{(L)}/\partial b^{(L)} = 1$.
    """
    return Derivation(quantity=sp.Derivative(C0, b), steps=_chain(sp.S.One, "b^{(L)}"))


@derivation
def backprop_single_neuron_activation() -> Derivation:
    r"""The previous activation: $\partial C_0/\partial a^{(L-1)} = w\sigma'(z)\,2(a^{(L)} - y)$

    $\partial z^{(L)}/\partial a^{(L-1)} = w^{(L)}$: the last weight scales how the
    previous layer moves the cost.  The notes' "$z(a^{(L)} - y)$" is a typo for
    $2(a^{(L)} - y)$.
    """
    return Derivation(quantity=sp.Derivative(C0, a_prev), steps=_chain(w, "a^{(L-1)}"))


# ----- four layers of one neuron -------------------------------------------------------------

_ws = sp.symbols("w_1:4", real=True)
_bs = sp.symbols("b_1:4", real=True)
_x0 = sp.Symbol("a_0", real=True)


def _one_neuron_chain() -> tuple[list[sp.Expr], list[sp.Expr]]:
    """(z_1..z_3, a_0..a_3) of the notes' four layers a_0 -> a_1 -> a_2 -> a_3."""
    zs, acts = [], [_x0]
    for wl, bl in zip(_ws, _bs):
        zs.append(wl * acts[-1] + bl)
        acts.append(sigmoid(zs[-1]))
    return zs, acts


@derivation
def backprop_four_layer_chain() -> Derivation:
    r"""Four layers of one neuron: every gradient by $\delta_l = w_{l+1}\delta_{l+1}\sigma'(z_l)$

    $a_l = \sigma(z_l)$, $z_l = w_l a_{l-1} + b_l$ for $l = 1, 2, 3$, $C_0 = (a_3 - y)^2$.
    With $\delta_3 = 2(a_3 - y)\sigma'(z_3)$ and $\delta_l = w_{l+1}\delta_{l+1}\sigma'(z_l)$:
    $\partial C_0/\partial w_l = a_{l-1}\delta_l$ and $\partial C_0/\partial b_l = \delta_l$;
    proved equal to differentiating the composed cost directly.
    """
    zs, acts = _one_neuron_chain()
    cost = (acts[3] - y) ** 2
    deltas = [sp.S.Zero] * 4
    deltas[3] = 2 * (acts[3] - y) * dsigma(zs[2])
    for layer in (2, 1):
        deltas[layer] = _ws[layer] * deltas[layer + 1] * dsigma(zs[layer - 1])
    params = [p for wl, bl in zip(_ws, _bs) for p in (wl, bl)]
    grads = [g for n in range(1, 4) for g in (acts[n - 1] * deltas[n], deltas[n])]
    return Derivation(
        quantity=sp.Matrix([sp.Derivative(cost, p) for p in params]),
        steps=[
            Step(
                sp.Matrix(grads),
                r"chain rule, layer by layer from the output: "
                r"$\partial C_0/\partial z_l = \delta_l$, "
                r"$\partial z_l/\partial w_l = a_{l-1}$, $\partial z_l/\partial b_l = 1$",
            ),
        ],
    )


# ----- multi-neuron layers ---------------------------------------------------------------------

j, k, m = sp.symbols("j k m", integer=True)
n_prev, n_L = sp.symbols("n_{L-1} n_L", integer=True, positive=True)
Wi = sp.IndexedBase("w", real=True)
Ai = sp.IndexedBase("a", real=True)
Bi = sp.IndexedBase("b", real=True)
Yi = sp.IndexedBase("y", real=True)


def _z(jj: sp.Expr) -> sp.Expr:
    return sp.Sum(Wi[jj, m] * Ai[m], (m, 1, n_prev)) + Bi[jj]


@derivation
def backprop_multi_neuron_activation() -> Derivation:
    r"""Many neurons: $\partial C_0/\partial a_k = \sum_j w_{jk}\sigma'(z_j)\,2(a^{(L)}_j - y_j)$

    For any widths $n_{L-1}$, $n_L$: $z_j = \sum_m w_{jm} a_m + b_j$,
    $C_0 = \sum_j (\sigma(z_j) - y_j)^2$.  Each output neuron $j$ contributes its
    single-neuron chain; $\partial z_j/\partial a_k = w_{jk}$.
    """
    cost = sp.Sum((sigmoid(_z(j)) - Yi[j]) ** 2, (j, 1, n_L))
    return Derivation(
        quantity=sp.Derivative(cost, Ai[k]),
        steps=[
            Step(
                sp.Sum(
                    sp.Sum(Wi[j, m] * sp.KroneckerDelta(m, k), (m, 1, n_prev))
                    * dsigma(_z(j))
                    * 2
                    * (sigmoid(_z(j)) - Yi[j]),
                    (j, 1, n_L),
                ),
                r"the derivative of a sum is the sum of the derivatives; chain rule in each "
                r"term, with $\partial z_j/\partial a_k = \sum_m w_{jm}\delta_{mk}$",
            ),
            Step(
                sp.Sum(Wi[j, k] * dsigma(_z(j)) * 2 * (sigmoid(_z(j)) - Yi[j]), (j, 1, n_L)),
                r"sum of a Kronecker delta: $\sum_m w_{jm}\delta_{mk} = w_{jk}$ ($k$ is in range)",
            ),
        ],
        domain={k: (1, n_prev)},
        budget_s=4.0,
        points=4,
    )


@derivation
def backprop_multi_neuron_explicit() -> Derivation:
    r"""Many neurons, explicit widths 3 -> 2: the same sum, term by term

    $\partial C_0/\partial a_k = \sum_{j=1}^{2} w_{jk}\sigma'(z_j)\,2(a^{(L)}_j - y_j)$
    for each of the 3 inputs $k$.
    """
    W = sp.Matrix(2, 3, lambda r, c: sp.Symbol(f"w_{r + 1}{c + 1}", real=True))
    a = sp.symbols("a_1:4", real=True)
    bb = sp.symbols("b_1:3", real=True)
    yy = sp.symbols("y_1:3", real=True)
    zz = [sum((W[r, c] * a[c] for c in range(3)), sp.S.Zero) + bb[r] for r in range(2)]
    cost = sum(((sigmoid(zz[r]) - yy[r]) ** 2 for r in range(2)), sp.S.Zero)
    terms = [
        sum((W[r, c] * dsigma(zz[r]) * 2 * (sigmoid(zz[r]) - yy[r]) for r in range(2)), sp.S.Zero)
        for c in range(3)
    ]
    return Derivation(
        quantity=sp.Matrix([sp.Derivative(cost, a[c]) for c in range(3)]),
        steps=[
            Step(
                sp.Matrix(terms),
                r"chain rule through each $z_j$; $\partial z_j/\partial a_k = w_{jk}$",
            )
        ],
    )


# ----- the averaged cost ---------------------------------------------------------------------

n = sp.Symbol("n", integer=True, positive=True)
i = sp.Symbol("i", integer=True)
Xs = sp.IndexedBase("x", real=True)


@derivation
def backprop_averaged_cost() -> Derivation:
    r"""The averaged cost: $\partial C/\partial w = \frac1n\sum_k \partial C_k/\partial w$

    $C = \frac1n \sum_{k} C_k$ with $C_k = (\sigma(w x_k + b) - y_k)^2$ over $n$ samples
    (a symbolic $n$): the derivative is linear, so the gradient of the mean is the mean of
    the per-sample gradients, each the single-neuron chain.  numeric.mlp_loss_and_grads
    returns the gradient of the mean loss over the rows of X.
    """
    zk = w * Xs[i] + b
    cost = sp.Sum((sigmoid(zk) - Yi[i]) ** 2, (i, 1, n)) / n
    return Derivation(
        quantity=sp.Derivative(cost, w),
        steps=[
            Step(
                sp.Sum(sp.Derivative((sigmoid(zk) - Yi[i]) ** 2, w), (i, 1, n)) / n,
                "the derivative is linear",
            ),
            Step(
                sp.Sum(Xs[i] * dsigma(zk) * 2 * (sigmoid(zk) - Yi[i]), (i, 1, n)) / n,
                "backprop-single-neuron-weight for each sample",
            ),
        ],
        budget_s=4.0,
        points=4,
    )


# ----- the vectorised recursion, against a fully symbolic 2-3-2 network --------------------

SIZES = (2, 3, 2)


def _vector(name: str, size: int) -> sp.Matrix:
    return sp.Matrix(size, 1, lambda r, _: sp.Symbol(f"{name}_{r + 1}", real=True))


_W1, _W2 = symbol_matrix("W^{(1)}", 3, 2), symbol_matrix("W^{(2)}", 2, 3)
_b1, _b2 = _vector("b^{(1)}", 3), _vector("b^{(2)}", 2)
_x = _vector("x", 2)
_y = _vector("y", 2)
_ACT = {"sigmoid": sigmoid, "relu": relu}
_DACT = {"sigmoid": dsigma, "relu": heaviside}


def _softmax(z: sp.Matrix) -> sp.Matrix:
    """softmax(z)_i = exp(z_i - logsumexp(z)): the form whose log is z_i - logsumexp(z)."""
    lse = logsumexp(*z)
    return z.applyfunc(lambda zi: sp.exp(zi - lse))


def _network(hidden: str, loss: str) -> tuple[sp.Expr, list[sp.Expr], list[sp.Expr]]:
    """(cost, parameters, gradients by the recursion) of the 2-3-2 network."""
    act, dact = _ACT[hidden], _DACT[hidden]
    z1 = _W1 * _x + _b1
    a1 = z1.applyfunc(act)
    z2 = _W2 * a1 + _b2
    if loss == "mse":
        a2 = z2.applyfunc(sigmoid)
        cost = sum(((a2[j] - _y[j]) ** 2 for j in range(2)), sp.S.Zero)
        delta2 = (2 * (a2 - _y)).multiply_elementwise(z2.applyfunc(dsigma))
    else:
        lse = logsumexp(*z2)
        cost = -sum((_y[j] * (z2[j] - lse) for j in range(2)), sp.S.Zero)
        delta2 = _softmax(z2) - _y
    delta1 = (_W2.T * delta2).multiply_elementwise(z1.applyfunc(dact))
    params = [*_W1, *_b1, *_W2, *_b2]
    grads = [*(delta1 * _x.T), *delta1, *(delta2 * a1.T), *delta2]
    return cost, params, grads


def _recursion(hidden: str, loss: str) -> Derivation:
    cost, params, grads = _network(hidden, loss)
    out = (
        r"$\delta^{(2)} = 2(a^{(2)} - y) \odot \sigma'(z^{(2)})$"
        if loss == "mse"
        else r"$\delta^{(2)} = \operatorname{softmax}(z^{(2)}) - y$ (y sums to 1)"
    )
    return Derivation(
        quantity=sp.Matrix([sp.Derivative(cost, p) for p in params]),
        steps=[
            Step(
                sp.Matrix(grads),
                out + r", $\delta^{(1)} = (W^{(2)T}\delta^{(2)}) \odot \mathrm{act}'(z^{(1)})$; "
                r"$\partial C/\partial W^{(l)} = \delta^{(l)} a^{(l-1)T}$, "
                r"$\partial C/\partial b^{(l)} = \delta^{(l)}$",
            )
        ],
        domain={} if loss == "mse" else {tuple(_y): Simplex()},
        implementation="numeric.mlp_loss_and_grads",
        # About 1 s of CPU on an idle core; the cap leaves room for a loaded machine.
        budget_s=12.0,
        points=4,
    )


@derivation
def backprop_vectorised_recursion() -> Derivation:
    r"""The vectorised recursion equals direct differentiation: sigmoid layers, squared error

    A fully symbolic network 2-3-2 (every weight and bias a symbol, 17 parameters):
    $a^{(1)} = \sigma(W^{(1)} x + b^{(1)})$, $a^{(2)} = \sigma(W^{(2)} a^{(1)} + b^{(2)})$,
    $C = \sum_j (a^{(2)}_j - y_j)^2$.  The gradient of every parameter by the recursion
    $\delta^{(l)} = (W^{(l+1)T}\delta^{(l+1)}) \odot \sigma'(z^{(l)})$ is proved equal to the
    derivative of the composed cost.  This is what numeric.mlp_loss_and_grads computes,
    for a batch (divided by N: backprop-averaged-cost).
    """
    return _recursion("sigmoid", "mse")


@derivation
def backprop_recursion_relu() -> Derivation:
    r"""The recursion with ReLU hidden layers, squared error: act' is the step H

    As backprop-vectorised-recursion with $a^{(1)} = \operatorname{relu}(z^{(1)})$ and
    $\mathrm{act}' = H$ (relu-derivative); the sigmoid output stays.
    """
    return _recursion("relu", "mse")


@derivation
def backprop_recursion_cross_entropy() -> Derivation:
    r"""The recursion with softmax cross-entropy: $\delta^{(L)} = \mathrm{softmax}(z^{(L)}) - y$

    Linear output $z^{(2)}$, $C = -\sum_j y_j \log\operatorname{softmax}(z^{(2)})_j
    = -\sum_j y_j (z^{(2)}_j - \operatorname{LSE}(z^{(2)}))$, $y$ a probability vector
    (it sums to 1, which the output delta needs); sigmoid hidden layer.
    """
    return _recursion("sigmoid", "cross_entropy")


@derivation
def backprop_recursion_relu_cross_entropy() -> Derivation:
    r"""The recursion with ReLU hidden layers and a softmax cross-entropy output"""
    return _recursion("relu", "cross_entropy")


# ----- ReLU ------------------------------------------------------------------------------------

zr = sp.Symbol("z", real=True)


@derivation
def relu_derivative() -> Derivation:
    r"""The derivative of ReLU is the step: $\operatorname{relu}'(z) = H(z)$, 0 at 0 by convention

    $\operatorname{relu}(z) = \max(z, 0)$ has slope 1 for $z > 0$ and 0 for $z < 0$.  At 0
    it has no derivative (the one-sided slopes are 0 and 1); verigrad, numeric.relu_grad,
    PyTorch and JAX take 0 there, so $H(0) = 0$ here (SymPy's Heaviside takes 1/2).
    """
    return Derivation(
        quantity=sp.Derivative(relu(zr), zr),
        steps=[
            Step(
                sp.Derivative(sp.Piecewise((zr, zr > 0), (0, True)), zr),
                r"definition: $\operatorname{relu}(z) = z$ for $z > 0$, 0 otherwise",
            ),
            Step(
                sp.Piecewise((1, zr > 0), (0, True)),
                "differentiate each branch; at 0, the convention 0",
            ),
            Step(heaviside(zr), "definition of the step $H$ (with $H(0) = 0$)"),
        ],
        implementation="numeric.relu_grad",
    )


@derivation
def relu_chain_unscaled() -> Derivation:
    r"""For $z > 0$ ReLU layers pass the gradient unscaled: $(\mathrm{relu}^{\circ 3})'(z) = 1$

    Notes, "Neural Networks": ReLU "avoids the vanishing gradient problem by keeping
    gradients high when $x > 0$".  Each layer's factor is $H(\cdot) = 1$ on the active side;
    a chain of sigmoid layers instead scales by $\sigma' \le 1/4$ per layer
    (sigmoid-derivative-bound, vanishing-gradient).
    """
    r1 = relu(zr)
    r2 = relu(r1)
    return Derivation(
        quantity=sp.Derivative(relu(r2), zr),
        steps=[
            Step(
                shown_product(heaviside(r2), heaviside(r1), heaviside(zr)),
                "chain rule; relu' = H at each layer (relu-derivative)",
            ),
            Step(sp.S.One, "for $z > 0$: relu(z) = z > 0, so each factor is $H(z) = 1$"),
        ],
        domain={zr: sp.Interval.open(0, sp.oo)},
    )
