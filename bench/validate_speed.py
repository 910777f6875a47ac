"""Validating a big chat JSONL vs merely parsing it with pyarrow: wall time and peak RSS, process vs process.

For each size (default 1,000,000 and 100,000 rows of three-turn chat, ~540 bytes a row) it writes a clean file and
two with a few bad rows, then alternates, --repeats times, each in its own process (so each peak RSS is that
process's own, and process start is included on both sides):
  - `python -c "import pyarrow.json; pyarrow.json.read_json(CLEAN)"` (parse only, the whole table in memory): the
    baseline, on the clean file (pyarrow stops at the first bad line of the others, so they have no time of their own);
  - `python -m training validate FILE --json` with a fresh DATA_DIR (every row checked, no tokenizer, nothing cached),
    on each file:
      clean       every row valid (the validation cache and the Arrow copy Train reuses are written);
      broken-json line 13 is cut short (not valid JSON);
      type+role   a `content` of 5 in the middle row and an unknown role in the second-to-last row.
    Each report must name the bad lines and fields, or the bench fails.
It prints the median of each, the ratios to pyarrow (targets: time <= 3.0x, peak RSS <= 1.5x) and the load average
before and after each size, and times a second validate of the clean file with the cache the first one left.

    python bench/validate_speed.py [--rows 1000000 100000] [--repeats 2] [--smoke]

--smoke runs the same path on 2,000 rows, once each, so the script cannot rot (at that size process start-up
dominates: the ratios are printed, not meaningful).
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
CASES = ("clean", "broken-json", "type+role")


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


def bad_lines(rows: int) -> dict[str, dict[int, str]]:
    """Per bad case: line number -> the field the report must name there."""
    return {"clean": {}, "broken-json": {13: "(line)"},
            "type+role": {rows // 2 + 1: "messages[0].content", rows - 1: "messages[1].role"}}


def write_bad_copy(clean: Path, target: Path, case: str, rows: int) -> None:
    """The clean file with the case's lines spoiled, copied line by line."""
    spoil = bad_lines(rows)[case]
    with clean.open(encoding="utf-8") as src, target.open("w", encoding="utf-8") as out:
        for number, line in enumerate(src, start=1):
            if number in spoil:
                if case == "broken-json":
                    line = line[: len(line) // 2] + "\n"
                else:
                    row = json.loads(line)
                    if spoil[number].endswith("content"):
                        row["messages"][0]["content"] = 5
                    else:
                        row["messages"][1]["role"] = "bot"
                    line = json.dumps(row) + "\n"
            out.write(line)


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
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def check_report(report: dict, case: str, rows: int) -> None:
    """The report found exactly the case's bad lines, at the right fields (or is valid for the clean file)."""
    expected = bad_lines(rows)[case]
    if not expected:
        assert report["valid"] and report["rows"] == rows and not report["cached"], report.get("errors")
        return
    found = {e["row"]: e["field"] for e in report["errors"]}
    assert not report["valid"] and report["error_count"] == len(expected), report["errors"][:5]
    assert found == expected, f"{case}: expected errors {expected}, found {found}"


def measure_size(rows: int, repeats: int, tmp: Path, env: dict) -> list[str]:
    load_before = load_average()
    clean = tmp / f"chat-{rows}.jsonl"
    write_chat_jsonl(clean, rows)
    size_mb = clean.stat().st_size / 1e6
    files = {"clean": clean}
    for case in CASES[1:]:
        files[case] = tmp / f"chat-{rows}-{case}.jsonl"
        write_bad_copy(clean, files[case], case, rows)
    parse = [sys.executable, "-c", f"import pyarrow.json as j; t = j.read_json({str(clean)!r}); assert t.num_rows == {rows}"]
    baseline: list[tuple[float, float]] = []
    ours: dict[str, list[tuple[float, float]]] = {case: [] for case in CASES}
    warm: list[float] = []
    for i in range(repeats):
        for case in CASES:
            baseline.append(run_measured(parse, env))  # alternated with each validate: both see the same load
            data = tmp / f"data-{rows}-{case}-{i}"  # a fresh data folder: nothing cached
            report_path = tmp / f"report-{rows}-{case}-{i}.json"
            validate = [sys.executable, "-m", "training", "validate", str(files[case]), "--json"]
            ours[case].append(run_measured(validate, dict(env, DATA_DIR=str(data)), report_path))
            check_report(json.loads(report_path.read_text()), case, rows)
            if case == "clean":
                warm.append(run_measured(validate, dict(env, DATA_DIR=str(data)), report_path)[0])
                if not json.loads(report_path.read_text())["cached"]:
                    print(f"  WARNING: {rows} rows, run {i}: the second validate was not read from the cache", flush=True)
    for path in files.values():
        path.unlink()
    b, brss = statistics.median(x[0] for x in baseline), statistics.median(x[1] for x in baseline)
    lines = [f"{rows:,} rows ({size_mb:.0f} MB), load average "
             f"{load_before} before, {load_average()} after",
             f"  pyarrow.json.read_json (whole process): {b:.2f} s, {brss:.0f} MB peak RSS "
             f"(runs: {', '.join(f'{x:.2f} s/{r:.0f} MB' for x, r in baseline)})"]
    worst, worst_rss = 0.0, 0.0
    for case in CASES:
        o, orss = statistics.median(x[0] for x in ours[case]), statistics.median(x[1] for x in ours[case])
        worst, worst_rss = max(worst, o / b), max(worst_rss, orss / brss)
        verdict = "OK" if o / b <= TARGET and orss / brss <= RSS_TARGET else "OVER TARGET"
        lines.append(f"  validate {case:<12}: {o:.2f} s, {orss:.0f} MB -> time ratio {o / b:.2f} (<= {TARGET}), "
                     f"peak RSS ratio {orss / brss:.2f} (<= {RSS_TARGET}) {verdict} "
                     f"(runs: {', '.join(f'{x:.2f} s/{r:.0f} MB' for x, r in ours[case])})")
    lines.append(f"  second validate of the clean file (cached): {statistics.median(warm):.2f} s")
    lines.append(f"ratio: {worst:.2f} (target <= {TARGET}) at {rows:,} rows, worst of the {len(CASES)} files -> "
                 f"{'OK' if worst <= TARGET else 'OVER TARGET'}")
    lines.append(f"peak RSS ratio: {worst_rss:.2f} (target <= {RSS_TARGET}) -> {'OK' if worst_rss <= RSS_TARGET else 'OVER TARGET'}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 100_000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="2,000 rows, one run each: checks the script works")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.repeats = [2_000], 1
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(ROOT))
    print(f"{os.cpu_count()} cores; cases: {', '.join(CASES)} (pyarrow parses the clean file of the same size)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            for line in measure_size(rows, args.repeats, Path(tmp), env):
                print(line, flush=True)


if __name__ == "__main__":
    main()
