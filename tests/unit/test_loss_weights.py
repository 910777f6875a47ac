"""Per-message loss weights (OpenAI `weight`, LLaMA-Factory v1 `loss_weight`) and Axolotl segment labels reach the
loss mask: with the demo tokenizer, a weight-0 reply or a `label: false` segment carries no loss token."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.data.formats import FORMATS, normalise_record
from training.data.loss_weights import (
    conversation_ids_and_mask,
    dataset_has_loss_weights,
    loss_weight_plan,
    row_has_loss_weights,
    segment_ids_and_mask,
    tokenize_with_loss_weights,
)
from training.data.preview import render_example

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
SARCASTIC = {"messages": [{"role": "system", "content": "Marv is sarcastic."}, {"role": "user", "content": "Capital of France?"},
                          {"role": "assistant", "content": "Paris", "weight": 0}, {"role": "user", "content": "More sarcastic?"},
                          {"role": "assistant", "content": "Paris, as if nobody knew.", "weight": 1}]}


@pytest.fixture(scope="module")
def tokenizer(demo_model_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(demo_model_path)


def _loss_text(tokenizer, ids, mask) -> str:
    return tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])


def test_weight_0_reply_is_context_only(tokenizer):
    row, problems = normalise_record(SARCASTIC, FORMATS["messages"])
    assert not problems and row["messages"][2] == {"role": "assistant", "content": "Paris", "loss_weight": 0}
    assert row_has_loss_weights(row)
    ids, mask, note = conversation_ids_and_mask(row["messages"], tokenizer)
    assert note is None
    assert _loss_text(tokenizer, ids, mask) == "Paris, as if nobody knew.<|im_end|>"
    # the same conversation without weights trains on both replies, and the tokens are the same
    plain = [{k: v for k, v in m.items() if k != "weight"} for m in SARCASTIC["messages"]]
    plain_ids, plain_mask, _ = conversation_ids_and_mask(plain, tokenizer)
    assert plain_ids == ids and _loss_text(tokenizer, plain_ids, plain_mask) == "Paris<|im_end|>Paris, as if nobody knew.<|im_end|>"


def test_llamafactory_loss_weight_0_reply_is_context_only(tokenizer):
    record = {"messages": [{"role": "user", "content": [{"type": "text", "value": "Hi"}], "loss_weight": 0.0},
                           {"role": "assistant", "content": [{"type": "text", "value": "Hello."}], "loss_weight": 0.0},
                           {"role": "user", "content": [{"type": "text", "value": "Bye"}], "loss_weight": 0.0},
                           {"role": "assistant", "content": [{"type": "text", "value": "Bye then."}], "loss_weight": 1.0}]}
    row, problems = normalise_record(record, FORMATS["messages"])
    assert not problems
    ids, mask, _ = conversation_ids_and_mask(row["messages"], tokenizer)
    assert _loss_text(tokenizer, ids, mask) == "Bye then.<|im_end|>"


def test_segments_label_false_carries_no_loss(tokenizer):
    row, _ = normalise_record({"segments": [{"label": True, "text": "Hello\n"}, {"label": False, "text": "goodbye "},
                                            {"label": True, "text": "farewell"}]}, FORMATS["segments"])
    ids, mask = segment_ids_and_mask(row["segments"], tokenizer)
    assert tokenizer.decode(ids) == "Hello\ngoodbye farewell"  # joined as written: no special tokens added
    assert _loss_text(tokenizer, ids, mask) == "Hello\nfarewell"
    assert tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if not m]) == "goodbye "


def test_preview_shows_what_the_trainer_trains_on(tokenizer):
    row, _ = normalise_record(SARCASTIC, FORMATS["messages"])
    (part,) = render_example(row, tokenizer).parts
    assert "".join(s.text for s in part.spans if s.loss) == "Paris, as if nobody knew.<|im_end|>"
    segments, _ = normalise_record({"segments": [{"label": False, "text": "Q: 2+2? A: "}, {"label": True, "text": "4"}]},
                                   FORMATS["segments"])
    (part,) = render_example(segments, tokenizer).parts
    assert "".join(s.text for s in part.spans if s.loss) == "4"


def test_dataset_is_pretokenised_with_the_mask_trl_turns_into_labels(tokenizer):
    from training.recipe.data import load_source, normalise_dataset

    dataset, _ = normalise_dataset(load_source(str(FIXTURES / "openai_chat.jsonl")), "sft")
    assert dataset_has_loss_weights(dataset)
    go, template, note = loss_weight_plan(dataset, tokenizer, "sft", answers_only=True, masks_supported=True)
    assert go and template is None and note is None  # the demo template has {% generation %}
    out, notes = tokenize_with_loss_weights(dataset, tokenizer, template)
    assert notes == [] and set(out.column_names) == {"messages", "input_ids", "assistant_masks"}
    first = out[0]
    assert _loss_text(tokenizer, first["input_ids"], first["assistant_masks"]) == \
        "Paris, as if everyone doesn't know that already.<|im_end|>"
    plain, _ = normalise_dataset(load_source(str(FIXTURES / "llamafactory_kto.json")), "sft")
    assert not dataset_has_loss_weights(plain)


def test_without_answers_only_loss_weights_are_not_honoured_and_a_note_says_so(tokenizer):
    from training.recipe.data import load_source, normalise_dataset

    dataset, _ = normalise_dataset(load_source(str(FIXTURES / "openai_chat.jsonl")), "sft")
    go, _, note = loss_weight_plan(dataset, tokenizer, "sft", answers_only=True, masks_supported=False)
    assert not go and "does not mark assistant turns" in note and "trained on like the others" in note
    go, _, note = loss_weight_plan(dataset, tokenizer, "sft", answers_only=False, masks_supported=True)
    assert not go and "loss on answers only is off" in note
