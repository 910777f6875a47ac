"""Measured throughput and peak memory of completed runs and GPU dry runs, kept in the data folder, so later
estimates for the same model, method, LoRA/full and hardware use the measurement and say "measured" (else "prior")."""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from training.estimate.hardware import detect_hardware

CALIBRATION_FILE = "estimate_calibration.json"
MEASUREMENTS_KEPT = 5

_calibration_lock = threading.Lock()


def calibration_path() -> Path:
    from training.hosting.paths import data_dir

    return data_dir() / CALIBRATION_FILE


def training_mode(lora: bool, quantization: str | None = None) -> str:
    return "qlora" if lora and quantization == "4bit" else "lora" if lora else "full"


def measurement_key(model: str, method: str, mode: str, hardware: str) -> str:
    return f"{model}|{method}|{mode}|{hardware}"


def add_measurement(store: dict, model: str, method: str, mode: str, hardware: str, seconds_per_step: float,
                    tokens_per_second: float | None = None, *, steps: int = 0, batch_size: int = 0, grad_accum: int = 0,
                    max_length: int = 0, tokens_per_step: float | None = None, overhead_seconds: float | None = None,
                    recorded_at: str | None = None, peak_memory_gb: float | None = None,
                    gradient_checkpointing: bool | None = None, kind: str = "run") -> dict:
    """Pure: a new store with this measurement added (newest first, MEASUREMENTS_KEPT per key)."""
    if not (isinstance(seconds_per_step, (int, float)) and seconds_per_step > 0):
        raise ValueError(f"seconds_per_step is {seconds_per_step!r}; it must be a positive number")
    entry = {
        "model": model, "method": method, "mode": mode, "hardware": hardware,
        "seconds_per_step": float(seconds_per_step),
        "tokens_per_second": float(tokens_per_second) if tokens_per_second else None,
        "tokens_per_step": float(tokens_per_step) if tokens_per_step else None,
        "overhead_seconds": float(overhead_seconds) if overhead_seconds is not None and overhead_seconds >= 0 else None,
        "steps": int(steps), "batch_size": int(batch_size), "grad_accum": int(grad_accum), "max_length": int(max_length),
        "peak_memory_gb": float(peak_memory_gb) if isinstance(peak_memory_gb, (int, float)) and peak_memory_gb > 0 else None,
        "gradient_checkpointing": gradient_checkpointing if isinstance(gradient_checkpointing, bool) else None,
        "kind": kind,
        "recorded_at": recorded_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    key = measurement_key(model, method, mode, hardware)
    measurements = dict(store.get("measurements", {}))
    measurements[key] = [entry, *measurements.get(key, [])][:MEASUREMENTS_KEPT]
    return {"version": 1, "measurements": measurements}


def load_measurements(path: Path | None = None) -> dict:
    path = path or calibration_path()
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) and isinstance(data.get("measurements"), dict) else {"measurements": {}}
    except (OSError, ValueError):
        return {"measurements": {}}


def record_measurement(model: str, method: str, mode: str, hardware: str, seconds_per_step: float,
                       tokens_per_second: float | None = None, *, path: Path | None = None, **details) -> dict:
    """Store one measured throughput in the data folder's calibration file; returns the entry."""
    path = path or calibration_path()
    with _calibration_lock:
        store = add_measurement(load_measurements(path), model, method, mode, hardware, seconds_per_step,
                                tokens_per_second, **details)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(store, indent=2))
        tmp.replace(path)
    return store["measurements"][measurement_key(model, method, mode, hardware)][0]


def find_measurement(model: str, method: str, mode: str, hardware: str, path: Path | None = None) -> dict | None:
    entries = load_measurements(path)["measurements"].get(measurement_key(model, method, mode, hardware)) or []
    return entries[0] if entries else None


def _seconds_between(start: str | None, end: str | None) -> float | None:
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return None


def record_run_throughput(run_record: dict, hardware: str | None = None, path: Path | None = None) -> dict | None:
    """Record the throughput of a finished run (a run.json dict) for later estimates.

    Only completed runs count. Seconds per step come from the trainer's train_runtime (else
    train_seconds); tokens from the last logged cumulative num_tokens. Never raises: returns the
    stored entry, or None when the record has nothing usable.
    """
    try:
        if not isinstance(run_record, dict) or run_record.get("status") != "completed":
            return None
        cfg = run_record.get("config") or {}
        train, lora = cfg.get("train") or {}, cfg.get("lora") or {}
        metrics = [m for m in run_record.get("metrics") or [] if isinstance(m, dict)]
        steps = run_record.get("step") or run_record.get("total_steps") or max((m.get("step", 0) for m in metrics), default=0)
        resumed = bool(run_record.get("resumes"))  # train_runtime then covers only the last session; train_seconds all
        runtime = run_record.get("train_seconds") if resumed else next(
            (m["train_runtime"] for m in reversed(metrics) if isinstance(m.get("train_runtime"), (int, float))),
            run_record.get("train_seconds"))
        if not steps or not isinstance(runtime, (int, float)) or runtime <= 0:
            return None
        tokens_per_step = None
        logged = [m for m in metrics if isinstance(m.get("num_tokens"), (int, float)) and m.get("step")]
        if logged:
            last = max(logged, key=lambda m: m["step"])
            tokens_per_step = last["num_tokens"] / last["step"]
        ckpt = (run_record.get("resolved") or {}).get("gradient_checkpointing", train.get("gradient_checkpointing"))
        total = _seconds_between(run_record.get("started_at"), run_record.get("finished_at"))
        train_seconds = run_record.get("train_seconds") or runtime
        overhead = total - train_seconds if total is not None and total >= train_seconds and not resumed else None
        return record_measurement(
            (cfg.get("model") or {}).get("name_or_path", "?"), cfg.get("method", "sft"),
            training_mode(bool(lora.get("enabled")), "4bit" if lora.get("qlora") or lora.get("quantization") == "4bit" else None),
            hardware or detect_hardware()[0], runtime / steps,
            tokens_per_step * steps / runtime if tokens_per_step else None, path=path, steps=int(steps),
            batch_size=int(train.get("batch_size") or 0), grad_accum=int(train.get("grad_accum") or 0),
            max_length=int(train.get("max_length") or 0), tokens_per_step=tokens_per_step, overhead_seconds=overhead,
            recorded_at=run_record.get("finished_at"), peak_memory_gb=run_record.get("peak_reserved_gb"),
            gradient_checkpointing=ckpt if isinstance(ckpt, bool) else None)
    except Exception:  # noqa: BLE001 - calibration must never break a run
        return None


def peak_reserved_gb() -> float | None:
    """PyTorch's peak reserved GPU memory in this process (GB), or None without CUDA. Never imports torch."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            return round(torch.cuda.max_memory_reserved() / 1e9, 3)
    except Exception:  # noqa: BLE001 - a measurement must never break a run
        pass
    return None


def measured_figures(run_record: dict) -> dict:
    """What a finished run measured, for its run.json: seconds per optimizer step and peak reserved GPU memory."""
    out: dict = {"peak_reserved_gb": peak_reserved_gb()}
    try:
        metrics = [m for m in run_record.get("metrics") or [] if isinstance(m, dict)]
        runtime = next((m["train_runtime"] for m in reversed(metrics) if isinstance(m.get("train_runtime"), (int, float))), None)
        steps = run_record.get("step") or 0
        if runtime and steps and not run_record.get("resumes"):
            out["seconds_per_step"] = round(runtime / steps, 4)
    except Exception:  # noqa: BLE001
        pass
    return {k: v for k, v in out.items() if v is not None}


def record_dry_run(report, config, hardware: str | None = None, path: Path | None = None) -> dict | None:
    """Record a GPU dry run's measured seconds per step and peak reserved memory (a DryRunReport), so the quote
    for the same model, method, mode and hardware switches to them. CPU dry runs are not recorded (too few steps
    for the CPU's fixed costs). Never raises."""
    try:
        if not report.ok or not report.seconds_per_step or report.memory_kind != "GPU peak reserved":
            return None
        t = config.train
        tokens = [m["num_tokens"] for m in report.metrics if isinstance(m.get("num_tokens"), (int, float))]
        return record_measurement(
            config.model.name_or_path, config.method, report.peft_mode, hardware or detect_hardware()[0],
            report.seconds_per_step, path=path, steps=report.steps, batch_size=t.batch_size, grad_accum=t.grad_accum,
            max_length=t.max_length, tokens_per_step=(max(tokens) / report.steps) if tokens and report.steps else None,
            peak_memory_gb=report.peak_memory_gb, gradient_checkpointing=report.gradient_checkpointing, kind="dry run")
    except Exception:  # noqa: BLE001 - calibration must never break a dry run
        return None
