"""Adapter modes: LoRA (with rsLoRA/DoRA), QLoRA (LoRA on a 4-bit base, NVIDIA GPU only) and full fine-tuning.

`qlora_unavailable_reason()` says in plain words why QLoRA cannot run here (the UI disables it with
that text; the CLI refuses with it). peft and bitsandbytes are imported only when a config is built.
"""

from __future__ import annotations

import importlib.util

from training.config.schema import RunConfig

ATTENTION_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]


def lora_target_modules(spec: str) -> str | list[str]:
    spec = spec.strip()
    if spec == "all-linear":
        return "all-linear"
    if spec == "attention":
        return list(ATTENTION_MODULES)
    return [m.strip() for m in spec.split(",") if m.strip()]


def target_preset(target_modules: str) -> str:
    """The preset a target_modules string corresponds to: all-linear, attention or custom."""
    value = (target_modules or "").strip()
    return value if value in ("all-linear", "attention") else "custom"


def qlora_unavailable_reason() -> str | None:
    """Why QLoRA cannot run on this machine, or None when it can."""
    from training.estimate.hardware import has_cuda

    if not has_cuda():
        return ("QLoRA needs an NVIDIA GPU (bitsandbytes 4-bit); this machine has none. Use LoRA (--peft lora) "
                "or full fine-tuning (--peft full) here, or run on a GPU Space.")
    if importlib.util.find_spec("bitsandbytes") is None:
        return "QLoRA needs the bitsandbytes package, which is not installed: pip install bitsandbytes."
    return None


def build_peft_config(config: RunConfig, task_type: str = "CAUSAL_LM"):
    """The peft LoraConfig for the run, or None for full fine-tuning."""
    if not config.lora.enabled:
        return None
    from peft import LoraConfig

    lo = config.lora
    return LoraConfig(
        r=lo.r,
        lora_alpha=lo.alpha,
        lora_dropout=lo.dropout,
        target_modules=lora_target_modules(lo.target_modules),
        use_rslora=bool(lo.use_rslora),
        use_dora=bool(lo.use_dora),
        task_type=task_type,
    )


def build_quantization_config(config: RunConfig, precision: str):
    """bitsandbytes 4-bit NF4 settings for QLoRA (compute in bf16 where supported, else fp16), or None."""
    if config.lora.quantization != "4bit":
        return None
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if precision == "bf16" else torch.float16,
    )
