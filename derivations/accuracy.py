"""How accurate the shipped NumPy functions are, measured now.

Two figures per function, both measured when this runs (the book prints them):

* **ulps**: the error of the float64 result against the SymPy definition
  evaluated to 50 significant digits (:func:`derivations.highprec.reference`),
  in units in the last place of the true value rounded to float64, over a
  grid that includes the extremes (z up to +-745, logits up to 700), counted
  wherever the true value is a normal float64;
* **three-way agreement**, for gradients: the implementation, the symbolic
  derivative evaluated at 50 digits, and a finite difference
  (:func:`numeric.complex_step`), as the largest relative difference of the
  implementation from each of the other two.

Functions that a later topic adds (``numeric.losses``, ...) are measured when
they exist.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy as sp

import numeric
from derivations.functions import expand_primitives, sigmoid
from derivations.highprec import reference

__all__ = [
    "AccuracyRow",
    "is_normal",
    "measure_all",
    "scalar_functions",
    "scalar_grid",
    "ulps",
]

TINY = np.finfo(np.float64).tiny
z = sp.Symbol("z", real=True)


@dataclass(frozen=True)
class AccuracyRow:
    """One function's figures: worst and median ulps, and (for gradients) agreement."""

    function: str
    inputs: str
    points: int
    max_ulp: float
    median_ulp: float
    # Gradients: largest relative difference of the implementation from the symbolic
    # derivative (50 digits), and from a complex-step finite difference.
    vs_symbolic: float | None = None
    vs_finite_difference: float | None = None
    elapsed_s: float = 0.0


def ulps(computed: float, exact: Any) -> float:
    """|computed - exact| in units in the last place of ``exact`` rounded to float64.

    ``exact`` is an mpmath number (or anything ``mpmath.mpf`` takes); the
    difference is taken at 60 digits, so this is the error of ``computed``
    itself, not of a rounded reference.  A NaN or infinite ``computed`` (the exact
    value being finite) is infinitely many ulps off, so that taking the worst of
    several errors cannot pass over it (``max(0.0, nan)`` is 0.0).
    """
    if not math.isfinite(computed):
        return math.inf
    with mpmath.workdps(60):
        value = mpmath.mpf(exact)
        spacing = float(np.spacing(abs(float(value))))
        return float(abs(mpmath.mpf(computed) - value) / spacing)


def is_normal(value: mpmath.mpf) -> bool:
    return TINY <= abs(float(value)) <= np.finfo(np.float64).max


def worst_ulps(got: Any, exact: Sequence[Any]) -> float:
    """The largest :func:`ulps` of ``got`` (flattened) against ``exact``, over the entries
    whose exact value is a normal float64 (the domain of the ulp bars); 0 if none is."""
    errors = [ulps(float(g), e) for g, e in zip(np.ravel(got), exact) if is_normal(e)]
    return max(errors, default=0.0)


def scalar_grid() -> np.ndarray:
    """z from -745 to 745: a coarse sweep, the places where formulas switch, the ends."""
    sweep = np.linspace(-745.0, 745.0, 149)
    special = [0.0, 1e-300, 1e-10, 0.5, 1.0, 18.0, 36.7, 37.0, 40.0, 709.0, 709.8, 744.0]
    return np.unique(np.concatenate([sweep, special, -np.asarray(special)]))


def scalar_functions() -> Iterator[tuple[str, Callable[[np.ndarray], np.ndarray], sp.Expr]]:
    yield "sigmoid", numeric.sigmoid, sigmoid(z)
    yield "sigmoid_grad", numeric.sigmoid_grad, sigmoid(z) * sigmoid(-z)
    yield "log_sigmoid", numeric.log_sigmoid, -sp.log(1 + sp.exp(-z))
    yield "softplus", numeric.softplus, sp.log(1 + sp.exp(z))


def _measure_scalar(
    name: str, fn: Callable[[np.ndarray], np.ndarray], expr: sp.Expr
) -> AccuracyRow:
    start = time.monotonic()
    grid = scalar_grid()
    computed = fn(grid)
    exact = reference(expand_primitives(expr), [z])
    errors = []
    for x, got in zip(grid, computed):
        want = exact(mpmath.mpf(float(x)))
        if is_normal(want):
            errors.append(ulps(float(got), want))
    return AccuracyRow(
        f"numeric.{name}",
        "z in [-745, 745]",
        len(errors),
        max(errors),
        float(np.median(errors)),
        elapsed_s=time.monotonic() - start,
    )


def _logit_vectors(k: int = 5, count: int = 24, seed: int = 0) -> list[np.ndarray]:
    """Logits at scales 1 to 700, one dominant class included."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(1.0, 700.0, count)
    vectors = [rng.standard_normal(k) * s for s in scales]
    vectors.append(np.array([50.0, 0.0, -3.0, 1.0, 2.0]))  # dominant class, loss ~1e-21
    return vectors


def _vector_reference(k: int) -> tuple[list[sp.Symbol], list[sp.Expr], sp.Expr]:
    zs = list(sp.symbols(f"z_1:{k + 1}", real=True))
    lse = sp.log(sp.Add(*[sp.exp(v) for v in zs]))
    return zs, [v - lse for v in zs], lse


def _measure_vector(name: str) -> AccuracyRow:
    start = time.monotonic()
    vectors = _logit_vectors()
    k = len(vectors[0])
    zs, log_sm, lse = _vector_reference(k)
    if name == "logsumexp":
        targets = [lse]
    elif name == "log_softmax":
        targets = log_sm
    else:
        targets = [sp.exp(e) for e in log_sm]
    exacts = [reference(e, zs) for e in targets]
    fn = getattr(numeric, name)
    errors = []
    for v in vectors:
        got = np.atleast_1d(fn(v))
        point = [mpmath.mpf(float(x)) for x in v]
        for j, exact in enumerate(exacts):
            want = exact(*point)
            if is_normal(want):
                errors.append(ulps(float(got[j]), want))
    return AccuracyRow(
        f"numeric.{name}",
        f"K = {k}, |z| up to 700",
        len(errors),
        max(errors),
        float(np.median(errors)),
        elapsed_s=time.monotonic() - start,
    )


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.maximum(np.abs(b), TINY)
    return float(np.max(np.abs(a - b) / scale))


def _agreement_sigmoid_grad() -> tuple[float, float]:
    """sigmoid_grad against the symbolic derivative (50 digits) and the complex step."""
    points = np.linspace(-30.0, 30.0, 61)
    derivative = reference(sigmoid(z).diff(z), [z])
    symbolic = np.array([float(derivative(mpmath.mpf(float(x)))) for x in points])
    implemented = numeric.sigmoid_grad(points)
    finite = np.array([numeric.complex_step(numeric.sigmoid, np.array([x]))[0, 0] for x in points])
    return _relative(implemented, symbolic), _relative(implemented, finite)


def _agreement_softmax_jacobian() -> tuple[float, float]:
    """softmax_jacobian against d softmax_i / d z_j (50 digits) and the complex step,
    relative to the largest entry of the Jacobian."""
    k = 4
    zs = list(sp.symbols(f"z_1:{k + 1}", real=True))
    total = sp.Add(*[sp.exp(v) for v in zs])
    probs = [sp.exp(v) / total for v in zs]
    exact = [[reference(probs[i].diff(zs[j]), zs) for j in range(k)] for i in range(k)]
    worst_symbolic = worst_finite = 0.0
    for v in _logit_vectors(k=k, count=6, seed=1)[:-1]:
        v = v / np.max(np.abs(v)) * 20  # keep every entry of the Jacobian normal
        point = [mpmath.mpf(float(x)) for x in v]
        symbolic = np.array([[float(exact[i][j](*point)) for j in range(k)] for i in range(k)])
        implemented = numeric.softmax_jacobian(v)
        finite = numeric.complex_step(numeric.softmax, v)
        # Norm-wise: the complex step's error is about eps |softmax| ~ 1e-16 in
        # every entry, large beside a Jacobian whose entries are all ~1e-9.
        scale = np.max(np.abs(symbolic))
        worst_symbolic = max(worst_symbolic, float(np.max(np.abs(implemented - symbolic)) / scale))
        worst_finite = max(worst_finite, float(np.max(np.abs(implemented - finite)) / scale))
    return worst_symbolic, worst_finite


def _agreements() -> dict[str, tuple[float, float]]:
    return {
        "numeric.sigmoid_grad": _agreement_sigmoid_grad(),
        "numeric.softmax_jacobian": _agreement_softmax_jacobian(),
    }


def _optional(module: str, name: str) -> Callable[..., np.ndarray] | None:
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


def _measure_bce_with_logits() -> list[AccuracyRow]:
    """bce_with_logits(z, y) and its gradient sigma(z) - y, hard labels, against
    softplus(z) - y z and its derivative at 50 digits; the gradient also against
    Ridders' extrapolation on the loss."""
    loss_fn = _optional("numeric.losses", "bce_with_logits")
    grad_fn = _optional("numeric.losses", "bce_with_logits_grad")
    if loss_fn is None or grad_fn is None:
        return []
    y = sp.Symbol("y", real=True)
    loss_expr = sp.log(1 + sp.exp(z)) - y * z
    rows = []
    for name, fn, expr in (
        ("bce_with_logits", loss_fn, loss_expr),
        ("bce_with_logits_grad", grad_fn, loss_expr.diff(z)),
    ):
        start = time.monotonic()
        exact = reference(expr, [z, y])
        errors = []
        for label in (0.0, 1.0):
            grid = scalar_grid()
            got = np.ravel(fn(grid, np.full_like(grid, label)))
            for x, g in zip(grid, got):
                want = exact(mpmath.mpf(float(x)), mpmath.mpf(label))
                if is_normal(want):
                    errors.append(ulps(float(g), want))
        symbolic = finite = None
        if name == "bce_with_logits_grad":
            symbolic, finite = _agreement_bce_grad(loss_fn, grad_fn, exact)
        rows.append(
            AccuracyRow(
                f"numeric.{name}",
                "y in {0, 1}, |z| <= 745",
                len(errors),
                max(errors),
                float(np.median(errors)),
                symbolic,
                finite,
                elapsed_s=time.monotonic() - start,
            )
        )
    return rows


def _agreement_bce_grad(
    loss_fn: Callable[..., np.ndarray], grad_fn: Callable[..., np.ndarray], exact: Any
) -> tuple[float, float]:
    """The gradient against the 50-digit derivative and Ridders, |z| <= 30."""
    points = np.linspace(-30.0, 30.0, 61)
    worst_symbolic = worst_finite = 0.0
    for label in (0.0, 1.0):
        labels = np.full_like(points, label)
        implemented = grad_fn(points, labels)
        symbolic = np.array([float(exact(mpmath.mpf(float(x)), mpmath.mpf(label))) for x in points])
        # The stable form uses |z|, not analytic: Ridders' extrapolation, not the complex step.
        finite = np.array(
            [
                numeric.ridders(lambda a, lab=label: loss_fn(a, np.full(a.shape, lab)), [x])[0][
                    0, 0
                ]
                for x in points
            ]
        )
        worst_symbolic = max(worst_symbolic, _relative(implemented, symbolic))
        worst_finite = max(worst_finite, _relative(implemented, finite))
    return worst_symbolic, worst_finite


def _measure_cross_entropy() -> list[AccuracyRow]:
    """cross_entropy for every target, and cross_entropy_grad entries (s_c - [c = t]) / K,
    against -log softmax and its derivative at 50 digits; the gradient also against the
    complex step of the loss."""
    loss_fn = _optional("numeric.losses", "cross_entropy")
    grad_fn = _optional("numeric.losses", "cross_entropy_grad")
    if loss_fn is None or grad_fn is None:
        return []
    start = time.monotonic()
    vectors = _logit_vectors()
    k = len(vectors[0])
    zs, log_sm, _ = _vector_reference(k)
    losses = [reference(-e, zs) for e in log_sm]
    probs = [reference(sp.exp(e), zs) for e in log_sm]
    loss_errors, grad_errors = [], []
    worst_symbolic = worst_finite = 0.0
    targets = np.arange(k)
    for v in vectors:
        point = [mpmath.mpf(float(x)) for x in v]
        tiled = np.tile(v, (k, 1))
        got_loss = loss_fn(tiled, targets)
        got_grad = grad_fn(tiled, targets)
        s = [p(*point) for p in probs]
        for t in range(k):
            want = losses[t](*point)
            if is_normal(want):
                loss_errors.append(ulps(float(got_loss[t]), want))
            for c in range(k):
                with mpmath.workdps(60):
                    want = (s[c] - (1 if c == t else 0)) / k
                if is_normal(want):
                    grad_errors.append(ulps(float(got_grad[t, c]), want))
        if np.max(np.abs(v)) <= 20:  # the complex step's h f' stays a normal number
            for t in range(k):
                symbolic = np.array([float(s[c] - (c == t)) for c in range(k)])
                finite = numeric.complex_step(lambda a, t=t: loss_fn(a, t), v)
                implemented = grad_fn(v, t)
                worst_symbolic = max(worst_symbolic, _relative(implemented, symbolic))
                worst_finite = max(worst_finite, _relative(implemented, finite))
    elapsed = time.monotonic() - start
    inputs = f"K = {k}, |z| up to 700"  # every target: the docstring says so
    return [
        AccuracyRow(
            "numeric.cross_entropy",
            inputs,
            len(loss_errors),
            max(loss_errors),
            float(np.median(loss_errors)),
            elapsed_s=elapsed / 2,
        ),
        AccuracyRow(
            "numeric.cross_entropy_grad",
            inputs,
            len(grad_errors),
            max(grad_errors),
            float(np.median(grad_errors)),
            worst_symbolic,
            worst_finite,
            elapsed_s=elapsed / 2,
        ),
    ]


def measure_all(on_done: Callable[[AccuracyRow], None] | None = None) -> list[AccuracyRow]:
    """Every figure, measured now; ``on_done`` is called as each row finishes."""
    rows: list[AccuracyRow] = []

    def done(row: AccuracyRow | None) -> None:
        if row is None:
            return
        rows.append(row)
        if on_done is not None:
            on_done(row)

    agreements = _agreements()
    for name, fn, expr in scalar_functions():
        row = _measure_scalar(name, fn, expr)
        symbolic, finite = agreements.get(row.function, (None, None))
        done(dataclasses.replace(row, vs_symbolic=symbolic, vs_finite_difference=finite))
    for name in ("logsumexp", "log_softmax", "softmax"):
        done(_measure_vector(name))
    done(
        AccuracyRow(
            "numeric.softmax_jacobian",
            "K = 4, |z| up to 20",
            5 * 16,
            math.nan,
            math.nan,
            *agreements["numeric.softmax_jacobian"],
        )
    )
    for row in [*_measure_bce_with_logits(), *_measure_cross_entropy()]:
        done(row)
    return rows


def row_text(row: AccuracyRow) -> str:
    """One line: the function, worst and median ulps, agreement."""
    ulp = (
        "" if math.isnan(row.max_ulp) else f"max {row.max_ulp:.2f} ulp, median {row.median_ulp:.2f}"
    )
    agree = (
        ""
        if row.vs_symbolic is None
        else f"vs symbolic {row.vs_symbolic:.1e}, vs f.d. {row.vs_finite_difference:.1e}"
    )
    parts = ", ".join(p for p in (ulp, agree) if p)
    return f"{row.function:<34} {parts} ({row.points} points, {row.inputs}; {row.elapsed_s:.1f} s)"


def rows_latex(rows: Sequence[AccuracyRow]) -> str:
    """A LaTeX table of the rows."""
    from derivations.render import escape_tex

    lines = [
        r"\begin{longtable}{@{}l l r r r r r@{}}",
        r"function & inputs & points & max ulp & median & vs symbolic & vs f.d. \\ \hline",
    ]
    for r in rows:
        cells = " & ".join(_cells(r))
        lines.append(
            rf"\texttt{{{escape_tex(r.function.removeprefix('numeric.'))}}} & "
            rf"{escape_tex(r.inputs)} & {r.points} & {cells} \\"
        )
    lines.append(r"\end{longtable}")
    return "\n".join(lines)


def _cells(r: AccuracyRow) -> tuple[str, str, str, str]:
    def fmt(x: float | None, spec: str) -> str:
        return "--" if x is None or math.isnan(x) else format(x, spec)

    return (
        fmt(r.max_ulp, ".2f"),
        fmt(r.median_ulp, ".2f"),
        fmt(r.vs_symbolic, ".1e"),
        fmt(r.vs_finite_difference, ".1e"),
    )


def rows_markdown(rows: Sequence[AccuracyRow]) -> str:
    """A Markdown table of the rows."""
    lines = [
        "| function | inputs | points | max ulp | median ulp | vs symbolic | vs finite diff. |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = " | ".join(_cells(r))
        lines.append(f"| `{r.function}` | {r.inputs} | {r.points} | {cells} |")
    return "\n".join(lines)
