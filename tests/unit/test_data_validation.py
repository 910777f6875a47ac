"""Reading datasets of every supported shape and validating them row by row.

Row numbers: 1-based line numbers for JSONL and CSV/TSV (the header is line 1), 1-based record
numbers for JSON arrays and Parquet.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training.data.formats import FORMATS, detect_format, normalise_record, record_text
from training.data.sources import DataSourceError, classify_source, load_records
from training.data.validation import MAX_LISTED_ERRORS, ValidationReport, token_statistics, validate_dataset


def chat(*turns: tuple[str, object]) -> dict:
    return {"messages": [{"role": role, "content": content} for role, content in turns]}


GOOD = chat(("user", "Hi"), ("assistant", "Hello!"))


def jsonl(path: Path, *lines: object) -> str:
    """Write one line per item: dicts/lists as JSON, strings verbatim."""
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return str(path)


def errors(report: ValidationReport) -> list[tuple[int | None, str]]:
    return [(e.row, e.field) for e in report.errors]


# --- files that read cleanly -------------------------------------------------------------------


def test_demo_dataset_is_valid(isolated_data_dir):
    report = validate_dataset("demo")
    assert report.valid and report.format == "messages" and report.trl_type == "conversational"
    assert report.rows == report.usable_rows == 180  # 12 places x 3 facts x 5 phrasings (training/data/demo_data.py)
    assert report.errors == [] and report.warnings == []
    assert (isolated_data_dir / "datasets" / "demo_chat.jsonl").exists()


def test_jsonl_with_blank_lines(tmp_path):
    src = jsonl(tmp_path / "chat.jsonl", "", GOOD, "   ", chat(("user", "Q"), ("assistant", "A")), "")
    report = validate_dataset(src)
    assert report.valid and report.format == "messages"
    assert report.rows == 2
    assert [p["row"] for p in report.preview] == [2, 4]


def test_json_array_and_object_wrapping_a_list(tmp_path):
    rows = [
        {"instruction": "Add 1+1", "input": "", "output": "2"},
        {"instruction": "Say hi", "input": "to Bob", "output": "Hi Bob"},
    ]
    array = tmp_path / "a.json"
    array.write_text(json.dumps(rows, indent=2))
    wrapped = tmp_path / "w.json"
    wrapped.write_text(json.dumps({"version": 1, "data": rows}, indent=2))
    for src in (array, wrapped):
        report = validate_dataset(str(src))
        assert report.valid, report.errors
        assert report.format == "alpaca" and report.rows == 2
        assert [p["row"] for p in report.preview] == [1, 2]
        assert report.normalised[1]["messages"][0] == {"role": "user", "content": "Say hi\n\nto Bob"}


def test_single_line_json_object_wrapping_a_list(tmp_path):
    path = tmp_path / "one_line.json"
    path.write_text(json.dumps({"data": [{"text": "a"}, {"text": "b"}]}))
    report = validate_dataset(str(path))
    assert report.valid, report.errors
    assert report.format == "text" and report.rows == 2


def test_json_file_with_one_conversation_object(tmp_path):
    path = tmp_path / "single.json"
    path.write_text(json.dumps(GOOD, indent=2))
    report = validate_dataset(str(path))
    assert report.valid, report.errors
    assert report.format == "messages" and report.rows == 1


def test_csv_with_quoted_newlines_and_commas(tmp_path):
    path = tmp_path / "pc.csv"
    path.write_text('prompt,completion\n"line one\nline two","a, b, and c"\n"He said ""hi""",ok\n', encoding="utf-8")
    report = validate_dataset(str(path))
    assert report.valid and report.format == "prompt_completion"
    assert report.preview[0] == {"row": 2, "prompt": "line one\nline two", "completion": "a, b, and c"}
    assert report.preview[1]["row"] == 4  # the quoted newline made record 1 span lines 2-3
    assert report.preview[1]["prompt"] == 'He said "hi"'


def test_tsv_and_semicolon_csv(tmp_path):
    tsv = tmp_path / "data.tsv"
    tsv.write_text("prompt\tcompletion\nx, y\tz; w\n")
    semi = tmp_path / "semi.csv"
    semi.write_text("prompt;completion\nhello, there;general, kenobi\nq;a\n")
    for src, rows in ((tsv, 1), (semi, 2)):
        report = validate_dataset(str(src))
        assert report.valid, report.errors
        assert report.format == "prompt_completion" and report.rows == rows
    assert validate_dataset(str(semi)).preview[0]["completion"] == "general, kenobi"


def test_utf8_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext\nnaïve café\n".encode())
    report = validate_dataset(str(path))
    assert report.valid and report.columns == ["text"]
    assert report.warnings == []
    bom_jsonl = tmp_path / "bom.jsonl"
    bom_jsonl.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    assert validate_dataset(str(bom_jsonl)).valid


def test_cp1252_file_decodes_with_warning(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text\nfirst\ncafé “quoted” naïve\n".encode("cp1252"))
    report = validate_dataset(str(path))
    assert report.valid
    assert report.preview[1]["text"] == "café “quoted” naïve"
    assert len(report.warnings) == 1 and "not valid UTF-8" in report.warnings[0] and "line 3" in report.warnings[0]


def test_utf16_file(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_bytes("text\nhello\n".encode("utf-16"))
    report = validate_dataset(str(path))
    assert report.valid and report.preview[0]["text"] == "hello"
    assert any("UTF-16" in w for w in report.warnings)


def test_truncated_utf16_file_does_not_raise(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_bytes("text\nhi\n".encode("utf-16") + b"\x00")
    report = validate_dataset(str(path))
    assert report.preview[0]["text"] == "hi" and any("UTF-16" in w for w in report.warnings)


def test_parquet(tmp_path):
    path = tmp_path / "d.parquet"
    table = pa.table({"prompt": ["p1", "p2", "p3"], "completion": ["c1", None, "c3"]})
    pq.write_table(table, path)
    report = validate_dataset(str(path))
    assert report.format == "prompt_completion" and report.rows == 3
    assert not report.valid
    assert errors(report) == [(2, "completion")]
    assert "missing or null" in report.errors[0].message


def test_parquet_with_nested_messages(tmp_path):
    path = tmp_path / "chat.parquet"
    pq.write_table(pa.Table.from_pylist([GOOD, chat(("user", "a"), ("assistant", "b"))]), path)
    report = validate_dataset(str(path))
    assert report.valid and report.format == "messages" and report.rows == 2


def test_json_named_parquet_is_read_as_json_with_note(tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_text(json.dumps([GOOD, GOOD]))
    report = validate_dataset(str(path))
    assert report.format == "messages" and report.rows == 2
    assert any("named .parquet" in w and "JSON" in w for w in report.warnings)
    assert any("duplicate" in w for w in report.warnings)


def test_sharegpt(tmp_path):
    turns = [("system", "Be brief."), ("human", "Hi"), ("gpt", "Yo")]
    row = {"conversations": [{"from": who, "value": text} for who, text in turns]}
    report = validate_dataset(jsonl(tmp_path / "s.jsonl", row))
    assert report.valid and report.format == "sharegpt" and report.trl_type == "conversational"
    assert [m["role"] for m in report.normalised[0]["messages"]] == ["system", "user", "assistant"]


def test_sharegpt_unknown_speaker(tmp_path):
    bad = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "robot", "value": "Yo"}]}
    report = validate_dataset(jsonl(tmp_path / "s.jsonl", bad))
    assert errors(report) == [(1, "conversations[1].from")]
    assert "'robot'" in report.errors[0].message and "gpt" in report.errors[0].message


def test_sharegpt_speaker_of_wrong_type(tmp_path):
    bad = {"conversations": [{"from": ["human"], "value": "Hi"}, "not a turn"]}
    report = validate_dataset(jsonl(tmp_path / "s.jsonl", bad))
    assert errors(report) == [(1, "conversations[0].from")]
    assert "['human']" in report.errors[0].message


def test_text_and_prompt_completion_formats(tmp_path):
    text = validate_dataset(jsonl(tmp_path / "t.jsonl", {"text": "Once upon a time"}))
    assert text.valid and text.format == "text" and text.trl_type == "text"
    pc = validate_dataset(jsonl(tmp_path / "pc.jsonl", {"prompt": "2+2=", "completion": "4"}))
    assert pc.valid and pc.format == "prompt_completion"
    conv_pc = {"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": "Hey"}]}
    report = validate_dataset(jsonl(tmp_path / "cpc.jsonl", conv_pc))
    assert report.valid and report.normalised[0] == conv_pc


def test_content_as_list_of_parts(tmp_path):
    row = {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]},
    ]}
    report = validate_dataset(jsonl(tmp_path / "parts.jsonl", row))
    assert report.valid, report.errors
    assert report.normalised[0]["messages"][0] == {"role": "user", "content": "Hello there"}


# --- errors, each at its row ------------------------------------------------------------------


def test_malformed_jsonl_line(tmp_path):
    src = jsonl(tmp_path / "m.jsonl", GOOD, "", '{"messages": [}', GOOD, "[1, 2]")
    report = validate_dataset(src)
    assert not report.valid
    assert errors(report) == [(3, "(line)"), (5, "(line)")]
    assert "not valid JSON" in report.errors[0].message
    assert "JSON list, not an object" in report.errors[1].message
    assert report.rows == 4 and report.usable_rows == 2


def test_ragged_csv_row(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('prompt,completion\n"multi\nline",ok\na,b,c\nq,a\n')
    report = validate_dataset(str(path))
    assert errors(report) == [(4, "(line)")]
    assert "3 fields but the header has 2" in report.errors[0].message
    assert report.usable_rows == 2


@pytest.mark.parametrize(
    ("row", "field", "needle"),
    [
        (chat(("user", None), ("assistant", "A")), "messages[0].content", "is null; write the user message's text"),
        (chat(("user", "Q"), ("assistant", "   ")), "messages[1].content", "assistant message is empty"),
        (chat(("user", 5), ("assistant", "A")), "messages[0].content", "must be text (or a list of {type: text, text} parts), got int"),
        ({"messages": "hello"}, "messages", "must be a list"),
        ({"messages": []}, "messages", "empty conversation"),
        ({"messages": ["hi", {"role": "assistant", "content": "A"}]}, "messages[0]", "must be an object"),
        (chat(("user", "Q"), ("bot", "A")), "messages[1].role", "use one of: system, user, assistant, tool"),
        (chat(("user", "Q"), ("assistant", "A"), ("assistant", "B")), "messages[2].role", "two assistant messages in a row"),
        (chat(("user", "Q"), ("user", "Q2"), ("assistant", "A")), "messages[1].role", "two user messages in a row"),
        (chat(("user", "Q"), ("system", "S"), ("assistant", "A")), "messages[1].role", "system message may only come first"),
        (chat(("system", "S"), ("user", "Q")), "messages", "no assistant message"),
        (chat(("user", "Q"), ("assistant", "A"), ("user", "Q2")), "messages", "ends on a user message"),
        ({"text": None}, "text", "missing or null"),
        ({"text": ""}, "text", "is empty"),
        ({"text": ["a"]}, "text", "must be text, got list"),
        ({"instruction": "I", "output": None}, "output", "missing or null"),
        ({"instruction": "I", "input": 3, "output": "O"}, "input", "must be text, got int"),
        ({"prompt": "P", "completion": ""}, "completion", "is empty"),
        ({"conversations": "nope"}, "conversations", "must be a list"),
    ],
)
def test_row_errors_name_row_and_field(tmp_path, row, field, needle):
    src = jsonl(tmp_path / "e.jsonl", GOOD if "messages" in row else row, row)
    report = validate_dataset(src)
    assert not report.valid
    assert (2, field) in errors(report), report.errors
    message = next(e.message for e in report.errors if (e.row, e.field) == (2, field))
    assert needle in message


def test_json_array_errors_use_record_numbers(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([GOOD, "not a record", chat(("user", "Q"), ("bot", "A"))], indent=2))
    report = validate_dataset(str(path))
    assert errors(report) == [(2, "(record)"), (3, "messages[1].role")]


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty.jsonl", "", "is empty"),
        ("blank.csv", "\n\n  \n", "is empty"),
        ("header.csv", "prompt,completion\n", "no rows"),
        ("header_blank_lines.csv", "text\n\n\n", "no rows"),
        ("empty_list.json", "[]", "no rows"),
        ("bad.json", '[{"text": "a"},', "not valid JSON"),
        ("scalar.json", '"just a string"', "holds a JSON str"),
        ("dup_header.csv", "text,text\na,b\n", "repeated column names"),
    ],
)
def test_unreadable_or_empty_files(tmp_path, name, content, needle):
    path = tmp_path / name
    path.write_text(content)
    report = validate_dataset(str(path))
    assert not report.valid and report.usable_rows == 0
    assert errors(report) == [(None, "(file)")]
    assert needle in report.errors[0].message


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64)
    report = validate_dataset(str(path))
    assert errors(report) == [(None, "(file)")] and "not a readable Parquet file" in report.errors[0].message


def test_unrecognised_columns_point_to_column_mapping(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nWhat is 2+2?,4\nCapital of France?,Paris\n")
    report = validate_dataset(str(path))
    assert not report.valid and report.format is None
    assert errors(report) == [(None, "(columns)")]
    assert "question, answer" in report.errors[0].message and "Column mapping" in report.errors[0].message

    mapped = validate_dataset(str(path), column_map={"question": "prompt", "answer": "completion"})
    assert mapped.valid and mapped.format == "prompt_completion" and mapped.usable_rows == 2
    assert mapped.preview[0] == {"row": 2, "prompt": "What is 2+2?", "completion": "4"}


def test_format_the_method_cannot_use(tmp_path):
    src = jsonl(tmp_path / "pref.jsonl", {"prompt": "p", "chosen": "a", "rejected": "b"})
    report = validate_dataset(src)
    assert report.format == "preference" and not report.valid
    assert "SFT needs" in report.errors[0].message and "Column mapping" in report.errors[0].message


def test_duplicates_warn_but_stay_valid(tmp_path):
    report = validate_dataset(jsonl(tmp_path / "d.jsonl", GOOD, GOOD, GOOD, {"messages": GOOD["messages"][::1]}))
    assert report.valid
    assert report.warnings == ["3 duplicate row(s) (row 2 repeats row 1; row 3 repeats row 1; row 4 repeats row 1): "
                               "they weigh twice in training. Remove them unless intended."]


def test_errors_are_capped_but_counted(tmp_path):
    src = jsonl(tmp_path / "many.jsonl", *([{"text": ""}] * (MAX_LISTED_ERRORS + 10)), {"text": "ok"})
    report = validate_dataset(src)
    assert report.error_count == MAX_LISTED_ERRORS + 10
    assert len(report.errors) == MAX_LISTED_ERRORS
    assert report.to_dict()["errors_not_listed"] == 10
    assert [e.row for e in report.errors] == list(range(1, MAX_LISTED_ERRORS + 1))


def test_max_rows_truncates_with_warning(tmp_path):
    src = jsonl(tmp_path / "long.jsonl", *[{"text": f"row {i}"} for i in range(10)])
    report = validate_dataset(src, max_rows=3)
    assert report.valid and report.rows == 3
    assert any("first 3 rows" in w for w in report.warnings)


def test_report_to_dict_is_json_and_summary(tmp_path):
    report = validate_dataset(jsonl(tmp_path / "x.jsonl", GOOD, {"messages": 1}))
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) >= {"valid", "format", "rows", "errors", "warnings", "preview", "error_count"}
    assert data["errors"] == [{"row": 2, "field": "messages", "message": "must be a list of {role, content} messages, got int"}]
    assert "invalid, 1 error(s)" in report.summary()


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="not available; choose one of: sft"):
        validate_dataset("demo", method="ppo")


# --- sources ----------------------------------------------------------------------------------


def test_classify_source(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("text\na\n")
    assert classify_source("demo") == "demo"
    assert classify_source(str(f)) == "file"
    assert classify_source("HuggingFaceH4/no_robots") == "hub"
    with pytest.raises(DataSourceError, match="No dataset given"):
        classify_source("  ")
    with pytest.raises(DataSourceError, match="is a folder"):
        classify_source(str(tmp_path))
    with pytest.raises(DataSourceError, match="does not exist"):
        classify_source(str(tmp_path / "missing.jsonl"))
    with pytest.raises(DataSourceError, match="neither an existing file nor a valid Hub dataset id"):
        classify_source("not a dataset!")


@pytest.mark.parametrize("source", ["x" * 300, "a\x00b", "a/" + "b" * 300, "~nosuchuser0/data.jsonl", "~0"])
def test_odd_source_strings_are_reported_not_raised(source):
    report = validate_dataset(source)
    assert not report.valid and errors(report) == [(None, "(file)")]


def test_hub_source_offline_gives_clear_error():
    report = validate_dataset("someone/some-dataset-that-is-not-cached")
    assert errors(report) == [(None, "(file)")]
    assert "Could not load Hub dataset" in report.errors[0].message


def test_load_records_limit_and_columns(tmp_path):
    src = jsonl(tmp_path / "c.jsonl", {"a": 1, "b": 2}, {"c": 3})
    loaded = load_records(src, limit=1)
    assert loaded.truncated and loaded.records == [(1, {"a": 1, "b": 2})]
    assert load_records(src).columns == ["a", "b", "c"]


# --- formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "fmt"),
    [
        (["messages", "id"], "messages"),
        (["conversations"], "sharegpt"),
        (["instruction", "input", "output"], "alpaca"),
        (["prompt", "completion"], "prompt_completion"),
        (["text", "meta"], "text"),
        (["prompt", "chosen", "rejected"], "preference"),
        (["prompt", "completion", "label"], "unpaired_preference"),
        (["prompt"], "prompt_only"),
        (["question", "answer"], None),
        ([], None),
    ],
)
def test_detect_format(columns, fmt):
    info = detect_format(columns)
    assert (info.source_format if info else None) == fmt


def test_alpaca_system_and_record_text():
    row, problems = normalise_record({"instruction": "I", "output": "O", "system": "S"}, FORMATS["alpaca"])
    assert problems == []
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert record_text(row) == "S\nI\nO"


def test_prompt_only_does_not_need_assistant():
    row, problems = normalise_record({"prompt": [{"role": "user", "content": "Hi"}]}, FORMATS["prompt_only"])
    assert problems == [] and row == {"prompt": [{"role": "user", "content": "Hi"}]}


# --- token statistics with the demo tokenizer ------------------------------------------------------


def test_token_statistics_with_demo_tokenizer(demo_model_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(demo_model_path)
    report = validate_dataset("demo", tokenizer=tokenizer, max_length=1024)
    stats = report.token_stats
    assert stats["exact"] and stats["sampled_rows"] == 180
    assert 0 < stats["min_tokens"] <= stats["mean_tokens"] <= stats["max_tokens"] < 1024
    assert stats["truncated_pct"] == 0 and sum(stats["histogram"]["counts"]) == 180
    short = token_statistics(report.normalised, tokenizer, max_length=8)
    assert short["truncated_pct"] == 100.0
    assert short["total_tokens"] == 180 * 8
    truncated = validate_dataset("demo", tokenizer=tokenizer, max_length=8)
    assert any("will be truncated" in w for w in truncated.warnings)


def test_train_reuses_the_verdict_of_validate_until_the_file_changes(tmp_path, monkeypatch):
    """Validate reads every row once; Train's check of the same unchanged file with the same settings does not read
    it again, and any change to the file (or the settings) reads it afresh."""
    import os

    from training.data import validation

    path = tmp_path / "chat.jsonl"
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    path.write_text(json.dumps(good) + "\n")
    assert validation.validate_dataset(str(path), "sft").valid
    calls = []
    real = validation._check_structure
    monkeypatch.setattr(validation, "_check_structure", lambda *a, **k: calls.append(a) or real(*a, **k))
    verdict = validation.dataset_verdict(str(path), "sft")
    assert verdict.valid and verdict.columns == ["messages"] and calls == []
    assert validation.dataset_verdict(str(path), "sft", max_rows=1).valid and len(calls) == 1  # other settings: checked
    path.write_text(json.dumps(good) + "\n" + json.dumps({"messages": [{"role": "user", "content": "no reply"}]}) + "\n")
    os.utime(path, ns=(1, 1))  # a changed file, even one written within the same clock tick
    again = validation.dataset_verdict(str(path), "sft")
    assert not again.valid and again.first_errors[0].row == 2 and len(calls) == 2
