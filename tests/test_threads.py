"""Row blocks on threads (numeric._threads): same bits whatever the thread count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numeric
from numeric import _threads, losses


@given(st.integers(1, 200), st.integers(1, 12))
def test_runs_cut_the_blocks_into_contiguous_nonempty_pieces(n: int, count: int) -> None:
    starts = range(0, 7 * n, 7)
    runs = _threads._runs(starts, count)
    assert len(runs) == min(count, n)
    assert all(len(run) > 0 for run in runs)
    assert [s for run in runs for s in run] == list(starts)
    lengths = [len(run) for run in runs]
    assert max(lengths) - min(lengths) <= 1


def test_small_arrays_use_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "available_cores", lambda: 4)
    monkeypatch.delenv(_threads.ENV_VAR, raising=False)
    assert _threads.thread_count(_threads.MIN_ENTRIES - 1) == 1
    assert _threads.thread_count(_threads.MIN_ENTRIES) == 4


def test_the_environment_caps_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "available_cores", lambda: 64)
    monkeypatch.delenv(_threads.ENV_VAR, raising=False)
    assert _threads.thread_count(1 << 30) == _threads.MAX_THREADS
    monkeypatch.setenv(_threads.ENV_VAR, "3")
    assert _threads.thread_count(1 << 30) == 3
    monkeypatch.setenv(_threads.ENV_VAR, "1")
    assert _threads.thread_count(1 << 30) == 1


@pytest.mark.parametrize("setting", ["0", "-2", "two", "1.5"])
def test_a_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv(_threads.ENV_VAR, setting)
    with pytest.raises(ValueError, match=f"{_threads.ENV_VAR} must be a positive integer"):
        _threads.thread_count(1 << 30)


def test_an_exception_in_a_block_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "MIN_ENTRIES", 0)
    monkeypatch.setattr(_threads, "available_cores", lambda: 3)
    monkeypatch.delenv(_threads.ENV_VAR, raising=False)
    seen: list[int] = []

    def block(rows: slice, scratch: None) -> None:
        if rows.start == 40:
            raise ArithmeticError("block at row 40")
        seen.append(rows.start)

    with pytest.raises(ArithmeticError, match="row 40"):
        _threads.run_row_blocks(block, 60, 10, 600, lambda: None)
    assert 0 in seen  # the other threads' blocks ran


def _with_threads(monkeypatch: pytest.MonkeyPatch, count: int, fn, *args):  # type: ignore[no-untyped-def]
    """fn(*args) with ``count`` threads forced on any size and blocks of a few rows."""
    monkeypatch.setattr(_threads, "MIN_ENTRIES", 0)
    monkeypatch.setattr(_threads, "available_cores", lambda: count)
    monkeypatch.setattr(losses, "_BLOCK", 3 * args[0].shape[-1])
    monkeypatch.setenv(_threads.ENV_VAR, str(count))
    return fn(*args)


@pytest.mark.parametrize("fn", [numeric.cross_entropy, numeric.cross_entropy_grad])
@pytest.mark.parametrize("threads", [2, 3, 5])
def test_threads_give_the_same_bits(monkeypatch: pytest.MonkeyPatch, fn, threads: int) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    z = rng.normal(size=(101, 9)) * 20  # 34 blocks of 3 rows, the last of 2
    z[5, 2] = -np.inf  # a masked logit, redone without the correction, in one block
    for y in (rng.integers(0, 9, size=101), rng.dirichlet(np.ones(9), size=101)):
        one = _with_threads(monkeypatch, 1, fn, z, y)
        many = _with_threads(monkeypatch, threads, fn, z, y)
        np.testing.assert_array_equal(many, one)
