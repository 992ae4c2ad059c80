"""The command line: exit codes, one-line errors, JSON, progress lines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import derivations
from derivations.cli import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "derivations", *args], capture_output=True, text=True, timeout=300
    )


def test_list_names_every_derivation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == derivations.names()


def test_verify_one_line_per_derivation_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    names = ["sigmoid-derivative", "decision-rule"]
    assert main(["verify", *names]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines[:2]] == names
    assert lines[2].startswith("2 derivations, ")


def test_verify_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--json", "sigmoid-symmetry"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["name"] == "sigmoid-symmetry"
    assert records[0]["status"] == "proved"
    assert all(step["status"] == "proved" for step in records[0]["steps"])
    assert records[-1]["failed"] is False


def test_show_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "decision-rule", "--format", "latex", "--no-verify"]) == 0
    assert capsys.readouterr().out.startswith("\\begin{align*}")
    assert main(["show", "decision-rule", "--format", "markdown"]) == 0
    assert "\\begin{aligned}" in capsys.readouterr().out


def test_latex_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "doc.tex"
    assert main(["latex", "-o", str(out), "--no-verify"]) == 0
    assert out.read_text().startswith("\\documentclass")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "no-such-thing"], "unknown derivation 'no-such-thing'"),
        (["verify", "nope"], "unknown derivation 'nope'"),
        (["frobnicate"], "invalid choice"),
        (["verify", "--budget", "-1"], "positive number of seconds"),
        (["show", "decision-rule", "--format", "pdf"], "invalid choice"),
        (["list", "--topic", "nope"], "unknown topic"),
        (["verify", "--frob"], "unrecognized arguments"),
        ([], "required"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("verigrad: error: ") and message in lines[0]


def test_a_refuted_derivation_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sympy as sp

    from derivations import registry
    from derivations.core import Derivation, Step
    from derivations.functions import sigmoid

    z = sp.Symbol("z", real=True)
    wrong = Derivation(
        quantity=sp.Derivative(sigmoid(z), z), steps=[Step(sigmoid(z) ** 2, "wrong")], name="wrong"
    )
    monkeypatch.setattr(registry, "names", lambda topic=None: ["wrong"])
    monkeypatch.setattr(registry, "get", lambda name: wrong)
    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert "refuted" in out and "counterexample" not in out.splitlines()[0]
    assert "step 1 (wrong): refuted" in out


def test_report_writes_the_book(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "-o", str(tmp_path)]) == 0
    tex = (tmp_path / "derivations.tex").read_text()
    assert tex.startswith("\\documentclass")
    assert "\\maketitle" in tex and "\\tableofcontents" in tex
    for topic in derivations.topics():
        if derivations.names(topic.key):
            assert f"\\chapter{{{topic.title}}}" in tex
    assert "\\chapter{Errata: the lecture notes checked}" in tex
    assert "\\chapter{The numeric functions: accuracy measured in this run}" in tex
    md = (tmp_path / "derivations.md").read_text()
    assert md.startswith("# ") and "## Errata" in md and "| `numeric.sigmoid` |" in md
    out = capsys.readouterr().out
    assert "derivations, " in out and "notes: " in out and "accuracy: " in out
    assert out.strip().splitlines()[-1].startswith("report: done in")
    if shutil.which("pdflatex"):
        assert (tmp_path / "derivations.pdf").stat().st_size > 10_000
        log = (tmp_path / "derivations.log").read_text(errors="replace")
        assert "Overfull \\hbox" not in log, "a line of the book runs off the page"
        toc = (tmp_path / "derivations.toc").read_text()
        assert "{chapter}" in toc and "Errata" in toc  # the contents list the chapters


def test_jobs_must_be_a_positive_whole_number(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--jobs", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_verify_one_topic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--topic", "sigmoid"]) == 0
    out = capsys.readouterr().out
    assert f"{len(derivations.names('sigmoid'))} derivations" in out.splitlines()[-1]
    assert main(["verify", "--topic", "nope"]) == 2
