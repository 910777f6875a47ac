"""The common chat row checked a whole Arrow batch at a time: what format_messages' `_plain_chat_ok` checks row by row
(only {role, content} text messages, an optional system message first, user and assistant alternating from a user
turn, ending on the assistant), done with NumPy over the batch's buffers, every message at once.

It only says which rows certainly pass. Those rows are, unchanged, what the messages normaliser would return, so the
row checks (row_checks.RowChecker) count them without building Python objects; every other row (an unknown role, a
blank message, a broken order, a null) goes through the normaliser, which says what is wrong and where. A batch whose
columns are not exactly `messages` of {role, content} text is not checked here at all.

Each row also gets its duplicate key, the same one `plain_chat_key` computes from a row as Python objects, so a repeat
is found whichever path each copy took. It reads the Arrow buffers directly: pyarrow.compute is not imported (loading
its kernels costs about 0.3 s and 40 MB, as much as parsing a 100,000-row file).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

ROLE_CODES = {"user": 0, "assistant": 1, "system": 2}


@dataclass
class PlainChatBatch:
    passed: object  # NumPy bool per row: the row is a plain chat, valid as it is
    keys: list  # per row: the hash of its duplicate key (meaningful where passed)
    text_bytes: object  # NumPy int per row: its contents' UTF-8 bytes plus one per message (>= len(record_text))


def plain_chat_key(row: dict) -> tuple[bytes, bytes] | None:
    """The duplicate key of a row that is exactly {"messages": [{role, content}]} with roles user, assistant or system
    and text contents, else None: (the contents' UTF-8 bytes, then per message its role code and content length)."""
    if len(row) != 1:
        return None
    messages = row.get("messages")
    if type(messages) is not list or not messages:
        return None
    contents, bounds = [], []
    for msg in messages:
        if type(msg) is not dict or len(msg) != 2:
            return None
        role, content = msg.get("role"), msg.get("content")
        code = ROLE_CODES.get(role) if type(role) is str else None
        if code is None or type(content) is not str:
            return None
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return None
        contents.append(data)
        bounds.append(struct.pack("<ii", code, len(data)))
    return b"".join(contents), b"".join(bounds)


# The first bytes after which str.isspace() cannot hold: a printable ASCII character, or the lead byte of a block of code
# points with no whitespace character in it (every lead but 0xC2: NEL, NBSP; 0xE1: U+1680; 0xE2: U+2000-U+205F; 0xE3:
# U+3000). tests/unit/test_data_scale.py recomputes the set from str.isspace().
NOT_BLANK_FIRST_BYTES = frozenset([*range(0x21, 0x7F), *range(0xC3, 0xE1), 0xE0, *range(0xE4, 0xF5)])


@lru_cache(maxsize=1)
def _not_blank_first_byte():
    import numpy as np

    table = np.zeros(256, dtype=bool)
    table[list(NOT_BLANK_FIRST_BYTES)] = True
    return table


def _offsets(arr, np):
    """An array's value offsets (n + 1), as NumPy, read from its buffer."""
    import pyarrow as pa

    width = np.int64 if pa.types.is_large_string(arr.type) or pa.types.is_large_list(arr.type) else np.int32
    return np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset: arr.offset + len(arr) + 1].astype(np.int64)


def _valid(arr, np):
    """Per element: not null (None when there is no null)."""
    if not arr.null_count:
        return None
    bits = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[arr.offset: arr.offset + len(arr)].astype(bool)


def _is_text(t) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t)


def check_plain_chat(table, need_assistant: bool) -> PlainChatBatch | None:
    """Which rows of the batch are plain chats that pass as they are; None when the batch's columns are not exactly
    `messages`, a list of {role, content} text structs."""
    import numpy as np
    import pyarrow as pa

    if table.column_names != ["messages"]:
        return None
    column = table.column(0)
    column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    kind = column.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not pa.types.is_struct(kind.value_type):
        return None
    struct_type = kind.value_type
    names = [struct_type.field(i).name for i in range(struct_type.num_fields)]
    if sorted(names) != ["content", "role"] or not all(_is_text(struct_type.field(i).type) for i in range(2)):
        return None
    rows = len(column)
    offsets = _offsets(column, np)  # into the batch's messages, row after row
    lengths = np.diff(offsets)
    bad_row = lengths == 0
    valid = _valid(column, np)
    if valid is not None:
        bad_row |= ~valid
    messages = column.values
    role, content = messages.field(names.index("role")), messages.field(names.index("content"))
    bad = np.zeros(len(messages), dtype=bool)  # per message, over the whole child (rows index into a part of it)
    for arr in (messages, role, content):
        valid = _valid(arr, np)
        if valid is not None:
            bad |= ~valid

    role_off = _offsets(role, np)
    role_len = np.diff(role_off)
    role_data = np.frombuffer(role.buffers()[2] or b"", dtype=np.uint8)
    codes = np.full(len(messages), -1, dtype=np.int32)
    for name, code in ROLE_CODES.items():
        word = np.frombuffer(name.encode(), dtype=np.uint8)
        at = np.flatnonzero(role_len == len(word))
        if len(at):
            same = (role_data[role_off[at][:, None] + np.arange(len(word))] == word).all(axis=1)
            codes[at[same]] = code
    bad |= codes < 0  # an unknown role

    content_off = _offsets(content, np)
    content_len = np.diff(content_off)
    buffer = content.buffers()[2]
    content_bytes = buffer.to_pybytes() if buffer is not None else b""
    data = np.frombuffer(content_bytes, dtype=np.uint8)
    bad |= content_len == 0
    nonempty = np.flatnonzero(content_len > 0)
    doubtful = nonempty[~_not_blank_first_byte()[data[content_off[nonempty]]]]
    for i in doubtful.tolist():  # starts with whitespace, or a character near some: Python decides, as the normaliser
        if content_bytes[content_off[i]:content_off[i + 1]].decode("utf-8", "replace").isspace():
            bad[i] = True

    base = offsets[0]
    total = int(offsets[-1] - base)
    mine = slice(int(base), int(base) + total)
    codes_here, bad_here = codes[mine], bad[mine]
    first = np.zeros(total, dtype=bool)
    first[(offsets[:-1] - base)[lengths > 0]] = True
    previous = np.empty(total, dtype=np.int32)
    previous[1:] = codes_here[:-1]
    previous[first] = -2  # none: the conversation starts here
    user, assistant, system = ROLE_CODES["user"], ROLE_CODES["assistant"], ROLE_CODES["system"]
    bad_here = bad_here | ((codes_here == user) & (previous == user))  # two user turns in a row
    bad_here |= (codes_here == assistant) & (previous != user)  # a reply to nothing
    bad_here |= (codes_here == system) & ~first  # a system message after the start
    bad_row[np.repeat(np.arange(rows), lengths)[bad_here]] = True
    if total:
        last = codes_here[(offsets[1:] - base)[lengths > 0] - 1]
        ends = np.zeros(rows, dtype=bool)
        ends[lengths > 0] = (last == assistant) if need_assistant else (last >= 0)
        bad_row |= ~ends

    bounds = np.empty((len(messages), 2), dtype="<i4")
    bounds[:, 0], bounds[:, 1] = codes, content_len
    bound_bytes = bounds.tobytes()
    starts, ends_ = offsets[:-1].tolist(), offsets[1:].tolist()
    text_off = content_off.tolist()
    keys = [hash((content_bytes[text_off[a]:text_off[b]], bound_bytes[8 * a:8 * b])) for a, b in zip(starts, ends_, strict=True)]
    text_bytes = content_off[offsets[1:]] - content_off[offsets[:-1]] + lengths
    return PlainChatBatch(~bad_row, keys, text_bytes)
