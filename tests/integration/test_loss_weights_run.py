"""SFT really trains the demo model on files whose rows carry loss weights, and the trainer's labels leave out
what the file says not to learn: an OpenAI weight-0 reply, an Axolotl `label: false` segment."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def _openai_rows(n: int) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                          {"role": "assistant", "content": "Not telling.", "weight": 0},
                          {"role": "user", "content": "Please?"},
                          {"role": "assistant", "content": f"It is {2 * i}.", "weight": 1}]} for i in range(n)]


def _segment_rows(n: int) -> list[dict]:
    return [{"segments": [{"label": False, "text": f"Question: what is {i} plus {i}?\nAnswer: "},
                          {"label": True, "text": f"{2 * i}.<|im_end|>"}]} for i in range(n)]


@pytest.mark.parametrize(("rows", "trained", "untrained"), [
    (_openai_rows(12), "It is", "Not telling."),
    (_segment_rows(12), ".<|im_end|>", "Question:"),
])
def test_sft_trains_with_loss_weights_in_the_labels(tmp_path, demo_model_path, rows, trained, untrained):
    from training.config.schema import RunConfig
    from training.recipe.train import prepare
    from training.run.engine import runnable_config

    path = tmp_path / "weighted.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = RunConfig.demo("sft")
    config.data.source = str(path)
    config.train.max_steps = 2
    config.train.logging_steps = 1
    out = tmp_path / "run"
    out.mkdir()
    prepared = prepare(runnable_config(config), out, report_to_trackio=False, checkpoints=False)
    assert any("loss weights" in n for n in prepared.notes), prepared.notes
    tokenizer, dataset = prepared.tokenizer, prepared.trainer.train_dataset
    assert "labels" in dataset.column_names
    for example in dataset.select(range(3)):
        learned = tokenizer.decode([t for t in example["labels"] if t != -100])
        assert trained in learned and untrained not in learned, learned
        assert untrained in tokenizer.decode(example["input_ids"])  # still there, as context
    result = prepared.trainer.train()
    assert result.global_step == 2 and result.training_loss > 0
