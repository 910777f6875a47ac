"""Validating a dataset row by row for a method, with statistics and a preview as the trainer sees it.

Structure checks read every row (for a Hub dataset, the first `stream_rows` rows unless a full check is
asked for). Which rows are errors and which are warnings depends on the method's accepted TRL types
(`MethodSpec.formats`) and on each type's own rules.

A JSONL or Parquet file is read as Arrow record batches (training/data/arrow_rows.py), a chunk at a time, and each
row is checked by the formats API as it passes: the report keeps counts, the first errors, the first
NORMALISED_KEPT normalised rows and an evenly spaced sample for token statistics, never the whole file. A JSONL
file's batches are also written to an Arrow cache that Train memory-maps instead of parsing the file again. Files
pyarrow cannot read faithfully (a malformed line, types that change between rows), CSV, JSON documents and Hub
datasets go through the record loader (training/data/sources.py), which names each bad line.

The result of a local file's check is cached on disk (DATA_DIR/cache/validation), keyed by a fingerprint of the
file (path, size, modification time, a hash of its first and last 64 KB) and the settings the checks depend on
(method, column map, split, subset, max rows); token statistics are cached in the same entry per tokenizer and
max length. A second Validate of an unchanged file, and Train after Validate, read that entry instead of the file.

Importing this module is cheap: no torch, transformers or datasets; a tokenizer, when given, is only called.
"""

from __future__ import annotations

import gc
import hashlib
import heapq
import json
import os
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from training.data import jsonio
from training.data.arrow_rows import ArrowCacheWriter, NotArrowReadable, drop_nulls, jsonl_batches, parquet_batches
from training.data.column_mapping import method_compatibility, suggest_column_map
from training.data.format_version import formats_fingerprint
from training.data.formats import NORMALISERS, NOTES, TRL_TYPE_COLUMNS, detect_format, record_text, row_notes
from training.data.progress import ProgressFn, Throttled
from training.data.sources import DataSourceError, LoadedRecords, RowIssue, classify_source, load_records
from training.hosting.read_policy import local_path
from training.methods.registry import MethodSpec, get_method

MAX_LISTED_ERRORS = 50
PREVIEW_ROWS = 5
RENDERED_ROWS = 3
TOKEN_SAMPLE = 2000
NORMALISED_KEPT = 2000  # first usable rows kept in the report (estimate, before/after comparison, preview)
LONG_ROW_CHARS = 20_000
HUB_STREAM_ROWS = 1000  # rows a Hub dataset's quick check streams; the full check reads all
ROWS_NAMED = 5  # rows named in a warning
CACHE_VERSION = 1
VALIDATIONS_KEPT = 64  # cached reports kept on disk
ARROW_CACHES_KEPT = 3  # Arrow copies of JSONL files kept on disk (each about the size of its file)
_KINDS = {str: "text", int: "number", float: "number", bool: "true/false", list: "list", dict: "object"}
_ARROW_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


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
    normalised: list[dict] = field(default_factory=list, repr=False)  # the first NORMALISED_KEPT usable rows, TRL shape
    normalised_rows: list[int] = field(default_factory=list, repr=False)  # their row numbers
    token_sample: list[dict] = field(default_factory=list, repr=False)  # evenly spaced usable rows, TRL shape
    token_sample_rows: list[int] = field(default_factory=list, repr=False)  # their row numbers
    arrow_cache: str | None = None  # the file's rows as an Arrow stream file Train memory-maps (JSONL only)
    trl_ready: bool = False  # every row is already in TRL shape: training needs no normalisation pass
    cached: bool = False  # this report was read from the validation cache, not computed now
    seconds: float = 0.0  # time the structure check took when it was computed

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
            "cached": self.cached,
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
    progress: ProgressFn | None = None,
) -> ValidationReport:
    """Read every row (up to max_rows; a Hub dataset's first `stream_rows`) and report what is wrong, where,
    and how to fix it. With a tokenizer: token statistics, and with `render` the first examples as the trainer
    sees them (token by token, loss-carrying tokens marked). `demo` means the method's view of the demo data.
    `progress(stage, rows done, rows in all)` is called while rows are read (see training/data/progress.py).
    A local file's result is cached: checking the same unchanged file with the same settings again is instant."""
    from training.data.demo_data import resolve_data_source

    spec = get_method(method)
    is_demo = isinstance(source, str) and source.strip() == "demo"
    source = resolve_data_source(source, method)
    key = _verdict_key(source, method, split, subset, column_map, max_rows)
    report = _read_cached(key)
    if report is None:
        started = time.monotonic()
        with _gc_paused():
            report = _check_structure(source, spec, split, subset, column_map or {}, max_rows, stream_rows,
                                      progress=progress, cache_name=key)
        report.valid = report.error_count == 0 and report.usable_rows > 0
        report.seconds = round(time.monotonic() - started, 3)
        _write_cached(key, report)
    if is_demo:  # `demo` has a view for every method: it is ready whichever one is picked
        report.compatibility = [{**c, "status": "ready", "reason": "the built-in demo has a view of its facts for this method",
                                 "column_map": {}} for c in report.compatibility]
    if tokenizer is not None and report.normalised:
        _add_token_views(report, tokenizer, max_length, render, key)
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
                    progress: ProgressFn | None = None) -> Verdict:
    """Whether every row of the dataset is valid for the method: read from the validation cache when the same
    unchanged file was checked with the same settings (Validate in the app or the CLI), else checked now."""
    from training.data.demo_data import resolve_data_source

    key = _verdict_key(resolve_data_source(source, method), method, split, subset, column_map, max_rows)
    cached = _read_cached(key)
    if cached is not None:
        return _verdict_of(cached)
    return _verdict_of(validate_dataset(source, method, split=split, subset=subset, column_map=column_map,
                                        max_rows=max_rows, progress=progress))


# --- the cache ------------------------------------------------------------------------------------------


def _cache_dir(name: str) -> Path:
    from training.hosting.paths import data_dir

    path = data_dir() / "cache" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_fingerprint(path: Path) -> list:
    """A local file's identity: resolved path, size, modification time and a hash of its first and last 64 KB."""
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 16))
        if stat.st_size > 1 << 17:
            fh.seek(-(1 << 16), os.SEEK_END)
        digest.update(fh.read(1 << 16))
    return [str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino, digest.hexdigest()]


def _verdict_key(source: str, method: str, split: str, subset: str | None, column_map: dict | None,
                 max_rows: int | None) -> str | None:
    """A local file's fingerprint with the settings the checks depend on, hashed; None for a Hub dataset (it can
    change remotely) or a path that cannot be read."""
    try:
        path = local_path(str(source))  # None for a Hub id (and for whatever a visitor names that looks like one)
        if path is None or not path.is_file():
            return None
        identity = file_fingerprint(path)
    except (OSError, ValueError, RuntimeError):  # ReadRefused is a ValueError
        return None
    material = [CACHE_VERSION, formats_fingerprint(), identity, method, split, subset, sorted((column_map or {}).items()), max_rows]
    return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()[:32]


_REPORT_FIELDS = {f.name for f in fields(ValidationReport)}


def _read_cached(key: str | None) -> ValidationReport | None:
    if key is None:
        return None
    try:
        data = json.loads((_cache_dir("validation") / f"{key}.json").read_text())
        if data.get("version") != CACHE_VERSION:
            return None
        values = {k: v for k, v in data["report"].items() if k in _REPORT_FIELDS}
        values["errors"] = [RowIssue(**e) for e in values.get("errors", [])]
        report = ValidationReport(**values)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if report.arrow_cache and not Path(report.arrow_cache).is_file():
        report.arrow_cache, report.trl_ready = None, False  # evicted: Train reads the file itself
    report.cached = True
    return report


def _write_cached(key: str | None, report: ValidationReport) -> None:
    if key is None:
        return
    values = asdict(report)
    for name in ("token_stats", "rendered", "tokenizer_note", "cached"):
        values.pop(name, None)
    folder = _cache_dir("validation")
    target = folder / f"{key}.json"
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "report": values, "tokens": {}}, default=str))
        tmp.replace(target)
        _evict(folder, "*.json", VALIDATIONS_KEPT)
    except (OSError, TypeError, ValueError):
        tmp.unlink(missing_ok=True)


def _cached_tokens(key: str | None, token_key: str) -> dict | None:
    if key is None:
        return None
    try:
        return json.loads((_cache_dir("validation") / f"{key}.json").read_text())["tokens"].get(token_key)
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def _store_tokens(key: str | None, token_key: str, stats: dict) -> None:
    if key is None:
        return
    path = _cache_dir("validation") / f"{key}.json"
    try:
        data = json.loads(path.read_text())
        data.setdefault("tokens", {})[token_key] = stats
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, default=str))
        tmp.replace(path)
    except (OSError, ValueError, TypeError):
        pass


def _evict(folder: Path, pattern: str, keep: int) -> None:
    """Remove all but the `keep` most recently written files matching `pattern`."""
    found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime_ns if p.exists() else 0, reverse=True)
    for old in found[keep:]:
        old.unlink(missing_ok=True)


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


# --- reading the rows -------------------------------------------------------------------------------------


def _arrow_kind(path: Path) -> str | None:
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


def _check_structure(source: str, spec: MethodSpec, split: str, subset: str | None, column_map: dict[str, str],
                     max_rows: int | None, stream_rows: int | None, progress: ProgressFn | None = None,
                     cache_name: str | None = None) -> ValidationReport:
    tick = Throttled(progress)
    try:
        kind = classify_source(source)
    except DataSourceError as exc:
        report = ValidationReport(valid=False, source=source)
        report.add_error(RowIssue(None, "(file)", str(exc)))
        return report
    if kind in ("file", "demo"):
        path = Path(os.path.expanduser(source))
        arrow = _arrow_kind(path) if kind == "file" else None
        if arrow is not None:
            try:
                return _check_arrow(path, arrow, spec, column_map, max_rows, tick, cache_name)
            except NotArrowReadable:
                pass  # the record loader reads it and names the lines it cannot read
    return _check_records(source, kind, spec, split, subset, column_map, max_rows, stream_rows, tick)


def _check_records(source: str, kind: str, spec: MethodSpec, split: str, subset: str | None,
                   column_map: dict[str, str], max_rows: int | None, stream_rows: int | None,
                   tick: Throttled) -> ValidationReport:
    report = ValidationReport(valid=False, source=source)
    limit, streamed = max_rows, False
    tick("reading the dataset", 0, None, final=True)
    try:
        if stream_rows and kind == "hub" and (limit is None or stream_rows < limit):
            limit, streamed = stream_rows, True
        loaded = load_records(source, split=split, subset=subset, limit=limit)
    except DataSourceError as exc:
        report.add_error(RowIssue(None, "(file)", str(exc)))
        return report
    report.source = loaded.origin or source
    report.warnings.extend(loaded.notes)
    _check_loaded(report, loaded, spec, column_map, tick)
    if loaded.truncated:
        report.partial = True
        if streamed:
            report.warnings.append(f"Checked the first {len(loaded.records)} rows, streamed from the Hub (nothing else was "
                                   "downloaded). Run the full check to read every row.")
        else:
            report.warnings.append(f"Only the first {len(loaded.records)} rows were read (max rows).")
    return report


def _check_loaded(report: ValidationReport, loaded: LoadedRecords, spec: MethodSpec, column_map: dict[str, str],
                  tick: Throttled) -> None:
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
    checker = _start_checks(report, spec, column_map, [rec for _, rec in records[:20]])
    if checker is None:
        report.errors = _first_errors(report.errors, loaded.issues, [])
        return
    total = len(records)
    for start in range(0, total, 10_000):
        part = records[start:start + 10_000]
        checker.check([n for n, _ in part], [rec for _, rec in part], None)
        tick("validating rows", min(total, start + 10_000), total)
    tick("validating rows", total, total, final=True)
    checker.finish()
    report.errors = _first_errors(file_errors, loaded.issues, checker.row_errors)
    report.warnings.extend(_mixed_type_warnings(records, report.columns))


def _check_arrow(path: Path, kind: str, spec: MethodSpec, column_map: dict[str, str], max_rows: int | None,
                 tick: Throttled, cache_name: str | None) -> ValidationReport:
    """Stream the file's Arrow batches through the row checks; raises NotArrowReadable (before or while reading)
    when the record loader must read it instead."""
    report = ValidationReport(valid=False, source=path.name)
    size = max(1, path.stat().st_size)
    read = {"bytes": 0}

    def on_bytes(n: int) -> None:
        read["bytes"] += n

    batches = jsonl_batches(path, on_bytes) if kind == "jsonl" else parquet_batches(path, on_bytes)
    writer = ArrowCacheWriter(_cache_dir("datasets") / f"validated-{cache_name}.arrow") if kind == "jsonl" and cache_name else None
    checker: _RowChecker | None = None
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
                checker = _start_checks(report, spec, column_map, records[:20])
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
            _evict(writer.target.parent, "validated-*.arrow", ARROW_CACHES_KEPT)
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


def _start_checks(report: ValidationReport, spec: MethodSpec, column_map: dict[str, str], sample: list[dict]):
    """Detect the format from the columns; a _RowChecker, or None with the column error in the report."""
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
        report.add_error(RowIssue(None, "(columns)", f"{problem} {fix}"))
        return None
    report.format, report.trl_type = fmt.source_format, fmt.trl_type
    return _RowChecker(report, fmt, column_map)


def _first_errors(file_errors: list[RowIssue], issues: list[RowIssue], row_errors: list[RowIssue]) -> list[RowIssue]:
    """The first MAX_LISTED_ERRORS errors by row (file-level ones first); both lists are already in row order."""
    merged = heapq.merge(issues[:MAX_LISTED_ERRORS], row_errors, key=lambda e: e.row or 0)
    return (file_errors + list(merged))[:MAX_LISTED_ERRORS]


class _RowChecker:
    """Normalises rows batch by batch and keeps only what the report needs: counts, the first errors, the first
    usable rows, an evenly spaced sample of them, and what the dataset-wide warnings need."""

    def __init__(self, report: ValidationReport, fmt, column_map: dict[str, str]):
        self.report, self.fmt, self.column_map = report, fmt, column_map
        self.normalise = NORMALISERS[fmt.source_format]
        self.need_assistant = fmt.trl_type == "conversational"  # SFT's rules: there is a reply to learn, and it comes last
        self.pairs = fmt.trl_type == "preference"
        self.notes = row_notes if self.need_assistant else None
        self.row_errors: list[RowIssue] = []
        self.error_count = 0
        self.usable = 0
        self.seen: dict[int, int] = {}
        self.duplicates: list[tuple[int, int]] = []
        self.same_pairs: list[int] = []
        self.long_rows: list[int] = []
        self.noted: dict[str, list[int]] = {}  # what a row's format cannot honour (per-message weights) -> rows
        self.sample: list[tuple[int, dict]] = []  # every `stride`-th usable row
        self.stride = 1
        self.trl_ready = not column_map  # every row already in TRL shape, so far (Arrow batches only)
        self.ready_keys: tuple | None = None  # the TRL columns of every row

    def check(self, numbers, records: list[dict], raw: list[dict] | None) -> None:
        """One batch: row numbers, records as JSON had them, and the same rows as Arrow gave them (with nulls;
        None when they were not read as Arrow)."""
        if raw is None:
            self.trl_ready, raw = False, records
        normalise, need_assistant, notes, column_map = self.normalise, self.need_assistant, self.notes, self.column_map
        as_given = self._as_given
        dumps, seen, report = jsonio.dumps_sorted, self.seen, self.report
        kept = report.normalised
        for number, record, original in zip(numbers, records, raw, strict=True):
            if column_map:
                record = {column_map.get(k, k): v for k, v in record.items()}
            row, problems = normalise(record, need_assistant)
            if problems:
                self.error_count += len(problems)
                if len(self.row_errors) < MAX_LISTED_ERRORS:
                    self.row_errors.extend(RowIssue(number, fld, msg) for fld, msg in problems)
                continue
            if self.trl_ready and not as_given(row, original):
                self.trl_ready = False
            if len(kept) < NORMALISED_KEPT:
                kept.append(row)
                report.normalised_rows.append(number)
            if self.usable % self.stride == 0:
                self.sample.append((number, row))
                if len(self.sample) >= 2 * TOKEN_SAMPLE:
                    self.sample = self.sample[::2]
                    self.stride *= 2
            self.usable += 1
            if notes is not None:
                for note in notes(record):
                    self.noted.setdefault(note, []).append(number)
            blob = dumps(row)
            first = seen.setdefault(hash(blob), number)
            if first != number:
                self.duplicates.append((number, first))
            if len(blob) > LONG_ROW_CHARS and len(record_text(row)) > LONG_ROW_CHARS:
                self.long_rows.append(number)
            if self.pairs and row["chosen"] == row["rejected"]:
                self.same_pairs.append(number)

    def _as_given(self, row: dict, original: dict) -> bool:
        """Whether the normalised row is the Arrow row's own columns, unchanged (the same columns in every row)."""
        if self.ready_keys is None:
            self.ready_keys = tuple(row)
        elif len(row) != len(self.ready_keys) or any(k not in row for k in self.ready_keys):
            return False
        for k, value in row.items():
            given = original.get(k)
            if value is not given and value != given:
                return False
        return True

    def finish(self) -> None:
        report = self.report
        report.error_count += self.error_count
        report.usable_rows = self.usable
        report.trl_ready = self.trl_ready and self.error_count == 0 and self.usable > 0 and bool(self.ready_keys)
        self.seen = {}
        step = max(1, len(self.sample) // TOKEN_SAMPLE) if len(self.sample) > TOKEN_SAMPLE else 1
        sample = self.sample[::step][:TOKEN_SAMPLE]
        report.token_sample_rows = [n for n, _ in sample]
        report.token_sample = [r for _, r in sample]
        rows, kept = report.normalised_rows, report.normalised
        report.preview = [{"row": n, **r} for n, r in zip(rows[:PREVIEW_ROWS], kept[:PREVIEW_ROWS], strict=True)]
        if self.duplicates:
            shown = "; ".join(f"row {n} repeats row {f}" for n, f in self.duplicates[:ROWS_NAMED])
            more = ", …" if len(self.duplicates) > ROWS_NAMED else ""
            report.warnings.append(f"{len(self.duplicates)} duplicate row(s) ({shown}{more}): they weigh twice in "
                                   "training. Remove them unless intended.")
        if self.same_pairs:
            report.warnings.append(f"{len(self.same_pairs)} pair(s) have chosen identical to rejected "
                                   f"({_rows(self.same_pairs)}): they teach nothing. Fix the rejected answer or drop "
                                   "those rows.")
        for note, numbers in self.noted.items():
            report.warnings.append(f"{len(numbers)} row(s) ({_rows(numbers)}) {NOTES[note]}.")
        if self.long_rows:
            report.warnings.append(f"{len(self.long_rows)} very long row(s), over {LONG_ROW_CHARS:,} characters "
                                   f"({_rows(self.long_rows)}): they will be truncated at max length. Split them, or "
                                   "raise max length if memory allows.")


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


# --- with a tokenizer -------------------------------------------------------------------------------------


def _tokenizer_key(tokenizer, max_length: int | None) -> str:
    template = getattr(tokenizer, "chat_template", None) or ""
    if not isinstance(template, str):
        template = json.dumps(template, sort_keys=True, default=str)
    try:
        size = len(tokenizer)
    except TypeError:
        size = 0
    material = [type(tokenizer).__name__, getattr(tokenizer, "name_or_path", ""), size,
                hashlib.sha256(template.encode()).hexdigest(), max_length]
    return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()[:24]


def _add_token_views(report: ValidationReport, tokenizer, max_length: int | None, render: bool,
                     key: str | None = None) -> None:
    """Token statistics (cached per tokenizer and max length) and rendered examples; a tokenizer that cannot handle
    the data leaves a note, not a crash."""
    from training.data.preview import render_example

    try:
        if max_length:
            token_key = _tokenizer_key(tokenizer, max_length)
            stats = _cached_tokens(key, token_key)
            if stats is None:
                rows = report.token_sample or report.normalised
                numbers = report.token_sample_rows or report.normalised_rows
                stats = token_statistics(rows, tokenizer, max_length, report.trl_type, numbers,
                                         total_rows=report.usable_rows)
                _store_tokens(key, token_key, stats)
            report.token_stats = stats
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
                     row_numbers: list[int] | None = None, total_rows: int | None = None) -> dict:
    """Token counts per example: exact up to TOKEN_SAMPLE rows, else from an evenly spaced sample (stated).
    `rows` may already be such a sample of `total_rows` usable rows (the validation pass keeps one)."""
    from training.data.preview import count_tokens as count

    n = len(rows)
    total = max(total_rows or n, n)
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
    exact = len(picked) == total
    return {
        "exact": exact,
        "sampled_rows": len(picked),
        "rows": total,
        "mean_tokens": round(sum(counts) / len(counts), 1),
        "max_tokens": longest,
        "min_tokens": min(counts),
        "truncated_pct": round(100 * len(truncated) / len(counts), 2),
        "truncated_rows": [row_numbers[i] for i in truncated[:20]] if exact and row_numbers else [],
        "total_tokens": int(round(sum(min(c, max_length) for c in counts) * total / len(counts))),
        "max_length": max_length,
        "histogram": {"bin_width": width, "counts": histogram},
    }
