"""Every file type a dataset comes in is read with the exact row count, by Validate (training.data.sources, which
keeps line numbers) and by training (`datasets`' loaders through training.data.file_types)."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from training.data.file_types import file_type
from training.data.sources import DataSourceError, load_records
from training.data.validation import validate_dataset
from training.recipe.data import load_source, normalise_dataset

zstandard = pytest.importorskip("zstandard")

ROWS = [{"prompt": f"Question {i}?", "completion": f"Answer {i}."} for i in range(7)]


def _csv(delimiter: str) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["prompt", "completion"], delimiter=delimiter)
    writer.writeheader()
    writer.writerows(ROWS)
    return out.getvalue().encode()


def _arrow(stream: bool) -> bytes:
    table = pa.Table.from_pylist(ROWS)
    sink = pa.BufferOutputStream()
    with (ipc.new_stream if stream else ipc.new_file)(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _parquet() -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(ROWS), sink)
    return sink.getvalue().to_pybytes()


CONTENT = {
    "csv": lambda: _csv(","),
    "tsv": lambda: _csv("\t"),
    "json": lambda: json.dumps(ROWS, indent=1).encode(),
    "jsonl": lambda: "".join(json.dumps(r) + "\n" for r in ROWS).encode(),
    "parquet": _parquet,
    "arrow": lambda: _arrow(stream=True),
}
COMPRESS = {"": lambda b: b, ".gz": gzip.compress, ".zst": lambda b: zstandard.ZstdCompressor().compress(b)}


@pytest.mark.parametrize("compression", sorted(COMPRESS))
@pytest.mark.parametrize("kind", sorted(CONTENT))
def test_every_file_type_reads_every_row(tmp_path, kind, compression):
    path = tmp_path / f"qa.{kind}{compression}"
    path.write_bytes(COMPRESS[compression](CONTENT[kind]()))
    report = validate_dataset(str(path), "sft")
    assert report.valid and report.rows == report.usable_rows == len(ROWS), report.errors
    assert (report.format, report.trl_type) == ("prompt_completion", "prompt_completion")
    assert report.preview[0]["prompt"] == "Question 0?"
    dataset = load_source(str(path))
    assert len(dataset) == len(ROWS)
    normalised, trl_type = normalise_dataset(dataset, "sft")
    assert trl_type == "prompt_completion" and normalised[6] == {"prompt": "Question 6?", "completion": "Answer 6."}


def test_arrow_ipc_file_format(tmp_path):
    path = tmp_path / "qa.arrow"
    path.write_bytes(_arrow(stream=False))
    assert load_records(str(path)).kind == "arrow" and len(load_records(str(path)).records) == len(ROWS)
    assert len(load_source(str(path))) == len(ROWS)


@pytest.mark.parametrize("first_line_chars", [5_000, 200_000])
def test_jsonl_with_a_long_first_line(tmp_path, first_line_chars):
    rows = [{"prompt": "x" * first_line_chars, "completion": "long"}, *ROWS]
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = load_records(str(path))
    assert loaded.kind == "jsonl" and [n for n, _ in loaded.records] == list(range(1, len(rows) + 1))
    assert validate_dataset(str(path), "sft").usable_rows == len(rows)


def test_compressed_jsonl_keeps_line_numbers(tmp_path):
    path = tmp_path / "qa.jsonl.gz"
    lines = [json.dumps(r) for r in ROWS[:2]] + ['{"prompt": "p", "completion": ']
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    report = validate_dataset(str(path), "sft")
    assert [(e.row, e.field) for e in report.errors] == [(3, "(line)")] and "not valid JSON" in report.errors[0].message


def test_damaged_compressed_file_says_so(tmp_path):
    path = tmp_path / "qa.jsonl.gz"
    path.write_bytes(gzip.compress(CONTENT["jsonl"]())[:30])
    with pytest.raises(DataSourceError, match="gzip-compressed but cannot be decompressed"):
        load_records(str(path))


def test_file_type_from_name():
    assert file_type("a/b.jsonl.zst") == ("jsonl", "zstd")
    assert file_type("data.tsv.gz") == ("tsv", "gzip")
    assert file_type("x.arrow") == ("arrow", None)
    assert file_type("notes.txt") == ("text", None)  # plain text: `text` rows (tests/unit/test_text_files.py)
    assert file_type("notes.docx") == (None, None)
