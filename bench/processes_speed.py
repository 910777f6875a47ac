"""Steps per second of the demo run on 2 CPU processes (`train --num-processes 2`: accelerate launch, DDP over gloo)
against 1 process, with the same global batch (16 rows per step: batch 16 on one process, 8 on each of two).

Every run is a `python -m training train` subprocess, timed by the run itself (run.json's train_seconds: the training
loop, without the imports and model loading that a launch adds); peak RSS is that of the whole process tree.

On a 2-core machine parity is the honest target: one process already uses both cores (2 threads), two processes use
one each and add an all-reduce per step. The gain comes with one GPU per process. Off --smoke a third run, one
process on one core, gives the data-parallel scaling (two processes at one core each against it; ideal 2.0).
On a machine other processes keep busy, a process with 2 threads suffers most (its threads wait for each other), so
each line says how many cores other processes used while it ran.

    .venv/bin/python bench/processes_speed.py            # 60 steps each
    .venv/bin/python bench/processes_speed.py --smoke    # 4 steps each (checks the path, not the ratio)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GLOBAL_BATCH = 16
TARGET = 0.9  # 2 processes / 1 process on 2 cores: parity, within the all-reduce's cost


def run(processes: int, steps: int, out: Path, threads: int | None = None) -> dict:
    import psutil

    from bench._noise import busy_seconds

    cmd = [sys.executable, "-m", "training", "train", "--max-steps", str(steps), "--batch-size", str(GLOBAL_BATCH // processes),
           "--logging-steps", str(max(1, steps // 4)), "--save-steps", "0", "--output-dir", str(out)]
    if processes > 1:
        cmd += ["--num-processes", str(processes)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false")
    env.pop("OMP_NUM_THREADS", None)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cpu: dict[int, float] = {}  # CPU seconds per process of the tree, last seen
    b0, t0 = busy_seconds(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            cpu.update({p.pid: sum(p.cpu_times()[:2]) for p in tree if p.is_running()})
        except psutil.Error:
            pass
        time.sleep(0.1)
    stderr = proc.stderr.read()
    wall = time.perf_counter() - t0
    b1 = busy_seconds()
    others = None if b0 is None or b1 is None else max(0.0, (b1 - b0) - sum(cpu.values())) / wall
    record = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    if proc.returncode != 0 or record.get("status") != "completed":
        raise SystemExit(f"{processes} process run failed (exit {proc.returncode}): {record.get('error')}\n{stderr[-2000:]}")
    seconds = record["train_seconds"]
    return {"steps_per_s": steps / seconds, "train_s": seconds, "wall_s": wall, "peak_rss_mb": peak / 2**20, "others": others}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="4 steps each: checks the path, not the ratio")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    steps = 4 if args.smoke else args.steps
    from bench._noise import wait_for_quiet
    from training.models.demo_model import ensure_demo_model

    ensure_demo_model()
    cores = os.cpu_count() or 1
    # (label, processes, CPU threads per process): one process on every core (what `train` does), two processes
    # (one core each), then, off --smoke, one process on one core: the baseline of data-parallel scaling
    plan = [("1 process", 1, None), ("2 processes", 2, None)] + ([] if args.smoke else [("1 process, 1 thread", 1, 1)])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, n, threads) in enumerate(plan):
            if not args.smoke:
                wait_for_quiet(30)
            results[label] = r = run(n, steps, Path(tmp) / f"run{i}", threads)
            noise = "" if r["others"] is None else f"; other processes used {r['others']:.1f} cores meanwhile"
            print(f"{label}: {r['steps_per_s']:.2f} steps/s ({steps} steps in {r['train_s']:.1f} s; {r['wall_s']:.1f} s "
                  f"with start-up), peak RSS {r['peak_rss_mb']:.0f} MB{noise}", flush=True)
    ratio = results["2 processes"]["steps_per_s"] / results["1 process"]["steps_per_s"]
    print(f"ratio 2 processes/1 = {ratio:.2f} (target >= {TARGET}: parity on {cores} cores, global batch "
          f"{GLOBAL_BATCH} both; more processes pay off with one GPU each)")
    if "1 process, 1 thread" in results:
        scaling = results["2 processes"]["steps_per_s"] / results["1 process, 1 thread"]["steps_per_s"]
        print(f"scaling 2 processes/1 at one core each = {scaling:.2f} (ideal 2.00; data-parallel efficiency {scaling / 2:.0%})")
    print(f"memory 2 processes/1 = {results['2 processes']['peak_rss_mb'] / results['1 process']['peak_rss_mb']:.2f} "
          "(each process holds a full copy)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
