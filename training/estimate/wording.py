"""An estimate in plain words: durations, costs and the one-line summary a person reads."""

from __future__ import annotations

from training.estimate.hardware import CATALOGUE
from training.estimate.result import Estimate


def plain_duration(seconds: float) -> str:
    minutes = seconds / 60
    if seconds < 90:
        return f"about {seconds:.0f} seconds"
    if minutes < 90:
        return f"about {minutes:.0f} minutes"
    if minutes < 48 * 60:
        return f"about {minutes / 60:.1f} hours"
    return f"about {minutes / 60 / 24:.1f} days"


def plain_cost(cost_usd: float) -> str:
    return "free" if cost_usd == 0 else "under $0.01" if cost_usd < 0.01 else f"about ${cost_usd:,.2f}"


def plain_summary(est: Estimate) -> str:
    if est.seconds is None:
        return est.summary
    where = est.hardware_label
    if est.current:
        where = f"this Space's {where}" if "SPACE_HARDWARE" in est.hardware_source else f"this machine ({where})"
    when = plain_duration(est.seconds) + (" (measured on this hardware)" if est.time_source == "measured" else " (prior)")
    unit = "of RAM" if not CATALOGUE[est.hardware].is_gpu else "per GPU" if CATALOGUE[est.hardware].gpu_count > 1 else "of GPU memory"
    text = (f"{when}, {plain_cost(est.cost_usd)} on {where}; needs about {est.gpu_memory_gb:.1f} GB "
            f"of {est.available_memory_gb:g} GB {unit} ({est.verdict}).")
    if est.fix:
        text += f" It fits with {est.fix['change']}: {plain_duration(est.fix['seconds'])}, {plain_cost(est.fix['cost_usd'])}."
    elif est.verdict == "does not fit":
        text += " No flavor in the catalogue fits it; pick a smaller model."
    return text
