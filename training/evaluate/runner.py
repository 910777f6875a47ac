"""`evaluate_run`: the base model and a run's tuned weights on the same lm-eval tasks, the results kept.

    result = evaluate_run(run_dir, tasks=["heldout"], data_file=None, limit=None)
    # {"results": {TASK: {"base": {METRIC: value}, "tuned": {METRIC: value}, "n": N}}, "lm_eval_version": "...",
    #  "dir": EVAL_DIR, "reproduce": [commands], "warnings": [...], "estimate": {...} | None}

Each evaluation gets a folder RUN_DIR/eval/<time>/ with the task configs (tasks/), both models' per-document answers
(samples_base.jsonl, samples_tuned.jsonl), results.json and REPRODUCE.md (the `lm-eval run` commands that give the
same numbers). The results are merged into run.json's `evaluation` (a task evaluated again replaces its old numbers)
and logged to the run's Trackio run. A stopped or failed evaluation writes nothing into run.json.

Local tasks (held-out rows, a user's file) go through the model's chat template when it has one, as training renders
chats (lm-eval's `apply_chat_template`); registered tasks are run plain, as they are published. Greedy decoding and
lm-eval's fixed seeds (0, 1234, 1234, 1234): the same command gives the same numbers.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
from datetime import datetime
from pathlib import Path

from training.evaluate.harness import EvalProgress, EvalStopped, stoppable_model
from training.evaluate.tasks import HELD_OUT_TASK, is_local_task, write_file_task, write_held_out_task

EVAL_FOLDER = "eval"
SEEDS = "0,1234,1234,1234"  # lm-eval's defaults for python, numpy, torch and the few-shot sampler


def _lm_eval_version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


def _record(run_dir: Path) -> dict:
    from training.run.engine import ACTIVE_STATES, RUN_FILE, read_run

    if not (run_dir / RUN_FILE).exists():
        raise ValueError(f"{run_dir}: no {RUN_FILE} there; point to a run folder written by the app or `train`.")
    record = read_run(run_dir)
    name = record.get("run_id") or run_dir.name
    if record.get("status") in ACTIVE_STATES:
        raise ValueError(f"Run {name} is still training; evaluate it when it finishes.")
    if not record.get("model_dir") or not Path(record["model_dir"]).is_dir():
        raise ValueError(f"Run {name} has no saved weights (status {record.get('status')!r}); evaluate a run that "
                         "completed or was stopped.")
    from training.methods.registry import get_method

    if get_method(str((record.get("config") or {}).get("method", "sft"))).result_view == "scores":
        raise ValueError(f"Run {name} trained a reward model, which scores answers instead of writing them; lm-eval "
                         "evaluates language models. Use 'Score chosen vs rejected' instead.")
    return record


def _model_args(record: dict) -> dict[str, dict]:
    """lm-eval `hf` arguments of the base and the tuned model."""
    from training.models.loading import resolve_model

    model = record["config"]["model"]
    base = resolve_model(model["name_or_path"])
    final = Path(record["model_dir"])
    if (final / "adapter_config.json").exists():
        tuned = {"pretrained": base, "peft": str(final)}
        if (final / "tokenizer_config.json").exists():
            tuned["tokenizer"] = str(final)
    else:
        tuned = {"pretrained": str(final)}
    trust = bool(model.get("trust_remote_code", False))
    return {"base": {"pretrained": base, "trust_remote_code": trust}, "tuned": {**tuned, "trust_remote_code": trust}}


def _has_chat_template(args: dict) -> bool:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.get("tokenizer") or args["pretrained"],
                                              trust_remote_code=args.get("trust_remote_code", False))
    return bool(getattr(tokenizer, "chat_template", None))


def _metrics(task_results: dict) -> dict:
    """lm-eval's {"acc,none": 0.5, "acc_stderr,none": ..., "alias": ...} as {"acc": 0.5, "acc_stderr": ...}."""
    out = {}
    for key, value in task_results.items():
        if "," not in key or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        metric, _, filt = key.partition(",")
        out[metric if filt == "none" else f"{metric} ({filt})"] = round(float(value), 6)
    return out


def _samples_rows(samples: dict) -> list[dict]:
    rows = []
    for task, docs in (samples or {}).items():
        for s in docs:
            resps = s.get("filtered_resps") or s.get("resps")
            rows.append({"task": task, "doc_id": s.get("doc_id"), "target": s.get("target"),
                         "response": resps, **{k: s[k] for k in ("exact_match", "contains", "acc", "acc_norm") if k in s}})
    return rows


def _check_tasks(tasks: list[str]) -> list[str]:
    from training.evaluate.registered import check_registered

    registered = [t for t in tasks if not is_local_task(t)]
    check_registered(registered)
    return registered


def plan_tasks(record: dict, run_dir: Path, tasks: list[str], data_file: str | None, folder: Path) -> list[str]:
    """Write the local task configs into folder/tasks; returns the task names to evaluate, checked (ValueError
    otherwise: unknown task, needs network, malformed file, no held-out rows)."""
    from training.evaluate.files import read_eval_file
    from training.run.compare import held_out_records

    names = list(dict.fromkeys(t.strip() for t in tasks if t.strip()))
    eval_file = read_eval_file(data_file) if data_file else None
    _check_tasks([n for n in names if n != HELD_OUT_TASK])
    task_dir = folder / "tasks"
    out = []
    for name in names:
        if name == HELD_OUT_TASK:
            records, _ = held_out_records(run_dir, record)
            if not records:
                raise ValueError("This run has no held-out questions (it set no rows aside): evaluate your own file "
                                 "(--data FILE) or a registered task instead.")
            out.append(write_held_out_task(task_dir, records))
        else:
            out.append(name)
    if eval_file is not None:
        out.append(write_file_task(task_dir, eval_file))
    if not out:
        raise ValueError("No task to evaluate: give --tasks (e.g. heldout, arc_easy) or --data FILE.")
    return out


def _reproduce(args: dict, local: list[str], registered: list[str], task_dir: Path, chat: bool, limit: int | None,
               device: str, batch_size: int, folder: Path, side: str) -> list[str]:
    model_args = ",".join(f"{k}={v}" for k, v in args.items() if k != "trust_remote_code" or v)
    commands = []
    for group, include, template in ((local, True, chat), (registered, False, False)):
        if not group:
            continue
        parts = ["lm-eval", "run", "--model", "hf", "--model_args", shlex.quote(model_args + ",dtype=auto"),
                 "--tasks", ",".join(group), "--device", device, "--batch_size", str(batch_size), "--seed", SEEDS]
        if include:
            parts += ["--include_path", shlex.quote(str(task_dir))]
        if template:
            parts.append("--apply_chat_template")
        if limit:
            parts += ["--limit", str(limit)]
        parts += ["--log_samples", "--output_path", shlex.quote(str(folder / f"lm_eval_cli_{side}"))]
        commands.append(" ".join(parts))
    return commands


def evaluate_run(run_dir: str | Path, tasks: list[str] | None = None, data_file: str | None = None,
                 limit: int | None = None, progress: EvalProgress | None = None,
                 stop: threading.Event | None = None, announce=None) -> dict:
    """Evaluate the base and the tuned model of a finished run (see the module docstring). Raises ValueError for
    bad input and EvalStopped when `stop` is set mid-way (nothing is written into run.json then). `announce(text)`
    hears the time and cost estimate of registered tasks before any model loads."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    from training.estimate.hardware import has_cuda

    run_dir = Path(run_dir)
    progress = progress or EvalProgress()
    if limit is not None and int(limit) < 1:
        raise ValueError(f"--limit: is {limit}; give 1 or more documents per task, or leave it out for all.")
    record = _record(run_dir)
    folder = run_dir / EVAL_FOLDER / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    progress.stage = "checking tasks"
    names = plan_tasks(record, run_dir, tasks if tasks is not None else ([] if data_file else [HELD_OUT_TASK]),
                       data_file, folder)
    local, registered = [n for n in names if is_local_task(n)], [n for n in names if not is_local_task(n)]
    estimate = None
    if registered:
        from training.evaluate.registered import estimate_eval

        est = estimate_eval(registered, limit, record["config"]["model"]["name_or_path"],
                            lora=(Path(record["model_dir"]) / "adapter_config.json").exists())
        estimate = {"seconds": round(est.seconds, 1), "usd": round(est.usd, 4), "hardware": est.hardware,
                    "summary": est.summary, "lines": list(est.lines)}
        if announce is not None:
            announce(f"Estimate: {est.summary}\n" + "\n".join(f"  {line}" for line in est.lines))
    task_dir = folder / "tasks"
    managers = {}
    if local:
        managers["local"] = TaskManager(include_path=str(task_dir), include_defaults=False)
    if registered:
        managers["registered"] = TaskManager()
    device, batch_size = ("cuda", 8) if has_cuda() else ("cpu", 1)
    all_args = _model_args(record)
    results: dict[str, dict] = {}
    reproduce: list[str] = []
    t0 = time.monotonic()
    for index, side in enumerate(("base", "tuned")):
        args = all_args[side]
        progress.begin_side(index)
        progress.stage = f"loading the {side} model"
        lm, _ = stoppable_model(args["pretrained"], peft=args.get("peft"), tokenizer=args.get("tokenizer"), device=device,
                                batch_size=batch_size, trust_remote_code=args["trust_remote_code"], progress=progress,
                                stop=stop)
        chat = bool(local) and _has_chat_template(args)
        samples: list[dict] = []
        for group, template in ((local, chat), (registered, False)):
            if not group:
                continue
            progress.stage = f"{side} model: {', '.join(group)}"
            out = lm_eval.simple_evaluate(model=lm, tasks=group, task_manager=managers["local" if group is local else "registered"],
                                          apply_chat_template=template, limit=limit, log_samples=True, bootstrap_iters=0)
            for task, task_results in (out.get("results") or {}).items():
                entry = results.setdefault(task, {"base": {}, "tuned": {}, "n": None})
                entry[side] = _metrics(task_results)
                n = ((out.get("n-samples") or {}).get(task) or {}).get("effective")
                entry["n"] = n if n is not None else entry["n"]
            samples += _samples_rows(out.get("samples"))
        (folder / f"samples_{side}.jsonl").write_text("".join(json.dumps(r, default=str) + "\n" for r in samples))
        reproduce += _reproduce(args, local, registered, task_dir, chat, limit, device, batch_size, folder, side)
        del lm
    result = {"results": results, "lm_eval_version": _lm_eval_version(), "dir": str(folder), "reproduce": reproduce,
              "seconds": round(time.monotonic() - t0, 1), "limit": limit, "estimate": estimate}
    from training.evaluate.report import forgetting_lines

    result["warnings"] = forgetting_lines(result)
    progress.stage = "saving results"
    (folder / "results.json").write_text(json.dumps(result, indent=2))
    _write_reproduce(folder, reproduce)
    save_to_run(run_dir, result)
    result["trackio"] = log_to_trackio(record, result)
    progress.stage = "done"
    return result


def _write_reproduce(folder: Path, commands: list[str]) -> None:
    lines = ["# Reproduce these numbers with lm-eval's own command line", "",
             "The task configs are in `tasks/` (YAML over the JSONL files beside them; `answer_match.py` scores the "
             "generation tasks). Run from any folder, with the same model files:", "", "```bash"]
    lines += commands + ["```", "", "Each command writes lm-eval's results JSON under the --output_path folder; the numbers "
                         "equal those in results.json (greedy decoding, seeds 0,1234,1234,1234)."]
    (folder / "REPRODUCE.md").write_text("\n".join(lines) + "\n")


def save_to_run(run_dir: Path, result: dict) -> None:
    """Merge the results into run.json's `evaluation` (the newest numbers of each task win)."""
    from training.run.engine import RUN_FILE, read_run, write_json_atomic

    record = read_run(run_dir)
    evaluation = record.get("evaluation") or {}
    merged = dict(evaluation.get("results") or {})
    merged.update(result["results"])
    record["evaluation"] = {"results": merged, "lm_eval_version": result["lm_eval_version"], "dir": result["dir"],
                            "updated_at": datetime.now().isoformat(timespec="seconds"), "limit": result.get("limit"),
                            "warnings": result.get("warnings") or []}
    write_json_atomic(run_dir / RUN_FILE, record)


def log_to_trackio(record: dict, result: dict) -> str | None:
    """Log the scores to the run's Trackio run (eval/<task>/<metric>/<base|tuned>); returns a note when it could
    not (the results are kept either way)."""
    from training.hosting.paths import configure_trackio_env, trackio_project

    name = (record.get("config") or {}).get("run_name") or record.get("run_id")
    metrics = {f"eval/{task}/{metric}/{side}": value
               for task, entry in result["results"].items() for side in ("base", "tuned")
               for metric, value in (entry.get(side) or {}).items() if not metric.endswith("_stderr")}
    if not metrics or not name:
        return None
    configure_trackio_env()
    try:
        import contextlib
        import sys

        import trackio

        with contextlib.redirect_stdout(sys.stderr):  # trackio prints; stdout is the CLI's JSON
            trackio.init(project=trackio_project(), name=name, resume="allow", space_id=None)
            trackio.log(metrics)
            trackio.finish()
    except Exception as exc:  # noqa: BLE001 - the results are saved already; say why Trackio has not got them
        return f"Not logged to Trackio: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
    return None


__all__ = ["EvalProgress", "EvalStopped", "evaluate_run", "plan_tasks", "save_to_run", "log_to_trackio"]
