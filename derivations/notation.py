"""Helpers for writing derivation steps the way a person would write them.

SymPy reorders and merges factors as it builds a product, so ``a * b`` with
two fractions prints as one fraction.  A step that says "split the fraction"
must show the split: :func:`shown_product` keeps each factor as written.  The
verifier is not affected: ``doit()`` (which every check runs first) removes
the wrapping.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["shown_product"]


def shown_product(*factors: sp.Expr | int) -> sp.Expr:
    """The product of ``factors``, printed factor by factor in the given order."""
    shown = [sp.sympify(f) for f in factors]
    return sp.Mul(*[f if f.is_Number else sp.UnevaluatedExpr(f) for f in shown], evaluate=False)
