"""Typed claims: parsed without eval; hostile input refused (exit 2); ordinary claims answered."""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sympy as sp

from derivations.cli import main
from derivations.functions import sigmoid
from derivations.parse import ParseError, parse_assumption, parse_expr

CANARY = Path("/tmp/verigrad-parse-canary")

HOSTILE = [
    f"__import__('os').system('touch {CANARY}')",
    "__import__",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "(1).real",
    "exp.__globals__",
    "sigma(z).func",
    "globals()",
    "eval('1')",
    "exec('import os')",
    "open('/etc/passwd')",
    "lambda: 0",
    "(lambda x: x)(1)",
    "[x for x in range(10)]",
    "{x: 1 for x in y}",
    "sum(i for i in range(10**9))",
    "x if y else z",
    "(y := 3)",
    "'a' * 10",
    "f'{x}'",
    "b'bytes'",
    "x[0]",
    "exp(*args)",
    "exp(x=1)",
    "x and y",
    "not x",
    "x @ y",
    "x << 1",
    "_x + 1",
    "__builtins__",
    "x" * 3000,
    "(" * 200 + "x" + ")" * 200,
    "-" * 5000 + "x",
    "import os",
    "x = 1",
    "9" * 200,
    "Derivative(x, 1.5)",
]


class Taint:
    """Strings typed by the user; none may reach an evaluating function."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.reached: list[str] = []

    def check(self, name: str, value: object) -> None:
        if isinstance(value, str) and any(t in value for t in self.texts):
            self.reached.append(f"{name}({value!r})")
            raise AssertionError(f"user text reached {name}")


@pytest.fixture
def no_eval(monkeypatch: pytest.MonkeyPatch) -> Taint:
    """Watch builtins.eval, sympify and SymPy's string parser for the user's text.

    SymPy passes its own literal strings to sympify (unit prefixes, when it
    imports them), so the watch is on the user's text, not on every string.
    """
    taint = Taint()

    def watched(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def wrapper(a: object = None, *args: object, **kwargs: object) -> object:
            taint.check(name, a)
            return real(a, *args, **kwargs)

        return wrapper

    import sympy.parsing.sympy_parser as parser

    monkeypatch.setattr(builtins, "eval", watched("eval", builtins.eval))
    monkeypatch.setattr(parser, "parse_expr", watched("parse_expr", parser.parse_expr))
    monkeypatch.setattr(parser, "eval_expr", watched("eval_expr", parser.eval_expr))
    core = sys.modules["sympy.core.sympify"]
    monkeypatch.setattr(core, "sympify", watched("sympify", core.sympify))
    monkeypatch.setattr(sp, "sympify", core.sympify)
    return taint


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_is_refused_without_evaluation(text: str, no_eval: Taint) -> None:
    no_eval.texts.append(text)
    with pytest.raises(ParseError):
        parse_expr(text)
    assert no_eval.reached == []
    assert not CANARY.exists()


def test_at_least_twenty_hostile_inputs() -> None:
    assert len(HOSTILE) >= 20


@pytest.mark.parametrize("text", HOSTILE[:24], ids=range(24))
def test_cli_refuses_hostile_input_with_exit_2_and_one_line(
    text: str, capsys: pytest.CaptureFixture[str], no_eval: Taint
) -> None:
    no_eval.texts.append(text)
    assert main(["check", text, "1"]) == 2
    assert no_eval.reached == []
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("verigrad: error: ")
    assert not CANARY.exists()


def test_ordinary_input_parses_into_the_expected_objects(no_eval: Taint) -> None:
    no_eval.texts += ["sigma(z) * (1 - sigma(z))", "x^2 + 0.1", "Derivative(sigmoid(z), z)"]
    symbols: dict[str, sp.Symbol] = {}
    z = sp.Symbol("z", real=True)
    assert parse_expr("sigma(z) * (1 - sigma(z))", symbols) == sigmoid(z) * (1 - sigmoid(z))
    assert parse_expr("x^2 + 0.1", symbols) == sp.Symbol("x", real=True) ** 2 + sp.Rational(1, 10)
    assert parse_expr("Derivative(sigmoid(z), z)") == sp.Derivative(sigmoid(z), z)
    assert isinstance(parse_expr("a >= 1/2"), sp.GreaterThan)
    assert symbols["z"] is parse_expr("z", symbols)


def test_assumptions(no_eval: Taint) -> None:
    no_eval.texts += ["0 < p < 1", "y in {0, 1}", "x >= 0"]
    p, y, x = (sp.Symbol(n, real=True) for n in "pyx")
    assert parse_assumption("0 < p < 1", {}) == {p: sp.Interval.open(0, 1)}
    assert parse_assumption("y in {0, 1}", {}) == {y: sp.FiniteSet(0, 1)}
    assert parse_assumption("x >= 0", {}) == {x: sp.Interval(0, sp.oo)}
    with pytest.raises(ParseError, match="symbol compared with a number"):
        parse_assumption("x + y > 0", {})


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        (["Derivative(sigma(z), z)", "sigma(z)*(1 - sigma(z))"], "proved", 0),
        (["Derivative(sigma(z), z)", "sigma(z)^2"], "refuted", 1),
        (["sigma(z) >= 1/2", "--assume", "z >= 0"], "proved", 0),
        (["sigma(z) > 1/2", "--assume", "z >= 0"], "refuted", 1),
        (["log(p/(1-p))", "log(p) - log(1 - p)", "--assume", "0 < p < 1"], "proved", 0),
        (
            [
                "y*log(q) + (1-y)*log(1-q)",
                "log(q^y*(1-q)^(1-y))",
                "--assume",
                "y in {0,1}",
                "--assume",
                "0<q<1",
            ],
            "proved",
            0,
        ),
    ],
)
def test_cli_answers_ordinary_claims(
    args: list[str], status: str, code: int, capsys: pytest.CaptureFixture[str], no_eval: Taint
) -> None:
    no_eval.texts += [a for a in args if not a.startswith("--")]
    assert main(["check", *args]) == code
    assert no_eval.reached == []
    assert capsys.readouterr().out.startswith(status)


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["check", "--json", "exp(log(x))", "x", "--assume", "x > 0"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "proved" and record["lhs"] == "x"
