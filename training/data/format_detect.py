"""Which known format a dataset is in, from its column names (see `FORMATS`, in detection order)."""

from __future__ import annotations

from dataclasses import dataclass

COLUMN_ALIASES = {"kto_tag": "label"}  # LLaMA-Factory's name for the KTO label column


@dataclass(frozen=True)
class FormatInfo:
    source_format: str  # what the file looks like: messages, sharegpt, alpaca, prompt_completion, text, ...
    trl_type: str  # what it becomes
    description: str
    required: tuple[str, ...] = ()  # columns that identify it
    optional: tuple[str, ...] = ()  # columns it also reads


# In detection order: the first whose required columns are all present wins (see `candidate_formats`).
FORMATS = {
    "sharegpt_preference": FormatInfo("sharegpt_preference", "preference",
                                      "ShareGPT preference (conversations + chosen/rejected, LLaMA-Factory)",
                                      ("conversations", "chosen", "rejected"), ("system", "tools")),
    "messages_preference": FormatInfo("messages_preference", "preference",
                                      "preference conversations (chosen_messages/rejected_messages)",
                                      ("chosen_messages", "rejected_messages"), ("tools",)),
    "openai_preference": FormatInfo("openai_preference", "preference",
                                    "OpenAI preference (input + preferred_output/non_preferred_output)",
                                    ("input", "preferred_output", "non_preferred_output")),
    "swift_preference": FormatInfo("swift_preference", "preference",
                                   "ms-swift preference (messages ending on the chosen reply + rejected_response)",
                                   ("messages", "rejected_response"), ("system", "tools")),
    "swift_query_preference": FormatInfo("swift_query_preference", "preference",
                                         "ms-swift preference (query/response/history + rejected_response)",
                                         ("query", "response", "rejected_response"), ("system", "history", "tools")),
    "messages_kto": FormatInfo("messages_kto", "unpaired_preference", "chat messages with a good/bad label (KTO)",
                               ("messages", "label"), ("system", "tools")),
    "sharegpt_kto": FormatInfo("sharegpt_kto", "unpaired_preference",
                               "ShareGPT conversations with a good/bad label (KTO)", ("conversations", "label"),
                               ("system", "tools")),
    "preference": FormatInfo("preference", "preference", "preference pairs (chosen/rejected)", ("chosen", "rejected"),
                             ("prompt", "tools")),
    "unpaired_preference": FormatInfo("unpaired_preference", "unpaired_preference",
                                      "prompt/completion with a good/bad label", ("prompt", "completion", "label"), ("tools",)),
    "messages": FormatInfo("messages", "conversational", "chat messages (role/content)", ("messages",), ("system", "tools")),
    "messages_prompt": FormatInfo("messages_prompt", "prompt_only", "chat messages ending on the user's turn (prompts)",
                                  ("messages",), ("system", "tools")),
    "sharegpt": FormatInfo("sharegpt", "conversational", "ShareGPT conversations (from/value)", ("conversations",),
                           ("system", "tools")),
    "alpaca": FormatInfo("alpaca", "conversational", "Alpaca instruction/input/output", ("instruction", "output"),
                         ("input", "system", "history")),
    "swift_query": FormatInfo("swift_query", "conversational", "ms-swift query/response (with history, system)",
                              ("query", "response"), ("history", "system", "tools")),
    "swift_conversation": FormatInfo("swift_conversation", "conversational",
                                     "ms-swift conversation pairs ({human, assistant} turns)", ("conversation",),
                                     ("system", "tools")),
    "prompt_completion": FormatInfo("prompt_completion", "prompt_completion", "prompt and completion",
                                    ("prompt", "completion"), ("tools",)),
    "segments": FormatInfo("segments", "text", "Axolotl template-free segments (text + label true/false)",
                           ("segments",)),
    "text": FormatInfo("text", "text", "plain text", ("text",)),
    "prompt_only": FormatInfo("prompt_only", "prompt_only", "prompts only", ("prompt",), ("tools",)),
}
TRL_TYPE_COLUMNS = {  # what each TRL type needs, for messages that tell people what to provide
    "conversational": "messages (or conversations, instruction+output, query+response)",
    "prompt_completion": "prompt+completion",
    "text": "text (or segments)",
    "preference": "chosen+rejected (prompt optional)",
    "unpaired_preference": "prompt+completion+label",
    "prompt_only": "prompt (or messages ending on the user's turn)",
}


def apply_column_map(record: dict, column_map: dict[str, str]) -> dict:
    if not column_map:
        return record
    return {column_map.get(k, k): v for k, v in record.items()}


def candidate_formats(columns) -> list[FormatInfo]:
    """Every format whose required columns are present, most specific first (`kto_tag` counts as `label`)."""
    cols = set(columns)
    cols.update(COLUMN_ALIASES[c] for c in COLUMN_ALIASES if c in cols)
    return [f for f in FORMATS.values() if cols.issuperset(f.required)]


def detect_format(columns, accepted: tuple[str, ...] | None = None) -> FormatInfo | None:
    """The most specific format the columns give; with `accepted` (TRL types), the first one of those."""
    candidates = candidate_formats(columns)
    if accepted is not None:
        for fmt in candidates:
            if fmt.trl_type in accepted:
                return fmt
    return candidates[0] if candidates else None
