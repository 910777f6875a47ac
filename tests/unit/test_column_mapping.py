"""Column-mapping suggestions from synonyms, and the per-method compatibility table."""

from __future__ import annotations

import pytest

from training.data.column_mapping import compose_maps, method_compatibility, suggest_column_map, suggest_mappings
from training.methods.registry import MethodSpec


def _spec(name: str, formats: tuple[str, ...]) -> MethodSpec:
    return MethodSpec(name=name, label=name.upper(), description="", formats=formats, trainer_class="", config_class="",
                      key_metrics=())


METHODS = {"sft": _spec("sft", ("conversational", "prompt_completion", "text")), "dpo": _spec("dpo", ("preference",)),
           "kto": _spec("kto", ("unpaired_preference", "preference")), "grpo": _spec("grpo", ("prompt_only",))}


@pytest.mark.parametrize(("columns", "expected"), [
    (["question", "answer"], {"question": "prompt", "answer": "completion"}),
    (["Query", "Reply"], {"Query": "prompt", "Reply": "completion"}),
    (["instruction", "input", "response"], {"response": "output"}),
    (["prompt", "preferred", "dispreferred"], {"preferred": "chosen", "dispreferred": "rejected"}),
    (["question", "winner", "loser"], {"question": "prompt", "winner": "chosen", "loser": "rejected"}),
    (["question", "response", "is_good"], {"question": "prompt", "response": "completion", "is_good": "label"}),
    (["dialogue"], {"dialogue": "messages"}),
    (["content"], {"content": "text"}),
    (["user_input", "model answer"], {"user_input": "prompt", "model answer": "completion"}),
])
def test_suggestions_from_synonyms(columns, expected):
    suggestion = suggest_column_map(columns)
    assert suggestion is not None and suggestion.column_map == expected


def test_sharegpt_turns_are_not_renamed_to_messages():
    sample = [{"chat": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}]
    assert suggest_column_map(["chat"], sample=sample).column_map == {"chat": "conversations"}
    assert suggest_column_map(["conversations"]).column_map == {}  # already ShareGPT: nothing to rename


def test_suggestion_for_a_method_and_nothing_when_nothing_fits():
    assert suggest_column_map(["question", "answer"], accepted=("prompt_only",)).column_map == {"question": "prompt"}
    assert suggest_column_map(["id", "score"]) is None
    assert suggest_mappings([]) == []


def test_compatibility_table():
    table = {c.method: c for c in method_compatibility(["question", "good", "bad"], METHODS)}
    assert table["dpo"].status == "needs mapping"
    assert table["dpo"].column_map == {"question": "prompt", "good": "chosen", "bad": "rejected"}
    assert table["grpo"].status == "needs mapping" and table["grpo"].column_map == {"question": "prompt"}
    assert table["sft"].status == "incompatible" and "needs messages" in table["sft"].reason
    ready = {c.method: c.status for c in method_compatibility(["prompt", "chosen", "rejected"], METHODS)}
    assert ready == {"sft": "incompatible", "dpo": "ready", "kto": "ready", "grpo": "ready"}


def test_compatibility_composes_with_the_users_map():
    table = {c.method: c for c in method_compatibility(["q", "answer"], METHODS, column_map={"q": "question"})}
    assert table["sft"].status == "needs mapping"
    assert table["sft"].column_map == {"q": "prompt", "answer": "completion"}
    assert compose_maps({"q": "question"}, {"question": "prompt", "a": "completion"}) == {"q": "prompt", "a": "completion"}
