"""Time budgets: a computation is stopped when its budget ends, from any thread."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from derivations.budget import BudgetExceeded, run_with_budget, time_limit


def spin(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "done"


def test_time_limit_stops_a_long_computation_on_time() -> None:
    start = time.monotonic()
    with pytest.raises(BudgetExceeded), time_limit(0.2):
        spin(5)
    assert time.monotonic() - start < 0.5


def test_time_limit_lets_a_short_computation_finish() -> None:
    with time_limit(2.0):
        assert spin(0.01) == "done"


def test_inner_budget_expires_first_and_outer_keeps_running() -> None:
    with time_limit(2.0):
        with pytest.raises(BudgetExceeded), time_limit(0.1):
            spin(5)
        assert spin(0.05) == "done"


def test_outer_budget_is_not_swallowed_by_an_inner_one() -> None:
    start = time.monotonic()
    with pytest.raises(BudgetExceeded) as info, time_limit(0.2):
        try:
            with time_limit(10.0):
                spin(5)
        except BudgetExceeded:
            pytest.fail("the inner block must not catch the outer budget")
    assert info.value.seconds == 0.2
    assert time.monotonic() - start < 0.5


class SlowFinalizer:
    """An object whose ``__del__`` outlasts the budget: an exception raised
    there is swallowed by the interpreter ("Exception ignored in ...")."""

    def __del__(self) -> None:
        spin(0.3)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_deadline_swallowed_by_a_finalizer_is_raised_again() -> None:
    start = time.monotonic()
    with pytest.raises(BudgetExceeded), time_limit(0.1):
        SlowFinalizer()  # dropped at once: the alarm fires inside __del__
        spin(5)
    # Fired in __del__ at 0.1 s, swallowed; raised again REFIRE_S after that.
    assert time.monotonic() - start < 0.3 + 0.25 + 0.3


def test_previous_alarm_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGALRM)
    with time_limit(1.0):
        pass
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_run_with_budget_from_a_thread_uses_a_child_process() -> None:
    results: dict[str, object] = {}

    def worker() -> None:
        try:
            run_with_budget(lambda: spin(5), 0.3)
        except BudgetExceeded as exc:
            results["exc"] = exc
        results["value"] = run_with_budget(lambda: 6 * 7, 5.0)

    start = time.monotonic()
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert isinstance(results.get("exc"), BudgetExceeded)
    assert results["value"] == 42
    assert time.monotonic() - start < 5


def test_errors_inside_the_child_reach_the_caller() -> None:
    caught: list[BaseException] = []

    def worker() -> None:
        try:
            run_with_budget(lambda: 1 / 0, 5.0)
        except ZeroDivisionError as exc:
            caught.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert len(caught) == 1


def test_a_non_positive_budget_is_already_spent() -> None:
    with pytest.raises(BudgetExceeded), time_limit(0):
        pass
