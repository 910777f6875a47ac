"""Whether a tokenizer's chat template lets the loss cover the answers only (assistant-only loss).

The data preview (training/data/preview.py) and the training recipe (training/recipe/train.py, shipped in the
exported script) ask the same function, so the preview marks the tokens the trainer really learns from.
"""

from __future__ import annotations


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
