"""Every formula claim of the lecture notes, checked; the wrong ones corrected.

The notes (``shared/notes/lecture-notes.md``) are what this project was made
from.  Each :class:`NoteClaim` quotes one claim in the notes' own symbols,
states it in SymPy (a relation, or two sides that should be equal, or two
numbers for the numeric claims), and is checked with :func:`check_equal`.  A
claim the notes get wrong carries a :class:`Correction`, itself checked, and
the verdict's counterexample shows the two sides apart.  Claims made in
words ("the greater the temperature, the softer the max") are stated as the
formula they amount to; claims that are not formulas but are checkably false
(an index range, a count) are numbers compared, with the reason in words.

``check_notes()`` runs them all, in the order of the notes::

    >>> from derivations.notes import check_notes
    >>> checks = check_notes()                              # doctest: +SKIP
    >>> [c.claim.id for c in checks if c.verdict.refuted]   # doctest: +SKIP
    ['bce-log-likelihood-mean', ...]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from derivations.core import Verdict, check_equal
from derivations.functions import relu, sigmoid, softmax
from derivations.logistic import bce
from derivations.parallel import run_parallel
from derivations.sampling import Simplex
from derivations.transformer import GPT3, category_counts

__all__ = ["ClaimCheck", "Correction", "NoteClaim", "check_notes", "claims", "separation"]

# Per-claim budget: the slowest claim takes about 1 s on an idle core; the rest is
# headroom for a loaded machine (a claim that runs out would lose its proof).
CLAIM_BUDGET_S = 5.0
# Digits at which a counterexample is re-evaluated to show the two sides apart.
SEPARATION_DPS = 50


@dataclass(frozen=True)
class Correction:
    """What the notes should say: ``lhs == rhs`` (or the relation ``lhs``), checked too."""

    quote: str  # LaTeX
    lhs: Any
    rhs: Any = True
    domain: Mapping[Any, Any] | None = None  # None: the claim's domain


@dataclass(frozen=True)
class NoteClaim:
    """One claim of the notes.

    ``quote`` is the notes' formula (LaTeX, their symbols); ``lhs``/``rhs`` the
    claim in SymPy (``rhs`` True when ``lhs`` is a relation); ``domain`` what
    the symbols range over (as :func:`check_equal` takes it); ``reason`` says in
    words what is checked, and for a wrong claim what is wrong.
    """

    id: str
    section: str
    quote: str
    lhs: Any
    rhs: Any = True
    domain: Mapping[Any, Any] = field(default_factory=dict)
    reason: str = ""
    correction: Correction | None = None


@dataclass(frozen=True)
class ClaimCheck:
    """A claim with its verdict and, for a wrong one, its correction's verdict."""

    claim: NoteClaim
    verdict: Verdict
    correction: Verdict | None = None

    @property
    def wrong(self) -> bool:
        return self.verdict.refuted

    @property
    def consistent(self) -> bool:
        """Refuted claims have a proved correction; the others need none."""
        if self.verdict.refuted:
            return self.correction is not None and self.correction.proved
        return self.claim.correction is None and self.verdict.status in (
            "proved",
            "numerically-consistent",
        )


# ----------------------------------------------------------------------------------------
# Symbols
# ----------------------------------------------------------------------------------------

z, b, y, yhat, s, alpha, T, d = sp.symbols("z b y \\hat{y} s alpha T d", real=True)
PROB = sp.Interval.open(0, 1)
LABEL = sp.FiniteSet(0, 1)
POSITIVE = sp.Interval.open(0, sp.oo)


def _vec(name: str, n: int) -> sp.Matrix:
    """A column of real symbols ``name_1 .. name_n``."""
    return sp.Matrix(sp.symbols(f"{name}_1:{n + 1}", real=True))


def _softmax(zs: Sequence[Any]) -> list[Any]:
    return list(softmax(zs))


def _gt(a: Any, b: Any) -> sp.Basic:
    """``a > b`` left unevaluated, so that the verifier, not SymPy's constructor, decides it."""
    return sp.StrictGreaterThan(a, b, evaluate=False)


def _lt(a: Any, b: Any) -> sp.Basic:
    """``a < b`` left unevaluated (see :func:`_gt`)."""
    return sp.StrictLessThan(a, b, evaluate=False)


def _dsigma(u: Any) -> Any:
    """sigma'(u), written as the notes write it: the derivative at u."""
    return sigmoid(u) * (1 - sigmoid(u))


# ----------------------------------------------------------------------------------------
# Logistic regression and BCE
# ----------------------------------------------------------------------------------------

LR = "Logistic Regression"
BCE = "Logistic Regression / Deriving BCE"


def _logistic() -> Iterator[NoteClaim]:
    w, x = _vec("w", 3), _vec("x", 3)
    zx = (w.T * x)[0] + b
    yield NoteClaim(
        "sigmoid-definition",
        LR,
        r"f(z) = \frac{1}{1 + e^{-z}} \text{ graphs to } \sigma(z)",
        1 / (1 + sp.exp(-z)),
        sigmoid(z),
        reason="the logistic function is the sigmoid",
    )
    yield NoteClaim(
        "sigmoid-range-lower",
        LR,
        r"\sigma \text{ squashes } z \text{ into } (0, 1)",
        _gt(sigmoid(z), 0),
        reason="lower end of the range, every real z",
    )
    yield NoteClaim(
        "sigmoid-range-upper",
        LR,
        r"\sigma \text{ squashes } z \text{ into } (0, 1)",
        sigmoid(z) < 1,
        reason="upper end of the range, every real z",
    )
    yield NoteClaim(
        "linear-combination",
        LR,
        r"z = \bar{w}^T \bar{x} + b = \sum_{i=1}^n w_i x_i + b",
        zx,
        sum(w[i] * x[i] for i in range(3)) + b,
        reason="n = 3",
    )
    yield NoteClaim(
        "p-y-1",
        LR,
        r"P(y=1|x) = \sigma(z) = \frac{1}{1 + e^{-(\bar{w}^T \bar{x} + b)}}",
        sigmoid(zx),
        1 / (1 + sp.exp(-zx)),
        reason="n = 3",
    )
    yield NoteClaim(
        "p-y-0",
        LR,
        r"P(y=0|x) = 1 - \sigma(z)",
        (1 - sigmoid(z)) + sigmoid(z),
        1,
        reason="the two class probabilities sum to 1",
    )
    yield NoteClaim(
        "decision-rule-1",
        LR,
        r"y = 1 \text{ if } \sigma(z) \geq 0.5",
        sigmoid(z) >= sp.Rational(1, 2),
        domain={z: sp.Interval(0, sp.oo)},
        reason="the rule predicts 1 exactly for z >= 0",
    )
    yield NoteClaim(
        "decision-rule-0",
        LR,
        r"y = 0 \text{ if } \sigma(z) < 0.5",
        sigmoid(z) < sp.Rational(1, 2),
        domain={z: sp.Interval.open(-sp.oo, 0)},
        reason="the rule predicts 0 exactly for z < 0",
    )
    yield NoteClaim(
        "bce-is-negative-log-likelihood",
        LR,
        r"L(y, \hat{y}) = -[y \log(\hat{y}) + (1-y) \log(1-\hat{y})]",
        bce(yhat, y),
        -sp.log(yhat**y * (1 - yhat) ** (1 - y)),
        domain={yhat: PROB, y: LABEL},
        reason="BCE is minus the log of the Bernoulli probability, y in {0, 1}",
    )


def _deriving_bce() -> Iterator[NoteClaim]:
    yield NoteClaim(
        "bernoulli-two-cases",
        BCE,
        r"P(y | x, \bar{w}) = \hat{y}^y (1-\hat{y})^{1-y}",
        yhat**y * (1 - yhat) ** (1 - y),
        sp.Piecewise((yhat, sp.Eq(y, 1)), (1 - yhat, True)),
        domain={yhat: PROB, y: LABEL},
        reason="equals the two-case definition for y in {0, 1}",
    )
    n = 3
    ys, ps = _vec("y", n), _vec("\\hat{y}", n)
    terms = [ys[i] * sp.log(ps[i]) + (1 - ys[i]) * sp.log(1 - ps[i]) for i in range(n)]
    prob_domain: dict[Any, Any] = {p: PROB for p in ps} | {v: LABEL for v in ys}
    log_likelihood = sp.log(
        sp.Mul(*[ps[i] ** ys[i] * (1 - ps[i]) ** (1 - ys[i]) for i in range(n)])
    )
    yield NoteClaim(
        "log-likelihood-sum",
        BCE,
        r"\log \mathcal{L}(\bar{w}) = \sum_{i=1}^N (y_i \log(\hat{y}_i)"
        r" + (1-y_i) \log(1-\hat{y}_i))",
        log_likelihood,
        sp.Add(*terms),
        domain=prob_domain,
        reason="the log of the product is the sum of the logs (N = 3)",
    )
    yield NoteClaim(
        "bce-log-likelihood-mean",
        BCE,
        r"- \mathcal{L}(\bar{w}) = -\frac{1}{N} \sum_{i=1}^N (y_i \log(\hat{y}_i)"
        r" + (1-y_i) \log(1-\hat{y}_i))",
        -log_likelihood,
        -sp.Add(*terms) / n,
        domain=prob_domain,
        reason=(
            "the log-likelihood just derived has no 1/N: minus it is N times the"
            " mean BCE. The mean BCE is minus the log-likelihood divided by N (N = 3)"
        ),
        correction=Correction(
            r"-\frac{1}{N} \log \mathcal{L}(\bar{w}) = -\frac{1}{N} \sum_{i=1}^N"
            r" (y_i \log(\hat{y}_i) + (1-y_i) \log(1-\hat{y}_i))",
            -log_likelihood / n,
            -sp.Add(*terms) / n,
        ),
    )
    yield from _gradient_descent_step()
    yield from _single_sample_chain()


def _gradient_descent_step() -> Iterator[NoteClaim]:
    """The update w <- w - alpha grad(L), with L as the notes define it."""
    w, x = _vec("w", 2), _vec("x", 2)
    zx = (w.T * x)[0] + b
    loss = bce(sigmoid(zx), y)  # one sample; the notes' -L is the mean of these
    log_lik = -loss  # the notes' L: -L is the BCE
    grad_l = sp.Matrix([log_lik.diff(v) for v in w])
    stepped = {w[i]: w[i] - alpha * grad_l[i] for i in range(2)}
    slope = loss.subs(stepped, simultaneous=True).diff(alpha).subs(alpha, 0)
    yield NoteClaim(
        "gradient-descent-sign",
        BCE,
        r"\bar{w} \leftarrow \bar{w} - \alpha \nabla_{\bar{w}} \mathcal{L}(\bar{w})"
        r" \text{ minimizes the BCE, where } -\mathcal{L} \text{ is the BCE}",
        slope,
        -(grad_l.T * grad_l)[0],
        domain={y: LABEL},
        reason=(
            "with -L the BCE, L is the log-likelihood and a step against its gradient"
            " increases the BCE at rate |grad L|^2 (d = 2, one sample): the step must"
            " go against the gradient of the loss -L"
        ),
        correction=Correction(
            r"\bar{w} \leftarrow \bar{w} + \alpha \nabla_{\bar{w}} \mathcal{L}(\bar{w})"
            r" = \bar{w} - \alpha \nabla_{\bar{w}} (-\mathcal{L}(\bar{w}))",
            loss.subs({w[i]: w[i] + alpha * grad_l[i] for i in range(2)}, simultaneous=True)
            .diff(alpha)
            .subs(alpha, 0),
            -(grad_l.T * grad_l)[0],
        ),
    )


def _single_sample_chain() -> Iterator[NoteClaim]:
    loss = bce(yhat, y)
    dl_dyhat = loss.diff(yhat)
    yield NoteClaim(
        "dl-dyhat-sum",
        BCE,
        r"\frac{\partial \ell}{\partial \hat{y}} = -\left(\frac{y}{\hat{y}}"
        r" - \frac{1-y}{1-\hat{y}}\right)",
        dl_dyhat,
        -(y / yhat - (1 - y) / (1 - yhat)),
        domain={yhat: PROB, y: LABEL},
    )
    yield NoteClaim(
        "dl-dyhat-fraction",
        BCE,
        r"\frac{\partial \ell}{\partial \hat{y}} = \frac{\hat{y} - y}{y(1-\hat{y})}",
        dl_dyhat,
        (yhat - y) / (y * (1 - yhat)),
        domain={yhat: PROB, y: LABEL},
        reason="the denominator is yhat (1 - yhat), not y (1 - yhat)",
        correction=Correction(
            r"\frac{\partial \ell}{\partial \hat{y}} = \frac{\hat{y} - y}{\hat{y}(1-\hat{y})}",
            dl_dyhat,
            (yhat - y) / (yhat * (1 - yhat)),
        ),
    )
    yield NoteClaim(
        "dyhat-dz",
        BCE,
        r"\frac{\partial \hat{y}}{\partial z} = \hat{y}(1-\hat{y})",
        sigmoid(z).diff(z),
        sigmoid(z) * (1 - sigmoid(z)),
        reason="with yhat = sigma(z)",
    )
    w, x = _vec("w", 3), _vec("x", 3)
    zx = (w.T * x)[0] + b
    yield NoteClaim(
        "dz-dw",
        BCE,
        r"\frac{\partial z}{\partial \bar{w}} = \bar{x}",
        sp.Matrix([zx.diff(v) for v in w]),
        x,
        reason="n = 3",
    )
    composed = bce(sigmoid(zx), y)
    grad = sp.Matrix([composed.diff(v) for v in w])
    yield NoteClaim(
        "bce-gradient",
        BCE,
        r"\frac{\partial J(\bar{w})}{\partial \bar{w}} = \bar{x} (\hat{y} - y)",
        grad,
        x * (sigmoid(zx) - y),
        domain={y: LABEL},
        reason="differentiating the composed loss (n = 3); the notes call the loss l, then J",
    )
    as_written = (yhat - y) / (y * (1 - yhat)) * yhat * (1 - yhat)
    yield NoteClaim(
        "chain-product-as-written",
        BCE,
        r"\frac{\hat{y} - y}{y(1-\hat{y})} \cdot \hat{y}(1-\hat{y}) \cdot \bar{x}"
        r" = \bar{x}(\hat{y} - y)",
        as_written,
        yhat - y,
        domain={yhat: PROB, y: LABEL},
        reason="factors (1) and (2) as printed do not multiply to the stated result (x omitted)",
        correction=Correction(
            r"\frac{\hat{y} - y}{\hat{y}(1-\hat{y})} \cdot \hat{y}(1-\hat{y}) = \hat{y} - y",
            (yhat - y) / (yhat * (1 - yhat)) * yhat * (1 - yhat),
            yhat - y,
        ),
    )
    yield from _batch_gradient()


def _batch_gradient() -> Iterator[NoteClaim]:
    n_samples, n_features = 3, 2
    w = _vec("w", n_features)
    xs = [_vec(f"x_{i}", n_features) for i in range(1, n_samples + 1)]
    ys = _vec("y", n_samples)
    preds = [sigmoid((w.T * xi)[0] + b) for xi in xs]
    mean_bce = sp.Add(*[bce(p, yi) for p, yi in zip(preds, ys)]) / n_samples
    batch = sp.zeros(n_features, 1)
    for p, yi, xi in zip(preds, ys, xs):
        batch += (p - yi) * xi / n_samples
    labels = {v: LABEL for v in ys}
    yield NoteClaim(
        "batch-gradient-of-loss",
        BCE,
        r"\frac{1}{N} \sum_{i=1}^N (\hat{y}_i - y_i) \bar{x}_i"
        r" \text{ is the gradient of the mean BCE}",
        sp.Matrix([mean_bce.diff(v) for v in w]),
        batch,
        domain=labels,
        reason="N = 3, d = 2",
    )
    yield NoteClaim(
        "batch-gradient-of-likelihood",
        BCE,
        r"\nabla_{\bar{w}} \mathcal{L}(\bar{w}) = \frac{1}{N} \sum_{i=1}^N"
        r" (\hat{y}_i - y_i) \bar{x}_i",
        sp.Matrix([(-mean_bce).diff(v) for v in w]),
        batch,
        domain=labels,
        reason=(
            "the notes define -L as the mean BCE, so L is the mean log-likelihood and"
            " its gradient has the opposite sign (N = 3, d = 2)"
        ),
        correction=Correction(
            r"\nabla_{\bar{w}} (-\mathcal{L}(\bar{w})) = \frac{1}{N} \sum_{i=1}^N"
            r" (\hat{y}_i - y_i) \bar{x}_i",
            sp.Matrix([mean_bce.diff(v) for v in w]),
            batch,
        ),
    )


# ----------------------------------------------------------------------------------------
# Softmax and multiclass
# ----------------------------------------------------------------------------------------

SM = "Logistic Regression / softmax"


def _softmax_claims() -> Iterator[NoteClaim]:
    zs = list(_vec("z", 3))
    sm = _softmax(zs)
    yield NoteClaim(
        "softmax-positive",
        SM,
        r"\text{each component in } (0, 1)",
        _gt(sm[0], 0),
        reason="K = 3, first component (the others by symmetry)",
    )
    yield NoteClaim(
        "softmax-below-one",
        SM,
        r"\text{each component in } (0, 1)",
        sm[0] < 1,
        reason="K = 3, first component (the others by symmetry)",
    )
    z4 = list(_vec("z", 4))
    yield NoteClaim(
        "softmax-sums-to-one",
        SM,
        r"\sum_i \sigma(z)_i = 1",
        sp.Add(*_softmax(z4)),
        1,
        reason="K = 4",
    )
    exact = _softmax([1, 2, 8])
    rounded = sp.Matrix([sp.Rational(round(float(sp.N(v, 30)) * 1000), 1000) for v in exact])
    yield NoteClaim(
        "softmax-example",
        SM,
        r"\text{softmax}((1, 2, 8)) = (0.001, 0.002, 0.997)",
        rounded,
        sp.Matrix([sp.Rational(1, 1000), sp.Rational(2, 1000), sp.Rational(997, 1000)]),
        reason="the exact values rounded to three decimals",
    )
    beta = sp.Symbol("beta", real=True)
    base = sp.exp(beta)
    yield NoteClaim(
        "softmax-base-b",
        SM,
        r"\text{any base } b = e^{\beta} > 0: \frac{b^{z_i}}{\sum_j b^{z_j}}"
        r" = \text{softmax}(\beta z)_i",
        base ** zs[0] / sum(base**v for v in zs),
        _softmax([beta * v for v in zs])[0],
        reason="K = 3",
    )
    yield NoteClaim(
        "softmax-generalizes-sigmoid",
        SM,
        r"\text{softmax generalizes the sigmoid: } \text{softmax}(z_1, z_2)_1"
        r" = \sigma(z_1 - z_2)",
        _softmax(zs[:2])[0],
        sigmoid(zs[0] - zs[1]),
        reason="K = 2",
    )
    yield from _multiclass_gradient()


def _multiclass_gradient() -> Iterator[NoteClaim]:
    k = 3
    c = sp.Symbol("c", integer=True)
    ps = list(_vec("\\hat{y}", k))
    onehot = [sp.KroneckerDelta(j + 1, c) for j in range(k)]
    yield NoteClaim(
        "nll-one-hot",
        SM,
        r"\log(\hat{y}_{i, k_i}) = \sum_{k=1}^K y_{i, k} \log(\hat{y}_{i, k})",
        sp.log(sp.Add(*[oh * p for oh, p in zip(onehot, ps)])),
        sp.Add(*[oh * sp.log(p) for oh, p in zip(onehot, ps)]),
        domain={c: sp.FiniteSet(*range(1, k + 1)), **{p: PROB for p in ps}},
        reason="y one-hot at the true class c (K = 3)",
    )
    zs = list(_vec("z", k))
    ys = list(_vec("y", k))
    sm = _softmax(zs)
    simplex = {tuple(ys): Simplex()}
    loss_of_probs = -sp.Add(*[yk * sp.log(p) for yk, p in zip(ys, ps)])
    yield NoteClaim(
        "dL-dyhat-multiclass",
        SM,
        r"\frac{d\mathcal{L}}{d\hat{y}_{i, k}} = \hat{y}_{i, k} - y_{i, k}",
        loss_of_probs.diff(ps[0]),
        ps[0] - ys[0],
        domain={**simplex, **{p: PROB for p in ps}},
        reason=(
            "the derivative of -sum_k y_k log yhat_k in yhat_k is -y_k / yhat_k;"
            " yhat_k - y_k is the derivative in the logit z_k"
        ),
        correction=Correction(
            r"\frac{d\mathcal{L}}{d\hat{y}_{i, k}} = -\frac{y_{i, k}}{\hat{y}_{i, k}},"
            r" \quad \frac{d\mathcal{L}}{dz_{i, k}} = \hat{y}_{i, k} - y_{i, k}",
            (-sp.Add(*[yk * sp.log(p) for yk, p in zip(ys, sm)])).diff(zs[0]),
            sm[0] - ys[0],
            domain=simplex,
        ),
    )
    jac = sp.Matrix(k, k, lambda i, j: sm[i].diff(zs[j]))
    yield NoteClaim(
        "softmax-jacobian",
        SM,
        r"\frac{d\hat{y}_{i, k}}{dz_j} = \hat{y}_{i, k} (\delta_{jk} - \hat{y}_{i, j})",
        jac,
        sp.Matrix(k, k, lambda i, j: sm[i] * (sp.KroneckerDelta(i, j) - sm[j])),
        reason="K = 3, every entry",
    )
    true_grad = (-sp.Add(*[yk * sp.log(p) for yk, p in zip(ys, sm)])).diff(zs[0])
    yield NoteClaim(
        "dJ-dw-chain",
        SM,
        r"\frac{dJ}{d\bar{w}} = \sum_{i=1}^N \sum_{k=1}^K (\hat{y}_{ik} - y_{ik})"
        r" \frac{\partial \hat{y}_{ik}}{\partial \bar{w}}",
        sp.Add(*[(sm[j] - ys[j]) * sm[j].diff(zs[0]) for j in range(k)]),
        true_grad,
        domain=simplex,
        reason=(
            "the chain rule multiplies dJ/dyhat_k = -y_k / yhat_k, not yhat_k - y_k;"
            " checked for the parameter z_1 (N = 1, K = 3)"
        ),
        correction=Correction(
            r"\frac{dJ}{d\bar{w}} = \sum_{i=1}^N \sum_{k=1}^K"
            r" \left(-\frac{y_{ik}}{\hat{y}_{ik}}\right)"
            r" \frac{\partial \hat{y}_{ik}}{\partial \bar{w}}",
            sp.Add(*[(-ys[j] / sm[j]) * sm[j].diff(zs[0]) for j in range(k)]),
            true_grad,
        ),
    )
    yield _softmax_regression_gradient()
    yield NoteClaim(
        "temperature-softer",
        SM,
        r"\frac{e^{z_i/T}}{\sum e^{z_n/T}}: \text{the greater the temperature, the softer the max}",
        sp.diff(sigmoid(d / T), T) <= 0,
        domain={d: sp.Interval(0, sp.oo), T: POSITIVE},
        reason=(
            "K = 2, logits z_1 = z_2 + d with d >= 0: the largest probability"
            " softmax(z/T)_1 = sigma(d/T) does not increase with T"
        ),
    )


def _softmax_regression_gradient() -> NoteClaim:
    k, n_features = 2, 2
    x = _vec("x", n_features)
    ys = list(_vec("y", k))
    weights = sp.Matrix(k, n_features, lambda i, j: sp.Symbol(f"W_{i + 1}{j + 1}", real=True))
    sm = _softmax(list(weights * x))
    loss = -sp.Add(*[yk * sp.log(p) for yk, p in zip(ys, sm)])
    grad = sp.Matrix(k, n_features, lambda i, j: loss.diff(weights[i, j]))
    return NoteClaim(
        "softmax-regression-gradient",
        SM,
        r"\frac{dJ}{d\bar{w}} = \sum_{i=1}^N (\hat{y}_i - y_i) x_i",
        grad,
        (sp.Matrix(sm) - sp.Matrix(ys)) * x.T,
        domain={tuple(ys): Simplex()},
        reason="one sample, K = 2, d = 2: for the weight matrix W it is the outer product",
    )


# ----------------------------------------------------------------------------------------
# Neural networks, gradient descent, backpropagation
# ----------------------------------------------------------------------------------------

NN = "Neural Networks"
NNGD = "NN gradient descent"
BP = "Backpropagation"


def _neural_networks() -> Iterator[NoteClaim]:
    yield NoteClaim(
        "digits-0-10",
        NN,
        r"\text{the last layer: the activation of digits 0-10}",
        sp.Integer(len(range(0, 11))),
        sp.Integer(10),
        reason="0-10 names 11 neurons; the decimal digits are 0-9, ten output neurons",
        correction=Correction(
            r"\text{digits 0-9 (ten neurons)}", sp.Integer(len(range(0, 10))), sp.Integer(10)
        ),
    )
    yield NoteClaim(
        "bias-threshold",
        NN,
        r"\sigma(w_1 a_1 + \dots + w_n a_n - 10) \text{ activates when the weighted sum} > 10",
        sigmoid(s - 10) > sp.Rational(1, 2),
        domain={s: sp.Interval.open(10, sp.oo)},
        reason="s the weighted sum: above 10 the neuron is more than half on",
    )
    g = _dsigma(0) * 2 * (sigmoid(0) - 0)  # dC/db at z = 0, y = 0
    updated = -10 - sp.Rational(1, 10) * g
    yield NoteClaim(
        "bias-integer",
        NN,
        r"\text{a bias term, some integer } b",
        updated - sp.floor(updated),
        0,
        reason=(
            "one gradient step (alpha = 1/10, z = 0, y = 0) takes b = -10 to"
            " -10 - 1/40: biases are real numbers, trained like the weights"
        ),
        correction=Correction(r"b \in \mathbb{R}", sp.im(updated), 0),
    )
    weights = sp.Matrix(2, 3, lambda i, j: sp.Symbol(f"w_{i + 1}{j + 1}", real=True))
    a0, bias = _vec("a", 3), _vec("b", 2)
    yield NoteClaim(
        "layer-matrix-form",
        NN,
        r"\bar{a}^{(1)} = \sigma(W\bar{a}^{(0)} + \bar{b})",
        (weights * a0 + bias).applyfunc(sigmoid),
        sp.Matrix(
            [sigmoid(sum(weights[j, k] * a0[k] for k in range(3)) + bias[j]) for j in range(2)]
        ),
        reason="each neuron: sigmoid of its weighted sum plus bias (3 inputs, 2 neurons)",
    )
    relu_z = relu(z)
    yield NoteClaim(
        "relu-gradient-one",
        NN,
        r"\text{ReLU keeps gradients high when } x > 0",
        relu_z.diff(z),
        1,
        domain={z: POSITIVE},
        reason="its slope is exactly 1 there: no scaling, layer after layer",
    )
    yield NoteClaim(
        "sigmoid-gradient-quarter",
        NN,
        r"\text{(the vanishing gradient the sigmoid suffers)}",
        sigmoid(z).diff(z) <= sp.Rational(1, 4),
        reason="each sigmoid layer scales a gradient by at most 1/4",
    )
    alpha_pos = {alpha: POSITIVE}
    yield NoteClaim(
        "negative-gradient-w0",
        NNGD,
        r"-\nabla C = (0.31, 0.03, -0.37, 0.16): w_0 \text{ should increase}",
        alpha * sp.Rational(31, 100) > 0,
        domain=alpha_pos,
        reason="a step alpha (-grad C) with alpha > 0 raises w_0",
    )
    yield NoteClaim(
        "negative-gradient-w-n-minus-1",
        NNGD,
        r"-\nabla C = (0.31, 0.03, -0.37, 0.16): w_{n-1} \text{ should decrease}",
        alpha * sp.Rational(-37, 100) < 0,
        domain=alpha_pos,
        reason="w has entries w_0..w_3, so n = 3 and the third entry is w_{n-1}",
    )


def _backprop() -> Iterator[NoteClaim]:
    w, a_prev, bias, target = sp.symbols("w^{(L)} a^{(L-1)} b^{(L)} y", real=True)
    z_l = w * a_prev + bias
    cost = (sigmoid(z_l) - target) ** 2
    a_l = sigmoid(z_l)
    yield NoteClaim(
        "dC0-da",
        BP,
        r"\frac{\partial C_0}{\partial a^{(L)}} = 2(a^{(L)} - y)",
        ((z - target) ** 2).diff(z),
        2 * (z - target),
        reason="z stands for a^(L)",
    )
    yield NoteClaim(
        "dC0-dw",
        BP,
        r"\frac{\partial C_0}{\partial w^{(L)}} = a^{(L-1)} \sigma'(z^{(L)}) 2(a^{(L)} - y)",
        cost.diff(w),
        a_prev * _dsigma(z_l) * 2 * (a_l - target),
        reason="differentiating the composed cost",
    )
    yield NoteClaim(
        "dC0-db",
        BP,
        r"\frac{\partial C_0}{\partial b^{(L)}} = 1 \cdot \sigma'(z^{(L)}) \cdot 2(a^{(L)} - y)",
        cost.diff(bias),
        _dsigma(z_l) * 2 * (a_l - target),
    )
    yield NoteClaim(
        "dC0-da-previous",
        BP,
        r"\frac{\partial C_0}{\partial a^{(L-1)}} = w^{(L)} \cdot \sigma'(z^{(L)})"
        r" \cdot z(a^{(L)} - y)",
        cost.diff(a_prev),
        w * _dsigma(z_l) * z_l * (a_l - target),
        reason="a misprint: the last factor is 2(a - y), as in the two lines before",
        correction=Correction(
            r"\frac{\partial C_0}{\partial a^{(L-1)}} = w^{(L)} \cdot \sigma'(z^{(L)})"
            r" \cdot 2(a^{(L)} - y)",
            cost.diff(a_prev),
            w * _dsigma(z_l) * 2 * (a_l - target),
        ),
    )
    samples = 3
    a_k, y_k = _vec("a", samples), _vec("y", samples)
    costs = [(sigmoid(w * a_k[i] + bias) - y_k[i]) ** 2 for i in range(samples)]
    yield NoteClaim(
        "full-cost-derivative",
        BP,
        r"\frac{\partial C}{\partial w^{(L)}} = \frac{1}{n} \sum_{k=0}^{n-1}"
        r" \frac{\partial C_k}{\partial w^{(L)}}",
        (sp.Add(*costs) / samples).diff(w),
        sp.Add(*[ck.diff(w) for ck in costs]) / samples,
        reason="C the mean of the per-example costs (n = 3)",
    )
    yield _multi_neuron()


def _multi_neuron() -> NoteClaim:
    n_prev, n_out = 2, 3
    weights = sp.Matrix(n_out, n_prev, lambda j, k: sp.Symbol(f"w_{j}{k}", real=True))
    a_prev, bias, target = _vec("a", n_prev), _vec("b", n_out), _vec("y", n_out)
    zs = weights * a_prev + bias
    cost = sp.Add(*[(sigmoid(zs[j]) - target[j]) ** 2 for j in range(n_out)])
    chain = sp.Add(
        *[weights[j, 0] * _dsigma(zs[j]) * 2 * (sigmoid(zs[j]) - target[j]) for j in range(n_out)]
    )
    return NoteClaim(
        "multi-neuron-chain",
        BP,
        r"\frac{\partial C_0}{\partial a_k^{(L-1)}} = \sum_{j=0}^{n_L-1}"
        r" \frac{\partial z_j^{(L)}}{\partial a_k^{(L-1)}}"
        r" \frac{\partial a_j^{(L)}}{\partial z_j} \frac{\partial C_0}{\partial a_j^{(L)}}",
        cost.diff(a_prev[0]),
        chain,
        reason="k = 0, with 2 neurons in layer L-1 and 3 in layer L",
    )


# ----------------------------------------------------------------------------------------
# Large language models: GPT-3, embedding, attention, MLP
# ----------------------------------------------------------------------------------------

LLM = "Large Language Models"
EMB = "Embedding"
ATT = "Attention"
MLP = "Multilayer Perceptron"


def gpt3_matrix_count() -> int:
    """Embedding and unembedding, and per layer a key, query and value map per
    head, one output matrix (the heads' W_vp stapled together), up and down."""
    g = GPT3
    return 2 + g["n_layers"] * (3 * g["n_heads"] + 3)


def _gpt3() -> Iterator[NoteClaim]:
    counts = category_counts()
    total = sp.Integer(sum(counts.values()))
    yield NoteClaim(
        "gpt3-total",
        LLM,
        r"\sim 175B \text{ weights}",
        _lt(sp.Abs(total - 175 * 10**9), sp.Rational(1, 100) * 175 * 10**9),
        reason=f"the eight categories sum to {int(total):,}, within 1% of 175 billion",
    )
    yield NoteClaim(
        "gpt3-matrices",
        LLM,
        r"\text{divided into 27,938 matrices}",
        sp.Integer(gpt3_matrix_count()),
        sp.Integer(27938),
        reason="2 + 96 layers x (3 x 96 heads + output + up + down)",
    )
    yield NoteClaim(
        "gpt3-value-ditto",
        LLM,
        r"\text{Value}: d_{\text{value}} \cdot \text{''}",
        sp.Integer(counts["value"]),
        sp.Integer(counts["key"]),
        reason="the ditto mark: as many value weights as key weights, d_value = d_query = 128",
    )
    yield NoteClaim(
        "embedding-rows",
        EMB,
        r"W_E: \text{ rows } n = 1, 2, \dots, 288",
        sp.Integer(288),
        sp.Integer(GPT3["d_embed"]),
        reason="an embedding vector has d_embed = 12,288 entries; 288 drops the 12",
        correction=Correction(
            r"n = 1, 2, \dots, 12288", sp.Integer(12288), sp.Integer(GPT3["d_embed"])
        ),
    )
    yield from _dot_products()


def _dot_products() -> Iterator[NoteClaim]:
    r1, r2 = sp.symbols("r_1 r_2", positive=True)
    t1, t2, theta = sp.symbols("theta_1 theta_2 theta", real=True)
    a = sp.Matrix([r1 * sp.cos(t1), r1 * sp.sin(t1)])
    bv = sp.Matrix([r2 * sp.cos(t2), r2 * sp.sin(t2)])
    yield NoteClaim(
        "dot-product-angle",
        EMB,
        r"\text{the dot product varies according to the angle between the vectors}",
        (a.T * bv)[0],
        r1 * r2 * sp.cos(t1 - t2),
        reason="in the plane: a . b = |a| |b| cos(theta)",
    )
    half_pi = sp.pi / 2
    yield NoteClaim(
        "dot-product-obtuse",
        EMB,
        r"\theta > 90^\circ: \text{negative}",
        sp.cos(theta) < 0,
        domain={theta: sp.Interval.Lopen(half_pi, sp.pi)},
    )
    yield NoteClaim(
        "dot-product-right",
        EMB,
        r"\theta = 90^\circ: 0",
        sp.cos(half_pi),
        0,
    )
    yield NoteClaim(
        "dot-product-acute",
        EMB,
        r"\theta < 90^\circ: \text{positive}",
        sp.cos(theta) > 0,
        domain={theta: sp.Interval.Ropen(0, half_pi)},
    )
    embed = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"W_{i + 1}{j + 1}", real=True))
    onehot = sp.Matrix([0, 1, 0])
    yield NoteClaim(
        "skip-gram-row",
        EMB,
        r"V \times d \text{ embedding matrix: each row is the embedding of a word}",
        onehot.T * embed,
        embed[1, :],
        reason="the one-hot input picks its row (V = 3, d = 2)",
    )


def _attention() -> Iterator[NoteClaim]:
    n = 3
    qs, ks, vs = (list(_vec(name, n)) for name in ("q", "k", "v"))
    weights = _softmax([ks[j] * qs[1] for j in range(n)])  # d_k = 1: scores k_j q_2
    yield NoteClaim(
        "attention-weights-sum",
        ATT,
        r"\text{softmax over each query: the weights are a probability distribution}",
        sp.Add(*weights),
        1,
        reason="three keys, one query",
    )
    yield _softmax_axis()
    yield NoteClaim(
        "attention-pattern-a-i",
        ATT,
        r"\Delta \bar{E}_2 = \sum_i A_i \bar{V}_i \text{ where } A_i = \bar{K}_i \bar{Q}_i",
        sp.Add(*[ks[j] * qs[j] * vs[j] for j in range(n)]),
        sp.Add(*[weights[j] * vs[j] for j in range(n)]),
        reason=(
            "the weight of value j in the update of token 2 is softmax over j of"
            " K_j . Q_2 / sqrt(d_k): it pairs every key with the query of token 2"
            " and is normalised; K_i Q_i pairs each key with its own query"
            " (d_k = 1, three tokens)"
        ),
        correction=Correction(
            r"\Delta \bar{E}_2 = \sum_j A_{2j} \bar{V}_j, \quad A_{2j} ="
            r" \text{softmax}_j\left(\frac{\bar{K}_j \cdot \bar{Q}_2}{\sqrt{d_k}}\right)",
            ((sp.Matrix(_softmax_rows(sp.Matrix(qs) * sp.Matrix(ks).T)) * sp.Matrix(vs))[1]),
            sp.Add(*[weights[j] * vs[j] for j in range(n)]),
        ),
    )
    e_2 = sp.Matrix(_vec("e", 2))
    values = [sp.Matrix(_vec(f"v_{j}", 2)) for j in range(1, n + 1)]
    a_row = list(sp.symbols("A_21:24", real=True))
    value_matrix = sp.Matrix.vstack(*[v.T for v in values])
    yield NoteClaim(
        "residual-update",
        ATT,
        r"\bar{E}_2 + \Delta \bar{E}_2 = \bar{E}_2'",
        e_2 + sum((a_row[j] * values[j] for j in range(n)), sp.zeros(2, 1)),
        e_2 + (sp.Matrix([a_row]) * value_matrix).T,
        reason="the sum over tokens is row 2 of A V (three tokens, d = 2)",
    )
    masked = [sp.exp(-sp.oo), sp.exp(ks[1]), sp.exp(ks[2])]
    yield NoteClaim(
        "causal-mask-zero",
        ATT,
        r"\text{masked at } -\infty \text{ before softmax such that they become } 0",
        masked[0] / sp.Add(*masked),
        0,
    )
    yield NoteClaim(
        "causal-mask-sums-to-one",
        ATT,
        r"\text{(the weights that remain still sum to 1)}",
        sp.Add(*[m / sp.Add(*masked) for m in masked]),
        1,
    )
    length, cut = sp.symbols("k n", integer=True, positive=True)
    yield NoteClaim(
        "training-subsequences",
        ATT,
        r"\text{subsequences of } k-n \text{ from } n=1 \to k-1",
        sp.Sum(length - cut, (cut, 1, length - 1)),
        length * (length - 1) / 2,
        domain={length: (2, 64)},
        reason=(
            "the prefixes have lengths k - 1, ..., 1: k - 1 next-token predictions"
            " from one input, which as inputs of their own would hold k (k - 1) / 2"
            " tokens; with the causal mask one pass over the k tokens gives them all"
        ),
    )
    yield _scaled_variance()
    yield from _projection_shapes()


def _softmax_axis() -> NoteClaim:
    """A softmax down each column of Q K^T normalises over queries, not keys."""
    scores = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"s_{i + 1}{j + 1}", real=True))
    by_column = sp.Matrix(_softmax_rows(scores.T)).T
    by_row = sp.Matrix(_softmax_rows(scores))
    return NoteClaim(
        "softmax-per-column",
        ATT,
        r"\text{a softmax at each column, or query}: \text{Attention}(Q, K, V) ="
        r" \text{softmax}\left(\frac{QK^T}{\sqrt{d_k}}\right) V",
        sp.Add(*by_column.row(0)),
        1,
        reason=(
            "in the formula the queries are the rows of Q, so row i of QK^T holds query i's"
            " scores; a softmax down each column normalises over the queries, and the"
            " weights query 1 gives the values no longer sum to 1 (two tokens). The"
            " column picture of the notes has queries as columns: there a column"
            " softmax is right, but it is the transpose of the formula"
        ),
        correction=Correction(
            r"\text{softmax over each row (over the keys, for each query) of } QK^T/\sqrt{d_k}",
            sp.Add(*by_row.row(0)),
            1,
        ),
    )


def _softmax_rows(scores: sp.Matrix) -> list[list[Any]]:
    return [_softmax(list(scores.row(i))) for i in range(scores.rows)]


def _scaled_variance() -> NoteClaim:
    """E[(q . k / sqrt(d))^2] for independent mean-0, variance-1 entries."""
    dim = 4
    qs, ks = _vec("q", dim), _vec("k", dim)
    square = sp.expand(((qs.T * ks)[0]) ** 2 / dim)
    second_moments = {v**2: 1 for v in [*qs, *ks]}
    # Every monomial is q_i q_j k_i k_j: its mean is 1 when i == j, else 0.
    means = (term.subs(second_moments) for term in square.as_ordered_terms())
    expectation = sp.Add(*[m for m in means if m.is_number])
    return NoteClaim(
        "scaled-scores-unit-variance",
        ATT,
        r"\text{softmax}\left(\frac{QK^T}{\sqrt{d_k}}\right) \text{ for numerical stability}",
        expectation,
        1,
        reason=(
            "entries of q and k independent, mean 0, variance 1: q . k has variance d_k,"
            " q . k / sqrt(d_k) variance 1 (d_k = 4)"
        ),
    )


def _projection_shapes() -> Iterator[NoteClaim]:
    embed, qk = GPT3["d_embed"], GPT3["d_query"]
    w_q = sp.MatrixSymbol("W_Q", qk, embed)
    e_4 = sp.MatrixSymbol("E_4", embed, 1)
    yield NoteClaim(
        "wq-shape",
        ATT,
        r"W_k, W_q \text{ both size } n\_embed \times n\_query\_key",
        sp.Matrix([[embed, qk]]),
        sp.Matrix([[(w_q * e_4).shape[0], e_4.shape[0]]]),
        reason=(
            "W_Q E_4 = Q_4 maps an n_embed vector to an n_query_key one: W_Q is"
            " n_query_key x n_embed (128 x 12,288), the transpose of the notes' shape"
        ),
        correction=Correction(
            r"W_k, W_q: n\_query\_key \times n\_embed",
            sp.Matrix([[qk, embed]]),
            sp.Matrix([[(w_q * e_4).shape[0], e_4.shape[0]]]),
        ),
    )
    yield NoteClaim(
        "low-rank-value",
        ATT,
        r"W_v = W_{vp} W_{vd}: \text{ fewer weights than } n\_embed \times n\_embed",
        _lt(sp.Integer(2 * embed * qk), sp.Integer(embed**2)),
        reason="2 x 12,288 x 128 = 3,145,728 against 150,994,944",
    )
    yield NoteClaim(
        "output-matrix-square",
        ATT,
        r"\text{the output matrix: the } W_{vp} \text{ stapled together}",
        sp.Integer(GPT3["n_heads"] * qk),
        sp.Integer(embed),
        reason="96 heads x 128 columns = 12,288: the output matrix is n_embed x n_embed",
    )


def _mlp() -> Iterator[NoteClaim]:
    e_m = sp.Symbol("e_M", real=True)
    yield NoteClaim(
        "jordan-michael",
        MLP,
        r"\vec{E} \cdot \text{Jordan} = \vec{E} \cdot \text{Michael} \Rightarrow"
        r" \vec{E} \text{ encodes both}",
        e_m,
        1,
        reason=(
            "equal dot products hold whenever E . Michael = E . Jordan = t, for every t,"
            " t = 0 (neither name) included; encoding both needs each to be about 1"
            " (orthonormal name directions, E . Michael = E . Jordan = t)"
        ),
        correction=Correction(
            r"\vec{E} \cdot \text{Michael} \approx 1 \text{ and } \vec{E} \cdot"
            r" \text{Jordan} \approx 1",
            (sp.Matrix([1, 1]).T * sp.Matrix([1, 0]))[0],
            1,
            domain={},
        ),
    )
    rows = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"R_{i}{j}", real=True))
    emb = _vec("E", 2)
    yield NoteClaim(
        "mlp-rows-probe",
        MLP,
        r"M \cdot \bar{E} = (\bar{R}_0 \cdot \bar{E}, \bar{R}_1 \cdot \bar{E}, \dots)",
        rows * emb,
        sp.Matrix([(rows.row(i) * emb)[0] for i in range(3)]),
        reason="three rows, d = 2",
    )
    relu_z = relu(z)
    yield NoteClaim(
        "relu-negative-to-zero",
        MLP,
        r"\text{ReLU turns all negative values to } 0",
        relu_z,
        0,
        domain={z: sp.Interval.open(-sp.oo, 0)},
    )
    yield NoteClaim(
        "relu-positive-unchanged",
        MLP,
        r"\text{and leaves all positive values unchanged}",
        relu_z,
        z,
        domain={z: POSITIVE},
    )
    c = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"c_{i + 1}{j + 1}", real=True))
    n_vec = _vec("n", 2)
    stacked_rows = c  # row i is c_i
    weighted = n_vec[0] * c.row(0).T + n_vec[1] * c.row(1).T
    yield NoteClaim(
        "down-projection-rows",
        MLP,
        r"\begin{bmatrix} -c_1- \\ -c_2- \end{bmatrix} \cdot"
        r" \begin{bmatrix} n_1 \\ \vdots \end{bmatrix} = n_1 c_1 + n_2 c_2 + \dots",
        stacked_rows * n_vec,
        weighted,
        reason=(
            "with c_i as rows the product is (c_1 . n, c_2 . n); n_1 c_1 + n_2 c_2 needs"
            " the c_i as columns, as the notes say later (two neurons, d = 2)"
        ),
        correction=Correction(
            r"\begin{bmatrix} | & | \\ c_1 & c_2 \\ | & | \end{bmatrix}"
            r" \begin{bmatrix} n_1 \\ n_2 \end{bmatrix} = n_1 c_1 + n_2 c_2",
            stacked_rows.T * n_vec,
            weighted,
        ),
    )
    count = sp.Symbol("n", integer=True, positive=True)
    for letter, where in (("R", "M"), ("C", "the down-projection")):
        yield NoteClaim(
            f"{letter.lower()}-index-range",
            MLP,
            rf"\bar{{{letter}}}_0, \dots, \bar{{{letter}}}_n \text{{ and later }}"
            rf" \bar{{{letter}}}_0 - \bar{{{letter}}}_{{n-1}}",
            count + 1,
            count,
            domain={count: (1, 8)},
            reason=(
                f"the vectors of {where} are listed as 0..n (n + 1 of them) and later"
                " as 0..n-1 (n of them)"
            ),
            correction=Correction(
                rf"\bar{{{letter}}}_0, \dots, \bar{{{letter}}}_{{n-1}}"
                r" \text{ throughout (} n \text{ vectors)}",
                sp.Integer(len(range(0, 5))),
                sp.Integer(5),
                domain={},
            ),
        )


# ----------------------------------------------------------------------------------------
# Checking
# ----------------------------------------------------------------------------------------

_SECTIONS: tuple[Callable[[], Iterator[NoteClaim]], ...] = (
    _logistic,
    _deriving_bce,
    _softmax_claims,
    _neural_networks,
    _backprop,
    _gpt3,
    _attention,
    _mlp,
)


@functools.cache
def claims() -> tuple[NoteClaim, ...]:
    """Every claim, in the order of the notes."""
    out = tuple(c for section in _SECTIONS for c in section())
    ids = [c.id for c in out]
    duplicated = {i for i in ids if ids.count(i) > 1}
    if duplicated:
        raise RuntimeError(f"claim ids must be unique: {sorted(duplicated)}")
    return out


def check_claim_entry(claim: NoteClaim, *, budget_s: float = CLAIM_BUDGET_S) -> ClaimCheck:
    """Check one claim and, when it is refuted, its correction."""
    verdict = check_equal(claim.lhs, claim.rhs, domain=claim.domain, budget_s=budget_s)
    fix = claim.correction
    corrected = None
    if fix is not None and verdict.refuted:
        domain = claim.domain if fix.domain is None else fix.domain
        corrected = check_equal(fix.lhs, fix.rhs, domain=domain, budget_s=budget_s)
    return ClaimCheck(claim, verdict, corrected)


def _check_by_id(task: tuple[str, float]) -> tuple[Verdict, Verdict | None]:
    """In a worker: the verdicts on one claim and its correction."""
    claim_id, budget_s = task
    result = check_claim_entry(_by_id()[claim_id], budget_s=budget_s)
    return result.verdict, result.correction


@functools.cache
def _by_id() -> dict[str, NoteClaim]:
    return {c.id: c for c in claims()}


def check_notes(
    ids: Sequence[str] | None = None,
    *,
    budget_s: float = CLAIM_BUDGET_S,
    on_done: Callable[[ClaimCheck], None] | None = None,
    jobs: int | None = None,
) -> list[ClaimCheck]:
    """Check the claims (all, or those named) on ``jobs`` cores (default: those
    available), calling ``on_done`` as each finishes; results in the notes' order."""
    known = _by_id()
    chosen = list(known) if ids is None else list(ids)
    unknown = [i for i in chosen if i not in known]
    if unknown:
        raise ValueError(f"no claim named {', '.join(unknown)}; see `verigrad notes`")

    checks: dict[str, ClaimCheck] = {}

    def finished(task: tuple[str, float], verdicts: tuple[Verdict, Verdict | None]) -> None:
        checks[task[0]] = ClaimCheck(known[task[0]], *verdicts)
        if on_done is not None:
            on_done(checks[task[0]])

    run_parallel(_check_by_id, [(i, budget_s) for i in chosen], jobs=jobs, on_result=finished)
    return [checks[i] for i in chosen]


def separation(check: ClaimCheck, dps: int = SEPARATION_DPS) -> tuple[Any, Any]:
    """The two sides at the counterexample, evaluated at ``dps`` digits.

    For a relation, the relation's value there (``False``) and ``True``.
    """
    point = check.verdict.counterexample or {}
    lhs = _at(check.claim.lhs, point, dps)
    rhs = _at(check.claim.rhs, point, dps)
    return lhs, rhs


def _at(expr: Any, point: Mapping[Any, Any], dps: int) -> Any:
    if expr is True or expr is sp.true:
        return True
    exact = {k: sp.Rational(v) if isinstance(v, float) else sp.sympify(v) for k, v in point.items()}
    substituted = sp.sympify(expr).subs(exact)
    substituted = substituted.doit()
    if isinstance(substituted, sp.MatrixBase):
        return substituted.evalf(dps)
    if isinstance(substituted, sp.logic.boolalg.Boolean):
        return bool(substituted)
    return sp.N(substituted, dps)
