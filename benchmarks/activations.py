"""Accuracy of the activations beside SciPy and PyTorch, in ulps against 50 digits.

Inputs: z over [-745, 745] (the grid of :mod:`derivations.accuracy`, which
includes the extremes), float64; the error is counted wherever the true
value is a normal float64. Each library's function is the one a user would
reach for: SciPy's ``expit``, ``log_expit`` and ``log1p(exp)``-free
``logaddexp(0, z)``; PyTorch's ``sigmoid``, ``logsigmoid`` and ``softplus``.
Both are optional.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np

from benchmarks import record
from derivations.accuracy import scalar_functions, scalar_grid, worst_ulps
from derivations.functions import expand_primitives
from derivations.highprec import reference

ULP_BAR = 4.0


def _libraries() -> dict[str, dict[str, Callable[[np.ndarray], np.ndarray]]]:
    libs: dict[str, dict[str, Callable[[np.ndarray], np.ndarray]]] = {}
    try:
        from scipy import special

        libs["scipy"] = {
            "sigmoid": special.expit,
            "log_sigmoid": special.log_expit,
            "softplus": lambda z: np.logaddexp(0.0, z),
        }
    except ImportError:
        pass
    try:
        import torch

        def wrap(fn: Callable[[Any], Any]) -> Callable[[np.ndarray], np.ndarray]:
            return lambda z: fn(torch.from_numpy(z)).numpy()

        libs["torch"] = {
            "sigmoid": wrap(torch.sigmoid),
            "log_sigmoid": wrap(torch.nn.functional.logsigmoid),
            "softplus": wrap(torch.nn.functional.softplus),
        }
    except ImportError:
        pass
    return libs


def _worst(fn: Callable[[np.ndarray], np.ndarray], grid: np.ndarray, exact: list[Any]) -> float:
    return worst_ulps(fn(grid.copy()), exact)


def run() -> bool:
    grid = scalar_grid()
    libs = _libraries()
    names = ", ".join(libs) or "neither SciPy nor PyTorch installed"
    print(f"activations: max ulp against 50 digits, z in [-745, 745] (beside: {names})")
    ok = True
    for name, fn, expr in scalar_functions():
        exact_fn = reference(expand_primitives(expr), [_symbol(expr)])
        exact = [exact_fn(mpmath.mpf(float(x))) for x in grid]
        ours = _worst(fn, grid, exact)
        ok &= ours <= ULP_BAR
        record(f"numeric.{name}", "max ulp, z in [-745, 745]", ours, ULP_BAR, unit="ulp")
        line = f"  {name:<13} ours {ours:10.2f}"
        for lib, fns in libs.items():
            if name in fns:
                theirs = _worst(fns[name], grid, exact)
                line += f"   {lib} {theirs:10.3g}"
                record(f"{lib} {name}", "max ulp, z in [-745, 745]", theirs, None, unit="ulp")
        print(line)
    return ok


def _symbol(expr: Any) -> Any:
    (z,) = expr.free_symbols
    return z


if __name__ == "__main__":
    run()
