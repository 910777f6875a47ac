"""Reading a dataset file as Arrow record batches, a chunk at a time, with each row's 1-based row number.

JSONL is parsed by pyarrow's JSON reader a chunk (about 4 MB) at a time, so memory stays bounded whatever the
file's size; Parquet is read by row group. Row numbers follow the rule of `training.data.sources`: a JSONL row is
its file line (blank lines are skipped by the parser but counted here), a Parquet row its 1-based record number.

A file pyarrow cannot read faithfully (a malformed line, a line that is not an object, a value whose type changes
from one chunk to the next) raises `NotArrowReadable`; the caller then reads it with the record loader, which names
the line (validation asks for such chunks as `TextChunk`s instead, and reads only those line by line). Nothing is
ever converted silently (unlike `datasets`' JSON loader, which turns a later chunk's values
into JSON text when their type differs from the first chunk's).

`drop_nulls` is what makes an Arrow row read like the JSON record it came from: Arrow fills a key missing from one
row with null. The training recipe imports it too, so validation and training see the same rows.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 4 << 20  # bigger chunks parse no faster, and each holds its Arrow copy and checks' arrays in memory
_BLANK_MARKS = (b"\n\n", b"\n\r", b"\n ", b"\n\t")  # a blank line, or a line that may be blank
_LINE_STARTS = (b"", b"\n", b"\r", b" ", b"\t")
_BLANK_LINE = re.compile(rb"(?:^|\n)[ \t\r]*(?:\n|\Z)")


class NotArrowReadable(Exception):
    """pyarrow cannot read this file faithfully; read it record by record instead."""


def drop_nulls(value):
    """A record as its JSON source had it: Arrow fills a key missing from one row with null; those keys go."""
    if type(value) is dict:
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if type(value) is list:
        return [drop_nulls(v) for v in value]
    return value


def _line_numbers(chunk: bytes, first_line: int) -> range | list[int]:
    """1-based file line numbers of the non-blank lines of `chunk`, which starts at line `first_line`."""
    body = chunk[:-1] if chunk.endswith(b"\n") else chunk
    if body[:1] not in _LINE_STARTS and not any(mark in body for mark in _BLANK_MARKS):  # fast: no blank line
        return range(first_line, first_line + body.count(b"\n") + 1)
    if not _BLANK_LINE.search(body):
        return range(first_line, first_line + body.count(b"\n") + 1)
    lines = body.split(b"\n")
    return [first_line + i for i, line in enumerate(lines) if line.strip(b" \t\r")]


@dataclass
class TextChunk:
    """A chunk of a JSONL file that pyarrow cannot read as one table of the file's columns (a malformed line, a
    value whose type differs from the other rows'): its bytes, for a reader that goes line by line."""

    data: bytes
    first_line: int  # the file line `data` starts at
    reason: str


def jsonl_batches(path: Path, on_bytes: Callable[[int], None] | None = None, chunk_bytes: int | None = None,
                  text_chunks: bool = False) -> Iterator[tuple[object, range | list[int] | None]]:
    """(pyarrow Table, its rows' line numbers) for each chunk of a JSONL file; `on_bytes(n)` after each chunk.
    Every table has the first table's schema. A chunk pyarrow cannot read so raises NotArrowReadable, or with
    `text_chunks` comes as (TextChunk, None): only that chunk needs reading line by line."""
    import pyarrow as pa
    import pyarrow.json as paj

    schema = None
    line = 1
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(chunk_bytes or CHUNK_BYTES)
            if not chunk:
                return
            chunk += fh.readline()  # finish the last line
            if line == 1 and chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
            first_line = line
            line += chunk.count(b"\n")
            reason = None
            try:
                table = paj.read_json(io.BytesIO(chunk), read_options=paj.ReadOptions(block_size=max(len(chunk) // 16, 1 << 20)))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                table, reason = None, str(exc)
            if table is not None:
                # as many rows as lines: no blank line (the common case, counted without scanning for them)
                lines = line - first_line + (0 if chunk.endswith(b"\n") else 1)
                numbers = range(first_line, first_line + lines) if table.num_rows == lines else _line_numbers(chunk, first_line)
                if not len(numbers):
                    continue
                if schema is None and not table.schema.names:
                    reason = "no columns"
                elif schema is not None and not table.schema.equals(schema):
                    reason = "the columns' types change from one chunk to the next"
                elif table.num_rows != len(numbers):
                    reason = "line count mismatch"
            elif not chunk.strip():
                continue
            if reason is not None:
                if not text_chunks:
                    raise NotArrowReadable(reason)
                if on_bytes is not None:
                    on_bytes(len(chunk))
                yield TextChunk(chunk, first_line, reason), None
                continue
            schema = schema or table.schema
            if on_bytes is not None:
                on_bytes(len(chunk))
            yield table, numbers


def read_ahead(batches: Iterator, depth: int = 1) -> Iterator:
    """The same items, produced by a background thread `depth` ahead: pyarrow parses the next chunk (releasing the
    GIL) while the caller checks this one. Exceptions come through in order; stopping early stops the thread."""
    import queue
    import threading

    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            items.put((done, exc))

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = items.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()


def parquet_batches(path: Path, on_bytes: Callable[[int], None] | None = None,
                    batch_rows: int = 20_000) -> Iterator[tuple[object, range]]:
    """(pyarrow Table, its rows' record numbers) for each batch of a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise NotArrowReadable(str(exc)) from None
    total_rows = max(1, pf.metadata.num_rows)
    size = path.stat().st_size
    done = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_rows):
            table = pa.Table.from_batches([batch])
            if on_bytes is not None:
                on_bytes(int(size * table.num_rows / total_rows))
            yield table, range(done + 1, done + 1 + table.num_rows)
            done += table.num_rows
    except Exception as exc:  # a damaged page only shows up while reading it
        raise NotArrowReadable(str(exc)) from None


class ArrowCacheWriter:
    """Writes the record batches of a file, as read, into an Arrow stream file that `datasets.Dataset.from_file`
    memory-maps; the file appears under its final name only when `commit()` is called."""

    def __init__(self, target: Path):
        self.target = target
        self.tmp = target.with_suffix(f".{os.getpid()}.{id(self)}.tmp")  # one per writer, also across processes
        self._writer = None
        self._sink = None

    def write(self, table) -> None:
        import pyarrow as pa

        if self._writer is None:
            self._sink = pa.OSFile(str(self.tmp), "wb")
            self._writer = pa.ipc.new_stream(self._sink, table.schema)
        self._writer.write_table(table)

    def commit(self) -> Path | None:
        if self._writer is None:
            return None
        self._writer.close()
        self._sink.close()
        self._writer = None
        self.tmp.replace(self.target)
        return self.target

    def discard(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
                self._sink.close()
            except Exception:  # noqa: BLE001 - best effort on a path being abandoned
                pass
            self._writer = None
        self.tmp.unlink(missing_ok=True)
