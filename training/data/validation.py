"""Validating a dataset row by row for a method, with statistics and a preview as the trainer sees it.

Structure checks read every row (for a Hub dataset, the first `stream_rows` rows unless a full check is
asked for). Which rows are errors and which are warnings depends on the method's accepted TRL types
(`MethodSpec.formats`) and on each type's own rules. Importing this module is cheap: no torch,
transformers or datasets; a tokenizer, when given, is only called.
"""

from __future__ import annotations

import gc
import heapq
import os
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from training.data import jsonio
from training.data.column_mapping import method_compatibility, suggest_column_map
from training.data.formats import NORMALISERS, NOTES, TRL_TYPE_COLUMNS, detect_format, record_text, row_notes
from training.data.sources import DataSourceError, LoadedRecords, RowIssue, classify_source, load_records
from training.methods.registry import MethodSpec, get_method

MAX_LISTED_ERRORS = 50
PREVIEW_ROWS = 5
RENDERED_ROWS = 3
TOKEN_SAMPLE = 2000
LONG_ROW_CHARS = 20_000
HUB_STREAM_ROWS = 1000  # rows a Hub dataset's quick check streams; the full check reads all
ROWS_NAMED = 5  # rows named in a warning
_KINDS = {str: "text", int: "number", float: "number", bool: "true/false", list: "list", dict: "object"}


@dataclass
class ValidationReport:
    valid: bool
    source: str
    format: str | None = None  # source format (messages, sharegpt, alpaca, preference, ...)
    trl_type: str | None = None
    rows: int = 0  # rows read
    usable_rows: int = 0
    columns: list[str] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)  # capped at MAX_LISTED_ERRORS, lowest rows first
    error_count: int = 0
    warnings: list[str] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    token_stats: dict | None = None
    compatibility: list[dict] = field(default_factory=list)  # per method: ready / needs mapping / incompatible
    suggested_column_map: dict[str, str] | None = None  # for the chosen method, when its columns need renaming
    partial: bool = False  # only the first rows were checked (a Hub dataset's quick check, or max rows)
    rendered: list[dict] = field(default_factory=list)  # examples as the trainer sees them (needs a tokenizer)
    tokenizer_note: str | None = None  # why token statistics or the rendered preview are missing
    normalised: list[dict] = field(default_factory=list, repr=False)  # usable rows in TRL shape
    normalised_rows: list[int] = field(default_factory=list, repr=False)  # their row numbers

    def add_error(self, issue: RowIssue) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(issue)

    def to_dict(self) -> dict:
        return {
            "valid": self.valid,
            "source": self.source,
            "format": self.format,
            "trl_type": self.trl_type,
            "rows": self.rows,
            "usable_rows": self.usable_rows,
            "columns": self.columns,
            "errors": [e.to_dict() for e in self.errors],
            "error_count": self.error_count,
            "errors_not_listed": self.error_count - len(self.errors),
            "warnings": self.warnings,
            "partial": self.partial,
            "compatibility": self.compatibility,
            "suggested_column_map": self.suggested_column_map,
            "preview": self.preview,
            "token_stats": self.token_stats,
            "rendered_preview": self.rendered,
            "tokenizer_note": self.tokenizer_note,
        }

    def summary(self) -> str:
        if self.format is None:
            head = f"{self.source}: format not recognised"
        else:
            head = f"{self.source}: {self.format} format ({self.trl_type}), {self.rows} rows, {self.usable_rows} usable"
        verdict = "valid" if self.valid else f"invalid, {self.error_count} error(s)"
        return f"{head}; {verdict}"


def validate_dataset(
    source: str,
    method: str = "sft",
    split: str = "train",
    subset: str | None = None,
    column_map: dict[str, str] | None = None,
    max_rows: int | None = None,
    tokenizer=None,
    max_length: int | None = None,
    stream_rows: int | None = None,
    render: bool = False,
) -> ValidationReport:
    """Read every row (up to max_rows; a Hub dataset's first `stream_rows`) and report what is wrong, where,
    and how to fix it. With a tokenizer: token statistics, and with `render` the first examples as the trainer
    sees them (token by token, loss-carrying tokens marked). `demo` means the method's view of the demo data."""
    from training.data.demo_data import resolve_data_source

    spec = get_method(method)
    is_demo = isinstance(source, str) and source.strip() == "demo"
    source = resolve_data_source(source, method)
    with _gc_paused():
        report = _check_structure(source, spec, split, subset, column_map or {}, max_rows, stream_rows)
    if is_demo:  # `demo` has a view for every method: it is ready whichever one is picked
        report.compatibility = [{**c, "status": "ready", "reason": "the built-in demo has a view of its facts for this method",
                                 "column_map": {}} for c in report.compatibility]
    if tokenizer is not None and report.normalised:
        _add_token_views(report, tokenizer, max_length, render)
    report.valid = report.error_count == 0 and report.usable_rows > 0
    key = _verdict_key(source, method, split, subset, column_map, max_rows)
    if key is not None:  # a local file is read whole (up to max_rows, which is part of the key)
        with _verdicts_lock:
            _verdicts[key] = Verdict(report.valid, [e for e in report.errors[:3]], report.error_count,
                                     list(report.normalised[0]) if report.normalised else [])
            while len(_verdicts) > VERDICTS_KEPT:
                _verdicts.pop(next(iter(_verdicts)))
    return report


@dataclass(frozen=True)
class Verdict:
    """What a whole-file validation concluded: kept so that Train does not read and check the same file again."""

    valid: bool
    first_errors: list
    error_count: int
    columns: list  # of the first normalised row (reward functions read columns)


VERDICTS_KEPT = 32
_verdicts: dict[tuple, Verdict] = {}
_verdicts_lock = threading.Lock()


def _verdict_key(source: str, method: str, split: str, subset: str | None, column_map: dict | None,
                 max_rows: int | None) -> tuple | None:
    """A local file's fingerprint (path, size, modification time) with the settings the checks depend on; None for
    a Hub dataset (it can change remotely) or a path that cannot be read."""
    try:
        path = Path(os.path.expanduser(str(source))).resolve()
        stat = path.stat()
    except (OSError, ValueError, RuntimeError):
        return None
    if not path.is_file():
        return None
    return (str(path), stat.st_size, stat.st_mtime_ns, method, split, subset,
            tuple(sorted((column_map or {}).items())), max_rows)


def dataset_verdict(source: str, method: str = "sft", split: str = "train", subset: str | None = None,
                    column_map: dict[str, str] | None = None, max_rows: int | None = None) -> Verdict:
    """Whether every row of the dataset is valid for the method: remembered from an earlier validation of the same
    unchanged file with the same settings (Validate in the app), else checked now."""
    from training.data.demo_data import resolve_data_source

    key = _verdict_key(resolve_data_source(source, method), method, split, subset, column_map, max_rows)
    with _verdicts_lock:
        cached = _verdicts.get(key) if key is not None else None
    if cached is not None:
        return cached
    report = validate_dataset(source, method, split=split, subset=subset, column_map=column_map, max_rows=max_rows)
    return Verdict(report.valid, list(report.errors[:3]), report.error_count,
                   list(report.normalised[0]) if report.normalised else [])


@contextmanager
def _gc_paused():
    """Parsing builds millions of small objects and no cycles: the cyclic collector would only rescan them
    over and over (a third of the parse time). It is switched back on afterwards if it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_structure(source: str, spec: MethodSpec, split: str, subset: str | None, column_map: dict[str, str],
                     max_rows: int | None, stream_rows: int | None) -> ValidationReport:
    report = ValidationReport(valid=False, source=source)
    limit, streamed = max_rows, False
    try:
        if stream_rows and classify_source(source) == "hub" and (limit is None or stream_rows < limit):
            limit, streamed = stream_rows, True
        loaded = load_records(source, split=split, subset=subset, limit=limit)
    except DataSourceError as exc:
        report.add_error(RowIssue(None, "(file)", str(exc)))
        return report
    report.source = loaded.origin or source
    report.warnings.extend(loaded.notes)
    _check_rows(report, loaded, spec, column_map)
    if loaded.truncated:
        report.partial = True
        if streamed:
            report.warnings.append(f"Checked the first {len(loaded.records)} rows, streamed from the Hub (nothing else was "
                                   "downloaded). Run the full check to read every row.")
        else:
            report.warnings.append(f"Only the first {len(loaded.records)} rows were read (max rows).")
    return report


def _check_rows(report: ValidationReport, loaded: LoadedRecords, spec: MethodSpec, column_map: dict[str, str]) -> None:
    records = loaded.records
    report.rows = len(records) + len(loaded.issues)
    report.error_count += len(loaded.issues)
    file_errors = list(report.errors)
    if not records:
        if not loaded.issues:
            file_errors.append(RowIssue(None, "(file)", "The dataset has no rows (header only or empty). Add examples."))
            report.error_count += 1
        report.errors = _first_errors(file_errors, loaded.issues, [])
        return
    report.columns = loaded.columns
    sample = [rec for _, rec in records[:20]]
    report.compatibility = [c.to_dict() for c in method_compatibility(report.columns, column_map=column_map, sample=sample)]
    mapped_columns = list(dict.fromkeys(column_map.get(c, c) for c in report.columns))
    fmt = detect_format(mapped_columns, spec.formats)
    needs = " or ".join(TRL_TYPE_COLUMNS.get(t, t) for t in spec.formats)
    if fmt is None or fmt.trl_type not in spec.formats:
        suggestion = suggest_column_map(mapped_columns, spec.formats, sample)
        if suggestion is not None and suggestion.column_map:
            report.suggested_column_map = suggestion.column_map
            fix = f"Suggested mapping: {jsonio.dumps_sorted(suggestion.column_map).decode()}; put it under 'Column mapping'."
        else:
            fix = "Map your columns under 'Column mapping' or pick another method."
        if fmt is None:
            problem = f"Cannot tell the format from columns {', '.join(report.columns)}. {spec.label} needs {needs}."
        else:
            report.format, report.trl_type = fmt.source_format, fmt.trl_type
            problem = f"{spec.name.upper()} needs {needs}; found {fmt.description} (columns: {', '.join(report.columns)})."
        report.error_count += 1
        report.errors = _first_errors(file_errors + [RowIssue(None, "(columns)", f"{problem} {fix}")], loaded.issues, [])
        return
    report.format, report.trl_type = fmt.source_format, fmt.trl_type
    row_errors = _normalise_rows(report, records, fmt, column_map)
    report.errors = _first_errors(file_errors, loaded.issues, row_errors)
    report.warnings.extend(_mixed_type_warnings(records, report.columns))


def _first_errors(file_errors: list[RowIssue], issues: list[RowIssue], row_errors: list[RowIssue]) -> list[RowIssue]:
    """The first MAX_LISTED_ERRORS errors by row (file-level ones first); both lists are already in row order."""
    merged = heapq.merge(issues[:MAX_LISTED_ERRORS], row_errors, key=lambda e: e.row or 0)
    return (file_errors + list(merged))[:MAX_LISTED_ERRORS]


def _normalise_rows(report: ValidationReport, records: list[tuple[int, dict]], fmt, column_map: dict[str, str]) -> list[RowIssue]:
    """Normalise every row; collect the first row errors, and warnings that need the whole dataset."""
    normalise = NORMALISERS[fmt.source_format]
    need_assistant = fmt.trl_type == "conversational"  # SFT's rules: there is a reply to learn, and it comes last
    pairs = fmt.trl_type == "preference"
    dumps = jsonio.dumps_sorted
    out, out_rows = report.normalised, report.normalised_rows
    row_errors: list[RowIssue] = []
    error_count = 0
    seen: dict[int, int] = {}
    duplicates: list[tuple[int, int]] = []
    same_pairs: list[int] = []
    long_rows: list[int] = []
    noted: dict[str, list[int]] = {}  # what a row's format cannot honour (per-message weights) -> rows
    notes = row_notes if need_assistant else None
    for number, record in records:
        if column_map:
            record = {column_map.get(k, k): v for k, v in record.items()}
        row, problems = normalise(record, need_assistant)
        if problems:
            error_count += len(problems)
            if len(row_errors) < MAX_LISTED_ERRORS:
                row_errors.extend(RowIssue(number, fld, msg) for fld, msg in problems)
            continue
        out.append(row)
        out_rows.append(number)
        if notes is not None:
            for note in notes(record):
                noted.setdefault(note, []).append(number)
        blob = dumps(row)
        first = seen.setdefault(hash(blob), number)
        if first != number:
            duplicates.append((number, first))
        if len(blob) > LONG_ROW_CHARS and len(record_text(row)) > LONG_ROW_CHARS:
            long_rows.append(number)
        if pairs and row["chosen"] == row["rejected"]:
            same_pairs.append(number)
    report.error_count += error_count
    report.usable_rows = len(out)
    report.preview = [{"row": n, **r} for n, r in zip(out_rows[:PREVIEW_ROWS], out[:PREVIEW_ROWS], strict=True)]
    if duplicates:
        shown = "; ".join(f"row {n} repeats row {f}" for n, f in duplicates[:ROWS_NAMED])
        more = ", …" if len(duplicates) > ROWS_NAMED else ""
        report.warnings.append(f"{len(duplicates)} duplicate row(s) ({shown}{more}): they weigh twice in training. "
                               "Remove them unless intended.")
    if same_pairs:
        report.warnings.append(f"{len(same_pairs)} pair(s) have chosen identical to rejected ({_rows(same_pairs)}): they "
                               "teach nothing. Fix the rejected answer or drop those rows.")
    for note, numbers in noted.items():
        report.warnings.append(f"{len(numbers)} row(s) ({_rows(numbers)}) {NOTES[note]}.")
    if long_rows:
        report.warnings.append(f"{len(long_rows)} very long row(s), over {LONG_ROW_CHARS:,} characters ({_rows(long_rows)}): "
                               "they will be truncated at max length. Split them, or raise max length if memory allows.")
    return row_errors


def _rows(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:ROWS_NAMED])
    return f"row {shown}" if len(numbers) == 1 else f"rows {shown}{', …' if len(numbers) > ROWS_NAMED else ''}"


def _mixed_type_warnings(records: list[tuple[int, dict]], columns: list[str]) -> list[str]:
    """Columns whose values are of several kinds (text in some rows, numbers in others...); nulls do not count."""
    warnings = []
    for col in columns:
        types = Counter(type(rec.get(col)) for _, rec in records)
        types.pop(type(None), None)
        kinds: Counter = Counter()
        for t, n in types.items():
            kinds[_KINDS.get(t, t.__name__)] += n
        if len(kinds) < 2:
            continue
        common = kinds.most_common(1)[0][0]
        firsts = {}
        for number, rec in records:
            value = rec.get(col)
            kind = _KINDS.get(type(value), type(value).__name__) if value is not None else None
            if kind and kind != common and kind not in firsts:
                firsts[kind] = number
        others = "; ".join(f"{kinds[k]} row(s) of {k}, first at row {firsts[k]}" for k in firsts)
        warnings.append(f"Column '{col}' mixes types: mostly {common} ({kinds[common]} rows), but {others}. "
                        f"Make every value {common}.")
    return warnings


def _add_token_views(report: ValidationReport, tokenizer, max_length: int | None, render: bool) -> None:
    """Token statistics and rendered examples; a tokenizer that cannot handle the data leaves a note, not a crash."""
    from training.data.preview import render_example

    try:
        if max_length:
            report.token_stats = token_statistics(report.normalised, tokenizer, max_length, report.trl_type,
                                                  report.normalised_rows)
            stats = report.token_stats
            if stats["truncated_pct"] > 0:
                where = f" ({_rows(stats['truncated_rows'])})" if stats["truncated_rows"] else ""
                report.warnings.append(f"{stats['truncated_pct']:.1f}% of examples{where} are longer than max length "
                                       f"{max_length} tokens and will be truncated. Raise max length or shorten them.")
        shown = RENDERED_ROWS if render else 0
        for number, row in zip(report.normalised_rows[:shown], report.normalised[:shown], strict=True):
            report.rendered.append(render_example(row, tokenizer, max_length, number, trl_type=report.trl_type).to_dict())
    except Exception as exc:  # a tokenizer without a chat template, a template that rejects a role, ...
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        report.tokenizer_note = f"Token statistics and the rendered preview are not available: the tokenizer failed ({reason})."
        if report.trl_type in ("conversational", "preference", "prompt_only") and not getattr(tokenizer, "chat_template", None):
            report.tokenizer_note += " The model has no chat template, so it cannot format chat data; pick an Instruct/chat model."


def count_tokens(row: dict, tokenizer, trl_type: str | None = None) -> int:
    from training.data.preview import count_tokens as count

    return count(row, tokenizer, trl_type)


def token_statistics(rows: list[dict], tokenizer, max_length: int, trl_type: str | None = None,
                     row_numbers: list[int] | None = None) -> dict:
    """Token counts per example: exact up to TOKEN_SAMPLE rows, else from an evenly spaced sample (stated)."""
    from training.data.preview import count_tokens as count

    n = len(rows)
    step = max(1, n // TOKEN_SAMPLE)
    picked = list(range(0, n, step))[:TOKEN_SAMPLE]
    counts = [count(rows[i], tokenizer, trl_type) for i in picked]
    longest = max(counts)
    truncated = [i for i, c in zip(picked, counts, strict=True) if c > max_length]
    bins = 20
    # the histogram spans the data; max length is inside it unless it is far beyond the longest example
    top = max(longest + 1, min(max_length + 1, 2 * longest))
    width = max(1, -(-top // bins))
    histogram = [0] * bins
    for c in counts:
        histogram[min(bins - 1, c // width)] += 1
    exact = len(picked) == n
    return {
        "exact": exact,
        "sampled_rows": len(picked),
        "rows": n,
        "mean_tokens": round(sum(counts) / len(counts), 1),
        "max_tokens": longest,
        "min_tokens": min(counts),
        "truncated_pct": round(100 * len(truncated) / len(counts), 2),
        "truncated_rows": [row_numbers[i] for i in truncated[:20]] if exact and row_numbers else [],
        "total_tokens": int(round(sum(min(c, max_length) for c in counts) * n / len(counts))),
        "max_length": max_length,
        "histogram": {"bin_width": width, "counts": histogram},
    }
