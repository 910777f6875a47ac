"""Adapter modes as the UI shows them: the target-module preset, and why QLoRA cannot run here.

`qlora_unavailable_reason()` says in plain words why QLoRA (LoRA on a 4-bit base, NVIDIA GPU only) cannot run
here (the UI disables it with that text; the CLI refuses with it). The LoRA and 4-bit settings a run really
uses are resolved in training/recipe/.
"""

from __future__ import annotations

import importlib.util


def target_preset(target_modules: str) -> str:
    """The preset a target_modules string corresponds to: all-linear, attention or custom."""
    value = (target_modules or "").strip()
    return value if value in ("all-linear", "attention") else "custom"


def qlora_unavailable_reason() -> str | None:
    """Why QLoRA cannot run on this machine, or None when it can."""
    from training.hosting.machine import has_cuda

    if not has_cuda():
        return ("QLoRA needs an NVIDIA GPU (bitsandbytes 4-bit); this machine has none. Use LoRA (--peft lora) "
                "or full fine-tuning (--peft full) here, or run on a GPU Space.")
    if importlib.util.find_spec("bitsandbytes") is None:
        return "QLoRA needs the bitsandbytes package, which is not installed: pip install bitsandbytes."
    return None
