"""OpenAI fine-tuning JSONL: preference rows (chat rows are plain `messages`, read by format_trl)."""

from __future__ import annotations

from training.data.format_messages import Problems, check_messages, finish_row, prompt_ends_on_user, type_name


def _openai_preference(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    """OpenAI's preference JSONL: {"input": {"messages": [...], "tools": [...]}, "preferred_output": [assistant
    message], "non_preferred_output": [assistant message]}."""
    given = record.get("input")
    if not isinstance(given, dict):
        return None, [("input", f'must be an object {{"messages": [...]}}, got {type_name(given)}')]
    prompt, problems = check_messages(given.get("messages"), "input.messages")
    if not problems:
        problems = prompt_ends_on_user(prompt, "input.messages")
    row: dict = {"prompt": prompt}
    for side, name in (("chosen", "preferred_output"), ("rejected", "non_preferred_output")):
        value = record.get(name)
        if isinstance(value, dict):
            value = [value]
        msgs, more = check_messages(value, name, conversation=False)
        if not more and msgs[-1]["role"] != "assistant":
            more = [(name, f"ends on a {msgs[-1]['role']} message; it should end with the assistant's reply")]
        row[side] = msgs
        problems += more
    tools = {"tools": given["tools"]} if given.get("tools") is not None else record
    return finish_row(tools, row, problems, "prompt", ("chosen", "rejected"))


OPENAI_NORMALISERS = {
    "openai_preference": _openai_preference,
}
