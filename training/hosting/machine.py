"""The one probe of this machine's hardware: is a CUDA GPU usable, and what a training process here runs on.

A ground-stage module (standard library at the top, torch inside functions) so every stage can ask it: the model
loaders and adapter checks, the training recipe (it ships in the exported script), the estimate's detection of the
catalogue flavor (training/estimate/hardware.py) and the engine's hardware (training/estimate/checkpointing.py).
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
    (processes: how many train together under `accelerate launch`, from its WORLD_SIZE; 1 alone)."""
    import torch

    processes = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"accelerator": "cuda", "name": props.name, "bf16": bool(torch.cuda.is_bf16_supported()),
                "memory_gb": round(props.total_memory / 2**30, 1), "count": torch.cuda.device_count(), "processes": processes}
    return {"accelerator": "cpu", "name": "cpu", "bf16": False, "memory_gb": None, "count": 0, "processes": processes}
