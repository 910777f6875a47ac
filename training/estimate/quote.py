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
"""
from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.config.schema import RunConfig
from training.estimate.calibration import (
    find_measurement,
    training_mode,
)
from training.estimate.checkpointing import FITS_BELOW, fits_without_checkpointing
from training.estimate.hardware import CATALOGUE, Flavor, detect_hardware, get_flavor, live_prices, price_per_hour
from training.estimate.memory import GPU_CONTEXT_GB, activation_bytes_per_token, estimate_memory
from training.estimate.method_costs import method_cost
from training.estimate.speed import decode_token_seconds, forward_seconds, rates_for, step_seconds
from training.estimate.tokens import LONGEST_OVER_MEAN, padded_length, truncated_mean
from training.hosting.read_policy import local_path
from training.models.facts import (
    lora_trainable,
    model_facts,
)
from training.recipe import resolve_run

# CPU flavors only (GPU time is speed.py's): the CPU pair was fitted on this project's 2-vCPU AMD EPYC machine with the demo model: about
# 120 ms per step at batch 16 (1,186 tokens) and 36 ms per step at batch 4 give 10 ms fixed per step
# and ~70 GFLOP/s, i.e. 40-45% of the nominal 0.16 TFLOP/s (fp32 matmuls in oneDNN reach that on
# AVX-512). Check with bench/estimate_accuracy.py on an idle machine; a measured run overrides both.
MFU = {"cpu": 0.59}  # cpu: fitted on an idle 2-vCPU machine (bench/estimate_accuracy.py), checkpointing off as resolved
STEP_OVERHEAD_S = {"cpu": 0.010}  # optimizer, data collation, logging, per step
STARTUP_S = {"gpu": 5.0, "cpu": 1.5}  # tokenizer, dataset preparation, trainer construction
IMPORT_S = {"gpu": 20.0, "cpu": 15.0}  # importing torch, transformers and TRL, once per process
LOAD_BYTES_PER_S = 400e6  # reading weights from local disk
DOWNLOAD_BYTES_PER_S = 100e6  # fetching weights from the Hub on first use
MULTI_GPU_SCALING = 0.8  # data-parallel efficiency per extra GPU
PADDING_FACTOR = 1.15  # CPU: batches pad to their longest example (GPU: tokens.padded_length)
# Memory peaks at the run's longest batch: without token statistics (estimate_run's longest_tokens), the longest
# example is taken as twice the mean (tokens.LONGEST_OVER_MEAN; an assumption, not a fit: the calibration data's is
# 1.7x; real chat data's tails are often longer, and max_length caps it).
GENERATE_TOKEN_OVERHEAD_S = {"cpu": 0.004}  # Python and kernel launches per generated token


# --- the estimate ------------------------------------------------------------------------------


@dataclass
class Estimate:
    hardware: str
    hardware_label: str
    seconds: float | None
    cost_usd: float | None
    gpu_memory_gb: float | None  # memory the run needs per GPU (RAM on CPU flavors)
    available_memory_gb: float  # per GPU (RAM on CPU flavors)
    fits: bool | None
    verdict: str  # fits, tight, does not fit, unknown
    steps: int | None
    train_tokens: int | None
    params: float | None
    trainable_params: float | None
    assumptions: list[str] = field(default_factory=list)
    summary: str = ""
    hardware_source: str = ""  # how the hardware was chosen or detected
    current: bool = False  # the hardware this app runs on
    time_source: str = "prior"  # prior (the model, at the achieved rates of speed.py), or measured (a run on this hardware)
    memory_source: str = "prior"  # prior (memory.py), or measured (a run or dry run of the same shape on this hardware)
    seconds_per_step: float | None = None  # one optimizer step (training only)
    step_breakdown: dict = field(default_factory=dict)  # seconds per step by part (GPU flavors)
    choices: dict = field(default_factory=dict)  # what a choice costs or saves, e.g. gradient checkpointing on vs off
    price_source: str = ""
    usd_per_hour: float = 0.0
    precision: str = ""
    memory_breakdown: dict = field(default_factory=dict)  # GB per part
    time_breakdown: dict = field(default_factory=dict)  # seconds per part
    fix: dict | None = None  # when it does not fit: the cheapest change that fits
    resolved: dict = field(default_factory=dict)  # the TRL arguments the run really uses (training/recipe/ resolve_run)

    def to_dict(self) -> dict:
        return asdict(self)


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


def _cached_locally(name: str) -> bool:
    """Whether the weights are likely on disk already (demo, a folder, or config.json in the Hub cache)."""
    try:
        if name == "demo" or local_path(name, "model") is not None:
            return True
    except ValueError:  # ReadRefused: not readable by this caller
        return False
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:
        return False


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
    if hardware:
        flavor, hw_source = get_flavor(hardware), "chosen"
        current = hardware == detect_hardware()[0]
    else:
        name, hw_source = detect_hardware()
        flavor, current = get_flavor(name), True
    live = live_prices() if prices is True else (prices or None)
    usd_per_hour, price_source = price_per_hour(flavor, live)
    facts = model_facts(config.model.name_or_path)
    t = config.train
    if quantization is None and config.lora.enabled and getattr(config.lora, "quantization", None) == "4bit":
        quantization = "4bit"
    lora = bool(config.lora.enabled) or quantization == "4bit"
    cost = method_cost(config.method, getattr(config, "method_args", None))
    kind = "gpu" if flavor.is_gpu else "cpu"
    gpus = max(1, flavor.gpu_count)
    assumptions = [f"Hardware: {flavor.label} ({hw_source})"] if hw_source != "chosen" else []
    if cost.note:
        assumptions.append(cost.note)

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
    else:
        prompt_tokens = truncated_mean(token_stats, mean_tokens, t.max_length)
    if cost.generations_per_prompt:
        rows_per_step = seqs_per_step / cost.generations_per_prompt
        trained_seqs_per_step = seqs_per_step
    else:
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
    precision = resolved.precision
    mode = training_mode(lora, quantization)
    if lora:
        trainable = lora_trainable(facts, config.lora.r, config.lora.target_modules)
        flop_mult = 4
        what = "QLoRA (4-bit base)" if mode == "qlora" else "LoRA"
        assumptions.append(f"{what}: about {trainable / 1e6:,.2f}M trainable parameters; 4N FLOPs per token (frozen base)")
    else:
        trainable, flop_mult = facts.params, 6
        assumptions.append("Full fine-tuning: 6N FLOPs per token")
    gen_batch = t.batch_size * t.grad_accum
    longest = longest_tokens if longest_tokens and longest_tokens > 0 else mean_tokens * LONGEST_OVER_MEAN
    seq_mem = t.max_length if packing else min(t.max_length, max(prompt_tokens, longest))  # the longest batch sets the peak
    mem_kw = dict(optimizer=t.optimizer, target=config.lora.target_modules, dropout=config.lora.dropout)
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

    # --- time: modelled, or measured on this hardware
    n = facts.compute_params
    peak = flavor.peak_tflops(precision)
    gen_s = 0.0
    step_parts: dict[str, float] = {}
    if kind == "gpu":
        rates = rates_for(flavor.gpu)
        seqs_micro = t.batch_size * (1 if cost.generations_per_prompt else cost.sequences_per_row)
        if packing:
            pad_len = float(t.max_length)
        elif cost.generations_per_prompt:  # prompts padded to the longest; completions run to max_completion_length
            pad_len = min(float(t.max_length), padded_length(token_stats, mean_tokens, t.max_length, t.batch_size,
                                                             longest_tokens)) + cost.completion_tokens
        else:
            pad_len = padded_length(token_stats, mean_tokens, t.max_length, t.batch_size, longest_tokens)
        act_layer = activation_bytes_per_token(facts, precision, lora, config.lora.target_modules, config.lora.dropout)[0]
        parts = step_seconds(facts, rates, peak_tflops=peak, bandwidth_gbs=flavor.mem_bandwidth_gbs, lora=lora,
                             checkpointing=bool(ckpt), sequences=seqs_micro, padded_len=pad_len,
                             micro_batches=t.grad_accum, reference_forwards=cost.reference_forwards,
                             activation_bytes_per_token_layer=act_layer, quantized=mode == "qlora")
        scale = gpus / (1 + (gpus - 1) * MULTI_GPU_SCALING)  # data-parallel: each GPU's share, with its overhead
        step_parts = {k: round(v * scale, 4) for k, v in parts.items()}
        compute_s = steps * sum(parts.values()) * scale
        step_s = 0.0
        shown = ", ".join(f"{k.replace('_', ' ')} {v:.3g} s" for k, v in step_parts.items() if v)
        assumptions.append(
            f"{sum(step_parts.values()):.3g} s per step: {shown} "
            f"({t.batch_size} x {cost.sequences_per_row if not cost.generations_per_prompt else 1:g} sequences padded to "
            f"{pad_len:.0f} tokens, x {t.grad_accum} accumulation); rates {rates.source}")
        if cost.generations_per_prompt:
            w_bytes = facts.params * (0.53 if mode == "qlora" else 2 if precision != "fp32" else 4)
            kv_token = 2 * facts.layers * ((facts.kv_heads * facts.head_dim) or facts.hidden) * (2 if precision != "fp32" else 4)
            per_token_s = decode_token_seconds(facts, rates, peak_tflops=peak, bandwidth_gbs=flavor.mem_bandwidth_gbs,
                                               lora=lora, batch=gen_batch, context=prompt_tokens + cost.completion_tokens / 2,
                                               weight_bytes=w_bytes, kv_bytes_per_token=kv_token)
            prefill_s = forward_seconds(facts, rates, peak_tflops=peak, lora=lora, tokens=gen_batch * prompt_tokens,
                                        padded_len=prompt_tokens)
            gen_s = steps * (cost.completion_tokens * per_token_s + prefill_s)
            assumptions.append(f"Generation: {cost.completion_tokens} tokens x {gen_batch} completions per step at "
                               f"{per_token_s * 1000:.0f} ms per generated token (a forward step per token: kernel "
                               f"latency, or bandwidth/compute when larger), {gen_s:.0f} s in all")
        train_s = compute_s + gen_s
    else:
        pad = (padding or PADDING_FACTOR) if t.batch_size > 1 else 1.0
        padded_seq = min(t.max_length + cost.completion_tokens, seq_tokens * pad)
        per_token = flop_mult * n + flop_mult * facts.layers * facts.attention_width * padded_seq
        per_token += 2 * n * cost.reference_forwards
        device_flops = peak * 1e12 * MFU[kind]
        compute_s = train_tokens * pad * per_token / device_flops
        step_s = steps * STEP_OVERHEAD_S[kind]
        if cost.generations_per_prompt:
            weight_bytes = facts.params * (2 if precision != "fp32" else 4)
            per_token_s = max(2 * n * gen_batch / device_flops, weight_bytes / (flavor.mem_bandwidth_gbs * 1e9))
            per_token_s += GENERATE_TOKEN_OVERHEAD_S[kind]
            gen_s = steps * (cost.completion_tokens * per_token_s + 2 * n * gen_batch * prompt_tokens / device_flops)
            assumptions.append(f"Generation: {cost.completion_tokens} tokens x {gen_batch} completions per step at "
                               f"{per_token_s * 1000:.0f} ms per token (memory-bandwidth or compute bound), {gen_s:.0f} s in all")
        train_s = compute_s + step_s + gen_s
        assumptions.append(f"{peak:g} TFLOP/s {precision} peak per machine at {MFU[kind]:.0%} utilisation")
        assumptions.append(f"{STEP_OVERHEAD_S[kind] * 1000:.0f} ms fixed cost per step (optimizer, data, logging); "
                           f"padding adds {pad - 1:.0%} to the tokens computed")
    disk_bytes = facts.params * (4 if config.model.name_or_path == "demo" else 2)
    load_s = STARTUP_S[kind] + disk_bytes / LOAD_BYTES_PER_S
    if "trl" not in sys.modules:
        load_s += IMPORT_S[kind]
        assumptions.append(f"{IMPORT_S[kind]:.0f} s to import the training libraries (once per process; less in a warm app)")
    if not _cached_locally(config.model.name_or_path):
        load_s += disk_bytes / DOWNLOAD_BYTES_PER_S
        assumptions.append(f"Downloading {disk_bytes / 1e9:.1f} GB of weights at ~{DOWNLOAD_BYTES_PER_S / 1e6:.0f} MB/s (first use)")
    save_bytes = trainable * (2 if precision != "fp32" else 4)
    checkpoint_bytes = trainable * ((2 if precision != "fp32" else 4) + 8)
    save_every = resolved.summary()["save_steps"]
    checkpoints = steps // save_every if save_every else 0  # only checkpoints really written (save_steps <= steps)
    save_s = (save_bytes + checkpoints * checkpoint_bytes) / LOAD_BYTES_PER_S
    overhead_s = load_s + save_s
    assumptions.append(f"{load_s:.0f} s to start and load the model (~{LOAD_BYTES_PER_S / 1e6:.0f} MB/s), "
                       f"{save_s:.0f} s for {checkpoints} checkpoint(s) and the final save")
    eval_s = 0.0
    if eval_rows:
        if kind == "gpu":
            batches = math.ceil(eval_rows / t.batch_size)
            eval_s = evals * batches * forward_seconds(facts, rates, peak_tflops=peak, lora=lora,
                                                       tokens=t.batch_size * cost.sequences_per_row * pad_len, padded_len=pad_len)
        else:
            eval_s = evals * eval_rows * seq_tokens * 2 * n / (peak * 1e12 * MFU[kind])
        assumptions.append(f"Evaluation: {evals} pass(es) x {eval_rows} rows, {eval_s:.0f} s")
    else:
        assumptions.append("No evaluation set: no evaluation time")
    time_source = "prior"
    measured = find_measurement(config.model.name_or_path, config.method, mode, flavor.name, calibration) if use_measurements else None
    if measured:
        time_source = "measured"
        tokens_per_step = train_tokens / steps
        same_shape = (measured.get("batch_size"), measured.get("grad_accum"), measured.get("max_length")) == (
            t.batch_size, t.grad_accum, t.max_length)
        m_tps = measured.get("tokens_per_step")
        if same_shape or not m_tps:
            per_step = measured["seconds_per_step"]
            how = f"{measured['seconds_per_step']:.3g} s per step"
        else:
            per_step = measured["seconds_per_step"] * tokens_per_step / m_tps
            how = f"{measured['seconds_per_step']:.3g} s per step at {m_tps:,.0f} tokens per step, scaled to {tokens_per_step:,.0f}"
        train_s = steps * per_step
        if measured.get("overhead_seconds") is not None:
            overhead_s = measured["overhead_seconds"]
        what = "a dry run" if measured.get("kind") == "dry run" else "a completed run"
        assumptions.insert(0, f"Time measured: {how} in {what} on {flavor.name} ({measured.get('recorded_at', '?')}); "
                              "it replaces the prior model")
    seconds = train_s + overhead_s + eval_s
    training_only = train_s - gen_s if time_source == "prior" else train_s
    time_breakdown = {"training": round(training_only, 2),
                      "generation": round(gen_s if time_source == "prior" else 0.0, 2),
                      "startup_and_saving": round(overhead_s, 2), "evaluation": round(eval_s, 2)}
    cost_usd = seconds / 3600 * usd_per_hour
    assumptions.append(f"${usd_per_hour:.2f}/hour ({price_source})")

    breakdown = estimate_memory(facts, precision, trainable, lora, t.batch_size, seq_mem, ckpt, quantization, cost,
                                gen_batch, flavor.is_gpu, **mem_kw)
    memory = round(sum(breakdown.values()), 2)
    memory_source = "prior"
    if (measured and measured.get("peak_memory_gb") and flavor.is_gpu
            and (measured.get("batch_size"), measured.get("max_length"), measured.get("gradient_checkpointing"))
            == (t.batch_size, t.max_length, bool(ckpt))):
        memory, memory_source = round(float(measured["peak_memory_gb"]), 2), "measured"
        assumptions.insert(0, f"Memory measured: {memory:.2f} GB peak reserved in a run of the same shape on {flavor.name}")
    available = flavor.device_memory_gb
    needed = memory + (GPU_CONTEXT_GB if flavor.is_gpu else 0.0)
    verdict = "fits" if needed <= FITS_BELOW * available else ("tight" if needed <= available else "does not fit")
    if mode == "qlora" and not flavor.is_gpu:
        verdict = "does not fit"
        assumptions.append("QLoRA's 4-bit loading needs an NVIDIA GPU: it cannot run on a CPU flavor")
    where = "per GPU (each GPU holds a full copy)" if gpus > 1 else "of GPU memory" if flavor.is_gpu else "of RAM"
    assumptions.append(f"Memory {where}: " + ", ".join(f"{k.replace('_', ' ')} {v:.2f} GB" for k, v in breakdown.items() if v)
                       + f" (peak reserved, longest batch {t.batch_size} x {seq_mem:.0f} tokens)"
                       + (f", plus {GPU_CONTEXT_GB:g} GB CUDA context" if flavor.is_gpu else "")
                       + f"; {'with' if ckpt else 'no'} gradient checkpointing; 'tight' above {FITS_BELOW:.0%}")
    est = Estimate(seconds=round(seconds, 1), cost_usd=cost_usd, gpu_memory_gb=memory, fits=verdict != "does not fit",
                   verdict=verdict, params=facts.params, trainable_params=trainable, assumptions=assumptions,
                   time_source=time_source, memory_source=memory_source, precision=precision, memory_breakdown=breakdown,
                   time_breakdown=time_breakdown, seconds_per_step=round(training_only / steps, 4) if steps else None,
                   step_breakdown=step_parts, **base)
    if compare and flavor.is_gpu:
        other = estimate_run(config, rows, mean_tokens, flavor.name, token_source, quantization=quantization,
                             gradient_checkpointing=not ckpt, eval_rows=eval_rows, evals=evals, use_measurements=False,
                             suggest=False, prices=live or False, calibration=calibration, padding=padding,
                             longest_tokens=longest_tokens, token_stats=token_stats, compare=False)
        on, off = (est, other) if ckpt else (other, est)
        est.choices["gradient_checkpointing"] = {
            "chosen": bool(ckpt),
            "on": {"seconds": on.seconds, "cost_usd": on.cost_usd, "gpu_memory_gb": on.gpu_memory_gb, "verdict": on.verdict},
            "off": {"seconds": off.seconds, "cost_usd": off.cost_usd, "gpu_memory_gb": off.gpu_memory_gb, "verdict": off.verdict}}
        if on.seconds and off.seconds:
            assumptions.append(f"Gradient checkpointing {'on' if ckpt else 'off'}: with it on {plain_duration(on.seconds)} "
                               f"and {on.gpu_memory_gb:.1f} GB, off {plain_duration(off.seconds)} and {off.gpu_memory_gb:.1f} GB "
                               f"({'does not fit' if off.verdict == 'does not fit' else 'fits' if off.verdict == 'fits' else off.verdict} off)")
    if suggest and verdict == "does not fit":
        est.fix = suggest_fix(config, rows, mean_tokens, flavor.name, token_source, quantization=quantization,
                              gradient_checkpointing=ckpt, prices=live, longest_tokens=longest_tokens, token_stats=token_stats)
    est.summary = plain_summary(est)
    return est


# --- when it does not fit ----------------------------------------------------------------------


def _variant(config: RunConfig, **train) -> RunConfig:
    import copy

    c = copy.deepcopy(config)
    for k, v in train.items():
        if k == "lora":
            c.lora.enabled = v
        else:
            setattr(c.train, k, v)
    return c


def _fix_candidates(config: RunConfig, quantization: str | None, gradient_checkpointing: bool) -> list[tuple[str, RunConfig, dict]]:
    """Setting changes in order of how little they change the result: same maths first, then fewer trained weights."""
    t = config.train
    effective = t.batch_size * t.grad_accum
    batches, b = [], t.batch_size // 2
    while b >= 1:
        batches.append(b)
        b //= 2
    shapes = [("", {})] + [(f"batch size {b} with gradient accumulation {math.ceil(effective / b)} "
                            f"(same effective batch of {b * math.ceil(effective / b)})",
                            {"batch_size": b, "grad_accum": math.ceil(effective / b)}) for b in batches]
    ckpts = [gradient_checkpointing] if gradient_checkpointing else [False, True]
    modes: list[tuple[str, bool, str | None]] = [("", config.lora.enabled, quantization)]
    if not config.lora.enabled and quantization != "4bit":
        modes.append(("LoRA instead of full fine-tuning", True, None))
    if quantization != "4bit":
        modes.append(("QLoRA (4-bit base model)", True, "4bit"))
    out = []
    for mode_text, lora, quant in modes:
        for ckpt in ckpts:
            for shape_text, changes in shapes:
                ckpt_text = "gradient checkpointing" if ckpt and not gradient_checkpointing else ""
                text = " and ".join(x for x in (mode_text, ckpt_text, shape_text) if x)
                if text:
                    out.append((text, _variant(config, lora=lora, **changes), {"gradient_checkpointing": ckpt, "quantization": quant}))
    return out


def suggest_fix(config: RunConfig, rows: int, mean_tokens: float, hardware: str, token_source: str = "",
                *, quantization: str | None = None, gradient_checkpointing: bool = False, prices=None,
                longest_tokens: float | None = None, token_stats: dict | None = None) -> dict | None:
    """The cheapest change that fits, found by re-running the estimate with each change applied.

    On this hardware: a smaller per-device batch with more accumulation (same effective batch, same result),
    gradient checkpointing, both; the cheapest of those that fit wins. Failing those, the cheapest of: LoRA instead
    of full, QLoRA (alone or with the former), and the same run on a larger flavor. Failing that, the cheapest
    (flavor, change) pair. Returns {"change", "hardware", "seconds", "cost_usd", "gpu_memory_gb", "verdict",
    "settings", "alternatives"} (alternatives: up to two runners-up, same fields) or None when nothing fits.
    """
    candidates = _fix_candidates(config, quantization, gradient_checkpointing)

    def result(text: str, est: Estimate, variant: RunConfig, kw: dict) -> dict:
        settings = {"batch_size": variant.train.batch_size, "grad_accum": variant.train.grad_accum, "lora": variant.lora.enabled,
                    "gradient_checkpointing": kw.get("gradient_checkpointing", gradient_checkpointing),
                    "quantization": kw.get("quantization", quantization)}
        return {"change": text, "hardware": est.hardware, "seconds": est.seconds, "cost_usd": est.cost_usd,
                "gpu_memory_gb": est.gpu_memory_gb, "verdict": est.verdict, "settings": settings}

    def run(variant: RunConfig, name: str, kw: dict) -> Estimate:
        kw = {"quantization": quantization, "gradient_checkpointing": gradient_checkpointing, **kw}
        return estimate_run(variant, rows, mean_tokens, name, token_source, suggest=False, prices=prices,
                            longest_tokens=longest_tokens, token_stats=token_stats, compare=False, **kw)

    def best_of(found: list[tuple[Estimate, dict]]) -> dict | None:
        if not found:
            return None
        found.sort(key=lambda pair: (pair[0].cost_usd, pair[0].seconds))
        top = found[0][1]
        top["alternatives"] = [r for _, r in found[1:3]]
        return top

    same_maths, other = [], []
    for text, variant, kw in candidates:
        est = run(variant, hardware, kw)
        if est.fits:
            keeps = kw.get("quantization") == quantization and variant.lora.enabled == config.lora.enabled
            (same_maths if keeps else other).append((est, result(text, est, variant, kw)))
    if same_maths:
        return best_of(same_maths)
    bigger = cheapest_fitting([run(config, name, {}) for name in CATALOGUE])
    if bigger is not None:
        other.append((bigger, result(f"a bigger machine: {bigger.hardware_label} ({bigger.hardware})", bigger, config, {})))
    if other:
        return best_of(other)
    options = []
    for text, variant, kw in candidates:
        est = cheapest_fitting([run(variant, name, kw) for name in CATALOGUE])
        if est is not None:
            options.append((est, result(f"{text} on {est.hardware_label} ({est.hardware})", est, variant, kw)))
    return best_of(options)


def cheapest_fitting(estimates: list[Estimate]) -> Estimate | None:
    """The estimate that fits (or is tight) at the lowest cost; ties go to the faster one."""
    fitting = [e for e in estimates if e.fits and e.cost_usd is not None]
    return min(fitting, key=lambda e: (e.cost_usd, e.seconds)) if fitting else None


# --- words -------------------------------------------------------------------------------------


def plain_duration(seconds: float) -> str:
    minutes = seconds / 60
    if seconds < 90:
        return f"about {seconds:.0f} seconds"
    if minutes < 90:
        return f"about {minutes:.0f} minutes"
    if minutes < 48 * 60:
        return f"about {minutes / 60:.1f} hours"
    return f"about {minutes / 60 / 24:.1f} days"


def plain_cost(cost_usd: float) -> str:
    return "free" if cost_usd == 0 else "under $0.01" if cost_usd < 0.01 else f"about ${cost_usd:,.2f}"


def plain_summary(est: Estimate) -> str:
    if est.seconds is None:
        return est.summary
    where = est.hardware_label
    if est.current:
        where = f"this Space's {where}" if "SPACE_HARDWARE" in est.hardware_source else f"this machine ({where})"
    when = plain_duration(est.seconds) + (" (measured on this hardware)" if est.time_source == "measured" else " (prior)")
    unit = "of RAM" if not CATALOGUE[est.hardware].is_gpu else "per GPU" if CATALOGUE[est.hardware].gpu_count > 1 else "of GPU memory"
    text = (f"{when}, {plain_cost(est.cost_usd)} on {where}; needs about {est.gpu_memory_gb:.1f} GB "
            f"of {est.available_memory_gb:g} GB {unit} ({est.verdict}).")
    if est.fix:
        text += f" It fits with {est.fix['change']}: {plain_duration(est.fix['seconds'])}, {plain_cost(est.fix['cost_usd'])}."
    elif est.verdict == "does not fit":
        text += " No flavor in the catalogue fits it; pick a smaller model."
    return text


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


def dataset_tokens(config: RunConfig, report=None) -> tuple[int, float, str, object]:
    """(rows, mean tokens per example, where the mean comes from, validation report). Token counts come
    from the model's tokenizer when it loads, else about 4 characters per token."""
    from training.data.formats import record_text
    from training.data.validation import validate_dataset
    from training.models.loading import ModelLoadError, load_tokenizer

    d = config.data
    if report is None or report.token_stats is None:
        try:
            tokenizer = load_tokenizer(config.model.name_or_path, config.model.trust_remote_code)
        except ModelLoadError:
            tokenizer = None
        report = validate_dataset(d.source, config.method, split=d.split, subset=d.subset, column_map=d.column_map,
                                  max_rows=d.max_rows, tokenizer=tokenizer, max_length=config.train.max_length)
    if report.token_stats:
        mean, source = report.token_stats["mean_tokens"], "measured with the model's tokenizer"
    elif report.normalised:
        sample = report.normalised[:2000]
        mean = sum(len(record_text(r)) for r in sample) / len(sample) / 4
        source = "guessed as 4 characters per token: the tokenizer could not be loaded"
    else:
        mean, source = 256.0, "dataset unreadable: assumed 256"
    return report.usable_rows or 1000, mean, source, report


def padding_from_stats(report) -> float | None:
    """Batches pad to their longest example: with token statistics, at most max/mean (capped at the default)."""
    stats = getattr(report, "token_stats", None)
    if not stats or not stats.get("mean_tokens") or not stats.get("max_tokens"):
        return None
    return max(1.0, min(PADDING_FACTOR, stats["max_tokens"] / stats["mean_tokens"]))


def longest_from_stats(report) -> float | None:
    """The longest example's tokens (memory peaks at the longest batch), when the dataset's token statistics have it."""
    stats = getattr(report, "token_stats", None)
    longest = (stats or {}).get("max_tokens")
    return float(longest) if isinstance(longest, (int, float)) and longest > 0 else None


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
