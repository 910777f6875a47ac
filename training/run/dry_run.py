"""Check it runs: a few real optimizer steps with the exact settings, on a handful of examples.

`dry_run(config)` proves that the data, tokenisation, masking, the reward functions, the model and its
memory work together, and measures seconds per step and peak memory (GPU peak reserved, or the
process's resident memory on CPU) for the estimate. Nothing is saved and nothing reaches Trackio; a
failure comes back as a plain-language cause in `DryRunReport.error`, never as an exception.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

DRY_RUN_STEPS = 3


@dataclass(frozen=True)
class DryRunReport:
    ok: bool
    method: str
    peft_mode: str  # lora, qlora or full
    steps: int  # optimizer steps that ran
    examples: int  # rows it used
    seconds_per_step: float | None  # mean over the steps after the first (the first warms up), or the only one
    first_step_seconds: float | None
    peak_memory_gb: float | None
    memory_kind: str  # "GPU peak reserved" or "CPU resident (RSS)"
    total_seconds: float
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)
    gradient_checkpointing: bool | None = None  # as the run resolved it
    recorded: bool = False  # GPU only: the figures were stored, and the quote for this model and hardware now uses them

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if not self.ok:
            return f"Dry run failed: {self.error}"
        per = f"{self.seconds_per_step:.2f} s/step" if self.seconds_per_step is not None else "? s/step"
        mem = f"{self.peak_memory_gb:.2f} GB peak ({self.memory_kind})" if self.peak_memory_gb is not None else "memory n/a"
        text = (f"It runs: {self.steps} {self.method.upper()} steps ({self.peft_mode}) on {self.examples} examples; "
                f"{per}, {mem}; {self.total_seconds:.0f} s in all.")
        if self.recorded:
            text += " The estimate for this model on this GPU now uses these measured figures."
        return text


def _rss_bytes() -> int | None:
    """Resident memory of this process (Linux /proc; psutil when installed)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:
        pass
    try:
        import os

        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class _MemoryMeter:
    def __init__(self):
        import torch

        self.cuda = torch.cuda.is_available()
        self.peak = 0
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

    def sample(self) -> None:
        if self.cuda:
            import torch

            self.peak = max(self.peak, torch.cuda.max_memory_reserved())  # an out-of-memory error happens against reserved
        else:
            self.peak = max(self.peak, _rss_bytes() or 0)

    @property
    def kind(self) -> str:
        return "GPU peak reserved" if self.cuda else "CPU resident (RSS)"


def _step_timer(times: list[float], meter: _MemoryMeter):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self._t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - self._t0)
            meter.sample()

        def on_train_begin(self, args, state, control, **kwargs):
            meter.sample()

    return StepTimer()


def dry_run_config(config, steps: int = DRY_RUN_STEPS):
    """The config as the dry run trains it: same settings, `steps` steps, only the rows those steps need."""
    from training.methods.registry import get_method, resolved_method_args

    c = copy.deepcopy(config)
    t = c.train
    per_step = t.batch_size * t.grad_accum
    if get_method(c.method).uses_rewards:  # every prompt is sampled num_generations times
        per_step = max(1, per_step // int(resolved_method_args(c.method, c.method_args).get("num_generations", 1)))
    rows = max(8, per_step * steps)
    c.data.max_rows = min(rows, c.data.max_rows) if c.data.max_rows else rows
    t.max_steps = steps
    t.num_epochs = 1.0
    t.logging_steps = 1
    t.warmup_ratio = 0.0
    t.save_steps = 10**6
    c.run_name = f"dry-run-{c.method}"
    return c


def dry_run(config, steps: int = DRY_RUN_STEPS, workdir: str | Path | None = None) -> DryRunReport:
    """Run `steps` optimizer steps with config's settings on a handful of rows; report speed and memory."""
    from training.run.engine import run_training

    t0 = time.time()
    c = dry_run_config(config, steps)
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="dry-run-"))
    times: list[float] = []
    error, record, meter = None, None, None
    try:
        meter = _MemoryMeter()
        record = run_training(c, folder, report_to_trackio=False, extra_callbacks=[_step_timer(times, meter)],
                              save_final=False)
        if record["status"] != "completed":
            error = record["error"] or f"the run ended as {record['status']}"
    except Exception as exc:  # noqa: BLE001 - run_training records its own errors; this is the import/setup net
        from training.run.engine import explain_error

        error = explain_error(exc, c)
    finally:
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    later = times[1:] or times
    report = DryRunReport(
        ok=error is None,
        method=c.method,
        peft_mode=c.peft_mode,
        steps=len(times),
        examples=c.data.max_rows or 0,
        seconds_per_step=round(sum(later) / len(later), 4) if later else None,
        first_step_seconds=round(times[0], 4) if times else None,
        peak_memory_gb=round(meter.peak / 1e9, 3) if meter and meter.peak else None,
        memory_kind=meter.kind if meter else "n/a",
        total_seconds=round(time.time() - t0, 2),
        error=error,
        notes=list(record["notes"]) if record else [],
        metrics=[m for m in (record or {}).get("metrics", []) if "train_runtime" not in m],
        gradient_checkpointing=((record or {}).get("resolved") or {}).get("gradient_checkpointing"),
    )
    if report.ok and report.memory_kind == "GPU peak reserved":
        from dataclasses import replace

        from training.estimate.calibration import record_dry_run

        report = replace(report, recorded=record_dry_run(report, config) is not None)
    return report
