"""Validation at scale: rows streamed as Arrow batches, one cached result that Train reuses, progress reports,
and a max_steps run that normalises only the rows it reaches."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from training.data import arrow_rows, record_scan, row_checks, validation
from training.data.validation import dataset_verdict, validate_dataset


def chat(i: int, reply: object = "Hello!") -> dict:
    return {"messages": [{"role": "user", "content": f"Hi {i}"}, {"role": "assistant", "content": reply}]}


def write_lines(path: Path, lines: list) -> str:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return str(path)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of about 2 KB, so that a small file spans many Arrow batches."""
    monkeypatch.setattr(arrow_rows, "CHUNK_BYTES", 2048)


def test_a_bad_value_deep_in_the_file_is_reported_at_its_line(tmp_path, small_chunks, monkeypatch):
    lines = [chat(i) for i in range(400)]
    lines.insert(100, "")  # blank lines shift line numbers; the parser skips them
    lines.insert(200, "   ")
    lines[350] = {"messages": [{"role": "usr", "content": "Hi"}, {"role": "assistant", "content": "A"}]}
    monkeypatch.setattr(record_scan, "load_records", lambda *a, **k: pytest.fail("read twice"))  # one pass, as Arrow
    report = validate_dataset(write_lines(tmp_path / "big.jsonl", lines))
    assert not report.valid and report.rows == 400 and report.usable_rows == 399
    assert [(e.row, e.field) for e in report.errors] == [(351, "messages[0].role")]
    assert report.arrow_cache is None  # an invalid file leaves no Arrow copy for Train


def test_types_that_change_between_chunks_fall_back_to_the_record_loader(tmp_path, small_chunks):
    lines = [chat(i) for i in range(300)]
    lines[250] = chat(250, reply=5)  # a number where every earlier chunk had text
    report = validate_dataset(write_lines(tmp_path / "drift.jsonl", lines))
    assert [(e.row, e.field) for e in report.errors] == [(251, "messages[1].content")]
    assert "got int" in report.errors[0].message


def test_a_malformed_line_is_named(tmp_path, small_chunks):
    lines = [chat(i) for i in range(200)]
    lines[150] = '{"messages": [oops'
    report = validate_dataset(write_lines(tmp_path / "broken.jsonl", lines))
    assert [(e.row, e.field) for e in report.errors] == [(151, "(line)")]


def test_second_validate_is_read_from_the_cache_and_train_reuses_the_arrow_rows(tmp_path, monkeypatch, small_chunks):
    src = write_lines(tmp_path / "chat.jsonl", [chat(i) for i in range(300)])
    seen = []
    first = validate_dataset(src, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert first.valid and not first.cached and first.trl_ready and Path(first.arrow_cache).is_file()
    assert seen[-1] == ("validating rows", 300, 300) and len(seen) >= 2
    calls = []
    monkeypatch.setattr(validation, "_check_structure", lambda *a, **k: calls.append(a))
    again = validate_dataset(src)
    assert again.cached and calls == [] and again.to_dict() | {"cached": False} == first.to_dict()
    verdict = dataset_verdict(src, "sft")
    assert calls == [] and verdict.for_training() == {
        "arrow_cache": first.arrow_cache, "source_format": "messages", "trl_type": "conversational",
        "trl_ready": True, "columns": ["messages"], "rows": 300}


def test_a_changed_file_is_checked_again(tmp_path):
    src = write_lines(tmp_path / "chat.jsonl", [chat(1), chat(2)])
    assert validate_dataset(src).valid
    write_lines(tmp_path / "chat.jsonl", [chat(1), {"messages": [{"role": "user", "content": "no reply"}]}])
    os.utime(src, ns=(1, 1))
    report = validate_dataset(src)
    assert not report.cached and not report.valid and report.errors[0].row == 2


def test_rows_that_need_converting_are_not_trl_ready(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": f"Q{i}"}, {"from": "gpt", "value": "A"}]} for i in range(5)]
    report = validate_dataset(write_lines(tmp_path / "sg.jsonl", rows))
    assert report.valid and report.format == "sharegpt" and not report.trl_ready


def test_report_keeps_a_bounded_sample_not_every_row(tmp_path, monkeypatch):
    monkeypatch.setattr(row_checks, "NORMALISED_KEPT", 10)
    monkeypatch.setattr(row_checks, "TOKEN_SAMPLE", 8)
    report = validate_dataset(write_lines(tmp_path / "many.jsonl", [chat(i) for i in range(100)]))
    assert report.usable_rows == 100 and len(report.normalised) == 10 and report.normalised_rows[-1] == 10
    assert 1 <= len(report.token_sample) <= 8
    numbers = report.token_sample_rows
    assert numbers == sorted(numbers) and numbers[0] == 1 and numbers[-1] > 50  # spread over the whole file


def _config(source: str, max_steps: int, validated: dict | None = None) -> dict:
    from training.config.schema import RunConfig

    config = RunConfig().to_dict()
    config["data"].update(source=source, eval_rows=0, validated=validated)
    config["train"].update(max_steps=max_steps, batch_size=2, grad_accum=3, eval_fraction=0.0, seed=7)
    return config


def test_a_max_steps_run_normalises_only_the_rows_it_reaches(tmp_path):
    from training.recipe.data import load_training_data, rows_needed

    src = write_lines(tmp_path / "chat.jsonl", [chat(i) for i in range(100)])
    verdict = dataset_verdict(src, "sft")
    short = load_training_data(_config(src, 4, verdict.for_training()))
    assert rows_needed(_config(src, 4)) == 24 and len(short.train) == 24 and short.rows == 100
    assert short.train.column_names == ["messages"]
    full = load_training_data(_config(src, 0, verdict.for_training()))
    assert len(full.train) == 100
    plain = load_training_data(_config(src, 4))  # no validation result: the file is loaded and normalised
    assert [r["messages"] for r in plain.train] == [r["messages"] for r in short.train]


def test_progress_is_printed_to_stderr_and_shown_as_the_run_stage(tmp_path):
    import io

    from training.data.progress import describe, stderr_progress
    from training.run.engine import Progress, _stage_progress

    assert describe("validating rows", 250, 1000, started=0.0).startswith("validating rows: 250 / 1,000 rows (25%)")
    stream = io.StringIO()
    report = stderr_progress(stream)
    report("validating rows", 0, None)
    report("validating rows", 10, 10)
    report("validating rows", 10, 10)  # the same figures again: printed once
    assert stream.getvalue().splitlines() == ["validating rows: 0 rows", "validating rows: 10 / 10 rows (100%)"]
    progress, updates = Progress(), []
    src = write_lines(tmp_path / "chat.jsonl", [chat(i) for i in range(30)])
    dataset_verdict(src, "sft", progress=_stage_progress(progress, lambda: updates.append(progress.stage)))
    assert updates and progress.stage == "validating rows: 30 / 30 rows (100%)"


def test_a_list_of_only_nulls_is_reported_not_crashed_on(tmp_path):
    """pyarrow parses `[null, null]` but cannot read it back (ArrowIndexError): the record loader takes over and the
    row is reported at its line (found by tests/unit/test_fuzz.py)."""
    path = tmp_path / "nulls.jsonl"
    path.write_text('{"conversations": [null, null]}\n')
    report = validate_dataset(str(path), "sft")
    assert not report.valid and report.rows == 1
    assert report.errors[0].row == 1 and report.errors[0].field.startswith("conversations[0]")
