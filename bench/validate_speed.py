"""Structure-only validation of a big chat JSONL vs merely parsing it with pyarrow, whole process vs whole process.

Writes a 100k-row (~50 MB) three-turn chat JSONL into a temp folder, then alternates, --repeats times:
  - `python -m training validate FILE --json` (every row checked, no tokenizer), and
  - `python -c "import pyarrow.json; pyarrow.json.read_json(FILE)"` (parse only),
and prints the median of each and their ratio (target: <= 2.0).

    python bench/validate_speed.py [--rows 100000] [--repeats 3] [--smoke]

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
TARGET = 2.0
WORDS = ("the model learns from examples of questions and answers about planets rivers cities numbers colours "
         "history music science cooking travel weather animals languages sport code").split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def write_chat_jsonl(path: Path, rows: int, seed: int = 0) -> None:
    """Three user/assistant exchanges per row, about 500 bytes a row."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            messages = []
            for turn in range(3):
                messages.append({"role": "user", "content": f"Q{i}.{turn} " + _sentence(rng, rng.randint(4, 8))})
                messages.append({"role": "assistant", "content": _sentence(rng, rng.randint(5, 10))})
            fh.write(json.dumps({"messages": messages}) + "\n")


def time_process(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{cmd} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="2,000 rows, one run each: checks the script works")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.repeats = 2_000, 1
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chat.jsonl"
        write_chat_jsonl(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        validate = [sys.executable, "-m", "training", "validate", str(path), "--json"]
        check = subprocess.run(validate, cwd=ROOT, env=env, capture_output=True, text=True)
        if check.returncode not in (0, 1):
            raise RuntimeError(f"{validate} failed ({check.returncode}):\n{check.stderr[-2000:]}")
        report = json.loads(check.stdout)
        assert report["valid"] and report["rows"] == args.rows, report.get("errors")
        parse = [sys.executable, "-c", f"import pyarrow.json as j; t = j.read_json({str(path)!r}); assert t.num_rows == {args.rows}"]
        ours, baseline = [], []
        for _ in range(args.repeats):
            baseline.append(time_process(parse, env))
            ours.append(time_process(validate, env))
    o, b = statistics.median(ours), statistics.median(baseline)
    print(f"file: {args.rows} rows, {size_mb:.1f} MB, three-turn chat JSONL")
    print(f"pyarrow.json.read_json (whole process): {b:.2f} s (runs: {', '.join(f'{x:.2f}' for x in baseline)})")
    print(f"python -m training validate --json    : {o:.2f} s (runs: {', '.join(f'{x:.2f}' for x in ours)})")
    print(f"ratio: {o / b:.2f} (target <= {TARGET}) -> {'OK' if o / b <= TARGET else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
