"""The tokenizer and the base model in the resolved precision (4-bit for QLoRA, a score head for reward models)."""

from __future__ import annotations

from training.recipe.resolve import ResolvedRun


def assistant_only_supported(tokenizer, trl_type: str) -> tuple[bool, str | None]:
    """Whether the loss can cover the answers only (the chat template marks them, or TRL can add the markers)."""
    if trl_type != "conversational":
        return False, None
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = getattr(tokenizer, "chat_template", None)
    if not template:
        return False, "The model has no chat template, so the loss covers the whole text, not only the answers."
    if has_generation_markers(template):
        return True, None
    try:
        get_training_chat_template(tokenizer)
        return True, None
    except Exception:
        return False, ("This model's chat template has no {% generation %} markers TRL can add, so the loss covers "
                       "prompts and answers alike.")


def load_tokenizer(config: dict):
    from transformers import AutoTokenizer

    m = config["model"]
    tokenizer = AutoTokenizer.from_pretrained(m["name_or_path"], trust_remote_code=m["trust_remote_code"] is True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(config: dict, resolved: ResolvedRun, tokenizer):
    """The base model in the resolved precision (4-bit for QLoRA), with a score head for reward models."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, set_seed

    set_seed(config["train"]["seed"])  # a new head (reward models) is initialised from the run's seed
    m = config["model"]
    # fp16 mixed precision needs fp32 trainable weights: a LoRA base can be fp16 (adapters stay fp32), a full one not.
    fp16 = torch.float16 if resolved.peft is not None else torch.float32
    dtype = {"bf16": torch.bfloat16, "fp16": fp16, "fp32": torch.float32}[resolved.precision]
    kwargs = {"dtype": dtype, "trust_remote_code": m["trust_remote_code"] is True}
    if resolved.quantization == "4bit":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if resolved.precision == "bf16" else torch.float16)
    if resolved.model_head == "sequence_classification":
        model = AutoModelForSequenceClassification.from_pretrained(m["name_or_path"], num_labels=1, **kwargs)
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id  # the score is read at the last non-pad token
        return model
    return AutoModelForCausalLM.from_pretrained(m["name_or_path"], **kwargs)
