"""Running one training job: data, model, trainer, checkpoints, weights and run.json.

`run_training` is synchronous and UI-free. The CLI calls it directly; the run manager calls it
in its background thread. It never raises for bad input: the outcome is in the returned record
and in OUTPUT_DIR/run.json, which is kept up to date while the run trains (so a crash leaves an
accurate record behind), with a plain-language error and the traceback in OUTPUT_DIR/run.log.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from training.config.schema import ConfigError, RunConfig, check_config, validate_config
from training.hosting.paths import configure_trackio_env
from training.hosting.secrets import redact
from training.methods.registry import get_method
from training.recipe.train import CHECKPOINTS_DIR, RUN_FILE
from training.run.teacher import resolve_teacher

ACTIVE_STATES = ("running", "stopping")


@dataclass
class Progress:
    """Live figures the engine reports while it trains (mutated only by the training thread)."""

    phase: str = "starting"  # starting, loading, training, saving, done
    stage: str = ""  # what loading is doing before step 1: loading data, loading model, building trainer
    step: int = 0
    total: int = 0
    started: float = field(default_factory=time.time)
    train_started: float | None = None
    first_step: int = 0  # step the current session started from (non-zero after a resume)
    metrics: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def eta_seconds(self) -> float | None:
        done = self.step - self.first_step
        if not self.train_started or done <= 0 or self.total <= 0:
            return None
        per_step = (time.time() - self.train_started) / done
        return max(0.0, per_step * (self.total - self.step))


class DatasetInvalidError(ValueError):
    """The dataset did not pass validation."""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")  # run.json times measure runs of seconds


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON atomically, with any token redacted."""
    tmp = path.with_suffix(path.suffix + f".{threading.get_ident()}.tmp")
    tmp.write_text(redact(json.dumps(data, indent=2, default=str)))
    tmp.replace(path)


def read_run(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / RUN_FILE).read_text())


def latest_checkpoint(run_dir: Path) -> Path | None:
    folder = Path(run_dir) / CHECKPOINTS_DIR
    found = [(int(p.name.split("-")[-1]), p) for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    complete = [(n, p) for n, p in found if (p / "trainer_state.json").exists()]
    return max(complete)[1] if complete else None


def explain_error(exc: BaseException, config: RunConfig | None = None) -> str:
    """A plain-language cause and fix for an exception raised while training, with tokens redacted."""
    return redact(_explain(exc, config))


def _explain(exc: BaseException, config: RunConfig | None) -> str:
    from training.data.sources import DataSourceError
    from training.models.loading import ModelLoadError

    text = str(exc)
    if isinstance(exc, (ConfigError, DataSourceError, ModelLoadError, DatasetInvalidError)):
        return text
    if isinstance(exc, KeyboardInterrupt):
        return "Aborted (second Ctrl-C): no weights were saved for the steps since the last checkpoint."
    low = text.lower()
    if "out of memory" in low or isinstance(exc, MemoryError):
        bs, ga = (config.train.batch_size, config.train.grad_accum) if config else (2, 1)
        return (f"Out of memory. Lower the batch size to {max(1, bs // 2)} and raise gradient accumulation to {ga * 2} "
                "(same effective batch), lower max length, or use LoRA/QLoRA.")
    if isinstance(exc, FloatingPointError) or ("nan" in low and ("loss" in low or "grad" in low)):
        return "The loss became NaN or infinite, so training stopped. Lower the learning rate (try a tenth of it) and start again."
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return "The disk is full. Delete old runs (History) or free space in the data folder, then resume."
    tb = "".join(traceback.format_tb(exc.__traceback__)) if exc.__traceback__ else ""
    if any(word in tb for word in ("collat", "tokeniz", "data_utils", "dataset")):
        return (f"A data error stopped training: {type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}. "
                "Run Validate on the dataset and fix the rows it reports.")
    first = text.splitlines()[0][:400] if text else ""
    return f"Training failed: {type(exc).__name__}: {first}. The full traceback is in the run's run.log."


class RunRecorder:
    """Keeps OUTPUT_DIR/run.json current: written at start, at every log and checkpoint, and at the end."""

    def __init__(self, out: Path, record: dict):
        self.out, self.record = out, record
        self._lock = threading.Lock()

    def write(self) -> None:
        from training.run.multiprocess import process_rank

        if process_rank() != 0:  # several processes (accelerate launch): rank 0 alone keeps run.json
            return
        with self._lock:
            write_json_atomic(self.out / RUN_FILE, self.record)


def _progress_callback(progress: Progress, stop_event, on_update):
    """Live progress for the UI and Stop at the next step; run.json is kept by the recipe's record callback."""
    from transformers import TrainerCallback

    def notify():
        if on_update:
            on_update()

    class EngineCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            progress.total = state.max_steps
            progress.step = progress.first_step = state.global_step
            progress.phase = "training"
            progress.train_started = time.time()
            notify()

        def on_step_end(self, args, state, control, **kwargs):
            progress.step = state.global_step
            if stop_event is not None and stop_event.is_set():
                control.should_training_stop = True
                control.should_save = False
            notify()

        def on_log(self, args, state, control, logs=None, **kwargs):
            notify()

    return EngineCallback()


def preflight(config: RunConfig) -> None:
    """Refuse a run before it starts, with every reason at once: config problems, a model that is neither `demo`, a
    model folder nor a Hub model this machine can reach, and a dataset file that does not exist."""
    from training.data.sources import DataSourceError, classify_source
    from training.models.loading import ModelLoadError, model_reachable

    problems = validate_config(config)
    try:
        _refuse_unavailable_qlora(config)
    except ConfigError as exc:
        problems += exc.problems
    if not any(name == "model.name_or_path" for name, _ in problems):
        try:
            reason = model_reachable(config.model.name_or_path)
        except ModelLoadError as exc:
            reason = str(exc)
        if reason:
            problems.append(("model.name_or_path", reason))
    if not any(name == "data.source" for name, _ in problems):
        try:
            classify_source(config.data.source)
        except DataSourceError as exc:
            problems.append(("data.source", str(exc)))
    if not problems and get_method(config.method).teacher:
        try:
            reason = model_reachable(resolve_teacher(config.method_args.get("teacher_model_name_or_path", "")))
        except ModelLoadError as exc:
            reason = str(exc).split(": ", 1)[-1]
        if reason:
            problems.append(("method_args.teacher_model_name_or_path", reason))
    if problems:
        raise ConfigError(problems)


def runnable_config(config: RunConfig) -> dict:
    """The config as the training module (training/recipe/) takes it: a dict whose model and dataset are
    loadable references (`demo` becomes the local demo model folder and the method's demo data file) and whose
    held-out row count is decided. Raises ModelLoadError or DataSourceError for a model or dataset that
    cannot be found, before anything is loaded."""
    from training.data.demo_data import demo_source_for
    from training.data.sources import classify_source, demo_dataset_path
    from training.models.loading import resolve_model
    from training.run.holdout import resolved_eval_rows

    data = config.to_dict()
    data["model"]["name_or_path"] = resolve_model(config.model.name_or_path)
    source = str(config.data.source).strip()
    if source == "demo":
        resolved = demo_source_for(config.method)
        source = str(demo_dataset_path()) if resolved == "demo" else resolved
    elif source == "demo-vision":
        from training.data.demo_data import resolve_data_source

        source = resolve_data_source(source, config.method)
    else:
        classify_source(source)
    data["data"]["source"] = source
    data["data"]["eval_rows"] = resolved_eval_rows(config)
    if get_method(config.method).teacher:
        args = data["method_args"]
        args["teacher_model_name_or_path"] = resolve_teacher(args.get("teacher_model_name_or_path", ""))
    return data



def run_training(
    config: RunConfig,
    output_dir: str | Path,
    stop_event: threading.Event | None = None,
    progress: Progress | None = None,
    on_update: Callable[[], None] | None = None,
    run_id: str | None = None,
    report_to_trackio: bool = True,
    resume: bool = False,
    cancel_event: threading.Event | None = None,
    extra_callbacks: Sequence = (),
    save_final: bool = True,
) -> dict:
    """Train per config into output_dir; return the run record that is also written to run.json.

    With resume=True, output_dir must be an earlier run's folder: training continues from its last
    checkpoint to the same final step, appending to its metrics and to the same Trackio run.
    """
    from training.run import multiprocess

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress()
    checkpoint = latest_checkpoint(out) if resume else None
    previous = read_run(out) if resume and (out / RUN_FILE).exists() else {}
    run_id = previous.get("run_id") or run_id or out.name
    if not config.run_name:
        config.run_name = run_id
    if checkpoint is not None:
        step = int(checkpoint.name.split("-")[-1])
        progress.metrics.extend(m for m in previous.get("metrics", []) if m.get("step", 0) <= step)
        progress.notes.append(f"Resumed from the checkpoint at step {step}.")
    elif resume:
        progress.notes.append("No checkpoint was saved before the interruption, so training starts again from step 0.")
    record = {
        "run_id": run_id,
        "status": "running",
        "config": config.to_dict(),
        "metrics": progress.metrics,
        "train_seconds": None,
        "error": None,
        "notes": progress.notes,
        "started_at": previous.get("started_at") or now_iso(),
        "finished_at": None,
        "model_dir": None,
        "system_prompt": None,
        "step": progress.step,
        "total_steps": previous.get("total_steps"),
        "last_checkpoint_step": previous.get("last_checkpoint_step"),
        "resumes": previous.get("resumes", 0) + (1 if resume else 0),
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    recorder = RunRecorder(out, record)
    recorder.write()
    prepared = None
    try:
        check_config(config)
        _refuse_unavailable_qlora(config)
        configure_trackio_env()
        progress.phase = "loading"
        verdict = _check_dataset(config, _stage_progress(progress, on_update))
        from training import recipe
        from training.hosting.paths import trackio_project

        callbacks = [recipe.record_callback(record, recorder.write), _progress_callback(progress, stop_event, on_update),
                     *extra_callbacks]
        runnable = runnable_config(config)
        runnable["data"]["validated"] = verdict.for_training()  # Train reads Validate's Arrow rows, not the file
        from training.estimate.checkpointing import run_hardware

        prepared = recipe.prepare(runnable, out, hardware=run_hardware(config), callbacks=callbacks, checkpoints=save_final,
                                  report_to_trackio=report_to_trackio, trackio_project=trackio_project(),
                                  on_stage=lambda name: (setattr(progress, "stage", name), on_update and on_update()))
        from training.run.throughput import add_throughput

        add_throughput(prepared.trainer, config, prepared.resolved.precision, prepared.resolved.processes)
        record["system_prompt"] = prepared.data.system_prompt
        record["eval_rows"] = len(prepared.data.held_out)
        record["resolved"] = prepared.resolved.summary()
        progress.notes.extend(prepared.notes)
        t0 = time.time()
        prepared.trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        record["train_seconds"] = round(time.time() - t0 + (previous.get("train_seconds") or 0), 3)
        if cancel_event is not None and cancel_event.is_set():
            if multiprocess.process_rank() == 0:
                shutil.rmtree(out / CHECKPOINTS_DIR, ignore_errors=True)
            record["status"] = "cancelled"
        elif not save_final:  # a dry run: the steps are what was asked for, not the weights
            record["status"] = "completed"
        else:
            progress.phase = "saving"
            record["model_dir"] = recipe.save_final(prepared, out)
            stopped = stop_event is not None and stop_event.is_set()
            record["status"] = "stopped" if stopped else "completed"
    except BaseException as exc:  # noqa: BLE001 - the outcome must always be recorded
        record["status"] = "failed"
        record["error"] = explain_error(exc, config)
        with (out / "run.log").open("a") as log:
            log.write(redact(f"--- {now_iso()}{multiprocess.rank_label()}\n{traceback.format_exc()}\n"))
        if multiprocess.under_launcher():
            multiprocess.record_rank_failure(out, record["error"])
        if not isinstance(exc, Exception):
            raise
    finally:
        progress.phase = "done"
        record["step"] = progress.step
        record["total_steps"] = progress.total or record["total_steps"]
        record["finished_at"] = now_iso()
        from training.estimate.calibration import measured_figures

        record.update(measured_figures(record))  # seconds per step, peak reserved GPU memory (for later estimates)
        recorder.write()
        del prepared
        _free_accelerator_memory()
    if record["status"] == "completed" and multiprocess.process_rank() == 0:
        from training.estimate.calibration import record_run_throughput

        record_run_throughput(record)  # never raises; later estimates for this model/method/hardware say "measured"
    return record


def _refuse_unavailable_qlora(config: RunConfig) -> None:
    """QLoRA where it cannot run (no NVIDIA GPU, no bitsandbytes): a config error with the reason, before loading."""
    if config.peft_mode == "qlora":
        from training.models.adapters import qlora_unavailable_reason

        reason = qlora_unavailable_reason()
        if reason:
            raise ConfigError([("lora.quantization", reason)])


def _stage_progress(progress: Progress, on_update):
    """A data progress callback (training/data/progress.py) that shows rows done, total and ETA as the run's stage."""
    from training.data.progress import describe

    started = {"stage": None, "at": time.monotonic()}

    def report(stage: str, done: int, total: int | None) -> None:
        if stage != started["stage"]:
            started.update(stage=stage, at=time.monotonic())
        progress.stage = describe(stage, done, total, started["at"])
        if on_update:
            on_update()

    return report


def _check_dataset(config: RunConfig, on_progress=None):
    """Every row valid before anything loads (remembered from Validate when the file has not changed since): a bad
    dataset fails with the rows and fields to fix. Returns the verdict (where the validated rows are as Arrow)."""
    from training.data.validation import dataset_verdict

    d = config.data
    verdict = dataset_verdict(d.source, config.method, split=d.split, subset=d.subset, column_map=d.column_map,
                              max_rows=d.max_rows, progress=on_progress, text_unit=d.text_unit)
    if not verdict.valid:
        shown = "; ".join(
            (f"row {e.row}, {e.field}: {e.message}" if e.row else e.message).rstrip(".") for e in verdict.first_errors
        ) or "it has no usable rows"
        more = f" (and {verdict.error_count - 3} more)" if verdict.error_count > 3 else ""
        raise DatasetInvalidError(f"The dataset is not valid: {shown}{more}. Run Validate for the full report.")
    _check_reward_columns(config, verdict.columns)
    return verdict


def _check_reward_columns(config: RunConfig, columns: list[str]) -> None:
    """Fail before loading the model when a reward function reads a column the data does not have."""
    from training.methods.registry import get_method
    from training.methods.rewards import missing_column_problems

    if get_method(config.method).uses_rewards:
        problems = missing_column_problems(config.rewards, list(columns))
        if problems:
            raise DatasetInvalidError(" ".join(problems))


def _free_accelerator_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
