"""The hardware catalogue (data, with an "as of" date) and detection of the machine we run on."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

PRICES_AS_OF = "2026-06 (Hugging Face Spaces pricing page)"


@dataclass(frozen=True)
class Flavor:
    name: str
    label: str
    gpu: str | None
    gpu_count: int
    vram_gb: float  # per GPU; 0 for CPU
    tflops_bf16: float  # dense peak per GPU (fp32 peak for CPU flavors)
    usd_per_hour: float
    bf16: bool
    ram_gb: float = 0  # host memory; what CPU flavors train in

    @property
    def memory_gb(self) -> float:
        """Memory that training must fit in: total VRAM on GPU flavors, RAM on CPU flavors."""
        return self.vram_gb * self.gpu_count if self.gpu_count else self.ram_gb


CATALOGUE: dict[str, Flavor] = {f.name: f for f in [
    Flavor("cpu-basic", "CPU basic (2 vCPU)", None, 0, 0, 0.2, 0.0, False, ram_gb=16),
    Flavor("cpu-upgrade", "CPU upgrade (8 vCPU)", None, 0, 0, 0.8, 0.03, False, ram_gb=32),
    Flavor("t4-small", "Nvidia T4 small", "T4", 1, 16, 65, 0.40, False),
    Flavor("t4-medium", "Nvidia T4 medium", "T4", 1, 16, 65, 0.60, False),
    Flavor("l4x1", "1x Nvidia L4", "L4", 1, 24, 121, 0.80, True),
    Flavor("l4x4", "4x Nvidia L4", "L4", 4, 24, 121, 3.80, True),
    Flavor("a10g-small", "Nvidia A10G small", "A10G", 1, 24, 125, 1.00, True),
    Flavor("a10g-large", "Nvidia A10G large", "A10G", 1, 24, 125, 1.50, True),
    Flavor("a10g-largex2", "2x Nvidia A10G large", "A10G", 2, 24, 125, 3.00, True),
    Flavor("a10g-largex4", "4x Nvidia A10G large", "A10G", 4, 24, 125, 5.00, True),
    Flavor("l40sx1", "1x Nvidia L40S", "L40S", 1, 48, 362, 1.80, True),
    Flavor("l40sx4", "4x Nvidia L40S", "L40S", 4, 48, 362, 8.30, True),
    Flavor("l40sx8", "8x Nvidia L40S", "L40S", 8, 48, 362, 23.50, True),
    Flavor("a100-large", "Nvidia A100 large (80 GB)", "A100", 1, 80, 312, 4.00, True),
    Flavor("h100", "Nvidia H100 (80 GB)", "H100", 1, 80, 989, 10.00, True),
]}


def get_flavor(name: str) -> Flavor:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ValueError(f"Unknown hardware {name!r}; choose one of: {', '.join(CATALOGUE)}") from None


def has_cuda() -> bool:
    """True when a CUDA GPU is usable. Cheap check first so the UI need not import torch."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    if not (shutil.which("nvidia-smi") or os.path.exists("/proc/driver/nvidia")):
        return False
    import torch

    return torch.cuda.is_available()


def detect_flavor() -> str:
    """The catalogue name of this machine: SPACE_HARDWARE on a Space, else a guess from the GPU."""
    space_hw = os.environ.get("SPACE_HARDWARE")
    if space_hw in CATALOGUE:
        return space_hw
    if not has_cuda():
        return "cpu-basic"
    import torch

    name = torch.cuda.get_device_name(0).upper()
    for key, flavor in [("H100", "h100"), ("H200", "h100"), ("A100", "a100-large"), ("L40S", "l40sx1"),
                        ("A10G", "a10g-small"), ("L4", "l4x1"), ("T4", "t4-small")]:
        if key in name:
            return flavor
    return "a10g-small"


def resolve_precision(requested: str) -> tuple[str, str | None]:
    """(precision to use, note for the user). GPU-only precisions fall back to fp32 on CPU with a note."""
    cuda = has_cuda()
    if requested == "auto":
        if not cuda:
            return "fp32", None
        import torch

        return ("bf16", None) if torch.cuda.is_bf16_supported() else ("fp16", None)
    if requested in ("bf16", "fp16") and not cuda:
        return "fp32", f"{requested} needs a GPU; this machine has none, so training runs in fp32."
    if requested == "bf16":
        import torch

        if not torch.cuda.is_bf16_supported():
            return "fp16", "bf16 is not supported by this GPU (e.g. T4); using fp16."
    return requested, None
