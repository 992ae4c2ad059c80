"""Speed and accuracy comparisons; ``make bench`` runs ``python -m benchmarks``.

Each benchmark prints its own table and :func:`record` s its headline
figures; ``python -m benchmarks`` ends with all of them in one Markdown table
(the one the README shows).  Ratios are ours / the reference, measured in the
same run, medians of repetitions.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from numeric._threads import ENV_VAR

__all__ = [
    "RESULTS",
    "Result",
    "median_times",
    "optional_torch",
    "record",
    "summary_markdown",
    "thread_limit",
]


def optional_torch() -> Any | None:
    """PyTorch if it is installed (it is never a dependency), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


@contextmanager
def thread_limit(threads: int | None, torch: Any | None = None) -> Iterator[None]:
    """numeric's threads (and PyTorch's, if given) limited to ``threads`` in the block;
    None leaves both at their defaults."""
    saved_env = os.environ.get(ENV_VAR)
    saved_torch = torch.get_num_threads() if torch is not None else None
    if threads is not None:
        os.environ[ENV_VAR] = str(threads)
        if torch is not None:
            torch.set_num_threads(threads)
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = saved_env
        if torch is not None:
            torch.set_num_threads(saved_torch)


def timed_verigrad(args: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU seconds (user + system, the process and its children) of
    ``python -m derivations ARGS`` in a fresh process, and its result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "derivations", *args], capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result


# Idle seconds before each timed run of a comparison (see median_times).
SETTLE_S = 0.3


def median_times(
    fns: dict[str, Callable[[], Any]], repeats: int, settle_s: float = SETTLE_S
) -> dict[str, float]:
    """Median seconds of each function over ``repeats`` runs, after one warm-up run;
    the runs are interleaved so that the machine's load falls on all alike.

    ``settle_s``: an idle pause before each timed run.  BLAS and OpenMP pools
    keep their threads spinning for a while after a call; without the pause,
    whichever function runs next shares the cores with them (seen: 60 ms
    becoming 90 ms after a threaded matrix-vector product).
    """
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(settle_s)
            start = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in runs.items()}


@dataclass(frozen=True)
class Result:
    """A headline figure: ``value`` in ``unit`` ("x" a ratio, "s" seconds), ``bar`` its limit."""

    benchmark: str
    measure: str
    value: float
    bar: float | None = None
    unit: str = "x"

    @property
    def ok(self) -> bool:
        return self.bar is None or self.value <= self.bar


RESULTS: list[Result] = []


def record(benchmark: str, measure: str, value: float, bar: float | None, unit: str = "x") -> None:
    """Keep a figure for the summary table."""
    RESULTS.append(Result(benchmark, measure, value, bar, unit))


def _fmt(value: float, unit: str) -> str:
    return f"{value:.2f} {unit}" if unit != "x" else f"{value:.2f}x"


def summary_markdown(results: list[Result] | None = None) -> str:
    """The recorded figures as a Markdown table."""
    rows = RESULTS if results is None else results
    lines = ["| benchmark | measure | value | bar | |", "|---|---|---:|---:|---|"]
    for r in rows:
        bar = "" if r.bar is None else "<= " + _fmt(r.bar, r.unit)
        lines.append(
            f"| {r.benchmark} | {r.measure} | {_fmt(r.value, r.unit)} | {bar} |"
            f" {'ok' if r.ok else 'MISSED'} |"
        )
    return "\n".join(lines)
