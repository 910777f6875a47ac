"""Seconds per optimizer step on a GPU: first-principles work (FLOPs, element-wise memory traffic, kernel
dispatch) priced at the rates a GPU kind really achieves, fitted on the shared H100 grid
(tests/fixtures/calibration/h100-grid.jsonl; refit with `python bench/gpu_estimate.py --fit FILE`).

A step is the sum of a throughput part and a latency part:
- throughput: FLOPs per token (2N forward; backward 4N for full fine-tuning, 2N with a frozen base; +2N forward
  again under gradient checkpointing; 2N per reference-model pass) plus attention over the padded length, at an
  achieved share of the dense peak, and the element-wise traffic of the saved activations at an achieved share of
  the memory bandwidth;
- latency: what the host spends dispatching small kernels. Small models are latency-bound: an H100 ran Qwen2.5-0.5B
  LoRA at 4k tokens per step and at 11k tokens in nearly the same time. Measured costs: a fixed cost per micro-batch
  (optimizer, collation, TRL's per-step metric syncs, the base model's kernels), LoRA adapters per decoder layer,
  and gradient checkpointing per layer (its hooks and re-dispatch), which with LoRA also grows with the tokens.
Token-by-token generation (GRPO, RLOO) is latency-bound too: a forward pass per generated token, with no backward.
"""

from __future__ import annotations

from dataclasses import dataclass

from training.models.facts import ModelFacts


@dataclass(frozen=True)
class AchievedRates:
    """What one GPU kind achieves in training; `source` says whether the figures were fitted or are a prior."""

    matmul_share: float  # of the dense bf16/fp16 peak, on the model's matmuls (the FLOP-bound regime)
    bandwidth_share: float  # of the memory bandwidth, on element-wise work over saved activations
    micro_batch_s: float  # per forward+backward of one micro-batch: optimizer, collation, metric syncs, base kernels
    lora_layer_s: float  # per decoder layer and micro-batch: the LoRA adapters' extra small kernels
    checkpoint_layer_s: float  # per decoder layer and micro-batch: gradient checkpointing's hooks and re-dispatch
    checkpoint_lora_token_layer_s: float  # per token and decoder layer: checkpointing with LoRA adapters
    decode_layer_s: float  # per decoder layer and generated token: one forward step's kernels (no backward)
    decode_lora_layer_s: float  # per decoder layer and generated token: unmerged LoRA adapters
    decode_token_s: float  # per generated token: sampling, stopping checks, cache bookkeeping
    source: str


# Fitted (`python bench/gpu_estimate.py --fit`) on the 13 rows of the shared H100 grid plus the one facts.md adds
# (q05 LoRA b16 x 1024 with checkpointing, 0.70 s/step): latency constants by least squares on relative error, the
# two shares chosen on a small grid by leave-one-out error (median 9 %, worst 30 %; fit median 6 %, worst 24 %).
# The decode figures are a prior (no generation rows in the grid): issue 14 reports GRPO's generation took about 8x
# the old estimate (20 ms per token for q05), i.e. 100-160 ms per generated token; HF generate in eager mode, with
# unmerged LoRA adapters (dropout active: TRL generates in train mode), a DynamicCache and a stop check that syncs
# every token, costs about 2 ms per layer and token, LoRA about 3 ms more, plus about 12 ms per token: 120 ms for
# q05 LoRA. Replace them with a fit when GRPO rows are measured (bench/gpu_estimate.py).
H100_FIT = AchievedRates(matmul_share=0.60, bandwidth_share=0.75, micro_batch_s=0.0783, lora_layer_s=0.00451,
                         checkpoint_layer_s=0.00772, checkpoint_lora_token_layer_s=0.56e-6, decode_layer_s=0.0018,
                         decode_lora_layer_s=0.0027, decode_token_s=0.012,
                         source="fitted on 14 H100 runs (tests/fixtures/calibration/h100-grid.jsonl)")
_PRIOR = "prior (not measured on this GPU): H100 latencies, "
# The host-side latencies are those of the H100's host; other GPUs get them too, with their own peak and bandwidth
# at the shares below (typical of eager PyTorch training on each; not measured here).
RATES: dict[str, AchievedRates] = {
    "H100": H100_FIT,
    "H200": AchievedRates(**{**H100_FIT.__dict__, "source": "H100 fit (same compute; more bandwidth)"}),
    "A100": AchievedRates(**{**H100_FIT.__dict__, "matmul_share": 0.60, "source": _PRIOR + "60 % of the matmul peak"}),
    "L40S": AchievedRates(**{**H100_FIT.__dict__, "matmul_share": 0.50, "source": _PRIOR + "50 % of the matmul peak"}),
    "A10G": AchievedRates(**{**H100_FIT.__dict__, "matmul_share": 0.50, "source": _PRIOR + "50 % of the matmul peak"}),
    "L4": AchievedRates(**{**H100_FIT.__dict__, "matmul_share": 0.50, "source": _PRIOR + "50 % of the matmul peak"}),
    "T4": AchievedRates(**{**H100_FIT.__dict__, "matmul_share": 0.45, "bandwidth_share": 0.6,
                           "source": _PRIOR + "45 % of the fp16 matmul peak"}),
}


def rates_for(gpu: str | None) -> AchievedRates:
    return RATES.get(gpu or "", RATES["A100"])


def training_flops_per_token(facts: ModelFacts, lora: bool, checkpointing: bool, padded_len: float,
                             reference_forwards: float = 0.0) -> float:
    """FLOPs per (padded) token of one optimizer pass: forward 2N, backward 4N (full) or 2N (frozen base: gradients
    of the inputs only), +2N when checkpointing recomputes the forward, 2N per reference-model pass; attention adds
    4 x length x width per layer and forward (the padding mask keeps the kernel from skipping the causal half)."""
    n = facts.compute_params
    passes = 1 + (1 if lora else 2) + (1 if checkpointing else 0)
    attention = 4 * padded_len * facts.attention_width * facts.layers
    return passes * (2 * n + attention) + reference_forwards * (2 * n + attention)


def step_seconds(facts: ModelFacts, rates: AchievedRates, *, peak_tflops: float, bandwidth_gbs: float, lora: bool,
                 checkpointing: bool, sequences: float, padded_len: float, micro_batches: int = 1,
                 reference_forwards: float = 0.0, activation_bytes_per_token_layer: float = 0.0,
                 quantized: bool = False) -> dict[str, float]:
    """Seconds of one optimizer step on one GPU, by part: {"compute", "memory_traffic", "dispatch", "lora",
    "checkpointing", "dequantization"}. `sequences` are those of one micro-batch (chosen and rejected both count), each padded to
    `padded_len` tokens; `micro_batches` is the gradient accumulation."""
    tokens = sequences * padded_len
    flops = tokens * training_flops_per_token(facts, lora, checkpointing, padded_len, reference_forwards)
    compute = flops / (peak_tflops * 1e12 * rates.matmul_share)
    # saved activations are written in the forward and read in the backward
    traffic = 2 * tokens * facts.layers * activation_bytes_per_token_layer * (1.5 if checkpointing else 1.0)
    memory = traffic / (bandwidth_gbs * 1e9 * rates.bandwidth_share) if bandwidth_gbs else 0.0
    lora_s = rates.lora_layer_s * facts.layers if lora else 0.0
    ckpt_s = 0.0
    if checkpointing:
        ckpt_s = rates.checkpoint_layer_s * facts.layers
        if lora:
            ckpt_s += rates.checkpoint_lora_token_layer_s * tokens * facts.layers
    dequant = 0.0
    if quantized:  # each pass over a 4-bit layer reads 0.5 B/weight, writes and reads back a 16-bit copy (4.5 B)
        passes = 2 + (1 if checkpointing else 0) + reference_forwards
        dequant = passes * (facts.params - facts.embedding_params) * 4.5 / (bandwidth_gbs * 1e9 * rates.bandwidth_share)
    parts = {"compute": compute, "memory_traffic": memory, "dispatch": rates.micro_batch_s, "lora": lora_s,
             "checkpointing": ckpt_s, "dequantization": dequant}
    return {k: v * micro_batches for k, v in parts.items()}


def forward_seconds(facts: ModelFacts, rates: AchievedRates, *, peak_tflops: float, lora: bool, tokens: float,
                    padded_len: float) -> float:
    """One no-grad forward pass over `tokens` (evaluation, prefill): a third of a training step's latency."""
    flops = tokens * (2 * facts.compute_params + 4 * padded_len * facts.attention_width * facts.layers)
    latency = (rates.micro_batch_s + (rates.lora_layer_s * facts.layers if lora else 0.0)) / 3
    return flops / (peak_tflops * 1e12 * rates.matmul_share) + latency


def decode_token_seconds(facts: ModelFacts, rates: AchievedRates, *, peak_tflops: float, bandwidth_gbs: float,
                         lora: bool, batch: int, context: float, weight_bytes: float, kv_bytes_per_token: float) -> float:
    """Seconds per generated token of a batch of `batch` sequences: the larger of streaming the weights and KV cache
    (bandwidth) and the matmuls (compute), plus the per-layer kernel latency that dominates small models."""
    stream = (weight_bytes + kv_bytes_per_token * context * batch) / (bandwidth_gbs * 1e9 * rates.bandwidth_share)
    compute = 2 * facts.compute_params * batch / (peak_tflops * 1e12 * rates.matmul_share)
    latency = facts.layers * (rates.decode_layer_s + (rates.decode_lora_layer_s if lora else 0.0)) + rates.decode_token_s
    return max(stream, compute) + latency
