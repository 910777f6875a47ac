"""The Arrow path of a validation: a JSONL or Parquet file is read as Arrow record batches (training/data/arrow_rows.py),
a chunk at a time, and each batch goes through the row checks as it passes. A JSONL file's batches are also written
to an Arrow cache that Train memory-maps instead of parsing the file again. A file pyarrow cannot read faithfully
raises NotArrowReadable, and the record loader reads it instead (training/data/record_scan.py)."""

from __future__ import annotations

from pathlib import Path

from training.data.arrow_rows import ArrowCacheWriter, NotArrowReadable, drop_nulls, jsonl_batches, parquet_batches
from training.data.progress import Throttled
from training.data.row_checks import RowChecker, start_checks
from training.data.sources import RowIssue
from training.data.validation_cache import ARROW_CACHES_KEPT, cache_dir, evict
from training.data.validation_report import MAX_LISTED_ERRORS, ValidationReport
from training.methods.registry import MethodSpec

_ARROW_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def arrow_kind(path: Path) -> str | None:
    """'jsonl' or 'parquet' when the file can be read as Arrow batches (its name and first bytes agree), else None."""
    kind = _ARROW_SUFFIXES.get(path.suffix.lower())
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if kind == "parquet":
        return kind if head.startswith(b"PAR1") else None
    if kind == "jsonl":
        return kind if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else None
    return None


def check_arrow(path: Path, kind: str, spec: MethodSpec, column_map: dict[str, str], max_rows: int | None,
                 tick: Throttled, cache_name: str | None) -> ValidationReport:
    """Stream the file's Arrow batches through the row checks; raises NotArrowReadable (before or while reading)
    when the record loader must read it instead."""
    report = ValidationReport(valid=False, source=path.name)
    size = max(1, path.stat().st_size)
    read = {"bytes": 0}

    def on_bytes(n: int) -> None:
        read["bytes"] += n

    batches = jsonl_batches(path, on_bytes) if kind == "jsonl" else parquet_batches(path, on_bytes)
    writer = ArrowCacheWriter(cache_dir("datasets") / f"validated-{cache_name}.arrow") if kind == "jsonl" and cache_name else None
    checker: RowChecker | None = None
    skip_rows = False  # the columns fit no format: count the rows, check none
    rows = 0
    try:
        tick("validating rows", 0, None, final=True)
        for table, numbers in batches:
            if max_rows is not None and rows + table.num_rows > max_rows:
                keep = max_rows - rows
                table, numbers = table.slice(0, keep), numbers[:keep]
                report.partial = True
            if table.num_rows == 0:
                break
            if writer is not None:
                writer.write(table)
            try:
                raw = table.to_pylist()
            except UnicodeDecodeError:  # pyarrow does not check UTF-8 while parsing: not UTF-8 text
                raise NotArrowReadable("not UTF-8") from None
            except (IndexError, ArithmeticError, TypeError, ValueError) as exc:  # e.g. pyarrow's ArrowIndexError on a
                raise NotArrowReadable(f"pyarrow could not read it back: {exc}") from None  # list of only nulls
            records = [drop_nulls(r) for r in raw] if _has_nulls(table) else raw
            if checker is None and not skip_rows:
                report.columns = list(table.column_names)
                checker = start_checks(report, spec, column_map, records[:20])
                skip_rows = checker is None
                if checker is not None and not any(k in str(table.schema) for k in ("weight", "loss_weight")):
                    checker.notes = None  # no message can carry a loss weight: nothing for row_notes to find
            if checker is not None:
                checker.check(numbers, records, raw)
            rows += table.num_rows
            estimate = int(rows * size / read["bytes"]) if read["bytes"] else None
            tick("validating rows", rows, estimate if not report.partial else rows)
            if report.partial:
                break
    except NotArrowReadable:
        if writer is not None:
            writer.discard()
        raise
    tick("validating rows", rows, rows, final=True)
    report.rows = rows
    if rows == 0:
        if writer is not None:
            writer.discard()
        report.add_error(RowIssue(None, "(file)", "The dataset has no rows (header only or empty). Add examples."))
        return report
    if checker is not None:
        checker.finish()
        report.errors = checker.row_errors[:MAX_LISTED_ERRORS]
    if report.partial:
        report.warnings.append(f"Only the first {rows} rows were read (max rows).")
    if writer is not None:
        if checker is not None and report.error_count == 0:
            report.arrow_cache = str(writer.commit())
            evict(writer.target.parent, "validated-*.arrow", ARROW_CACHES_KEPT)
        else:
            writer.discard()
    return report


def _has_nulls(table) -> bool:
    """Whether any value at any depth of the table is null (then rows need `drop_nulls` to read like JSON)."""
    import pyarrow as pa

    def nulls(array) -> bool:
        if array.null_count:
            return True
        t = array.type
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return nulls(array.flatten())
        if pa.types.is_struct(t):
            return any(nulls(array.field(i)) for i in range(t.num_fields))
        return False

    return any(nulls(chunk) for column in table.columns for chunk in column.chunks)
