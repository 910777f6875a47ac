"""TRL's own dataset types (its docs/source/dataset_formats.md), checked and put in one shape."""

from __future__ import annotations

from training.data.format_messages import Problems, check_messages, finish_row, read_label, read_tools, text_field, text_or_messages, with_system


def _messages(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    msgs = record.get("messages")
    if "system" in record and isinstance(msgs, list):
        msgs = with_system(msgs, record)
    out, problems = check_messages(msgs, "messages", need_assistant)
    row = {"messages": out}
    read_tools(record, row, problems)
    return (row if not problems else None), problems


def _text(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    text, p = text_field(record, "text")
    return ({"text": text} if p is None else None), ([p] if p else [])


def _prompt_completion(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    prompt, problems = text_or_messages(record, "prompt", conversation=True)
    completion, more = text_or_messages(record, "completion", conversation=False)
    problems += more
    row = {"prompt": prompt, "completion": completion}
    return finish_row(record, row, problems, "prompt", ("completion",))


def _prompt_only(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    prompt, problems = text_or_messages(record, "prompt", conversation=True)
    # the other columns stay: TRL passes them to reward functions (e.g. a reference `solution`)
    row = {k: v for k, v in record.items() if k not in ("prompt", "tools")}
    row["prompt"] = prompt
    read_tools(record, row, problems)
    return (row if not problems else None), problems


def _preference(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    explicit = record.get("prompt") is not None
    problems: Problems = []
    row: dict = {}
    if explicit:
        row["prompt"], problems = text_or_messages(record, "prompt", conversation=True, role="user")
    for side in ("chosen", "rejected"):
        if record.get(side) is None:
            problems.append((side, f"is missing or null; every pair needs both a chosen and a rejected answer. "
                                   f"Fill in {side}, or drop the row"))
            continue
        # with an implicit prompt, chosen/rejected are whole conversations that end with the answer
        value, more = text_or_messages(record, side, conversation=not explicit, role="assistant")
        row[side] = value
        problems += more
    return finish_row(record, row, problems, "prompt" if explicit else None, ("chosen", "rejected"))


def _unpaired_preference(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    prompt, problems = text_or_messages(record, "prompt", conversation=True)
    completion, more = text_or_messages(record, "completion", conversation=False)
    problems += more
    label = read_label(record, problems)
    row = {"prompt": prompt, "completion": completion, "label": label}
    return finish_row(record, row, problems, "prompt", ("completion",))


def _messages_prompt(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    """Chat messages that end on the user's turn, as TRL prompt-only rows (ms-swift's GRPO format); the other
    columns stay for the reward functions."""
    given = record.get("messages")
    msgs, problems = check_messages(with_system(given, record) if isinstance(given, list) else given, "messages")
    if not problems and msgs[-1]["role"] not in ("user", "tool"):
        problems = [("messages", f"ends on a {msgs[-1]['role']} message; a prompt ends with the user's turn the model "
                                 "answers (drop the last reply, or pick a method that trains on replies, like SFT)")]
    row = {k: v for k, v in record.items() if k not in ("messages", "system", "tools")}
    row["prompt"] = msgs
    read_tools(record, row, problems)
    return (row if not problems else None), problems


TRL_NORMALISERS = {
    "messages_prompt": _messages_prompt,
    "messages": _messages,
    "text": _text,
    "prompt_completion": _prompt_completion,
    "prompt_only": _prompt_only,
    "preference": _preference,
    "unpaired_preference": _unpaired_preference,
}
