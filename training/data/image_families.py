"""Image rows beyond chat: preference (DPO), unpaired preference (KTO) and prompt-only (GRPO, RLOO), in TRL's own format.

TRL 1.16's DPO, KTO, GRPO and RLOO trainers read a conversational `prompt` whose user turn carries `{"type": "image"}`
parts, plus an `images` (list) or `image` (one) column; the pictures belong to the prompt. Detected here from the
columns (with a picture column beside them):

- `trl_preference`: prompt, chosen, rejected (DPO; KTO after `unpair_image_rows`);
- `trl_unpaired`: prompt, completion, label (KTO);
- `trl_prompt_only`: prompt and no answer column (GRPO, RLOO); every other text or number column (e.g. `answer`, which
  the reward functions read) is kept as text.

A prompt or answer may be a string (a user turn, an assistant turn) or a list of messages; content may be text with
`<image>` placeholders or a list of parts. A prompt without any image part gets one per picture before its first user
text (as TRL does). Answers may not carry pictures. Bundled into the exported script: standard library only.
"""

from __future__ import annotations

from training.data.image_formats import PLACEHOLDER, _content_parts, _refs, image_column

FAMILY_NEEDS = {  # what rows of each TRL type look like with pictures, for the messages that refuse a method
    "conversational": "chat rows (messages + images)",
    "preference": "preference rows (prompt, chosen, rejected + images)",
    "unpaired_preference": "unpaired rows (prompt, completion, label + images)",
    "prompt_only": "prompt-only rows (prompt + images, with reference columns such as answer for the rewards)",
}
_ANSWER_KEYS = {"trl_preference": ("chosen", "rejected"), "trl_unpaired": ("completion",), "trl_prompt_only": ()}
_TRUE, _FALSE = ("true", "1", "yes", "good", "desirable"), ("false", "0", "no", "bad", "undesirable")
_ROLE_NAMES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "system": "system"}


def image_trl_type(columns) -> str:
    """The TRL type of normalised picture rows (what `image_rows` writes) from their columns."""
    columns = set(columns)
    if "messages" in columns:
        return "conversational"
    if "chosen" in columns:
        return "preference"
    return "unpaired_preference" if "label" in columns else "prompt_only"


def _turns_of(value, role: str, key: str, problems: list) -> list[dict]:
    """A prompt or answer as [{"role", "content"}]: a string is one turn of `role`."""
    if isinstance(value, str):
        if not value.strip():
            problems.append((key, "is empty; give it text"))
        return [{"role": role, "content": value}]
    if not isinstance(value, list) or not value:
        problems.append((key, "must be text or a non-empty list of messages (role and content)"))
        return []
    out = []
    for i, turn in enumerate(value):
        name = _ROLE_NAMES.get(str(turn.get("role", turn.get("from"))).lower()) if isinstance(turn, dict) else None
        if name is None:
            problems.append((f"{key}[{i}]", "must be a message with a role (user, assistant or system) and content"))
            continue
        out.append({"role": name, "content": turn.get("content", turn.get("value"))})
    return out


def _label(value, problems: list) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    problems.append(("label", f"is {value!r}; use true (a good answer) or false (a bad one)"))
    return None


def _parts(turns: list[dict], key: str, refs: list, problems: list) -> list[dict]:
    return [{"role": t["role"], "content": _content_parts(t["content"], refs, f"{key}[{i}].content", problems)}
            for i, t in enumerate(turns)]


def normalise_family_record(record: dict, fmt: str) -> tuple[dict | None, list[tuple[str, str]]]:
    """(row in TRL's shape for the family, with the image references as given, problems as (field, message))."""
    problems: list[tuple[str, str]] = []
    column = image_column(record)
    url_refs: list = []
    prompt = _parts(_turns_of(record.get("prompt"), "user", "prompt", problems), "prompt", url_refs, problems)
    if prompt and prompt[-1]["role"] != "user":
        problems.append(("prompt", f"ends on a turn of the {prompt[-1]['role']}; end it on the user's question (the answers "
                                   "follow it)"))
    row: dict = {"prompt": prompt}
    for key in _ANSWER_KEYS[fmt]:
        answer_refs: list = []
        answer = _parts(_turns_of(record.get(key), "assistant", key, problems), key, answer_refs, problems)
        if answer_refs or any(p["type"] == "image" for m in answer for p in m["content"]):
            problems.append((key, "has a picture; pictures belong in the prompt (the question), not in the answers"))
        row[key] = answer
    if fmt == "trl_unpaired":
        row["label"] = _label(record.get("label"), problems)
    if fmt == "trl_prompt_only":
        row.update({k: str(v) for k, v in record.items()
                    if k not in ("prompt", column, "images", "image") and isinstance(v, (str, int, float, bool))})
    refs = (_refs(record.get(column)) if column else []) + url_refs
    placeholders = sum(p["type"] == "image" for m in prompt for p in m["content"])
    first_user = next((m for m in prompt if m["role"] == "user"), None)
    if placeholders == 0 and refs and first_user is not None:
        first_user["content"] = [{"type": "image", "text": None} for _ in refs] + first_user["content"]
        placeholders = len(refs)
    if placeholders != len(refs):
        problems.append((column or "prompt", f"has {len(refs)} image(s) but the prompt has {placeholders} {PLACEHOLDER} "
                                             "placeholder(s); they must match, one placeholder per image, in order"))
    if not refs:
        problems.append((column or "prompt", "has no image; give each row at least one picture"))
    if problems:
        return None, problems
    return {**row, "images": refs}, []


def _answer_chars(messages: list[dict]) -> int:
    return sum(len(p.get("text") or "") for m in messages for p in m["content"])


def conversation_view(row: dict, longest: bool = True) -> list[dict]:
    """A row's messages: chat rows as they are; otherwise the prompt with its longer answer (chosen or rejected: the
    longest sequence the trainer builds, for token counts and truncation warnings) or, with `longest` False, with its
    chosen answer (the preview); the completion for unpaired rows; nothing more for prompt-only rows."""
    if "messages" in row:
        return row["messages"]
    answers = [row[k] for k in (("chosen", "rejected") if longest else ("chosen",)) + ("completion",) if row.get(k)]
    return list(row["prompt"]) + (max(answers, key=_answer_chars) if answers else [])


def unpair_image_rows(dataset):
    """Preference rows with pictures as unpaired rows (KTO; TRL's KTOTrainer refuses paired vision rows): each pair
    becomes its chosen answer (label true) followed by its rejected one (label false), the pictures' bytes copied as
    they are (never decoded)."""
    from datasets import Image, List

    raw = dataset.cast_column("images", List(Image(decode=False)))

    def batch(columns: dict) -> dict:
        out: dict = {"prompt": [], "completion": [], "label": [], "images": []}
        for prompt, chosen, rejected, images in zip(columns["prompt"], columns["chosen"], columns["rejected"],
                                                    columns["images"], strict=True):
            for answer, label in ((chosen, True), (rejected, False)):
                out["prompt"].append(prompt)
                out["completion"].append(answer)
                out["label"].append(label)
                out["images"].append(images)
        return out

    unpaired = raw.map(batch, batched=True, remove_columns=raw.column_names, desc="Unpairing preference rows for KTO")
    return unpaired.cast_column("images", List(Image()))
