"""Headless CLI on the same engine as the app.

    python -m training validate SOURCE [--method M] [--model M] [--column-map JSON] [--full] [--json]
    python -m training estimate (--config FILE | flags) [--hardware FLAVOR] [--json]
    python -m training train (--config FILE | flags) --output-dir DIR [--num-processes N]
    python -m training train (--config FILE | flags) --dry-run [--json]
    python -m training export RUN_DIR (--script OUT.py | --merge OUT_DIR | --card OUT_DIR | --gguf OUT.gguf)
    python -m training compare RUN_DIR [--json]
    python -m training eval RUN_DIR [--tasks T1,T2] [--data FILE] [--limit N] [--json]

Exit codes: 0 success/valid, 1 invalid data or failed run, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from training.cli.errors import UsageError
from training.config.schema import (
    PEFT_MODES,
    ConfigError,
    RunConfig,
    apply_method_defaults,
    set_peft_mode,
    set_value,
    setting_field,
    setting_fields,
    validate_config,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # exit 2 with a clear message, never a traceback
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    """One flag per RunConfig setting, generated from its declaration (training/config/schema.py), plus --config,
    --peft (LoRA on/off and quantization in one word) and --method-arg NAME=VALUE."""
    p.add_argument("--config", help="A RunConfig JSON file (or a run.json); flags below override it.")
    for f in setting_fields():
        s = f.setting
        kw: dict = {"dest": f"set:{f.path}", "default": None, "metavar": f.name.upper(),
                    "help": f"{s.label}: {s.help} [{s.describe_allowed()}]".replace("%", "%%")}
        if s.kind == "bool":
            kw.update(nargs="?", const="true", metavar="on|off")
        elif s.kind == "choice":
            kw.update(choices=s.allowed_choices(), metavar=None)
        elif s.kind == "tristate":
            kw.update(choices=("auto", "true", "false", "on", "off"), metavar=None)
        p.add_argument(*f.flags, **kw)
    p.add_argument("--peft", choices=PEFT_MODES,
                   help="lora: a LoRA adapter; qlora: LoRA on a 4-bit base (NVIDIA GPU only); full: all weights.")
    p.add_argument("--method-arg", action="append", default=[], metavar="NAME=VALUE",
                   help="A setting of the method, e.g. beta=0.1 or num_generations=8 (repeatable; see the registry).")


def _parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _flag_values(args: argparse.Namespace) -> dict:
    """{field path: typed value} of the setting flags given on the command line."""
    out = {}
    for f in setting_fields():
        raw = getattr(args, f"set:{f.path}", None)
        if raw is None:
            continue
        try:
            out[f.path] = f.setting.parse_text(raw)
        except ValueError as exc:
            raise UsageError(f"{f.flags[0]} {raw!r}: {exc}; {f.setting.describe_allowed()}") from None
    return out


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Start from --config, or the method's demo preset when model and dataset are both demo, else the method's
    defaults; then apply flags."""
    given = _flag_values(args)
    method = given.get("method")
    model, dataset = given.get("model.name_or_path"), given.get("data.source")
    if args.config:
        config = RunConfig.from_file(args.config)
        if method and method != config.method:
            apply_method_defaults(config, method)
    elif (model or "demo") == "demo" and (dataset or "demo") == "demo":
        config = RunConfig.demo(method or "sft")
    elif model == "demo-vision" and dataset in (None, "demo-vision"):
        config = RunConfig.demo(method or "sft", vision=True)
    else:
        config = RunConfig()
        config.model.name_or_path = model or config.model.name_or_path
        apply_method_defaults(config, method or "sft")
    for path, value in given.items():
        set_value(config, path, value)
    if args.peft:
        set_peft_mode(config, args.peft)
    for item in args.method_arg:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--method-arg {item!r}: write NAME=VALUE, e.g. beta=0.1")
        config.method_args[name.strip()] = _parse_value(value.strip())
    from training.methods.registry import coerce_method_args

    config.method_args = coerce_method_args(config.method, config.method_args)  # loss_type=sigmoid,sft -> a list
    problems = validate_config(config)
    if problems:
        raise ConfigError(problems)
    return config


def cmd_validate(args) -> int:
    from training.data.validation import HUB_STREAM_ROWS, validate_dataset

    tokenizer = None
    if args.model:
        from training.models.loading import load_processing_class

        tokenizer = load_processing_class(args.model)  # a vision model's processor counts image tokens
    column_map = json.loads(args.column_map) if args.column_map else {}
    stream_rows = None if args.full else (args.stream_rows or HUB_STREAM_ROWS)

    from training.data.progress import stderr_progress

    report = validate_dataset(args.source, args.method, split=args.split, subset=args.subset, column_map=column_map,
                              max_rows=args.max_rows, tokenizer=tokenizer, max_length=args.max_length,
                              stream_rows=stream_rows, render=tokenizer is not None, progress=stderr_progress(),
                              text_unit=args.text_unit)
    if args.json:
        data = report.to_dict()
        print(json.dumps(data, default=str))
    else:
        print(report.summary())
        for e in report.errors:
            where = f"row {e.row}, " if e.row else ""
            print(f"  error: {where}{e.field}: {e.message}")
        if report.error_count > len(report.errors):
            print(f"  ... and {report.error_count - len(report.errors)} more errors")
        for w in report.warnings:
            print(f"  warning: {w}")
        for c in report.compatibility:
            print(f"  {c['method']}: {c['status']} ({c['reason']})")
        if report.token_stats:
            t = report.token_stats
            how = "all rows" if t["exact"] else f"a sample of {t['sampled_rows']} of {t['rows']} rows"
            print(f"  tokens ({how}): mean {t['mean_tokens']}, max {t['max_tokens']}, {t['truncated_pct']}% over "
                  f"max length {t['max_length']}, about {t['total_tokens']:,} in total")
        if report.tokenizer_note:
            print(f"  note: {report.tokenizer_note}")
    return 0 if report.valid else 1


def cmd_estimate(args) -> int:
    from training.estimate.quote import cheapest_fitting, estimate_all_for_config, estimate_for_config

    config = config_from_args(args)
    if args.all_hardware:
        results, _ = estimate_all_for_config(config, suggest_for=args.hardware or "current")
    else:
        est, _ = estimate_for_config(config, args.hardware)  # None: this machine, named in hardware_source
        results = [est]
    if args.json:
        payload = [e.to_dict() for e in results] if args.all_hardware else results[0].to_dict()
        print(json.dumps(payload, default=str))
        return 0
    if args.all_hardware:
        best = cheapest_fitting(results)
        for e in results:
            mark = ("*" if best is not None and e.hardware == best.hardware else " ") + (">" if e.current else " ")
            print(f"{mark} {e.hardware:13} {e.summary}")
        print("* cheapest flavor that fits   > this machine")
    else:
        e = results[0]
        print(f"{e.hardware}: {e.summary}")
        for a in e.assumptions:
            print(f"  - {a}")
    return 0


def cmd_train(args) -> int:
    import signal
    import threading

    from training.run import multiprocess
    from training.run.engine import RUN_FILE, preflight, read_run, run_training

    if args.dry_run:
        return cmd_dry_run(args)
    if args.num_processes < 1:
        raise UsageError(f"--num-processes {args.num_processes}: give 1 or more processes")
    if args.resume:
        out = Path(args.resume)
        if not (out / RUN_FILE).exists():
            raise UsageError(f"--resume {out}: no {RUN_FILE} there; point to a run folder written by `train`.")
        config = RunConfig.from_dict(read_run(out)["config"])
    elif args.output_dir:
        out = Path(args.output_dir)
        config = config_from_args(args)
    else:
        raise UsageError("give --output-dir DIR for a new run, or --resume DIR to continue one")
    preflight(config)  # the app's own check: every reason at once, before a run folder or run.json exists
    if args.num_processes > 1 and not multiprocess.under_launcher():
        return launch_processes(args, config)
    stop, cancel = threading.Event(), threading.Event()
    callbacks = []
    if multiprocess.under_launcher():  # one of N processes: Stop/Cancel by signal, obeyed by every rank at the same step
        multiprocess.install_stop_signals(stop, cancel)
        callbacks.append(multiprocess.synced_stop_callback(stop, cancel, out))

    def on_sigint(signum, frame):
        if stop.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        stop.set()
        print("Stopping at the next step and saving the weights; press Ctrl-C again to abort.", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, on_sigint)
    progress, on_update = _loading_progress()
    record = run_training(config, out, stop_event=stop, cancel_event=cancel, resume=bool(args.resume),
                          extra_callbacks=callbacks, progress=progress, on_update=on_update)
    summary = {k: record[k] for k in ("status", "train_seconds", "error", "model_dir", "step", "total_steps")}
    if multiprocess.process_rank() == 0:
        print(json.dumps(summary))
    return 0 if record["status"] in ("completed", "stopped", "cancelled") else 1


def _loading_progress():
    """(Progress, on_update) that print what the run does before step 1 (validating, loading, normalising) to stderr."""
    from training.data.progress import stage_printer
    from training.run.engine import Progress

    progress, show = Progress(), stage_printer()

    def on_update() -> None:
        if progress.phase in ("starting", "loading"):
            show(progress.stage)

    return progress, on_update


def _without_num_processes(argv: list[str]) -> list[str]:
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == "--num-processes":
            skip = True
        elif not item.startswith("--num-processes="):
            out.append(item)
    return out


def launch_processes(args, config: RunConfig) -> int:
    """`train --num-processes N`: the same command under `accelerate launch` on N processes (GPUs here, else CPU
    processes over gloo), DDP or FSDP as the memory estimate says; returns the launcher's exit code."""
    import signal
    import subprocess

    from training.run import multiprocess

    n = args.num_processes
    gpus = multiprocess.local_device_count()
    if gpus and n > gpus:
        raise UsageError(f"--num-processes {n}: this machine has {gpus} GPUs; give at most {gpus}")
    if not gpus and n > (os.cpu_count() or 1):
        raise UsageError(f"--num-processes {n}: this machine has {os.cpu_count()} CPU cores; give at most that many")
    strategy = multiprocess.strategy_for_config(config, n) if gpus else multiprocess.Strategy("ddp", "CPU processes: DDP over gloo")
    t = config.train
    print(f"{n} processes ({strategy.reason}); global batch {multiprocess.global_batch(t.batch_size, t.grad_accum, n)} = "
          f"batch {t.batch_size} x accumulation {t.grad_accum} x {n} processes", file=sys.stderr, flush=True)
    train_args = args.argv[args.argv.index("train") + 1:] if "train" in args.argv else args.argv
    cmd = multiprocess.launch_command(_without_num_processes(train_args), n, strategy=strategy.name)
    proc = subprocess.Popen(cmd, env=multiprocess.launch_env(n))
    presses = []

    def on_sigint(signum, frame):  # Ctrl-C reaches every process of the terminal's group: the ranks stop themselves
        presses.append(signum)
        if len(presses) > 1:
            proc.kill()

    signal.signal(signal.SIGINT, on_sigint)
    return proc.wait()


def cmd_dry_run(args) -> int:
    from training.run.dry_run import dry_run
    from training.run.engine import preflight

    config = config_from_args(args)
    preflight(config)  # as for train: an unknown model, a missing file or QLoRA without a GPU, before loading
    report = dry_run(config, steps=args.dry_run_steps)
    if args.json:
        print(json.dumps(report.to_dict(), default=str))
    else:
        print(report.summary())
        for note in report.notes:
            print(f"  note: {note}")
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m training", description="Validate, estimate and train from the command line.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    v = sub.add_parser("validate", help="Check every row of a dataset for a method.")
    v.add_argument("source", help="A file path, a Hub dataset id, or `demo`.")
    for path, type_ in (("method", str), ("train.max_length", int), ("data.split", str), ("data.subset", str),
                        ("data.column_map", str), ("data.max_rows", int), ("data.text_unit", str)):  # what validation reads
        f = setting_field(path)
        v.add_argument(*f.flags, dest=f.name, type=type_, default=None if f.setting.kind == "dict" else f.default,
                       choices=f.setting.allowed_choices() or None, help=f"{f.setting.label}: {f.setting.help}")
    v.add_argument("--model", help="Tokenizer for token statistics (`demo`, a folder or a Hub id).")
    v.add_argument("--full", action="store_true", help="Read every row of a Hub dataset (default: stream the first rows).")
    v.add_argument("--stream-rows", type=int, help="Rows a Hub dataset's quick check streams (default: 1000).")
    v.add_argument("--json", action="store_true", help="Print one JSON object.")
    v.set_defaults(func=cmd_validate)
    e = sub.add_parser("estimate", help="Time, cost and memory of a run.")
    _add_run_flags(e)
    e.add_argument("--hardware", help="Flavor name, e.g. t4-small (default: this machine).")
    e.add_argument("--all-hardware", action="store_true", help="Estimate for every flavor.")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_estimate)
    t = sub.add_parser("train", help="Train and write OUTPUT_DIR/run.json and the weights.")
    _add_run_flags(t)
    t.add_argument("--output-dir", help="Folder for run.json, checkpoints and the final weights.")
    t.add_argument("--resume", metavar="DIR", help="Continue the run in DIR from its last checkpoint.")
    t.add_argument("--num-processes", type=int, default=1, metavar="N",
                   help="Train on N processes with `accelerate launch` (N GPUs, or N CPU processes without a GPU): DDP, "
                        "or FSDP for full fine-tuning that does not fit one GPU. The global batch is batch size x "
                        "gradient accumulation x N.")
    t.add_argument("--dry-run", action="store_true",
                   help="Check it runs: a few real steps on a handful of rows; prints seconds/step and peak memory.")
    t.add_argument("--dry-run-steps", type=int, default=3, help="Optimizer steps of --dry-run (default 3).")
    t.add_argument("--json", action="store_true", help="With --dry-run: print the report as one JSON object.")
    t.set_defaults(func=cmd_train)
    from training.cli.export import add_export_parser

    add_export_parser(sub)
    from training.cli.compare import add_compare_parser

    add_compare_parser(sub)
    from training.cli.evaluate import add_eval_parser

    add_eval_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from training.hosting.secrets import install_log_redaction, redact_std_streams

    redact_std_streams()
    install_log_redaction()
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if getattr(args, "hardware", None):
            from training.estimate.hardware import get_flavor

            get_flavor(args.hardware)
        if getattr(args, "column_map", None):
            try:
                column_map = json.loads(args.column_map)
            except ValueError:
                column_map = None
            if not isinstance(column_map, dict) or not all(isinstance(v, str) for v in column_map.values()):
                raise UsageError("--column-map must be a JSON object such as '{\"question\": \"prompt\"}'")
        return args.func(args)
    except (ConfigError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # unknown hardware, model load errors and the like: a usage problem
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
