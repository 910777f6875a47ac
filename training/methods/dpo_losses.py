"""DPO's losses as data: every `DPOConfig.loss_type` of TRL 1.16, what it does, and the metrics to watch first.

The registry's DPO entry builds its `loss_type` control (one loss, or several combined with `loss_weights`) from
DPO_LOSSES, so the UI's choices, the CLI's check and the validation message come from here. TRL's DPOTrainer logs
the same metrics whatever the loss (rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies,
logps/*, logits/*, mean_token_accuracy, entropy, num_tokens); `key_metrics` says which of them tell whether that
loss is doing its job, most important first (as Trackio names them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MARGINS = ("train/rewards/margins", "train/rewards/accuracies", "train/loss")
_BOTH = ("train/rewards/chosen", "train/rewards/rejected", "train/loss")


@dataclass(frozen=True)
class DpoLoss:
    name: str  # DPOConfig.loss_type value
    what: str  # one line: what it optimises and when to choose it
    key_metrics: tuple[str, ...]


DPO_LOSSES: dict[str, DpoLoss] = {loss.name: loss for loss in (
    DpoLoss("sigmoid", "the original DPO loss: raise the chosen answer's reward above the rejected one's", _MARGINS),
    DpoLoss("hinge", "SLiC's margin loss: stops pushing once the margin reaches 1/beta", _MARGINS),
    DpoLoss("ipo", "IPO: a squared loss towards a fixed margin, per token; robust to overfitting noisy pairs", _MARGINS),
    DpoLoss("exo_pair", "EXO: the reverse-KL form of DPO; needs label smoothing above 0 (1e-3 is typical)", _MARGINS),
    DpoLoss("nca_pair", "NCA: scores each answer on its own; keeps the chosen answer's likelihood from falling",
            ("train/rewards/chosen", "train/rewards/margins", "train/loss")),
    DpoLoss("robust", "Robust DPO: assumes a share of the labels are flipped (label smoothing, below 0.5)", _MARGINS),
    DpoLoss("bco_pair", "BCO: a binary classifier of chosen (up) and rejected (down) answers", _BOTH),
    DpoLoss("sppo_hard", "SPPO (hard labels): pushes the chosen reward to +0.5 and the rejected to -0.5", _BOTH),
    DpoLoss("aot", "AOT: aligns the sorted distribution of margins with the reference's", _MARGINS),
    DpoLoss("aot_unpaired", "AOT unpaired: aligns sorted chosen and rejected rewards separately", _BOTH),
    DpoLoss("apo_zero", "APO-zero: when the chosen answers are better than the model's own; chosen up, rejected down",
            _BOTH),
    DpoLoss("apo_down", "APO-down: when the chosen answers are worse than the model's own; both down, rejected more",
            _BOTH),
    DpoLoss("discopop", "DiscoPOP: a discovered blend of the logistic and exponential losses (discopop_tau)", _MARGINS),
    DpoLoss("sft", "SFT on the chosen answers (negative log-likelihood); combined with sigmoid it is RPO",
            ("train/loss", "train/mean_token_accuracy", "train/logps/chosen")),
    DpoLoss("sigmoid_norm", "sigmoid on length-normalised rewards: long answers are not favoured", _MARGINS),
)}

# Combinations people ask for by name (TRL's documentation): losses and their weights.
NAMED_COMBINATIONS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "RPO": (("sigmoid", "sft"), (1.0, 1.0)),
    "MPO": (("sigmoid", "bco_pair", "sft"), (0.8, 0.2, 1.0)),
}

LOSS_HELP = ("One loss, or several added together with the weights below. sigmoid is the original DPO; ipo and "
             "robust suit noisy labels; apo_zero when the chosen answers beat the model's own; sft adds learning the "
             "chosen answers (sigmoid + sft = RPO; sigmoid, bco_pair, sft at 0.8, 0.2, 1.0 = MPO). README lists all 15.")


def loss_list(value: Any) -> list[str]:
    """loss_type as a list: a single name, a comma-separated string or a list."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value) if isinstance(value, (list, tuple)) else []


def dpo_problems(args: dict) -> list[tuple[str, str]]:
    """What TRL would refuse (or silently misread) in a DPO setting combination, as (field, message)."""
    losses, weights = loss_list(args.get("loss_type")), args.get("loss_weights") or []
    out: list[tuple[str, str]] = []
    if len(set(losses)) != len(losses):
        out.append(("method_args.loss_type", f"is {losses}; name each loss once (give it a larger weight instead)"))
    if weights and len(weights) != len(losses):
        out.append(("method_args.loss_weights", f"has {len(weights)} weights for {len(losses)} losses ({', '.join(losses)}); "
                                                "give one weight per loss, in the same order, or none for equal weights"))
    smoothing = args.get("label_smoothing", 0.0)
    if "exo_pair" in losses and not smoothing:
        out.append(("method_args.label_smoothing", "is 0, but the exo_pair loss needs it above 0; the EXO paper uses 1e-3"))
    if "robust" in losses and smoothing >= 0.5:
        out.append(("method_args.label_smoothing", f"is {smoothing}; the robust loss needs it below 0.5 (0.1 is typical)"))
    return out


def dpo_key_metrics(args: dict) -> tuple[str, ...]:
    """The metrics to watch first for these losses: each loss's own, in order, without repeats."""
    out: list[str] = []
    for name in loss_list(args.get("loss_type")) or ["sigmoid"]:
        for metric in DPO_LOSSES.get(name, DPO_LOSSES["sigmoid"]).key_metrics:
            if metric not in out:
                out.append(metric)
    for metric in ("eval/loss", "train/rewards/chosen", "train/rewards/rejected"):
        if metric not in out:
            out.append(metric)
    return tuple(out)
