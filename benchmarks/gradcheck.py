"""numeric.gradcheck against torch.autograd.gradcheck: time on 1000 inputs, and bugs caught.

Function: f(x) = sum(log(1 + exp(A x))), float64.

* Time: A is 50 x 1000; ours with the complex step (1000 complex
  evaluations plus the analyticity probe) against torch's slow mode (the full
  numerical Jacobian by central differences, 2000 evaluations, plus the
  analytical one by backward).  Median of REPEATS runs each, same process,
  interleaved.  Bar: ours / torch <= 3.
* Sensitivity: A is 50 x 20; one gradient entry multiplied by (1 + delta);
  the share of TRIALS (seed, entry) pairs in which each checker reports the
  bug, for several delta, and false alarms on the correct gradient.

PyTorch is optional: without it only our side is measured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import numeric
from benchmarks import median_times, optional_torch, record

REPEATS = 5
BAR = 3.0
DELTAS = (1e-2, 1e-3, 1e-6, 1e-9, 1e-11)
TRIALS = [(seed, entry) for seed in range(5) for entry in range(0, 20, 5)]  # 20 trials


def _median_time_of(fn: Callable[[], Any]) -> float:
    return median_times({"run": fn}, REPEATS, settle_s=0.0)["run"]  # nothing to compare with


def _numpy_problem(A: np.ndarray) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def f(x: np.ndarray) -> Any:
        return np.sum(numeric.softplus(A @ x))

    def grad(x: np.ndarray) -> np.ndarray:
        return A.T @ numeric.sigmoid(A @ x)

    return f, grad


def _torch_function(torch: Any, A: np.ndarray, entry: int, delta: float) -> Callable[..., Any]:
    """sum(softplus(A x)) as a torch autograd Function with a backward off by delta at entry."""
    At = torch.tensor(A)

    class SoftplusSum(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return torch.nn.functional.softplus(At @ x).sum()

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            grad = At.T @ torch.sigmoid(At @ x)
            scale = torch.ones_like(grad)
            scale[entry] += delta
            return g * grad * scale

    return SoftplusSum.apply  # type: ignore[no-any-return]


def time_comparison(torch: Any | None) -> tuple[float, float | None, int]:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(50, 1000)) / np.sqrt(1000)
    x = rng.normal(size=1000)
    f, grad = _numpy_problem(A)
    evaluations = numeric.gradcheck(f, grad, x, method="complex").evaluations
    ours = _median_time_of(lambda: numeric.gradcheck(f, grad, x, method="complex"))
    if torch is None:
        return ours, None, evaluations
    fn = _torch_function(torch, A, 0, 0.0)
    xt = torch.tensor(x, requires_grad=True)
    theirs = _median_time_of(lambda: torch.autograd.gradcheck(fn, (xt,), fast_mode=False))
    return ours, theirs, evaluations


def _torch_catches(
    torch: Any, A: np.ndarray, x: np.ndarray, entry: int, delta: float, fast: bool
) -> bool:
    fn = _torch_function(torch, A, entry, delta)
    xt = torch.tensor(x, requires_grad=True)
    return not torch.autograd.gradcheck(fn, (xt,), fast_mode=fast, raise_exception=False)


def _planted(grad: Callable[..., Any], entry: int, delta: float) -> Callable[..., Any]:
    def buggy(x: np.ndarray) -> Any:
        g = grad(x)
        g[entry] *= 1 + delta
        return g

    return buggy


def sensitivity(torch: Any | None) -> dict[str, list[float]]:
    """Share of trials caught, per checker and delta (delta = 0: false alarms)."""
    rows: dict[str, list[float]] = {"verigrad (auto)": []}
    if torch is not None:
        rows["torch gradcheck"] = []
        rows["torch gradcheck, fast mode"] = []
    for delta in (*DELTAS, 0.0):
        counts = dict.fromkeys(rows, 0)
        for seed, entry in TRIALS:
            rng = np.random.default_rng(seed)
            A = rng.normal(size=(50, 20))
            x = rng.normal(size=20)
            f, grad = _numpy_problem(A)

            counts["verigrad (auto)"] += not numeric.gradcheck(
                f, _planted(grad, entry, delta), x
            ).ok
            if torch is not None:
                counts["torch gradcheck"] += _torch_catches(torch, A, x, entry, delta, fast=False)
                counts["torch gradcheck, fast mode"] += _torch_catches(
                    torch, A, x, entry, delta, fast=True
                )
        for name in rows:
            rows[name].append(counts[name] / len(TRIALS))
    return rows


def run() -> bool:
    torch = optional_torch()
    ours, theirs, evaluations = time_comparison(torch)
    print("gradcheck, f(x) = sum(softplus(A x)), A 50 x 1000, float64")
    print(f"  verigrad, complex step: {ours * 1e3:8.1f} ms  ({evaluations} evaluations of f)")
    ok = True
    if theirs is not None:
        ratio = ours / theirs
        ok = ratio <= BAR
        record("gradcheck, 1000 inputs", "time / torch gradcheck (slow mode)", ratio, BAR)
        print(f"  torch.autograd.gradcheck, slow mode: {theirs * 1e3:8.1f} ms")
        print(f"  ratio ours / torch: {ratio:.2f} (bar {BAR:g}, median of {REPEATS})")
    else:
        print("  torch not installed: no comparison")
    print(f"bugs caught, A 50 x 20, one entry times (1 + delta), {len(TRIALS)} trials")
    rows = sensitivity(torch)
    header = "".join(f"{d:>9.0e}" for d in DELTAS) + "  false alarms"
    print(f"  {'':<28}{header}")
    for name, shares in rows.items():
        cells = "".join(f"{s:>9.0%}" for s in shares[:-1])
        print(f"  {name:<28}{cells}  {shares[-1]:>12.0%}")
    return ok
