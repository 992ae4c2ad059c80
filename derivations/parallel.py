"""Run independent checks on several cores, reporting each as it finishes.

Verification is pure Python and single-threaded, so the derivations (and the
notes' claims) are spread over forked worker processes.  Each worker's main
thread runs the checks, so the ``SIGALRM`` budgets of
:mod:`derivations.budget` work there as they do in a single process.
Results come back pickled; they are returned in the order of the inputs.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["default_jobs", "run_parallel"]

# Beyond a few workers the start-up and pickling cost more than they save.
MAX_DEFAULT_JOBS = 4
# Longest wait for the next result before the workers are given up for lost (a
# forked worker can deadlock on a lock another thread held at the fork); the
# items left are then done here.  Every check inside has its own, shorter budget.
WORKER_SILENCE_S = 300.0


def default_jobs() -> int:
    """The cores this process may use, at most MAX_DEFAULT_JOBS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_JOBS))


def _can_fork() -> bool:
    """Fork only from a single-threaded process: a lock held by another thread at
    the fork stays locked forever in the child."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and threading.current_thread() is threading.main_thread()
        and threading.active_count() == 1
    )


class _Call:
    """A picklable ``pair -> (index, fn(item))`` for the pool."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, pair: tuple[int, Any]) -> tuple[int, Any]:
        index, item = pair
        return index, self.fn(item)


def run_parallel(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    jobs: int | None = None,
    on_result: Callable[[T, R], None] | None = None,
) -> list[R]:
    """``[fn(item) for item in items]`` on ``jobs`` forked workers.

    ``on_result(item, result)`` is called in the parent as each finishes (in
    the order they finish).  With one job, one item, or where fork is not
    available (or off the main thread), everything runs here, in order.
    ``fn`` must be a module-level function; its results must pickle.
    """
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    results: list[Any] = [None] * len(items)
    done = [False] * len(items)
    if jobs > 1 and len(items) >= 2 and _can_fork():
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(min(jobs, len(items))) as pool:
            results_iter = pool.imap_unordered(_Call(fn), list(enumerate(items)))
            try:
                for _ in items:
                    i, result = results_iter.next(timeout=WORKER_SILENCE_S)
                    results[i], done[i] = result, True
                    if on_result is not None:
                        on_result(items[i], result)
            except multiprocessing.TimeoutError:
                pool.terminate()
    for i, item in enumerate(items):  # all of them here, or what the workers did not finish
        if not done[i]:
            results[i] = fn(item)
            if on_result is not None:
                on_result(item, results[i])
    return results
