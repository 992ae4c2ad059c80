"""Rendering: text, LaTeX, Markdown and a whole document that pdflatex compiles."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sympy as sp

import derivations
from derivations import render
from derivations.core import Derivation, Step
from derivations.functions import sigmoid

z = sp.Symbol("z", real=True)


@pytest.fixture(scope="module")
def verified():
    d = derivations.get("sigmoid-derivative")
    return d, d.verify()


def test_text_has_every_step_with_its_reason_and_status(verified) -> None:
    d, report = verified
    text = render.to_text(d, report)
    assert text.splitlines()[0].startswith("sigmoid-derivative: ")
    assert text.count("✓ proved") == len(d.steps)
    assert "[definition of σ]" in text


def test_latex_is_an_align_block_one_line_per_step(verified) -> None:
    d, report = verified
    tex = render.to_latex(d, report)
    assert tex.startswith("\\begin{align*}") and tex.endswith("\\end{align*}")
    body = tex.split("\n")[1:-1]
    assert len(body) == len(d.steps)
    assert all("\\checkmark" in line for line in body)
    assert all("&&" in line for line in body)


def test_markdown_uses_aligned_in_display_math(verified) -> None:
    d, report = verified
    md = render.to_markdown(d, report)
    assert "$$\n\\begin{aligned}" in md and "\\end{aligned}\n$$" in md
    assert md.startswith("### ")


def test_relational_derivations_use_iff() -> None:
    d = derivations.get("decision-rule")
    assert "\\iff" in render.to_latex(d)
    assert "⇔" in render.to_text(d)


def test_refuted_step_is_marked_with_its_counterexample() -> None:
    s = sigmoid(z)
    d = Derivation(quantity=sp.Derivative(s, z), steps=[Step(s**2, "wrong")], name="wrong")
    report = d.verify()
    assert "\\times" in render.to_latex(d, report)
    assert "counterexample: z = " in render.to_text(d, report)


def test_justification_math_and_escaping() -> None:
    assert render.why_latex(r"definition of $\sigma$") == r"\text{definition of } \sigma"
    assert render.why_text(r"$\frac{e^{-z}}{1+e^{-z}}$ & 50%") == "(e^{-z})/(1+e^{-z}) & 50%"
    assert render.escape_tex("a_b & c%") == r"a\_b \& c\%"
    assert render.prose_latex(r"x_1 and $x_1$") == r"x\_1 and $x_1$"


def test_document_has_a_section_per_topic(verified) -> None:
    doc = render.latex_document(derivations.all())
    assert doc.startswith("\\documentclass")
    assert doc.rstrip().endswith("\\end{document}")
    for topic in derivations.topics():
        if derivations.names(topic.key):
            assert f"\\chapter{{{topic.title}}}" in doc
    assert doc.count("\\section{") == len(derivations.names())


def test_document_braces_every_multi_digit_subscript() -> None:
    # x_11 typesets as x_1 followed by a plain 1: a matrix entry's two indices must be braced.
    doc = render.latex_document(derivations.all())
    bare = sorted(set(re.findall(r"[^\\{\s]+_[0-9]{2,}", doc)))
    assert not bare, bare[:10]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_whole_document_compiles_with_pdflatex(tmp_path: Path) -> None:
    # Without status marks: the verified book is compiled by the report test in test_cli.
    tex = tmp_path / "derivations.tex"
    tex.write_text(render.latex_document(derivations.all()), encoding="utf-8")
    run = render.run_pdflatex(tex)
    assert run.returncode == 0, run.stdout[-3000:]
    assert (tmp_path / "derivations.pdf").stat().st_size > 10_000
