"""Examples rendered as the trainer sees them: the chat template applied, tokenized, and each token marked
with whether it carries loss.

SFT mirrors TRL's SFTTrainer: chat rows go through `apply_chat_template(..., return_assistant_tokens_mask=True)`
(with TRL's training template when the model's own has no `{% generation %}` markers), so only assistant
tokens carry loss; prompt/completion rows carry loss on the completion; plain text on every token, with EOS
appended; per-message loss weights and Axolotl segments as training.data.loss_weights masks them.
Preference rows (DPO, Reward) show the prompt and both answers; prompt-only rows (GRPO, RLOO) show
the prompt as given for generation; unpaired rows (KTO) the prompt and the labelled completion. Tokens past
max length are marked `truncated`.

Needs a tokenizer (transformers) only when called; importing this module is cheap.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from training.data.formats import common_prefix_length
from training.data.loss_weights import conversation_ids_and_mask, row_has_loss_weights, segment_ids_and_mask

MAX_SHOWN_TOKENS = 2048
GENERATION_MARKER = re.compile(r"\{%-?\s*generation\s*-?%\}")


@dataclass(frozen=True)
class TokenSpan:
    text: str
    loss: bool
    truncated: bool = False


@dataclass(frozen=True)
class RenderedPart:
    label: str  # "conversation", "prompt", "completion", "chosen", "rejected", "text"
    spans: list[TokenSpan]
    tokens: int
    loss_tokens: int


@dataclass(frozen=True)
class RenderedExample:
    row: int | None
    kind: str  # sft, preference, prompt_only, unpaired_preference
    parts: list[RenderedPart]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _ids(result) -> list[int]:
    ids = result["input_ids"] if hasattr(result, "keys") else result
    return list(ids[0]) if ids and isinstance(ids[0], list) else list(ids)


def _chat(tokenizer, messages: list[dict], tools=None, **kwargs) -> dict:
    result = tokenizer.apply_chat_template(messages, tools=tools, tokenize=True, return_dict=True, **kwargs)
    return {k: (list(v[0]) if v and isinstance(v[0], list) else list(v)) for k, v in result.items()}


def _text_ids(tokenizer, text: str) -> list[int]:
    return _ids(tokenizer(text=text))


def _template_text(tokenizer, messages: list[dict], tools=None, **kwargs) -> str:
    return tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, **kwargs)


def training_template(tokenizer, trl_type: str, assistant_only: bool) -> tuple[bool, str | None, str | None]:
    """(assistant-only loss on?, chat template the trainer uses or None for the model's own, note), as the trainer factory decides."""
    if not assistant_only or trl_type != "conversational":
        return False, None, None
    template = getattr(tokenizer, "chat_template", None) or ""
    if GENERATION_MARKER.search(template):
        return True, None, None  # the usual case needs no TRL import
    from training.models.chat_template import assistant_only_supported

    supported, note = assistant_only_supported(tokenizer, trl_type)
    if not supported:
        return False, None, note
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if has_generation_markers(tokenizer.chat_template):
        return True, None, None
    return True, get_training_chat_template(tokenizer), None


def sft_token_mask(row: dict, tokenizer, assistant_only: bool = True) -> tuple[list[int], list[int], list[str]]:
    """(input_ids, loss mask 1/0, notes) for one normalised SFT row, the way SFTTrainer tokenizes it."""
    tools = row.get("tools")
    notes: list[str] = []
    if isinstance(row.get("segments"), list):  # Axolotl segments: tokenised one by one, label false carries no loss
        ids, mask = segment_ids_and_mask(row["segments"], tokenizer)
        return ids, (mask if assistant_only else [1] * len(ids)), notes
    if "messages" in row:
        on, template, note = training_template(tokenizer, "conversational", assistant_only)
        if note:
            notes.append(note)
        if on and row_has_loss_weights(row):  # weight-0 replies: context only, no loss
            ids, mask, note = conversation_ids_and_mask(row["messages"], tokenizer, tools, template)
            return ids, mask, notes + ([note] if note else [])
        out = _chat(tokenizer, row["messages"], tools=tools, chat_template=template, return_assistant_tokens_mask=on)
        ids = out["input_ids"]
        mask = out.get("assistant_masks") if on else None
        return ids, list(mask) if mask is not None else [1] * len(ids), notes
    if "prompt" in row and "completion" in row:
        prompt, completion = row["prompt"], row["completion"]
        if isinstance(prompt, list):
            prompt_ids = _chat(tokenizer, prompt, tools=tools, add_generation_prompt=True)["input_ids"]
            ids = _chat(tokenizer, prompt + completion, tools=tools)["input_ids"]
        else:
            eos = tokenizer.eos_token or ""
            prompt_ids = _text_ids(tokenizer, prompt)
            ids = _text_ids(tokenizer, prompt + (completion if completion.endswith(eos) else completion + eos))
        start = common_prefix_length(prompt_ids, ids)
        if not assistant_only:
            return ids, [1] * len(ids), notes
        return ids, [0] * start + [1] * (len(ids) - start), notes
    text = row.get("text", "")
    eos = tokenizer.eos_token or ""
    ids = _text_ids(tokenizer, text if text.endswith(eos) else text + eos)
    return ids, [1] * len(ids), notes


def row_kind(row: dict, trl_type: str | None = None) -> str:
    """The TRL type of a normalised row (given, or guessed from its keys)."""
    if trl_type:
        return trl_type
    if "messages" in row:
        return "conversational"
    if "chosen" in row:
        return "preference"
    if "prompt" in row:
        return ("unpaired_preference" if "label" in row else "prompt_completion") if "completion" in row else "prompt_only"
    return "text"


def count_tokens(row: dict, tokenizer, trl_type: str | None = None) -> int:
    """Tokens of the longest sequence the trainer builds from this normalised row."""
    tools = row.get("tools")
    kind = row_kind(row, trl_type)
    if kind == "preference":
        return max(len(ids) for ids, _ in _preference_sides(row, tokenizer).values())
    if kind == "prompt_only":
        prompt = row["prompt"]
        if isinstance(prompt, list):
            return len(_chat(tokenizer, prompt, tools=tools, add_generation_prompt=True)["input_ids"])
        return len(_text_ids(tokenizer, prompt))
    if "messages" in row:
        return len(_chat(tokenizer, row["messages"], tools=tools)["input_ids"])
    return len(sft_token_mask(row, tokenizer, assistant_only=False)[0])


def _preference_prompt(row: dict) -> tuple[object, object, object]:
    """(prompt, chosen, rejected) with an implicit prompt taken out as TRL does (the shared leading messages)."""
    prompt, chosen, rejected = row.get("prompt"), row["chosen"], row["rejected"]
    if prompt is None and isinstance(chosen, list) and isinstance(rejected, list):
        n = 0
        while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
            n += 1
        while n > 0 and chosen[n - 1].get("role") == "assistant":  # the prompt ends before an answer
            n -= 1
        prompt, chosen, rejected = chosen[:n], chosen[n:], rejected[n:]
    return prompt, chosen, rejected


def _preference_sides(row: dict, tokenizer) -> dict[str, tuple[list[int] | None, int]]:
    """{"chosen": (prompt+answer ids, prompt length), "rejected": ...}."""
    prompt, chosen, rejected = _preference_prompt(row)
    tools = row.get("tools")
    out = {}
    for side, answer in (("chosen", chosen), ("rejected", rejected)):
        if isinstance(answer, list):
            if prompt:
                prompt_ids = _chat(tokenizer, prompt, tools=tools, add_generation_prompt=True)["input_ids"]
                ids = _chat(tokenizer, prompt + answer, tools=tools)["input_ids"]
            else:
                prompt_ids, ids = [], _chat(tokenizer, answer, tools=tools)["input_ids"]
        else:
            prompt_ids = _text_ids(tokenizer, prompt) if prompt else []
            ids = _text_ids(tokenizer, (prompt or "") + answer)
        out[side] = (ids, common_prefix_length(prompt_ids, ids))
    return out


def _spans(tokenizer, ids: list[int], mask: list[int], max_length: int | None, offset: int = 0) -> list[TokenSpan]:
    """One span per token (tokens that only decode together, e.g. the bytes of one character, are merged)."""
    spans: list[TokenSpan] = []
    i = 0
    n = min(len(ids), MAX_SHOWN_TOKENS)
    while i < n:
        j = i + 1
        text = tokenizer.decode(ids[i:j], skip_special_tokens=False)
        while "\ufffd" in text and j < min(n, i + 4):
            j += 1
            text = tokenizer.decode(ids[i:j], skip_special_tokens=False)
        truncated = max_length is not None and offset + i >= max_length
        spans.append(TokenSpan(text, bool(mask[i]), truncated))
        i = j
    if len(ids) > n:
        spans.append(TokenSpan(f" … {len(ids) - n} more tokens not shown", False, True))
    return spans


def _part(tokenizer, label: str, ids: list[int], mask: list[int], max_length: int | None, offset: int = 0) -> RenderedPart:
    return RenderedPart(label, _spans(tokenizer, ids, mask, max_length, offset), len(ids), int(sum(mask)))


def render_example(row: dict, tokenizer, max_length: int | None = None, row_number: int | None = None,
                   assistant_only: bool = True, trl_type: str | None = None) -> RenderedExample:
    """One normalised row (TRL shape) as the trainer sees it, token by token."""
    kind = row_kind(row, trl_type)
    if kind == "preference":
        sides = _preference_sides(row, tokenizer)
        ids, start = sides["chosen"]
        parts = [_part(tokenizer, "prompt", ids[:start], [0] * start, max_length)]
        for side in ("chosen", "rejected"):
            ids, start = sides[side]
            parts.append(_part(tokenizer, side, ids[start:], [1] * (len(ids) - start), max_length, start))
        return RenderedExample(row_number, "preference", parts, [
            "DPO raises the likelihood of the chosen answer over the rejected one, given the prompt."])
    if kind == "prompt_only":
        prompt = row["prompt"]
        if isinstance(prompt, list):
            ids = _chat(tokenizer, prompt, tools=row.get("tools"), add_generation_prompt=True)["input_ids"]
        else:
            ids = _text_ids(tokenizer, prompt)
        return RenderedExample(row_number, "prompt_only", [_part(tokenizer, "prompt", ids, [0] * len(ids), max_length)], [
            "The model generates completions for this prompt; the reward functions score them."])
    if kind == "unpaired_preference":
        ids, mask, notes = sft_token_mask(row, tokenizer)
        start = mask.index(1) if 1 in mask else len(ids)
        label = "desirable" if row["label"] else "undesirable"
        parts = [_part(tokenizer, "prompt", ids[:start], [0] * start, max_length),
                 _part(tokenizer, f"completion ({label})", ids[start:], mask[start:], max_length, start)]
        return RenderedExample(row_number, "unpaired_preference", parts, notes)
    ids, mask, notes = sft_token_mask(row, tokenizer, assistant_only)
    label = "conversation" if "messages" in row else "prompt + completion" if "prompt" in row else "text"
    return RenderedExample(row_number, "sft", [_part(tokenizer, label, ids, mask, max_length)], notes)
