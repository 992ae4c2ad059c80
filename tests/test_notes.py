"""The lecture notes checked: every claim decided, every erratum corrected and separated."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import mpmath
import pytest
import sympy as sp

from derivations import render
from derivations.cli import main
from derivations.notes import (
    check_notes,
    claims,
    gpt3_matrix_count,
    separation,
)
from derivations.transformer import category_counts

# The mistakes a careful reading of the notes finds (independent of the verifier's output):
# the 1/N of the mean BCE, the sign of the gradient of L as the notes define it (twice),
# the y for yhat in dl/dyhat and the product built on it, yhat - y for dL/dyhat in the
# multiclass case and the chain built on it, digits "0-10", an "integer" bias, "z(a - y)"
# for 2(a - y), n = 1..288 for 12,288, a column softmax of QK^T, A_i = K_i Q_i, the
# transposed W_Q shape, equal dot products read as "both", rows where columns are meant,
# and the R/C index ranges.
KNOWN_ERRATA = {
    "bce-log-likelihood-mean",
    "gradient-descent-sign",
    "batch-gradient-of-likelihood",
    "dl-dyhat-fraction",
    "chain-product-as-written",
    "dL-dyhat-multiclass",
    "dJ-dw-chain",
    "digits-0-10",
    "bias-integer",
    "dC0-da-previous",
    "embedding-rows",
    "attention-pattern-a-i",
    "softmax-per-column",
    "wq-shape",
    "jordan-michael",
    "down-projection-rows",
    "r-index-range",
    "c-index-range",
}
SECTIONS_THAT_MUST_APPEAR = (
    "Logistic Regression",
    "Deriving BCE",
    "softmax",
    "Backpropagation",
    "Attention",
    "Large Language Models",
)


@pytest.fixture(scope="module")
def checks():
    return check_notes()


def test_at_least_forty_claims_from_across_the_notes() -> None:
    everything = claims()
    assert len(everything) >= 40
    for section in SECTIONS_THAT_MUST_APPEAR:
        assert any(section in c.section for c in everything), section


def test_no_claim_was_decided_by_sympy_before_the_verifier_saw_it() -> None:
    for c in claims():
        assert not isinstance(c.lhs, sp.logic.boolalg.BooleanAtom), c.id


def test_every_claim_is_decided(checks) -> None:
    for c in checks:
        assert c.verdict.status in ("proved", "refuted", "numerically-consistent"), c.claim.id


def test_the_wrong_claims_are_exactly_the_known_errata(checks) -> None:
    assert {c.claim.id for c in checks if c.wrong} == KNOWN_ERRATA


def test_every_erratum_has_a_proved_correction_and_nothing_else_has_one(checks) -> None:
    for c in checks:
        assert c.consistent, c.claim.id
        if c.wrong:
            assert c.correction is not None and c.correction.proved, c.claim.id
            assert c.claim.reason, c.claim.id


def _differ(lhs, rhs) -> bool:
    """The two sides apart at 50 digits, by far more than their rounding."""
    if isinstance(lhs, bool) or isinstance(rhs, bool):
        return lhs != rhs
    if isinstance(lhs, sp.MatrixBase):
        return any(_differ(a, b) for a, b in zip(lhs, rhs, strict=True))
    a, b = mpmath.mpf(str(sp.N(lhs, 50))), mpmath.mpf(str(sp.N(rhs, 50)))
    return abs(a - b) > mpmath.mpf(10) ** -30 * max(1, abs(a), abs(b))


def test_every_counterexample_separates_the_two_sides_at_high_precision(checks) -> None:
    for c in checks:
        if c.wrong:
            lhs, rhs = separation(c)
            assert _differ(lhs, rhs), (c.claim.id, lhs, rhs)


def test_a_correct_claim_is_not_separated_at_a_random_point(checks) -> None:
    # The separation test could pass for any point; at a claim that holds it must not.
    proved = next(c for c in checks if c.claim.id == "dl-dyhat-sum")
    names = {str(s): s for s in proved.claim.lhs.free_symbols}
    at = {names[r"\hat{y}"]: sp.Rational(3, 10), names["y"]: 1}
    assert not _differ(proved.claim.lhs.subs(at), proved.claim.rhs.subs(at))


def test_gpt3_arithmetic_matches_the_published_total_and_the_notes_matrix_count() -> None:
    # 175,181,291,520: GPT-3's weight count from its published sizes (the issue's figure).
    assert sum(category_counts().values()) == 175_181_291_520
    assert gpt3_matrix_count() == 27_938  # the notes' figure


def test_cli_json_lists_every_claim_with_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notes", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["claims"]) == len(claims())
    assert sum(doc["summary"].values()) == len(claims())
    wrong = [c for c in doc["claims"] if c["status"] == "refuted"]
    assert {c["id"] for c in wrong} == KNOWN_ERRATA
    for c in wrong:
        assert c["correction"]["status"] == "proved"
        assert c["counterexample"] is not None and len(c["separation_50_digits"]) == 2


def test_text_report_has_a_line_per_claim_and_the_summary(checks) -> None:
    text = render.notes_text(checks)
    for c in checks:
        assert c.claim.id in text
    last = text.strip().splitlines()[-1]
    assert last.startswith(f"{len(checks)} claims:")
    assert f"{len(KNOWN_ERRATA)} of {len(KNOWN_ERRATA)} corrections proved" in last


def test_markdown_has_the_table_and_each_erratum(checks) -> None:
    md = render.notes_markdown(checks)
    assert md.count("\n| ") >= len(checks)
    for name in KNOWN_ERRATA:
        assert f"### `{name}`" in md


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_errata_section_compiles_in_the_document(checks, tmp_path: Path) -> None:
    import derivations

    tex = tmp_path / "errata.tex"
    tex.write_text(render.latex_document(derivations.all(), errata=checks), encoding="utf-8")
    run = render.run_pdflatex(tex)
    assert run.returncode == 0, run.stdout[-3000:]
    lines = tex.read_text(encoding="utf-8").splitlines()
    errata_from = next(i for i, line in enumerate(lines, 1) if "{Errata: the lecture notes" in line)
    overfull = [
        int(m.group(1)) for m in re.finditer(r"Overfull \\hbox .*? (?:at lines? )(\d+)", run.stdout)
    ]
    assert [n for n in overfull if n >= errata_from] == [], "a line of the errata runs off the page"
