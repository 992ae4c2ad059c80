"""Softmax cross-entropy: speed against PyTorch, accuracy where PyTorch loses it, verify time.

* Time: ``cross_entropy_grad`` for N = 200000 rows, K = 100 classes, float64,
  class indices, against PyTorch's CPU autograd of ``cross_entropy`` (forward
  and ``torch.autograd.grad``, the same logits).  Median of REPEATS runs each,
  interleaved in one process.  Bar: ours / torch <= 0.8, each library with
  its default threads (ours shares large arrays among the cores, PyTorch uses
  its intra-op pool); the ratio with one thread each is shown beside it.
* Accuracy: a dominant class (margin 46 and 60: loss about 1e-20 and 1e-26),
  ours in ulps against a 2400-bit reference, and PyTorch's relative error
  (its log-softmax and gradient entry softmax - 1 round to 0 there).  Bar: 8 ulp.
* Accuracy on ACCURACY_ROWS random rows (K up to 32, |z| up to 700): worst
  ulps of log_softmax, cross_entropy (every target) and cross_entropy_grad
  (bar 8), and softmax's worst relative error (bar 2e-13).
* Verify time: ``verigrad verify`` of the softmax topic in a fresh process,
  start-up included, median of 3.  Bar: 4 s of CPU time (what an idle core
  takes; the wall time, also shown, grows with the load of a shared machine).

PyTorch is optional: without it only our side is measured.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np

import numeric
from benchmarks import median_times, optional_torch, record, thread_limit, timed_verigrad
from derivations.accuracy import ulps, worst_ulps
from derivations.highprec import log_softmax_reference

ROWS, CLASSES = 200_000, 100
REPEATS = 7
TIME_BAR = 0.8
ULP_BAR = 8.0
VERIFY_BAR_S = 4.0
MARGINS = (46.0, 60.0)
ACCURACY_ROWS = 200
SOFTMAX_REL_BAR = 2e-13


def time_ratio(torch: Any | None) -> dict[str, tuple[float, float | None]]:
    """{"default threads": (ours, torch), "one thread each": (...)}: median seconds.

    The bar is judged with each library's own default (ours shares large
    arrays among the cores, numeric._threads; PyTorch uses its intra-op
    pool); one thread each is shown beside it.  The torch time is None when it is absent.
    """
    rng = np.random.default_rng(0)
    z = rng.normal(size=(ROWS, CLASSES)) * 3
    t = rng.integers(0, CLASSES, size=ROWS)
    fns: dict[str, Callable[[], Any]] = {"ours": lambda: numeric.cross_entropy_grad(z, t)}
    if torch is not None:
        tz, tt = torch.tensor(z, requires_grad=True), torch.tensor(t)

        def torch_grad() -> Any:
            loss = torch.nn.functional.cross_entropy(tz, tt)
            return torch.autograd.grad(loss, tz)[0]

        fns["torch"] = torch_grad
    results = {}
    for label, threads in (("default threads", None), ("one thread each", 1)):
        with thread_limit(threads, torch):
            times = median_times(fns, REPEATS)
        results[label] = (times["ours"], times.get("torch"))
    return results


def dominant_class(torch: Any | None) -> tuple[float, float | None]:
    """(our worst ulps, torch's worst relative error) over loss and gradient entry."""
    ours, theirs = 0.0, 0.0
    for margin in MARGINS:
        z = np.array([margin, 0.0, -1.0])
        with mpmath.workprec(2400):
            zs = [mpmath.mpf(v) for v in z]
            total = mpmath.fsum(mpmath.exp(v) for v in zs)
            loss = mpmath.log(total) - zs[0]  # -log softmax_0
            grad = mpmath.exp(zs[0]) / total - 1  # softmax_0 - 1
        ours = max(
            ours,
            ulps(numeric.cross_entropy(z, 0), loss),
            ulps(numeric.cross_entropy_grad(z, 0)[0], grad),
        )
        if torch is not None:
            tz = torch.tensor(z[None, :], requires_grad=True)
            value = torch.nn.functional.cross_entropy(tz, torch.tensor([0]))
            (g,) = torch.autograd.grad(value, tz)
            for got, exact in ((value.item(), loss), (g[0, 0].item(), grad)):
                theirs = max(theirs, float(abs((mpmath.mpf(got) - exact) / exact)))
    return ours, theirs if torch is not None else None


def accuracy(rows: int = ACCURACY_ROWS, seed: int = 7) -> dict[str, float]:
    """Worst ulps of log_softmax, cross_entropy (every target) and cross_entropy_grad, and
    softmax's worst relative error, on random rows (K in 1..32, |z| up to 700, magnitudes
    log-uniform from 1e-3 of the largest) and the dominant-class rows."""
    rng = np.random.default_rng(seed)
    samples = [np.array([m, 0.0, -1.0]) for m in MARGINS]
    for _ in range(rows):
        k = int(rng.integers(1, 33))
        top = 10.0 ** rng.uniform(-3, np.log10(700))
        samples.append(rng.uniform(-1, 1, size=k) * top)
    worst = dict.fromkeys(("log_softmax", "cross_entropy", "cross_entropy_grad"), 0.0)
    softmax_rel = 0.0
    for z in samples:
        k = z.size
        ls = log_softmax_reference(z)
        with mpmath.workprec(2400):
            sm = [mpmath.exp(v) for v in ls]
            grad = [(sm[c] - (c == t)) / k for t in range(k) for c in range(k)]
            rel = [abs(mpmath.mpf(float(g)) - e) / e for g, e in zip(numeric.softmax(z), sm)]
        tiled, targets = np.tile(z, (k, 1)), np.arange(k)
        for name, got, exact in (
            ("log_softmax", numeric.log_softmax(z), ls),
            ("cross_entropy", numeric.cross_entropy(tiled, targets), [-v for v in ls]),
            ("cross_entropy_grad", numeric.cross_entropy_grad(tiled, targets), grad),
        ):
            worst[name] = max(worst[name], worst_ulps(got, exact))
        softmax_rel = max([softmax_rel, *(float(r) for r, e in zip(rel, sm) if e >= 1e-300)])
    return {**worst, "softmax relative": softmax_rel}


def verify_time() -> tuple[float, float]:
    """(wall, CPU) seconds of ``verigrad verify --jobs 1`` of the topic, medians of 3.

    A fresh process each time, start-up included.  CPU time (user + system of
    the child) is closer to what an idle core would take; on a shared machine
    the wall time grows with the load (and CPU time somewhat, too).
    """
    walls, cpus = [], []
    for _ in range(3):
        wall, cpu, result = timed_verigrad(["verify", "--jobs", "1", "--topic", "softmax"])
        if result.returncode != 0:
            raise RuntimeError(f"verigrad verify --topic softmax failed: {result.stdout[-500:]}")
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def run() -> bool:
    torch = optional_torch()
    ok = True
    print(f"cross_entropy_grad, N = {ROWS}, K = {CLASSES}, float64 (median of {REPEATS})")
    for label, (ours, theirs) in time_ratio(torch).items():
        line = f"  {label:16} ours {ours * 1e3:7.1f} ms"
        if theirs is not None:
            ratio = ours / theirs
            line += f", torch {theirs * 1e3:7.1f} ms, ratio {ratio:.2f}"
            if label == "default threads":
                ok &= ratio <= TIME_BAR
                line += f" (bar {TIME_BAR:g})"
            record(
                f"cross_entropy_grad {ROWS}x{CLASSES}",
                f"time / torch, {label}",
                ratio,
                TIME_BAR if label == "default threads" else None,
            )
        else:
            line += ", torch not installed: no comparison"
        print(line)

    worst, torch_rel = dominant_class(torch)
    ok &= worst <= ULP_BAR
    record("cross_entropy, dominant class", "max ulp (loss, grad)", worst, ULP_BAR, unit="ulp")
    print(f"dominant class (margins {MARGINS}): ours max {worst:.2f} ulp (bar {ULP_BAR:g})", end="")
    print("" if torch_rel is None else f"; torch relative error {torch_rel:.0%}")

    measured = accuracy()
    print(f"accuracy against 2400 bits, {ACCURACY_ROWS} random rows and the dominant rows:")
    for name, value in measured.items():
        if name == "softmax relative":
            ok &= value <= SOFTMAX_REL_BAR
            eps = float(np.finfo(np.float64).eps)
            record("softmax", "max relative error", value / eps, SOFTMAX_REL_BAR / eps, "eps")
            print(f"  softmax            max relative error {value:.2g} (bar {SOFTMAX_REL_BAR:g})")
        else:
            ok &= value <= ULP_BAR
            record(name, "max ulp, random rows", value, ULP_BAR, unit="ulp")
            print(f"  {name:<18} max {value:.2f} ulp (bar {ULP_BAR:g})")

    wall, cpu = verify_time()
    ok &= cpu <= VERIFY_BAR_S
    record("verigrad verify, softmax topic", "CPU time", cpu, VERIFY_BAR_S, unit="s")
    print(
        f"verify the softmax topic: CPU {cpu:.2f} s (bar {VERIFY_BAR_S:g} s), wall {wall:.2f} s;"
        " medians of 3"
    )
    return ok
