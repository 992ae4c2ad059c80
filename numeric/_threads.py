"""Blocks of rows on a few threads, for the row-wise kernels of large arrays.

NumPy releases the GIL inside its loops, so the blocks of a row-wise kernel
(each a dozen ufunc calls on a cache-sized slice) run in parallel on
several cores.  The rows are split into one contiguous run per thread;
each run is processed block by block with its own scratch arrays, and each
block writes only its own rows of the output, so the result is the same,
bit for bit, whatever the number of threads.

Threads are used only for arrays of at least ``MIN_ENTRIES`` entries:
below that, starting them costs more than they save.  The count is the
number of cores this process may run on, capped at ``MAX_THREADS`` and by
the environment variable ``VERIGRAD_NUM_THREADS`` when it is set (``1``
turns threading off).  A pool is made per call, so no thread outlives the
call (and a process forked later holds no half-used pool).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

MIN_ENTRIES = 1 << 20
MAX_THREADS = 8
ENV_VAR = "VERIGRAD_NUM_THREADS"

Scratch = TypeVar("Scratch")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def thread_count(entries: int) -> int:
    """How many threads a kernel over ``entries`` array entries should use (at least 1).

    ValueError if ``VERIGRAD_NUM_THREADS`` is set to anything but a positive integer.
    """
    if entries < MIN_ENTRIES:
        return 1
    limit = min(MAX_THREADS, available_cores())
    setting = os.environ.get(ENV_VAR, "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"{ENV_VAR} must be a positive integer, got {setting!r}")
        limit = min(limit, int(setting))
    return limit


def _runs(starts: Sequence[int], count: int) -> list[Sequence[int]]:
    """``starts`` cut into ``count`` contiguous runs of nearly equal length (none empty)."""
    count = min(count, len(starts))
    size, extra = divmod(len(starts), count)
    runs, at = [], 0
    for i in range(count):
        length = size + (1 if i < extra else 0)
        runs.append(starts[at : at + length])
        at += length
    return runs


def run_row_blocks(
    block: Callable[[slice, Scratch], None],
    n_rows: int,
    rows_per_block: int,
    entries: int,
    make_scratch: Callable[[], Scratch],
) -> None:
    """``block(rows, scratch)`` for consecutive slices of ``rows_per_block`` rows.

    ``entries`` (the array's size) decides the thread count (:func:`thread_count`);
    ``make_scratch()`` is called once per thread, whose blocks all reuse it.
    """
    starts = range(0, n_rows, max(1, rows_per_block))

    def run(part: Sequence[int]) -> None:
        scratch = make_scratch()
        for start in part:
            block(slice(start, start + rows_per_block), scratch)

    threads = thread_count(entries)
    if threads == 1 or len(starts) < 2:
        run(starts)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(run, part) for part in _runs(starts, threads)]:
            future.result()  # re-raises a block's exception here
