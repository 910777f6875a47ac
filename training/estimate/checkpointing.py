"""gradient_checkpointing=auto on this machine: the hardware the recipe resolves a run on, plus whether the memory
model says the run fits in this GPU without checkpointing, with headroom (then auto turns it off: 2-3x faster steps
on the H100 grid). The longest batch is taken at max_length tokens (no dataset statistics at start: the safe side)."""

from __future__ import annotations

from training.config.schema import RunConfig
from training.estimate.memory import GPU_CONTEXT_GB, estimate_memory
from training.estimate.method_costs import method_cost
from training.hosting.machine import local_hardware
from training.models.facts import lora_trainable, model_facts
from training.recipe.resolve import resolve_precision

FITS_BELOW = 0.85  # of the GPU's memory, as the estimate's verdict "fits" (quote.FITS_BELOW)


def fits_without_checkpointing(config: RunConfig, memory_gb: float, bf16: bool, longest_tokens: float | None = None,
                               quantization: str | None = None) -> bool | None:
    """Whether the run's peak reserved memory without checkpointing (plus the CUDA context) stays under FITS_BELOW of
    `memory_gb` (GB); None for a model of unknown size. The estimate and the engine both ask this, with the longest
    batch at max_length, so the run resolves auto as its quote did."""
    facts = model_facts(config.model.name_or_path)
    if facts is None or not memory_gb:
        return None
    t = config.train
    precision, _ = resolve_precision(t.precision, {"accelerator": "cuda", "bf16": bf16})
    if quantization is None and config.lora.enabled and config.lora.quantization == "4bit":
        quantization = "4bit"
    lora = bool(config.lora.enabled) or quantization == "4bit"
    trainable = lora_trainable(facts, config.lora.r, config.lora.target_modules) if lora else facts.params
    seq = min(float(t.max_length), longest_tokens) if longest_tokens else float(t.max_length)
    parts = estimate_memory(facts, precision, trainable, lora, t.batch_size, seq, False, quantization,
                            method_cost(config.method, config.method_args, facts), t.batch_size * t.grad_accum, True,
                            optimizer=t.optimizer, target=config.lora.target_modules, dropout=config.lora.dropout)
    return sum(parts.values()) + GPU_CONTEXT_GB <= FITS_BELOW * memory_gb


def run_hardware(config: RunConfig) -> dict:
    """local_hardware(), with fits_without_checkpointing on a CUDA machine when checkpointing is auto. Never raises."""
    hardware = local_hardware()
    if hardware.get("accelerator") != "cuda" or config.train.gradient_checkpointing != "auto":
        return hardware
    try:
        fits = fits_without_checkpointing(config, (hardware.get("memory_gb") or 0) * 2**30 / 1e9, bool(hardware.get("bf16")))
    except Exception:  # noqa: BLE001 - without an answer, auto keeps checkpointing on (the safe side)
        fits = None
    if fits is not None:
        hardware["fits_without_checkpointing"] = fits
    return hardware
