"""Column mapping: suggest renames from common synonyms, and say per method whether a dataset is usable.

Pure functions over column names (and optionally a few sample records, to tell chat messages from
ShareGPT turns). `suggest_column_map` gives the rename a format needs, e.g. {"question": "prompt",
"answer": "completion"}; `method_compatibility` gives, for every method in the registry, `ready`,
`needs mapping` (with the map to use) or `incompatible` (with the reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from training.data.formats import FORMATS, TRL_TYPE_COLUMNS, FormatInfo, candidate_formats, detect_format, normalise_record

Status = str  # "ready" | "needs mapping" | "incompatible"

# Target column -> names people use for it, most likely first. Compared after lower-casing and turning
# spaces and dashes into underscores.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "messages": ("messages", "conversation", "dialog", "dialogue", "chat", "turns", "chat_messages", "conversations"),
    "conversations": ("conversations", "conversation", "dialog", "dialogue", "chat", "turns", "messages"),
    "prompt": ("prompt", "question", "query", "instruction", "input", "user", "human", "request", "problem", "prompts",
               "questions", "queries", "inputs", "user_input", "user_message", "source", "context", "post"),
    "completion": ("completion", "answer", "response", "reply", "output", "target", "assistant", "gpt", "answers",
                   "responses", "replies", "outputs", "targets", "completions", "generation", "assistant_message"),
    "text": ("text", "content", "document", "body", "passage", "article", "sentence", "story", "texts", "raw_text"),
    "chosen": ("chosen", "preferred", "winner", "good", "positive", "accepted", "better", "pos", "win", "winning",
               "chosen_response", "response_chosen", "preferred_response", "good_response", "answer_good",
               "response_a_preferred"),
    "rejected": ("rejected", "dispreferred", "loser", "bad", "negative", "worse", "neg", "lose", "losing",
                 "rejected_response", "response_rejected", "dispreferred_response", "bad_response", "answer_bad"),
    "label": ("label", "labels", "is_good", "desirable", "is_desirable", "thumbs_up", "kto_label", "good", "is_correct",
              "preferred", "feedback"),
    "instruction": ("instruction", "instructions", "task"),
    "output": ("output", "response", "answer", "outputs", "completion"),
    "input": ("input", "inputs", "context"),
    "system": ("system", "system_prompt", "system_message", "sys", "persona"),
    "history": ("history",),
    "tools": ("tools", "functions", "tool_schemas", "available_tools"),
}


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


@dataclass(frozen=True)
class ColumnSuggestion:
    format: str  # source format it makes (see training.data.formats.FORMATS)
    trl_type: str
    column_map: dict[str, str]  # only the renames: {your column: the name the format needs}
    matched: dict[str, str] = field(default_factory=dict)  # needed name -> your column, renamed or not

    def describe(self) -> str:
        renames = ", ".join(f"{src} → {dst}" for src, dst in self.column_map.items())
        return f"{renames} ({FORMATS[self.format].description})" if renames else FORMATS[self.format].description


@dataclass(frozen=True)
class Compatibility:
    method: str
    label: str
    status: Status
    reason: str
    column_map: dict[str, str] = field(default_factory=dict)  # the full map to use (yours plus the suggestion)

    def to_dict(self) -> dict:
        return {"method": self.method, "label": self.label, "status": self.status, "reason": self.reason,
                "column_map": self.column_map}


def _looks_like_sharegpt(column: str, sample: list[dict] | None) -> bool | None:
    for rec in sample or []:
        value = rec.get(column) if isinstance(rec, dict) else None
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return "from" in value[0] and "role" not in value[0]
    return None


def _pick(target: str, free: list[str], sample: list[dict] | None) -> str | None:
    """The best of the free columns for `target`: an exact synonym first, then a synonym as a word in the name."""
    names = {c: _norm(c) for c in free}
    synonyms = SYNONYMS.get(target, (target,))
    chosen = None
    for syn in synonyms:
        chosen = next((c for c in free if names[c] == syn), None)
        if chosen:
            break
    if chosen is None:
        for syn in synonyms:
            chosen = next((c for c in free if syn in names[c].split("_")), None)
            if chosen:
                break
    if chosen is not None and target in ("messages", "conversations"):
        sharegpt = _looks_like_sharegpt(chosen, sample)
        if sharegpt is not None and sharegpt != (target == "conversations"):
            return None
    return chosen


def _suggest_for(fmt: FormatInfo, columns: list[str], sample: list[dict] | None) -> ColumnSuggestion | None:
    targets = fmt.required + fmt.optional
    matched = {t: t for t in targets if t in columns}
    free = [c for c in columns if c not in matched]
    for target in targets:
        if target in matched:
            continue
        col = _pick(target, free, sample)
        if col is None:
            if target in fmt.required:
                return None
            continue
        matched[target] = col
        free.remove(col)
    renames = {col: target for target, col in matched.items() if col != target}
    return ColumnSuggestion(fmt.source_format, fmt.trl_type, renames, matched)


def suggest_mappings(columns: list[str], sample: list[dict] | None = None) -> list[ColumnSuggestion]:
    """Every format the columns can be renamed into, the one that uses the most columns first."""
    found = [s for f in FORMATS.values() if (s := _suggest_for(f, list(columns), sample)) is not None]
    order = {name: i for i, name in enumerate(FORMATS)}
    return sorted(found, key=lambda s: (-len(s.matched), len(s.column_map), order[s.format]))


def suggest_column_map(columns: list[str], accepted: tuple[str, ...] | None = None,
                       sample: list[dict] | None = None) -> ColumnSuggestion | None:
    """The best rename for one of the `accepted` TRL types (any type when None); None when nothing fits."""
    for suggestion in suggest_mappings(columns, sample):
        if accepted is None or suggestion.trl_type in accepted:
            return suggestion
    return None


def compose_maps(first: dict[str, str], then: dict[str, str]) -> dict[str, str]:
    """One map that does `first`, then `then` (both {from: to})."""
    out = {src: then.get(dst, dst) for src, dst in first.items()}
    already = set(first.values())
    out.update({src: dst for src, dst in then.items() if src not in already and src not in out})
    return {k: v for k, v in out.items() if k != v}


def _fitting_format(columns: list[str], accepted: tuple[str, ...], sample: list[dict]) -> tuple[FormatInfo | None, str | None]:
    """The first format of an accepted TRL type that the columns give and that reads the sample rows (at least one
    of them; any when there is no sample), else (None, why the rows do not fit, or None when no format fits)."""
    problem = None
    for fmt in candidate_formats(columns):
        if fmt.trl_type not in accepted:
            continue
        if not sample:
            return fmt, None
        need_assistant = fmt.trl_type == "conversational"
        results = [normalise_record(rec, fmt, need_assistant) for rec in sample]
        if any(row is not None for row, _ in results):
            return fmt, None
        if problem is None:
            fld, message = results[0][1][0]
            problem = f"columns read as {fmt.description}, but the rows do not fit: {fld} {message.split('. This row')[0]}"
    return None, problem


def method_compatibility(columns: list[str], methods: dict | None = None, column_map: dict[str, str] | None = None,
                         sample: list[dict] | None = None) -> list[Compatibility]:
    """For each method (default: the registry): ready / needs mapping / incompatible, with the reason."""
    if methods is None:
        from training.methods.registry import METHODS as methods
    column_map = column_map or {}
    mapped = list(dict.fromkeys(column_map.get(c, c) for c in columns))
    mapped_sample = [{column_map.get(k, k): v for k, v in r.items()} for r in sample or [] if isinstance(r, dict)]
    found = detect_format(mapped)
    out = []
    for name, spec in methods.items():
        fmt, problem = _fitting_format(mapped, spec.formats, mapped_sample)
        if fmt is not None:
            out.append(Compatibility(name, spec.label, "ready", f"reads {fmt.description} as TRL {fmt.trl_type}", dict(column_map)))
            continue
        if problem is not None:
            out.append(Compatibility(name, spec.label, "incompatible", problem))
            continue
        suggestion = suggest_column_map(mapped, spec.formats, mapped_sample)
        if suggestion is not None and suggestion.column_map:
            full = compose_maps(column_map, suggestion.column_map)
            out.append(Compatibility(name, spec.label, "needs mapping", f"rename {suggestion.describe()}", full))
            continue
        needs = " or ".join(TRL_TYPE_COLUMNS.get(t, t) for t in spec.formats)
        got = found.description if found else f"columns {', '.join(mapped) or '(none)'}"
        out.append(Compatibility(name, spec.label, "incompatible", f"needs {needs}; found {got}"))
    return out
