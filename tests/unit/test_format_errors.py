"""A bad row in each format family is reported at its row (1-based, as an editor counts lines), naming the field,
what was found and what is expected; a row of another known format in a mixed file says which format it reads as."""

from __future__ import annotations

import json

import pytest

from training.data.validation import validate_dataset


def chat(*turns):
    return [{"role": r, "content": c} for r, c in turns]


QA = chat(("user", "q"), ("assistant", "a"))
GPT = [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]

# (method, a good row, a bad row, the field named, words of the message)
FAMILIES = {
    "messages": ("sft", {"messages": QA}, {"messages": chat(("user", "q"), ("user", "again"))}, "messages[1].role",
                 "two user messages in a row"),
    "text": ("sft", {"text": "hello"}, {"text": 42}, "text", "must be text, got int"),
    "prompt_completion": ("sft", {"prompt": "p", "completion": "c"}, {"prompt": "p", "completion": "  "}, "completion",
                          "is empty"),
    "preference": ("dpo", {"prompt": "p", "chosen": "c", "rejected": "r"}, {"prompt": "p", "chosen": "c", "rejected": None},
                   "rejected", "is missing or null"),
    "unpaired_preference": ("kto", {"prompt": "p", "completion": "c", "label": True},
                            {"prompt": "p", "completion": "c", "label": "maybe"}, "label", "must be true"),
    "prompt_only": ("grpo", {"prompt": "p"}, {"prompt": ["p"]}, "prompt[0]", "must be an object with role and content"),
    "sharegpt": ("sft", {"conversations": GPT}, {"conversations": [{"from": "alien", "value": "q"}]}, "conversations[0].from",
                 "'alien'"),
    "sharegpt_preference": ("dpo", {"conversations": GPT[:1], "chosen": {"from": "gpt", "value": "a"},
                                    "rejected": {"from": "gpt", "value": "b"}},
                            {"conversations": GPT, "chosen": {"from": "gpt", "value": "a"}, "rejected": {"from": "gpt", "value": "b"}},
                            "conversations", "ends on a assistant message"),
    "sharegpt_kto": ("kto", {"conversations": GPT, "kto_tag": True}, {"conversations": GPT, "kto_tag": "meh"}, "kto_tag",
                     "must be true"),
    "messages_preference": ("dpo", {"chosen_messages": QA, "rejected_messages": chat(("user", "q"), ("assistant", "b"))},
                            {"chosen_messages": QA, "rejected_messages": chat(("user", "q"))}, "rejected_messages",
                            "no assistant message"),
    "alpaca": ("sft", {"instruction": "i", "output": "o"}, {"instruction": "i", "output": "o", "history": [["q"]]},
               "history[0]", "must be a pair"),
    "openai_chat": ("sft", {"messages": QA}, {"messages": [QA[0], {**QA[1], "weight": "yes"}]}, "messages[1].weight",
                    "must be a number"),
    "openai_preference": ("dpo", {"input": {"messages": QA[:1]}, "preferred_output": QA[1:], "non_preferred_output": QA[1:]},
                          {"input": {"messages": QA[:1]}, "preferred_output": QA[1:], "non_preferred_output": QA[:1]},
                          "non_preferred_output", "should end with the assistant's reply"),
    "swift_query": ("sft", {"query": "q", "response": "r"}, {"query": "q", "response": "r", "history": "none"}, "history",
                    "must be a list of [instruction, response] pairs"),
    "swift_preference": ("dpo", {"messages": QA, "rejected_response": "no"}, {"messages": QA, "rejected_response": ["no"]},
                         "rejected_response", "must be text"),
    "swift_conversation": ("sft", {"conversation": [{"human": "q", "assistant": "a"}]},
                           {"conversation": [{"human": "q", "assistant": "a"}, {"human": "", "assistant": "b"}]},
                           "conversation[1].human", "empty"),
    "segments": ("sft", {"segments": [{"label": True, "text": "t"}]}, {"segments": [{"label": 2, "text": "t"}]},
                 "segments[0].label", "use true to train"),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bad_row_is_reported_at_its_line(tmp_path, family):
    method, good, bad, field, words = FAMILIES[family]
    path = tmp_path / f"{family}.jsonl"
    # line 3 is blank, so the bad row is on line 5 of the file (4 rows before it counting the blank one)
    lines = [json.dumps(good), json.dumps(good), "", json.dumps(good), json.dumps(bad), json.dumps(good)]
    path.write_text("\n".join(lines) + "\n")
    report = validate_dataset(str(path), method)
    assert not report.valid and report.error_count >= 1 and report.usable_rows == 4, report.errors
    first = report.errors[0]
    assert (first.row, first.field) == (5, field), report.errors
    assert words in first.message, first.message


def test_csv_rows_count_the_header_line(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text('prompt,completion\np1,c1\n"p2\nspans two lines",c2\np3,\np4,c4\n')
    report = validate_dataset(str(path), "sft")
    assert [(e.row, e.field) for e in report.errors] == [(5, "completion")], report.errors
    assert report.rows == 4 and report.usable_rows == 3


def test_a_row_of_another_format_in_a_mixed_file_says_which(tmp_path):
    path = tmp_path / "mixed.jsonl"
    rows = [{"messages": QA}, {"messages": QA}, {"conversations": GPT}, {"instruction": "i", "output": "o"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = validate_dataset(str(path), "sft")
    assert report.format == "messages"
    (sharegpt, alpaca) = report.errors
    assert (sharegpt.row, sharegpt.field) == (3, "messages") and "ShareGPT conversations" in sharegpt.message
    assert (alpaca.row, alpaca.field) == (4, "messages") and "Alpaca" in alpaca.message


def test_sharegpt_turns_under_messages_name_the_fix():
    from training.data.formats import FORMATS, normalise_record

    _, problems = normalise_record({"messages": GPT}, FORMATS["messages"])
    assert problems[0][0] == "messages[0].role" and "name the column conversations" in problems[0][1]


def test_compatibility_reads_the_rows_not_only_the_column_names():
    from training.data.column_mapping import method_compatibility

    finished = [{"messages": QA}]  # ends on the reply: SFT data, not GRPO prompts
    prompts = [{"messages": QA[:1]}]  # ends on the user's turn: GRPO prompts, not SFT data
    status = {c.method: (c.status, c.reason) for c in method_compatibility(["messages"], sample=finished)}
    assert status["sft"][0] == "ready" and status["grpo"][0] == "incompatible" and "ends on a assistant" in status["grpo"][1]
    status = {c.method: c.status for c in method_compatibility(["messages"], sample=prompts)}
    assert (status["sft"], status["grpo"]) == ("incompatible", "ready")


@pytest.mark.parametrize("weight", [3, 0.5, -1, 2.0])
def test_openai_weight_other_than_0_or_1_is_refused_at_its_row_and_field(tmp_path, weight):
    """OpenAI's per-message `weight` is 0 or 1; anything else is an error naming the row and the message's field
    (LLaMA-Factory's `loss_weight` may take other non-negative values)."""
    ok = {"messages": [*QA[:1], {**QA[1], "weight": 1}]}
    bad = {"messages": [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2", "weight": weight}]}
    path = tmp_path / "openai.jsonl"
    context = {"messages": [*QA[:1], {**QA[1], "weight": 0.0}, {"role": "user", "content": "q3"},
                            {"role": "assistant", "content": "a3", "weight": 1.0}]}
    path.write_text("\n".join(json.dumps(r) for r in (ok, context, bad)) + "\n")
    report = validate_dataset(str(path), "sft")
    assert not report.valid and report.error_count == 1
    error = report.errors[0]
    assert (error.row, error.field) == (3, "messages[1].weight") and "0" in error.message and "1" in error.message, error
    lf = tmp_path / "llamafactory.jsonl"
    lf.write_text(json.dumps({"messages": [{"role": "user", "content": "q"},
                                           {"role": "assistant", "content": "a", "loss_weight": 0.5}]}) + "\n")
    assert validate_dataset(str(lf), "sft").valid
