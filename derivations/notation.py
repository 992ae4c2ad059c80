"""Helpers for writing derivation steps the way a person would write them.

SymPy reorders and merges factors as it builds a product, so ``a * b`` with
two fractions prints as one fraction.  A step that says "split the fraction"
must show the split: :func:`shown_product` keeps each factor as written.  The
verifier is not affected: ``doit()`` (which every check runs first) removes
the wrapping.

:func:`shown` gives a large expression a short name for display (``L`` for a
loss written out over nine exponentials); :func:`shown_matrix` names each
entry of a matrix (``(P^T G)_{ij}``), so a step about a product of matrices
prints as that product, entry by entry.  Both unwrap on ``doit()``.

:func:`stands_for` says what such a wrapper (or a stable primitive) is, for the
verifier's own walks over an expression that do not run ``doit()``.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str

from derivations.functions import StablePrimitive

__all__ = ["Shown", "shown", "shown_matrix", "shown_product", "stands_for", "symbol_matrix"]


def shown_product(*factors: sp.Expr | int) -> sp.Expr:
    """The product of ``factors``, printed factor by factor in the given order."""
    shown = [sp.sympify(f) for f in factors]
    return sp.Mul(*[f if f.is_Number else sp.UnevaluatedExpr(f) for f in shown], evaluate=False)


class Shown(sp.Expr):
    """An expression printed as a name; ``doit()`` returns the expression itself.

    ``args`` are the expression and the name (a ``Str``, LaTeX), so the free
    symbols are the expression's: the verifier samples the right variables.
    """

    def __new__(cls, expr: sp.Expr, name: str | Str) -> Shown:
        # A rebuild from args (a tree walk, xreplace) passes the Str back in.
        label = name if isinstance(name, Str) else Str(name)
        return sp.Expr.__new__(cls, sp.sympify(expr), label)  # type: ignore[no-any-return]

    @property
    def expr(self) -> sp.Expr:
        return self.args[0]

    @property
    def name(self) -> str:
        return str(self.args[1])

    def doit(self, **hints: object) -> sp.Expr:
        return self.expr.doit(**hints) if hints.get("deep", True) else self.expr

    def _eval_derivative(self, x: sp.Symbol) -> sp.Expr:
        return sp.diff(self.expr, x)

    def _latex(self, printer: object) -> str:
        return self.name

    def plain_name(self) -> str:
        """The name with its LaTeX macros turned into unicode, for text output."""
        from derivations.render import why_text  # render imports core; import late

        return why_text("$%s$" % self.name.replace(r"\left", "").replace(r"\right", ""))

    def _sympystr(self, printer: object) -> str:
        return self.plain_name()

    def _pretty(self, printer: object) -> object:
        from sympy.printing.pretty.stringpict import prettyForm

        return prettyForm(self.plain_name())


def stands_for(node: sp.Basic) -> sp.Basic | None:
    """The expression ``node`` is a way of writing: a named expression's (:class:`Shown`),
    an ``UnevaluatedExpr``'s, a stable primitive's elementary definition; else None."""
    if isinstance(node, (Shown, sp.UnevaluatedExpr)):
        return node.args[0]
    if isinstance(node, StablePrimitive):
        return node.elementary()
    return None


def shown(expr: sp.Expr, name: str) -> Shown:
    """``expr``, printed as ``name`` (LaTeX source)."""
    return Shown(expr, name)


def shown_matrix(matrix: sp.MatrixBase, name: str) -> sp.ImmutableMatrix:
    """``matrix`` with each entry printed as ``(name)_{ij}`` (1-based indices)."""
    return sp.ImmutableMatrix(
        matrix.rows,
        matrix.cols,
        lambda i, j: Shown(matrix[i, j], r"\left(%s\right)_{%d%d}" % (name, i + 1, j + 1)),
    )


def symbol_matrix(name: str, rows: int, cols: int) -> sp.ImmutableMatrix:
    """A rows x cols matrix of real symbols ``name_{ij}`` (1-based).

    The subscript is braced: ``W^{(1)}_11`` would typeset as W^{(1)}_1 1 (SymPy
    braces a bare multi-digit subscript only when the name has no superscript).
    """
    return sp.ImmutableMatrix(
        rows, cols, lambda i, j: sp.Symbol(f"{name}_{{{i + 1}{j + 1}}}", real=True)
    )
