"""Per-message and per-segment loss weights honoured in the loss mask.

TRL's SFTTrainer has no per-turn weights: it masks every assistant turn alike (`assistant_only_loss`). Rows that
say otherwise are tokenised here, the way SFTTrainer tokenises them, and handed to it already tokenised (a dataset
with `input_ids` is not tokenised again; its `assistant_masks` column becomes the labels, -100 where it is 0):

- a conversation whose assistant message carries `loss_weight: 0` (OpenAI's `weight: 0`, LLaMA-Factory v1's
  `loss_weight: 0`, kept by training.data.format_messages for replies before the last trained one): the chat
  template is applied with `return_assistant_tokens_mask=True`, which needs `{% generation %}` markers (the
  model's own, or those TRL adds to templates it knows); the k-th run of assistant tokens is the k-th assistant
  message, and the runs of weight-0 messages are zeroed. When the runs cannot be matched to the messages the
  mask is left as it is (every reply trained) and a note says so.
- Axolotl's template-free segments: each segment is tokenised alone, without special tokens, and the ids are
  concatenated; `label: false` segments carry no loss.

Without markers the template cannot say which tokens are a reply, so nothing is pre-tokenised: the loss covers the
whole conversation, weight-0 replies included, and `loss_weight_plan` returns a note that says so.
Importing this module is cheap; a tokenizer (and TRL, for its training template) is only used when called.
"""

from __future__ import annotations

import json

WEIGHT_KEY = "loss_weight"
MASK_COLUMN = "assistant_masks"


def _untrained(message: object) -> bool:
    return isinstance(message, dict) and message.get(WEIGHT_KEY) == 0 and message.get("role") == "assistant"


def row_has_loss_weights(row: dict) -> bool:
    """Whether a normalised row asks for a mask TRL cannot make itself (weight-0 replies, or masked segments)."""
    if isinstance(row.get("segments"), list):
        return any(isinstance(s, dict) and s.get("label") is False for s in row["segments"])
    messages = row.get("messages")
    return isinstance(messages, list) and any(_untrained(m) for m in messages)


def dataset_has_loss_weights(dataset) -> bool:
    """A `segments` column, or messages with a `loss_weight` (from the Arrow schema, or for messages stored as JSON
    text, a vectorised search of that text): no row is read into Python."""
    features = getattr(dataset, "features", None) or {}
    if "segments" in features:
        return True
    if "messages" not in features:
        return False
    import pyarrow as pa
    import pyarrow.compute as pc

    for chunk in dataset.data.column("messages").chunks:
        flat = pc.list_flatten(chunk)
        if isinstance(flat, pa.ExtensionArray):  # arrow.json: the messages as JSON text
            flat = flat.storage
        if pa.types.is_struct(flat.type):
            return flat.type.get_field_index(WEIGHT_KEY) >= 0
        if (pa.types.is_string(flat.type) or pa.types.is_large_string(flat.type)) and \
                pc.any(pc.match_substring(flat, f'"{WEIGHT_KEY}":0')).as_py():
            return True
    return False


def _runs(mask: list[int]) -> list[tuple[int, int]]:
    """[start, end) of each run of 1s."""
    runs, start = [], None
    for i, bit in enumerate(mask):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(mask)))
    return runs


def _flat(values) -> list[int]:
    values = list(values)
    return list(values[0]) if values and isinstance(values[0], list) else values


def conversation_ids_and_mask(messages: list[dict], tokenizer, tools=None, chat_template: str | None = None) -> tuple[list[int], list[int], str | None]:
    """(input_ids, loss mask, note) of a conversation: SFTTrainer's assistant mask, with the tokens of weight-0
    assistant messages zeroed. The note is set when the mask could not be matched to the messages."""
    clean = [{k: v for k, v in m.items() if k != WEIGHT_KEY} for m in messages]
    tools = json.loads(tools) if isinstance(tools, str) else tools
    out = tokenizer.apply_chat_template(clean, tools=tools, chat_template=chat_template, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    ids = _flat(out["input_ids"])
    mask = _flat(out.get(MASK_COLUMN) or [0] * len(ids))
    replies = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    runs = _runs(mask)
    if not any(_untrained(m) for m in replies):
        return ids, mask, None
    if len(runs) != len(replies):
        return ids, mask, (f"the chat template marks {len(runs)} stretch(es) of assistant tokens for {len(replies)} "
                           "assistant message(s), so weight-0 replies could not be told apart and are trained on too")
    for (start, end), message in zip(runs, replies, strict=True):
        if _untrained(message):
            mask[start:end] = [0] * (end - start)
    return ids, mask, None


def segment_ids_and_mask(segments: list[dict], tokenizer) -> tuple[list[int], list[int]]:
    """(input_ids, loss mask) of Axolotl segments: each tokenised alone, no special tokens added, then joined."""
    ids: list[int] = []
    mask: list[int] = []
    for seg in segments:
        piece = _flat(tokenizer(seg["text"], add_special_tokens=False)["input_ids"])
        ids += piece
        mask += [1 if seg.get("label", True) is not False else 0] * len(piece)
    return ids, mask


def weighted_ids_and_mask(row: dict, tokenizer, chat_template: str | None = None) -> tuple[list[int], list[int], str | None]:
    """(input_ids, loss mask, note) of one normalised row that has loss weights (see `row_has_loss_weights`)."""
    if isinstance(row.get("segments"), list):
        ids, mask = segment_ids_and_mask(row["segments"], tokenizer)
        return ids, mask, None
    return conversation_ids_and_mask(row["messages"], tokenizer, row.get("tools"), chat_template)


def tokenize_with_loss_weights(dataset, tokenizer, chat_template: str | None = None):
    """The dataset as SFTTrainer takes it already tokenised: `input_ids` and `assistant_masks` (the loss mask), and
    for conversations the `messages` too (TRL checks that assistant-only-loss data is conversational; it drops the
    column before batching). Returns (dataset, notes)."""
    notes: set[str] = set()
    keep = "messages" if "messages" in dataset.column_names else None

    def one(row: dict) -> dict:
        ids, mask, note = weighted_ids_and_mask(row, tokenizer, chat_template)
        if note:
            notes.add(note)
        return {"input_ids": ids, MASK_COLUMN: mask}

    out = dataset.map(one, remove_columns=[c for c in dataset.column_names if c != keep], desc="Tokenising with loss weights")
    return out, sorted(notes)


def loss_weight_plan(dataset, tokenizer, method: str, answers_only: bool, masks_supported: bool) -> tuple[bool, str | None, str | None]:
    """(pre-tokenise?, chat template to use (None: the model's own), note) for a normalised training dataset.
    `answers_only`: the run's "loss on answers only" setting; `masks_supported`: the template marks assistant
    turns (or TRL can add the markers)."""
    if method != "sft" or not dataset_has_loss_weights(dataset):
        return False, None, None
    if "segments" in dataset.column_names:
        if not answers_only:
            return False, None, ("Loss on answers only is off, so the segments' label false is ignored: every segment is "
                                 "trained on.")
        return True, None, None
    if not answers_only or not masks_supported:
        why = "loss on answers only is off" if not answers_only else "the chat template does not mark assistant turns"
        return False, None, (f"Assistant replies with weight 0 are trained on like the others: {why}, so the loss covers "
                             "the whole conversation.")
    template = getattr(tokenizer, "chat_template", None) or ""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    return True, (None if has_generation_markers(template) else get_training_chat_template(tokenizer)), None


def apply_loss_weights(data, tokenizer, method: str, answers_only: bool, masks_supported: bool) -> list[str]:
    """Pre-tokenise `data.train` and `data.eval` (a recipe TrainingData) when their rows carry loss weights; returns
    notes for the run. A no-op for datasets without weights."""
    go, template, note = loss_weight_plan(data.train, tokenizer, method, answers_only, masks_supported)
    notes = [note] if note else []
    if not go:
        return notes
    data.train, more = tokenize_with_loss_weights(data.train, tokenizer, template)
    if data.eval is not None:
        data.eval, extra = tokenize_with_loss_weights(data.eval, tokenizer, template)
        more = sorted(set(more) | set(extra))
    notes.append("Rows with per-message or per-segment loss weights were tokenised with those weights in the loss mask.")
    notes.extend(f"Some rows: {n}." for n in more)
    return notes
