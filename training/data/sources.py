"""Reading datasets from files, the Hub or the built-in demo, into plain records.

Row numbers follow one rule everywhere: 1-based line numbers for line-oriented files (a JSONL
line; a CSV/TSV line counting the header line), 1-based record numbers for JSON arrays,
Parquet, Arrow and Hub datasets. File types are those of training.data.file_types: CSV, TSV, JSON,
JSONL, Parquet and Arrow, each also gzip (.gz) or Zstandard (.zst) compressed. Rows that cannot be parsed become `RowIssue`s, not exceptions.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from training.data import jsonio
from training.data.file_types import COMPRESSION_SUFFIXES, FILE_TYPES_TEXT, KIND_SUFFIXES, compression_of, file_type, text_rows
from training.data.formats import detect_format
from training.hosting.paths import data_dir
from training.hosting.read_policy import HUB_PREFIX, ReadRefused, current_policy, is_hub_name, local_path

DEMO_SOURCE = "demo"
FILE_SUFFIXES = {suffix: "csv" if kind == "tsv" else kind for suffix, kind in KIND_SUFFIXES.items()}
ARROW_MAGIC = (b"ARROW1", b"\xff\xff\xff\xff")  # an Arrow IPC file; an Arrow IPC stream (continuation marker)
BINARY_MAGIC = {b"PK\x03\x04": "a ZIP archive (an Excel .xlsx file is one)",
                b"\xd0\xcf\x11\xe0": "an old Excel/Office file", b"%PDF": "a PDF", b"SQLite format 3": "an SQLite database",
                b"\x89PNG": "a PNG image"}
HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[\w.-]{1,96})?$")


class DataSourceError(ValueError):
    """The dataset cannot be read at all; the message says why and how to fix it."""


@dataclass(frozen=True)
class RowIssue:
    row: int | None
    field: str
    message: str

    def to_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class LoadedRecords:
    records: list[tuple[int, dict]]  # (row number, record)
    issues: list[RowIssue] = field(default_factory=list)
    kind: str = ""  # jsonl, json, csv, parquet, hub, demo
    origin: str = ""  # human description of where the data came from
    notes: list[str] = field(default_factory=list)  # warnings about the source itself
    truncated: bool = False  # stopped at `limit`
    issue_count: int = 0  # lines not read as records, counted also beyond the issues kept (parse_jsonl's max_issues)

    @property
    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for _, rec in self.records[:1000]:
            for key in rec:
                seen.setdefault(key, None)
        return list(seen)


def demo_dataset_path() -> Path:
    from training.data.demo_data import write_demo_dataset

    return write_demo_dataset(data_dir() / "datasets")


def classify_source(source: str) -> str:
    """'demo', 'file' or 'hub'; raises DataSourceError for something that is neither, or that the caller in force
    may not read (training.hosting.read_policy: a visitor's server path, a path outside the allowed folders)."""
    source = (source or "").strip()
    if not source:
        raise DataSourceError("No dataset given. Choose `demo`, upload a file, or enter a Hub dataset id like user/name.")
    if source in (DEMO_SOURCE, "demo-vision"):  # built in (demo-vision: training/data/demo_vision_data.py)
        return "demo"
    try:
        path = local_path(source, "dataset")
    except ReadRefused as exc:
        raise DataSourceError(str(exc)) from None
    if path is not None:
        if path.is_dir():
            from training.data.image_rows import is_image_folder

            if is_image_folder(path):  # pictures with a metadata file (training/data/image_rows.py)
                return "file"
            raise DataSourceError(f"{source} is a folder. Point to one {FILE_TYPES_TEXT} file inside it.")
        return "file"
    if source.startswith(HUB_PREFIX) and is_hub_name(source):
        return "hub"
    if file_type(source)[0] is not None or "\\" in source or source.startswith((".", "/", "~")):
        raise DataSourceError(f"File {source} does not exist. Check the path, or upload the file.")
    if HUB_ID_RE.match(source):
        return "hub"
    raise DataSourceError(
        f"{source!r} is neither an existing file nor a valid Hub dataset id (like user/name). "
        f"Upload a {FILE_TYPES_TEXT} file, or enter a Hub id."
    )


def load_records(source: str, split: str = "train", subset: str | None = None, limit: int | None = None,
                 text_unit: str = "line") -> LoadedRecords:
    """The dataset's records with their row numbers; a .txt file's as `text` rows by `text_unit` (line, paragraph or
    document: file_types.text_rows)."""
    kind = classify_source(source)
    if kind == "demo":
        loaded = _load_file(demo_dataset_path(), limit)
        loaded.kind, loaded.origin = "demo", "built-in demo dataset (invented facts)"
        return loaded
    if kind == "file":
        return _load_file(local_path(source, "dataset"), limit, text_unit)
    return _load_hub(source.strip(), split, subset, limit)


def _sniff_kind(path: Path, raw: bytes) -> str:
    """What the (decompressed) content is, whatever the name says; JSONL versus one JSON document is decided by
    parsing the whole first line, however long."""
    stripped = raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if raw.startswith(b"PAR1"):
        return "parquet"
    if raw.startswith(ARROW_MAGIC):
        return "arrow"
    claimed = FILE_SUFFIXES.get(_inner_suffix(path))
    if claimed == "text" and not stripped.startswith((b"[", b"{")):
        return "text"  # plain text; a .txt holding JSON is read as JSON
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        first_line, rest = _first_line(raw)
        if claimed == "json" and not rest:
            return "json"  # a one-line .json document
        try:
            jsonio.loads(first_line)
            return "jsonl"
        except (ValueError, RecursionError):
            return "json"
    return claimed or "csv"


def _inner_suffix(path: Path) -> str:
    """The suffix that names the content: ".jsonl" for data.jsonl.gz."""
    suffixes = [x.lower() for x in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _first_line(raw: bytes) -> tuple[bytes, bool]:
    """The first non-blank line (BOM and spaces stripped) and whether anything follows it."""
    start = 0
    while start < len(raw):
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end
        line = raw[start:end].strip(b"\xef\xbb\xbf \t\r\n")
        if line:
            return line, bool(raw[end:].strip())
        start = end + 1
    return b"", False


def _read_raw(path: Path) -> tuple[bytes, str | None]:
    """The file's bytes, decompressed when it is gzip or Zstandard (by its first bytes), and that compression."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataSourceError(f"Cannot read {path.name}: {exc.strerror}.") from None
    compression = compression_of(raw[:4])
    try:
        if compression == "gzip":
            import gzip

            return gzip.decompress(raw), compression
        if compression == "zstd":
            try:
                import zstandard
            except ImportError:
                raise DataSourceError(f"{path.name} is Zstandard-compressed, and the zstandard package is not installed. "
                                      "Install it (pip install zstandard), or decompress the file (zstd -d).") from None
            with zstandard.ZstdDecompressor().stream_reader(raw) as reader:
                return reader.read(), compression
    except (OSError, EOFError, ValueError) as exc:  # gzip.BadGzipFile is an OSError; zstandard.ZstdError a ValueError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataSourceError(f"{path.name} is {compression}-compressed but cannot be decompressed ({reason}); the file is "
                              "damaged or cut short. Compress it again, or upload it uncompressed.") from None
    return raw, None


def _load_file(path: Path, limit: int | None, text_unit: str = "line") -> LoadedRecords:
    raw, compression = _read_raw(path)
    if not raw.strip():
        raise DataSourceError(f"{path.name} is empty{' once decompressed' if compression else ''}. Add at least one example.")
    claimed = FILE_SUFFIXES.get(_inner_suffix(path))
    _refuse_binary(path, raw[:4096])
    actual = _sniff_kind(path, raw)
    notes = []
    if claimed and claimed != actual and {claimed, actual} != {"json", "jsonl"}:
        notes.append(f"{path.name} is named {_inner_suffix(path)} but its content is {actual.upper()}; read it as {actual.upper()}. "
                     f"Rename it to .{actual} to avoid surprises.")
    if actual == "parquet":
        loaded = _load_parquet(path, raw, limit)
    elif actual == "arrow":
        loaded = _load_arrow(path, raw, limit)
    else:
        text, decode_note = _decode(path, raw)
        if decode_note:
            notes.append(decode_note)
        if actual == "text":
            loaded = _parse_text(text, text_unit, limit)
        elif actual == "jsonl":
            loaded = _parse_jsonl(text, limit)
        elif actual == "json":
            loaded = _parse_json(text, path.name, limit)
        else:
            loaded = _parse_csv(text, path, limit)
    loaded.origin = path.name
    loaded.notes = notes + loaded.notes
    return loaded


def _refuse_binary(path: Path, head: bytes) -> None:
    """Files that are no dataset format at all (an Excel workbook, a zip, an image) get a clear message."""
    for magic, what in BINARY_MAGIC.items():
        if head.startswith(magic):
            raise DataSourceError(f"{path.name} is {what}, not {FILE_TYPES_TEXT}. "
                                  "Export it as CSV (Excel: File > Save As > CSV UTF-8) or JSONL and upload that.")
    if not head.startswith((b"PAR1", *ARROW_MAGIC, b"\xff\xfe", b"\xfe\xff")) and b"\x00" in head:
        raise DataSourceError(f"{path.name} is a binary file (it holds NUL bytes), not {FILE_TYPES_TEXT}. "
                              "Export your data as CSV or JSONL.")


def _decode(path: Path, raw: bytes) -> tuple[str, str | None]:
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            return raw.decode("utf-16", errors="replace"), f"{path.name} is UTF-16; decoded it. Save as UTF-8 to avoid surprises."
        return raw.decode("cp1252", errors="replace"), (
            f"{path.name} is not valid UTF-8 (first bad byte on line {line}); decoded it as Windows-1252 (Latin-1). "
            "Check accented characters in the preview, or re-save the file as UTF-8."
        )


def _parse_jsonl(text: str, limit: int | None) -> LoadedRecords:
    return parse_jsonl(text, limit)


def parse_jsonl(text: str, limit: int | None = None, first_line: int = 1, max_issues: int | None = None) -> LoadedRecords:
    """JSONL text, line by line: (line number, object) records and an issue for each line that is not a JSON object.
    `first_line`: the file line `text` starts at (validation re-reads one chunk of a big file this way). With
    `max_issues`, only that many issues are kept; `issue_count` says how many there were."""
    out = LoadedRecords(records=[], kind="jsonl")
    loads = jsonio.loads
    append = out.records.append
    issues = out.issues
    # split on "\n" only: str.splitlines() would also split on U+2028 and friends, which JSON allows inside strings
    for number, line in enumerate(text.split("\n"), start=first_line):
        if not line or line.isspace():
            continue
        if limit is not None and len(out.records) >= limit:
            out.truncated = True
            break
        try:
            value = loads(line)
        except (ValueError, RecursionError) as exc:
            out.issue_count += 1
            if max_issues is None or len(issues) < max_issues:
                issues.append(RowIssue(number, "(line)", f"is not valid JSON ({_json_reason(exc)}). Fix the quoting or brackets on this line."))
            continue
        if type(value) is not dict:
            out.issue_count += 1
            if max_issues is None or len(issues) < max_issues:
                issues.append(RowIssue(number, "(line)", f"is a JSON {type(value).__name__}, not an object like {{\"messages\": [...]}}."))
            continue
        append((number, value))
    return out


def _parse_text(text: str, unit: str, limit: int | None) -> LoadedRecords:
    out = LoadedRecords(records=[], kind="text")
    for number, value in text_rows(text, unit):
        if limit is not None and len(out.records) >= limit:
            out.truncated = True
            break
        out.records.append((number, {"text": value}))
    return out


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    msg = getattr(exc, "msg", str(exc))
    col = getattr(exc, "colno", None)
    return f"{msg} at column {col}" if col else msg


def _parse_json(text: str, name: str, limit: int | None) -> LoadedRecords:
    try:
        value = jsonio.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DataSourceError(
            f"{name} is not valid JSON (line {getattr(exc, 'lineno', '?')}: {_json_reason(exc)}). "
            "Fix it, or save one object per line as JSONL."
        ) from None
    if isinstance(value, dict):
        # {"data": [...]} wraps the records; an object that is itself a record (has messages, text...) is one row
        lists = [v for v in value.values() if isinstance(v, list)]
        value = lists[0] if len(lists) == 1 and detect_format(value) is None else [value]
    if not isinstance(value, list):
        raise DataSourceError(f"{name} holds a JSON {type(value).__name__}; expected a list of objects.")
    out = LoadedRecords(records=[], kind="json")
    for number, item in enumerate(value, start=1):
        if limit is not None and len(out.records) >= limit:
            out.truncated = True
            break
        if isinstance(item, dict):
            out.records.append((number, item))
        else:
            out.issues.append(RowIssue(number, "(record)", f"is a JSON {type(item).__name__}, not an object."))
    return out


def _parse_csv(text: str, path: Path, limit: int | None) -> LoadedRecords:
    sample = text[:65536]
    if _inner_suffix(path) == ".tsv":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    csv.field_size_limit(1 << 30)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out = LoadedRecords(records=[], kind="csv")
    try:
        header = next(reader)
    except StopIteration:
        raise DataSourceError(f"{path.name} is empty. Add a header line and at least one row.") from None
    except csv.Error as exc:
        raise DataSourceError(f"{path.name} is not readable as CSV: {exc}.") from None
    header = [h.strip() for h in header]
    if len(set(header)) != len(header) or any(not h for h in header):
        raise DataSourceError(f"{path.name}: the header line has empty or repeated column names ({', '.join(header)}). Name every column once.")
    line_start = reader.line_num + 1
    try:
        for cells in reader:
            number = line_start
            line_start = reader.line_num + 1
            if not cells or all(not c.strip() for c in cells):
                continue
            if limit is not None and len(out.records) >= limit:
                out.truncated = True
                break
            if len(cells) != len(header):
                out.issues.append(RowIssue(number, "(line)", f"has {len(cells)} fields but the header has {len(header)}. "
                                                             f"Quote values that contain {delimiter!r}."))
                continue
            out.records.append((number, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        out.issues.append(RowIssue(line_start, "(line)", f"is not valid CSV: {exc}. Check unbalanced quotes."))
    return out


def _load_parquet(path: Path, raw: bytes, limit: int | None) -> LoadedRecords:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(pa.BufferReader(raw))
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataSourceError(f"{path.name} is not a readable Parquet file ({exc}). Re-export it, or use CSV/JSONL.") from None
    return _read_batches(path, pf.iter_batches(batch_size=4096), limit, "parquet")


def _load_arrow(path: Path, raw: bytes, limit: int | None) -> LoadedRecords:
    """An Arrow IPC file ("ARROW1" magic) or stream (what `datasets` saves as data-*.arrow)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        if raw.startswith(b"ARROW1"):
            reader = ipc.open_file(pa.BufferReader(raw))
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        else:
            batches = iter(ipc.open_stream(pa.BufferReader(raw)))
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataSourceError(f"{path.name} is not a readable Arrow file ({exc}). Re-export it, or use Parquet/JSONL.") from None
    return _read_batches(path, batches, limit, "arrow")


def _read_batches(path: Path, batches, limit: int | None, kind: str) -> LoadedRecords:
    out = LoadedRecords(records=[], kind=kind)
    number = 0
    try:
        for batch in batches:
            for rec in batch.to_pylist():
                number += 1
                if limit is not None and len(out.records) >= limit:
                    out.truncated = True
                    return out
                out.records.append((number, rec))
    except Exception as exc:  # a damaged page only shows up while reading it
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataSourceError(
            f"{path.name} is damaged after record {number} ({reason}). Re-export it, or use CSV/JSONL."
        ) from None
    return out


def open_hub_stream(dataset_id: str, subset: str | None, split: str):
    """Rows of a Hub dataset, streamed: nothing is downloaded beyond what is read."""
    from datasets import load_dataset

    # hf://datasets/ reads the Hub only: a bare id would read a local folder of the same name first.
    hub_id = dataset_id if dataset_id.startswith(HUB_PREFIX) else HUB_PREFIX + dataset_id
    return load_dataset(hub_id, subset or None, split=split or "train", streaming=True, token=current_policy().hub_token)


def _load_hub(dataset_id: str, split: str, subset: str | None, limit: int | None) -> LoadedRecords:
    """Stream the first `limit` rows of a Hub dataset (everything when limit is None)."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        hint = "This machine is offline (HF_HUB_OFFLINE=1)"
    else:
        hint = "The Hub could not be reached or the dataset does not exist"
    try:
        stream = open_hub_stream(dataset_id, subset, split)
        out = LoadedRecords(records=[], kind="hub", origin=f"{dataset_id} ({split})")
        for number, rec in enumerate(stream, start=1):
            if limit is not None and len(out.records) >= limit:
                out.truncated = True
                break
            out.records.append((number, dict(rec)))
        return out
    except Exception as exc:  # datasets raises many types: connection, missing, gated
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        if current_policy().anonymous_hub:  # a visitor: the same words whatever the id names, here or there
            reason = "not found, private, or unreachable"
        raise DataSourceError(
            f"Could not load Hub dataset {dataset_id!r} (split {split!r}). {hint}: {reason}. "
            "Check the id and split, or upload the file instead."
        ) from None
