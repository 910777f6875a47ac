"""Held-out evaluation rows: which rows, how many, the prompts and references written, the score."""

from __future__ import annotations

import pytest

from training.config.schema import RunConfig, validate_config
from training.recipe import eval_record, split_eval_indices
from training.run.holdout import resolved_eval_rows, score_answer


def test_split_is_deterministic_capped_and_disjoint():
    train, held = split_eval_indices(100, 5, 42)
    assert len(held) == 5 and len(train) == 95
    assert split_eval_indices(100, 5, 42) == (train, held)
    assert split_eval_indices(100, 5, 7)[1] != held
    assert not set(held) & set(train)
    assert len(split_eval_indices(20, 5, 42)[1]) == 2  # at most a tenth of the rows
    assert split_eval_indices(9, 5, 42) == (list(range(9)), [])
    assert split_eval_indices(100, 0, 42) == (list(range(100)), [])


def test_default_rows_demo_zero_else_five():
    assert resolved_eval_rows(RunConfig.demo()) == 0
    config = RunConfig()
    config.data.source = "me/data"
    assert resolved_eval_rows(config) == 5
    config.data.eval_rows = 12
    assert resolved_eval_rows(config) == 12
    config.data.eval_rows = -1
    assert any(name == "data.eval_rows" for name, _ in validate_config(config))


@pytest.mark.parametrize("row, expected", [
    ({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q?"},
                   {"role": "assistant", "content": "A."}]}, {"prompt": "Q?", "system": "S", "reference": "A."}),
    ({"prompt": "Q?", "completion": "A."}, {"prompt": "Q?", "system": None, "reference": "A."}),
    ({"prompt": [{"role": "user", "content": "Q?"}], "chosen": [{"role": "assistant", "content": "good"}],
      "rejected": [{"role": "assistant", "content": "bad"}]}, {"prompt": "Q?", "system": None, "reference": "good"}),
    ({"prompt": "Q?", "answer": 42}, {"prompt": "Q?", "system": None, "reference": "42"}),
    ({"prompt": "Q?", "completion": "wrong", "label": False}, {"prompt": "Q?", "system": None, "reference": None}),
])
def test_eval_record_per_format(row, expected):
    assert eval_record(row) == expected


def test_text_rows_have_no_prompt():
    assert eval_record({"text": "just text"}) is None


def test_score_exact_and_contains():
    assert score_answer("The capital is Plimtown.", "the capital is plimtown") == {"exact": True, "contains": True}
    assert score_answer("I think it is Plimtown, yes", "Plimtown") == {"exact": False, "contains": True}
    assert score_answer("No idea", "Plimtown") == {"exact": False, "contains": False}
    assert score_answer("anything", None) == {"exact": None, "contains": None}
