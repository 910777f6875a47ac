"""Fixture corpus for every format of issue 3 (valid files) and every listed error (broken files).

Each case writes a file, validates it for a method, and asserts the verdict, the detected format and the
row (and field) named. Methods other than SFT are tested through small `MethodSpec`s registered for the
test, so the checks follow `MethodSpec.formats` whatever the registry holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training.data import sources as data_sources
from training.data.formats import FORMATS, normalise_record, parse_label
from training.data.validation import validate_dataset
from training.methods.registry import METHODS, MethodSpec


def _spec(name: str, formats: tuple[str, ...]) -> MethodSpec:
    return MethodSpec(name=name, label=f"{name.upper()} (test)", description="", formats=formats, trainer_class="",
                      config_class="", key_metrics=())


TEST_METHODS = {
    "t_dpo": _spec("t_dpo", ("preference",)),
    "t_kto": _spec("t_kto", ("unpaired_preference", "preference")),
    "t_grpo": _spec("t_grpo", ("prompt_only",)),
}


@pytest.fixture(autouse=True)
def registry(monkeypatch):
    for name, spec in TEST_METHODS.items():
        monkeypatch.setitem(METHODS, name, spec)


def msgs(*turns: tuple[str, object]) -> list[dict]:
    return [{"role": r, "content": c} for r, c in turns]


def write(tmp_path: Path, name: str, rows: list) -> str:
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    elif name.endswith(".json"):
        path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    elif name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def where(report) -> list[tuple[int | None, str]]:
    return [(e.row, e.field) for e in report.errors]


CHAT = msgs(("user", "Hi"), ("assistant", "Hello!"))
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]

# --- valid files: (file name, rows, method, format, trl_type, check on the first normalised row) ---------------
VALID = [
    ("chat_system.jsonl", [{"messages": msgs(("system", "Be brief."), ("user", "Hi"), ("assistant", "Yo"))}], "sft",
     "messages", "conversational", lambda r: r["messages"][0]["role"] == "system"),
    ("chat_system_column.jsonl", [{"system": "Be brief.", "messages": CHAT}], "sft", "messages", "conversational",
     lambda r: [m["role"] for m in r["messages"]] == ["system", "user", "assistant"]),
    ("chat_parts.jsonl", [{"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                                        {"role": "assistant", "content": "Yo"}]}], "sft", "messages", "conversational",
     lambda r: r["messages"][0]["content"] == "Hi"),
    ("chat_tools.jsonl", [{"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "get_weather",
                                                                                             "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "18C", "name": "get_weather"},
        {"role": "assistant", "content": "It is 18C."}], "tools": json.dumps(TOOLS)}], "sft", "messages", "conversational",
     lambda r: r["tools"] == TOOLS and r["messages"][1]["tool_calls"] and r["messages"][2]["role"] == "tool"),
    ("sharegpt_fn.jsonl", [{"conversations": [{"from": "human", "value": "Weather?"},
                                              {"from": "function_call", "value": '{"name": "get_weather"}'},
                                              {"from": "observation", "value": "18C"},
                                              {"from": "gpt", "value": "18C."}], "system": "You call tools."}],
     "sft", "sharegpt", "conversational",
     lambda r: [m["role"] for m in r["messages"]] == ["system", "user", "assistant", "tool", "assistant"]),
    ("alpaca_history.json", [{"instruction": "And 3+3?", "input": "", "output": "6", "system": "Math tutor",
                              "history": [["1+1?", "2"], ["2+2?", "4"]]}], "sft", "alpaca", "conversational",
     lambda r: [m["content"] for m in r["messages"]] == ["Math tutor", "1+1?", "2", "2+2?", "4", "And 3+3?", "6"]),
    ("pc_messages.parquet", [{"prompt": msgs(("user", "Hi")), "completion": msgs(("assistant", "Yo"))}], "sft",
     "prompt_completion", "prompt_completion", lambda r: r["completion"][0]["role"] == "assistant"),
    ("text.csv", ["text", "Once upon a time", '"Two lines,\nwith a comma"'], "sft", "text", "text",
     lambda r: r["text"] == "Once upon a time"),
    ("pref_explicit.jsonl", [{"prompt": "2+2?", "chosen": "4", "rejected": "5"}], "t_dpo", "preference", "preference",
     lambda r: r == {"prompt": "2+2?", "chosen": "4", "rejected": "5"}),
    ("pref_implicit.jsonl", [{"chosen": "Q: 2+2? A: 4", "rejected": "Q: 2+2? A: 5"}], "t_dpo", "preference", "preference",
     lambda r: "prompt" not in r),
    ("pref_messages.jsonl", [{"prompt": msgs(("user", "2+2?")), "chosen": msgs(("assistant", "4")),
                              "rejected": msgs(("assistant", "5"))}], "t_dpo", "preference", "preference",
     lambda r: r["chosen"] == msgs(("assistant", "4"))),
    ("pref_implicit_messages.jsonl", [{"chosen": msgs(("user", "2+2?"), ("assistant", "4")),
                                       "rejected": msgs(("user", "2+2?"), ("assistant", "5"))}], "t_dpo", "preference",
     "preference", lambda r: r["rejected"][-1]["content"] == "5"),
    ("pref_sharegpt.jsonl", [{"prompt": "2+2?", "chosen": {"from": "gpt", "value": "4"},
                              "rejected": [{"from": "gpt", "value": "5"}]}], "t_dpo", "preference", "preference",
     lambda r: r["prompt"] == msgs(("user", "2+2?")) and r["chosen"] == msgs(("assistant", "4"))),
    ("pref_mixed_types.jsonl", [{"prompt": msgs(("user", "2+2?")), "chosen": "4", "rejected": "5"}], "t_dpo", "preference",
     "preference", lambda r: r["chosen"] == msgs(("assistant", "4"))),
    ("kto_bool.jsonl", [{"prompt": "2+2?", "completion": "4", "label": True}], "t_kto", "unpaired_preference",
     "unpaired_preference", lambda r: r["label"] is True),
    ("kto_int.csv", ["prompt,completion,label", "2+2?,4,1", "2+2?,5,0"], "t_kto", "unpaired_preference",
     "unpaired_preference", lambda r: r["label"] is True),
    ("kto_words.parquet", [{"prompt": "2+2?", "completion": "5", "label": "False"}], "t_kto", "unpaired_preference",
     "unpaired_preference", lambda r: r["label"] is False),
    ("kto_from_pairs.jsonl", [{"prompt": "2+2?", "chosen": "4", "rejected": "5"}], "t_kto", "preference", "preference",
     lambda r: r["chosen"] == "4"),
    ("prompts.jsonl", [{"prompt": msgs(("system", "Think."), ("user", "2+2?")), "solution": "4"}], "t_grpo",
     "prompt_only", "prompt_only", lambda r: r["solution"] == "4"),
    ("prompts_from_pairs.jsonl", [{"prompt": "2+2?", "chosen": "4", "rejected": "5"}], "t_grpo", "prompt_only",
     "prompt_only", lambda r: r["prompt"] == "2+2?"),
    ("prompts.tsv", ["prompt", "Write a haiku"], "t_grpo", "prompt_only", "prompt_only", lambda r: r["prompt"] == "Write a haiku"),
]


@pytest.mark.parametrize(("name", "rows", "method", "fmt", "trl_type", "check"), VALID, ids=[v[0] for v in VALID])
def test_valid_files(tmp_path, name, rows, method, fmt, trl_type, check):
    report = validate_dataset(write(tmp_path, name, rows), method)
    assert report.valid, report.errors
    assert (report.format, report.trl_type) == (fmt, trl_type)
    assert report.usable_rows >= 1 and check(report.normalised[0])


# --- broken files: (file name, rows, method, [(row, field)], words in the first message) -----------------------
BROKEN = [
    ("ragged.csv", ["prompt,completion", "a,b", "a,b,c"], "sft", [(3, "(line)")], "3 fields but the header has 2"),
    ("bad_line.jsonl", [{"messages": CHAT}, '{"messages": ['], "sft", [(2, "(line)")], "not valid JSON"),
    ("null_content.jsonl", [{"messages": CHAT}, {"messages": msgs(("user", None), ("assistant", "A"))}], "sft",
     [(2, "messages[0].content")], "is null"),
    ("empty_content.json", [{"messages": CHAT}, {"messages": msgs(("user", "Q"), ("assistant", " "))}], "sft",
     [(2, "messages[1].content")], "empty"),
    ("wrong_type.jsonl", [{"text": "fine"}, {"text": 42}], "sft", [(2, "text")], "must be text, got int"),
    ("unknown_role.jsonl", [{"messages": msgs(("human", "Q"), ("assistant", "A"))}], "sft", [(1, "messages[0].role")],
     "'user' here"),
    ("out_of_order.jsonl", [{"messages": msgs(("assistant", "A"), ("user", "Q"), ("assistant", "A"))}], "sft",
     [(1, "messages[0].role")], "starts with an assistant message"),
    ("tool_first.jsonl", [{"messages": msgs(("user", "Q"), ("tool", "18C"), ("assistant", "A"))}], "sft",
     [(1, "messages[1].role")], "must follow the assistant message"),
    ("no_assistant.jsonl", [{"messages": CHAT}, {"messages": msgs(("system", "S"), ("user", "Q"))}], "sft",
     [(2, "messages")], "no assistant message"),
    ("ends_on_user.jsonl", [{"messages": msgs(("user", "Q"), ("assistant", "A"), ("user", "Q2"))}], "sft",
     [(1, "messages")], "ends on a user message"),
    ("sharegpt_bad_value.jsonl", [{"conversations": [{"from": "human", "value": None}, {"from": "gpt", "value": "A"}]}],
     "sft", [(1, "conversations[0].value")], "is null"),
    ("bad_tools.jsonl", [{"messages": CHAT, "tools": "{not json"}], "sft", [(1, "tools")], "not valid JSON"),
    ("bad_history.jsonl", [{"instruction": "I", "output": "O", "history": [["only one"]]}], "sft", [(1, "history[0]")],
     "pair"),
    ("missing_rejected.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "p", "chosen": "a", "rejected": None}],
     "t_dpo", [(2, "rejected")], "every pair needs both"),
    ("missing_chosen.csv", ["prompt,chosen,rejected", "p,a,b", "p,,b"], "t_dpo", [(3, "chosen")], "is empty"),
    ("pref_prompt_ends_assistant.jsonl", [{"prompt": msgs(("user", "Q"), ("assistant", "A")), "chosen": "x",
                                           "rejected": "y"}], "t_dpo", [(1, "prompt")], "should end with the user's turn"),
    ("pref_implicit_ends_user.jsonl", [{"chosen": msgs(("user", "Q"), ("assistant", "A"), ("user", "more?")),
                                        "rejected": msgs(("user", "Q"), ("assistant", "B"))}], "t_dpo", [(1, "chosen")],
     "should end with the assistant's reply"),
    ("kto_bad_label.jsonl", [{"prompt": "p", "completion": "c", "label": True}, {"prompt": "p", "completion": "c", "label": "maybe"}],
     "t_kto", [(2, "label")], "must be true"),
    ("kto_label_two.csv", ["prompt,completion,label", "p,c,2"], "t_kto", [(2, "label")], "'2'"),
    ("grpo_empty_prompt.jsonl", [{"prompt": "ok"}, {"prompt": ""}], "t_grpo", [(2, "prompt")], "is empty"),
    ("sft_on_pairs.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}], "sft", [(None, "(columns)")], "SFT needs"),
    ("dpo_on_chat.jsonl", [{"messages": CHAT}], "t_dpo", [(None, "(columns)")], "T_DPO needs chosen+rejected"),
    ("header_only.csv", ["prompt,completion"], "sft", [(None, "(file)")], "no rows"),
    ("empty.jsonl", [""], "sft", [(None, "(file)")], "is empty"),
]


@pytest.mark.parametrize(("name", "rows", "method", "located", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files(tmp_path, name, rows, method, located, words):
    report = validate_dataset(write(tmp_path, name, rows), method)
    assert not report.valid
    assert where(report) == located, report.errors
    assert words in report.errors[0].message, report.errors[0].message


def test_sft_rules_do_not_apply_to_prompts(tmp_path):
    """A GRPO prompt ends on the user's turn and has no assistant message: that is right for it, not an error."""
    src = write(tmp_path, "p.jsonl", [{"prompt": msgs(("user", "2+2?"))}])
    assert validate_dataset(src, "t_grpo").valid


# --- warnings: the data is usable, but something deserves a look ------------------------------------------------


def test_chosen_equal_rejected_warns(tmp_path):
    rows = [{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "q", "chosen": "same", "rejected": "same"}]
    report = validate_dataset(write(tmp_path, "p.jsonl", rows), "t_dpo")
    assert report.valid
    assert any("chosen identical to rejected (row 2)" in w for w in report.warnings), report.warnings


def test_mixed_types_in_a_column_warn(tmp_path):
    rows = [{"prompt": "p", "completion": "c", "label": True}] * 3 + [{"prompt": "p2", "completion": "c", "label": "false"}]
    report = validate_dataset(write(tmp_path, "k.jsonl", rows), "t_kto")
    assert report.valid
    mixed = [w for w in report.warnings if "Column 'label' mixes types" in w]
    assert mixed and "mostly true/false (3 rows)" in mixed[0] and "first at row 4" in mixed[0]


def test_very_long_rows_warn(tmp_path):
    rows = [{"text": "short"}, {"text": "word " * 5000}]
    report = validate_dataset(write(tmp_path, "long.jsonl", rows))
    assert report.valid and any("very long row(s)" in w and "row 2" in w for w in report.warnings)


def test_duplicates_name_rows(tmp_path):
    rows = [{"messages": CHAT}, {"text": "x"}, {"messages": CHAT}]
    report = validate_dataset(write(tmp_path, "d.jsonl", [rows[0], rows[0], {"messages": msgs(("user", "Q"), ("assistant", "A"))}]))
    assert report.valid and any("row 2 repeats row 1" in w for w in report.warnings)


def test_unicode_line_separator_inside_a_string_is_one_line(tmp_path):
    row = {"messages": msgs(("user", "a\u2028b\u0085c"), ("assistant", "ok"))}
    report = validate_dataset(write(tmp_path, "u.jsonl", [row, row | {"id": 2}]))
    assert report.valid and report.rows == 2 and [p["row"] for p in report.preview] == [1, 2]


# --- sources: encodings, wrong extensions, Hub streaming ------------------------------------------------------


@pytest.mark.parametrize(("name", "head", "words"), [
    ("data.csv", b"PK\x03\x04rest", "ZIP archive"),
    ("data.jsonl", b"\x1f\x8b\x08\x00", "gzip"),
    ("data.csv", b"text\nab\x00cd\n", "binary file"),
])
def test_files_that_are_not_datasets(tmp_path, name, head, words):
    path = tmp_path / name
    path.write_bytes(head)
    report = validate_dataset(str(path))
    assert where(report) == [(None, "(file)")] and words in report.errors[0].message


def test_jsonl_named_csv_is_read_as_jsonl_with_note(tmp_path):
    path = tmp_path / "chat.csv"
    path.write_text(json.dumps({"messages": CHAT}) + "\n")
    report = validate_dataset(str(path))
    assert report.valid and report.format == "messages"
    assert any("named .csv but its content is JSONL" in w for w in report.warnings)


def test_latin1_jsonl_decodes_with_stated_fallback(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(json.dumps({"text": "café"}, ensure_ascii=False).encode("cp1252") + b"\n")
    report = validate_dataset(str(path))
    assert report.valid and report.normalised[0]["text"] == "café"
    assert any("Windows-1252" in w for w in report.warnings)


def test_hub_quick_check_streams_first_rows_and_says_so(monkeypatch):
    calls = []

    def fake_stream(dataset_id, subset, split):
        calls.append((dataset_id, subset, split))
        return ({"prompt": f"q{i}", "completion": f"a{i}"} for i in range(5000))

    monkeypatch.setattr(data_sources, "open_hub_stream", fake_stream)
    quick = validate_dataset("someone/qa", stream_rows=1000)
    assert quick.valid and quick.rows == 1000 and quick.partial
    assert any("first 1000 rows, streamed from the Hub" in w and "full check" in w for w in quick.warnings)
    full = validate_dataset("someone/qa", stream_rows=None)
    assert full.valid and full.rows == 5000 and not full.partial
    assert calls[0] == ("someone/qa", None, "train")


def test_hub_row_errors_use_record_numbers(monkeypatch):
    monkeypatch.setattr(data_sources, "open_hub_stream",
                        lambda *a: iter([{"text": "a"}, {"text": None}, {"text": "c"}]))
    report = validate_dataset("someone/texts", stream_rows=1000)
    assert where(report) == [(2, "text")] and not report.partial


# --- pieces ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), (1, True), (0, False), (1.0, True), ("true", True), (" FALSE ", False), ("1", True),
    ("0", False), ("yes", None), (2, None), (None, None), ([True], None),
])
def test_parse_label(value, expected):
    assert parse_label(value) is expected


def test_every_format_has_a_normaliser_that_survives_odd_values():
    for fmt in FORMATS.values():
        for odd in (None, 1, "x", [], {}, [None], [{"role": []}], [{"from": 3}]):
            record = dict.fromkeys(fmt.required + fmt.optional, odd)
            row, problems = normalise_record(record, fmt)
            assert (row is None) == bool(problems)


def test_jsonl_whose_first_line_is_longer_than_the_sniffed_head(tmp_path):
    """A first row longer than 4 KB is still read as JSONL, not as one broken JSON document."""
    long_answer = "word " * 2000
    path = tmp_path / "long.jsonl"
    rows = [{"messages": [{"role": "user", "content": "Say a lot"}, {"role": "assistant", "content": long_answer}]},
            {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from training.data.validation import validate_dataset

    report = validate_dataset(str(path), "sft")
    assert report.valid and report.usable_rows == 2, report.errors
