"""`python -m training eval RUN_DIR [--tasks T1,T2] [--data FILE] [--limit N] [--json]`: the base model and the
run's tuned weights on the same lm-eval tasks (training/evaluate).

    --tasks   heldout (the run's held-out questions; the default), and any lm-eval task (arc_easy, hellaswag,
              gsm8k, ifeval, mmlu_*...: these need network; a time and cost estimate is printed before they start)
    --data    a JSONL file: multiple choice {question, choices, answer} or question/answer {question, answer}
    --limit   documents per task (the first N)
    --json    print {"results": {TASK: {"base": {...}, "tuned": {...}, "n": N}}, "lm_eval_version": "..."}

Progress and the ETA go to stderr; Ctrl-C stops between two requests (nothing is written then). Exit 0, 1 when
stopped or failed, 2 for bad input (unknown task, needs network, malformed file, a run without weights).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path


def add_eval_parser(sub) -> None:
    e = sub.add_parser("eval", help="Benchmark a run's base and tuned models with lm-evaluation-harness.")
    e.add_argument("run_dir", metavar="RUN_DIR", help="A run folder (with run.json), e.g. data/runs/<run id>.")
    e.add_argument("--tasks", help="Comma-separated tasks: heldout (default) and lm-eval tasks such as arc_easy.")
    e.add_argument("--data", metavar="FILE", help="A JSONL file of multiple-choice or question/answer rows.")
    e.add_argument("--limit", type=int, help="Evaluate only the first N documents of each task.")
    e.add_argument("--json", action="store_true", help="Print one JSON object.")
    e.set_defaults(func=cmd_eval)


def _progress_printer(progress, done: threading.Event) -> threading.Thread:
    def show():
        last = ""
        while not done.wait(1.0):
            p = progress.to_dict()
            eta = "" if p["eta_seconds"] is None else f", about {p['eta_seconds']:.0f} s left"
            line = f"{p['stage']}: {p['done']}/{p['total'] or '?'} requests{eta}"
            if line != last:
                print(line, file=sys.stderr, flush=True)
                last = line

    thread = threading.Thread(target=show, daemon=True)
    thread.start()
    return thread


def cmd_eval(args: argparse.Namespace) -> int:
    from training.cli.errors import UsageError
    from training.evaluate.harness import EvalProgress, EvalStopped
    from training.evaluate.runner import evaluate_run

    run_dir = Path(args.run_dir)
    tasks = [t for t in (args.tasks or "").split(",") if t.strip()] if args.tasks else None
    stop, done = threading.Event(), threading.Event()
    progress = EvalProgress()

    def on_sigint(signum, frame):
        if stop.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        stop.set()
        print("Stopping after the current requests; press Ctrl-C again to abort.", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, on_sigint)
    _progress_printer(progress, done)
    t0 = time.monotonic()
    try:
        result = evaluate_run(run_dir, tasks, args.data, args.limit, progress=progress, stop=stop,
                              announce=lambda text: print(text, file=sys.stderr, flush=True))
    except EvalStopped as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    finally:
        done.set()
    if args.json:
        print(json.dumps({"results": result["results"], "lm_eval_version": result["lm_eval_version"],
                          "dir": result["dir"], "warnings": result["warnings"], "estimate": result["estimate"]}))
        return 0
    from training.evaluate.report import table_rows

    if result.get("estimate"):
        print(f"estimate was: {result['estimate']['summary']}")
    print(f"{'task':24} {'metric':28} {'base':>8} {'tuned':>8} {'n':>6}")
    for r in table_rows(result):
        base = "-" if r["base"] is None else f"{r['base']:.1%}"
        tuned = "-" if r["tuned"] is None else f"{r['tuned']:.1%}"
        print(f"{r['task']:24} {r['metric']:28} {base:>8} {tuned:>8} {r['n'] or '':>6}")
    for line in result["warnings"]:
        print(line)
    print(f"\n{time.monotonic() - t0:.0f} s. Task configs, answers and how to reproduce with lm-eval: {result['dir']}")
    return 0
