"""Continued pretraining on a plain .txt file (issue 23 point 9): the demo model trains on a wiki-like text file as
language modelling, every line a `text` row, and its loss falls."""

from __future__ import annotations

from pathlib import Path

import pytest

WIKI = Path(__file__).resolve().parents[1] / "fixtures" / "text" / "wiki_like.txt"


@pytest.mark.integration
def test_demo_model_trains_on_a_txt_file(tmp_path):
    from training.config.schema import RunConfig
    from training.run.engine import run_training

    config = RunConfig.demo("sft")
    config.data.source = str(WIKI)
    config.data.text_unit = "line"
    config.train.max_steps = 12
    config.train.logging_steps = 4
    config.train.batch_size = 8
    record = run_training(config, tmp_path / "run", report_to_trackio=False)
    assert record["status"] == "completed", record["error"]
    losses = [m["loss"] for m in record["metrics"] if isinstance(m.get("loss"), (int, float))]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
