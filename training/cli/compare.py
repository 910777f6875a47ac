"""`python -m training compare RUN_DIR [--json]`: base vs tuned answers to the run's held-out questions.

    --json prints {"items": [{"prompt", "reference", "base", "tuned", "base_correct", "tuned_correct"(, "image": the
    picture's path, for a question about a picture)}, ...],
    "totals": {...}, "source": ..., "summary": {...}} (training/run/compare.py); without it, a table and the
    plain-words summary. Exit 0, or 2 for a folder that is not a finished run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.cli.errors import UsageError


def add_compare_parser(sub) -> None:
    c = sub.add_parser("compare", help="Base vs tuned answers to a run's held-out questions, and did it learn?")
    c.add_argument("run_dir", metavar="RUN_DIR", help="A run folder (with run.json), e.g. data/runs/<run id>.")
    c.add_argument("--json", action="store_true", help="Print one JSON object.")
    c.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    from training.run.compare import compare_run, learning_summary
    from training.run.engine import RUN_FILE, read_run

    run_dir = Path(args.run_dir)
    if not (run_dir / RUN_FILE).exists():
        raise UsageError(f"compare {run_dir}: no {RUN_FILE} there; point to a run folder written by the app or `train`.")
    result = compare_run(run_dir)
    summary = learning_summary(read_run(run_dir), result)
    if args.json:
        print(json.dumps({**result, "summary": summary}))
        return 0
    if not result["items"]:
        print("This run has no held-out questions to compare (it held no rows out).")
    for item in result["items"]:
        marks = ["" if item[k] is None else ("right" if item[k] else "wrong") for k in ("base_correct", "tuned_correct")]
        picture = f"\n  picture: {item['image']}" if item.get("image") else ""
        print(f"Q: {item['prompt']}{picture}\n  base  ({marks[0]}): {item['base']}\n  tuned ({marks[1]}): {item['tuned']}")
    print()
    for line in summary["lines"]:
        print(line)
    return 0
