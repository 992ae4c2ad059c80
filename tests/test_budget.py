"""Time budgets: a computation is stopped when its budget ends, from any thread."""

from __future__ import annotations

import contextlib
import gc
import signal
import subprocess
import sys
import threading
import time
import weakref

import pytest

from derivations import budget
from derivations.budget import REFIRE_S, BudgetExceeded, run_with_budget, time_limit


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


# Nested limits whose deadlines lie 0 to 0.3 ms apart, the inner block unwinding an expiry
# through 3000 frames with a finally each (as through SymPy); the program prints how many
# expiries escaped every handler and how many deadlines were left behind.
NESTED_DEADLINES = """
import sys
from derivations import budget
from derivations.budget import BudgetExceeded, time_limit

sys.setrecursionlimit(10000)


def spin_deep(depth):
    if depth == 0:
        while True:
            pass
    try:
        spin_deep(depth - 1)
    finally:
        [0] * 50


escaped = stale = 0
for trial in range(300):
    try:
        with time_limit(0.005):
            try:
                with time_limit(0.005 + (trial % 30) * 1e-5):
                    spin_deep(3000)
            except BudgetExceeded:
                pass
            while True:
                pass
    except BudgetExceeded:
        pass
    except BaseException:
        escaped += 1
    stale += bool(budget._active)
    budget._active.clear()
print(escaped, stale)
"""


def test_nested_deadlines_a_moment_apart_expire_cleanly() -> None:
    # The inner alarm arrives while the outer expiry unwinds, often during the inner
    # block's own clean-up.  Raised there, it escaped every handler (6 times in 300
    # before it was put off) and left the inner deadline behind.  In a fresh interpreter:
    # here, other tests' garbage would bring finalizers into the timing.
    run = subprocess.run(
        [sys.executable, "-c", NESTED_DEADLINES], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["0", "0"], run.stdout


def test_only_a_time_limits_own_entry_and_exit_put_the_alarm_off(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Inside time_limit's exit: its generator frame and contextlib's __exit__ around it.
    seen: list[bool] = []
    arm = budget._arm_earliest

    def spy() -> None:
        frames = [sys._getframe(1), sys._getframe(2)]  # the generator, contextlib's method
        seen.append(all(budget._in_limit_entry_or_exit(f) for f in frames))
        arm()

    monkeypatch.setattr(budget, "_arm_earliest", spy)
    with time_limit(1.0):
        pass
    assert seen and all(seen)

    # Another @contextmanager's exit is not one of them.
    @contextlib.contextmanager
    def other():  # type: ignore[no-untyped-def]
        yield
        seen.append(budget._in_limit_entry_or_exit(sys._getframe(1)))

    with other():
        pass
    assert seen[-1] is False


class SlowFinalizer:
    """An object whose ``__del__`` outlasts the budget: an exception raised
    there is swallowed by the interpreter ("Exception ignored in ...")."""

    def __del__(self) -> None:
        spin(0.3)


@pytest.fixture
def swallowed(monkeypatch: pytest.MonkeyPatch) -> list[BaseException | None]:
    """The exceptions the interpreter swallows (in __del__, gc callbacks) during a test."""
    seen: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda report: seen.append(report.exc_value))
    return seen


def test_a_deadline_inside_a_finalizer_waits_for_it(swallowed: list) -> None:  # type: ignore[type-arg]
    start = time.monotonic()
    with pytest.raises(BudgetExceeded), time_limit(0.1):
        SlowFinalizer()  # dropped at once: the alarm fires inside __del__
        spin(5)
    # Raised in __del__ it would be lost; it is put off until __del__ returns at 0.3 s.
    assert swallowed == []
    assert time.monotonic() - start < 0.3 + REFIRE_S


def test_a_deadline_inside_a_weakref_callback_waits_for_it(swallowed: list) -> None:  # type: ignore[type-arg]
    class Target:
        pass

    start = time.monotonic()
    with pytest.raises(BudgetExceeded), time_limit(0.1):
        target = Target()
        weakref.finalize(target, spin, 0.3)
        del target  # the callback runs at once: the alarm fires inside it
        spin(5)
    assert swallowed == []
    assert time.monotonic() - start < 0.3 + REFIRE_S


def test_a_deadline_inside_a_gc_callback_waits_for_it(swallowed: list) -> None:  # type: ignore[type-arg]
    def slow_callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            spin(0.05)

    gc.callbacks.append(slow_callback)  # as hypothesis registers one
    try:
        with pytest.raises(BudgetExceeded), time_limit(0.2):
            while True:  # most of the time is spent inside the callback
                spin(0.01)
                gc.collect()
    finally:
        gc.callbacks.remove(slow_callback)
    assert swallowed == []
    assert budget._gc_started not in gc.callbacks  # the trackers leave with the last block
    assert budget._gc_stopped not in gc.callbacks


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
