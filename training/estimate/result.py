"""An estimate's result: time, dollars and memory of a run on one hardware flavor, with every assumption listed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Estimate:
    hardware: str
    hardware_label: str
    seconds: float | None
    cost_usd: float | None
    gpu_memory_gb: float | None  # memory the run needs per GPU (RAM on CPU flavors)
    available_memory_gb: float  # per GPU (RAM on CPU flavors)
    fits: bool | None
    verdict: str  # fits, tight, does not fit, unknown
    steps: int | None
    train_tokens: int | None
    params: float | None
    trainable_params: float | None
    assumptions: list[str] = field(default_factory=list)
    summary: str = ""
    hardware_source: str = ""  # how the hardware was chosen or detected
    current: bool = False  # the hardware this app runs on
    time_source: str = "prior"  # prior (the model, at the achieved rates of speed.py), or measured (a run on this hardware)
    memory_source: str = "prior"  # prior (memory.py), or measured (a run or dry run of the same shape on this hardware)
    seconds_per_step: float | None = None  # one optimizer step (training only)
    step_breakdown: dict = field(default_factory=dict)  # seconds per step by part (GPU flavors)
    choices: dict = field(default_factory=dict)  # what a choice costs or saves, e.g. gradient checkpointing on vs off
    price_source: str = ""
    usd_per_hour: float = 0.0
    precision: str = ""
    memory_breakdown: dict = field(default_factory=dict)  # GB per part
    time_breakdown: dict = field(default_factory=dict)  # seconds per part
    fix: dict | None = None  # when it does not fit: the cheapest change that fits
    resolved: dict = field(default_factory=dict)  # the TRL arguments the run really uses (training/recipe/ resolve_run)

    def to_dict(self) -> dict:
        return asdict(self)
