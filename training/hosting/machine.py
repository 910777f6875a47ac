"""This machine's hardware, probed in one place: whether a CUDA GPU is usable, and what this process trains on.

Every stage that needs the machine asks here: the models stage (4-bit loading needs a GPU), the recipe (the resolver
takes `local_hardware()`), the estimate (estimate/hardware.py maps it to a catalogue flavor) and the run engine
(estimate/checkpointing.run_hardware adds whether the run fits without gradient checkpointing). It is bundled into
the exported training script, so it imports nothing from `training` and torch only when a GPU may be there.
"""

from __future__ import annotations

import os
import shutil


def has_cuda() -> bool:
    """True when a CUDA GPU is usable. Cheap check first so the UI need not import torch."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    if not (shutil.which("nvidia-smi") or os.path.exists("/proc/driver/nvidia")):
        return False
    import torch

    return torch.cuda.is_available()


def local_hardware() -> dict:
    """What this process trains on: {"accelerator": "cuda" | "cpu", "name", "bf16", "memory_gb", "count", "processes"}
    (name: the first GPU's; processes: how many train together under `accelerate launch`, from its WORLD_SIZE; 1 alone)."""
    processes = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if has_cuda():
        import torch

        props = torch.cuda.get_device_properties(0)
        return {"accelerator": "cuda", "name": props.name, "bf16": bool(torch.cuda.is_bf16_supported()),
                "memory_gb": round(props.total_memory / 2**30, 1), "count": torch.cuda.device_count(), "processes": processes}
    return {"accelerator": "cpu", "name": "cpu", "bf16": False, "memory_gb": None, "count": 0, "processes": processes}
