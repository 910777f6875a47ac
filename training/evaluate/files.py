"""A user's evaluation file, read and checked row by row before any model loads.

Two kinds of JSONL (one JSON object per line; blank lines skipped), detected from the first row:

- multiple choice: {"question": str, "choices": [str, ...] (at least 2), "answer": index or the text of a choice},
  scored by log-likelihood (which choice the model finds most likely);
- question/answer: {"question" (or "prompt"): str, "answer" (or "reference"): str}, scored by generation (exact
  match, and whether the answer contains the reference).

Errors name the line, the field and what to do, as the dataset validation does; the first MAX_ERRORS are listed
and the rest counted. The rows come back normalised: MC as {"question", "choices", "answer": index}, QA as
{"prompt", "reference", "system": None}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

MAX_ERRORS = 20
MAX_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class RowError:
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        return f"{'line ' + str(self.line) + ', ' if self.line else ''}{self.field}: {self.message}"


class EvalFileError(ValueError):
    """The evaluation file cannot be used; `errors` says where and why."""

    def __init__(self, path: str, errors: list[RowError], total: int | None = None):
        self.errors = errors
        self.total = total if total is not None else len(errors)
        more = f" (and {self.total - len(errors)} more)" if self.total > len(errors) else ""
        shown = "; ".join(str(e) for e in errors[:5])
        super().__init__(f"{Path(path).name}: {self.total} problem{'s' if self.total != 1 else ''}{more}: {shown}")


@dataclass
class EvalFile:
    kind: str  # "mc" or "qa"
    rows: list[dict] = field(default_factory=list)
    path: str = ""


def _kind_of(row: dict) -> str | None:
    if "choices" in row:
        return "mc"
    if ("question" in row or "prompt" in row) and ("answer" in row or "reference" in row):
        return "qa"
    return None


def _check_mc(row: dict, line: int, errors: list[RowError]) -> dict | None:
    start = len(errors)
    question, choices, answer = row.get("question"), row.get("choices"), row.get("answer")
    if not isinstance(question, str) or not question.strip():
        errors.append(RowError(line, "question", "must be a non-empty text"))
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c.strip() for c in choices):
        errors.append(RowError(line, "choices", "must be a list of at least 2 non-empty texts, e.g. [\"Paris\", \"Rome\"]"))
        return None
    index = None
    if isinstance(answer, bool) or answer is None:
        errors.append(RowError(line, "answer", f"is {json.dumps(answer)}; give the index of the right choice (0 to "
                                               f"{len(choices) - 1}) or its text"))
    elif isinstance(answer, int):
        if 0 <= answer < len(choices):
            index = answer
        else:
            errors.append(RowError(line, "answer", f"is {answer}; the index must be between 0 and {len(choices) - 1}"))
    elif isinstance(answer, str):
        if answer in choices:
            index = choices.index(answer)
        else:
            errors.append(RowError(line, "answer", f"{answer!r} is not one of the choices; give its exact text or its index"))
    else:
        errors.append(RowError(line, "answer", f"is a {type(answer).__name__}; give an index or the text of a choice"))
    if len(errors) > start:
        return None
    return {"question": question, "choices": choices, "answer": index}


def _check_qa(row: dict, line: int, errors: list[RowError]) -> dict | None:
    start = len(errors)
    q_key = "question" if "question" in row else "prompt"
    a_key = "answer" if "answer" in row else "reference"
    question, answer = row.get(q_key), row.get(a_key)
    if not isinstance(question, str) or not question.strip():
        errors.append(RowError(line, q_key, "must be a non-empty text"))
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        answer = str(answer)
    if not isinstance(answer, str) or not answer.strip():
        errors.append(RowError(line, a_key, "must be a non-empty text (the right answer)"))
    if len(errors) > start:
        return None
    system = row.get("system") if isinstance(row.get("system"), str) else None
    return {"prompt": question, "reference": answer, "system": system}


def read_eval_file(path: str | Path) -> EvalFile:
    """The checked, normalised rows of a JSONL evaluation file; EvalFileError (row-located) otherwise."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise EvalFileError(name, [RowError(None, "file", "does not exist or is not a file")])
    if path.stat().st_size > MAX_BYTES:
        raise EvalFileError(name, [RowError(None, "file", f"is over {MAX_BYTES // 2**20} MB; use a smaller sample")])
    errors: list[RowError] = []
    total = 0
    kind: str | None = None
    rows: list[dict] = []
    with path.open("rb") as handle:
        for line, raw in enumerate(handle, start=1):
            text = raw.decode("utf-8-sig" if line == 1 else "utf-8", "replace").strip()
            if not text:
                continue
            problems: list[RowError] = []
            try:
                row = json.loads(text)
            except ValueError as exc:
                problems.append(RowError(line, "json", f"not valid JSON ({exc.msg} at column {exc.colno}); write one "
                                                       "JSON object per line"))
                row = None
            if row is not None and not isinstance(row, dict):
                problems.append(RowError(line, "row", f"is a JSON {type(row).__name__}; each line must be an object"))
                row = None
            if row is not None:
                row_kind = _kind_of(row)
                if row_kind is None:
                    problems.append(RowError(line, "columns", f"found {', '.join(sorted(row)) or 'none'}; a multiple-choice "
                                                              "row needs question, choices, answer, a question/answer row "
                                                              "needs question and answer"))
                elif kind is None:
                    kind = row_kind
                elif row_kind != kind:
                    problems.append(RowError(line, "columns", f"this row is {_KIND_WORDS[row_kind]} but the file started "
                                                              f"as {_KIND_WORDS[kind]}; keep one kind per file"))
                else:
                    pass
                if not problems and kind is not None:
                    checked = (_check_mc if kind == "mc" else _check_qa)(row, line, problems)
                    if checked is not None:
                        rows.append(checked)
            total += len(problems)
            errors.extend(problems[: max(0, MAX_ERRORS - len(errors))])
    if not rows and not errors:
        errors.append(RowError(None, "file", "has no rows; write one JSON object per line"))
        total = 1
    if errors:
        raise EvalFileError(name, errors, total)
    return EvalFile(kind=kind or "qa", rows=rows, path=name)


_KIND_WORDS = {"mc": "multiple choice (question, choices, answer)", "qa": "question/answer"}
