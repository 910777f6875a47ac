"""Running one training job: data, model, trainer, weights and run.json.

`run_training` is synchronous and UI-free. The CLI calls it directly; the run manager calls it
in its background thread. It never raises for bad input: the outcome is in the returned record
(and in OUTPUT_DIR/run.json), with a plain-language error and the traceback in OUTPUT_DIR/run.log.
"""

from __future__ import annotations

import json
import math
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from training.config import ConfigError, RunConfig, check_config
from training.paths import configure_trackio_env

FINAL_DIR = "final"


@dataclass
class Progress:
    """Live figures the engine reports while it trains (mutated only by the training thread)."""

    phase: str = "starting"  # starting, loading, training, saving, done
    step: int = 0
    total: int = 0
    started: float = field(default_factory=time.time)
    train_started: float | None = None
    metrics: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def eta_seconds(self) -> float | None:
        if not self.train_started or self.step <= 0 or self.total <= 0:
            return None
        per_step = (time.time() - self.train_started) / self.step
        return max(0.0, per_step * (self.total - self.step))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


def explain_error(exc: BaseException) -> str:
    """A plain-language cause and fix for an exception raised while training."""
    from training.data_sources import DataSourceError
    from training.model_loading import ModelLoadError

    text = str(exc)
    if isinstance(exc, (ConfigError, DataSourceError, ModelLoadError, DatasetInvalidError)):
        return text
    low = text.lower()
    if "out of memory" in low or isinstance(exc, MemoryError):
        return ("Out of memory. Lower the batch size (raise gradient accumulation to keep the effective batch), "
                "lower max length, or use LoRA.")
    if "nan" in low and "loss" in low:
        return "The loss became NaN or infinite. Lower the learning rate."
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return "The disk is full. Delete old runs or free space in the data folder."
    first = text.splitlines()[0][:400] if text else ""
    return f"Training failed: {type(exc).__name__}: {first}. The full traceback is in the run's run.log."


class DatasetInvalidError(ValueError):
    """The dataset did not pass validation."""


def _make_callback(progress: Progress, stop_event: threading.Event | None, on_update: Callable[[], None] | None):
    from transformers import TrainerCallback

    class EngineCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            progress.total = state.max_steps
            progress.phase = "training"
            progress.train_started = time.time()
            if on_update:
                on_update()

        def on_step_end(self, args, state, control, **kwargs):
            progress.step = state.global_step
            if stop_event is not None and stop_event.is_set():
                control.should_training_stop = True
            if on_update:
                on_update()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                entry = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
                progress.metrics.append(entry)
                loss = logs.get("loss")
                if isinstance(loss, float) and not math.isfinite(loss):
                    raise FloatingPointError("The training loss became NaN or infinite.")
            if on_update:
                on_update()

    return EngineCallback()


def run_training(
    config: RunConfig,
    output_dir: str | Path,
    stop_event: threading.Event | None = None,
    progress: Progress | None = None,
    on_update: Callable[[], None] | None = None,
    run_id: str | None = None,
    report_to_trackio: bool = True,
) -> dict:
    """Train per config into output_dir; return the run record that is also written to run.json."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress()
    run_id = run_id or out.name
    if not config.run_name:
        config.run_name = run_id
    record = {
        "run_id": run_id,
        "status": "running",
        "config": config.to_dict(),
        "metrics": progress.metrics,
        "train_seconds": None,
        "error": None,
        "notes": progress.notes,
        "started_at": now_iso(),
        "finished_at": None,
        "model_dir": None,
        "system_prompt": None,
        "step": 0,
        "total_steps": None,
    }
    write_json_atomic(out / "run.json", record)
    trainer = None
    try:
        check_config(config)
        configure_trackio_env()
        progress.phase = "loading"
        dataset, trl_type, system_prompt = _prepare_dataset(config)
        record["system_prompt"] = system_prompt
        model, tokenizer, precision = _prepare_model(config, progress)
        from datasets import Dataset

        trainer, notes = _build(config, model, tokenizer, Dataset.from_list(dataset), out, trl_type, precision,
                                progress, stop_event, on_update, report_to_trackio)
        progress.notes.extend(notes)
        t0 = time.time()
        trainer.train()
        record["train_seconds"] = round(time.time() - t0, 3)
        progress.phase = "saving"
        final = out / FINAL_DIR
        trainer.save_model(str(final))
        tokenizer.save_pretrained(str(final))
        record["model_dir"] = str(final)
        stopped = stop_event is not None and stop_event.is_set()
        record["status"] = "stopped" if stopped else "completed"
    except BaseException as exc:  # noqa: BLE001 - the outcome must always be recorded
        record["status"] = "failed"
        record["error"] = explain_error(exc)
        (out / "run.log").write_text(traceback.format_exc())
        if not isinstance(exc, Exception):
            raise
    finally:
        progress.phase = "done"
        record["step"] = progress.step
        record["total_steps"] = progress.total or None
        record["finished_at"] = now_iso()
        write_json_atomic(out / "run.json", record)
        del trainer
        _free_accelerator_memory()
    return record


def _prepare_dataset(config: RunConfig) -> tuple[list[dict], str, str | None]:
    from training.validation import validate_dataset

    d = config.data
    report = validate_dataset(d.source, config.method, split=d.split, subset=d.subset, column_map=d.column_map,
                              max_rows=d.max_rows)
    if not report.valid:
        shown = "; ".join(
            (f"row {e.row}, {e.field}: {e.message}" if e.row else e.message).rstrip(".") for e in report.errors[:3]
        )
        more = f" (and {report.error_count - 3} more)" if report.error_count > 3 else ""
        raise DatasetInvalidError(f"The dataset is not valid: {shown}{more}. Run Validate for the full report.")
    first = report.normalised[0]
    system_prompt = None
    if "messages" in first and first["messages"] and first["messages"][0]["role"] == "system":
        system_prompt = first["messages"][0]["content"]
    return report.normalised, report.trl_type or "", system_prompt


def _prepare_model(config: RunConfig, progress: Progress):
    from training.hardware import resolve_precision
    from training.model_loading import load_model, load_tokenizer

    precision, note = resolve_precision(config.train.precision)
    if note:
        progress.notes.append(note)
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float32, "fp32": torch.float32}[precision]
    tokenizer = load_tokenizer(config.model.name_or_path, config.model.trust_remote_code)
    model = load_model(config.model.name_or_path, config.model.trust_remote_code, dtype=dtype)
    return model, tokenizer, precision


def _build(config, model, tokenizer, dataset, out, trl_type, precision, progress, stop_event, on_update, report_to_trackio):
    from training.trainer_factory import build_trainer

    callback = _make_callback(progress, stop_event, on_update)
    return build_trainer(config, model, tokenizer, dataset, str(out / "trainer"), trl_type, precision,
                         callbacks=[callback], report_to_trackio=report_to_trackio)


def _free_accelerator_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
