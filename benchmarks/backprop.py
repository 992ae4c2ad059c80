"""mlp_loss_and_grads against PyTorch's CPU autograd: time, and peak memory.

Network 784-256-256-10, batch 4096, float64, in two configurations: sigmoid
hidden layers with the MSE loss, ReLU hidden layers with softmax
cross-entropy (class indices).

* Time: loss and every gradient, ours against torch (forward, ``backward``,
  the same parameters); median of REPEATS runs each, interleaved in one
  process.  Bar: ours / torch <= 1.2.
* Memory: peak of what ``mlp_loss_and_grads`` allocates (tracemalloc, which
  sees NumPy's buffers) against the activations backpropagation must keep,
  N (256 + 256 + 10) float64 values.  Bar: at most 2 times.

PyTorch is optional: without it only our side is measured.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import numeric
from benchmarks import median_times, optional_torch, record

SIZES = (784, 256, 256, 10)
BATCH = 4096
REPEATS = 7
TIME_BAR = 1.2
MEMORY_BAR = 2.0
CONFIGS = (("sigmoid", "mse"), ("relu", "cross_entropy"))


def problem(loss: str, seed: int = 0) -> tuple[list[tuple[np.ndarray, np.ndarray]], Any, Any]:
    """Parameters (scaled as in Glorot's initialisation), inputs and targets."""
    rng = np.random.default_rng(seed)
    params = [
        (rng.normal(size=(o, i)) / np.sqrt(i), rng.normal(size=o) * 0.1)
        for i, o in itertools.pairwise(SIZES)
    ]
    X = rng.normal(size=(BATCH, SIZES[0]))
    labels = rng.integers(0, SIZES[-1], size=BATCH)
    Y = np.eye(SIZES[-1])[labels] if loss == "mse" else labels
    return params, X, Y


def _torch_step(torch: Any, params: list[Any], X: Any, Y: Any, hidden: str, loss: str) -> Any:
    a = X
    for i, (W, b) in enumerate(params):
        z = torch.nn.functional.linear(a, W, b)
        if i == len(params) - 1:
            a = torch.sigmoid(z) if loss == "mse" else z
        else:
            a = torch.sigmoid(z) if hidden == "sigmoid" else torch.relu(z)
    if loss == "mse":
        value = ((a - Y) ** 2).sum() / a.shape[0]
    else:
        value = torch.nn.functional.cross_entropy(a, Y)
    grads = torch.autograd.grad(value, [p for pair in params for p in pair])
    return value, grads


def peak_memory_ratio(hidden: str, loss: str) -> tuple[float, int]:
    """(peak allocated during one call / bytes of the activations kept, that peak)."""
    params, X, Y = problem(loss)
    kept = BATCH * sum(SIZES[1:]) * 8
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    numeric.mlp_loss_and_grads(params, X, Y, hidden=hidden, loss=loss)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / kept, peak


def time_ratio(torch: Any | None, hidden: str, loss: str) -> tuple[float, float | None]:
    params, X, Y = problem(loss)
    fns: dict[str, Callable[[], Any]] = {
        "ours": lambda: numeric.mlp_loss_and_grads(params, X, Y, hidden=hidden, loss=loss)
    }
    if torch is not None:
        tp = [
            (torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
            for W, b in params
        ]
        tX, tY = torch.tensor(X), torch.tensor(Y)
        fns["torch"] = lambda: _torch_step(torch, tp, tX, tY, hidden, loss)
    times = median_times(fns, REPEATS)
    return times["ours"], times.get("torch")


def run() -> bool:
    torch = optional_torch()
    shape = "-".join(map(str, SIZES))
    print(f"mlp_loss_and_grads, {shape}, batch {BATCH}, float64 (median of {REPEATS})")
    ok = True
    for hidden, loss in CONFIGS:
        ours, theirs = time_ratio(torch, hidden, loss)
        ratio_mem, peak = peak_memory_ratio(hidden, loss)
        ok &= ratio_mem <= MEMORY_BAR
        record(
            f"mlp_loss_and_grads {shape}, {hidden}/{loss}",
            "peak memory / activations kept",
            ratio_mem,
            MEMORY_BAR,
        )
        line = f"  {hidden:>7} + {loss:<13}: ours {ours * 1e3:7.1f} ms"
        if theirs is not None:
            ratio = ours / theirs
            ok &= ratio <= TIME_BAR
            record(
                f"mlp_loss_and_grads {shape}, {hidden}/{loss}",
                "time / torch autograd",
                ratio,
                TIME_BAR,
            )
            line += f", torch {theirs * 1e3:7.1f} ms, ratio {ratio:.2f} (bar {TIME_BAR:g})"
        else:
            line += ", torch not installed: no comparison"
        print(line)
        print(
            f"  {'':>23}peak memory {peak / 2**20:6.1f} MiB = {ratio_mem:.2f} x the "
            f"activations kept (bar {MEMORY_BAR:g})"
        )
    return ok


if __name__ == "__main__":
    run()
