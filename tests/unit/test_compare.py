"""The held-out comparison's data and the plain-words summary: held-out wordings never trained on, the
"did it learn?" sentences, the over-fitting warning and the blind A/B test (pure logic, no model)."""

from __future__ import annotations

import json

import pytest

from training.data.demo_data import DEMO_VIEWS, HELD_OUT_QUESTIONS, demo_held_out, write_demo_dataset
from training.run.compare import (
    blind_test,
    comparison_items,
    held_out_records,
    learning_summary,
    score_blind_picks,
    totals_of,
)


def test_held_out_questions_appear_in_no_training_file(tmp_path):
    records = demo_held_out()
    assert len(records) >= 10
    assert len({r["prompt"] for r in records}) == len(records)
    texts = [write_demo_dataset(tmp_path, view).read_text() for view in DEMO_VIEWS]
    for r in records:
        for text in texts:
            assert r["prompt"] not in text and json.dumps(r["prompt"]) not in text, r["prompt"]
    # Not even the wordings: no held-out template, with any place, is asked in the training rows.
    for templates in HELD_OUT_QUESTIONS.values():
        for template in templates:
            stem = template.split("{place}")[0]
            for text in texts:
                assert f'"content": "{stem}' not in text, template


def test_held_out_questions_are_not_in_the_pretraining_corpus():
    from training.models.demo_corpus import pretraining_examples

    corpus = "\n".join(pretraining_examples())
    for r in demo_held_out():
        assert r["prompt"] not in corpus
        assert r["expected"] in corpus or r["expected"][0].isupper()  # colours and animals are words it knows


def test_demo_run_uses_the_demo_held_out_questions(tmp_path):
    record = {"config": {"method": "sft", "data": {"source": "demo"}}, "system_prompt": "S"}
    records, source = held_out_records(tmp_path, record)
    assert source == "demo" and len(records) == len(demo_held_out()) and records[0]["system"] == "S"
    record["config"]["method"] = "reward"  # scores, not answers
    assert held_out_records(tmp_path, record) == ([], "none")
    (tmp_path / "eval_prompts.jsonl").write_text(json.dumps({"prompt": "p", "system": None, "reference": "r"}) + "\n")
    assert held_out_records(tmp_path, record) == ([{"prompt": "p", "system": None, "reference": "r"}], "held-out rows")


def _items():
    records = [{"prompt": "Which city is the capital of Zorbia?", "reference": "The capital of Zorbia is Plimtown.",
                "expected": "Plimtown"},
               {"prompt": "q2", "reference": "The answer is blue."},
               {"prompt": "q3", "reference": None}]
    return comparison_items(records, ["The capital of Zorbia is Brisk.", "the answer is BLUE", "x"],
                            ["The capital of Zorbia is plimtown.", "It is red.", "x"])


def test_items_have_the_promised_fields_and_marks():
    items = _items()
    assert set(items[0]) == {"prompt", "reference", "base", "tuned", "base_correct", "tuned_correct"}
    assert [(i["base_correct"], i["tuned_correct"]) for i in items] == [(False, True), (True, False), (None, None)]
    assert totals_of(items) == {"n": 3, "scored": 2, "base_correct": 1, "tuned_correct": 1}


def test_summary_in_plain_words():
    metrics = [{"step": 10, "loss": 4.0}, {"step": 20, "loss": 2.0}, {"step": 30, "loss": 1.0}]
    s = learning_summary({"metrics": metrics}, {"items": _items()})
    assert (s["loss_first"], s["loss_last"], s["loss_drop_pct"]) == (4.0, 1.0, 75.0)
    assert (s["changed"], s["improved"], s["worsened"], s["n"]) == (2, 1, 1, 3)
    assert not s["overfitting"] and s["eval_loss_last"] is None
    text = " ".join(s["lines"])
    assert "from 4.00 to 1.00 (-75 %)" in text and "2 of 3 answers" in text and "1 improved, 1 got worse" in text


@pytest.mark.parametrize(("evals", "warns"), [([1.1, 1.0, 1.05], False), ([1.1, 1.0, 1.12], False), ([1.1, 1.4, 2.0], True)])
def test_overfitting_warning_when_eval_and_train_loss_part(evals, warns):
    metrics = [{"step": s, "loss": v} for s, v in ((10, 3.0), (20, 1.0), (30, 0.9))]
    metrics += [{"step": s, "eval_loss": v} for s, v in zip((10, 20, 30), evals, strict=True)]
    s = learning_summary({"metrics": metrics})
    assert s["overfitting"] is warns
    assert ("Warning: over-fitting" in " ".join(s["lines"])) is warns
    assert s["verdict"] == ("partly" if warns else "learned")


def test_summary_says_when_nothing_was_learned():
    s = learning_summary({"metrics": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 2.1}]})
    assert s["verdict"] == "not_yet" and "did not fall" in s["lines"][1]
    assert learning_summary({})["verdict"] == "unknown"


def test_blind_test_hides_the_labels_and_reveals_after_the_pick():
    items = [{"prompt": f"q{n}", "base": f"base {n}", "tuned": f"tuned {n}", "base_correct": False,
              "tuned_correct": True} for n in range(12)]
    items.append({"prompt": "same", "base": "A", "tuned": "a", "base_correct": None, "tuned_correct": None})
    pairs, key = blind_test({"items": items}, seed=3)
    assert len(pairs) == 12 and set(key) == {p["id"] for p in pairs}
    assert all(set(p) == {"id", "prompt", "answers"} for p in pairs)  # nothing says which is which
    assert {p["answers"][key[p["id"]]].split()[0] for p in pairs} == {"tuned"}
    assert len({key[p["id"]] for p in pairs}) == 2  # both orders occur
    assert blind_test({"items": items}, seed=3) == (pairs, key)  # seeded
    picks = {p["id"]: key[p["id"]] for p in pairs[:5]} | {pairs[5]["id"]: 1 - key[pairs[5]["id"]], "nope": 0,
                                                           pairs[6]["id"]: 7}
    result = score_blind_picks(key, picks)
    assert result["picked"] == 6 and result["tuned_preferred"] == 5 and set(result["reveal"]) == set(list(picks)[:6])
