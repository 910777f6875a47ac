"""Detecting a dataset's format from its columns and normalising rows to TRL's dataset types.

TRL types (see TRL's docs/source/dataset_formats.md): `conversational` ({"messages": [...]}),
`prompt_completion`, `text` (language modeling), `preference`, `unpaired_preference` and
`prompt_only`. Source formats such as ShareGPT and Alpaca are converted to `conversational`.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("system", "user", "assistant", "tool")
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "function_call": "assistant", "observation": "tool", "tool": "tool"}


@dataclass(frozen=True)
class FormatInfo:
    source_format: str  # what the file looks like: messages, sharegpt, alpaca, prompt_completion, text, ...
    trl_type: str  # what it becomes
    description: str


FORMATS = {
    "messages": FormatInfo("messages", "conversational", "chat messages (role/content)"),
    "sharegpt": FormatInfo("sharegpt", "conversational", "ShareGPT conversations (from/value)"),
    "alpaca": FormatInfo("alpaca", "conversational", "Alpaca instruction/input/output"),
    "prompt_completion": FormatInfo("prompt_completion", "prompt_completion", "prompt and completion"),
    "text": FormatInfo("text", "text", "plain text"),
    "preference": FormatInfo("preference", "preference", "preference pairs (chosen/rejected)"),
    "unpaired_preference": FormatInfo("unpaired_preference", "unpaired_preference", "prompt/completion with a good/bad label"),
    "prompt_only": FormatInfo("prompt_only", "prompt_only", "prompts only"),
}


def apply_column_map(record: dict, column_map: dict[str, str]) -> dict:
    if not column_map:
        return record
    return {column_map.get(k, k): v for k, v in record.items()}


def detect_format(columns: list[str] | set[str]) -> FormatInfo | None:
    cols = set(columns)
    if {"chosen", "rejected"} <= cols:
        return FORMATS["preference"]
    if {"prompt", "completion", "label"} <= cols:
        return FORMATS["unpaired_preference"]
    if "messages" in cols:
        return FORMATS["messages"]
    if "conversations" in cols:
        return FORMATS["sharegpt"]
    if {"instruction", "output"} <= cols:
        return FORMATS["alpaca"]
    if {"prompt", "completion"} <= cols:
        return FORMATS["prompt_completion"]
    if "text" in cols:
        return FORMATS["text"]
    if "prompt" in cols:
        return FORMATS["prompt_only"]
    return None


def _content_text(content: object) -> str | None:
    """A message's content as text: a string, or a list of {type, text} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        texts = [p.get("text") for p in content if p.get("type", "text") == "text"]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    return None


def _check_messages(messages: object, fld: str, need_assistant: bool) -> tuple[list[dict], list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(messages, list):
        return [], [(fld, f"must be a list of {{role, content}} messages, got {type(messages).__name__}")]
    if not messages:
        return [], [(fld, "is an empty conversation; add at least a user and an assistant message")]
    out = []
    previous = None
    for i, msg in enumerate(messages):
        where = f"{fld}[{i}]"
        if not isinstance(msg, dict):
            problems.append((where, f"must be an object with role and content, got {type(msg).__name__}"))
            continue
        role = msg.get("role")
        if role not in ROLES:
            problems.append((f"{where}.role", f"is {role!r}; use one of: {', '.join(ROLES)}"))
            continue
        text = _content_text(msg.get("content"))
        if text is None:
            problems.append((f"{where}.content", f"must be text, got {type(msg.get('content')).__name__}"))
            continue
        if not text.strip() and role != "system":
            problems.append((f"{where}.content", f"the {role} message is empty; write its text or remove the message"))
            continue
        if role == "system" and i != 0:
            problems.append((f"{where}.role", "a system message may only come first"))
        if role == "assistant" and previous == "assistant":
            problems.append((f"{where}.role", "two assistant messages in a row; merge them or add the user turn between"))
        if role == "user" and previous == "user":
            problems.append((f"{where}.role", "two user messages in a row; merge them or add the assistant reply between"))
        out.append({"role": role, "content": text})
        previous = role
    if not problems and need_assistant:
        if not any(m["role"] == "assistant" for m in out):
            problems.append((fld, "has no assistant message, so there is nothing to learn; add the reply"))
        elif out[-1]["role"] == "user":
            problems.append((fld, "ends on a user message; end each conversation with the assistant's reply"))
    return out, problems


def _text_field(record: dict, name: str) -> tuple[str | None, tuple[str, str] | None]:
    value = record.get(name)
    if value is None:
        return None, (name, "is missing or null; fill it in")
    if not isinstance(value, str):
        return None, (name, f"must be text, got {type(value).__name__}")
    if not value.strip():
        return None, (name, "is empty; fill it in or drop the row")
    return value, None


def normalise_record(record: dict, fmt: FormatInfo, need_assistant: bool = True) -> tuple[dict | None, list[tuple[str, str]]]:
    """Return the record in TRL shape, or None plus (field, message) problems."""
    name = fmt.source_format
    if name == "messages":
        msgs, problems = _check_messages(record.get("messages"), "messages", need_assistant)
        return ({"messages": msgs} if not problems else None), problems
    if name == "sharegpt":
        conv = record.get("conversations")
        if not isinstance(conv, list):
            return None, [("conversations", f"must be a list of {{from, value}} turns, got {type(conv).__name__}")]
        msgs: list[dict] = []
        for i, turn in enumerate(conv):
            speaker = turn.get("from") if isinstance(turn, dict) else None
            if not isinstance(speaker, str) or speaker not in SHAREGPT_ROLES:
                got = speaker if isinstance(turn, dict) else type(turn).__name__
                return None, [(f"conversations[{i}].from", f"is {got!r}; use one of: {', '.join(SHAREGPT_ROLES)}")]
            msgs.append({"role": SHAREGPT_ROLES[turn["from"]], "content": turn.get("value")})
        out, problems = _check_messages(msgs, "conversations", need_assistant)
        return ({"messages": out} if not problems else None), problems
    if name == "alpaca":
        instruction, p1 = _text_field(record, "instruction")
        output, p2 = _text_field(record, "output")
        problems = [p for p in (p1, p2) if p]
        extra = record.get("input")
        if extra is not None and not isinstance(extra, str):
            problems.append(("input", f"must be text, got {type(extra).__name__}"))
        if problems:
            return None, problems
        user = instruction if not extra or not extra.strip() else f"{instruction}\n\n{extra}"
        msgs = []
        system = record.get("system")
        if isinstance(system, str) and system.strip():
            msgs.append({"role": "system", "content": system})
        msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
        return {"messages": msgs}, []
    if name == "text":
        text, p = _text_field(record, "text")
        return ({"text": text} if p is None else None), ([p] if p else [])
    if name in ("prompt_completion", "prompt_only"):
        fields = ("prompt", "completion") if name == "prompt_completion" else ("prompt",)
        out: dict = {}
        problems = []
        for f in fields:
            value = record.get(f)
            if isinstance(value, list):
                msgs, probs = _check_messages(value, f, need_assistant=False)
                out[f] = msgs
                problems += probs
            else:
                text, p = _text_field(record, f)
                out[f] = text
                if p:
                    problems.append(p)
        return (out if not problems else None), problems
    return None, [("(row)", f"the {fmt.description} format is not supported by this method yet")]


def record_text(normalised: dict) -> str:
    """All the text of a normalised record, for length checks without a tokenizer."""
    parts = []
    for value in normalised.values():
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(m.get("content", "") for m in value if isinstance(m, dict))
    return "\n".join(parts)
