"""The figures: where a picture says more than numbers.

Five figures, each drawn from data computed here (NumPy, and mpmath for the
50-digit references of :mod:`derivations.highprec`) with matplotlib, an
optional extra (``pip install 'verigrad[plot]'``):

1. ``sigmoid``: sigma and sigma' = sigma (1 - sigma), with the bound sigma' <= 1/4;
2. ``softmax-temperature``: softmax((1, 2, 8) / T) against the temperature T;
3. ``finite-differences``: the error of the central difference, Ridders'
   extrapolation and the complex step against the step h (the V of truncation
   ~h^2 against round-off ~eps/h), with the h that :mod:`numeric.finite_diff` uses;
4. ``ulp-error``: the error in ulps of :mod:`numeric`'s sigmoid, log_sigmoid,
   softplus (and bce_with_logits) across z in [-745, 745], beside the naive
   formulas and SciPy, NumPy and PyTorch where installed;
5. ``attention``: the attention weights of a fixed example over the notes'
   sentence, without and with the causal mask.

The data functions need only NumPy and mpmath, so the tests assert properties
of the data (the V really is a V), not of pixels.  :func:`build_figures`
returns the matplotlib Figures (drawn with the Agg canvas, no pyplot state);
:func:`write_all` writes each as PNG and SVG and returns (PNG path, caption)
pairs for the derivation book.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import sympy as sp

import numeric
from derivations import functions as F
from derivations.highprec import reference
from numeric.finite_diff import COMPLEX_STEP_H

__all__ = [
    "ATTENTION_TOKENS",
    "INSTALL_HINT",
    "SOFTMAX_LOGITS",
    "MissingExtra",
    "Plot",
    "StepErrors",
    "UlpCurve",
    "UlpPanel",
    "attention_weights",
    "build_figures",
    "finite_difference_errors",
    "require_matplotlib",
    "sigmoid_curves",
    "softmax_temperatures",
    "ulp_errors",
    "ulp_grid",
    "write_all",
]

Array = np.ndarray[Any, np.dtype[Any]]
EPS = float(np.finfo(np.float64).eps)
INSTALL_HINT = "pip install 'verigrad[plot]'"
SOFTMAX_LOGITS = (1.0, 2.0, 8.0)  # the notes' example: softmax((1, 2, 8)) = (0.001, 0.002, 0.997)
ATTENTION_TOKENS = ("a", "fluffy", "blue", "creature", "roamed", "the", "verdant", "forest")
# The ulp figure draws 0 ulp at ULP_FLOOR (log scale) and a non-finite result at ULP_CEILING.
ULP_FLOOR, ULP_CEILING = 0.5, 1e18
ULP_RANGE = 745.0  # e^-745 is about the smallest subnormal, 4.9e-324


class MissingExtra(ImportError):
    """matplotlib is not installed: the plots need the optional extra ``plot``."""


def require_matplotlib() -> None:
    """Raise :class:`MissingExtra` (naming the extra to install) when matplotlib is absent."""
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        raise MissingExtra(f"the plots need matplotlib: {INSTALL_HINT}") from None


# ----- data: NumPy and mpmath only ---------------------------------------------------------


def sigmoid_curves(z: Array | None = None) -> tuple[Array, Array, Array]:
    """(z, sigma(z), sigma'(z)) on z in [-8, 8] unless z is given; sigma' <= 1/4 = sigma'(0)."""
    z = np.linspace(-8.0, 8.0, 641) if z is None else np.asarray(z, dtype=float)
    return z, numeric.sigmoid(z), numeric.sigmoid_grad(z)


def softmax_temperatures(
    logits: Sequence[float] = SOFTMAX_LOGITS, temperatures: Array | None = None
) -> tuple[Array, Array]:
    """(T, P): P[t, k] = softmax(logits / T_t)_k, shape (len(T), K); T in [0.05, 100] by default."""
    temps = np.logspace(np.log10(0.05), 2.0, 301) if temperatures is None else temperatures
    z = np.asarray(logits, dtype=float)
    probs = np.stack([numeric.softmax(z, temperature=float(t)) for t in temps])
    return np.asarray(temps, dtype=float), probs


@dataclass(frozen=True)
class StepErrors:
    """Relative errors |D - f'(x)| / |f'(x)| of numeric derivatives of sigma at x.

    ``central[i]`` and ``complex_step[i]`` are for step ``h[i]``; ``ridders[i]``
    is numeric.ridders started from ``ridders_h0[i]``, with its own estimate
    ``ridders_estimate[i]``.  ``chosen`` maps each method to (h, error) of
    numeric.finite_diff's own call at x, with the h it uses.
    """

    x: float
    h: Array
    central: Array
    complex_step: Array
    ridders_h0: Array
    ridders: Array
    ridders_estimate: Array
    chosen: dict[str, tuple[float, float]]


def _sigmoid_derivative_exact(x: float) -> Any:
    z = sp.Symbol("z", real=True)
    return reference(sp.diff(F.sigmoid(z), z), [z])(x)


def _relative(values: Sequence[float], exact: Any) -> Array:
    with mpmath.workdps(50):
        return np.array([float(abs(mpmath.mpf(float(v)) - exact) / abs(exact)) for v in values])


def _ridders_from(x: float, h0: float) -> tuple[float, float]:
    """numeric.ridders of sigma at x, started from h0 = 0.1 s for s a power of two.

    ridders starts from 0.1 max(|t|, 1); on g(t) = sigma(x + s t) at t = 0 that is
    the step 0.1 s in x, and g'(0) / s = sigma'(x) exactly (s is a power of two).
    """
    s = h0 / 0.1
    value, estimate = numeric.ridders(lambda t: numeric.sigmoid(x + s * t), [0.0])
    return float(value.ravel()[0]) / s, float(estimate.ravel()[0]) / s


def finite_difference_errors(x: float = 1.0, h: Array | None = None) -> StepErrors:
    """The V: errors of each method against h for sigma at x, against the 50-digit sigma'(x).

    Central: (sigma(x + h) - sigma(x - h)) / 2h, truncation ~ h^2 |sigma'''| / 6 against
    round-off ~ eps |sigma| / h.  Complex step: Im sigma(x + i h) / h, truncation ~ h^2,
    no round-off of a difference.  Ridders: started from 0.1 2^k for k = -40 .. 3.
    """
    steps = np.logspace(-22.0, 0.0, 221) if h is None else np.asarray(h, dtype=float)
    exact = _sigmoid_derivative_exact(x)
    sig = numeric.sigmoid
    central = (sig(x + steps) - sig(x - steps)) / (2 * steps)
    complex_step = sig(x + 1j * steps).imag / steps
    h0 = 0.1 * 2.0 ** np.arange(-40, 4)
    ridders = [_ridders_from(x, float(h)) for h in h0]
    chosen_central = EPS ** (1 / 3) * max(abs(x), 1.0)  # numeric.finite_diff's central step
    own_ridders, _ = numeric.ridders(sig, [x])
    chosen = {
        "central": (chosen_central, numeric.central_difference(sig, [x]).item()),
        "Ridders": (0.1 * max(abs(x), 1.0), own_ridders.item()),
        "complex step": (COMPLEX_STEP_H, numeric.complex_step(sig, [x]).item()),
    }
    return StepErrors(
        x=x,
        h=steps,
        central=_relative(central, exact),
        complex_step=_relative(complex_step, exact),
        ridders_h0=h0,
        ridders=_relative([r for r, _ in ridders], exact),
        ridders_estimate=np.array([e for _, e in ridders]) / float(abs(exact)),
        chosen={k: (h, float(_relative([v], exact)[0])) for k, (h, v) in chosen.items()},
    )


@dataclass(frozen=True)
class UlpCurve:
    """Errors in ulps of one implementation at the points z (inf: a non-finite result)."""

    label: str
    kind: str  # "verigrad", "naive", "scipy", "numpy" or "torch"
    z: Array
    ulps: Array

    @property
    def worst(self) -> float:
        return float(np.max(self.ulps))


@dataclass(frozen=True)
class UlpPanel:
    """One function: its name, formula (mathtext) and the curves compared."""

    name: str
    formula: str
    curves: tuple[UlpCurve, ...]


def ulps(computed: Array, exact: Sequence[Any]) -> Array:
    """|computed - ref| / spacing(|ref|), ref = exact rounded to float64; inf where not finite."""
    ref = np.array([float(e) for e in exact])
    computed = np.asarray(computed, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(computed - ref) / np.spacing(np.abs(ref))
    return np.where(np.isfinite(computed) & np.isfinite(err), err, np.inf)


BCE_LABEL = 0.25  # a soft label: bce_with_logits(z, y) = softplus(z) - y z


def _naive(name: str, z: Array) -> Array:
    """The textbook formulas, which overflow or cancel: why the stable forms matter."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if name == "sigmoid":
            return 1 / (1 + np.exp(-z))
        if name == "log_sigmoid":
            return -np.log(1 + np.exp(-z))
        if name == "softplus":
            return np.log(1 + np.exp(z))
        s = 1 / (1 + np.exp(-z))
        return -(BCE_LABEL * np.log(s) + (1 - BCE_LABEL) * np.log(1 - s))


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _comparisons(name: str, z: Array) -> list[tuple[str, str, Callable[[], Array]]]:
    """(label, kind, thunk) for each installed library that has this function."""
    out: list[tuple[str, str, Callable[[], Array]]] = []
    special = _optional("scipy.special")
    if special is not None and name == "sigmoid":
        out.append(("SciPy expit", "scipy", lambda: special.expit(z)))
    if special is not None and name == "log_sigmoid":
        out.append(("SciPy log_expit", "scipy", lambda: special.log_expit(z)))
    if name == "softplus":
        out.append(("NumPy logaddexp(0, z)", "numpy", lambda: np.logaddexp(0.0, z)))
    torch = _optional("torch")
    if torch is not None:
        nnf = torch.nn.functional
        t = torch.from_numpy(z)
        fns = {
            "sigmoid": ("PyTorch sigmoid", lambda: torch.sigmoid(t)),
            "log_sigmoid": ("PyTorch logsigmoid", lambda: nnf.logsigmoid(t)),
            "softplus": ("PyTorch softplus", lambda: nnf.softplus(t)),
            "bce_with_logits": (
                "PyTorch BCE",
                lambda: nnf.binary_cross_entropy_with_logits(
                    t, torch.full_like(t, BCE_LABEL), reduction="none"
                ),
            ),
        }
        label, fn = fns[name]
        out.append((label, "torch", lambda: fn().numpy()))
    return out


def _ulp_functions() -> list[tuple[str, str, Callable[[Array], Array], Any]]:
    """(name, formula, numeric implementation, SymPy expression in z) per panel."""
    z = sp.Symbol("z", real=True)
    panels: list[tuple[str, str, Callable[[Array], Array], Any]] = [
        ("sigmoid", r"$\sigma(z) = 1/(1+e^{-z})$", numeric.sigmoid, F.sigmoid(z)),
        ("log_sigmoid", r"$\log\sigma(z)$", numeric.log_sigmoid, F.log_sigmoid(z)),
        ("softplus", r"$\mathrm{softplus}(z) = \log(1+e^{z})$", numeric.softplus, F.softplus(z)),
    ]
    losses = _optional("numeric.losses")
    if losses is not None and hasattr(losses, "bce_with_logits"):
        y = sp.Rational(BCE_LABEL)  # 0.25 is exact in binary, so this is exactly 1/4
        panels.append(
            (
                "bce_with_logits",
                r"BCE with logits: $\mathrm{softplus}(z) - yz$, $y = %s$" % BCE_LABEL,
                lambda a: losses.bce_with_logits(a, np.full_like(a, BCE_LABEL)),
                F.softplus(z) - y * z,
            )
        )
    return panels


def ulp_grid(points: int = 601) -> Array:
    """About ``points`` sorted values of z in [-745, 745], symmetric about 0, 0 included.

    Half are geometrically spaced from 0.01 outwards on each side (evenly spread
    on the figure's symmetric-log axis, so the region near 0 is sampled), half
    equally spaced (dense at large |z|, where sigma(z) < 1e-308 for z < -709.8).
    """
    quarter = max(points // 4, 1)
    half = np.concatenate(
        [np.geomspace(1e-2, ULP_RANGE, quarter), np.linspace(0, ULP_RANGE, quarter + 1)[1:]]
    )
    half = np.unique(half)  # sorted; ULP_RANGE is in both parts
    return np.concatenate([-half[::-1], [0.0], half])


def ulp_errors(points: int = 601) -> tuple[list[UlpPanel], list[str]]:
    """Errors in ulps across z in [-745, 745] against the 50-digit reference.

    Returns the panels and a note for each comparison left out because its
    library is not installed.  ``points`` points from :func:`ulp_grid` (the
    reference costs about 2 ms a point).
    """
    z = ulp_grid(points)
    sym = sp.Symbol("z", real=True)
    panels = []
    for name, formula, ours, expr in _ulp_functions():
        exact_at = reference(expr, [sym])
        exact = [exact_at(float(v)) for v in z]
        curves = [UlpCurve("naive formula", "naive", z, ulps(_naive(name, z), exact))]
        for label, kind, thunk in _comparisons(name, z):
            curves.append(UlpCurve(label, kind, z, ulps(thunk(), exact)))
        curves.append(UlpCurve("verigrad", "verigrad", z, ulps(ours(z), exact)))
        panels.append(UlpPanel(name, formula, tuple(curves)))
    missing = [
        f"{lib} not installed: not shown"
        for lib, module in (("SciPy", "scipy.special"), ("PyTorch", "torch"))
        if _optional(module) is None
    ]
    return panels, missing


def _attention_example() -> tuple[Array, Array]:
    """Q, K (8 x 4) for the notes' sentence: one head where nouns ask for adjectives.

    Feature 0 of a noun's query and of an adjective's key is 2.5, so a noun's
    score for an adjective is 2.5^2 / sqrt(4) = 3.1; a fixed random part
    (seed 9, scale 0.5) keeps the other rows from being uniform.
    """
    kinds = ("det", "adj", "adj", "noun", "verb", "det", "adj", "noun")
    rng = np.random.default_rng(9)
    q = 0.5 * rng.standard_normal((8, 4))
    k = 0.5 * rng.standard_normal((8, 4))
    q[:, 0] += np.array([2.5 if kind == "noun" else 0.0 for kind in kinds])
    k[:, 0] += np.array([2.5 if kind == "adj" else 0.0 for kind in kinds])
    return q, k


def attention_weights(causal: bool) -> Array:
    """softmax(Q K^T / sqrt(d)) of the fixed example, row i over keys j (j <= i if causal).

    With numeric.attention installed, the weights are attention(Q, K, I): the
    weighted sum of the identity's rows is the weight matrix itself.
    """
    q, k = _attention_example()
    module = _optional("numeric.attention")
    if module is not None and hasattr(module, "attention"):
        return np.asarray(module.attention(q, k, np.eye(len(k)), causal=causal))
    scores = q @ k.T / np.sqrt(q.shape[-1])
    if causal:
        scores = np.where(np.tril(np.ones_like(scores, dtype=bool)), scores, -np.inf)
    return np.asarray(numeric.softmax(scores, axis=-1))


# ----- figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plot:
    """A built figure: its file stem, a one-line caption and the matplotlib Figure."""

    stem: str
    caption: str
    figure: Any


def _figure(width: float, height: float) -> Any:
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_sigmoid() -> Plot:
    """sigma and sigma' on [-8, 8], the bound 1/4 dashed and its maximum sigma'(0) marked."""
    z, s, ds = sigmoid_curves()
    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    ax.plot(z, s, color="C0", lw=2, label=r"$\sigma(z) = 1/(1+e^{-z})$")
    ax.plot(z, ds, color="C1", lw=2, label=r"$\sigma'(z) = \sigma(z)\,(1-\sigma(z))$")
    ax.axhline(0.25, color="C3", ls="--", lw=1, label=r"bound $\sigma'(z) \leq 1/4$")
    ax.plot([0], [0.25], "o", color="C3", label=r"$\sigma'(0) = 1/4$, the maximum")
    ax.set(xlabel="$z$", ylabel="value", xlim=(z[0], z[-1]), ylim=(-0.02, 1.02))
    ax.set_title("The sigmoid and its derivative")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    caption = (
        r"The sigmoid and its derivative: $\sigma'(z) = \sigma(z)(1 - \sigma(z)) \le 1/4$,"
        r" with equality at $z = 0$."
    )
    return Plot("sigmoid", caption, fig)


def figure_softmax_temperature() -> Plot:
    """softmax((1, 2, 8) / T)_k against T on a log scale, one curve per component k."""
    temps, probs = softmax_temperatures()
    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    for k, logit in enumerate(SOFTMAX_LOGITS):
        ax.plot(temps, probs[:, k], lw=2, label=f"component {k + 1} (logit {logit:g})")
    ax.axhline(1 / len(SOFTMAX_LOGITS), color="grey", ls=":", label="uniform 1/K (T to infinity)")
    ax.axvline(1.0, color="grey", ls="--", lw=1, label="T = 1 (plain softmax)")
    ax.set_xscale("log")
    ax.set(xlabel="temperature $T$ (log scale)", ylabel=r"softmax$(z/T)_k$", ylim=(-0.02, 1.02))
    ax.set_title("Softmax of z = (1, 2, 8) as the temperature varies")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="center left")
    caption = (
        "Softmax of the notes' logits (1, 2, 8) against the temperature $T$: "
        "one-hot as $T$ goes to 0, uniform as $T$ grows."
    )
    return Plot("softmax-temperature", caption, fig)


def figure_finite_differences() -> Plot:
    """Relative error against h (log-log) of each method, with the model lines and chosen h."""
    d = finite_difference_errors()
    fig = _figure(10.0, 5.2)
    ax = fig.add_subplot()
    ax.loglog(d.h, d.complex_step, color="C2", lw=3, alpha=0.7, label="complex step")
    ax.loglog(d.h, d.central, color="C0", lw=1.2, label="central difference")
    ax.loglog(d.ridders_h0, d.ridders, color="C1", lw=1.5, label="Ridders (from step $h_0$)")
    ax.loglog(
        d.ridders_h0, d.ridders_estimate, color="C1", ls=":", lw=1.2, label="Ridders' own estimate"
    )
    s = float(numeric.sigmoid(d.x))
    third = abs(1 - 6 * s + 6 * s * s)  # sigma''' / sigma' = 1 - 6 sigma + 6 sigma^2
    guide = {"color": "grey", "lw": 0.8}
    ax.loglog(d.h, d.h**2 * third / 6, ls="--", label=r"truncation $\sim h^2$", **guide)
    round_off = EPS * s / float(numeric.sigmoid_grad(d.x)) / d.h  # eps |f| / (h |f'|)
    ax.loglog(d.h, round_off, ls="-.", label=r"round-off $\sim\epsilon/h$", **guide)
    colours = {"central": "C0", "Ridders": "C1", "complex step": "C2"}
    for method, (h, err) in d.chosen.items():
        ax.plot(
            [h],
            [err],
            marker="*",
            ms=14,
            ls="none",
            color=colours[method],
            markeredgecolor="k",
            label=f"{method}: numeric's h = {h:.2g}",
        )
    ax.annotate(
        "central and complex step:\nthe same truncation error\n"
        r"$h^2\,|\sigma'''(1)|\,/\,6\sigma'(1)$",
        xy=(1e-2, 2e-6),
        xytext=(3e-4, 1e-1),
        fontsize=8,
        ha="center",
        arrowprops={"arrowstyle": "->", "color": "0.3"},
    )
    ax.axhline(EPS, color="k", lw=0.6, alpha=0.5)
    ax.text(3e-22, EPS * 1.6, r"$\epsilon = 2.2\times10^{-16}$", fontsize=8)
    ax.set(xlabel="step $h$", ylabel=r"relative error $|D(h) - \sigma'(1)| / \sigma'(1)$")
    ax.set_ylim(1e-19, 10.0)
    ax.set_title(r"Numeric derivatives of $\sigma$ at $z = 1$: error against step size")
    ax.grid(alpha=0.3, which="major")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    caption = (
        "Error of numeric derivatives of the sigmoid at $z = 1$ against the step $h$: the V of "
        r"central differences (truncation $\sim h^2$ against round-off $\sim\epsilon/h$), "
        "Ridders' extrapolation from each starting step, and the complex step, flat at the "
        "rounding level; stars mark the steps numeric.finite_diff uses."
    )
    return Plot("finite-differences", caption, fig)


_ULP_STYLE = {
    "naive": dict(color="C3", marker="x", s=10, zorder=2),
    "scipy": dict(color="C2", marker="s", s=8, zorder=3),
    "numpy": dict(color="C1", marker="^", s=8, zorder=3),
    "torch": dict(color="C4", marker="D", s=7, zorder=3),
    "verigrad": dict(color="C0", marker="o", s=6, zorder=4),
}


# Where each panel's legend covers no points: away from the z where the naive form fails.
_LEGEND_AT = {"sigmoid": "center right", "softplus": "center right"}


def _worst_text(value: float) -> str:
    return "inf or NaN" if not np.isfinite(value) else f"max {value:.2g} ulp"


def figure_ulp_error(points: int = 601) -> Plot:
    """One panel per function: ulps against z (symmetric log) for each implementation."""
    panels, missing = ulp_errors(points)
    rows = (len(panels) + 1) // 2
    fig = _figure(10.0, 3.6 * rows + 0.6)
    axes = fig.subplots(rows, 2, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        for curve in panel.curves:
            shown = np.where(np.isfinite(curve.ulps), curve.ulps, ULP_CEILING)
            ax.scatter(
                curve.z,
                np.clip(shown, ULP_FLOOR, None),
                label=f"{curve.label}: {_worst_text(curve.worst)}",
                **_ULP_STYLE[curve.kind],
            )
        ax.set_xscale("symlog", linthresh=1.0)
        ticks = [-700, -100, -10, -1, 0, 1, 10, 100, 700]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_yscale("log")
        ax.set_ylim(ULP_FLOOR / 2, ULP_CEILING * 10)
        ax.set(xlabel="$z$ (symmetric log scale)", ylabel="error (ulps)")
        ax.set_title(panel.formula)
        ax.grid(alpha=0.3)
        ax.legend(loc=_LEGEND_AT.get(panel.name, "center left"), fontsize=9)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    note = "; ".join(missing) if missing else "SciPy and PyTorch installed"
    fig.suptitle(
        "Error in ulps against the 50-digit reference, z in [-745, 745]\n"
        f"0 ulp drawn at {ULP_FLOOR}, a non-finite result at {ULP_CEILING:.0e}; {note}",
        fontsize=11,
    )
    caption = (
        r"Error in ulps against the 50-digit reference across $z \in [-745, 745]$: numeric's "
        "stable forms stay within a few ulps where the naive formulas overflow or cancel "
        f"(0 ulp drawn at {ULP_FLOOR}; {note})."
    )
    return Plot("ulp-error", caption, fig)


def figure_attention() -> Plot:
    """The 8 x 8 weights without and with the causal mask, one colour bar, tokens as ticks."""
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    fig = _figure(11.0, 5.0)
    axes = fig.subplots(1, 2)
    cmap = colormaps["viridis"].with_extremes(bad="0.85")
    image = None
    for ax, causal in zip(axes, (False, True)):
        w = attention_weights(causal)
        shown = np.ma.masked_where(np.triu(np.ones_like(w, dtype=bool), 1) & causal, w)
        image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0)
        for i, j in np.ndindex(w.shape):
            if not np.ma.is_masked(shown[i, j]):
                ax.text(
                    j,
                    i,
                    f"{w[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if w[i, j] < 0.5 else "black",
                )
        ticks = range(len(ATTENTION_TOKENS))
        ax.set_xticks(ticks, ATTENTION_TOKENS, rotation=45, ha="right")
        ax.set_yticks(ticks, ATTENTION_TOKENS)
        ax.set(xlabel="key (attended to)", ylabel="query (attending)")
        ax.set_title("causal mask: key j <= query i" if causal else "no mask")
        if causal:
            masked = Patch(facecolor="0.85", edgecolor="0.5", label="masked: j > i (weight 0)")
            ax.legend(handles=[masked], loc="upper right", fontsize=8, framealpha=0.95)
    fig.colorbar(image, ax=axes, label="attention weight", shrink=0.9)
    fig.suptitle(
        r"Attention weights softmax$(QK^\top/\sqrt{d})$ of one head, T = 8:"
        " nouns attend to adjectives"
    )
    caption = (
        "Attention weights of one head over the notes' sentence, without and with the causal "
        "mask: with it, a token attends only to itself and the tokens before it."
    )
    return Plot("attention", caption, fig)


BUILDERS: tuple[Callable[[], Plot], ...] = (
    figure_sigmoid,
    figure_softmax_temperature,
    figure_finite_differences,
    figure_ulp_error,
    figure_attention,
)


def build_figures(*, ulp_points: int = 601) -> list[Plot]:
    """The five figures, in order, not yet written."""
    require_matplotlib()
    return [_build(build, ulp_points) for build in BUILDERS]


def _build(build: Callable[[], Plot], ulp_points: int) -> Plot:
    return figure_ulp_error(ulp_points) if build is figure_ulp_error else build()


def save(plot: Plot, out_dir: Path) -> tuple[Path, Path]:
    """Write ``plot`` as DIR/STEM.png (150 dpi) and DIR/STEM.svg; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png, svg = out_dir / f"{plot.stem}.png", out_dir / f"{plot.stem}.svg"
    from matplotlib import rc_context

    plot.figure.savefig(png, dpi=150, metadata={"Software": None})
    with rc_context({"svg.hashsalt": "verigrad"}):  # the same ids, so the same file each run
        plot.figure.savefig(svg, metadata={"Date": None})
    return png, svg


def write_all(
    out_dir: str | Path,
    *,
    on_written: Callable[[Path, Path, float], None] | None = None,
    ulp_points: int = 601,
) -> list[tuple[Path, str]]:
    """Build and write the five figures as PNG and SVG; (PNG path, caption) pairs in order.

    ``on_written(png, svg, seconds)`` is called as each figure is written.
    Raises :class:`MissingExtra` when matplotlib is absent.
    """
    require_matplotlib()
    out = Path(out_dir)
    written = []
    for build in BUILDERS:
        start = time.monotonic()
        plot = _build(build, ulp_points)
        png, svg = save(plot, out)
        written.append((png, plot.caption))
        if on_written is not None:
            on_written(png, svg, time.monotonic() - start)
    return written
