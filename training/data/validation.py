"""Validating a dataset row by row for a method, with statistics and a preview as the trainer sees it.

Structure checks read every row (for a Hub dataset, the first `stream_rows` rows unless a full check is
asked for). Which rows are errors and which are warnings depends on the method's accepted TRL types
(`MethodSpec.formats`) and on each type's own rules.

The parts, each in its own module:
- validation_report.py: the report (`ValidationReport`) and the limits on what it keeps;
- validation_cache.py: the on-disk cache of reports, keyed by the file's fingerprint and the settings;
- arrow_scan.py: JSONL and Parquet read as Arrow batches, a chunk at a time (and the Arrow cache Train reads);
- record_scan.py: the record loader's path (CSV, JSON documents, Hub datasets, files pyarrow cannot read);
- row_checks.py: format detection and the per-row checks both paths share;
- token_views.py: token statistics and the rendered preview, with a tokenizer.
`_check_structure` below picks the path for a source: a new data family adds its reader there and feeds its rows
to the same row checks.

Importing this module is cheap: no torch, transformers or datasets; a tokenizer, when given, is only called.
"""

from __future__ import annotations

import gc
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from training.data.arrow_rows import NotArrowReadable
from training.data.arrow_scan import arrow_kind, check_arrow
from training.data.progress import ProgressFn, Throttled
from training.data.record_scan import check_records
from training.data.sources import DataSourceError, RowIssue, classify_source
from training.data.token_views import add_token_views, count_tokens, token_statistics
from training.data.validation_cache import file_fingerprint, read_cached, verdict_key, write_cached
from training.data.validation_report import MAX_LISTED_ERRORS, ValidationReport
from training.methods.registry import MethodSpec, get_method

HUB_STREAM_ROWS = 1000  # rows a Hub dataset's quick check streams; the full check reads all
__all__ = ["HUB_STREAM_ROWS", "MAX_LISTED_ERRORS", "ValidationReport", "Verdict", "count_tokens", "dataset_verdict",
           "file_fingerprint", "token_statistics", "validate_dataset"]


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
    progress: ProgressFn | None = None,
    text_unit: str = "line",
) -> ValidationReport:
    """Read every row (up to max_rows; a Hub dataset's first `stream_rows`) and report what is wrong, where,
    and how to fix it. With a tokenizer: token statistics, and with `render` the first examples as the trainer
    sees them (token by token, loss-carrying tokens marked). `demo` means the method's view of the demo data.
    `progress(stage, rows done, rows in all)` is called while rows are read (see training/data/progress.py).
    A local file's result is cached: checking the same unchanged file with the same settings again is instant.
    `text_unit`: how a .txt file becomes `text` rows (line, paragraph or document; the config's data.text_unit)."""
    from training.data.demo_data import resolve_data_source

    spec = get_method(method)
    is_demo = isinstance(source, str) and source.strip() == "demo"
    named, source = source, resolve_data_source(source, method)
    from training.data.image_validation import image_source_allowed

    if image_source_allowed(named, source):  # pictures: their own family (training/data/image_validation.py), never cached
        from training.data.image_validation import finish_image_report

        report = finish_image_report(ValidationReport(valid=False, source=source), source, spec, split, subset, max_rows,
                                     tokenizer, max_length, render, progress)
        if str(named).strip() == "demo-vision":  # like `demo`: a view of its pictures for every method that takes them
            report.compatibility = [{**c, "status": "ready", "column_map": {},
                                     "reason": "the built-in demo has a view of its pictures for this method"}
                                    if get_method(c["method"]).images else c for c in report.compatibility]
        return report
    key = verdict_key(source, method, split, subset, column_map, max_rows, text_unit)
    report = read_cached(key)
    if report is None:
        started = time.monotonic()
        with _gc_paused():
            report = _check_structure(source, spec, split, subset, column_map or {}, max_rows, stream_rows,
                                      progress=progress, cache_name=key, text_unit=text_unit)
        report.valid = report.error_count == 0 and report.usable_rows > 0
        report.seconds = round(time.monotonic() - started, 3)
        write_cached(key, report)
    if is_demo:  # `demo` has a view for every method: it is ready whichever one is picked
        report.compatibility = [{**c, "status": "ready", "reason": "the built-in demo has a view of its facts for this method",
                                 "column_map": {}} for c in report.compatibility]
    if tokenizer is not None and report.normalised:
        add_token_views(report, tokenizer, max_length, render, key)
    report.valid = report.error_count == 0 and report.usable_rows > 0
    return report


@dataclass(frozen=True)
class Verdict:
    """What a whole-file validation concluded, and what Train needs of it so that it does not read and check the
    same file again."""

    valid: bool
    first_errors: list
    error_count: int
    columns: list  # of the first normalised row (reward functions read columns)
    source_format: str | None = None
    trl_type: str | None = None
    rows: int = 0
    arrow_cache: str | None = None
    trl_ready: bool = False

    def for_training(self) -> dict:
        """What the training recipe reads (config["data"]["validated"]): where the rows already are as Arrow, and
        whether they need normalising."""
        return {"arrow_cache": self.arrow_cache, "source_format": self.source_format, "trl_type": self.trl_type,
                "trl_ready": self.trl_ready and bool(self.arrow_cache), "columns": list(self.columns), "rows": self.rows}


def _verdict_of(report: ValidationReport) -> Verdict:
    return Verdict(report.valid, list(report.errors[:3]), report.error_count,
                   list(report.normalised[0]) if report.normalised else [], report.format, report.trl_type,
                   report.rows, report.arrow_cache, report.trl_ready)


def dataset_verdict(source: str, method: str = "sft", split: str = "train", subset: str | None = None,
                    column_map: dict[str, str] | None = None, max_rows: int | None = None,
                    progress: ProgressFn | None = None, text_unit: str = "line") -> Verdict:
    """Whether every row of the dataset is valid for the method: read from the validation cache when the same
    unchanged file was checked with the same settings (Validate in the app or the CLI), else checked now."""
    from training.data.demo_data import resolve_data_source

    key = verdict_key(resolve_data_source(source, method), method, split, subset, column_map, max_rows, text_unit)
    cached = read_cached(key)
    if cached is not None:
        return _verdict_of(cached)
    return _verdict_of(validate_dataset(source, method, split=split, subset=subset, column_map=column_map,
                                        max_rows=max_rows, progress=progress, text_unit=text_unit))


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
                     max_rows: int | None, stream_rows: int | None, progress: ProgressFn | None = None,
                     cache_name: str | None = None, text_unit: str = "line") -> ValidationReport:
    tick = Throttled(progress)
    try:
        kind = classify_source(source)
    except DataSourceError as exc:
        report = ValidationReport(valid=False, source=source)
        report.add_error(RowIssue(None, "(file)", str(exc)))
        return report
    if kind in ("file", "demo"):
        path = Path(os.path.expanduser(source))
        arrow = arrow_kind(path) if kind == "file" else None
        if arrow is not None:
            try:
                return check_arrow(path, arrow, spec, column_map, max_rows, tick, cache_name)
            except NotArrowReadable:
                pass  # the record loader reads it and names the lines it cannot read
    return check_records(source, kind, spec, split, subset, column_map, max_rows, stream_rows, tick, text_unit)
