"""Detecting a dataset's format from its columns and normalising rows to TRL's dataset types.

TRL types (see TRL's docs/source/dataset_formats.md): `conversational` ({"messages": [...]}),
`prompt_completion`, `text` (language modeling), `preference`, `unpaired_preference` and
`prompt_only`. Source formats such as ShareGPT and Alpaca are converted to `conversational`;
ShareGPT-style turns ({from, value}) inside preference data become {role, content} messages;
KTO labels given as 0/1 or "true"/"false" become booleans. Pure Python, no heavy imports.

Each normaliser returns `(row in TRL shape, [])` or `(None, [(field, message), ...])`, where the
message says what is wrong and how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

ROLES = ("system", "user", "assistant", "tool")
_ROLE_SET = frozenset(ROLES)
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "function_call": "assistant", "observation": "tool", "tool": "tool"}
_SHAREGPT_LOOKUP = {**SHAREGPT_ROLES, "model": "assistant", "bot": "assistant", "chatgpt": "assistant", "function": "tool"}
MESSAGE_KEYS = ("tool_calls", "name", "tool_call_id", "reasoning_content", "thinking")  # kept next to role/content
LABEL_WORDS = {"true": True, "false": False, "1": True, "0": False}

Problems = list[tuple[str, str]]
UNKNOWN = "?"  # the role before, when that message was broken


@dataclass(frozen=True)
class FormatInfo:
    source_format: str  # what the file looks like: messages, sharegpt, alpaca, prompt_completion, text, ...
    trl_type: str  # what it becomes
    description: str
    required: tuple[str, ...] = ()  # columns that identify it
    optional: tuple[str, ...] = ()  # columns it also reads


# In detection order: the first whose required columns are all present wins (see `candidate_formats`).
FORMATS = {
    "preference": FormatInfo("preference", "preference", "preference pairs (chosen/rejected)", ("chosen", "rejected"),
                             ("prompt", "tools")),
    "unpaired_preference": FormatInfo("unpaired_preference", "unpaired_preference",
                                      "prompt/completion with a good/bad label", ("prompt", "completion", "label"), ("tools",)),
    "messages": FormatInfo("messages", "conversational", "chat messages (role/content)", ("messages",), ("system", "tools")),
    "sharegpt": FormatInfo("sharegpt", "conversational", "ShareGPT conversations (from/value)", ("conversations",),
                           ("system", "tools")),
    "alpaca": FormatInfo("alpaca", "conversational", "Alpaca instruction/input/output", ("instruction", "output"),
                         ("input", "system", "history")),
    "prompt_completion": FormatInfo("prompt_completion", "prompt_completion", "prompt and completion",
                                    ("prompt", "completion"), ("tools",)),
    "text": FormatInfo("text", "text", "plain text", ("text",)),
    "prompt_only": FormatInfo("prompt_only", "prompt_only", "prompts only", ("prompt",), ("tools",)),
}
TRL_TYPE_COLUMNS = {  # what each TRL type needs, for messages that tell people what to provide
    "conversational": "messages (or conversations, or instruction+output)",
    "prompt_completion": "prompt+completion",
    "text": "text",
    "preference": "chosen+rejected (prompt optional)",
    "unpaired_preference": "prompt+completion+label",
    "prompt_only": "prompt",
}


def apply_column_map(record: dict, column_map: dict[str, str]) -> dict:
    if not column_map:
        return record
    return {column_map.get(k, k): v for k, v in record.items()}


def candidate_formats(columns) -> list[FormatInfo]:
    """Every format whose required columns are present, most specific first."""
    cols = set(columns)
    return [f for f in FORMATS.values() if cols.issuperset(f.required)]


def detect_format(columns, accepted: tuple[str, ...] | None = None) -> FormatInfo | None:
    """The most specific format the columns give; with `accepted` (TRL types), the first one of those."""
    candidates = candidate_formats(columns)
    if accepted is not None:
        for fmt in candidates:
            if fmt.trl_type in accepted:
                return fmt
    return candidates[0] if candidates else None


# --- pieces -----------------------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _content_text(content: object) -> str | None:
    """A message's content as text: a string, or a list of {type, text} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        texts = [p.get("text") for p in content if p.get("type", "text") == "text"]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    return None


def _text_field(record: dict, name: str) -> tuple[str | None, tuple[str, str] | None]:
    value = record.get(name)
    if value is None:
        return None, (name, "is missing or null; fill it in")
    if not isinstance(value, str):
        return None, (name, f"must be text, got {_type_name(value)}")
    if not value.strip():
        return None, (name, "is empty; fill it in or drop the row")
    return value, None


def _plain_chat_ok(messages: list, need_assistant: bool) -> bool:
    """The common case, checked fast: only {role, content} text messages, an optional system message first,
    user and assistant alternating from a user turn. False means "check it the slow way", not "invalid"."""
    previous = None
    for msg in messages:
        if type(msg) is not dict or len(msg) != 2:
            return False
        role = msg.get("role")
        content = msg.get("content")
        if type(content) is not str or not content or content.isspace():
            return False
        if role == "user":
            if previous == "user":
                return False
        elif role == "assistant":
            if previous != "user":
                return False
        elif role != "system" or previous is not None:
            return False
        previous = role
    return previous == "assistant" or (not need_assistant and previous is not None)


def _check_messages(messages: object, fld: str, need_assistant: bool = False, conversation: bool = True) -> tuple[list[dict], Problems]:
    """Check a list of {role, content} messages. `conversation`: a whole chat (order rules apply from the start);
    `need_assistant`: SFT rules (there must be an assistant reply, and the chat must end on one)."""
    if conversation and type(messages) is list and messages and _plain_chat_ok(messages, need_assistant):
        return messages, []
    if not isinstance(messages, list):
        return [], [(fld, f"must be a list of {{role, content}} messages, got {_type_name(messages)}")]
    if not messages:
        return [], [(fld, "is an empty conversation; add at least a user and an assistant message")]
    problems: Problems = []
    out: list[dict] = []
    previous = None
    for i, msg in enumerate(messages):
        if type(msg) is not dict:
            problems.append((f"{fld}[{i}]", f"must be an object with role and content, got {_type_name(msg)}"))
            previous = UNKNOWN  # a broken message: do not judge the order of the next one against it
            continue
        role = msg.get("role")
        if type(role) is not str or role not in _ROLE_SET:
            hint = f" (ShareGPT's {role!r} is {_SHAREGPT_LOOKUP[role]!r} here)" if isinstance(role, str) and role in _SHAREGPT_LOOKUP else ""
            problems.append((f"{fld}[{i}].role", f"is {role!r}; use one of: {', '.join(ROLES)}{hint}"))
            previous = UNKNOWN
            continue
        content = msg.get("content")
        tool_calls = msg.get("tool_calls")
        if type(content) is not str:
            if content is None and role == "assistant" and tool_calls:
                content = ""
            elif content is None:
                problems.append((f"{fld}[{i}].content", f"is null; write the {role} message's text or remove the message"))
                previous = UNKNOWN
                continue
            else:
                content = _content_text(content)
                if content is None:
                    got = _type_name(msg.get("content"))
                    problems.append((f"{fld}[{i}].content", f"must be text (or a list of {{type: text, text}} parts), got {got}"))
                    previous = UNKNOWN
                    continue
        if role != "system" and (not content or content.isspace()) and not tool_calls:
            problems.append((f"{fld}[{i}].content", f"the {role} message is empty; write its text or remove the message"))
            previous = UNKNOWN
            continue
        if tool_calls is not None and not (isinstance(tool_calls, list) and all(isinstance(c, dict) for c in tool_calls)):
            problems.append((f"{fld}[{i}].tool_calls", f"must be a list of {{type, function}} objects, got {_type_name(tool_calls)}"))
            previous = UNKNOWN
            continue
        if role == "system":
            if i != 0:
                problems.append((f"{fld}[{i}].role", "a system message may only come first; move it to the start or merge it"))
        elif role == "assistant":
            if previous == "assistant" and not tool_calls:
                problems.append((f"{fld}[{i}].role", "two assistant messages in a row; merge them or add the user turn between"))
            elif conversation and previous in (None, "system"):
                problems.append((f"{fld}[{i}].role", "the conversation starts with an assistant message; start with the user's turn"))
        elif role == "user":
            if previous == "user":
                problems.append((f"{fld}[{i}].role", "two user messages in a row; merge them or add the assistant reply between"))
        elif conversation and previous not in ("assistant", "tool", UNKNOWN):  # tool
            problems.append((f"{fld}[{i}].role", "a tool message must follow the assistant message that called the tool"))
        if len(msg) == 2 and content is msg.get("content"):
            out.append(msg)  # already {role, content}: no copy
        else:
            clean = {"role": role, "content": content}
            for key in MESSAGE_KEYS:
                value = msg.get(key)
                if value is not None:
                    clean[key] = value
            out.append(clean)
        previous = role
    if not problems and need_assistant:
        if not any(m["role"] == "assistant" for m in out):
            problems.append((fld, "has no assistant message, so there is nothing to learn; add the reply"))
        elif out[-1]["role"] in ("user", "tool"):
            problems.append((fld, f"ends on a {out[-1]['role']} message; end each conversation with the assistant's reply"))
    return out, problems


def _sharegpt_to_messages(turns: object, fld: str) -> tuple[list | None, Problems]:
    """[{from, value}, ...] to [{role, content}, ...]; other lists are returned as they are."""
    if not isinstance(turns, list):
        return None, [(fld, f"must be a list of {{from, value}} turns, got {_type_name(turns)}")]
    if not turns or not all(isinstance(t, dict) and "from" in t and "role" not in t for t in turns):
        return turns, []
    msgs = []
    for i, turn in enumerate(turns):
        speaker = turn.get("from")
        role = _SHAREGPT_LOOKUP.get(speaker.strip().lower()) if isinstance(speaker, str) else None
        if role is None:
            return None, [(f"{fld}[{i}].from", f"is {speaker!r}; use one of: {', '.join(SHAREGPT_ROLES)}")]
        msgs.append({"role": role, "content": turn.get("value")})
    return msgs, []


def _sharegpt_fields(problems: Problems, fld: str) -> Problems:
    """Name ShareGPT's own keys (from/value) in problems found on the converted messages."""
    return [(f.replace(".content", ".value").replace(".role", ".from") if f.startswith(fld) else f, m) for f, m in problems]


def _with_system(msgs: list[dict], record: dict) -> list[dict]:
    system = record.get("system")
    if isinstance(system, str) and system.strip() and not (msgs and isinstance(msgs[0], dict) and msgs[0].get("role") == "system"):
        return [{"role": "system", "content": system}, *msgs]
    return msgs


def _finish(record: dict, row: dict, problems: Problems, prompt: str | None,
            answers: tuple[str, ...]) -> tuple[dict | None, Problems]:
    """Last steps shared by the prompt/answer formats: the tools column, then one shape for prompt and answers."""
    _tools(record, row, problems)
    if problems:
        return None, problems
    _unify(row, prompt, answers)
    return row, []


def _tools(record: dict, out: dict, problems: Problems) -> None:
    """A `tools` column: a list of function schemas, or that list as a JSON string."""
    tools = record.get("tools")
    if tools is None or tools == "" or tools == []:
        return
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except ValueError:
            problems.append(("tools", "is text but not valid JSON; write a JSON list of function schemas"))
            return
    if not isinstance(tools, list):
        problems.append(("tools", f"must be a list of function schemas, got {_type_name(tools)}"))
        return
    for i, tool in enumerate(tools):
        fn = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            problems.append((f"tools[{i}]", 'has no function name; use {"type": "function", "function": {"name": ..., "parameters": {...}}}'))
            return
    out["tools"] = tools


def _text_or_messages(record: dict, name: str, *, conversation: bool, role: str | None = None) -> tuple[object, Problems]:
    """A prompt/completion/chosen/rejected value: text, {role, content} messages, ShareGPT turns or one message object."""
    value = record.get(name)
    if isinstance(value, dict) and ("role" in value or "from" in value):
        value = [value]
    if isinstance(value, list):
        converted, problems = _sharegpt_to_messages(value, name)
        if problems:
            return None, problems
        msgs, problems = _check_messages(converted, name, conversation=conversation)
        if problems:
            return None, _sharegpt_fields(problems, name) if converted is not value else problems
        if role and msgs and msgs[-1]["role"] != role:
            what = "the user's turn the answer replies to" if role == "user" else "the assistant's reply"
            return None, [(name, f"ends on a {msgs[-1]['role']} message; it should end with {what}")]
        return msgs, []
    text, problem = _text_field(record, name)
    return text, ([problem] if problem else [])


def _as_messages(value: object, role: str) -> object:
    return [{"role": role, "content": value}] if isinstance(value, str) else value


def _unify(out: dict, prompt_key: str | None, answer_keys: tuple[str, ...]) -> None:
    """TRL wants every field of a row either text or messages: wrap the text ones when any is a message list."""
    keys = ((prompt_key,) if prompt_key else ()) + answer_keys
    if any(isinstance(out.get(k), list) for k in keys) and any(isinstance(out.get(k), str) for k in keys):
        if prompt_key:
            out[prompt_key] = _as_messages(out[prompt_key], "user")
        for k in answer_keys:
            out[k] = _as_messages(out[k], "assistant")


def parse_label(value: object) -> bool | None:
    """A KTO label as a bool: true/false, 1/0, or the words "true"/"false"/"1"/"0"; None when it is none of them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return LABEL_WORDS.get(value.strip().lower())
    return None


# --- one normaliser per source format ---------------------------------------------------------------------


def _messages(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    msgs = record.get("messages")
    if "system" in record and isinstance(msgs, list):
        msgs = _with_system(msgs, record)
    out, problems = _check_messages(msgs, "messages", need_assistant)
    row = {"messages": out}
    _tools(record, row, problems)
    return (row if not problems else None), problems


def _sharegpt(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    conv = record.get("conversations")
    if not isinstance(conv, list):
        return None, [("conversations", f"must be a list of {{from, value}} turns, got {_type_name(conv)}")]
    msgs: list[dict] = []
    for i, turn in enumerate(conv):
        speaker = turn.get("from") if isinstance(turn, dict) else None
        role = _SHAREGPT_LOOKUP.get(speaker.strip().lower()) if isinstance(speaker, str) else None
        if role is None:
            got = speaker if isinstance(turn, dict) else _type_name(turn)
            return None, [(f"conversations[{i}].from", f"is {got!r}; use one of: {', '.join(SHAREGPT_ROLES)}")]
        msgs.append({"role": role, "content": turn.get("value")})
    out, problems = _check_messages(_with_system(msgs, record), "conversations", need_assistant)
    row = {"messages": out}
    _tools(record, row, problems)
    return (row if not problems else None), _sharegpt_fields(problems, "conversations")


def _alpaca(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    instruction, p1 = _text_field(record, "instruction")
    output, p2 = _text_field(record, "output")
    problems = [p for p in (p1, p2) if p]
    extra = record.get("input")
    if extra is not None and not isinstance(extra, str):
        problems.append(("input", f"must be text, got {_type_name(extra)}"))
    history = record.get("history") or []
    turns: list[dict] = []
    if not isinstance(history, list):
        problems.append(("history", f"must be a list of [instruction, response] pairs, got {_type_name(history)}"))
    else:
        for i, pair in enumerate(history):
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, str) and x.strip() for x in pair)):
                problems.append((f"history[{i}]", "must be a pair [instruction, response] of non-empty texts"))
                break
            turns += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    if problems:
        return None, problems
    user = instruction if not extra or not extra.strip() else f"{instruction}\n\n{extra}"
    msgs = _with_system([*turns, {"role": "user", "content": user}, {"role": "assistant", "content": output}], record)
    return {"messages": msgs}, []


def _text(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    text, p = _text_field(record, "text")
    return ({"text": text} if p is None else None), ([p] if p else [])


def _prompt_completion(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    prompt, problems = _text_or_messages(record, "prompt", conversation=True)
    completion, more = _text_or_messages(record, "completion", conversation=False)
    problems += more
    row = {"prompt": prompt, "completion": completion}
    return _finish(record, row, problems, "prompt", ("completion",))


def _prompt_only(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    prompt, problems = _text_or_messages(record, "prompt", conversation=True)
    # the other columns stay: TRL passes them to reward functions (e.g. a reference `solution`)
    row = {k: v for k, v in record.items() if k not in ("prompt", "tools")}
    row["prompt"] = prompt
    _tools(record, row, problems)
    return (row if not problems else None), problems


def _preference(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    explicit = record.get("prompt") is not None
    problems: Problems = []
    row: dict = {}
    if explicit:
        row["prompt"], problems = _text_or_messages(record, "prompt", conversation=True, role="user")
    for side in ("chosen", "rejected"):
        if record.get(side) is None:
            problems.append((side, f"is missing or null; every pair needs both a chosen and a rejected answer. "
                                   f"Fill in {side}, or drop the row"))
            continue
        # with an implicit prompt, chosen/rejected are whole conversations that end with the answer
        value, more = _text_or_messages(record, side, conversation=not explicit, role="assistant")
        row[side] = value
        problems += more
    return _finish(record, row, problems, "prompt" if explicit else None, ("chosen", "rejected"))


def _unpaired_preference(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    prompt, problems = _text_or_messages(record, "prompt", conversation=True)
    completion, more = _text_or_messages(record, "completion", conversation=False)
    problems += more
    label = parse_label(record.get("label"))
    if label is None:
        got = record.get("label")
        problems.append(("label", f"is {got!r} ({_type_name(got)}); a KTO label must be true (a good answer) or false "
                                  "(a bad one); 1/0 and \"true\"/\"false\" also work"))
    row = {"prompt": prompt, "completion": completion, "label": label}
    return _finish(record, row, problems, "prompt", ("completion",))


NORMALISERS: dict[str, Callable[[dict, bool], tuple[dict | None, Problems]]] = {
    "messages": _messages,
    "sharegpt": _sharegpt,
    "alpaca": _alpaca,
    "text": _text,
    "prompt_completion": _prompt_completion,
    "prompt_only": _prompt_only,
    "preference": _preference,
    "unpaired_preference": _unpaired_preference,
}


def normalise_record(record: dict, fmt: FormatInfo, need_assistant: bool = True) -> tuple[dict | None, Problems]:
    """Return the record in TRL shape, or None plus (field, message) problems.
    `need_assistant`: apply SFT's rules to conversations (an assistant reply is needed, and comes last)."""
    return NORMALISERS[fmt.source_format](record, need_assistant)


def record_text(normalised: dict) -> str:
    """All the text of a normalised record, for length checks without a tokenizer."""
    parts = []
    for value in normalised.values():
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(m.get("content", "") for m in value if isinstance(m, dict) and isinstance(m.get("content"), str))
    return "\n".join(parts)
