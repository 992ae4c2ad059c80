"""How long `verigrad verify` takes for everything registered (bar: under 10 s on 2 cores).

Runs the command in a fresh process, as a user would, several times, and
reports the median wall time: the machine is shared and noisy.  Beside it,
the CPU time the command and its workers used (children's rusage: what two
idle cores would have to share), the start-up alone (imports and building
every derivation, ``verigrad list``), and the longest derivation's time as the
command reports it (``--json``).

The shared 2-core machines this runs on change speed from hour to hour: the
same commit's one-core time was seen at 13 s and at 22 s on the same day.  Read
the CPU time beside the wall time; compare versions only within one run.

    python -m benchmarks.verify_time
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from benchmarks import record, timed_verigrad

REPEATS = 5
BAR_S = 10.0


def run() -> bool:
    walls, cpus = [], []
    for _ in range(REPEATS):
        wall, cpu, result = timed_verigrad(["verify"])
        walls.append(wall)
        cpus.append(cpu)
        if _failed(result):
            return False
    summary = result.stdout.strip().splitlines()[-1]
    startup = statistics.median(timed_verigrad(["list"])[0] for _ in range(REPEATS))
    _, _, serial = timed_verigrad(["verify", "--json", "--jobs", "1"])
    if _failed(serial):
        return False
    reports = [json.loads(line) for line in serial.stdout.splitlines() if '"steps"' in line]
    longest = max(reports, key=lambda r: r["elapsed_s"])
    total_one_core = sum(r["elapsed_s"] for r in reports)
    median = statistics.median(walls)
    print("verigrad verify, everything registered")
    print(f"  {summary}")
    print(f"  wall time, median of {REPEATS}: {median:.2f} s (bar {BAR_S:.0f} s)")
    print(f"  CPU time (all processes), median of {REPEATS}: {statistics.median(cpus):.2f} s")
    print(f"  start-up (imports, building every derivation: verigrad list): {startup:.2f} s")
    print(
        f"  one core (--jobs 1): derivations {total_one_core:.2f} s in total,"
        f" longest {longest['name']} {longest['elapsed_s']:.2f} s"
    )
    record("verigrad verify (everything)", "wall time", median, BAR_S, "s")
    return median < BAR_S


def _failed(result: subprocess.CompletedProcess[str]) -> bool:
    """The command failed: its output's ends are printed."""
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-2000:])
    return result.returncode != 0


if __name__ == "__main__":
    sys.exit(0 if run() else 1)
