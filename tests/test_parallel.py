"""Checks spread over worker processes: same answers, in order, budgets kept."""

from __future__ import annotations

import os
import time

import pytest
import sympy as sp

from derivations import check_equal
from derivations.budget import BudgetExceeded, time_limit
from derivations.parallel import run_parallel


def _square(n: int) -> int:
    return n * n


def _pid(_: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def _budgeted(seconds: float) -> str:
    try:
        with time_limit(seconds):
            while True:
                pass
    except BudgetExceeded:
        return "stopped"


def _hard_check(_: int) -> str:
    x, y = sp.symbols("x y", real=True)
    return check_equal(sp.expand((x + y + 1) ** 60), (x + y + 1) ** 60, budget_s=0.3).status


def test_results_come_back_in_the_order_of_the_inputs() -> None:
    seen: list[int] = []
    out = run_parallel(_square, list(range(20)), jobs=2, on_result=lambda i, r: seen.append(i))
    assert out == [n * n for n in range(20)]
    assert sorted(seen) == list(range(20))


def test_one_job_runs_here_in_order() -> None:
    seen: list[int] = []
    out = run_parallel(_pid, [1, 2, 3], jobs=1, on_result=lambda i, r: seen.append(i))
    assert set(out) == {os.getpid()} and seen == [1, 2, 3]


def test_several_jobs_run_in_other_processes() -> None:
    assert os.getpid() not in run_parallel(_pid, [1, 2, 3, 4], jobs=2)


def test_budgets_work_inside_the_workers() -> None:
    assert run_parallel(_budgeted, [0.1, 0.1], jobs=2) == ["stopped", "stopped"]
    assert all(s != "refuted" for s in run_parallel(_hard_check, [0, 1], jobs=2))


def test_jobs_must_be_positive() -> None:
    with pytest.raises(ValueError, match="jobs"):
        run_parallel(_square, [1], jobs=0)


def _stuck_in_worker(n: int) -> int:
    if os.getpid() != PARENT_PID:
        time.sleep(60)  # a worker that never answers, as a deadlocked one would
    return n


PARENT_PID = os.getpid()


def test_silent_workers_are_given_up_and_the_items_done_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from derivations import parallel

    monkeypatch.setattr(parallel, "WORKER_SILENCE_S", 0.5)
    start = time.monotonic()
    assert run_parallel(_stuck_in_worker, [1, 2, 3], jobs=2) == [1, 2, 3]
    assert time.monotonic() - start < 30


def test_a_threaded_process_does_not_fork() -> None:
    import threading

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert set(run_parallel(_pid, [1, 2, 3], jobs=2)) == {os.getpid()}
    finally:
        stop.set()
        other.join()
