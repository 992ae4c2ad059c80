"""Run every benchmark and print its table (``make bench``)."""

from __future__ import annotations

import sys
import time

from benchmarks import (
    activations,
    attention,
    backprop,
    check_cli,
    gradcheck,
    logistic,
    softmax,
    summary_markdown,
    verify_time,
)


def main() -> int:
    start = time.monotonic()
    ok = True
    for bench in (
        verify_time,
        check_cli,
        gradcheck,
        activations,
        logistic,
        softmax,
        backprop,
        attention,
    ):
        bench_start = time.monotonic()
        ok &= bench.run()
        name = bench.__name__.rsplit(".", 1)[-1]
        print(f"[{name} done in {time.monotonic() - bench_start:.1f} s]\n")
    print("Summary (ours / reference, same run, medians):\n")
    print(summary_markdown())
    print(f"\nall benchmarks: {time.monotonic() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
