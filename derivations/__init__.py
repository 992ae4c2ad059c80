"""verigrad's symbolic half: derivations re-derived step by step and verified.

    >>> import sympy as sp
    >>> from derivations import check_equal
    >>> from derivations.functions import sigmoid
    >>> z = sp.Symbol("z", real=True)
    >>> check_equal(sp.Derivative(sigmoid(z), z), sigmoid(z) * (1 - sigmoid(z))).status
    'proved'

The registry (:func:`names`, :func:`get`, :func:`all`) imports the topic
modules only when first asked, so ``import derivations`` stays light.  The
SymPy primitives live in :mod:`derivations.functions` (not here: the topic
modules ``derivations.sigmoid`` and ``derivations.softmax`` share their names).
"""

from typing import TYPE_CHECKING, Any

from derivations.claims import check_claim
from derivations.core import (
    Derivation,
    DerivationReport,
    Simplex,
    Step,
    StepVerdict,
    Verdict,
    check_equal,
)
from derivations.registry import all, get, names, topics

if TYPE_CHECKING:
    from derivations.gradients import GradientReport, verify_gradient


def __getattr__(name: str) -> Any:
    """``verify_gradient`` and ``GradientReport`` on first use: they import NumPy and
    ``numeric``, which verifying and listing derivations never need."""
    if name in ("GradientReport", "verify_gradient"):
        from derivations import gradients

        return getattr(gradients, name)
    raise AttributeError(f"module 'derivations' has no attribute {name!r}")


__all__ = [
    "Derivation",
    "DerivationReport",
    "GradientReport",
    "Simplex",
    "Step",
    "StepVerdict",
    "Verdict",
    "all",
    "check_claim",
    "check_equal",
    "get",
    "names",
    "topics",
    "verify_gradient",
]
