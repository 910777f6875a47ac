"""When a run does not fit: the cheapest change that fits, found by re-running the estimate with each change applied
(a smaller batch with more accumulation, gradient checkpointing, LoRA, QLoRA, a bigger machine)."""

from __future__ import annotations

import math

from training.config.schema import RunConfig
from training.estimate.hardware import CATALOGUE
from training.estimate.result import Estimate


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
                longest_tokens: float | None = None, token_stats: dict | None = None, estimate_run=None) -> dict | None:
    """The cheapest change that fits, found by re-running the estimate (`estimate_run`, quote.py's, passed in so
    that this module does not import the one that imports it) with each change applied.

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
