"""The Arrow path of a validation: a JSONL or Parquet file is read as Arrow record batches (training/data/arrow_rows.py),
a chunk at a time, and each batch goes through the row checks as it passes. A JSONL file's batches are also written
to an Arrow cache that Train memory-maps instead of parsing the file again. A file pyarrow cannot read faithfully
raises NotArrowReadable, and the record loader reads it instead (training/data/record_scan.py)."""

from __future__ import annotations

from pathlib import Path

from training.data.arrow_rows import (
    ArrowCacheWriter,
    NotArrowReadable,
    TextChunk,
    drop_nulls,
    jsonl_batches,
    parquet_batches,
    read_ahead,
)
from training.data.column_kinds import ColumnKinds
from training.data.progress import Throttled
from training.data.row_checks import RowChecker, first_errors, start_checks
from training.data.sources import RowIssue, parse_jsonl
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
    """Stream the file's Arrow batches through the row checks; a JSONL chunk pyarrow cannot read as a batch of the
    file's columns (a malformed line, a value of another type) is read line by line, that chunk only. Raises
    NotArrowReadable (before or while reading) when the record loader must read the whole file instead (not UTF-8)."""
    scan = _Scan(path, spec, column_map, max_rows, tick)
    batches = read_ahead(jsonl_batches(path, scan.on_bytes, text_chunks=True) if kind == "jsonl" else
                         parquet_batches(path, scan.on_bytes))
    scan.writer = ArrowCacheWriter(cache_dir("datasets") / f"validated-{cache_name}.arrow") if kind == "jsonl" and cache_name else None
    try:
        tick("validating rows", 0, None, final=True)
        for table, numbers in batches:
            if isinstance(table, TextChunk):
                scan.text_chunk(table)
            else:
                scan.arrow_batch(table, numbers)
            if scan.report.partial:
                break
    except NotArrowReadable:
        scan.drop_cache()
        raise
    return scan.finish()


class _Scan:
    """One pass over a file's batches: the report, the row checks and the Arrow copy being written."""

    def __init__(self, path: Path, spec: MethodSpec, column_map: dict[str, str], max_rows: int | None, tick: Throttled):
        self.report = ValidationReport(valid=False, source=path.name)
        self.spec, self.column_map, self.max_rows, self.tick = spec, column_map, max_rows, tick
        self.size = max(1, path.stat().st_size)
        self.bytes_read = 0
        self.writer: ArrowCacheWriter | None = None
        self.checker: RowChecker | None = None
        self.skip_rows = False  # the columns fit no format: count the rows, check none
        self.rows = 0
        self.line_issues: list[RowIssue] = []  # lines that are no JSON object (the first MAX_LISTED_ERRORS)
        self.kinds = ColumnKinds()  # kinds of values per column, for rows no checker saw

    def on_bytes(self, n: int) -> None:
        self.bytes_read += n

    def drop_cache(self) -> None:
        if self.writer is not None:
            self.writer.discard()
            self.writer = None

    def _room(self, n: int) -> int:
        """How many of the next n rows max rows leaves to read (all of them without it)."""
        if self.max_rows is not None and self.rows + n > self.max_rows:
            self.report.partial = True
            return self.max_rows - self.rows
        return n

    def _start(self, columns: list[str], sample: list[dict], may_have_weights: bool) -> None:
        if self.checker is None and not self.skip_rows:
            self.report.columns = columns
            self.checker = start_checks(self.report, self.spec, self.column_map, sample)
            self.skip_rows = self.checker is None
            if self.checker is not None and not may_have_weights:
                self.checker.notes = None  # no message can carry a loss weight: nothing for row_notes to find

    def arrow_batch(self, table, numbers) -> None:
        keep = self._room(table.num_rows)
        if keep < table.num_rows:
            table, numbers = table.slice(0, keep), numbers[:keep]
        if table.num_rows == 0:
            return
        try:
            table.validate(full=True)  # pyarrow does not check UTF-8 while parsing
        except (ValueError, TypeError) as exc:  # pyarrow.ArrowInvalid is a ValueError
            raise NotArrowReadable(f"not UTF-8: {exc}") from None
        if self.writer is not None:
            self.writer.write(table)
        self.kinds.add_table(table, numbers)
        weights = any(k in str(table.schema) for k in ("weight", "loss_weight"))
        if self.checker is None and not self.skip_rows:
            self._start(list(table.column_names), [drop_nulls(r) for r in table.slice(0, 20).to_pylist()], weights)
        checker = self.checker
        if checker is not None and not checker.check_table(numbers, table):
            try:
                raw = table.to_pylist()
            except (IndexError, ArithmeticError, TypeError, ValueError) as exc:  # e.g. pyarrow's ArrowIndexError on a
                raise NotArrowReadable(f"pyarrow could not read it back: {exc}") from None  # list of only nulls
            records = [drop_nulls(r) for r in raw] if _has_nulls(table) else raw
            checker.check(numbers, records, raw, notes=weights)
        self._advance(table.num_rows)

    def text_chunk(self, chunk: TextChunk) -> None:
        """A chunk pyarrow could not read as a batch: its lines one by one, as the record loader reads them."""
        try:
            text = chunk.data.decode("utf-8")
        except UnicodeDecodeError:
            raise NotArrowReadable("not UTF-8") from None
        self.drop_cache()  # the file does not read as one Arrow table: Train reads it itself
        loaded = parse_jsonl(text, first_line=chunk.first_line, max_issues=MAX_LISTED_ERRORS)
        records, issues, bad = loaded.records, loaded.issues, loaded.issue_count
        keep = self._room(len(records) + bad)
        if keep < len(records) + bad:  # the first `keep` lines, records and issues alike
            lines = sorted([n for n, _ in records] + [i.row for i in issues])
            last = lines[min(keep, len(lines)) - 1] if keep else 0
            records = [(n, r) for n, r in records if n <= last]
            issues = [i for i in issues if i.row <= last]
            bad = len(issues)
        self.report.error_count += bad
        room = MAX_LISTED_ERRORS - len(self.line_issues)
        self.line_issues.extend(issues[:max(0, room)])
        numbers, rows = [n for n, _ in records], [r for _, r in records]
        self.kinds.add_records(numbers, rows)
        if rows and self.checker is None and not self.skip_rows:
            self._start(loaded.columns, rows[:20], True)
        if self.checker is not None and rows:
            self.checker.check(numbers, rows, None)
        self._advance(len(rows) + bad)

    def _advance(self, n: int) -> None:
        self.rows += n
        estimate = int(self.rows * self.size / self.bytes_read) if self.bytes_read else None
        self.tick("validating rows", self.rows, estimate if not self.report.partial else self.rows)

    def finish(self) -> ValidationReport:
        report, rows = self.report, self.rows
        self.tick("validating rows", rows, rows, final=True)
        report.rows = rows
        if rows == 0:
            self.drop_cache()
            report.add_error(RowIssue(None, "(file)", "The dataset has no rows (header only or empty). Add examples."))
            return report
        row_errors = []
        if self.checker is not None:
            self.checker.finish()
            row_errors = self.checker.row_errors
        report.errors = first_errors(list(report.errors), self.line_issues, row_errors)
        report.warnings.extend(self.kinds.warnings(report.columns))
        if report.partial:
            report.warnings.append(f"Only the first {rows} rows were read (max rows).")
        if self.writer is not None:
            if self.checker is not None and report.error_count == 0:
                report.arrow_cache = str(self.writer.commit())
                evict(self.writer.target.parent, "validated-*.arrow", ARROW_CACHES_KEPT)
            else:
                self.writer.discard()
        return report


def _has_nulls(table) -> bool:
    """Whether any value at any depth of the table is null (then rows need `drop_nulls` to read like JSON)."""
    import pyarrow as pa

    def nulls(array) -> bool:
        if array.null_count:
            return True
        t = array.type
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return nulls(array.values)  # all of the child, a superset of this slice's (flatten loads pyarrow.compute)
        if pa.types.is_struct(t):
            return any(nulls(array.field(i)) for i in range(t.num_fields))
        return False

    return any(nulls(chunk) for column in table.columns for chunk in column.chunks)
