"""Check a claim of your own: ``check_claim(lhs, rhs, assumptions=...)``.

The claim is built from SymPy objects in code (to check typed text, use
``verigrad check``, which parses it safely with :mod:`derivations.parse`).
Assumptions are relations on single symbols (``x > 0``, ``p < 1``,
``Contains(y, FiniteSet(0, 1))``), or a domain mapping as
:func:`check_equal` takes it; they become the domain the verifier samples
and proves on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sympy as sp

from derivations.core import DEFAULT_BUDGET_S, Verdict, check_equal

__all__ = ["assumptions_to_domain", "check_claim"]


def _symbol_and_set(rel: Any) -> tuple[sp.Symbol, sp.Set]:
    if isinstance(rel, sp.Contains) and isinstance(rel.args[0], sp.Symbol):
        return rel.args[0], rel.args[1]
    if isinstance(rel, (sp.Lt, sp.Le, sp.Gt, sp.Ge)):
        for symbol, other in ((rel.lhs, rel.rhs), (rel.rhs, rel.lhs)):
            if isinstance(symbol, sp.Symbol) and other.is_number:
                return symbol, sp.solveset(rel, symbol, sp.S.Reals)
    raise ValueError(
        f"assumption {rel}: expected a symbol compared with a number (x > 0) or "
        "Contains(y, FiniteSet(...))"
    )


def assumptions_to_domain(assumptions: Mapping[Any, Any] | Iterable[Any] | None) -> dict[Any, Any]:
    """A domain for :func:`check_equal` from relations (``x > 0``, ``0 < p``, ...) or a mapping."""
    if assumptions is None:
        return {}
    if isinstance(assumptions, Mapping):
        return dict(assumptions)
    if isinstance(assumptions, sp.Basic):
        assumptions = [assumptions]
    domain: dict[Any, Any] = {}
    for item in assumptions:
        parts = item.args if isinstance(item, sp.And) else (item,)
        for rel in parts:
            symbol, subset = _symbol_and_set(rel)
            domain[symbol] = domain.get(symbol, sp.S.Reals).intersect(subset)
    empty = [s for s, v in domain.items() if v is sp.S.EmptySet]
    if empty:
        raise ValueError(f"the assumptions leave no value for {empty}")
    return domain


def check_claim(
    lhs: Any,
    rhs: Any = True,
    assumptions: Mapping[Any, Any] | Iterable[Any] | None = None,
    *,
    budget_s: float = DEFAULT_BUDGET_S,
    seed: int = 0,
) -> Verdict:
    """Is ``lhs == rhs`` (or, with ``rhs`` left out, does the relation ``lhs`` hold)?

    >>> x = sp.Symbol("x", real=True)
    >>> check_claim(sp.sqrt(x**2), x, [x >= 0]).status
    'proved'
    >>> check_claim(sp.sqrt(x**2), x).status
    'refuted'
    """
    return check_equal(
        lhs, rhs, domain=assumptions_to_domain(assumptions), budget_s=budget_s, seed=seed
    )
