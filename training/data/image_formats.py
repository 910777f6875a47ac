"""Image datasets in the formats people bring, normalised to TRL's vision shape.

TRL's vision shape (what `SFTTrainer` collates): {"messages": [{"role", "content": [{"type": "image"|"text",
"text"}]}], "images": [one entry per image part, in order]}. Detected and normalised here:

- `trl`: TRL's own: `messages` whose content has `{"type": "image"}` parts (or plain strings: the images go before
  the first user text, as TRL does), plus an `images` (list) or `image` (one) column;
- `llamafactory`: LLaMA-Factory's multimodal data: `messages` (role/content) or `conversations` (from/value) with
  `<image>` placeholders in the text, plus `images`;
- `sharegpt4v`: ShareGPT-4V: `conversations` (from/value, `<image>` in the first human turn) plus one `image` path;
- `openai_vision`: OpenAI vision fine-tuning: `messages` whose content parts are `{"type": "image_url",
  "image_url": {"url": "data:image/...;base64,..."}}`;
- `captions` / `image_qa`: a picture column (`file_name`, `image`, `images`, `image_path`) with a caption
  (`caption`, `text`, `description`) or a question and answer (`question`/`answer`, `query`/`response`), as in an
  image folder's metadata file or a Parquet/Hub dataset with an `Image` feature;
- `trl_preference` / `trl_unpaired` / `trl_prompt_only`: TRL's rows for DPO, KTO, GRPO and RLOO (a conversational
  `prompt` with image parts beside chosen/rejected, completion/label, or nothing), normalised by
  training/data/image_families.py.

Bundled into the exported script: standard library only.
"""

from __future__ import annotations

PLACEHOLDER = "<image>"
IMAGE_COLUMNS = ("images", "image", "file_name", "image_path", "image_file")
CAPTION_COLUMNS = ("caption", "text", "description")
QA_COLUMNS = (("question", "answer"), ("query", "response"), ("prompt", "completion"))
CAPTION_PROMPT = "Describe this image."
_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system",
          "model": "assistant", "bot": "assistant"}
IMAGE_FORMAT_LABELS = {
    "trl": "TRL vision (messages with image parts + images)",
    "llamafactory": "LLaMA-Factory multimodal (<image> placeholders + images)",
    "sharegpt4v": "ShareGPT-4V (conversations + image)",
    "openai_vision": "OpenAI vision (image_url parts)",
    "captions": "images with captions",
    "image_qa": "images with questions and answers",
    "trl_preference": "TRL vision preference (prompt, chosen, rejected + images)",
    "trl_unpaired": "TRL vision unpaired preference (prompt, completion, label + images)",
    "trl_prompt_only": "TRL vision prompt-only (prompt + images)",
}
# The picture-row families beyond chat (normalised by training/data/image_families.py) and their TRL types.
FAMILY_TYPES = {"trl_preference": "preference", "trl_unpaired": "unpaired_preference", "trl_prompt_only": "prompt_only"}


def _parts_have(messages, kinds: tuple[str, ...]) -> bool:
    return isinstance(messages, list) and any(
        isinstance(m, dict) and isinstance(m.get("content"), list)
        and any(isinstance(p, dict) and p.get("type") in kinds for p in m["content"]) for m in messages)


def _text_has_placeholder(turns, key: str) -> bool:
    return isinstance(turns, list) and any(isinstance(t, dict) and isinstance(t.get(key), str) and PLACEHOLDER in t[key]
                                           for t in turns)


def image_column(columns) -> str | None:
    return next((c for c in IMAGE_COLUMNS if c in columns), None)


def detect_family_format(columns) -> str | None:
    """The picture-row family of a dataset's columns (a picture column assumed), or None for chat and caption rows."""
    columns = set(columns)
    if "prompt" not in columns or "messages" in columns:
        return None
    if {"chosen", "rejected"} <= columns:
        return "trl_preference"
    if {"completion", "label"} <= columns:
        return "trl_unpaired"
    if "completion" in columns:
        return None  # prompt and completion: an image question with its answer (SFT)
    return "trl_prompt_only"


def detect_image_format(columns, first: dict | None) -> str | None:
    """The image format of a dataset from its columns and first row, or None when it has no images."""
    first = first or {}
    columns = list(columns)
    picture = image_column(columns)
    if "messages" in columns and _parts_have(first.get("messages"), ("image_url",)):
        return "openai_vision"
    if picture is None:
        return None
    family = detect_family_format(columns)
    if family is not None:
        return family
    if "messages" in columns:
        if _text_has_placeholder(first.get("messages"), "content"):
            return "llamafactory"
        return "trl"
    if "conversations" in columns:
        return "sharegpt4v" if picture == "image" else "llamafactory"
    if any(a in columns and b in columns for a, b in QA_COLUMNS):
        return "image_qa"
    if any(c in columns for c in CAPTION_COLUMNS if c != picture):
        return "captions"
    return None


def _split_placeholders(text: str) -> list[dict]:
    pieces = text.split(PLACEHOLDER)
    parts: list[dict] = []
    for i, piece in enumerate(pieces):
        if i:
            parts.append({"type": "image", "text": None})
        piece = piece.strip() if len(pieces) > 1 else piece
        if piece:
            parts.append({"type": "text", "text": piece})
    return parts


def _refs(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _turns(record: dict, fmt: str) -> tuple[list[dict], list[tuple[str, str]]]:
    """(turns as {"role", "content"}, problems) of a row's conversation."""
    if fmt in ("captions", "image_qa"):
        if fmt == "image_qa":
            q, a = next((a, b) for a, b in QA_COLUMNS if a in record and b in record)
            question, answer, fields = record.get(q), record.get(a), (q, a)
        else:
            name = next(c for c in CAPTION_COLUMNS if c in record)
            question, answer, fields = CAPTION_PROMPT, record.get(name), (name, name)
        problems = [(f, "is empty; give it text") for f, v in zip(fields, (question, answer), strict=True)
                    if not isinstance(v, str) or not v.strip()]
        return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}], problems
    key = "messages" if "messages" in record else "conversations"
    turns = record.get(key)
    if not isinstance(turns, list) or not turns:
        return [], [(key, "must be a non-empty list of turns")]
    out, problems = [], []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            problems.append((f"{key}[{i}]", "must be an object with a role and content"))
            continue
        role = turn.get("role", turn.get("from"))
        content = turn.get("content", turn.get("value"))
        if _ROLES.get(str(role).lower()) is None:
            problems.append((f"{key}[{i}].role", f"is {role!r}; use user, assistant or system (human/gpt)"))
            continue
        out.append({"role": _ROLES[str(role).lower()], "content": content})
    if out and not any(t["role"] == "assistant" for t in out):
        problems.append((key, "has no assistant reply to learn from; add one"))
    return out, problems


def _content_parts(content, extra_refs: list, where: str, problems: list) -> list[dict]:
    """Content as TRL parts; image_url parts add their URL to `extra_refs`."""
    if isinstance(content, str):
        return _split_placeholders(content)
    if not isinstance(content, list):
        problems.append((where, "must be text or a list of parts"))
        return []
    parts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.extend(_split_placeholders(str(part.get("text") or "")))
        elif kind == "image":
            parts.append({"type": "image", "text": None})
        elif kind == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            extra_refs.append(url)
            parts.append({"type": "image", "text": None})
        else:
            problems.append((f"{where}[{j}]", f"has type {kind!r}; use text, image or image_url"))
    return parts


def normalise_image_record(record: dict, fmt: str) -> tuple[dict | None, list[tuple[str, str]]]:
    """(row in TRL's vision shape with the image references as given, problems as (field, message)). The image
    references are resolved and decoded later (training/data/image_rows.py)."""
    turns, problems = _turns(record, fmt)
    column = image_column(record) if fmt != "openai_vision" else None
    refs = _refs(record.get(column)) if column else []
    url_refs: list = []
    key = "messages" if "messages" in record else "conversations"
    messages = [{"role": t["role"], "content": _content_parts(t["content"], url_refs, f"{key}[{i}].content", problems)}
                for i, t in enumerate(turns)]
    refs = refs + url_refs
    placeholders = sum(p["type"] == "image" for m in messages for p in m["content"])
    if placeholders == 0 and refs and fmt not in ("llamafactory", "sharegpt4v"):
        first_user = next((m for m in messages if m["role"] == "user"), None)
        if first_user is not None:
            first_user["content"] = [{"type": "image", "text": None} for _ in refs] + first_user["content"]
            placeholders = len(refs)
    if placeholders != len(refs):
        problems.append((column or key, f"has {len(refs)} image(s) but the text has {placeholders} {PLACEHOLDER} "
                                        "placeholder(s); they must match, one placeholder per image, in order"))
    if not refs:
        problems.append((column or key, "has no image; give each row at least one picture"))
    if problems:
        return None, problems
    return {"messages": messages, "images": refs}, []
