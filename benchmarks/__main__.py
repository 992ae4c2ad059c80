"""Run every benchmark and print its table (``make bench``)."""

from __future__ import annotations

import sys

from benchmarks import backprop, check_cli, gradcheck, logistic, verify_time


def main() -> int:
    ok = True
    for bench in (verify_time, check_cli, gradcheck, logistic, backprop):
        ok &= bench.run()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
