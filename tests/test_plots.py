"""The figures: properties of the data they draw, and the files `verigrad plots` writes.

The data tests need only NumPy and mpmath and always run; the figure and file
tests are skipped when matplotlib (the extra ``plot``) is absent.
"""

from __future__ import annotations

import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest

import numeric
from derivations import plots
from derivations.cli import main

EPS = float(np.finfo(np.float64).eps)
STEMS = ["sigmoid", "softmax-temperature", "finite-differences", "ulp-error", "attention"]
# Enough points that the equally spaced half of the grid has some in (-745, -709.8),
# where sigma(z) is subnormal and 1 / (1 + exp(-z)) overflows to 0.
ULP_POINTS = 121


# ----- the data ----------------------------------------------------------------------------


def test_sigmoid_derivative_stays_under_the_quarter_bound_and_reaches_it_at_zero() -> None:
    z, s, ds = plots.sigmoid_curves()
    assert np.all(ds <= 0.25)
    assert ds[np.argmin(np.abs(z))] == 0.25  # z = 0 is on the grid; e / (1 + e)^2 at e = 1
    assert np.all(np.diff(s) > 0)


def test_softmax_softens_as_the_temperature_grows() -> None:
    temps, probs = plots.softmax_temperatures()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=4 * EPS)  # a few roundings of a sum
    entropy = -np.sum(probs * np.log(np.maximum(probs, 1e-300)), axis=1)
    assert np.all(np.diff(temps) > 0)
    assert np.all(np.diff(entropy) >= -1e-12)  # non-decreasing, up to rounding of the logs
    top = int(np.argmax(plots.SOFTMAX_LOGITS))
    # One-hot at the coldest end: the others are at most e^(-gap/T) each, the gap being 6.
    assert probs[0, top] >= 1 - 2 * np.exp(-6 / temps[0]) - EPS
    # At T = 100 the scaled logits span 0.07, so p_k / p_j <= e^0.07: within 0.05 of 1/3.
    assert np.max(np.abs(probs[-1] - 1 / 3)) < 0.05


@pytest.fixture(scope="module")
def steps() -> plots.StepErrors:
    return plots.finite_difference_errors()


def test_central_difference_error_is_a_v(steps: plots.StepErrors) -> None:
    low = float(np.min(steps.central))
    best_h = steps.h[np.argmin(steps.central)]
    # Round-off ~ eps / h at the left end, truncation ~ h^2 at the right: both far above the
    # bottom of the V, which sits near the balance of the two, h ~ eps^(1/3) = 6e-6.
    assert steps.central[0] > 1e6 * low
    assert steps.central[-1] > 1e6 * low
    assert 1e-8 < best_h < 1e-3


def test_complex_step_stays_at_the_rounding_level_down_to_tiny_h(
    steps: plots.StepErrors,
) -> None:
    # Below h = 1e-8 the truncation h^2 |sigma'''| / 6 sigma' is under 1e-17; what is left
    # is the rounding of sigma's complex arithmetic, which finite_diff estimates as 4 eps.
    flat = steps.h <= 1e-8
    assert np.all(steps.complex_step[flat] <= 4 * EPS)
    assert steps.chosen["complex step"][1] <= 4 * EPS


def test_ridders_error_is_within_its_own_estimate(steps: plots.StepErrors) -> None:
    assert np.all(steps.ridders <= steps.ridders_estimate)
    _, err = steps.chosen["Ridders"]
    assert err < 1e-12  # about 13 digits from its own starting step, as finite_diff says


def test_marked_steps_are_the_ones_numeric_uses(steps: plots.StepErrors) -> None:
    sig, x = numeric.sigmoid, steps.x
    h, _ = steps.chosen["central"]
    by_hand = (sig(x + h) - sig(x - h)) / (2 * h)
    assert numeric.central_difference(sig, [x]).item() == by_hand
    h0, err = steps.chosen["Ridders"]
    on_curve = steps.ridders[np.argmin(np.abs(steps.ridders_h0 - h0))]
    assert err == on_curve  # the public call and the curve's point at h0 = 0.1 agree
    assert steps.chosen["complex step"][0] == 1e-20


def test_ulps_counts_units_in_the_last_place() -> None:
    one = mpmath.mpf(1)
    got = plots.ulps(np.array([1.0, 1.0 + 2 * EPS, 1.0 - EPS, np.inf]), [one, one, one, one])
    # spacing(1) is eps; 1 - eps is half a spacing below 1, counted in 1's spacing.
    np.testing.assert_array_equal(got, [0.0, 2.0, 1.0, np.inf])


@pytest.fixture(scope="module")
def ulp_panels() -> dict[str, plots.UlpPanel]:
    panels, _ = plots.ulp_errors(ULP_POINTS)
    return {p.name: p for p in panels}


def _curve(panel: plots.UlpPanel, kind: str) -> plots.UlpCurve:
    (curve,) = [c for c in panel.curves if c.kind == kind]
    return curve


@pytest.mark.parametrize("name", ["sigmoid", "log_sigmoid", "softplus"])
def test_stable_forms_stay_within_a_few_ulps_where_the_naive_ones_blow_up(
    ulp_panels: dict[str, plots.UlpPanel], name: str
) -> None:
    panel = ulp_panels[name]
    ours, naive = _curve(panel, "verigrad"), _curve(panel, "naive")
    assert ours.z.min() == -745.0 and ours.z.max() == 745.0
    # Within 2 ulp of the exact value (the activations' docstrings), so within 3 of the
    # exact value rounded to float64.
    assert ours.worst <= 3
    assert naive.worst > 1e6


def test_naive_sigmoid_fails_only_where_exp_overflows(
    ulp_panels: dict[str, plots.UlpPanel],
) -> None:
    naive = _curve(ulp_panels["sigmoid"], "naive")
    overflow = naive.z < -np.log(np.finfo(np.float64).max)  # exp(-z) = inf: 1 / inf = 0
    assert np.all(naive.ulps[~overflow] <= 3)
    assert np.any(naive.ulps[overflow] > 1e6)


def test_ulp_grid_is_symmetric_and_dense_near_zero() -> None:
    z = plots.ulp_grid(601)
    np.testing.assert_array_equal(z, -z[::-1])
    assert np.sum(np.abs(z) < 1) > 50 and 0.0 in z


def test_attention_rows_are_probabilities_and_the_mask_hides_the_future() -> None:
    q, k = plots._attention_example()
    scores = q @ k.T / np.sqrt(q.shape[1])
    for causal in (False, True):
        w = plots.attention_weights(causal)
        assert w.shape == (8, 8) == (len(plots.ATTENTION_TOKENS),) * 2
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=8 * EPS)  # a sum of 8 roundings
        future = np.triu(np.ones((8, 8), dtype=bool), 1)
        if causal:
            assert np.all(w[future] == 0)
            scores = np.where(future, -np.inf, scores)
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        np.testing.assert_allclose(w, e / e.sum(axis=1, keepdims=True), rtol=1e-13, atol=1e-300)


def test_nouns_attend_to_the_adjectives_before_them() -> None:
    w = plots.attention_weights(causal=True)
    creature = plots.ATTENTION_TOKENS.index("creature")
    fluffy, blue = plots.ATTENTION_TOKENS.index("fluffy"), plots.ATTENTION_TOKENS.index("blue")
    assert w[creature, fluffy] + w[creature, blue] > 0.5


# ----- the figures and files (matplotlib) --------------------------------------------------


@pytest.fixture(scope="module")
def figures() -> list[plots.Plot]:
    pytest.importorskip("matplotlib")
    return plots.build_figures(ulp_points=ULP_POINTS)


def _data_axes(fig: Any) -> list[Any]:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def test_five_figures_in_order_each_with_a_caption(figures: list[plots.Plot]) -> None:
    assert [p.stem for p in figures] == STEMS
    assert all(p.caption.endswith(".") and "\n" not in p.caption for p in figures)


@pytest.mark.parametrize("index", range(len(STEMS)), ids=STEMS)
def test_every_figure_is_labelled_titled_and_has_a_legend(
    figures: list[plots.Plot], index: int
) -> None:
    fig = figures[index].figure
    axes = _data_axes(fig)
    assert axes
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    legends = [ax.get_legend() for ax in axes if ax.get_legend() is not None]
    assert legends and all(leg.get_texts() for leg in legends)


def test_attention_figure_has_a_colour_bar_and_the_tokens_as_ticks(
    figures: list[plots.Plot],
) -> None:
    fig = figures[STEMS.index("attention")].figure
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    for ax in _data_axes(fig):
        assert [t.get_text() for t in ax.get_xticklabels()] == list(plots.ATTENTION_TOKENS)
        assert [t.get_text() for t in ax.get_yticklabels()] == list(plots.ATTENTION_TOKENS)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any], list[Any]]:
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("plots")
    seen: list[Any] = []
    pairs = plots.write_all(
        out, ulp_points=ULP_POINTS, on_written=lambda png, svg, s: seen.append((png, svg))
    )
    return out, pairs, seen


def test_write_all_writes_png_and_svg_of_each_figure(
    written: tuple[Path, list[Any], list[Any]],
) -> None:
    from PIL import Image

    out, pairs, seen = written
    assert [png for png, _ in pairs] == [out / f"{stem}.png" for stem in STEMS]
    assert [png for png, _ in seen] == [png for png, _ in pairs]  # reported as written
    for png, caption in pairs:
        assert caption
        width, height = _png_size(png)
        assert 800 <= width <= 3000 and 500 <= height <= 3000  # 150 dpi, 7 to 11 inches
        with Image.open(png) as image:
            image.verify()
        svg = ET.parse(png.with_suffix(".svg")).getroot()
        assert svg.tag.endswith("svg") and svg.get("width", "").endswith("pt")
        assert float(svg.get("width", "0")[:-2]) > 300


def test_cli_plots_prints_a_line_per_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(plots, "BUILDERS", plots.BUILDERS[:2])  # write_all is tested above
    assert main(["plots", "-o", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines[:2]] == [
        str(tmp_path / f"{s}.png") for s in STEMS[:2]
    ]
    assert lines[2].startswith("plots: 2 figures")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{s}.{ext}" for s in STEMS[:2] for ext in ("png", "svg")
    )


def test_cli_plots_without_matplotlib_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    assert main(["plots", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'verigrad[plot]'" in err
    assert not (tmp_path / "out").exists()
