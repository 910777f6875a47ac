"""Machine-noise helpers for the benches: on a shared machine, other processes skew timings.

`wait_for_quiet` waits until other processes leave the CPU alone; `timed` reports how many
cores they used while a run was being timed, so a noisy number can be recognised as such.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def busy_seconds() -> float | None:
    """CPU-seconds the whole machine has spent busy since boot (Linux), or None."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def others_cores(seconds: float = 1.0) -> float | None:
    """Cores kept busy by other processes over the next `seconds`."""
    b0, c0, t0 = busy_seconds(), time.process_time(), time.perf_counter()
    time.sleep(seconds)
    b1, c1, t1 = busy_seconds(), time.process_time(), time.perf_counter()
    if b0 is None or b1 is None:
        return None
    return max(0.0, (b1 - b0) - (c1 - c0)) / (t1 - t0)


def wait_for_quiet(max_wait: float) -> None:
    """Wait (up to max_wait s) until other processes use under 0.2 cores, so they do not skew a timing."""
    deadline = time.monotonic() + max_wait
    while True:
        others = others_cores()
        if others is None or others < 0.2:
            return
        if time.monotonic() > deadline:
            print(f"  (other processes still use {others:.1f} cores; timing anyway)", flush=True)
            return


def timed(fn, *args) -> dict:
    """Run fn, adding how many cores other processes used meanwhile (noise indicator)."""
    b0, c0, t0 = busy_seconds(), time.process_time(), time.perf_counter()
    result = fn(*args)
    b1, c1, t1 = busy_seconds(), time.process_time(), time.perf_counter()
    result["others"] = None if b0 is None or b1 is None else max(0.0, (b1 - b0) - (c1 - c0)) / (t1 - t0)
    return result
