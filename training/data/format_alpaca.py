"""Alpaca rows (instruction, input, output, optional system and history) as a conversation."""

from __future__ import annotations

from training.data.format_messages import Problems, text_field, type_name, with_system


def history_turns(record: dict, problems: Problems) -> list[dict]:
    """A `history` column of [instruction, response] pairs (Alpaca, ms-swift) as user/assistant messages."""
    history = record.get("history") or []
    turns: list[dict] = []
    if not isinstance(history, list):
        problems.append(("history", f"must be a list of [instruction, response] pairs, got {type_name(history)}"))
        return turns
    for i, pair in enumerate(history):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, str) and x.strip() for x in pair)):
            problems.append((f"history[{i}]", f"must be a pair [instruction, response] of non-empty texts, got {pair!r:.80}"))
            break
        turns += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    return turns


def _alpaca(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    instruction, p1 = text_field(record, "instruction")
    output, p2 = text_field(record, "output")
    problems = [p for p in (p1, p2) if p]
    extra = record.get("input")
    if extra is not None and not isinstance(extra, str):
        problems.append(("input", f"must be text, got {type_name(extra)}"))
    turns = history_turns(record, problems)
    if problems:
        return None, problems
    user = instruction if not extra or not extra.strip() else f"{instruction}\n\n{extra}"
    msgs = with_system([*turns, {"role": "user", "content": user}, {"role": "assistant", "content": output}], record)
    return {"messages": msgs}, []


ALPACA_NORMALISERS = {
    "alpaca": _alpaca,
}
