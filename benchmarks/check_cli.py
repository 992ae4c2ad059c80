"""`verigrad check` on ordinary typed claims: wall time of the whole command (bar: under 2 s each).

Each claim runs in a fresh process, as a user would type it; the median of
REPEATS runs is reported per claim.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from benchmarks import record

REPEATS = 3
BAR_S = 2.0
CLAIMS = [
    ["Derivative(sigma(z), z)", "sigma(z)*(1 - sigma(z))"],
    ["Derivative(sigma(z), z)", "sigma(z)^2"],
    ["sigma(z) >= 1/2", "--assume", "z >= 0"],
    ["log(p/(1-p))", "log(p) - log(1-p)", "--assume", "0 < p < 1"],
    ["Derivative(-(y*log(sigma(z)) + (1-y)*log(1-sigma(z))), z)", "sigma(z) - y"],
    ["Derivative(logsumexp(a, b, c), a)", "exp(a)/(exp(a) + exp(b) + exp(c))"],
    [
        "softplus(z) - y*z",
        "-(y*log(sigma(z)) + (1-y)*log(1 - sigma(z)))",
        "--assume",
        "y in {0, 1}",
    ],
]


def run() -> bool:
    print("verigrad check, ordinary claims (fresh process each; median of 3)")
    worst = 0.0
    for claim in CLAIMS:
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "derivations", "check", *claim],
                capture_output=True,
                text=True,
            )
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        worst = max(worst, median)
        verdict = (result.stdout or result.stderr).strip().split(" (")[0]
        print(f"  {median:5.2f} s  {verdict:<24} {' '.join(claim)}")
    print(f"  slowest: {worst:.2f} s (bar {BAR_S:g} s)")
    record("verigrad check, ordinary claims", "slowest, wall time", worst, BAR_S, "s")
    return worst < BAR_S
