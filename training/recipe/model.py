"""The tokenizer and the base model of a run, in the resolved precision (4-bit for QLoRA, a score head for reward models).

Named for the run (`run_tokenizer`, `run_model`: they take the run's config) so they are not mistaken for the app's
loaders by name (training/models/loading.py); both call training/models/pretrained.py.
"""

from __future__ import annotations

from training.models.pretrained import model_from_pretrained, processor_from_pretrained, tokenizer_from_pretrained
from training.models.vision_model import freeze_vision_tower, is_vision_model
from training.recipe.resolve import ResolvedRun


def run_tokenizer(config: dict):
    m = config["model"]
    if is_vision_model(m["name_or_path"], m["trust_remote_code"] is True):  # a VLM: its processor (tokenizer + images)
        return processor_from_pretrained(m["name_or_path"], m["trust_remote_code"] is True)
    return tokenizer_from_pretrained(m["name_or_path"], m["trust_remote_code"] is True)


def run_model(config: dict, resolved: ResolvedRun, tokenizer):
    """The base model in the resolved precision (4-bit for QLoRA), with a score head for reward models."""
    import torch
    from transformers import set_seed

    set_seed(config["train"]["seed"])  # a new head (reward models) is initialised from the run's seed
    m = config["model"]
    # fp16 mixed precision needs fp32 trainable weights: a LoRA base can be fp16 (adapters stay fp32), a full one not.
    fp16 = torch.float16 if resolved.peft is not None else torch.float32
    dtype = {"bf16": torch.bfloat16, "fp16": fp16, "fp32": torch.float32}[resolved.precision]
    kwargs = {"dtype": dtype}
    if resolved.quantization == "4bit":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if resolved.precision == "bf16" else torch.float16)
    head = resolved.model_head
    vision = head == "causal_lm" and is_vision_model(m["name_or_path"], m["trust_remote_code"] is True)
    model = model_from_pretrained(m["name_or_path"], "image_text_to_text" if vision else head, m["trust_remote_code"] is True,
                                  pad_token_id=getattr(tokenizer, "pad_token_id", None), **kwargs)
    if vision and resolved.peft is None and m.get("vision_tower", "frozen") == "frozen":
        freeze_vision_tower(model)  # full fine-tuning of the language model and projector; the tower stays as it is
    return model


def run_teacher(config: dict, resolved: ResolvedRun):
    """A distillation run's teacher, frozen, in the run's precision: a model folder or Hub id, or a LoRA run's adapter
    folder (merged into the base model its adapter_config.json names)."""
    import json
    from pathlib import Path

    import torch

    ref = str(config["method_args"]["teacher_model_name_or_path"]).strip()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[resolved.precision]
    trust = config["model"]["trust_remote_code"] is True
    adapter = Path(ref) / "adapter_config.json"
    if adapter.exists():
        from peft import PeftModel

        base = model_from_pretrained(json.loads(adapter.read_text())["base_model_name_or_path"], trust_remote_code=trust, dtype=dtype)
        teacher = PeftModel.from_pretrained(base, ref).merge_and_unload()
    else:
        teacher = model_from_pretrained(ref, trust_remote_code=trust, dtype=dtype)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher
