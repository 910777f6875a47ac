"""GPU (or CPU) memory of one training process at its peak, part by part, from first principles: what PyTorch's CUDA
allocator reserves (where an out-of-memory error happens), checked against an H100 grid in
tests/unit/test_estimate_gpu_grid.py."""

from __future__ import annotations

from training.estimate.method_costs import METHOD_COSTS, MethodCost
from training.models.facts import ModelFacts

CPU_RUNTIME_GB = 1.5  # Python, torch and the app in RAM


# --- memory (peak reserved by PyTorch's CUDA allocator; checked against an H100 grid in tests/unit/test_estimate_gpu_grid.py)
# Bytes each optimizer keeps per trainable parameter, in units of the parameter's own size (torch keeps AdamW moments
# in the parameter's dtype); 8-bit AdamW: two 1-byte states (quoted as 2 bytes), adafactor (no momentum by default,
# factored second moment) and plain SGD: about nothing.
OPTIMIZER_STATE_BYTES = {"adamw_torch": ("x", 2), "adamw_torch_fused": ("x", 2), "adamw_bnb_8bit": ("b", 2),
                         "paged_adamw_8bit": ("b", 2), "adafactor": ("b", 0), "sgd": ("b", 0)}
# TRL 1.16 computes the loss of SFT, DPO, KTO, GRPO and RLOO with a chunked LM head (trl.kernels.chunked_logprob):
# (up to 4,096 tokens) x (32,768 vocabulary entries) logit tiles, never the full (batch x seq x vocab) logits.
LM_HEAD_TOKEN_TILE, LM_HEAD_VOCAB_TILE = 4096, 32768
# PyTorch's caching allocator reserves more than it allocates (1.06-1.30x on the H100 grid), and the more so the more
# the batch shapes vary from step to step. Weights, gradients and optimizer states are allocated once in the same
# sizes and add no slack; activations and LM-head buffers, reallocated each step in new sizes, do. This factor on
# them, and a fixed base the allocator reserves whatever the run (cuBLAS workspaces, its pools of small blocks: what
# makes the smallest run, q05 LoRA b2 x 512, reserve 12 % over its allocation), are the model's two fitted constants,
# fitted on half the grid (the even rows), checked on the other half (tests/unit/test_estimate_gpu_grid.py).
RESERVED_OVER_ALLOCATED = 1.16
ALLOCATOR_BASE_GB = 0.25
GPU_CONTEXT_GB = 0.5  # CUDA context and kernels: outside PyTorch's allocator, counted when checking the fit


def activation_bytes_per_token(facts: ModelFacts, precision: str, lora: bool, target: str = "all-linear",
                               dropout: float = 0.05) -> tuple[float, float]:
    """(bytes one decoder layer keeps for backward per token, bytes of its input), counted from what autograd saves
    in a Llama/Qwen-style layer under autocast with SDPA attention (memory-efficient kernel: no seq x seq scores).

    Each RMSNorm keeps its fp32 upcast (4h); SDPA keeps q, k, v (GQA heads repeated when there is a padding mask) and
    its output; the SwiGLU MLP keeps gate, SiLU(gate) and up. Full fine-tuning also keeps every linear layer's input
    (the norms' outputs, the attention output and the MLP product); a frozen base keeps none, but each LoRA adapter
    keeps its own input and dropout mask."""
    e = 2 if precision in ("bf16", "fp16") else 4
    h, inter, aw = facts.hidden, facts.mlp, facts.attention_width
    per = 2 * 4 * h + 4 * aw * e + 3 * inter * e
    if lora:
        adapted = 3 * h + aw + (2 * h + inter if target != "attention" else 0)
        per += adapted * (e + (1 if dropout else 0))
    else:
        per += 2 * 2 * h * e + aw * e + inter * e
    return per, h * e


def estimate_memory(facts: ModelFacts, precision: str, trainable: float, lora: bool, batch: int, seq: float,
                    gradient_checkpointing: bool = False, quantization: str | None = None,
                    cost: MethodCost | None = None, gen_batch: int = 0, gpu: bool = True, *,
                    optimizer: str = "adamw_torch_fused", target: str = "all-linear", dropout: float = 0.05,
                    chunked_head: bool = True) -> dict[str, float]:
    """GB per part at the peak of one training process (one GPU's share under data parallelism). `seq` is the padded
    length of the longest batch. On a GPU the parts sum to PyTorch's peak *reserved* memory (what an out-of-memory
    error is checked against; the CUDA context comes on top); on a CPU to the process's RAM."""
    cost = cost or METHOD_COSTS["sft"]
    # The engine loads bf16 weights for bf16, fp32 weights for fp16 (mixed precision keeps fp32 masters) and fp32.
    w_bytes = 2 if precision == "bf16" else 4
    e = 2 if precision in ("bf16", "fp16") else 4
    if quantization == "4bit":
        weights = (facts.params - facts.embedding_params) * 0.53 + facts.embedding_params * 2  # NF4 + scales; embeddings 16-bit
    else:
        weights = facts.params * w_bytes
    if cost.reference_copy and not lora:
        weights *= 2  # a frozen reference model (LoRA uses the base with adapters disabled instead)
    weights += cost.teacher_params * w_bytes  # a distillation teacher, loaded in the run's precision
    # LoRA adapters train in fp32 (PEFT's autocast_adapter_dtype); TRL casts QLoRA adapters to bf16
    t_bytes = (2 if precision == "bf16" else 4) if quantization == "4bit" else 4 if lora else w_bytes
    grads = trainable * t_bytes
    kind, states = OPTIMIZER_STATE_BYTES.get(optimizer, ("x", 2))
    optimizer_bytes = trainable * states * (t_bytes if kind == "x" else 1)
    tokens = batch * cost.sequences_per_row * seq  # tokens of the longest batch
    per_layer, layer_input = activation_bytes_per_token(facts, precision, lora, target, dropout)
    if gradient_checkpointing:  # each layer's input is kept; one layer at a time is recomputed for its backward
        kept, recomputed = tokens * facts.layers * layer_input, tokens * per_layer
    else:
        kept, recomputed = tokens * facts.layers * per_layer, 0.0
    activations = kept + recomputed
    # The backward pass frees each layer's saved activations as it writes that layer's gradients, so the peak holds
    # max(kept activations, gradients), not their sum: only the gradients beyond the activations count.
    grads -= min(grads, kept)
    if chunked_head:  # logit tiles, the fp32 gradient of the last hidden states, and the LM head's fp32 gradient
        logits = min(tokens, LM_HEAD_TOKEN_TILE) * min(facts.vocab, LM_HEAD_VOCAB_TILE) * e + tokens * facts.hidden * 4
        logits += 0 if lora else facts.vocab * facts.hidden * 4
    else:  # full logits, their fp32 copy for the loss, and its gradient
        logits = tokens * facts.vocab * (e + 8)
    kv_cache = 0.0
    if cost.generations_per_prompt:
        kv_width = (facts.kv_heads * facts.head_dim) or facts.hidden
        kv_cache = 2 * facts.layers * kv_width * (seq + cost.completion_tokens) * gen_batch * e
    parts = {"weights": weights, "gradients": grads, "optimizer": optimizer_bytes, "activations": activations,
             "logits": logits, "generation_kv_cache": kv_cache}
    if gpu:
        parts["allocator_cache"] = (activations + logits + kv_cache) * (RESERVED_OVER_ALLOCATED - 1) + ALLOCATOR_BASE_GB * 1e9
    else:
        parts["runtime"] = CPU_RUNTIME_GB * 1e9
    return {k: round(v / 1e9, 3) for k, v in parts.items()}


def estimate_memory_gb(facts: ModelFacts, trainable: float, precision: str, batch: int, seq: float, lora: bool,
                       gradient_checkpointing: bool = False, quantization: str | None = None) -> float:
    return sum(estimate_memory(facts, precision, trainable, lora, batch, seq, gradient_checkpointing, quantization).values())
