"""Time budgets for symbolic work: no step of the verifier may hang.

SymPy is pure Python, so a computation can be interrupted between bytecodes.
In the main thread a budget is enforced with ``SIGALRM`` (``setitimer``):
cheap, and exact to a few milliseconds.  Budgets nest: an inner budget never
outlives an outer one, and only the budget that expired catches its own
:class:`BudgetExceeded`.

Signals reach only the main thread.  Elsewhere (a thread pool, a web server
worker) the work runs in a forked child process that is killed when its
budget ends; the result comes back pickled.
"""

from __future__ import annotations

import _weakrefset
import contextlib
import gc
import multiprocessing
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["BudgetExceeded", "run_with_budget", "signals_usable", "time_limit"]


class BudgetExceeded(Exception):
    """Raised inside a computation whose time budget has run out."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"time budget of {seconds:.3g} s exceeded")
        self.seconds = seconds


# Deadlines of the active ``time_limit`` blocks, innermost last: (deadline, token).
_active: list[tuple[float, object]] = []
# When each expired token was last raised.  An expiry raised inside a
# ``__del__`` or a gc callback is swallowed by the interpreter ("Exception
# ignored in ..."), so a raised deadline is raised again if its block is still
# running REFIRE_S later; sooner than that, the first raise is still on its way
# up and a second one could escape its block's handler.
_fired: dict[int, float] = {}
REFIRE_S = 0.25


def signals_usable() -> bool:
    """True where :func:`time_limit` works: the main thread of a POSIX process."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _due(deadline: float, token: object) -> float:
    """When the alarm for ``token`` should (next) fire."""
    raised = _fired.get(id(token))
    return deadline if raised is None else raised + REFIRE_S


def _arm_earliest() -> None:
    pending = [_due(d, tok) for d, tok in _active]
    if not pending:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    remaining = min(pending) - time.monotonic()
    # setitimer(0) would disarm the timer: fire almost at once instead.
    signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-4))


class _Expired(BaseException):
    """Carries the token of the expired deadline up to its own ``time_limit``."""

    def __init__(self, token: object) -> None:
        self.token = token


# An exception raised inside a gc callback or a ``__del__`` is swallowed by the
# interpreter; an alarm that lands there is put off by DEFER_S instead of raised,
# for at most REFIRE_S.
# The gc phase is tracked by a callback first in ``gc.callbacks`` at "start" and
# one last at "stop", so that the callbacks of others (hypothesis registers one)
# run inside the tracked phase.
DEFER_S = 1e-3
_collecting = False


def _gc_started(phase: str, info: dict[str, int]) -> None:
    global _collecting
    # Only the main thread's collections: the alarm's handler runs there, and a
    # collection in another thread does not swallow it.
    if phase == "start" and threading.current_thread() is threading.main_thread():
        _collecting = True


def _gc_stopped(phase: str, info: dict[str, int]) -> None:
    global _collecting
    if phase == "stop":
        _collecting = False


# Where weakref callbacks live (WeakKeyDictionary's and WeakSet's removers, weakref.finalize):
# the interpreter swallows a raise from a callback as it does one from a finalizer.  Any
# frame of these files counts (an ordinary call of theirs is put off a millisecond at a
# time); a callback of one's own, weakref.ref(obj, fn), is not recognised: REFIRE_S bounds it.
_WEAKREF_FILES = frozenset({weakref.__file__, _weakrefset.__file__})


def _track_gc(on: bool) -> None:
    """Put the gc phase trackers around the other callbacks (on), or take them out."""
    global _collecting
    for tracker in (_gc_started, _gc_stopped):
        while tracker in gc.callbacks:
            gc.callbacks.remove(tracker)
    _collecting = False
    if on:
        gc.callbacks.insert(0, _gc_started)
        gc.callbacks.append(_gc_stopped)


def _raise_is_unsafe(frame: Any) -> bool:
    """True where an expiry must not be raised yet:

    * inside a gc callback, a ``__del__`` or a weakref callback of the standard
      library's, where the interpreter swallows it;
    * inside a ``time_limit``'s own entry or exit (its generator, or contextlib's
      ``__enter__``/``__exit__`` around it).  A signal that arrives just before
      the exit blocks SIGALRM still runs its Python handler after the block: an
      expiry raised there would cut the clean-up short, leave the block's
      deadline behind, and replace the expiry being carried up to an outer
      block with one that no handler above claims (seen with nested limits
      whose deadlines lie within a millisecond).
    """
    if _collecting:
        return True
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or code in _TRACKER_CODE or code.co_filename in _WEAKREF_FILES:
            return True
        if _in_limit_entry_or_exit(frame):
            return True
        frame = frame.f_back
    return False


def _on_alarm(signum: int, frame: Any) -> None:
    now = time.monotonic()
    due = [(_due(d, tok), tok) for d, tok in _active]
    expired = [tok for when, tok in due if when <= now + 1e-3]
    if expired and _raise_is_unsafe(frame) and now - min(when for when, _ in due) < REFIRE_S:
        # Put off, but not for ever: code that lives in finalizers would starve the
        # alarm; past REFIRE_S it is raised there and, if swallowed, raised again.
        signal.setitimer(signal.ITIMER_REAL, DEFER_S)
        return
    if expired:
        # The outermost expired budget wins: inner blocks re-raise it.
        _fired[id(expired[0])] = now
        _arm_earliest()
        raise _Expired(expired[0])
    _arm_earliest()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`BudgetExceeded` in the block if it runs longer than ``seconds``.

    Main thread only (it uses ``SIGALRM``); see :func:`run_with_budget` for a
    version that works from any thread.
    """
    if seconds <= 0:
        raise BudgetExceeded(seconds)
    if not signals_usable():
        raise RuntimeError("time_limit needs the main thread; use run_with_budget")
    token = object()
    previous = signal.getsignal(signal.SIGALRM)
    if not _active:
        signal.signal(signal.SIGALRM, _on_alarm)
        _track_gc(True)
    _active.append((time.monotonic() + seconds, token))
    _arm_earliest()
    try:
        yield
    except _Expired as exc:
        if exc.token is not token:
            raise
        raise BudgetExceeded(seconds) from None
    finally:
        # Block the alarm while the stack changes, so a late signal cannot
        # interrupt the clean-up; a pending one is handled after it.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            _active[:] = [(d, t) for d, t in _active if t is not token]
            _fired.pop(id(token), None)
            _arm_earliest()
            if not _active:
                if signal.SIGALRM in signal.sigpending():
                    signal.sigwait({signal.SIGALRM})  # ours, and no longer wanted
                signal.signal(signal.SIGALRM, previous)
                _track_gc(False)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


# The gc trackers are gc callbacks too: an alarm can land in them before the flag is set.
_TRACKER_CODE = (_gc_started.__code__, _gc_stopped.__code__)
_LIMIT_CODE = time_limit.__wrapped__.__code__  # type: ignore[attr-defined]
_CONTEXT_CODE = (
    contextlib._GeneratorContextManager.__enter__.__code__,
    contextlib._GeneratorContextManager.__exit__.__code__,
)


def _in_limit_entry_or_exit(frame: Any) -> bool:
    """The frame is a time_limit's generator, or contextlib's __enter__/__exit__ of one
    (not of another context manager made with @contextmanager)."""
    if frame.f_code is _LIMIT_CODE:
        return True
    if frame.f_code in _CONTEXT_CODE:
        gen = getattr(frame.f_locals.get("self"), "gen", None)
        return getattr(gen, "gi_code", None) is _LIMIT_CODE
    return False


def _child(conn: Any, fn: Callable[[], Any]) -> None:
    try:
        conn.send((True, fn()))
    except BaseException as exc:  # sent back to the parent, which re-raises it
        conn.send((False, exc))
    finally:
        conn.close()


def _run_in_fork(fn: Callable[[], T], seconds: float) -> T:
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(seconds):
            raise BudgetExceeded(seconds)
        ok, value = parent.recv()
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent.close()
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def run_with_budget(fn: Callable[[], T], seconds: float) -> T:
    """Return ``fn()``, or raise :class:`BudgetExceeded` after ``seconds``.

    In the main thread this uses :func:`time_limit`; in other threads it runs
    ``fn`` in a forked child process (its result must pickle).
    """
    if signals_usable():
        with time_limit(seconds):
            return fn()
    if "fork" in multiprocessing.get_all_start_methods():
        return _run_in_fork(fn, seconds)
    raise RuntimeError(
        "no way to enforce a time budget here: not the main thread, and fork is unavailable"
    )
