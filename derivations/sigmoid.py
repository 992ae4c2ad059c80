"""The sigmoid: its derivative, symmetry, decision rule, inverse and bound.

Notes, "Logistic Regression" (sigma squashes z into (0, 1); P(y=0|x) = 1 -
sigma(z); classify 1 when sigma(z) >= 0.5) and "Neural Networks" (the bias
-10 that makes a neuron fire only when the weighted sum passes 10; ReLU
instead of the sigmoid because sigmoid layers shrink gradients).
"""

from __future__ import annotations

import sympy as sp

from derivations.core import Derivation, Step
from derivations.functions import logit, sigmoid
from derivations.notation import shown_product
from derivations.registry import derivation

TOPIC = "sigmoid"

z = sp.Symbol("z", real=True)
s = sp.Symbol("s", real=True)  # a weighted sum w_1 a_1 + ... + w_n a_n
p = sp.Symbol("p", real=True)
half = sp.Rational(1, 2)
quarter = sp.Rational(1, 4)
e = sp.exp(-z)


@derivation
def sigmoid_derivative() -> Derivation:
    r"""The derivative of the sigmoid: $\sigma'(z) = \sigma(z)(1 - \sigma(z))$

    From the definition $\sigma(z) = 1/(1 + e^{-z})$ by the chain rule.  The
    last line, $\sigma(z)\sigma(-z)$, is the form numeric.sigmoid_grad computes:
    it has no cancellation for large $|z|$, where $1 - \sigma(z)$ rounds to 0.
    """
    return Derivation(
        quantity=sp.Derivative(sigmoid(z), z),
        steps=[
            Step(sp.Derivative((1 + e) ** -1, z), r"definition of $\sigma$"),
            Step(
                shown_product(-1, (1 + e) ** -2, sp.Derivative(1 + e, z)), "chain rule for $u^{-1}$"
            ),
            Step(e / (1 + e) ** 2, r"$\frac{d}{dz}(1 + e^{-z}) = -e^{-z}$; the signs cancel"),
            Step(shown_product(1 / (1 + e), e / (1 + e)), "split the fraction"),
            Step(
                shown_product(1 / (1 + e), 1 - 1 / (1 + e)),
                r"$\frac{e^{-z}}{1+e^{-z}} = 1 - \frac{1}{1+e^{-z}}$",
            ),
            Step(sigmoid(z) * (1 - sigmoid(z)), r"definition of $\sigma$"),
            Step(sigmoid(z) * sigmoid(-z), r"$1 - \sigma(z) = \sigma(-z)$ (sigmoid-symmetry)"),
        ],
        implementation="numeric.sigmoid_grad",
    )


@derivation
def sigmoid_symmetry() -> Derivation:
    r"""The symmetry $1 - \sigma(z) = \sigma(-z)$, so $P(y = 0 \mid x) = \sigma(-z)$

    Notes: $P(y=0 \mid x) = 1 - \sigma(z)$.  With the symmetry both class
    probabilities are sigmoids, and neither needs a subtraction that
    cancels when $\sigma(z)$ is close to 1.
    """
    return Derivation(
        quantity=1 - sigmoid(z),
        steps=[
            Step(1 - 1 / (1 + e), r"definition of $\sigma$"),
            Step(e / (1 + e), "common denominator"),
            Step(1 / (sp.exp(z) + 1), "multiply numerator and denominator by $e^{z}$"),
            Step(sigmoid(-z), r"definition of $\sigma$ at $-z$"),
        ],
    )


@derivation
def sigmoid_below_one() -> Derivation:
    r"""The sigmoid stays below 1: $\sigma(z) < 1$ for every real $z$

    Notes: $\sigma$ "outputs a value between zero and one", the range $(0, 1)$.
    With sigmoid-positive this is the whole range; neither end is reached.
    """
    return Derivation(
        quantity=sp.Lt(sigmoid(z), 1, evaluate=False),
        steps=[
            Step(sp.Lt(1 / (1 + e), 1, evaluate=False), r"definition of $\sigma$"),
            Step(sp.Gt(1 + e, 1, evaluate=False), "both sides positive: take reciprocals"),
            Step(sp.Gt(e, 0, evaluate=False), "subtract 1"),
            Step(sp.true, "$e^{-z} > 0$ for real $z$"),
        ],
    )


@derivation
def sigmoid_positive() -> Derivation:
    r"""The sigmoid is positive: $\sigma(z) > 0$ for every real $z$"""
    return Derivation(
        quantity=sp.Gt(sigmoid(z), 0, evaluate=False),
        steps=[
            Step(sp.Gt(1 / (1 + e), 0, evaluate=False), r"definition of $\sigma$"),
            Step(sp.Gt(1 + e, 0, evaluate=False), "reciprocal of a positive number"),
            Step(sp.true, "$1 + e^{-z} > 1 > 0$"),
        ],
    )


@derivation
def decision_rule() -> Derivation:
    r"""The decision rule: $\sigma(z) \ge 1/2$ exactly when $z \ge 0$

    Notes: predict $y = 1$ if $\sigma(z) \ge 0.5$.  The threshold on the
    probability is the threshold $z \ge 0$ on the logit.
    """
    return Derivation(
        quantity=sigmoid(z) >= half,
        steps=[
            Step(1 / (1 + e) >= half, r"definition of $\sigma$"),
            Step(1 + e <= 2, "both sides positive: take reciprocals"),
            Step(e <= 1, "subtract 1"),
            Step(-z <= 0, "log is increasing"),
            Step(z >= 0, "multiply by -1"),
        ],
    )


@derivation
def bias_shift() -> Derivation:
    r"""The bias sets the threshold: $\sigma(s - 10) \ge 1/2$ exactly when $s \ge 10$

    Notes, "Neural Networks": $\sigma(w_1 a_1 + \dots + w_n a_n - 10)$ "only
    activates meaningfully when the weighted sum $> 10$".  Here $s$ stands for
    the weighted sum.  The threshold itself is $s \ge 10$, not $s > 10$: at
    $s = 10$ the neuron outputs exactly $1/2$.
    """
    return Derivation(
        quantity=sigmoid(s - 10) >= half,
        steps=[
            Step(s - 10 >= 0, "decision rule with $z = s - 10$"),
            Step(s >= 10, "add 10"),
        ],
    )


@derivation
def logit_inverts_sigmoid() -> Derivation:
    r"""The logit undoes the sigmoid: $\operatorname{logit}(\sigma(z)) = z$

    $\operatorname{logit}(p) = \log(p / (1 - p))$ is the log-odds; $z$ is the log-odds of the
    class-1 probability.
    """
    return Derivation(
        quantity=logit(sigmoid(z)),
        steps=[
            Step(sp.log(sigmoid(z) / (1 - sigmoid(z))), "definition of logit"),
            Step(sp.log(sigmoid(z) / sigmoid(-z)), r"$1 - \sigma(z) = \sigma(-z)$"),
            Step(sp.log((1 + sp.exp(z)) / (1 + e)), r"definition of $\sigma$"),
            Step(sp.log(sp.exp(z)), "$1 + e^{z} = e^{z}(1 + e^{-z})$"),
            Step(z, r"$\log e^z = z$ for real $z$"),
        ],
    )


@derivation
def sigmoid_inverts_logit() -> Derivation:
    r"""The sigmoid undoes the logit: $\sigma(\operatorname{logit}(p)) = p$ for $p \in (0, 1)$"""
    return Derivation(
        quantity=sigmoid(logit(p)),
        steps=[
            Step(1 / (1 + sp.exp(-logit(p))), r"definition of $\sigma$"),
            Step(1 / (1 + (1 - p) / p), r"$e^{-\operatorname{logit}(p)} = (1 - p)/p$"),
            Step(p, "common denominator"),
        ],
        domain={p: sp.Interval.open(0, 1)},
    )


@derivation
def sigmoid_derivative_bound() -> Derivation:
    r"""The slope of the sigmoid is at most 1/4: $\sigma'(z) \le 1/4$

    Completing the square in $\sigma(1 - \sigma)$.  This is why a chain of
    sigmoid layers shrinks gradients (sigmoid-chain-rule, vanishing-gradient).
    """
    sig = sigmoid(z)
    return Derivation(
        quantity=sp.Derivative(sigmoid(z), z),
        steps=[
            Step(sig * (1 - sig), "sigmoid-derivative"),
            Step(quarter - (sig - half) ** 2, "complete the square"),
            Step(quarter, "a square is nonnegative", relation="<="),
        ],
    )


@derivation
def sigmoid_slope_maximum() -> Derivation:
    r"""The bound 1/4 is reached only at 0: $\sigma'(z) = 1/4$ exactly when $z = 0$"""
    sig = sigmoid(z)
    return Derivation(
        quantity=sp.Eq(sp.Derivative(sigmoid(z), z), quarter, evaluate=False),
        steps=[
            Step(
                sp.Eq(quarter - (sig - half) ** 2, quarter, evaluate=False),
                "sigmoid-derivative-bound",
            ),
            Step(sp.Eq((sig - half) ** 2, 0, evaluate=False), "subtract 1/4"),
            Step(sp.Eq(sig, half, evaluate=False), "a square is 0 only at 0"),
            Step(sp.Eq(z, 0, evaluate=False), r"$\sigma$ is increasing and $\sigma(0) = 1/2$"),
        ],
    )


_a1 = sigmoid(z)
_a2 = sigmoid(_a1)
_a3 = sigmoid(_a2)


@derivation
def sigmoid_chain_rule() -> Derivation:
    r"""Through three sigmoid layers the gradient is a product of three sigmoid slopes.

    $a_1 = \sigma(z)$, $a_2 = \sigma(a_1)$, $a_3 = \sigma(a_2)$: by the chain rule
    $da_3/dz = \sigma'(a_2)\,\sigma'(a_1)\,\sigma'(z)$, each factor $\sigma(u)(1 - \sigma(u))$.
    """
    return Derivation(
        quantity=sp.Derivative(_a3, z),
        steps=[
            Step(
                shown_product(_a3 * (1 - _a3), _a2 * (1 - _a2), _a1 * (1 - _a1)),
                r"chain rule; $\sigma' = \sigma(1 - \sigma)$ at each layer",
            ),
        ],
    )


@derivation
def vanishing_gradient() -> Derivation:
    r"""A chain of $L$ sigmoid layers scales the gradient by at most $4^{-L}$ (here $L = 3$)

    Each factor $g_l = \sigma'(u_l)$ lies in $(0, 1/4]$ (sigmoid-derivative-bound),
    so their product is at most $4^{-3} = 1/64$.  Notes, "Neural Networks":
    ReLU "avoids the vanishing gradient problem".
    """
    g = sp.symbols("g_1:4", positive=True)
    return Derivation(
        quantity=g[0] * g[1] * g[2],
        steps=[
            Step(quarter * g[1] * g[2], r"$g_1 \le 1/4$", relation="<="),
            Step(quarter**2 * g[2], r"$g_2 \le 1/4$", relation="<="),
            Step(quarter**3, r"$g_3 \le 1/4$", relation="<="),
        ],
        domain={gi: sp.Interval.Lopen(0, quarter) for gi in g},
    )
