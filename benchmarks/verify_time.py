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
import resource
import statistics
import subprocess
import sys
import time

from benchmarks import record

REPEATS = 5
BAR_S = 10.0


def timed(args: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU seconds (user + system, the process and its children) of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "derivations", *args], capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result


def run() -> bool:
    walls, cpus = [], []
    for _ in range(REPEATS):
        wall, cpu, result = timed(["verify"])
        walls.append(wall)
        cpus.append(cpu)
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:])
            return False
    summary = result.stdout.strip().splitlines()[-1]
    startup = statistics.median(timed(["list"])[0] for _ in range(REPEATS))
    _, _, serial = timed(["verify", "--json", "--jobs", "1"])
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


if __name__ == "__main__":
    sys.exit(0 if run() else 1)
