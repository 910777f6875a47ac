"""Validating a big chat JSONL vs merely parsing it with pyarrow: wall time and peak RSS, process vs process.

Writes a 1M-row (~540 MB) three-turn chat JSONL into a temp folder, then alternates, --repeats times, each in its
own process (so each peak RSS is that process's own):
  - `python -m training validate FILE --json` with a fresh DATA_DIR (every row checked, no tokenizer, nothing cached:
    the validation cache and the Arrow copy Train reuses are written), and
  - `python -c "import pyarrow.json; pyarrow.json.read_json(FILE)"` (parse only, the whole table in memory),
and prints the median of each and their ratios (targets: time <= 3.0x, peak RSS <= 1.5x). It also times a second
validate of the same file with the cache the first one left (should be instant).

    python bench/validate_speed.py [--rows 1000000] [--repeats 2] [--smoke]

--smoke runs the same path on 2,000 rows, once each, so the script cannot rot (at that size process
start-up dominates: the ratio is printed, not meaningful).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 3.0
RSS_TARGET = 1.5
WORDS = ("the model learns from examples of questions and answers about planets rivers cities numbers colours "
         "history music science cooking travel weather animals languages sport code").split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def write_chat_jsonl(path: Path, rows: int, seed: int = 0) -> None:
    """Three user/assistant exchanges per row, about 540 bytes a row."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            messages = []
            for turn in range(3):
                messages.append({"role": "user", "content": f"Q{i}.{turn} " + _sentence(rng, rng.randint(4, 8))})
                messages.append({"role": "assistant", "content": _sentence(rng, rng.randint(5, 10))})
            fh.write(json.dumps({"messages": messages}) + "\n")


def run_measured(cmd: list[str], env: dict, stdout_path: Path | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one process, measured by the kernel for that process alone."""
    out = stdout_path.open("wb") if stdout_path else subprocess.DEVNULL
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: progress bars would fill a pipe and block the child
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    if stdout_path:
        out.close()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd} failed ({proc.returncode}):\n{text[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="2,000 rows, one run each: checks the script works")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.repeats = 2_000, 1
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(ROOT))
    print(f"load average before: {load_average()} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chat.jsonl"
        write_chat_jsonl(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        parse = [sys.executable, "-c", f"import pyarrow.json as j; t = j.read_json({str(path)!r}); assert t.num_rows == {args.rows}"]
        validate = [sys.executable, "-m", "training", "validate", str(path), "--json"]
        ours, baseline, warm = [], [], []
        for i in range(args.repeats):
            baseline.append(run_measured(parse, env))
            data = Path(tmp) / f"data{i}"  # a fresh data folder: nothing cached
            report_path = Path(tmp) / f"report{i}.json"
            ours.append(run_measured(validate, dict(env, DATA_DIR=str(data)), report_path))
            report = json.loads(report_path.read_text())
            assert report["valid"] and report["rows"] == args.rows and not report["cached"], report.get("errors")
            warm.append(run_measured(validate, dict(env, DATA_DIR=str(data)), report_path))
            if not json.loads(report_path.read_text())["cached"]:
                print(f"  WARNING: run {i}: the second validate was not read from the cache", flush=True)
    print(f"load average after: {load_average()}")
    o, b, w = (statistics.median(x[0] for x in runs) for runs in (ours, baseline, warm))
    orss, brss = (statistics.median(x[1] for x in runs) for runs in (ours, baseline))
    print(f"file: {args.rows} rows, {size_mb:.1f} MB, three-turn chat JSONL")
    print(f"pyarrow.json.read_json (whole process): {b:.2f} s, {brss:.0f} MB peak RSS "
          f"(runs: {', '.join(f'{x:.2f} s/{r:.0f} MB' for x, r in baseline)})")
    print(f"python -m training validate --json    : {o:.2f} s, {orss:.0f} MB peak RSS "
          f"(runs: {', '.join(f'{x:.2f} s/{r:.0f} MB' for x, r in ours)})")
    print(f"second validate of the same file      : {w:.2f} s (cached; runs: {', '.join(f'{x:.2f}' for x, _ in warm)})")
    print(f"ratio: {o / b:.2f} (target <= {TARGET}) -> {'OK' if o / b <= TARGET else 'OVER TARGET'}")
    print(f"peak RSS ratio: {orss / brss:.2f} (target <= {RSS_TARGET}) -> {'OK' if orss / brss <= RSS_TARGET else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
