"""ms-swift's dataset formats (its docs: Customization/Custom-dataset.md), besides the `messages` and Alpaca ones
that read as TRL conversations and Alpaca:

- query/response: {"system", "query", "response", "history": [[query, response], ...]} is a conversation;
- DPO: `messages` (or query/response) plus `rejected_response`: the last assistant message is the chosen answer,
  `rejected_response` the rejected one, everything before it the prompt;
- KTO: `messages` plus a boolean `label` (read by format_sharegpt's chat KTO);
- its ShareGPT: {"system", "conversation": [{"human": ..., "assistant": ...}, ...]} is a conversation.
"""

from __future__ import annotations

from training.data.format_alpaca import history_turns
from training.data.format_messages import Problems, check_messages, finish_row, read_tools, text_field, type_name, with_system

PAIR_KEYS = (("human", "assistant"), ("user", "assistant"), ("query", "response"))  # one turn of `conversation`


def _query_messages(record: dict, problems: Problems) -> list[dict]:
    """system, history, query and response as messages (nothing when a field is wrong: see `problems`)."""
    query, p1 = text_field(record, "query")
    response, p2 = text_field(record, "response")
    problems.extend(p for p in (p1, p2) if p)
    turns = history_turns(record, problems)
    if problems:
        return []
    return with_system([*turns, {"role": "user", "content": query}, {"role": "assistant", "content": response}], record)


def _swift_query(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    problems: Problems = []
    msgs = _query_messages(record, problems)
    if problems:
        return None, problems
    row = {"messages": msgs}
    read_tools(record, row, problems)
    return (row if not problems else None), problems


def _rejected(record: dict, problems: Problems) -> list[dict] | None:
    rejected, problem = text_field(record, "rejected_response")
    if problem:
        problems.append((problem[0], problem[1] + " (the rejected answer to the last user turn, as text)"))
        return None
    return [{"role": "assistant", "content": rejected}]


def _split_chosen(msgs: list[dict], fld: str, problems: Problems) -> tuple[list[dict], list[dict]]:
    if msgs[-1]["role"] != "assistant":
        problems.append((fld, f"ends on a {msgs[-1]['role']} message; with rejected_response, the conversation must end "
                              "with the chosen assistant reply"))
        return [], []
    return msgs[:-1], msgs[-1:]


def _swift_preference(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    """messages + rejected_response."""
    given = record.get("messages")
    msgs, problems = check_messages(with_system(given, record) if isinstance(given, list) else given, "messages", need_assistant=True)
    rejected = _rejected(record, problems)
    if problems:
        return None, problems
    prompt, chosen = _split_chosen(msgs, "messages", problems)
    return finish_row(record, {"prompt": prompt, "chosen": chosen, "rejected": rejected}, problems, "prompt", ("chosen", "rejected"))


def _swift_query_preference(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    """query/response/history + rejected_response."""
    problems: Problems = []
    msgs = _query_messages(record, problems)
    rejected = _rejected(record, problems)
    if problems:
        return None, problems
    return finish_row(record, {"prompt": msgs[:-1], "chosen": msgs[-1:], "rejected": rejected}, problems, "prompt",
                      ("chosen", "rejected"))


def _swift_conversation(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    """`conversation`: [{"human": ..., "assistant": ...}, ...] pairs (ms-swift's ShareGPT)."""
    given = record.get("conversation")
    if not isinstance(given, list) or not given:
        return None, [("conversation", f'must be a list of {{"human": ..., "assistant": ...}} turns, got {type_name(given)}'
                                       f"{' (empty)' if given == [] else ''}")]
    msgs: list[dict] = []
    for i, pair in enumerate(given):
        keys = next((k for k in PAIR_KEYS if isinstance(pair, dict) and k[0] in pair), None)
        if keys is None:
            got = f"keys {sorted(pair)}" if isinstance(pair, dict) else f"a {type_name(pair)}"
            return None, [(f"conversation[{i}]", f'has {got}; expected a turn {{"human": ..., "assistant": ...}}')]
        msgs.append({"role": "user", "content": pair.get(keys[0])})
        if pair.get(keys[1]) is not None or i == len(given) - 1:
            msgs.append({"role": "assistant", "content": pair.get(keys[1])})
    full = with_system(msgs, record)
    out, problems = check_messages(full, "conversation", need_assistant)
    if problems:  # name the user's own keys: conversation[i].human / .assistant
        return None, [(_pair_field(f, msgs, len(full) - len(msgs)), m) for f, m in problems]
    row = {"messages": out}
    read_tools(record, row, problems)
    return (row if not problems else None), problems


def _pair_field(fld: str, msgs: list[dict], offset: int) -> str:
    """conversation[j]... of the flattened messages (after `offset` system messages) as conversation[i].human or
    .assistant of the user's pairs."""
    head, _, rest = fld.partition("[")
    index = rest.partition("]")[0]
    if not index.isdigit() or int(index) < offset:
        return fld
    j = int(index) - offset
    pair = sum(1 for m in msgs[: j + 1] if m["role"] == "user") - 1
    return f"{head}[{max(0, pair)}].{'human' if msgs[j]['role'] == 'user' else 'assistant'}"


SWIFT_NORMALISERS = {
    "swift_query": _swift_query,
    "swift_preference": _swift_preference,
    "swift_query_preference": _swift_query_preference,
    "swift_conversation": _swift_conversation,
}
