"""The one entry point for dataset formats: detect a dataset's format from its columns and normalise its rows to
TRL's dataset types. The rest of the code imports from here; each format family lives in its own small module.

TRL types (see TRL's docs/source/dataset_formats.md): `conversational` ({"messages": [...]}), `prompt_completion`,
`text` (language modeling), `preference`, `unpaired_preference` and `prompt_only`.

- format_detect: the known formats (`FORMATS`, in detection order) and `detect_format`;
- format_messages: checks shared by every format (chat messages, content parts, loss weights, tools, labels);
- format_trl: TRL's own types;
- format_sharegpt: ShareGPT and LLaMA-Factory's preference, KTO and v1 chosen/rejected formats;
- format_alpaca: Alpaca (instruction/input/output, system, history);
- format_openai: OpenAI fine-tuning preference rows (its chat rows are plain `messages`);
- format_swift: ms-swift's query/response/history, rejected_response and `conversation` pairs;
- format_axolotl: Axolotl's template-free `segments` with a per-segment `label`.

Each normaliser returns `(row in TRL shape, [])` or `(None, [(field path, message), ...])`, where the message says
what was found, what is expected and how to fix it. Pure Python, no heavy imports.
"""

from __future__ import annotations

from collections.abc import Callable

from training.data.format_alpaca import ALPACA_NORMALISERS
from training.data.format_axolotl import AXOLOTL_NORMALISERS
from training.data.format_detect import FORMATS, TRL_TYPE_COLUMNS, FormatInfo, apply_column_map, candidate_formats, detect_format
from training.data.format_messages import NOTES, Problems, common_prefix_length, parse_label, row_notes
from training.data.format_openai import OPENAI_NORMALISERS
from training.data.format_sharegpt import SHAREGPT_NORMALISERS
from training.data.format_swift import SWIFT_NORMALISERS
from training.data.format_trl import TRL_NORMALISERS

Normaliser = Callable[[dict, bool], tuple[dict | None, Problems]]
_OWN_NORMALISERS: dict[str, Normaliser] = {
    **TRL_NORMALISERS, **SHAREGPT_NORMALISERS, **ALPACA_NORMALISERS, **OPENAI_NORMALISERS, **SWIFT_NORMALISERS,
    **AXOLOTL_NORMALISERS,
}


def better_fit(record: dict, source_format: str, need_assistant: bool = True) -> FormatInfo | None:
    """Another known format, of the same TRL type, that this (failing) row reads as without problems, judged by its
    own non-empty columns: a row of another format in a mixed file."""
    present = [k for k, v in record.items() if v is not None and v != ""]
    trl_type = FORMATS[source_format].trl_type
    for fmt in candidate_formats(present):
        if fmt.source_format != source_format and fmt.trl_type == trl_type and \
                _OWN_NORMALISERS[fmt.source_format](record, need_assistant)[0] is not None:
            return fmt
    return None


def _with_hint(source_format: str, normalise: Normaliser) -> Normaliser:
    """The normaliser, whose first problem also says when the row reads as another known format."""
    def run(record: dict, need_assistant: bool) -> tuple[dict | None, Problems]:
        row, problems = normalise(record, need_assistant)
        if problems:
            other = better_fit(record, source_format, need_assistant)
            if other is not None:
                fld, message = problems[0]
                wanted = FORMATS[source_format]
                problems = [(fld, f"{message}. This row reads as {other.description} (columns {', '.join(other.required)}), "
                                  f"not as the {wanted.description} the file is read as: keep one format per file, or fix "
                                  "this row"), *problems[1:]]
        return row, problems

    run.__name__ = getattr(normalise, "__name__", source_format)
    return run


NORMALISERS: dict[str, Normaliser] = {name: _with_hint(name, fn) for name, fn in _OWN_NORMALISERS.items()}

__all__ = ["FORMATS", "NORMALISERS", "better_fit", "NOTES", "TRL_TYPE_COLUMNS", "FormatInfo", "Problems", "apply_column_map",
           "candidate_formats", "common_prefix_length", "detect_format", "normalise_record", "parse_label",
           "record_text", "row_notes"]


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
