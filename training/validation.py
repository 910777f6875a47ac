"""Validating a dataset row by row for a method, with statistics and a normalised preview."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from training.data_sources import DataSourceError, LoadedRecords, RowIssue, load_records
from training.formats import apply_column_map, detect_format, normalise_record, record_text
from training.methods import get_method

MAX_LISTED_ERRORS = 50
PREVIEW_ROWS = 5
TOKEN_SAMPLE = 2000


@dataclass
class ValidationReport:
    valid: bool
    source: str
    format: str | None = None  # source format (messages, sharegpt, alpaca, ...)
    trl_type: str | None = None
    rows: int = 0  # rows read
    usable_rows: int = 0
    columns: list[str] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)  # capped at MAX_LISTED_ERRORS
    error_count: int = 0
    warnings: list[str] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    token_stats: dict | None = None
    normalised: list[dict] = field(default_factory=list, repr=False)  # usable rows in TRL shape

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
            "preview": self.preview,
            "token_stats": self.token_stats,
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
) -> ValidationReport:
    """Read every row (up to max_rows) and report what is wrong, where, and how to fix it."""
    spec = get_method(method)
    report = ValidationReport(valid=False, source=source)
    try:
        loaded = load_records(source, split=split, subset=subset, limit=max_rows)
    except DataSourceError as exc:
        report.add_error(RowIssue(None, "(file)", str(exc)))
        return report
    report.source = loaded.origin or source
    report.warnings.extend(loaded.notes)
    _check_rows(report, loaded, spec, column_map or {})
    if report.normalised:
        _check_duplicates(report)
        if tokenizer is not None and max_length:
            report.token_stats = token_statistics(report.normalised, tokenizer, max_length)
            pct = report.token_stats["truncated_pct"]
            if pct > 0:
                report.warnings.append(f"{pct:.1f}% of examples are longer than max length {max_length} tokens and will be truncated.")
    report.errors.sort(key=lambda e: (e.row is not None, e.row or 0))
    report.valid = report.error_count == 0 and report.usable_rows > 0
    return report


def _check_rows(report: ValidationReport, loaded: LoadedRecords, spec, column_map: dict[str, str]) -> None:
    for issue in loaded.issues:
        report.add_error(issue)
    report.rows = len(loaded.records) + len(loaded.issues)
    if not loaded.records:
        if not loaded.issues:
            report.add_error(RowIssue(None, "(file)", "The dataset has no rows (header only or empty). Add examples."))
        return
    mapped_columns = list(dict.fromkeys(column_map.get(c, c) for c in loaded.columns))
    report.columns = loaded.columns
    fmt = detect_format(mapped_columns)
    if fmt is None:
        report.add_error(RowIssue(None, "(columns)", (
            f"Cannot tell the format from columns {', '.join(loaded.columns)}. {spec.label} needs one of: "
            "messages; conversations; instruction+output; prompt+completion; text. Map your columns under 'Column mapping'."
        )))
        return
    report.format, report.trl_type = fmt.source_format, fmt.trl_type
    if fmt.trl_type not in spec.formats:
        report.add_error(RowIssue(None, "(columns)", (
            f"{spec.name.upper()} needs {' or '.join(spec.formats)} data; found {fmt.description} "
            f"(columns: {', '.join(loaded.columns)}). Map your columns under 'Column mapping' or pick another method."
        )))
        return
    long_rows = 0
    for number, record in loaded.records:
        row, problems = normalise_record(apply_column_map(record, column_map), fmt, need_assistant=True)
        for fld, msg in problems:
            report.add_error(RowIssue(number, fld, msg))
        if row is not None:
            report.normalised.append(row)
            if len(record_text(row)) > 20000:
                long_rows += 1
            if len(report.preview) < PREVIEW_ROWS:
                report.preview.append({"row": number, **row})
    report.usable_rows = len(report.normalised)
    if long_rows:
        report.warnings.append(f"{long_rows} row(s) are over 20,000 characters; they will be truncated at max length.")
    if loaded.truncated:
        report.warnings.append(f"Only the first {len(loaded.records)} rows were read (max rows).")


def _check_duplicates(report: ValidationReport) -> None:
    seen: set[str] = set()
    dups = 0
    for row in report.normalised:
        digest = hashlib.blake2b(json.dumps(row, sort_keys=True).encode(), digest_size=16).hexdigest()
        if digest in seen:
            dups += 1
        seen.add(digest)
    if dups:
        report.warnings.append(f"{dups} duplicate row(s): they weigh twice in training. Remove them unless intended.")


def count_tokens(row: dict, tokenizer) -> int:
    if "messages" in row:
        ids = tokenizer.apply_chat_template(row["messages"], tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return len(ids)
    if "prompt" in row and "completion" in row:
        return sum(count_tokens({"text": v} if isinstance(v, str) else {"messages": v}, tokenizer) for v in (row["prompt"], row["completion"]))
    text = row.get("text") or row.get("prompt") or ""
    if isinstance(text, list):
        return count_tokens({"messages": text}, tokenizer)
    return len(tokenizer(text, add_special_tokens=True)["input_ids"])


def token_statistics(rows: list[dict], tokenizer, max_length: int) -> dict:
    """Token counts per example: exact up to TOKEN_SAMPLE rows, else from an evenly spaced sample."""
    n = len(rows)
    step = max(1, n // TOKEN_SAMPLE)
    sample = rows[::step][:TOKEN_SAMPLE]
    counts = [count_tokens(r, tokenizer) for r in sample]
    mean = sum(counts) / len(counts)
    truncated = sum(1 for c in counts if c > max_length)
    bins = 20
    top = max(max(counts), max_length)
    width = max(1, -(-top // bins))
    histogram = [0] * bins
    for c in counts:
        histogram[min(bins - 1, c // width)] += 1
    return {
        "exact": len(sample) == n,
        "sampled_rows": len(sample),
        "mean_tokens": round(mean, 1),
        "max_tokens": max(counts),
        "min_tokens": min(counts),
        "truncated_pct": round(100 * truncated / len(counts), 2),
        "total_tokens": int(round(sum(min(c, max_length) for c in counts) * n / len(counts))),
        "max_length": max_length,
        "histogram": {"bin_width": width, "counts": histogram},
    }
