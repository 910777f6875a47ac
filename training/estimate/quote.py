"""Estimating time, dollars and memory of a run before it starts.

Time on a GPU (speed.py) is first principles priced at measured rates: FLOPs per padded token (forward 2N; backward
4N full, 2N with a frozen base; +2N when gradient checkpointing recomputes; reference-model passes), element-wise
traffic and 4-bit dequantisation at the GPU's achieved shares of its peak and bandwidth, plus the kernel-dispatch
latency that dominates small models (per micro-batch, per LoRA layer, per checkpointed layer), fitted on the shared
H100 grid; tokens are the dataset report's real counts after truncation, padded to each batch's expected longest
(tokens.py); GRPO/RLOO add generated tokens x the decode time per token; eval passes and checkpoint writes (only
those save_steps really writes) come on top, with model loading. On a CPU flavor the FLOP model at a fitted
utilisation and fixed cost per step (the demo's calibration) is kept. When a completed run or a GPU dry run of the
same model, method, LoRA/full and hardware measured its seconds per step (and, for the same shape, its peak memory),
that replaces the prior and the estimate says "measured" (else "prior"). Memory (memory.py) is PyTorch's peak
reserved GPU memory: weights (by dtype or 4-bit), gradients and optimizer states of the trainable parameters,
activations of the longest batch (with or without gradient checkpointing), TRL's chunked LM-head buffers, and the
allocator's cache (checked on an H100 grid, tests/unit/test_estimate_gpu_grid.py). Every assumption is listed in
the result, with what gradient checkpointing costs and saves; when the run does not fit, the cheapest change that
fits is found by re-running the estimate with each change applied.

The parts: result.py (the `Estimate`), run_time.py (seconds), memory.py (GB), fixes.py (the cheapest change that
fits), wording.py (plain words), dataset_tokens.py (rows and tokens from the validation report). This module works
out the run's shape once (steps, tokens, resolved TRL arguments) and puts the parts together.
"""

from __future__ import annotations

import math
from pathlib import Path

from training.config.schema import RunConfig
from training.estimate.calibration import find_measurement, training_mode
from training.estimate.checkpointing import FITS_BELOW, fits_without_checkpointing
from training.estimate.dataset_tokens import dataset_tokens, longest_from_stats, padding_from_stats
from training.estimate.fixes import cheapest_fitting, suggest_fix
from training.estimate.hardware import CATALOGUE, Flavor, detect_hardware, get_flavor, live_prices, price_per_hour
from training.estimate.memory import GPU_CONTEXT_GB, estimate_memory
from training.estimate.method_costs import method_cost
from training.estimate.result import Estimate
from training.estimate.run_time import (
    DOWNLOAD_BYTES_PER_S,
    GENERATE_TOKEN_OVERHEAD_S,
    IMPORT_S,
    LOAD_BYTES_PER_S,
    MFU,
    MULTI_GPU_SCALING,
    PADDING_FACTOR,
    STARTUP_S,
    STEP_OVERHEAD_S,
    RunShape,
    quote_time,
)
from training.estimate.tokens import LONGEST_OVER_MEAN, truncated_mean
from training.estimate.vision_costs import quote_vision
from training.estimate.wording import plain_cost, plain_duration, plain_summary
from training.models.facts import (
    lora_trainable,
    model_facts,
)
from training.recipe import resolve_run

__all__ = ["DOWNLOAD_BYTES_PER_S", "FITS_BELOW", "GENERATE_TOKEN_OVERHEAD_S", "IMPORT_S", "LOAD_BYTES_PER_S", "MFU",
           "MULTI_GPU_SCALING", "PADDING_FACTOR", "STARTUP_S", "STEP_OVERHEAD_S", "Estimate", "all_flavors",
           "cheapest_fitting", "dataset_tokens", "estimate_all", "estimate_all_for_config", "estimate_for_config",
           "estimate_run", "hardware_facts", "longest_from_stats", "lora_trainable", "model_facts", "padding_from_stats",
           "plain_cost", "plain_duration", "plain_summary", "suggest_fix"]
# Memory peaks at the run's longest batch: without token statistics (estimate_run's longest_tokens), the longest
# example is taken as twice the mean (tokens.LONGEST_OVER_MEAN; an assumption, not a fit: the calibration data's is
# 1.7x; real chat data's tails are often longer, and max_length caps it).


def hardware_facts(flavor: Flavor) -> dict:
    """A catalogue flavor as the resolver (training/recipe/) takes hardware."""
    return {"accelerator": "cuda" if flavor.is_gpu else "cpu", "name": flavor.name, "bf16": flavor.bf16,
            "memory_gb": flavor.device_memory_gb if flavor.is_gpu else None, "count": flavor.gpu_count}


def _steps(t, rows: int, rows_per_step: float) -> int:
    if t.max_steps and t.max_steps > 0:
        return int(t.max_steps)
    per_epoch = max(1, math.ceil(rows / rows_per_step))
    if t.num_epochs >= 1:
        return per_epoch * max(1, math.ceil(t.num_epochs))
    return max(1, math.ceil(rows * t.num_epochs / rows_per_step))


def _pick_hardware(hardware: str | None) -> tuple[Flavor, str, bool]:
    """(flavor, how it was chosen, whether it is this machine)."""
    if hardware:
        return get_flavor(hardware), "chosen", hardware == detect_hardware()[0]
    name, hw_source = detect_hardware()
    return get_flavor(name), hw_source, True


def estimate_run(config: RunConfig, rows: int, mean_tokens: float, hardware: str | None = None,
                 token_source: str = "measured with the model's tokenizer", *, quantization: str | None = None,
                 gradient_checkpointing: bool | None = None, eval_rows: int = 0, evals: int = 1,
                 use_measurements: bool = True, suggest: bool = True, prices: dict | None | bool = True,
                 calibration: Path | None = None, padding: float | None = None,
                 longest_tokens: float | None = None, token_stats: dict | None = None, compare: bool = True) -> Estimate:
    """Time, cost and memory of `config` on `hardware` (default: this machine).

    quantization="4bit" estimates QLoRA (the config has no switch for it yet). prices=True fetches
    live prices (never blocking more than a few seconds), a dict uses those, None/False the table.
    token_stats (the dataset report's) give the real tokens per example after truncation and the length
    distribution that sets each batch's padding; compare=False skips the checkpointing on/off comparison.
    """
    flavor, hw_source, current = _pick_hardware(hardware)
    live = live_prices() if prices is True else (prices or None)
    usd_per_hour, price_source = price_per_hour(flavor, live)
    facts = model_facts(config.model.name_or_path)
    t = config.train
    if quantization is None and config.lora.enabled and getattr(config.lora, "quantization", None) == "4bit":
        quantization = "4bit"
    lora = bool(config.lora.enabled) or quantization == "4bit"
    cost = method_cost(config.method, getattr(config, "method_args", None), facts)
    gpus = max(1, flavor.gpu_count)
    assumptions = [f"Hardware: {flavor.label} ({hw_source})"] if hw_source != "chosen" else []
    if cost.note:
        assumptions.append(cost.note)

    # --- the run's shape: rows, steps, tokens, the TRL arguments it resolves to
    if not eval_rows and t.eval_fraction:  # rows held out for evaluation are not trained on
        eval_rows = max(1, round(rows * min(0.5, t.eval_fraction)))
        rows = max(1, rows - eval_rows)
    hw = hardware_facts(flavor)
    resolved = resolve_run(config.to_dict(), hw, rows=rows)
    if eval_rows and resolved.args["eval_strategy"] == "steps" and evals == 1:
        total = _steps(t, rows, t.batch_size * t.grad_accum * gpus)
        evals = max(1, total // max(1, resolved.args["eval_steps"]))
    packing = bool(resolved.args.get("packing")) and not cost.generations_per_prompt
    seqs_per_step = t.batch_size * t.grad_accum * gpus
    if cost.generations_per_prompt:
        prompt_tokens = min(mean_tokens, t.max_length)
        rows_per_step = seqs_per_step / cost.generations_per_prompt
        trained_seqs_per_step = seqs_per_step
    else:
        prompt_tokens = truncated_mean(token_stats, mean_tokens, t.max_length)
        # packing fills each sequence of max_length with whole examples
        per_sequence = max(1.0, t.max_length / max(prompt_tokens, 1.0)) if packing else 1.0
        rows_per_step = seqs_per_step * per_sequence
        trained_seqs_per_step = rows_per_step * cost.sequences_per_row
    steps = _steps(t, rows, rows_per_step)
    if t.max_steps and t.max_steps > 0:
        assumptions.append(f"{steps} steps (Max steps)")
    else:
        assumptions.append(f"{steps} steps = {rows} rows / {rows_per_step:g} rows per step x {t.num_epochs:g} epoch(s)")
    seq_tokens = prompt_tokens + cost.completion_tokens
    train_tokens = int(steps * trained_seqs_per_step * seq_tokens)
    assumptions.append(f"{prompt_tokens:.0f} tokens per example after truncation at {t.max_length} ({token_source}), "
                       f"{train_tokens:,} training tokens")

    base = dict(resolved=resolved.summary(), hardware=flavor.name, hardware_label=flavor.label, available_memory_gb=flavor.device_memory_gb,
                steps=steps, train_tokens=train_tokens, hardware_source=hw_source, current=current,
                price_source=price_source, usd_per_hour=usd_per_hour)
    if facts is None:
        return Estimate(seconds=None, cost_usd=None, gpu_memory_gb=None, fits=None, verdict="unknown", params=None,
                        trainable_params=None, assumptions=assumptions + [
                            f"Model {config.model.name_or_path!r} has an unknown size (no config.json reachable and not in "
                            "the built-in table), so time and memory are not estimated."],
                        summary=f"Unknown model size: cannot estimate time or memory for {config.model.name_or_path}.", **base)
    assumptions.append(f"{facts.params / 1e6:,.1f}M parameters ({facts.source})")
    mode = training_mode(lora, quantization)
    if lora:
        trainable = lora_trainable(facts, config.lora.r, config.lora.target_modules)
        flop_mult = 4
        what = "QLoRA (4-bit base)" if mode == "qlora" else "LoRA"
        assumptions.append(f"{what}: about {trainable / 1e6:,.2f}M trainable parameters; 4N FLOPs per token (frozen base)")
    else:
        trainable, flop_mult = facts.params, 6
        assumptions.append("Full fine-tuning: 6N FLOPs per token")
    if gradient_checkpointing is None and t.gradient_checkpointing == "auto" and flavor.is_gpu:
        # as the engine asks it (checkpointing.run_hardware), so the run resolves auto as quoted
        hw["fits_without_checkpointing"] = fits_without_checkpointing(config, flavor.device_memory_gb, flavor.bf16,
                                                                      quantization=quantization)
        resolved = resolve_run(config.to_dict(), hw, rows=rows)
        base["resolved"] = resolved.summary()
    ckpt = resolved.args["gradient_checkpointing"] if gradient_checkpointing is None else gradient_checkpointing
    if ckpt:
        flop_mult += 2
        assumptions.append("Gradient checkpointing: the forward pass runs twice (+2N FLOPs per token)")
    shape = RunShape(config=config, facts=facts, flavor=flavor, cost=cost, lora=lora, mode=mode,
                     precision=resolved.precision, checkpointing=bool(ckpt), flop_mult=flop_mult, trainable=trainable,
                     steps=steps, packing=packing, prompt_tokens=prompt_tokens, seq_tokens=seq_tokens,
                     train_tokens=train_tokens, gen_batch=t.batch_size * t.grad_accum, mean_tokens=mean_tokens,
                     save_every=resolved.summary()["save_steps"], token_stats=token_stats,
                     longest_tokens=longest_tokens, padding=padding)

    # --- time: modelled, or measured on this hardware
    measured = find_measurement(config.model.name_or_path, config.method, mode, flavor.name, calibration) if use_measurements else None
    timing = quote_time(shape, assumptions, eval_rows=eval_rows, evals=evals, measured=measured)
    vision = quote_vision(config, precision=shape.precision, steps=steps, micro_batch=t.batch_size,
                          step_batch=t.batch_size * t.grad_accum * shape.gpus, peak_tflops=flavor.peak_tflops(shape.precision),
                          mfu=MFU.get("gpu" if flavor.is_gpu else "cpu", 0.4))  # a VLM's image side: estimate/vision_costs.py
    if vision is not None:
        assumptions.extend(vision.notes)
        if timing.source == "prior":
            timing.seconds += vision.seconds
            timing.breakdown["vision_tower"] = round(vision.seconds, 2)
    cost_usd = timing.seconds / 3600 * usd_per_hour
    assumptions.append(f"${usd_per_hour:.2f}/hour ({price_source})")

    # --- memory: modelled, or measured in a run of the same shape
    memory, memory_source, breakdown, verdict = _quote_memory(shape, measured, assumptions, vision.memory if vision else {})
    est = Estimate(seconds=round(timing.seconds, 1), cost_usd=cost_usd, gpu_memory_gb=memory, fits=verdict != "does not fit",
                   verdict=verdict, params=facts.params + (vision.params if vision else 0), trainable_params=trainable, assumptions=assumptions,
                   time_source=timing.source, memory_source=memory_source, precision=shape.precision,
                   memory_breakdown=breakdown, time_breakdown=timing.breakdown,
                   seconds_per_step=round(timing.training_s / steps, 4) if steps else None,
                   step_breakdown=timing.step_parts, **base)
    if compare and flavor.is_gpu:
        other = estimate_run(config, rows, mean_tokens, flavor.name, token_source, quantization=quantization,
                             gradient_checkpointing=not ckpt, eval_rows=eval_rows, evals=evals, use_measurements=False,
                             suggest=False, prices=live or False, calibration=calibration, padding=padding,
                             longest_tokens=longest_tokens, token_stats=token_stats, compare=False)
        _compare_checkpointing(est, other, bool(ckpt))
    if suggest and verdict == "does not fit":
        est.fix = suggest_fix(config, rows, mean_tokens, flavor.name, token_source, quantization=quantization,
                              gradient_checkpointing=ckpt, prices=live, longest_tokens=longest_tokens, token_stats=token_stats,
                              estimate_run=estimate_run)
    est.summary = plain_summary(est)
    return est


def _quote_memory(s: RunShape, measured: dict | None, assumptions: list[str], extra: dict) -> tuple[float, str, dict, str]:
    """(GB per GPU or of RAM, prior or measured, GB per part, verdict: fits, tight or does not fit)."""
    t, flavor, config = s.config.train, s.flavor, s.config
    longest = s.longest_tokens if s.longest_tokens and s.longest_tokens > 0 else s.mean_tokens * LONGEST_OVER_MEAN
    seq_mem = t.max_length if s.packing else min(t.max_length, max(s.prompt_tokens, longest))  # the longest batch sets the peak
    breakdown = estimate_memory(s.facts, s.precision, s.trainable, s.lora, t.batch_size, seq_mem, s.checkpointing,
                                "4bit" if s.mode == "qlora" else None, s.cost, s.gen_batch, flavor.is_gpu,
                                optimizer=t.optimizer, target=config.lora.target_modules, dropout=config.lora.dropout)
    breakdown.update(extra)  # a VLM's vision tower (training/estimate/vision_costs.py)
    memory = round(sum(breakdown.values()), 2)
    memory_source = "prior"
    if (measured and measured.get("peak_memory_gb") and flavor.is_gpu
            and (measured.get("batch_size"), measured.get("max_length"), measured.get("gradient_checkpointing"))
            == (t.batch_size, t.max_length, s.checkpointing)):
        memory, memory_source = round(float(measured["peak_memory_gb"]), 2), "measured"
        assumptions.insert(0, f"Memory measured: {memory:.2f} GB peak reserved in a run of the same shape on {flavor.name}")
    available = flavor.device_memory_gb
    needed = memory + (GPU_CONTEXT_GB if flavor.is_gpu else 0.0)
    verdict = "fits" if needed <= FITS_BELOW * available else ("tight" if needed <= available else "does not fit")
    if s.mode == "qlora" and not flavor.is_gpu:
        verdict = "does not fit"
        assumptions.append("QLoRA's 4-bit loading needs an NVIDIA GPU: it cannot run on a CPU flavor")
    gpus = s.gpus
    where = "per GPU (each GPU holds a full copy)" if gpus > 1 else "of GPU memory" if flavor.is_gpu else "of RAM"
    assumptions.append(f"Memory {where}: " + ", ".join(f"{k.replace('_', ' ')} {v:.2f} GB" for k, v in breakdown.items() if v)
                       + f" (peak reserved, longest batch {t.batch_size} x {seq_mem:.0f} tokens)"
                       + (f", plus {GPU_CONTEXT_GB:g} GB CUDA context" if flavor.is_gpu else "")
                       + f"; {'with' if s.checkpointing else 'no'} gradient checkpointing; 'tight' above {FITS_BELOW:.0%}")
    return memory, memory_source, breakdown, verdict


def _compare_checkpointing(est: Estimate, other: Estimate, ckpt: bool) -> None:
    """What gradient checkpointing costs and saves: the same run with it on and off, in the estimate's choices."""
    on, off = (est, other) if ckpt else (other, est)
    est.choices["gradient_checkpointing"] = {
        "chosen": ckpt,
        "on": {"seconds": on.seconds, "cost_usd": on.cost_usd, "gpu_memory_gb": on.gpu_memory_gb, "verdict": on.verdict},
        "off": {"seconds": off.seconds, "cost_usd": off.cost_usd, "gpu_memory_gb": off.gpu_memory_gb, "verdict": off.verdict}}
    if on.seconds and off.seconds:
        est.assumptions.append(f"Gradient checkpointing {'on' if ckpt else 'off'}: with it on {plain_duration(on.seconds)} "
                               f"and {on.gpu_memory_gb:.1f} GB, off {plain_duration(off.seconds)} and {off.gpu_memory_gb:.1f} GB "
                               f"({'does not fit' if off.verdict == 'does not fit' else 'fits' if off.verdict == 'fits' else off.verdict} off)")


def all_flavors() -> list[str]:
    return list(CATALOGUE)


def estimate_all(config: RunConfig, rows: int, mean_tokens: float, token_source: str = "measured with the model's tokenizer",
                 flavors: list[str] | None = None, suggest_for: str | None = None, **kw) -> list[Estimate]:
    """One estimate per flavor (live prices fetched once). Only `suggest_for` (a flavor name, or "current"
    for this machine) gets a fix suggestion: searching for fixes on every flavor would be slow."""
    prices = kw.pop("prices", True)
    live = live_prices() if prices is True else (prices or None)
    target = detect_hardware()[0] if suggest_for == "current" else suggest_for
    return [estimate_run(config, rows, mean_tokens, name, token_source, prices=live or False, suggest=name == target, **kw)
            for name in flavors or CATALOGUE]


def estimate_for_config(config: RunConfig, hardware: str | None = None, report=None, **kw) -> tuple[Estimate, object]:
    """Estimate from the config's dataset. Returns (estimate, validation report)."""
    rows, mean, source, report = dataset_tokens(config, report)
    kw.setdefault("padding", padding_from_stats(report))
    kw.setdefault("longest_tokens", longest_from_stats(report))
    kw.setdefault("token_stats", getattr(report, "token_stats", None))
    return estimate_run(config, rows, mean, hardware, token_source=source, **kw), report


def estimate_all_for_config(config: RunConfig, report=None, **kw) -> tuple[list[Estimate], object]:
    rows, mean, source, report = dataset_tokens(config, report)
    kw.setdefault("padding", padding_from_stats(report))
    kw.setdefault("longest_tokens", longest_from_stats(report))
    kw.setdefault("token_stats", getattr(report, "token_stats", None))
    return estimate_all(config, rows, mean, source, **kw), report
