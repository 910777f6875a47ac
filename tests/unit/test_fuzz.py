"""Fuzzing validate_dataset: whatever the file holds, it returns a report and never raises."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training.data.column_mapping import method_compatibility, suggest_mappings
from training.data.validation import ValidationReport, validate_dataset
from training.methods.registry import method_names

# derandomize: the examples come from a fixed seed (derived from each test's name), so a failure here fails the same
# way on every run and machine, and `print_blob` prints how to replay it (@reproduce_failure).
FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow])

# Keys that steer records into every format's code path, plus arbitrary ones.
KEYS = st.sampled_from(
    ["messages", "conversations", "role", "content", "from", "value", "type", "text", "instruction", "input",
     "output", "system", "prompt", "completion", "chosen", "rejected", "label", "tools", "history", "tool_calls", "name"]
) | st.text(max_size=8)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | st.sampled_from(
    ["user", "assistant", "system", "tool", "human", "gpt", "", " "]
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)
MESSAGES = st.lists(st.fixed_dictionaries({"role": SCALARS}, optional={"content": JSON_VALUES}) | JSON_VALUES, max_size=4)
RECORDS = st.dictionaries(KEYS, JSON_VALUES, max_size=5) | st.fixed_dictionaries(
    {}, optional={"messages": MESSAGES, "conversations": JSON_VALUES, "prompt": JSON_VALUES, "completion": JSON_VALUES,
                  "text": JSON_VALUES, "instruction": SCALARS, "output": SCALARS, "input": JSON_VALUES}
) | st.fixed_dictionaries(  # preference, unpaired preference, prompt-only, tools, history
    {}, optional={"prompt": MESSAGES | SCALARS, "chosen": MESSAGES | JSON_VALUES, "rejected": MESSAGES | JSON_VALUES,
                  "completion": MESSAGES | SCALARS, "label": SCALARS | st.sampled_from(["true", "false", "0", "1", 0, 1]),
                  "tools": JSON_VALUES | st.just('[{"type": "function", "function": {"name": "f"}}]'),
                  "history": JSON_VALUES, "instruction": SCALARS, "output": SCALARS, "system": SCALARS}
)
METHODS = st.sampled_from(method_names())


def check(path: Path, **kwargs) -> ValidationReport:
    report = validate_dataset(str(path), **kwargs)
    assert isinstance(report, ValidationReport)
    json.dumps(report.to_dict(), default=str)
    report.summary()
    if report.valid:
        assert report.usable_rows > 0 and report.error_count == 0
    else:
        assert report.error_count > 0
    return report


@pytest.fixture(scope="module")
def fuzz_dir():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@FUZZ
@given(lines=st.lists(RECORDS | JSON_VALUES | st.text(max_size=30), min_size=0, max_size=6), method=METHODS)
def test_jsonl_lines(fuzz_dir, lines, method):
    path = fuzz_dir / "fuzz.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines), encoding="utf-8")
    check(path, method=method)


@FUZZ
@given(columns=st.lists(KEYS | st.text(max_size=12), max_size=6, unique=True), sample=st.lists(RECORDS, max_size=3),
       column_map=st.dictionaries(KEYS, KEYS, max_size=3))
def test_column_mapping_never_raises(columns, sample, column_map):
    for suggestion in suggest_mappings(columns, sample):
        assert set(suggestion.column_map) <= set(columns)
    table = method_compatibility(columns, column_map=column_map, sample=sample)
    assert [c.method for c in table] == list(method_names())
    assert all(c.status in ("ready", "needs mapping", "incompatible") and c.reason for c in table)


@FUZZ
@given(value=st.lists(RECORDS, max_size=5) | st.dictionaries(KEYS, st.lists(RECORDS, max_size=3), max_size=2) | JSON_VALUES,
       indent=st.sampled_from([None, 2]))
def test_json_documents(fuzz_dir, value, indent):
    path = fuzz_dir / "fuzz.json"
    path.write_text(json.dumps(value, indent=indent), encoding="utf-8")
    check(path, column_map={"q": "prompt", "a": "completion"})


@FUZZ
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".csv", ".tsv", ".json", ".parquet"]),
       prefix=st.sampled_from([b"", b"PAR1", b"\xef\xbb\xbf", b"\xff\xfe", b"{", b"[", b"text\n", b"prompt,completion\n"]))
def test_random_bytes(fuzz_dir, data, suffix, prefix):
    path = fuzz_dir / f"bytes{suffix}"
    path.write_bytes(prefix + data)
    check(path, max_rows=50)


@FUZZ
@given(rows=st.lists(st.lists(st.text(alphabet=st.sampled_from('ab ,;\t"\n\r\x00é'), max_size=8), min_size=1, max_size=4),
                     max_size=5))
def test_csv_like_text(fuzz_dir, rows):
    path = fuzz_dir / "fuzz.csv"
    path.write_text("prompt,completion\n" + "\n".join(",".join(r) for r in rows), encoding="utf-8")
    check(path)


@FUZZ
@given(source=st.text(max_size=300))
def test_source_strings(source):
    report = validate_dataset(source)
    assert isinstance(report, ValidationReport)


def test_deeply_nested_json_does_not_crash(tmp_path):
    for name, text in [("deep.jsonl", "[" * 100_000), ("deep2.jsonl", '{"a":' + "[" * 100_000), ("deep.json", "[" * 100_000)]:
        path = tmp_path / name
        path.write_text(text)
        report = check(path)
        assert not report.valid


def test_corrupted_parquet_pages_do_not_crash(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"text": [f"row {i} " * 20 for i in range(200)]}), good, compression="snappy")
    raw = bytearray(good.read_bytes())
    for offset in (8, 40, len(raw) // 2):
        bad = bytearray(raw)
        bad[offset:offset + 16] = b"\xff" * 16
        path = tmp_path / f"bad{offset}.parquet"
        path.write_bytes(bytes(bad))
        check(path)


def test_a_content_part_whose_type_is_a_list_is_an_error_not_a_crash(tmp_path):
    """Found by this fuzz test before it had a fixed seed: {"type": [...]} could not be compared with the known types."""
    path = tmp_path / "parts.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": [{"type": ["text"], "text": "hi"}]},
                                             {"role": "assistant", "content": "a"}]}) + "\n")
    report = check(path)
    assert [(e.row, e.field) for e in report.errors] == [(1, "messages[0].content[0].type")], report.errors
