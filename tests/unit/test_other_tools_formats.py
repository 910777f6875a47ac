"""Files written for other fine-tuning tools (LLaMA-Factory, OpenAI fine-tuning) are detected and normalised.

Each fixture in tests/fixtures/formats/ is a small file in that tool's documented format. The checks validate it
for the method it is meant for, then hold the normalised rows against TRL's own dataset-type helpers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.data.formats import FORMATS, detect_format, normalise_record, row_notes
from training.data.validation import validate_dataset

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def msgs(*turns: tuple[str, str]) -> list[dict]:
    return [{"role": r, "content": c} for r, c in turns]


def check(name: str, method: str, fmt: str, trl_type: str):
    report = validate_dataset(str(FIXTURES / name), method)
    assert report.valid, report.errors
    assert (report.format, report.trl_type) == (fmt, trl_type)
    assert report.usable_rows == report.rows
    return report


@pytest.fixture(scope="module")
def trl_data():
    return pytest.importorskip("trl.data_utils")


def trl_kind(trl_data, row: dict) -> str:
    """The TRL dataset type of a normalised row, as TRL's helpers and docs define it."""
    assert trl_data.is_conversational(row), row
    keys = set(row) - {"tools"}
    for kind, needed in (("preference", {"chosen", "rejected"}), ("unpaired_preference", {"prompt", "completion", "label"}),
                         ("conversational", {"messages"})):
        if needed <= keys:
            return kind
    raise AssertionError(row)


# --- LLaMA-Factory --------------------------------------------------------------------------------------------


def test_llamafactory_sharegpt_preference(trl_data):
    report = check("llamafactory_dpo_sharegpt.json", "dpo", "sharegpt_preference", "preference")
    first, second = report.normalised
    assert first == {"prompt": msgs(("user", "What is the capital of France?")),
                     "chosen": msgs(("assistant", "The capital of France is Paris.")),
                     "rejected": msgs(("assistant", "France's capital is Lyon."))}
    assert [m["role"] for m in second["prompt"]] == ["system", "user", "assistant", "user"]
    assert second["chosen"] == msgs(("assistant", "11 is prime too."))
    assert all(trl_kind(trl_data, r) == "preference" for r in report.normalised)


@pytest.mark.parametrize("name", ["llamafactory_kto.json", "llamafactory_kto_sharegpt.jsonl"])
def test_llamafactory_kto(trl_data, name):
    fmt = "messages_kto" if name == "llamafactory_kto.json" else "sharegpt_kto"
    report = check(name, "kto", fmt, "unpaired_preference")
    good, bad = report.normalised
    assert good["prompt"][-1]["role"] == "user" and good["completion"][0]["role"] == "assistant"
    assert (good["label"], bad["label"]) == (True, False)
    assert all(trl_kind(trl_data, r) == "unpaired_preference" for r in report.normalised)


def test_kto_tag_alone_is_detected_as_label():
    assert detect_format(["prompt", "completion", "kto_tag"]).source_format == "unpaired_preference"
    row, problems = normalise_record({"prompt": "p", "completion": "c", "kto_tag": "false"}, FORMATS["unpaired_preference"])
    assert not problems and row["label"] is False
    _, problems = normalise_record({"messages": msgs(("user", "q"), ("assistant", "a")), "kto_tag": "meh"},
                                   FORMATS["messages_kto"])
    assert problems[0][0] == "kto_tag" and "must be true" in problems[0][1]


def test_llamafactory_v1_messages(trl_data):
    report = check("llamafactory_v1_sft.jsonl", "sft", "messages", "conversational")
    reasoning, trimmed, tools = report.normalised
    # text parts joined, reasoning kept apart for templates that render it, loss_weight dropped
    assert reasoning["messages"][-1] == {"role": "assistant", "content": "17 * 3 is 51.", "reasoning_content": "17 * 3 = 51."}
    assert reasoning["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    # the last assistant reply has loss_weight 0: the conversation ends after the last trained reply
    assert trimmed["messages"] == msgs(("user", "Hi"), ("assistant", "Hello! How can I help?"))
    # a tool_call part becomes TRL's tool_calls; the tools column (JSON text) is read
    call = tools["messages"][1]
    assert call["content"] == "" and call["tool_calls"] == [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    assert tools["tools"][0]["name"] == "get_weather"
    assert all(trl_kind(trl_data, r) == "conversational" for r in report.normalised)


def test_llamafactory_v1_chosen_rejected_messages(trl_data):
    report = check("llamafactory_v1_dpo.jsonl", "dpo", "messages_preference", "preference")
    assert report.normalised[0] == {"prompt": msgs(("user", "Capital of Italy?")), "chosen": msgs(("assistant", "Rome.")),
                                    "rejected": msgs(("assistant", "Milan."))}
    assert trl_kind(trl_data, report.normalised[0]) == "preference"


def test_chosen_rejected_messages_without_a_shared_prompt_stay_whole():
    record = {"chosen_messages": msgs(("user", "A?"), ("assistant", "a")),
              "rejected_messages": msgs(("user", "B?"), ("assistant", "b"))}
    row, problems = normalise_record(record, FORMATS["messages_preference"])
    assert not problems and row == {"chosen": record["chosen_messages"], "rejected": record["rejected_messages"]}


# --- OpenAI fine-tuning JSONL ---------------------------------------------------------------------------------


def test_openai_chat_with_weights_and_tools(trl_data):
    report = check("openai_chat.jsonl", "sft", "messages", "conversational")
    sarcastic, tool_use, joke = report.normalised
    assert all("weight" not in m for m in sarcastic["messages"])
    assert sarcastic["messages"][-1]["content"].startswith("Paris, as if")
    assert tool_use["messages"][1]["tool_calls"][0]["function"]["name"] == "get_current_weather"
    assert tool_use["messages"][2]["tool_call_id"] == "call_id"
    assert tool_use["tools"][0]["function"]["name"] == "get_current_weather"
    assert joke["messages"] == msgs(("user", "Tell me a joke."), ("assistant", "Why did the chicken cross the road?"))
    # a weight-0 reply before a trained one cannot be left out by TRL: said once, naming the row
    assert any("row 1" in w and "weight 0" in w for w in report.warnings), report.warnings
    assert all(trl_kind(trl_data, r) == "conversational" for r in report.normalised)


def test_openai_preference(trl_data):
    report = check("openai_preference.jsonl", "dpo", "openai_preference", "preference")
    row = report.normalised[0]
    assert row["prompt"] == msgs(("user", "Hello, can you tell me how cold San Francisco is today?"))
    assert row["chosen"][0]["content"].startswith("Today in San Francisco")
    assert row["rejected"] == msgs(("assistant", "It is not particularly cold in San Francisco today."))
    assert "tools" not in row  # an empty tools list is no tools
    assert trl_kind(trl_data, row) == "preference"


# --- weights, parts and messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(("messages", "field", "words"), [
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0}], "messages",
     "every assistant message has weight 0"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": "yes"}], "messages[1].weight",
     "must be a number"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}, {"role": "assistant", "content": "a"}],
     "messages[0].content[0]", "'image_url' part"),
    ([{"role": "user", "content": [{"type": "text", "value": None}]}, {"role": "assistant", "content": "a"}],
     "messages[0].content[0]", "without text"),
    ([{"role": "user", "content": [{"type": "reasoning", "value": "hmm"}]}, {"role": "assistant", "content": "a"}],
     "messages[0].content", "reasoning part in a user message"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "tool_call", "value": "{oops"}]}],
     "messages[1].content[0]", "tool_call part"),
])
def test_broken_parts_and_weights_name_the_field(messages, field, words):
    row, problems = normalise_record({"messages": messages}, FORMATS["messages"])
    assert row is None and problems[0][0] == field and words in problems[0][1], problems


def test_value_parts_are_read_not_refused():
    """Parts written {type, value} (LLaMA-Factory) are read like {type, text} ones, not called the wrong type."""
    record = {"messages": [{"role": "user", "content": [{"type": "text", "value": "Hi"}]},
                           {"role": "assistant", "content": [{"type": "text", "text": "Yo"}]}]}
    row, problems = normalise_record(record, FORMATS["messages"])
    assert not problems and row["messages"] == msgs(("user", "Hi"), ("assistant", "Yo"))


def test_weights_do_not_hide_a_conversation_that_ends_on_the_user():
    record = {"messages": [{"role": "user", "content": "q", "weight": 0}, {"role": "assistant", "content": "a", "weight": 1},
                           {"role": "user", "content": "more?", "weight": 0}]}
    _, problems = normalise_record(record, FORMATS["messages"])
    assert problems == [("messages", "ends on a user message; end each conversation with the assistant's reply")]


def test_row_notes():
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0},
            {"role": "user", "content": "q2"}, {"role": "assistant", "content": "b"}]
    assert row_notes({"messages": chat}) == ("weight_0_in_middle",)
    chat[-1]["loss_weight"] = 0.5
    chat[1] = {"role": "assistant", "content": "a"}
    assert row_notes({"messages": chat}) == ("fractional_weight",)
    assert row_notes({"messages": msgs(("user", "q"), ("assistant", "a"))}) == ()


def test_fixtures_are_valid_json():
    for path in FIXTURES.iterdir():
        if path.suffix not in (".json", ".jsonl"):  # the image formats' pictures, zip, Parquet and their generator
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            assert all(json.loads(line) for line in text.splitlines() if line.strip())
        else:
            assert json.loads(text)


# --- ms-swift ---------------------------------------------------------------------------------------------------


def test_swift_query_response_with_history_and_system(trl_data):
    report = check("swift_query.jsonl", "sft", "swift_query", "conversational")
    first, second = report.normalised
    assert first["messages"] == msgs(("system", "You are a helpful assistant."), ("user", "What is 1 + 1?"),
                                     ("assistant", "It equals 2"), ("user", "What about adding 1?"),
                                     ("assistant", "It equals 3"))
    assert second["messages"] == msgs(("user", "Tell me tomorrow's weather"), ("assistant", "Tomorrow's weather will be sunny"))
    assert all(trl_kind(trl_data, r) == "conversational" for r in report.normalised)


def test_swift_conversation_pairs(trl_data):
    report = check("swift_conversation.jsonl", "sft", "swift_conversation", "conversational")
    first, second = report.normalised
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert first["messages"][-1] == {"role": "assistant", "content": "It equals 3"}
    assert second["messages"] == msgs(("user", "Tell me tomorrow's weather"), ("assistant", "Tomorrow's weather will be sunny"))


def test_swift_rejected_response(trl_data):
    report = check("swift_dpo.jsonl", "dpo", "swift_preference", "preference")
    first, second = report.normalised
    assert first == {"prompt": msgs(("system", "You are a useful and harmless assistant"), ("user", "Tell me tomorrow's weather")),
                     "chosen": msgs(("assistant", "Tomorrow's weather will be sunny")),
                     "rejected": msgs(("assistant", "I don't know"))}
    assert [m["role"] for m in second["prompt"]] == ["system", "user", "assistant", "user"]
    assert all(trl_kind(trl_data, r) == "preference" for r in report.normalised)
    report = check("swift_query_dpo.jsonl", "dpo", "swift_query_preference", "preference")
    assert report.normalised[0] == {"prompt": msgs(("system", "You are a helpful assistant."), ("user", "What is 1 + 1?")),
                                    "chosen": msgs(("assistant", "It equals 2")), "rejected": msgs(("assistant", "It equals 3"))}


def test_swift_kto_label(trl_data):
    report = check("swift_kto.jsonl", "kto", "messages_kto", "unpaired_preference")
    bad, good = report.normalised
    assert (bad["label"], good["label"]) == (False, True)
    assert bad["completion"] == msgs(("assistant", "I don't know"))
    assert good["prompt"][-1] == {"role": "user", "content": "What about adding 1?"}
    assert all(trl_kind(trl_data, r) == "unpaired_preference" for r in report.normalised)


def test_swift_grpo_messages_are_prompts():
    report = check("swift_grpo.jsonl", "grpo", "messages_prompt", "prompt_only")
    first, second, third = report.normalised
    assert first["prompt"][-1] == {"role": "user", "content": "Tell me tomorrow's weather"}
    assert second["solution"] == "3" and len(second["prompt"]) == 4  # other columns reach the reward functions
    assert third["prompt"] == msgs(("user", "What is your name?"))


# --- Axolotl template-free segments -------------------------------------------------------------------------------


def test_axolotl_segments():
    report = check("axolotl_segments.jsonl", "sft", "segments", "text")
    first, second = report.normalised
    assert first["text"] == "<s>Hello\nhi there!. goodbye farewell</s>"
    assert [s["label"] for s in first["segments"]] == [True, True, False, True]
    assert second["text"].endswith("Answer: Paris.")


@pytest.mark.parametrize(("segments", "field", "words"), [
    ([{"label": "maybe", "text": "x"}], "segments[0].label", "use true to train"),
    ([{"label": True, "text": None}], "segments[0].text", "write the segment's text"),
    ([{"label": False, "text": "context only"}], "segments", "nothing to learn"),
    ("text", "segments", "must be a list"),
])
def test_axolotl_segment_errors(segments, field, words):
    row, problems = normalise_record({"segments": segments}, FORMATS["segments"])
    assert row is None and problems[0][0] == field and words in problems[0][1], problems


def test_sharegpt_with_role_content_turns():
    record = {"conversations": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "system": "Be brief."}
    row, problems = normalise_record(record, FORMATS["sharegpt"])
    assert not problems and row["messages"] == msgs(("system", "Be brief."), ("user", "q"), ("assistant", "a"))
