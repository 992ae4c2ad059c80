"""Parse typed maths into SymPy without ever evaluating it.

SymPy's ``sympify`` and ``parse_expr`` call Python's ``eval``: a string such
as ``__import__('os').system('...')`` would run.  Here the text is only
*parsed* (``ast.parse``, which executes nothing) and the syntax tree is
walked node by node; each node is either built into a SymPy object by this
module or rejected.  Accepted:

* numbers (decimals become exact rationals: ``0.1`` is 1/10);
* names: a symbol (real), or a constant ``pi``, ``E``, ``oo``;
* ``+ - * / ** ^`` (``^`` is a power, as on paper), unary ``-`` and ``+``;
* calls of whitelisted functions (:data:`FUNCTIONS`) with positional
  arguments: ``exp log sqrt sin cos tanh abs sigmoid softplus log_sigmoid
  logit logsumexp Max Min Heaviside Derivative``;
* comparisons ``< <= > >= == !=``, chained (``0 < p < 1``), and
  ``y in {0, 1}`` for a finite set.

Everything else (attributes, subscripts, lambdas, comprehensions, keyword
arguments, strings, dunder names, very long or deeply nested input) raises
:class:`ParseError`, which names what was refused.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

import sympy as sp

from derivations import functions as fns

__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "ParseError", "parse_assumption", "parse_expr"]

MAX_LENGTH = 2000
MAX_DEPTH = 50
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,30}$")


class ParseError(ValueError):
    """The text is not a claim this parser accepts; the message says what was refused."""


def _derivative(expr: sp.Expr, *variables: Any) -> sp.Expr:
    if not variables:
        raise ParseError("Derivative needs a variable: Derivative(f, x)")
    for v in variables:
        if not (isinstance(v, sp.Symbol) or (v.is_Integer and v > 0)):
            raise ParseError(f"Derivative takes symbols (and counts) after the expression, got {v}")
    return sp.Derivative(expr, *variables)


# name -> (function, allowed numbers of arguments; None: one or more)
FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[int, ...] | None]] = {
    "exp": (sp.exp, (1,)),
    "log": (sp.log, (1, 2)),
    "sqrt": (sp.sqrt, (1,)),
    "sin": (sp.sin, (1,)),
    "cos": (sp.cos, (1,)),
    "tanh": (sp.tanh, (1,)),
    "abs": (sp.Abs, (1,)),
    "Abs": (sp.Abs, (1,)),
    "sigmoid": (fns.sigmoid, (1,)),
    "sigma": (fns.sigmoid, (1,)),
    "softplus": (fns.softplus, (1,)),
    "log_sigmoid": (fns.log_sigmoid, (1,)),
    "logit": (fns.logit, (1,)),
    "logsumexp": (fns.logsumexp, None),
    "Max": (sp.Max, None),
    "Min": (sp.Min, None),
    "Heaviside": (sp.Heaviside, (1, 2)),
    "Derivative": (_derivative, None),
    "diff": (_derivative, None),
}
CONSTANTS: dict[str, sp.Basic] = {"pi": sp.pi, "E": sp.E, "oo": sp.oo}

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: lambda a, b: sp.Lt(a, b, evaluate=False),
    ast.LtE: lambda a, b: sp.Le(a, b, evaluate=False),
    ast.Gt: lambda a, b: sp.Gt(a, b, evaluate=False),
    ast.GtE: lambda a, b: sp.Ge(a, b, evaluate=False),
    ast.Eq: lambda a, b: sp.Eq(a, b, evaluate=False),
    ast.NotEq: lambda a, b: sp.Ne(a, b, evaluate=False),
}


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripts",
        ast.Lambda: "lambda",
        ast.ListComp: "comprehensions",
        ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions",
        ast.GeneratorExp: "generators",
        ast.JoinedStr: "f-strings",
        ast.Starred: "starred arguments",
        ast.IfExp: "conditional expressions",
        ast.NamedExpr: "assignment expressions",
        ast.BoolOp: "and/or",
        ast.Dict: "dicts",
        ast.List: "lists",
        ast.Tuple: "tuples",
        ast.Await: "await",
        ast.Yield: "yield",
    }
    return names.get(type(node), type(node).__name__)


class _Builder:
    """Builds SymPy objects from an already parsed tree; refuses anything unknown."""

    def __init__(self, symbols: dict[str, sp.Symbol]) -> None:
        self.symbols = symbols

    def build(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return self.build(node.body)
        if isinstance(node, ast.Constant):
            return self._number(node.value)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](self.build(node.left), self.build(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.build(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BinOp):
            raise ParseError(f"operator {type(node.op).__name__} is not allowed")
        raise ParseError(f"{_describe(node)} not allowed")

    @staticmethod
    def _number(value: Any) -> sp.Basic:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParseError(f"only numbers are allowed as constants, got {type(value).__name__}")
        if isinstance(value, int):
            if abs(value) > 10**100:
                raise ParseError("integer too large")
            return sp.Integer(value)
        return sp.Rational(repr(value))

    def _name(self, name: str) -> sp.Basic:
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise ParseError(f"{name} is a function: call it, {name}(...)")
        if name.startswith("_") or not _NAME.match(name):
            raise ParseError(
                f"name {name!r} not allowed (letters, digits and _, not starting with _)"
            )
        if name not in self.symbols:
            self.symbols[name] = sp.Symbol(name, real=True)
        return self.symbols[name]

    def _call(self, node: ast.Call) -> sp.Basic:
        if not isinstance(node.func, ast.Name):
            raise ParseError(f"only named functions can be called, not {_describe(node.func)}")
        name = node.func.id
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ParseError(f"unknown function {name!r}; known: {known}")
        if node.keywords:
            raise ParseError(f"{name}: keyword arguments not allowed")
        fn, arities = FUNCTIONS[name]
        args = [self.build(a) for a in node.args]
        if (arities is not None and len(args) not in arities) or not args:
            raise ParseError(f"{name} takes {arities or 'one or more'} arguments, got {len(args)}")
        return fn(*args)

    def _compare(self, node: ast.Compare) -> sp.Basic:
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.In):
            return self._membership(node)
        parts = [self.build(node.left), *(self.build(c) for c in node.comparators)]
        relations = []
        for op, a, b in zip(node.ops, parts, parts[1:]):
            if type(op) not in _COMPARE:
                raise ParseError(f"comparison {type(op).__name__} not allowed")
            relations.append(_COMPARE[type(op)](a, b))
        return relations[0] if len(relations) == 1 else sp.And(*relations, evaluate=False)

    def _membership(self, node: ast.Compare) -> sp.Basic:
        target = node.comparators[0]
        if not isinstance(target, ast.Set):
            raise ParseError("'in' takes a set of numbers: y in {0, 1}")
        values = [self.build(e) for e in target.elts]
        if not all(v.is_number for v in values):
            raise ParseError("a set after 'in' holds numbers only")
        return sp.Contains(self.build(node.left), sp.FiniteSet(*values), evaluate=False)


def _check_size(text: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"input too long ({len(text)} characters; at most {MAX_LENGTH})")
    depth = deepest = 0
    for c in text:
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(c, 0)
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise ParseError(f"input nested too deeply ({deepest} brackets; at most {MAX_DEPTH})")


def _tree(text: str) -> ast.Expression:
    _check_size(text)
    try:
        # x^2 means x**2 on paper; replaced before parsing so it binds as tightly as **.
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ParseError(f"not a formula: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ParseError("input nested too deeply") from None
    if sum(1 for _ in ast.walk(tree)) > 20 * MAX_DEPTH:
        raise ParseError("formula too large")
    return tree


def parse_expr(text: str, symbols: dict[str, sp.Symbol] | None = None) -> Any:
    """An expression or relation from ``text``; symbols are real, shared through ``symbols``."""
    try:
        return _Builder({} if symbols is None else symbols).build(_tree(text))
    except RecursionError:
        raise ParseError("input nested too deeply") from None


def parse_assumption(text: str, symbols: dict[str, sp.Symbol]) -> dict[sp.Symbol, sp.Set]:
    """A domain entry from ``x > 0``, ``0 < p < 1``, ``y in {0, 1}``: {symbol: set}."""
    from derivations.claims import assumptions_to_domain

    try:
        return assumptions_to_domain([parse_expr(text, symbols)])
    except ValueError as exc:
        if isinstance(exc, ParseError):
            raise
        raise ParseError(str(exc)) from None
