"""Stable SymPy primitives: sigmoid, softplus, log-sigmoid, logit, logsumexp, relu, step.

Each primitive is a SymPy ``Function`` that is complete in four ways:

* ``definition``: its elementary form (exp/log).  The verifier expands every
  primitive to this form before it differentiates or evaluates, so no proof
  rests on a hand-written derivative.  ``rewrite(exp)`` gives the same form.
* ``fdiff``: its derivative, for readable results (``sigmoid(z)*(1 - sigmoid(z))``
  rather than a tower of exponentials).  The tests check every ``fdiff``
  against the derivative of the definition.
* ``_latex``: how it prints in the derivation book.
* ``_numpycode``: a stable NumPy expression, so ``lambdify(..., cse=True)``
  of a result built from these primitives is finite and accurate for large
  arguments (z = +-800) where the naive exponential overflows or cancels.

:func:`softmax` is a plain helper that builds the vector of quotients.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sympy as sp
from sympy.core.function import ArgumentIndexError

__all__ = [
    "PRIMITIVES",
    "StablePrimitive",
    "expand_primitives",
    "heaviside",
    "log_sigmoid",
    "logit",
    "logsumexp",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
]


class StablePrimitive(sp.Function):
    """A function with an elementary ``definition`` that proofs expand to."""

    @classmethod
    def definition(cls, *args: sp.Expr) -> sp.Expr:
        raise NotImplementedError

    def elementary(self) -> sp.Expr:
        """The same value written with exp and log only."""
        return self.definition(*self.args)

    def _eval_rewrite_as_exp(self, *args: Any, **hints: Any) -> sp.Expr:
        return self.definition(*args)

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.elementary()._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return all(a.is_real for a in self.args) or None

    #: How the function's name shows in unicode pretty printing.
    pretty_name: str = ""

    def _pretty(self, printer: Any) -> Any:
        return printer._print_Function(self, func_name=self.pretty_name or type(self).__name__)

    #: The function's name in LaTeX; a power prints as name^{n}(args).
    latex_name: str = ""

    def _latex(self, printer: Any, exp: Any = None) -> str:
        name = self.latex_name or r"\operatorname{%s}" % type(self).__name__
        if exp is not None:
            name = r"%s^{%s}" % (name, exp)
        inner = ", ".join(printer._print(a) for a in self.args)
        return r"%s\left(%s\right)" % (name, inner)


def _np(printer: Any, name: str) -> str:
    return str(printer._module_format(f"numpy.{name}"))


class sigmoid(StablePrimitive):
    r"""The logistic function  sigma(x) = 1 / (1 + e^{-x}).

    NumPy form: ``where(x >= 0, 1, e) / (1 + e)`` with ``e = exp(-|x|)``, which
    never overflows and keeps full relative accuracy in both tails.
    """

    nargs = 1
    pretty_name = "σ"

    @classmethod
    def definition(cls, x: sp.Expr) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_zero:
            return sp.Rational(1, 2)
        if x is sp.S.Infinity:
            return sp.S.One
        if x is sp.S.NegativeInfinity:
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return self * (1 - self)

    def _eval_is_positive(self) -> bool | None:
        return self.args[0].is_extended_real or None

    def _eval_is_finite(self) -> bool | None:
        return self.args[0].is_extended_real or None

    latex_name = r"\sigma"

    def _numpycode(self, printer: Any) -> str:
        x = printer._print(self.args[0])
        e = f"{_np(printer, 'exp')}(-{_np(printer, 'abs')}({x}))"
        return f"({_np(printer, 'where')}(({x}) >= 0, 1.0, {e}) / (1.0 + {e}))"


class softplus(StablePrimitive):
    r"""softplus(x) = log(1 + e^x); NumPy form ``logaddexp(0, x)``."""

    nargs = 1

    @classmethod
    def definition(cls, x: sp.Expr) -> sp.Expr:
        return sp.log(1 + sp.exp(x))

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_zero:
            return sp.log(2)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0])

    def _eval_is_positive(self) -> bool | None:
        return self.args[0].is_extended_real or None

    latex_name = r"\operatorname{softplus}"

    def _numpycode(self, printer: Any) -> str:
        return f"{_np(printer, 'logaddexp')}(0.0, {printer._print(self.args[0])})"


class log_sigmoid(StablePrimitive):
    r"""log sigma(x) = -log(1 + e^{-x}) = -softplus(-x); NumPy ``-logaddexp(0, -x)``."""

    nargs = 1
    pretty_name = "log σ"

    @classmethod
    def definition(cls, x: sp.Expr) -> sp.Expr:
        return -sp.log(1 + sp.exp(-x))

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_zero:
            return -sp.log(2)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(-self.args[0])

    def _eval_is_negative(self) -> bool | None:
        return self.args[0].is_extended_real or None

    latex_name = r"\log\sigma"

    def _numpycode(self, printer: Any) -> str:
        return f"(-{_np(printer, 'logaddexp')}(0.0, -({printer._print(self.args[0])})))"


class logit(StablePrimitive):
    r"""logit(p) = log(p / (1 - p)), the inverse of the sigmoid on (0, 1).

    NumPy form ``log(p) - log1p(-p)``: accurate near both 0 and 1.
    """

    nargs = 1

    @classmethod
    def definition(cls, p: sp.Expr) -> sp.Expr:
        return sp.log(p / (1 - p))

    @classmethod
    def eval(cls, p: sp.Expr) -> sp.Expr | None:
        if p == sp.Rational(1, 2):
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        p = self.args[0]
        return 1 / (p * (1 - p))

    def _eval_is_real(self) -> bool | None:
        p = self.args[0]
        return (p.is_positive and (1 - p).is_positive) or None

    latex_name = r"\operatorname{logit}"

    def _numpycode(self, printer: Any) -> str:
        p = printer._print(self.args[0])
        return f"({_np(printer, 'log')}({p}) - {_np(printer, 'log1p')}(-({p})))"


class logsumexp(StablePrimitive):
    r"""logsumexp(x_1, ..., x_K) = log sum_k e^{x_k}.

    NumPy form: nested ``logaddexp``, which never overflows.  The partial
    derivative in x_i is the softmax component e^{x_i - logsumexp(x)}.
    """

    @classmethod
    def definition(cls, *xs: sp.Expr) -> sp.Expr:
        return sp.log(sp.Add(*[sp.exp(x) for x in xs]))

    pretty_name = "LSE"

    @classmethod
    def eval(cls, *xs: sp.Expr) -> sp.Expr | None:
        if not xs:
            raise TypeError("logsumexp needs at least one argument")
        if len(xs) == 1:
            return xs[0]
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if not 1 <= argindex <= len(self.args):
            raise ArgumentIndexError(self, argindex)
        return sp.exp(self.args[argindex - 1] - self)

    latex_name = r"\operatorname{LSE}"

    def _numpycode(self, printer: Any) -> str:
        code = printer._print(self.args[0])
        for arg in self.args[1:]:
            code = f"{_np(printer, 'logaddexp')}({code}, {printer._print(arg)})"
        return code


class heaviside(StablePrimitive):
    r"""The unit step H(x) = 1 for x > 0 and 0 for x <= 0: the convention at 0 is 0.

    It is relu' away from 0.  At 0 relu has no derivative; 0 is the value
    numeric.relu_grad, PyTorch and JAX use (any value in [0, 1] is a subgradient).
    SymPy's ``Heaviside`` takes 1/2 at 0; this one is ``Heaviside(x, 0)``.
    Its derivative is 0 away from 0 (``DiracDelta`` as a distribution).
    NumPy form ``where(x > 0, 1.0, 0.0)``.
    """

    nargs = 1
    pretty_name = "H"

    @classmethod
    def definition(cls, x: sp.Expr) -> sp.Expr:
        return sp.Piecewise((sp.S.One, x > 0), (sp.S.Zero, True))

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_positive:
            return sp.S.One
        if x.is_nonpositive:
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sp.DiracDelta(self.args[0])

    def _eval_is_nonnegative(self) -> bool | None:
        return self.args[0].is_extended_real or None

    def _eval_is_integer(self) -> bool | None:
        return self.args[0].is_extended_real or None

    latex_name = r"H"

    def _numpycode(self, printer: Any) -> str:
        x = printer._print(self.args[0])
        return f"{_np(printer, 'where')}(({x}) > 0, 1.0, 0.0)"


class relu(StablePrimitive):
    r"""relu(x) = max(x, 0) = x H(x); its derivative is the step H(x) (0 at 0, by convention).

    Definition ``Piecewise((x, x > 0), (0, True))``, whose branchwise derivative
    is exactly H with H(0) = 0.  NumPy form ``maximum(x, 0)``.
    """

    nargs = 1

    @classmethod
    def definition(cls, x: sp.Expr) -> sp.Expr:
        return sp.Piecewise((x, x > 0), (sp.S.Zero, True))

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_nonnegative:
            return x
        if x.is_nonpositive:
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return heaviside(self.args[0])

    def _eval_is_nonnegative(self) -> bool | None:
        return self.args[0].is_extended_real or None

    latex_name = r"\operatorname{relu}"

    def _numpycode(self, printer: Any) -> str:
        return f"{_np(printer, 'maximum')}({printer._print(self.args[0])}, 0.0)"


PRIMITIVES: tuple[type[StablePrimitive], ...] = (
    sigmoid,
    softplus,
    log_sigmoid,
    logit,
    logsumexp,
    relu,
    heaviside,
)


def expand_primitives(expr: Any) -> Any:
    """Replace every stable primitive in ``expr`` by its elementary definition.

    Works on expressions, relations and matrices; anything without a
    primitive is returned unchanged.
    """
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(expand_primitives)
    if not isinstance(expr, sp.Basic) or not expr.has(*PRIMITIVES):
        return expr
    return expr.replace(
        lambda e: isinstance(e, StablePrimitive),
        lambda e: e.elementary(),
    )


def softmax(z: Iterable[sp.Expr] | sp.MatrixBase) -> sp.Matrix:
    r"""The column vector softmax(z)_i = e^{z_i} / sum_j e^{z_j}, for explicit z."""
    entries: Sequence[sp.Expr] = list(z)
    if not entries:
        raise ValueError("softmax needs at least one component, got an empty z")
    total = sp.Add(*[sp.exp(zj) for zj in entries])
    return sp.Matrix([sp.exp(zi) / total for zi in entries])
