"""Axolotl's template-free `input_output` format: {"segments": [{"label": true, "text": "..."}, ...]}.

The segments are joined as they are (no template, no special tokens added: BOS, EOS, spaces and newlines are the
author's). A segment with `label: false` is context the model is not trained on. The row becomes TRL language
modeling text, with the segments kept next to it so that training (training.data.loss_weights) can tokenise
them one by one and leave the `label: false` ones out of the loss.
"""

from __future__ import annotations

from training.data.format_messages import LABEL_WORDS, Problems, type_name


def _segments(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
    given = record.get("segments")
    if not isinstance(given, list) or not given:
        return None, [("segments", f'must be a list of {{"label": true/false, "text": "..."}} segments, got {type_name(given)}'
                                   f"{' (empty)' if given == [] else ''}")]
    out: list[dict] = []
    for i, seg in enumerate(given):
        if not isinstance(seg, dict):
            return None, [(f"segments[{i}]", f'must be an object {{"label": true/false, "text": "..."}}, got {type_name(seg)}')]
        text = seg.get("text")
        if not isinstance(text, str):
            return None, [(f"segments[{i}].text", f"is {type_name(text)}; write the segment's text (a string)")]
        label = seg.get("label", True)
        if isinstance(label, str):
            label = LABEL_WORDS.get(label.strip().lower(), label)
        if type(label) is int and label in (0, 1):
            label = bool(label)
        if not isinstance(label, bool):
            return None, [(f"segments[{i}].label", f"is {label!r} ({type_name(label)}); use true to train on the segment, "
                                                   "false to keep it as context only")]
        out.append({"text": text, "label": label})
    if not any(seg["label"] and seg["text"].strip() for seg in out):
        return None, [("segments", "has no segment with label true and some text, so there is nothing to learn; "
                                   "set label true on the part to train on")]
    return {"text": "".join(seg["text"] for seg in out), "segments": out}, []


AXOLOTL_NORMALISERS = {
    "segments": _segments,
}
