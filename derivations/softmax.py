r"""Softmax and multiclass classification: the Jacobian for any K, cross-entropy, temperature.

Notes, "Logistic Regression" (the softmax generalizes the sigmoid; components
in (0, 1) summing to 1; the example softmax((1, 2, 8)); any base b = e^beta;
the negative log-likelihood and its gradient with the Kronecker delta) and
"Large Language Models" (the softmax of the logits; the temperature T: "the
greater the temperature, the softer the max").

Most results hold for a symbolic number of classes K: vectors are
``IndexedBase`` entries z_1 .. z_K, sums are ``Sum`` over 1..K, and the
verifier proves them with the rules of :mod:`derivations.sums` (sums of
deltas, factors pulled out of sums, sum_k y_k = 1 as a stated hypothesis).
"""

from __future__ import annotations

import sympy as sp

from derivations.core import Derivation, Simplex, Step
from derivations.functions import sigmoid
from derivations.functions import softmax as softmax_vector
from derivations.registry import derivation

TOPIC = "softmax"

K = sp.Symbol("K", integer=True, positive=True)
N = sp.Symbol("N", integer=True, positive=True)
i, j, k, m, n, c = sp.symbols("i j k m n c", integer=True)
z = sp.IndexedBase("z", real=True)
y = sp.IndexedBase("y", real=True)
yhat = sp.IndexedBase(r"\hat{y}", positive=True)
T = sp.Symbol("T", positive=True)
beta = sp.Symbol("beta", real=True)
b = sp.Symbol("b", positive=True)
delta = sp.KroneckerDelta


def _sum(term: sp.Expr, idx: sp.Symbol = m, top: sp.Expr = K) -> sp.Sum:
    return sp.Sum(term, (idx, 1, top))


S = _sum(sp.exp(z[m]))  # the normalizer sum_m e^{z_m}


def s(a: sp.Expr) -> sp.Expr:
    """softmax(z)_a = e^{z_a} / sum_m e^{z_m}."""
    return sp.exp(z[a]) / S


INDICES = {i: (1, K), j: (1, K)}
BUDGET_S = 3.0  # per step; a proof takes well under 1 s on an idle core
POINTS = 8


# ----- a probability vector ---------------------------------------------------------------------


@derivation
def softmax_sums_to_one() -> Derivation:
    r"""Softmax components sum to 1, for any number of classes K

    Notes: the normalization "ensures that the sum of the components of the
    output vector is 1".
    """
    return Derivation(
        quantity=_sum(s(k), k),
        steps=[
            Step(_sum(sp.exp(z[k]), k) / S, r"$1/\sum_m e^{z_m}$ does not depend on $k$"),
            Step(sp.S.One, "the same sum over and under the bar (the name of the index is free)"),
        ],
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def softmax_positive() -> Derivation:
    r"""Softmax components are positive: $\operatorname{softmax}(z)_i > 0$"""
    return Derivation(
        quantity=sp.Gt(s(i), 0, evaluate=False),
        steps=[
            Step(sp.Gt(S, 0, evaluate=False), "$e^{z_i} > 0$: the sign is that of the denominator"),
            Step(sp.true, "a sum of $K \\ge 1$ exponentials is positive"),
        ],
        domain=INDICES,
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def softmax_below_one() -> Derivation:
    r"""Softmax components are below 1 when there are two classes or more ($K \ge 2$)

    $1 - s_i = \sum_{k \ne i} e^{z_k} / \sum_m e^{z_m}$ is a sum of $K - 1 \ge 1$
    positive terms over a positive one.  For $K = 1$ the only component is
    exactly 1, so the bound needs $K \ge 2$ (the domain says so).  The proof
    takes the $i$-th term out of the sum: $\sum_m e^{z_m} = e^{z_i} + R$ with
    $R > 0$ (derivations.sums, rule 8).
    """
    return Derivation(
        quantity=sp.Lt(s(i), 1, evaluate=False),
        steps=[
            Step(sp.Lt(sp.exp(z[i]), S, evaluate=False), "multiply by the positive denominator"),
            Step(
                sp.Gt(S - sp.exp(z[i]), 0, evaluate=False),
                r"subtract $e^{z_i}$",
            ),
            Step(
                sp.true,
                r"$\sum_m e^{z_m} - e^{z_i} = \sum_{m \ne i} e^{z_m}$: "
                r"$K - 1 \ge 1$ positive terms",
            ),
        ],
        domain={**INDICES, K: (2, sp.oo)},
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def softmax_shift_invariance() -> Derivation:
    r"""Shift invariance: $\operatorname{softmax}(z + c)_i = \operatorname{softmax}(z)_i$

    Adding the same $c$ to every logit multiplies numerator and denominator by
    $e^c$.  With $c = -\max_k z_k$ no exponential overflows: the stable form
    numeric.softmax computes.
    """
    cc = sp.Symbol("c", real=True)
    return Derivation(
        quantity=sp.exp(z[i] + cc) / _sum(sp.exp(z[m] + cc)),
        steps=[
            Step(
                (sp.exp(cc) * sp.exp(z[i])) / (sp.exp(cc) * S),
                r"$e^{a + c} = e^c e^a$; $e^c$ does not depend on $m$",
            ),
            Step(s(i), "cancel $e^c$"),
        ],
        domain=INDICES,
        implementation="numeric.softmax",
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def softmax_any_base() -> Derivation:
    r"""Any base $b = e^\beta$: $b^{z_i} / \sum_m b^{z_m} = \operatorname{softmax}(\beta z)_i$

    Notes: "any $b > 0$ can be used.  Such $b$ can be expressed as $e^\beta$".
    A base $b > 1$ ($\beta > 0$) sharpens or softens like the temperature
    $T = 1/\beta$.
    """
    eb = sp.exp(beta)
    return Derivation(
        quantity=eb ** z[i] / _sum(eb ** z[m]),
        steps=[
            Step(
                sp.exp(beta * z[i]) / _sum(sp.exp(beta * z[m])),
                r"$(e^{\beta})^{x} = e^{\beta x}$",
            ),
        ],
        domain=INDICES,
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def softmax_two_classes() -> Derivation:
    r"""Two classes: $\operatorname{softmax}(z_1, z_2)_1 = \sigma(z_1 - z_2)$

    Notes: the softmax "is a generalization of the logistic (or sigmoid)
    function".  Only the difference of the logits matters.
    """
    z1, z2 = sp.symbols("z_1 z_2", real=True)
    return Derivation(
        quantity=softmax_vector([z1, z2])[0],
        steps=[
            Step(
                1 / (1 + sp.exp(z2) / sp.exp(z1)), r"divide numerator and denominator by $e^{z_1}$"
            ),
            Step(1 / (1 + sp.exp(-(z1 - z2))), r"$e^{z_2}/e^{z_1} = e^{-(z_1 - z_2)}$"),
            Step(sigmoid(z1 - z2), r"definition of $\sigma$"),
        ],
        implementation="numeric.softmax",
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def softmax_worked_example() -> Derivation:
    r"""The notes' example: softmax((1, 2, 8)) rounds to (0.001, 0.002, 0.997)

    The exact values are about (0.000909, 0.002470, 0.996620); each is within
    0.0005 of the rounded value the notes give, so the rounding is right.
    """
    exact = softmax_vector([1, 2, 8])
    rounded = [sp.Rational(1, 1000), sp.Rational(2, 1000), sp.Rational(997, 1000)]
    worst = sp.Max(*[sp.Abs(a - r) for a, r in zip(exact, rounded)])
    return Derivation(
        quantity=sp.Lt(worst, sp.Rational(1, 2000), evaluate=False),
        steps=[Step(sp.true, "evaluate: the largest error is about 4.7e-4 (the second component)")],
        budget_s=BUDGET_S,
        points=POINTS,
    )


# ----- the Jacobian ----------------------------------------------------------------------------


@derivation
def softmax_jacobian() -> Derivation:
    r"""The softmax Jacobian for any K: $\partial s_i / \partial z_j = s_i(\delta_{ij} - s_j)$

    Notes: $d\hat{y}_k/dz_j = \hat{y}_k(\delta_{jk} - \hat{y}_j)$.  The quotient
    rule, with $\partial \sum_m e^{z_m} / \partial z_j = \sum_m e^{z_m}\delta_{mj} = e^{z_j}$
    (the sum of a delta, for $j$ in $1..K$).  In matrix form
    $\operatorname{diag}(s) - s s^T$ (softmax-jacobian-k2 .. k4).
    """
    return Derivation(
        quantity=sp.Derivative(s(i), z[j]),
        steps=[
            Step(
                (delta(i, j) * sp.exp(z[i]) * S - sp.exp(z[i]) * _sum(sp.exp(z[m]) * delta(m, j)))
                / S**2,
                r"quotient rule; $\partial e^{z_m}/\partial z_j = e^{z_m}\delta_{mj}$",
            ),
            Step(
                (delta(i, j) * sp.exp(z[i]) * S - sp.exp(z[i]) * sp.exp(z[j])) / S**2,
                r"sum of a delta: only $m = j$ remains ($1 \le j \le K$)",
            ),
            Step(s(i) * (delta(i, j) - s(j)), "split the fraction"),
        ],
        domain=INDICES,
        implementation="numeric.softmax_jacobian",
        budget_s=BUDGET_S,
        points=POINTS,
    )


def _explicit_jacobian(size: int) -> Derivation:
    zs = sp.symbols(f"z_1:{size + 1}", real=True)
    sv = softmax_vector(zs)
    jac = sp.Matrix(size, size, lambda a, b_: sp.Derivative(sv[a], zs[b_]))
    entrywise = sp.Matrix(size, size, lambda a, b_: sv[a] * (delta(a, b_) - sv[b_]))
    return Derivation(
        quantity=jac,
        steps=[
            Step(entrywise, "softmax-jacobian at each entry"),
            Step(sp.diag(*sv) - sv * sv.T, r"collect: $\operatorname{diag}(s) - s s^T$"),
        ],
        implementation="numeric.softmax_jacobian",
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def softmax_jacobian_k2() -> Derivation:
    r"""The Jacobian matrix for K = 2 is $\operatorname{diag}(s) - s s^T$"""
    return _explicit_jacobian(2)


@derivation
def softmax_jacobian_k3() -> Derivation:
    r"""The Jacobian matrix for K = 3 is $\operatorname{diag}(s) - s s^T$"""
    return _explicit_jacobian(3)


@derivation
def softmax_jacobian_k4() -> Derivation:
    r"""The Jacobian matrix for K = 4 is $\operatorname{diag}(s) - s s^T$"""
    return _explicit_jacobian(4)


# ----- cross-entropy ---------------------------------------------------------------------------


@derivation
def one_hot_picks_the_true_class() -> Derivation:
    r"""A one-hot label picks the true class: $-\log \hat{y}_c = -\sum_k \delta_{kc} \log \hat{y}_k$

    Notes: $P(y_i \mid x_i) = \hat{y}_{i,k_i}$ for the true class $k_i$; as a
    product over classes, $\prod_k \hat{y}_k^{y_k}$.
    """
    return Derivation(
        quantity=-sp.log(yhat[c]),
        steps=[
            Step(
                -sp.log(sp.Product(yhat[k] ** delta(k, c), (k, 1, K))),
                r"$\prod_k \hat{y}_k^{\delta_{kc}}$: every factor but the $c$-th is 1",
            ),
            Step(-_sum(delta(k, c) * sp.log(yhat[k]), k), "log of a product, log of a power"),
        ],
        domain={c: (1, K)},
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def cross_entropy_from_likelihood() -> Derivation:
    r"""Cross-entropy is the negative log-likelihood, for N samples and K classes

    $-\log \prod_i \prod_k \hat{y}_{ik}^{y_{ik}} = -\sum_i \sum_k y_{ik}\log\hat{y}_{ik}$.

    Notes, steps 1-3: $-\log \prod_{i=1}^N \hat{y}_{i,k_i} = -\sum_{i=1}^N
    \sum_{k=1}^K y_{ik}\log\hat{y}_{ik}$, with $\hat{y}_{i,k_i} =
    \prod_k \hat{y}_{ik}^{y_{ik}}$ for one-hot rows (one-hot-picks-the-true-class).
    For N samples and K classes, both symbolic.
    """
    Y = sp.IndexedBase("y", real=True)
    P = sp.IndexedBase(r"\hat{y}", positive=True)
    per_sample = sp.Product(P[n, k] ** Y[n, k], (k, 1, K))
    return Derivation(
        quantity=-sp.log(sp.Product(per_sample, (n, 1, N))),
        steps=[
            Step(-_sum(sp.log(per_sample), n, N), "log of a product over the samples"),
            Step(
                -_sum(_sum(Y[n, k] * sp.log(P[n, k]), k), n, N),
                "log of a product over the classes; log of a power",
            ),
        ],
        budget_s=BUDGET_S,
        points=POINTS,
    )


_CE = -_sum(y[k] * sp.log(s(k)), k)  # cross-entropy of softmax(z) against y


@derivation
def cross_entropy_gradient() -> Derivation:
    r"""The cross-entropy gradient for any K: $\partial L / \partial z_j = \hat{y}_j - y_j$

    $L = -\sum_k y_k \log \operatorname{softmax}(z)_k$ for a probability vector
    $y$: the hypothesis $\sum_k y_k = 1$ is stated by the domain (y on the
    simplex) and used in the third step.  Notes: "simply averaging the
    distance between the correct label and the predicted label".
    """
    return Derivation(
        quantity=sp.Derivative(_CE, z[j]),
        steps=[
            Step(
                -_sum(y[k] * (delta(k, j) - s(j)), k),
                r"$\partial \log s_k / \partial z_j = \delta_{kj} - s_j$"
                " (softmax-jacobian over $s_k$)",
            ),
            Step(-y[j] + s(j) * _sum(y[k], k), r"sum of a delta; $s_j$ does not depend on $k$"),
            Step(s(j) - y[j], r"$\sum_k y_k = 1$ (hypothesis: $y$ is a probability vector)"),
        ],
        domain={j: (1, K), y: Simplex(size=K)},
        implementation="numeric.cross_entropy_grad",
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def cross_entropy_gradient_in_probabilities() -> Derivation:
    r"""The gradient in the probabilities: $\partial L / \partial \hat{y}_j = -y_j / \hat{y}_j$

    The notes write $d\mathcal{L}/d\hat{y}_{ik} = \hat{y}_{ik} - y_{ik}$; that is
    the gradient in the logits $z$ (cross-entropy-gradient), not in $\hat{y}$.
    """
    return Derivation(
        quantity=sp.Derivative(-_sum(y[k] * sp.log(yhat[k]), k), yhat[j]),
        steps=[
            Step(-_sum(y[k] * delta(k, j) / yhat[k], k), r"$\partial \log u / \partial u = 1/u$"),
            Step(-y[j] / yhat[j], "sum of a delta"),
        ],
        domain={j: (1, K)},
        budget_s=BUDGET_S,
        points=POINTS,
    )


# ----- stable forms -----------------------------------------------------------------------------


@derivation
def logsumexp_shift() -> Derivation:
    r"""The stable log-sum-exp: $\log \sum_m e^{z_m} = a + \log \sum_m e^{z_m - a}$ for any real $a$

    With $a = \max_m z_m$ every exponential is at most 1 and one of them is 1,
    so the sum lies in $[1, K]$: no overflow, and no log of 0.
    numeric.logsumexp then takes the 1 out, $\log(1 + r) = $ log1p$(r)$.
    """
    a = sp.Symbol("a", real=True)
    return Derivation(
        quantity=sp.log(S),
        steps=[
            Step(sp.log(sp.exp(a) * _sum(sp.exp(z[m] - a))), r"$e^{z_m} = e^{a} e^{z_m - a}$"),
            Step(a + sp.log(_sum(sp.exp(z[m] - a))), r"$\log(e^a x) = a + \log x$"),
        ],
        implementation="numeric.logsumexp",
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def log_softmax_stable() -> Derivation:
    r"""The stable log-softmax: $\log \operatorname{softmax}(z)_i = z_i - \log\sum_m e^{z_m}$

    No division and no log of a rounded probability: with logsumexp-shift it
    is exact for the dominant class, where $1 - s_i$ rounds to 0.
    """
    return Derivation(
        quantity=sp.log(s(i)),
        steps=[Step(z[i] - sp.log(S), r"$\log(e^{z_i}/x) = z_i - \log x$")],
        domain=INDICES,
        implementation="numeric.log_softmax",
        budget_s=BUDGET_S,
        points=POINTS,
    )


# ----- temperature ------------------------------------------------------------------------------

_NOTES_Z = (1, 2, 8)


def _tempered(zs: tuple[int, ...]) -> sp.Matrix:
    return softmax_vector([sp.Integer(v) / T for v in zs])


# A limit is evaluated by SymPy's limit algorithm at each check (about 0.1 s each): one
# step per limit derivation, and a budget with headroom for a loaded machine.
LIMIT_BUDGET_S = 2 * BUDGET_S


@derivation
def temperature_hot_limit() -> Derivation:
    r"""Hot limit: as $T \to \infty$, softmax(z / T) tends to the uniform vector (z = (1, 2, 8))

    Notes: "the greater the temperature, the softer the max".  Dividing
    numerator and denominator by $e^{z_i/T}$, component $i$ is
    $1/\sum_k e^{(z_k - z_i)/T}$, and each $e^{(z_k - z_i)/T} \to 1$.
    """
    sv = _tempered(_NOTES_Z)
    return Derivation(
        quantity=sv.applyfunc(lambda e: sp.Limit(e, T, sp.oo)),
        steps=[
            Step(
                sp.Matrix([sp.Rational(1, 3)] * 3),
                r"$1/\sum_k e^{(z_k - z_i)/T}$ and each $e^{(z_k - z_i)/T} \to 1$",
            ),
        ],
        implementation="numeric.softmax",
        budget_s=LIMIT_BUDGET_S,
        points=POINTS,
    )


@derivation
def temperature_cold_limit() -> Derivation:
    r"""Cold limit: as $T \to 0^+$, softmax(z / T) tends to the one-hot argmax (z = (1, 2, 8))

    Component $i$ is $1/\sum_k e^{(z_k - z_i)/T}$: a term with $z_k > z_i$
    grows without bound, so only the largest logit keeps the value 1.
    """
    sv = _tempered(_NOTES_Z)
    return Derivation(
        quantity=sv.applyfunc(lambda e: sp.Limit(e, T, 0, "+")),
        steps=[
            Step(
                sp.Matrix([0, 0, 1]),
                r"$1/\sum_k e^{(z_k - z_i)/T}$; $e^{(z_k - z_i)/T} \to \infty$ for $z_k > z_i$",
            ),
        ],
        implementation="numeric.softmax",
        budget_s=LIMIT_BUDGET_S,
        points=POINTS,
    )


def _st(a: sp.Expr) -> sp.Expr:
    """softmax(z / T)_a."""
    return sp.exp(z[a] / T) / _sum(sp.exp(z[m] / T))


@derivation
def temperature_entropy_nondecreasing() -> Derivation:
    r"""The entropy of $\operatorname{softmax}(z/T)$ is non-decreasing in $T$, for any K

    $H(T) = -\sum_k s_k \log s_k$ with $s = \operatorname{softmax}(z/T)$.  Its
    derivative is the variance of $z$ under $s$, over $T^3$: never negative.
    So a higher temperature never makes the distribution less uncertain.
    """
    mu = _sum(_st(m) * z[m])
    entropy = -_sum(_st(k) * sp.log(_st(k)), k)
    return Derivation(
        quantity=sp.Derivative(entropy, T),
        steps=[
            Step(
                (_sum(_st(k) * z[k] ** 2, k) - mu**2) / T**3,
                r"$H = \log\sum_m e^{z_m/T} - \sum_k s_k z_k / T$; differentiate, "
                r"$\partial s_k/\partial T = -s_k (z_k - \mu)/T^2$",
            ),
            Step(
                _sum(_st(k) * (z[k] - mu) ** 2, k) / T**3,
                r"$E[z^2] - \mu^2 = E[(z - \mu)^2]$, using $\sum_k s_k = 1$",
            ),
            Step(sp.S.Zero, "a sum of nonnegative terms over $T^3 > 0$", relation=">="),
        ],
        budget_s=BUDGET_S,
        points=POINTS,
    )


# ----- softmax regression -----------------------------------------------------------------------

D = sp.Symbol("d", integer=True, positive=True)  # features
a, p, q = sp.symbols("a p q", integer=True)
W = sp.IndexedBase("W", real=True)
bias = sp.IndexedBase("b", real=True)
x = sp.IndexedBase("x", real=True)


def _logit(cls: sp.Expr) -> sp.Expr:
    """z_cls = sum_p W_{cls, p} x_p + b_cls, for one sample x."""
    return sp.Sum(W[cls, p] * x[p], (p, 1, D)) + bias[cls]


def _yhat(cls: sp.Expr) -> sp.Expr:
    return sp.exp(_logit(cls)) / _sum(sp.exp(_logit(m)))


_SAMPLE_LOSS = -_sum(y[k] * sp.log(_yhat(k)), k)
_REGRESSION_DOMAIN = {a: (1, K), q: (1, D), y: Simplex(size=K)}


@derivation
def softmax_regression_gradient() -> Derivation:
    r"""Softmax regression, weights: $\partial L/\partial W = (\hat{y} - y) x^T$ (one sample)

    Entry $(a, q)$: $\partial L/\partial W_{aq} = (\hat{y}_a - y_a)\, x_q$.

    One sample: $L = -\sum_k y_k\log\hat{y}_k$ with
    $\hat{y} = \operatorname{softmax}(W x + b)$, for symbolic K classes and d
    features.  The chain rule through $z_k$, whose derivative in $W_{aq}$ is
    $\delta_{ka} x_q$, and cross-entropy-gradient.  Over a batch the loss is
    the mean, and so is the gradient (mean-of-gradients).  Notes:
    $dJ/dw = \sum_i (\hat{y}_i - y_i) x_i$.
    """
    return Derivation(
        quantity=sp.Derivative(_SAMPLE_LOSS, W[a, q]),
        steps=[
            Step(
                _sum((_yhat(k) - y[k]) * delta(k, a) * x[q], k),
                r"chain rule: $\partial L/\partial z_k = \hat{y}_k - y_k$,"
                r" $\partial z_k/\partial W_{aq} = \delta_{ka} x_q$",
            ),
            Step((_yhat(a) - y[a]) * x[q], "sum of a delta"),
        ],
        domain=_REGRESSION_DOMAIN,
        implementation="numeric.softmax_regression_grad",
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def softmax_regression_bias_gradient() -> Derivation:
    r"""Softmax regression, bias: $\partial L/\partial b = \hat{y} - y$ (one sample)"""
    return Derivation(
        quantity=sp.Derivative(_SAMPLE_LOSS, bias[a]),
        steps=[
            Step(
                _sum((_yhat(k) - y[k]) * delta(k, a), k),
                r"chain rule; $\partial z_k/\partial b_a = \delta_{ka}$",
            ),
            Step(_yhat(a) - y[a], "sum of a delta"),
        ],
        domain=_REGRESSION_DOMAIN,
        implementation="numeric.softmax_regression_grad",
        budget_s=BUDGET_S,
        points=POINTS,
    )


@derivation
def mean_of_gradients() -> Derivation:
    r"""The gradient of a batch mean is the mean of the per-sample gradients, for any N

    $\frac{\partial}{\partial w}\frac1N\sum_n \ell_n(w)
    = \frac1N\sum_n \frac{\partial \ell_n}{\partial w}$.  With softmax-regression-gradient:
    $\partial L/\partial W = \frac1N\sum_n (\hat{y}_n - y_n) x_n^T$ and
    $\partial L/\partial b = \frac1N\sum_n (\hat{y}_n - y_n)$,
    what numeric.softmax_regression_grad computes.  $\ell$ is any smooth
    function (the check draws random ones).
    """
    w = sp.Symbol("w", real=True)
    loss = sp.Function("ell")
    return Derivation(
        quantity=sp.Derivative(_sum(loss(n, w), n, N) / N, w),
        steps=[
            Step(_sum(sp.Derivative(loss(n, w), w), n, N) / N, "the derivative of a sum of terms"),
        ],
        implementation="numeric.softmax_regression_grad",
        budget_s=BUDGET_S,
        points=POINTS,
    )
