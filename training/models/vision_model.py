"""Vision-language models (VLMs): telling one from a text model, its processor, and which parts train.

A model is a VLM when its config has a `vision_config` (LLaVA, SmolVLM/Idefics3, Qwen2-VL, Gemma 3, ...); it loads
with `AutoModelForImageTextToText` and `AutoProcessor` (the processor is TRL's `processing_class`). By default the
vision tower is frozen and LoRA goes on the language model only; `model.vision_tower` says otherwise:
`train` trains the vision tower's weights fully, `lora` puts adapters on it too.

Bundled into the exported script (training/publish/script.py): standard library at import time only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from training.models.pretrained import model_from_pretrained, processor_from_pretrained

VISION_TOWER_MODES = ("frozen", "train", "lora")
# Attribute paths of the vision tower, the projector and the language model in the transformers 5 VLM classes.
_TOWER_NAMES = ("vision_tower", "vision_model", "visual", "vision_encoder")
_PROJECTOR_NAMES = ("multi_modal_projector", "connector", "mm_projector", "merger")
_LANGUAGE_NAMES = ("language_model", "text_model")


def _config_dict(name_or_path: str, trust_remote_code: bool = False) -> dict | None:
    path = Path(str(name_or_path)).expanduser() / "config.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code).to_dict()
    except Exception:
        return None


def is_vision_model(name_or_path: str, trust_remote_code: bool = False) -> bool:
    """Whether the model reads images (its config has a vision part). False when the config cannot be read."""
    config = _config_dict(name_or_path, trust_remote_code)
    return bool(config) and any(key in config for key in ("vision_config", "vision_tower", "visual"))


def load_vision_processor(name_or_path: str, trust_remote_code: bool = False):
    """The model's processor (tokenizer and image processor), with a pad token."""
    return processor_from_pretrained(name_or_path, trust_remote_code)


def load_vision_model(name_or_path: str, trust_remote_code: bool = False, **kwargs):
    """The VLM with its language-modelling head (kwargs go to from_pretrained: dtype, ...)."""
    return model_from_pretrained(name_or_path, "image_text_to_text", trust_remote_code, **kwargs)


def _find(model, names: tuple[str, ...]) -> str | None:
    """Dotted name of the first submodule whose last part is one of `names` (shallowest first)."""
    found = [n for n, _ in model.named_modules() if n.split(".")[-1] in names]
    return min(found, key=lambda n: n.count(".")) if found else None


def vision_parts(model) -> dict:
    """{"tower", "projector", "language"}: dotted module names (None where the model has no such part)."""
    return {"tower": _find(model, _TOWER_NAMES), "projector": _find(model, _PROJECTOR_NAMES),
            "language": _find(model, _LANGUAGE_NAMES)}


def count_parameters(model) -> dict:
    """Parameters per part: {"tower", "projector", "language", "total"}."""
    parts = vision_parts(model)
    counts = {key: 0 for key in ("tower", "projector", "language")}
    total = 0
    for name, param in model.named_parameters():
        total += param.numel()
        for key, prefix in parts.items():
            if prefix and (name == prefix or name.startswith(prefix + ".")):
                counts[key] += param.numel()
    return {**counts, "total": total}


def freeze_vision_tower(model) -> int:
    """Stop gradients to the vision tower; returns how many parameters were frozen."""
    prefix = vision_parts(model)["tower"]
    frozen = 0
    for name, param in model.named_parameters():
        if prefix and name.startswith(prefix + "."):
            param.requires_grad_(False)
            frozen += param.numel()
    return frozen


def _linear_leaves(model, prefix: str | None) -> list[str]:
    import torch

    if not prefix:
        return []
    return sorted({n.split(".")[-1] for n, m in model.named_modules()
                   if n.startswith(prefix + ".") and isinstance(m, torch.nn.Linear)})


def lora_targets(model, mode: str, spec) -> str:
    """peft `target_modules` as one regular expression (matched against full module names): the language model's
    linear layers (`spec` "all-linear", or the listed/preset names), and with mode `lora` the vision tower's and
    projector's linear layers too. The output head is never a target."""
    parts = vision_parts(model)
    language = parts["language"] or ""
    names = _linear_leaves(model, language) if spec == "all-linear" else list(spec)
    alternatives = [rf"{re.escape(language)}\..*\.({'|'.join(map(re.escape, names))})"] if language and names else []
    if mode == "lora":
        for key in ("tower", "projector"):
            leaves = _linear_leaves(model, parts[key])
            if leaves:
                alternatives.append(rf"{re.escape(parts[key])}(\..*)?\.({'|'.join(map(re.escape, leaves))})")
    if not alternatives:
        raise ValueError("found no language-model layers to put LoRA adapters on; set lora.target_modules to the "
                         "model's module names")
    return "^(" + "|".join(alternatives) + ")$"


def vision_lora_config(model, peft_args: dict, mode: str) -> dict:
    """The LoRA arguments for a VLM: adapters where `lora_targets` says; with mode `train` the vision tower and the
    projector are trained in full beside the adapters (saved with them)."""
    if mode not in VISION_TOWER_MODES:
        raise ValueError(f"model.vision_tower is {mode!r}; choose one of: {', '.join(VISION_TOWER_MODES)}")
    args = dict(peft_args, target_modules=lora_targets(model, mode, peft_args["target_modules"]))
    if mode == "train":
        parts = vision_parts(model)
        args["modules_to_save"] = [parts[k].split(".")[-1] for k in ("tower", "projector") if parts[k]]
    return args
