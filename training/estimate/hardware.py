"""The hardware catalogue (data, with an "as of" date), live prices, and detection of this machine.

Prices come from the Hub's live Jobs hardware list when the network allows (`list_jobs_hardware`,
a few seconds at most, cached for an hour, never on the UI's critical path), else from the table
below, read from the Hub docs on the date in PRICES_AS_OF. Every estimate says which it used.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from training.hosting.machine import has_cuda

PRICES_AS_OF = "2026-06 (Hugging Face Spaces GPU docs)"
LIVE_PRICE_TIMEOUT_S = 3.0
LIVE_PRICE_TTL_S = 3600.0


@dataclass(frozen=True)
class Flavor:
    name: str
    label: str
    gpu: str | None
    gpu_count: int
    vram_gb: float  # per GPU; 0 for CPU
    tflops_bf16: float  # dense bf16 tensor peak per GPU; 0 where bf16 is unsupported (T4, CPU)
    usd_per_hour: float  # table price, see price_note and PRICES_AS_OF
    bf16: bool
    ram_gb: float = 0  # host memory; what CPU flavors train in
    tflops_fp16: float = 0  # dense fp16 tensor peak per GPU
    tflops_fp32: float = 0  # fp32 peak per GPU (no TF32), or per machine for CPU flavors
    mem_bandwidth_gbs: float = 0  # per GPU (or machine): bounds token-by-token generation
    vcpu: int = 0
    price_note: str = "Hub docs"  # where the table price comes from

    @property
    def is_gpu(self) -> bool:
        return self.gpu_count > 0

    @property
    def memory_gb(self) -> float:
        """All memory training can use: total VRAM on GPU flavors, RAM on CPU flavors."""
        return self.vram_gb * self.gpu_count if self.gpu_count else self.ram_gb

    @property
    def device_memory_gb(self) -> float:
        """Memory one training process must fit in: one GPU's VRAM (each GPU holds a full replica), or RAM."""
        return self.vram_gb if self.gpu_count else self.ram_gb

    def peak_tflops(self, precision: str) -> float:
        """Dense peak per GPU (per machine for CPU) at the given training precision."""
        if precision == "bf16" and self.tflops_bf16:
            return self.tflops_bf16
        if precision in ("bf16", "fp16") and self.tflops_fp16:
            return self.tflops_fp16
        return self.tflops_fp32


def _gpu(name, label, gpu, count, vram, bf16, fp16, fp32, bw, price, ram, vcpu, note="Hub docs"):
    return Flavor(name, label, gpu, count, vram, bf16, price, bf16 > 0, ram_gb=ram, tflops_fp16=fp16, tflops_fp32=fp32,
                  mem_bandwidth_gbs=bw, vcpu=vcpu, price_note=note)


# Peaks are NVIDIA datasheet dense figures (no sparsity). CPU "peaks" are nominal AVX2 FMA figures
# (vCPUs x 2.5 GHz x 32 FLOP/cycle); the CPU utilisation in training/estimate/quote.py is calibrated on 2 vCPUs.
_SCALED = "not on the pricing page when read: scaled from the single-GPU price"
CATALOGUE: dict[str, Flavor] = {f.name: f for f in [
    Flavor("cpu-basic", "CPU basic (2 vCPU)", None, 0, 0, 0, 0.0, False, ram_gb=16, tflops_fp32=0.16,
           mem_bandwidth_gbs=20, vcpu=2, price_note="Hub docs (free on a Space)"),
    Flavor("cpu-upgrade", "CPU upgrade (8 vCPU)", None, 0, 0, 0, 0.03, False, ram_gb=32, tflops_fp32=0.64,
           mem_bandwidth_gbs=40, vcpu=8),
    _gpu("t4-small", "Nvidia T4 small", "T4", 1, 16, 0, 65, 8.1, 320, 0.40, 15, 4),
    _gpu("t4-medium", "Nvidia T4 medium", "T4", 1, 16, 0, 65, 8.1, 320, 0.60, 30, 8),
    _gpu("l4x1", "1x Nvidia L4", "L4", 1, 24, 121, 121, 30.3, 300, 0.80, 30, 8),
    _gpu("l4x4", "4x Nvidia L4", "L4", 4, 24, 121, 121, 30.3, 300, 3.80, 186, 48),
    _gpu("a10g-small", "Nvidia A10G small", "A10G", 1, 24, 125, 125, 31.2, 600, 1.00, 15, 4),
    _gpu("a10g-large", "Nvidia A10G large", "A10G", 1, 24, 125, 125, 31.2, 600, 1.50, 46, 12),
    _gpu("a10g-largex2", "2x Nvidia A10G large", "A10G", 2, 24, 125, 125, 31.2, 600, 3.00, 92, 24),
    _gpu("a10g-largex4", "4x Nvidia A10G large", "A10G", 4, 24, 125, 125, 31.2, 600, 5.00, 184, 48),
    _gpu("l40sx1", "1x Nvidia L40S", "L40S", 1, 48, 362, 362, 91.6, 864, 1.80, 62, 8),
    _gpu("l40sx4", "4x Nvidia L40S", "L40S", 4, 48, 362, 362, 91.6, 864, 8.30, 382, 48),
    _gpu("l40sx8", "8x Nvidia L40S", "L40S", 8, 48, 362, 362, 91.6, 864, 23.50, 1534, 192),
    _gpu("a100-large", "Nvidia A100 large (80 GB)", "A100", 1, 80, 312, 312, 19.5, 2039, 4.00, 142, 12),
    _gpu("a100x4", "4x Nvidia A100 (80 GB)", "A100", 4, 80, 312, 312, 19.5, 2039, 16.00, 568, 48, _SCALED),
    _gpu("a100x8", "8x Nvidia A100 (80 GB)", "A100", 8, 80, 312, 312, 19.5, 2039, 32.00, 1136, 96, _SCALED),
    _gpu("h100", "Nvidia H100 (80 GB)", "H100", 1, 80, 989, 989, 67, 3350, 10.00, 250, 24),
    _gpu("h100x8", "8x Nvidia H100 (80 GB)", "H100", 8, 80, 989, 989, 67, 3350, 80.00, 2000, 192, _SCALED),
    _gpu("h200", "Nvidia H200 (141 GB)", "H200", 1, 141, 989, 989, 67, 4800, 10.00, 250, 24,
         "not on the pricing page when read: assumed equal to H100"),
]}


def get_flavor(name: str) -> Flavor:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ValueError(f"Unknown hardware {name!r}; choose one of: {', '.join(CATALOGUE)}") from None


# --- live prices -------------------------------------------------------------------------------

_live_lock = threading.Lock()
_live: dict = {"at": 0.0, "prices": None, "thread": None}


def _hourly(info) -> float | None:
    per = {"minute": 60.0, "hour": 1.0, "second": 3600.0}.get(str(getattr(info, "unit_label", "")).lower())
    cost = getattr(info, "unit_cost_usd", None)
    return None if per is None or not isinstance(cost, (int, float)) else float(cost) * per


def _fetch_live_prices() -> None:
    prices = None
    try:
        from huggingface_hub import list_jobs_hardware

        prices = {h.name: p for h in list_jobs_hardware() if (p := _hourly(h)) is not None} or None
    except Exception:
        prices = None
    with _live_lock:
        _live["prices"], _live["at"], _live["thread"] = prices, time.time(), None


def live_prices(timeout: float = LIVE_PRICE_TIMEOUT_S) -> dict[str, float] | None:
    """Hourly prices from the Hub's Jobs hardware list, or None (offline, disabled, slow or failing).

    Never blocks longer than `timeout`: the request runs in a daemon thread; a late answer fills the
    cache for the next call. Set ESTIMATE_LIVE_PRICES=0 to turn it off.
    """
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("ESTIMATE_LIVE_PRICES", "1") == "0":
        return None
    with _live_lock:
        if _live["at"] and time.time() - _live["at"] < LIVE_PRICE_TTL_S:
            return _live["prices"]
        thread = _live["thread"]
        if thread is None:
            thread = threading.Thread(target=_fetch_live_prices, name="live-prices", daemon=True)
            _live["thread"] = thread
            thread.start()
    thread.join(timeout)
    with _live_lock:
        return _live["prices"]


def price_per_hour(flavor: Flavor, live: dict[str, float] | None = None) -> tuple[float, str]:
    """(USD per hour, where it comes from). A live price wins over the table."""
    if live and flavor.name in live:
        return live[flavor.name], "live price from the Hub Jobs hardware list"
    return flavor.usd_per_hour, f"table price as of {PRICES_AS_OF}, {flavor.price_note}"


# --- this machine ------------------------------------------------------------------------------


_GPU_FLAVORS = [("H200", "h200"), ("H100", "h100"), ("A100", "a100-large"), ("L40S", "l40sx1"),
                ("A10G", "a10g-small"), ("A10", "a10g-small"), ("L4", "l4x1"), ("T4", "t4-small")]
_MULTI = {("a100-large", 4): "a100x4", ("a100-large", 8): "a100x8", ("h100", 8): "h100x8", ("l40sx1", 4): "l40sx4",
          ("l40sx1", 8): "l40sx8", ("a10g-small", 2): "a10g-largex2", ("a10g-small", 4): "a10g-largex4", ("l4x1", 4): "l4x4"}


def detect_hardware() -> tuple[str, str]:
    """(catalogue name of this machine, how it was found)."""
    space_hw = os.environ.get("SPACE_HARDWARE")
    if space_hw in CATALOGUE:
        return space_hw, f"this Space's hardware (SPACE_HARDWARE={space_hw})"
    if not has_cuda():
        cores = os.cpu_count() or 0
        return "cpu-basic", f"this machine has no GPU ({cores} CPU cores), estimated as cpu-basic"
    import torch

    gpu_name = torch.cuda.get_device_name(0)
    count = torch.cuda.device_count()
    flavor = next((f for key, f in _GPU_FLAVORS if key in gpu_name.upper()), "a10g-small")
    flavor = _MULTI.get((flavor, count), flavor)
    return flavor, f"this machine's GPU ({count} x {gpu_name}), estimated as {flavor}"


def detect_flavor() -> str:
    """The catalogue name of this machine: SPACE_HARDWARE on a Space, else a guess from the GPU."""
    return detect_hardware()[0]
