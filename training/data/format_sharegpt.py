"""ShareGPT conversations and LLaMA-Factory's variants: preference (conversations + chosen/rejected
messages), KTO (messages or conversations + label/kto_tag) and v1 chosen_messages/rejected_messages."""

from __future__ import annotations

from collections.abc import Callable

from training.data.format_messages import (
    SHAREGPT_LOOKUP,
    SHAREGPT_ROLES,
    Problems,
    check_messages,
    common_prefix_length,
    finish_row,
    prompt_ends_on_user,
    read_chat,
    read_label,
    read_tools,
    sharegpt_fields,
    text_or_messages,
    type_name,
    with_system,
)


def _sharegpt(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    conv = record.get("conversations")
    if not isinstance(conv, list):
        return None, [("conversations", f"must be a list of {{from, value}} turns, got {type_name(conv)}")]
    msgs: list[dict] = []
    for i, turn in enumerate(conv):
        keys = ("role", "content") if isinstance(turn, dict) and "from" not in turn and "role" in turn else ("from", "value")
        speaker = turn.get(keys[0]) if isinstance(turn, dict) else None
        role = SHAREGPT_LOOKUP.get(speaker.strip().lower()) if isinstance(speaker, str) else None
        if role is None:
            got = repr(speaker) if isinstance(turn, dict) else f"a {type_name(turn)}"
            return None, [(f"conversations[{i}].{keys[0]}", f"is {got}; expected a turn {{from, value}} whose from is one "
                                                            f"of: {', '.join(SHAREGPT_ROLES)}")]
        msgs.append({**{k: v for k, v in turn.items() if k not in keys}, "role": role, "content": turn.get(keys[1])})
    out, problems = check_messages(with_system(msgs, record), "conversations", need_assistant)
    row = {"messages": out}
    read_tools(record, row, problems)
    return (row if not problems else None), sharegpt_fields(problems, "conversations")


def _sharegpt_preference(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    """LLaMA-Factory: the prompt in `conversations`, chosen and rejected as single {from, value} messages."""
    prompt, problems = read_chat(record, "conversations", need_assistant=False)
    if prompt is not None:
        problems = prompt_ends_on_user(prompt, "conversations")
    row: dict = {"prompt": prompt}
    for side in ("chosen", "rejected"):
        if record.get(side) is None:
            problems.append((side, f"is missing or null; every pair needs both a chosen and a rejected answer. "
                                   f"Fill in {side}, or drop the row"))
            continue
        row[side], more = text_or_messages(record, side, conversation=False, role="assistant")
        problems += more
    return finish_row(record, row, problems, "prompt", ("chosen", "rejected"))


def _split_pair(chosen: list[dict], rejected: list[dict]) -> dict:
    """Two whole conversations as TRL preference: their shared start, up to a user (or tool) turn, is the prompt."""
    shared = min(common_prefix_length(chosen, rejected), len(chosen) - 1, len(rejected) - 1)
    while shared and chosen[shared - 1]["role"] not in ("user", "tool"):
        shared -= 1
    if not shared:  # nothing shared: TRL takes them as conversations with an implicit prompt
        return {"chosen": chosen, "rejected": rejected}
    return {"prompt": chosen[:shared], "chosen": chosen[shared:], "rejected": rejected[shared:]}


def _messages_preference(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    """`chosen_messages`/`rejected_messages` (LLaMA-Factory v1): two whole conversations, the same up to the answer."""
    problems: Problems = []
    sides = {}
    for side in ("chosen_messages", "rejected_messages"):
        msgs, more = read_chat(record, side, need_assistant=True)
        problems += more
        sides[side] = msgs
    if problems:
        return None, problems
    row = _split_pair(sides["chosen_messages"], sides["rejected_messages"])
    return finish_row(record, row, problems, None, ())


def _chat_kto(name: str) -> Callable[[dict, bool], tuple[dict | None, Problems]]:
    def normalise(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
        """LLaMA-Factory KTO: a conversation and a label; the last assistant reply is the completion it judges."""
        msgs, problems = read_chat(record, name, need_assistant=True)
        label = read_label(record, problems)
        if problems:
            return None, problems
        row = {"prompt": msgs[:-1], "completion": msgs[-1:], "label": label}
        return finish_row(record, row, problems, "prompt", ("completion",))

    normalise.__name__ = f"_{name}_kto"
    return normalise


SHAREGPT_NORMALISERS = {
    "sharegpt": _sharegpt,
    "sharegpt_preference": _sharegpt_preference,
    "messages_preference": _messages_preference,
    "messages_kto": _chat_kto("messages"),
    "sharegpt_kto": _chat_kto("conversations"),
}
