"""Checking chat messages, and the fields every source format shares (texts, tools, labels, system prompts).

Each check returns what it read plus `Problems`: (field path, message) pairs whose message says what was found,
what is expected and how to fix it. Content parts ({type, text} as OpenAI and TRL write them, {type, value} as
LLaMA-Factory v1 does) are joined into text; reasoning parts become the assistant message's `reasoning_content`.
Per-message loss weights (OpenAI `weight`, LLaMA-Factory `loss_weight`): an SFT conversation is cut after its
last trained reply, and an earlier weight-0 reply keeps `loss_weight: 0` so that training can leave it out of
the loss (training.data.loss_weights). Pure Python, no heavy imports.
"""

from __future__ import annotations

import json

ROLES = ("system", "user", "assistant", "tool")
ROLE_SET = frozenset(ROLES)
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "function_call": "assistant", "observation": "tool", "tool": "tool"}
SHAREGPT_LOOKUP = {**SHAREGPT_ROLES, "model": "assistant", "bot": "assistant", "chatgpt": "assistant", "function": "tool"}
MESSAGE_KEYS = ("tool_calls", "name", "tool_call_id", "reasoning_content", "thinking")  # kept next to role/content
WEIGHT_KEYS = ("weight", "loss_weight")  # OpenAI's 0/1 per assistant message; LLaMA-Factory v1's per message
TEXT_PARTS = frozenset(("text", "input_text", "output_text"))
REASONING_PARTS = frozenset(("reasoning", "thinking"))
TOOL_CALL_PARTS = frozenset(("tool_call", "tool_calls", "function_call"))
LABEL_WORDS = {"true": True, "false": False, "1": True, "0": False}

Problems = list[tuple[str, str]]
UNKNOWN = "?"  # the role before, when that message was broken


def type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _part_call(value: object) -> dict | None:
    """A tool_call part's value ({"name", "arguments"}, or that object as JSON text) as a TRL tool call."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get("function"), dict):
        return value  # already {"type": "function", "function": {...}}
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return {"type": "function", "function": value}
    return None


def _read_parts(content: object, fld: str) -> tuple[str, str, list[dict], tuple[str, str] | None]:
    """Content given as parts: (text, reasoning, tool calls, problem). Parts are {type, text} (OpenAI, TRL) or
    {type, value} (LLaMA-Factory v1); text parts are joined, reasoning parts and tool_call parts kept apart."""
    parts = [content] if isinstance(content, dict) else content
    if not isinstance(parts, list):
        return "", "", [], (fld, f"must be text (or a list of {{type: text, text}} parts), got {type_name(content)}")
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict] = []
    for i, part in enumerate(parts):
        where = f"{fld}[{i}]" if content is parts else fld
        if isinstance(part, str):  # a bare string among parts
            texts.append(part)
            continue
        if not isinstance(part, dict):
            return "", "", [], (where, f"must be a {{type, text}} part, got {type_name(part)}")
        kind = part.get("type", "text")
        if not isinstance(kind, str):  # a list or an object would not even compare with the known types
            return "", "", [], (f"{where}.type", f"must be text such as \"text\", got {type_name(kind)}")
        value = part["text"] if "text" in part else part.get("value", part.get("content"))
        if kind in TEXT_PARTS or kind in REASONING_PARTS:
            if not isinstance(value, str):
                return "", "", [], (where, f"is a {kind!r} part without text; put its words under \"text\" (or \"value\"), "
                                           f"got {type_name(value)}")
            (texts if kind in TEXT_PARTS else reasoning).append(value)
        elif kind in TOOL_CALL_PARTS:
            call = _part_call(value)
            if call is None:
                return "", "", [], (where, 'is a tool_call part whose value is not {"name": ..., "arguments": {...}} '
                                           "(as an object or JSON text)")
            calls.append(call)
        else:
            return "", "", [], (where, f"is a {kind!r} part; only text, reasoning and tool_call parts can be trained on "
                                       "here (images and audio are not supported); remove it or describe it in text")
    return "".join(texts), "\n".join(reasoning), calls, None


def message_weight(msg: dict) -> object:
    """The message's own loss weight (OpenAI `weight`, LLaMA-Factory `loss_weight`), None when it has none."""
    for key in WEIGHT_KEYS:
        if key in msg:
            return msg[key]
    return None


def text_field(record: dict, name: str) -> tuple[str | None, tuple[str, str] | None]:
    value = record.get(name)
    if value is None:
        return None, (name, "is missing or null; fill it in")
    if not isinstance(value, str):
        return None, (name, f"must be text, got {type_name(value)}")
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


def check_messages(messages: object, fld: str, need_assistant: bool = False, conversation: bool = True) -> tuple[list[dict], Problems]:
    """Check a list of {role, content} messages. `conversation`: a whole chat (order rules apply from the start);
    `need_assistant`: SFT rules (there must be an assistant reply, and the chat must end on one)."""
    if conversation and type(messages) is list and messages and _plain_chat_ok(messages, need_assistant):
        return messages, []
    if not isinstance(messages, list):
        return [], [(fld, f"must be a list of {{role, content}} messages, got {type_name(messages)}")]
    if not messages:
        return [], [(fld, "is an empty conversation; add at least a user and an assistant message")]
    problems: Problems = []
    out: list[dict] = []
    weights: dict[int, object] = {}  # index in `out` -> that message's own loss weight
    previous = None
    for i, msg in enumerate(messages):
        if type(msg) is not dict:
            problems.append((f"{fld}[{i}]", f"must be an object with role and content, got {type_name(msg)}"))
            previous = UNKNOWN  # a broken message: do not judge the order of the next one against it
            continue
        role = msg.get("role")
        if type(role) is not str or role not in ROLE_SET:
            hint = f" (ShareGPT's {role!r} is {SHAREGPT_LOOKUP[role]!r} here)" if isinstance(role, str) and role in SHAREGPT_LOOKUP else ""
            if role is None and "from" in msg:
                hint = (" (this is a ShareGPT turn {from, value}: name the column conversations, which is read as "
                        "ShareGPT, or write {role, content} messages)")
            problems.append((f"{fld}[{i}].role", f"is {role!r}; use one of: {', '.join(ROLES)}{hint}"))
            previous = UNKNOWN
            continue
        content = msg.get("content")
        tool_calls = msg.get("tool_calls")
        reasoning = ""
        if type(content) is not str:
            if content is None and role == "assistant" and tool_calls:
                content = ""
            elif content is None:
                problems.append((f"{fld}[{i}].content", f"is null; write the {role} message's text or remove the message"))
                previous = UNKNOWN
                continue
            else:
                content, reasoning, part_calls, problem = _read_parts(content, f"{fld}[{i}].content")
                if problem is None and (reasoning or part_calls) and role != "assistant":
                    what = "reasoning" if reasoning else "tool_call"
                    problem = (f"{fld}[{i}].content", f"has a {what} part in a {role} message; only the assistant's "
                                                       "messages can carry them")
                if problem is not None:
                    problems.append(problem)
                    previous = UNKNOWN
                    continue
                if part_calls:
                    tool_calls = [*(tool_calls if isinstance(tool_calls, list) else []), *part_calls]
        weight = message_weight(msg)
        if weight is not None and (type(weight) not in (int, float) or not 0 <= weight):
            key = "weight" if "weight" in msg else "loss_weight"
            problems.append((f"{fld}[{i}].{key}", f"is {weight!r}; a message's {key} must be a number: 1 to train on "
                                                  "the reply, 0 to keep it as context only"))
            previous = UNKNOWN
            continue
        if weight is not None and "weight" in msg and weight not in (0, 1):  # OpenAI's weight is 0 or 1, nothing else
            problems.append((f"{fld}[{i}].weight", f"is {weight!r}; OpenAI's weight is 0 (keep the reply as context "
                                                   "only) or 1 (train on it). For other values use loss_weight"))
            previous = UNKNOWN
            continue
        if role != "system" and (not content or content.isspace()) and not tool_calls:
            problems.append((f"{fld}[{i}].content", f"the {role} message is empty; write its text or remove the message"))
            previous = UNKNOWN
            continue
        if tool_calls is not None and not (isinstance(tool_calls, list) and all(isinstance(c, dict) for c in tool_calls)):
            problems.append((f"{fld}[{i}].tool_calls", f"must be a list of {{type, function}} objects, got {type_name(tool_calls)}"))
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
            if tool_calls:
                clean["tool_calls"] = tool_calls
            if reasoning and not clean.get("reasoning_content"):
                clean["reasoning_content"] = reasoning
            out.append(clean)
            if weight is not None:
                weights[len(out) - 1] = weight
        previous = role
    if not problems and need_assistant and weights:
        out, problem = _trim_untrained(out, weights, fld)
        if problem:
            problems.append(problem)
        for j, weight in weights.items():  # replies kept as context only: training leaves them out of the loss
            if weight == 0 and j < len(out) and out[j]["role"] == "assistant":
                out[j]["loss_weight"] = 0
    if not problems and need_assistant:
        if not any(m["role"] == "assistant" for m in out):
            problems.append((fld, "has no assistant message, so there is nothing to learn; add the reply"))
        elif out[-1]["role"] in ("user", "tool"):
            problems.append((fld, f"ends on a {out[-1]['role']} message; end each conversation with the assistant's reply"))
    return out, problems


def _trim_untrained(out: list[dict], weights: dict[int, object], fld: str) -> tuple[list[dict], tuple[str, str] | None]:
    """SFT with per-message weights, when the last assistant reply has weight 0: cut the conversation after the
    last reply that is trained on (weight > 0; no weight counts as 1). What follows it is never learned and is no
    one's context. Weight-0 replies before that one stay as context, marked `loss_weight: 0` (see `row_notes`)."""
    replies = [j for j, m in enumerate(out) if m["role"] == "assistant"]
    if not replies or weights.get(replies[-1], 1) != 0:
        return out, None
    trained = [j for j in replies if weights.get(j, 1) != 0]
    if not trained:
        return out, (fld, "every assistant message has weight 0, so there is nothing to learn; give the reply to "
                          "train on weight 1, or drop the row")
    return out[:trained[-1] + 1], None


def row_notes(record: dict) -> tuple[str, ...]:
    """What normalising this (valid) conversational record cannot honour, as keys of NOTES."""
    notes: list[str] = []
    for key in ("messages", "conversations"):
        msgs = record.get(key)
        if not isinstance(msgs, list):
            continue
        untrained_before = middle = odd = False
        for msg in msgs:
            if type(msg) is not dict or msg.get("role", msg.get("from")) not in ("assistant", "gpt"):
                continue
            weight = message_weight(msg) if len(msg) > 2 else None
            if type(weight) not in (int, float):
                weight = 1
            if weight == 0:
                untrained_before = True
                continue
            middle = middle or untrained_before  # a weight-0 reply before a trained one is learned too
            odd = odd or weight != 1
        if middle:
            notes.append("weight_0_in_middle")
        if odd:
            notes.append("fractional_weight")
    return tuple(notes)


NOTES = {
    "weight_0_in_middle": "have an assistant reply with weight 0 before a trained one; it stays as context and is left "
                          "out of the loss when the loss covers answers only and the chat template marks them (with "
                          "{% generation %}, or a template TRL can mark); otherwise it is trained on like the others",
    "fractional_weight": "have assistant weights between 0 and 1; TRL cannot scale the loss per message, so they "
                         "count as 1",
}


def sharegpt_to_messages(turns: object, fld: str) -> tuple[list | None, Problems]:
    """[{from, value}, ...] to [{role, content}, ...]; other lists are returned as they are."""
    if not isinstance(turns, list):
        return None, [(fld, f"must be a list of {{from, value}} turns, got {type_name(turns)}")]
    if not turns or not all(isinstance(t, dict) and "from" in t and "role" not in t for t in turns):
        return turns, []
    msgs = []
    for i, turn in enumerate(turns):
        speaker = turn.get("from")
        role = SHAREGPT_LOOKUP.get(speaker.strip().lower()) if isinstance(speaker, str) else None
        if role is None:
            return None, [(f"{fld}[{i}].from", f"is {speaker!r}; use one of: {', '.join(SHAREGPT_ROLES)}")]
        msgs.append({"role": role, "content": turn.get("value")})
    return msgs, []


def sharegpt_fields(problems: Problems, fld: str) -> Problems:
    """Name ShareGPT's own keys (from/value) in problems found on the converted messages."""
    return [(f.replace(".content", ".value").replace(".role", ".from") if f.startswith(fld) else f, m) for f, m in problems]


def with_system(msgs: list[dict], record: dict) -> list[dict]:
    system = record.get("system")
    if isinstance(system, str) and system.strip() and not (msgs and isinstance(msgs[0], dict) and msgs[0].get("role") == "system"):
        return [{"role": "system", "content": system}, *msgs]
    return msgs


def finish_row(record: dict, row: dict, problems: Problems, prompt: str | None,
            answers: tuple[str, ...]) -> tuple[dict | None, Problems]:
    """Last steps shared by the prompt/answer formats: the tools column, then one shape for prompt and answers."""
    read_tools(record, row, problems)
    if problems:
        return None, problems
    _unify(row, prompt, answers)
    return row, []


def read_tools(record: dict, out: dict, problems: Problems) -> None:
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
        problems.append(("tools", f"must be a list of function schemas, got {type_name(tools)}"))
        return
    for i, tool in enumerate(tools):
        fn = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            problems.append((f"tools[{i}]", 'has no function name; use {"type": "function", "function": {"name": ..., "parameters": {...}}}'))
            return
    out["tools"] = tools


def text_or_messages(record: dict, name: str, *, conversation: bool, role: str | None = None) -> tuple[object, Problems]:
    """A prompt/completion/chosen/rejected value: text, {role, content} messages, ShareGPT turns or one message object."""
    value = record.get(name)
    if isinstance(value, dict) and ("role" in value or "from" in value):
        value = [value]
    if isinstance(value, list):
        converted, problems = sharegpt_to_messages(value, name)
        if problems:
            return None, problems
        msgs, problems = check_messages(converted, name, conversation=conversation)
        if problems:
            return None, sharegpt_fields(problems, name) if converted is not value else problems
        if role and msgs and msgs[-1]["role"] != role:
            what = "the user's turn the answer replies to" if role == "user" else "the assistant's reply"
            return None, [(name, f"ends on a {msgs[-1]['role']} message; it should end with {what}")]
        return msgs, []
    text, problem = text_field(record, name)
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


def read_label(record: dict, problems: Problems) -> bool | None:
    """The KTO label, from `label` or LLaMA-Factory's `kto_tag`."""
    name = "label" if "label" in record or "kto_tag" not in record else "kto_tag"
    got = record.get(name)
    label = parse_label(got)
    if label is None:
        problems.append((name, f"is {got!r} ({type_name(got)}); a KTO label must be true (a good answer) or false "
                               "(a bad one); 1/0 and \"true\"/\"false\" also work"))
    return label


def read_chat(record: dict, name: str, need_assistant: bool) -> tuple[list[dict] | None, Problems]:
    """A whole conversation from column `name`: {role, content} messages or ShareGPT turns, plus a `system` column."""
    given = record.get(name)
    msgs, problems = sharegpt_to_messages(given, name) if isinstance(given, list) else (given, [])
    if problems:
        return None, problems
    out, problems = check_messages(with_system(msgs, record) if msgs else msgs, name, need_assistant)
    if problems:
        return None, sharegpt_fields(problems, name) if msgs is not given else problems
    return out, []


def prompt_ends_on_user(msgs: list[dict], name: str) -> Problems:
    if msgs[-1]["role"] in ("user", "tool"):
        return []
    return [(name, f"ends on a {msgs[-1]['role']} message; the prompt should end with the user's turn the answers "
                   "reply to, with the answers in chosen and rejected")]


def common_prefix_length(a: list, b: list) -> int:
    """How many leading items two sequences share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
