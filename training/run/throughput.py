"""Throughput while training: tokens per second and model FLOPs utilisation (MFU) at every logging step, and the peak
reserved GPU memory on a GPU, added to the step's logs before Trackio, run.json and the status line read them.

Tokens are TRL's own count (`num_tokens`: the non-padding tokens every trainer of TRL 1.16 logs, summed over
processes). FLOPs per token are the estimate's (training/estimate/speed.training_flops_per_token: forward 2N,
backward 4N or 2N with a frozen base, 2N per reference or teacher pass, attention at max_length, an upper bound),
without the recomputation of gradient checkpointing (MFU counts the model's work, not the hardware's). The peak is
the estimate's too: the hardware catalogue's dense peak at the run's precision, per GPU times the processes, or the
CPU flavor's nominal peak.
"""

from __future__ import annotations

import time

TOKENS_KEY, MFU_KEY, PEAK_KEY = "tokens_per_second", "mfu", "peak_reserved_gb"


def flops_per_token(config, precision: str) -> float | None:
    """Model FLOPs per trained token of this run, from the estimate's model; None for a model of unknown size."""
    from training.estimate.method_costs import method_cost
    from training.estimate.speed import training_flops_per_token
    from training.models.facts import model_facts

    facts = model_facts(config.model.name_or_path)
    if facts is None:
        return None
    lora = bool(config.lora.enabled)
    cost = method_cost(config.method, config.method_args, facts)
    return training_flops_per_token(facts, lora, False, float(config.train.max_length), cost.reference_forwards)


def peak_flops(precision: str, processes: int = 1) -> tuple[float, str]:
    """(dense peak FLOP/s of the hardware this run trains on, its catalogue name)."""
    from training.estimate.hardware import detect_hardware, get_flavor

    name = detect_hardware()[0]
    flavor = get_flavor(name)
    units = max(1, processes) if flavor.is_gpu else 1
    return flavor.peak_tflops(precision) * 1e12 * units, name


def throughput_callback(flops: float | None, peak: float, gpu: bool):
    """A TrainerCallback that adds tokens_per_second, mfu (0-1) and, on a GPU, peak_reserved_gb to each training log.
    The engine puts it first among the callbacks, so Trackio's and run.json's see the figures."""
    from transformers import TrainerCallback

    class Throughput(TrainerCallback):
        def __init__(self):
            self.last: tuple[float, float] | None = None  # (time, num_tokens) at the previous log

        def on_train_begin(self, args, state, control, **kwargs):
            self.last = (time.perf_counter(), 0.0)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not isinstance(logs.get("num_tokens"), (int, float)) or self.last is None:
                return
            now, tokens = time.perf_counter(), float(logs["num_tokens"])
            seconds, done = now - self.last[0], tokens - self.last[1]
            if tokens < self.last[1]:  # a resumed run counts again from 0
                done = tokens
            self.last = (now, tokens)
            if seconds <= 0 or done <= 0:
                return
            rate = done / seconds
            logs[TOKENS_KEY] = round(rate, 2)
            if flops and peak:
                logs[MFU_KEY] = round(rate * flops / peak, 6)
            if gpu:
                import torch

                logs[PEAK_KEY] = round(torch.cuda.max_memory_reserved() / 1e9, 3)

    return Throughput()


def add_throughput(trainer, config, precision: str, processes: int = 1) -> None:
    """Put the throughput callback first on `trainer` (before the reporting callbacks). Never raises."""
    try:
        from training.hosting.machine import has_cuda

        flops = flops_per_token(config, precision)
        peak, _ = peak_flops(precision, processes)
        trainer.callback_handler.callbacks.insert(0, throughput_callback(flops, peak, has_cuda()))
    except Exception:  # noqa: BLE001 - throughput is a figure to show, never a reason to fail a run
        return
