"""The time of a run: training steps (GPU: speed.py's step model; CPU: FLOPs at a fitted utilisation plus a fixed
cost per step), GRPO/RLOO's generation, starting and loading the model, checkpoint writes and the final save, and
evaluation passes. A completed run or dry run of the same model, method, LoRA/full and hardware replaces the
modelled seconds per step ("measured"). quote.py builds the run's shape (`RunShape`) and asks `quote_time` for it.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

from training.config.schema import RunConfig
from training.estimate.hardware import Flavor
from training.estimate.memory import activation_bytes_per_token
from training.estimate.method_costs import MethodCost
from training.estimate.speed import decode_token_seconds, forward_seconds, rates_for, step_seconds
from training.estimate.tokens import padded_length
from training.models.facts import ModelFacts

# CPU flavors only (GPU time is speed.py's): the CPU pair was fitted on this project's 2-vCPU AMD EPYC machine with the demo model: about
# 120 ms per step at batch 16 (1,186 tokens) and 36 ms per step at batch 4 give 10 ms fixed per step
# and ~70 GFLOP/s, i.e. 40-45% of the nominal 0.16 TFLOP/s (fp32 matmuls in oneDNN reach that on
# AVX-512). Check with bench/estimate_accuracy.py on an idle machine; a measured run overrides both.
MFU = {"cpu": 0.59}  # cpu: fitted on an idle 2-vCPU machine (bench/estimate_accuracy.py), checkpointing off as resolved
STEP_OVERHEAD_S = {"cpu": 0.010}  # optimizer, data collation, logging, per step
STARTUP_S = {"gpu": 5.0, "cpu": 1.5}  # tokenizer, dataset preparation, trainer construction
# Importing torch, transformers, TRL, peft and datasets, once per process. CPU: the demo's cold `python -m training
# train` spends 5.6-6.5 s between started_at and finished_at outside training on an idle 2-vCPU machine (issue 23:
# 120 steps 13.8 s wall, 7.3 s training; 300 steps 21.9 s, 16.3 s); start-up and loading are STARTUP_S and the load
# rate, the rest is these imports. (15 s before: the quote was twice the real time.) GPU: not measured yet.
IMPORT_S = {"gpu": 20.0, "cpu": 4.5}
LOAD_BYTES_PER_S = 400e6  # reading weights from local disk
DOWNLOAD_BYTES_PER_S = 100e6  # fetching weights from the Hub on first use
MULTI_GPU_SCALING = 0.8  # data-parallel efficiency per extra GPU
PADDING_FACTOR = 1.15  # CPU: batches pad to their longest example (GPU: tokens.padded_length)
GENERATE_TOKEN_OVERHEAD_S = {"cpu": 0.004}  # Python and kernel launches per generated token


@dataclass
class RunShape:
    """What the time and memory of a run depend on, worked out once by quote.estimate_run."""

    config: RunConfig
    facts: ModelFacts
    flavor: Flavor
    cost: MethodCost
    lora: bool
    mode: str  # full, lora or qlora
    precision: str
    checkpointing: bool
    flop_mult: int  # FLOPs per parameter per trained token
    trainable: float
    steps: int
    packing: bool
    prompt_tokens: float  # per example, after truncation
    seq_tokens: float  # prompt plus generated completion
    train_tokens: int
    gen_batch: int
    mean_tokens: float
    save_every: int | None
    token_stats: dict | None = None
    longest_tokens: float | None = None
    padding: float | None = None

    @property
    def kind(self) -> str:
        return "gpu" if self.flavor.is_gpu else "cpu"

    @property
    def gpus(self) -> int:
        return max(1, self.flavor.gpu_count)


@dataclass
class TimeQuote:
    seconds: float
    source: str  # prior or measured
    training_s: float  # the training steps alone (no generation, start-up or evaluation)
    breakdown: dict  # seconds per part
    step_parts: dict = field(default_factory=dict)  # seconds per step by part (GPU flavors)


def cached_locally(name: str) -> bool:
    """Whether the weights are likely on disk already (demo, a folder, or config.json in the Hub cache)."""
    from training.hosting.read_policy import local_path

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


def _gpu_steps(s: RunShape, assumptions: list[str]) -> tuple[float, float, dict, object, float]:
    """(training seconds, generation seconds, seconds per step by part, rates, padded length) on a GPU flavor."""
    t, cost, facts, flavor = s.config.train, s.cost, s.facts, s.flavor
    peak = flavor.peak_tflops(s.precision)
    rates = rates_for(flavor.gpu)
    seqs_micro = t.batch_size * (1 if cost.generations_per_prompt else cost.sequences_per_row)
    if s.packing:
        pad_len = float(t.max_length)
    elif cost.generations_per_prompt:  # prompts padded to the longest; completions run to max_completion_length
        pad_len = min(float(t.max_length), padded_length(s.token_stats, s.mean_tokens, t.max_length, t.batch_size,
                                                         s.longest_tokens)) + cost.completion_tokens
    else:
        pad_len = padded_length(s.token_stats, s.mean_tokens, t.max_length, t.batch_size, s.longest_tokens)
    act_layer = activation_bytes_per_token(facts, s.precision, s.lora, s.config.lora.target_modules, s.config.lora.dropout)[0]
    parts = step_seconds(facts, rates, peak_tflops=peak, bandwidth_gbs=flavor.mem_bandwidth_gbs, lora=s.lora,
                         checkpointing=bool(s.checkpointing), sequences=seqs_micro, padded_len=pad_len,
                         micro_batches=t.grad_accum, reference_forwards=cost.reference_forwards,
                         activation_bytes_per_token_layer=act_layer, quantized=s.mode == "qlora")
    scale = s.gpus / (1 + (s.gpus - 1) * MULTI_GPU_SCALING)  # data-parallel: each GPU's share, with its overhead
    step_parts = {k: round(v * scale, 4) for k, v in parts.items()}
    compute_s = s.steps * sum(parts.values()) * scale
    shown = ", ".join(f"{k.replace('_', ' ')} {v:.3g} s" for k, v in step_parts.items() if v)
    assumptions.append(
        f"{sum(step_parts.values()):.3g} s per step: {shown} "
        f"({t.batch_size} x {cost.sequences_per_row if not cost.generations_per_prompt else 1:g} sequences padded to "
        f"{pad_len:.0f} tokens, x {t.grad_accum} accumulation); rates {rates.source}")
    gen_s = 0.0
    if cost.generations_per_prompt:
        precision = s.precision
        w_bytes = facts.params * (0.53 if s.mode == "qlora" else 2 if precision != "fp32" else 4)
        kv_token = 2 * facts.layers * ((facts.kv_heads * facts.head_dim) or facts.hidden) * (2 if precision != "fp32" else 4)
        per_token_s = decode_token_seconds(facts, rates, peak_tflops=peak, bandwidth_gbs=flavor.mem_bandwidth_gbs,
                                           lora=s.lora, batch=s.gen_batch, context=s.prompt_tokens + cost.completion_tokens / 2,
                                           weight_bytes=w_bytes, kv_bytes_per_token=kv_token)
        prefill_s = forward_seconds(facts, rates, peak_tflops=peak, lora=s.lora, tokens=s.gen_batch * s.prompt_tokens,
                                    padded_len=s.prompt_tokens)
        gen_s = s.steps * (cost.completion_tokens * per_token_s + prefill_s)
        assumptions.append(f"Generation: {cost.completion_tokens} tokens x {s.gen_batch} completions per step at "
                           f"{per_token_s * 1000:.0f} ms per generated token (a forward step per token: kernel "
                           f"latency, or bandwidth/compute when larger), {gen_s:.0f} s in all")
    return compute_s + gen_s, gen_s, step_parts, rates, pad_len


def _cpu_steps(s: RunShape, assumptions: list[str]) -> tuple[float, float]:
    """(training seconds, generation seconds) on a CPU flavor: FLOPs at a fitted utilisation, a fixed cost per step."""
    t, cost, facts, kind = s.config.train, s.cost, s.facts, s.kind
    n = facts.compute_params
    peak = s.flavor.peak_tflops(s.precision)
    pad = (s.padding or PADDING_FACTOR) if t.batch_size > 1 else 1.0
    padded_seq = min(t.max_length + cost.completion_tokens, s.seq_tokens * pad)
    per_token = s.flop_mult * n + s.flop_mult * facts.layers * facts.attention_width * padded_seq
    per_token += 2 * n * cost.reference_forwards
    device_flops = peak * 1e12 * MFU[kind]
    compute_s = s.train_tokens * pad * per_token / device_flops
    step_s = s.steps * STEP_OVERHEAD_S[kind]
    gen_s = 0.0
    if cost.generations_per_prompt:
        weight_bytes = facts.params * (2 if s.precision != "fp32" else 4)
        per_token_s = max(2 * n * s.gen_batch / device_flops, weight_bytes / (s.flavor.mem_bandwidth_gbs * 1e9))
        per_token_s += GENERATE_TOKEN_OVERHEAD_S[kind]
        gen_s = s.steps * (cost.completion_tokens * per_token_s + 2 * n * s.gen_batch * s.prompt_tokens / device_flops)
        assumptions.append(f"Generation: {cost.completion_tokens} tokens x {s.gen_batch} completions per step at "
                           f"{per_token_s * 1000:.0f} ms per token (memory-bandwidth or compute bound), {gen_s:.0f} s in all")
    assumptions.append(f"{peak:g} TFLOP/s {s.precision} peak per machine at {MFU[kind]:.0%} utilisation")
    assumptions.append(f"{STEP_OVERHEAD_S[kind] * 1000:.0f} ms fixed cost per step (optimizer, data, logging); "
                       f"padding adds {pad - 1:.0%} to the tokens computed")
    return compute_s + step_s + gen_s, gen_s


def _startup_and_saving(s: RunShape, assumptions: list[str]) -> float:
    """Seconds to import the libraries (a cold process), start, load (or download) the model, write checkpoints and
    the final save."""
    kind, name = s.kind, s.config.model.name_or_path
    disk_bytes = s.facts.params * (4 if name == "demo" else 2)
    load_s = STARTUP_S[kind] + disk_bytes / LOAD_BYTES_PER_S
    if "trl" not in sys.modules:
        load_s += IMPORT_S[kind]
        assumptions.append(f"{IMPORT_S[kind]:.0f} s to import the training libraries (once per process; less in a warm app)")
    if not cached_locally(name):
        load_s += disk_bytes / DOWNLOAD_BYTES_PER_S
        assumptions.append(f"Downloading {disk_bytes / 1e9:.1f} GB of weights at ~{DOWNLOAD_BYTES_PER_S / 1e6:.0f} MB/s (first use)")
    width = 2 if s.precision != "fp32" else 4
    save_bytes = s.trainable * width
    checkpoint_bytes = s.trainable * (width + 8)
    checkpoints = s.steps // s.save_every if s.save_every else 0  # only checkpoints really written (save_steps <= steps)
    save_s = (save_bytes + checkpoints * checkpoint_bytes) / LOAD_BYTES_PER_S
    assumptions.append(f"{load_s:.0f} s to start and load the model (~{LOAD_BYTES_PER_S / 1e6:.0f} MB/s), "
                       f"{save_s:.0f} s for {checkpoints} checkpoint(s) and the final save")
    return load_s + save_s


def _evaluation(s: RunShape, eval_rows: int, evals: int, rates, pad_len: float, assumptions: list[str]) -> float:
    if not eval_rows:
        assumptions.append("No evaluation set: no evaluation time")
        return 0.0
    t, facts = s.config.train, s.facts
    peak = s.flavor.peak_tflops(s.precision)
    if s.kind == "gpu":
        batches = math.ceil(eval_rows / t.batch_size)
        eval_s = evals * batches * forward_seconds(facts, rates, peak_tflops=peak, lora=s.lora,
                                                   tokens=t.batch_size * s.cost.sequences_per_row * pad_len, padded_len=pad_len)
    else:
        eval_s = evals * eval_rows * s.seq_tokens * 2 * facts.compute_params / (peak * 1e12 * MFU[s.kind])
    assumptions.append(f"Evaluation: {evals} pass(es) x {eval_rows} rows, {eval_s:.0f} s")
    return eval_s


def measured_steps(s: RunShape, measured: dict, assumptions: list[str]) -> tuple[float, float | None]:
    """(training seconds, start-up seconds or None) from a run measured on this hardware; says so first."""
    t = s.config.train
    tokens_per_step = s.train_tokens / s.steps
    same_shape = (measured.get("batch_size"), measured.get("grad_accum"), measured.get("max_length")) == (
        t.batch_size, t.grad_accum, t.max_length)
    m_tps = measured.get("tokens_per_step")
    if same_shape or not m_tps:
        per_step = measured["seconds_per_step"]
        how = f"{measured['seconds_per_step']:.3g} s per step"
    else:
        per_step = measured["seconds_per_step"] * tokens_per_step / m_tps
        how = f"{measured['seconds_per_step']:.3g} s per step at {m_tps:,.0f} tokens per step, scaled to {tokens_per_step:,.0f}"
    what = "a dry run" if measured.get("kind") == "dry run" else "a completed run"
    assumptions.insert(0, f"Time measured: {how} in {what} on {s.flavor.name} ({measured.get('recorded_at', '?')}); "
                          "it replaces the prior model")
    return s.steps * per_step, measured.get("overhead_seconds")


def quote_time(s: RunShape, assumptions: list[str], *, eval_rows: int, evals: int,
               measured: dict | None) -> TimeQuote:
    """The run's seconds, by part; `measured` (calibration.find_measurement's entry) replaces the prior's steps."""
    rates, pad_len, step_parts = None, 0.0, {}
    if s.kind == "gpu":
        train_s, gen_s, step_parts, rates, pad_len = _gpu_steps(s, assumptions)
    else:
        train_s, gen_s = _cpu_steps(s, assumptions)
    overhead_s = _startup_and_saving(s, assumptions)
    eval_s = _evaluation(s, eval_rows, evals, rates, pad_len, assumptions)
    source = "prior"
    if measured:
        source = "measured"
        train_s, measured_overhead = measured_steps(s, measured, assumptions)
        if measured_overhead is not None:
            overhead_s = measured_overhead
    seconds = train_s + overhead_s + eval_s
    training_only = train_s - gen_s if source == "prior" else train_s
    breakdown = {"training": round(training_only, 2), "generation": round(gen_s if source == "prior" else 0.0, 2),
                 "startup_and_saving": round(overhead_s, 2), "evaluation": round(eval_s, 2)}
    return TimeQuote(seconds, source, training_only, breakdown, step_parts)

