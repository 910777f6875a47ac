"""The record path of a validation: CSV, JSON documents, Hub datasets and files pyarrow cannot read faithfully (a
malformed line, types that change between rows) are read by the record loader (training/data/sources.py), which
names each bad line; the rows then go through the same row checks as the Arrow path."""

from __future__ import annotations

from training.data.progress import Throttled
from training.data.row_checks import first_errors, mixed_type_warnings, start_checks
from training.data.sources import DataSourceError, LoadedRecords, RowIssue, load_records
from training.data.validation_report import ValidationReport
from training.methods.registry import MethodSpec


def check_records(source: str, kind: str, spec: MethodSpec, split: str, subset: str | None,
                  column_map: dict[str, str], max_rows: int | None, stream_rows: int | None,
                  tick: Throttled, text_unit: str = "line") -> ValidationReport:
    report = ValidationReport(valid=False, source=source)
    limit, streamed = max_rows, False
    tick("reading the dataset", 0, None, final=True)
    try:
        if stream_rows and kind == "hub" and (limit is None or stream_rows < limit):
            limit, streamed = stream_rows, True
        loaded = load_records(source, split=split, subset=subset, limit=limit, text_unit=text_unit)
    except DataSourceError as exc:
        report.add_error(RowIssue(None, "(file)", str(exc)))
        return report
    report.source = loaded.origin or source
    report.warnings.extend(loaded.notes)
    check_loaded(report, loaded, spec, column_map, tick)
    if loaded.truncated:
        report.partial = True
        if streamed:
            report.warnings.append(f"Checked the first {len(loaded.records)} rows, streamed from the Hub (nothing else was "
                                   "downloaded). Run the full check to read every row.")
        else:
            report.warnings.append(f"Only the first {len(loaded.records)} rows were read (max rows).")
    return report


def check_loaded(report: ValidationReport, loaded: LoadedRecords, spec: MethodSpec, column_map: dict[str, str],
                  tick: Throttled) -> None:
    records = loaded.records
    report.rows = len(records) + len(loaded.issues)
    report.error_count += len(loaded.issues)
    file_errors = list(report.errors)
    if not records:
        if not loaded.issues:
            file_errors.append(RowIssue(None, "(file)", "The dataset has no rows (header only or empty). Add examples."))
            report.error_count += 1
        report.errors = first_errors(file_errors, loaded.issues, [])
        return
    report.columns = loaded.columns
    checker = start_checks(report, spec, column_map, [rec for _, rec in records[:20]])
    if checker is None:
        report.errors = first_errors(report.errors, loaded.issues, [])
        return
    total = len(records)
    for start in range(0, total, 10_000):
        part = records[start:start + 10_000]
        checker.check([n for n, _ in part], [rec for _, rec in part], None)
        tick("validating rows", min(total, start + 10_000), total)
    tick("validating rows", total, total, final=True)
    checker.finish()
    report.errors = first_errors(file_errors, loaded.issues, checker.row_errors)
    report.warnings.extend(mixed_type_warnings(records, report.columns))
