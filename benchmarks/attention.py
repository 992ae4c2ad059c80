"""numeric.attention_backward against PyTorch autograd: time and peak memory.

Problem: 8 heads, T = S = 512, d_k = d_v = 64, float64, causal and not.

* Time: ours, ``attention_backward(Q, K, V, dO)`` (which recomputes the
  forward pass), against PyTorch's ``scaled_dot_product_attention`` forward
  plus ``backward(dO)`` through autograd (the same work: autograd needs the
  forward pass to have something to differentiate).  Medians of REPEATS runs,
  interleaved, each after an idle pause (benchmarks.SETTLE_S), in the same
  process; the ratio ours / torch is the figure.
  Bar: at most 1.2.  Torch's backward alone is shown for reference.
* Memory: the peak of ``attention_backward`` under ``tracemalloc`` (NumPy
  reports its buffers to it), in units of one T x S float64 matrix per head,
  measured once in this process (it does not depend on the threads).
  Bar: at most 3.

Each configuration runs in a fresh process, twice: with the libraries' own
thread pools (OpenBLAS for NumPy, OpenMP for PyTorch) and with one thread
each (OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = MKL_NUM_THREADS = 1).  On a
shared, loaded machine busy-waiting BLAS threads make the first figure swing
by factors of several; the single-thread ratio is the stable one.  The
medians and the same-run ratio are what to read, not the absolute times.
PyTorch is optional: without it only our side is measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import SETTLE_S, median_times, optional_torch, record
from numeric.attention import attention_backward

HEADS, T, D = 8, 512, 64
REPEATS = 9
TIME_BAR = 1.2
MEMORY_BAR = 3.0


def _problem(seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((HEADS, T, D)) for _ in range(4))


def _torch_fns(torch: Any, arrays: tuple[np.ndarray, ...], causal: bool) -> dict[str, Any]:
    q, k, v, do = (torch.tensor(a) for a in arrays)
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def forward_backward() -> None:
        leaves = [t.detach().requires_grad_() for t in (q, k, v)]
        sdpa(*leaves, is_causal=causal).backward(do)

    leaves = [t.detach().requires_grad_() for t in (q, k, v)]
    out = sdpa(*leaves, is_causal=causal)

    def backward_only() -> None:
        torch.autograd.grad(out, leaves, do, retain_graph=True)

    return {"torch forward+backward": forward_backward, "torch backward only": backward_only}


def peak_score_matrices(causal: bool) -> float:
    """Peak traced memory of attention_backward, in T x S float64 matrices per head."""
    Q, K, V, dO = _problem()
    tracemalloc.start()
    try:
        attention_backward(Q, K, V, dO, causal=causal)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / (HEADS * T * T * 8)


def measure() -> dict[str, Any]:
    """Times (ms) for both causal settings, in this process."""
    torch = optional_torch()
    Q, K, V, dO = _problem()
    result: dict[str, Any] = {"torch": torch is not None}
    for causal in (False, True):
        fns: dict[str, Callable[[], Any]] = {
            "ours": lambda c=causal: attention_backward(Q, K, V, dO, causal=c)
        }
        if torch is not None:
            fns.update(_torch_fns(torch, (Q, K, V, dO), causal))
        result[f"causal={causal}"] = {
            name: t * 1e3 for name, t in median_times(fns, REPEATS).items()
        }
    return result


_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _in_child(extra_env: dict[str, str]) -> dict[str, Any]:
    env = {**os.environ, **extra_env}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.attention", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run() -> bool:
    print(f"attention_backward: {HEADS} heads, T = S = {T}, d = {D}, float64")
    ok = True
    for label, env in (("default threads", {}), ("one thread each", _ONE_THREAD)):
        result = _in_child(env)
        for causal in (False, True):
            ms = result[f"causal={causal}"]
            line = f"  {label:16} causal={causal!s:5}  ours {ms['ours']:7.1f} ms"
            if result["torch"]:
                ref = ms["torch forward+backward"]
                ratio = ms["ours"] / ref
                line += (
                    f"  torch fwd+bwd {ref:7.1f} ms  ratio {ratio:.2f} (bar {TIME_BAR})"
                    f"  [torch bwd only {ms['torch backward only']:.1f} ms]"
                )
                if env:
                    ok &= ratio <= TIME_BAR
                    record(
                        "attention",
                        f"backward / torch, one thread, causal={causal}",
                        ratio,
                        TIME_BAR,
                    )
            print(line)
        if not result["torch"]:
            print("  (PyTorch not installed: no time comparison)")
    for causal in (False, True):  # the peak does not depend on the threads
        memory = peak_score_matrices(causal)
        ok &= memory <= MEMORY_BAR
        print(f"  causal={causal!s:5}  peak {memory:.2f} T x S per head (bar {MEMORY_BAR})")
        record("attention", f"peak T x S per head, causal={causal}", memory, MEMORY_BAR, "T x S")
    print(
        f"  median of {REPEATS} interleaved runs, each after an idle {SETTLE_S} s;"
        f" the time bar is judged single-threaded; {'PASS' if ok else 'FAIL'}"
    )
    return ok


if __name__ == "__main__":
    if "--json" in sys.argv:
        print(json.dumps(measure()))
    else:
        run()
