"""Distillation on the demo: the SFT demo run is the teacher, the base demo model the student. After distilling, the
student answers more of the held-out questions (wordings no training row uses) right than before: it learned the
facts from the teacher's next-word distributions over its own answers, without ever seeing a reference answer."""

from __future__ import annotations

import pytest

from training.config.schema import RunConfig
from training.run.compare import compare_run
from training.run.engine import run_training

pytestmark = pytest.mark.integration

STEPS = 60


def test_distilling_the_sft_run_into_the_base_model_improves_held_out_answers(demo_run, tmp_path):
    config = RunConfig.demo("distill")
    config.method_args["teacher_model_name_or_path"] = demo_run.status.model_dir
    config.train.max_steps = STEPS
    record = run_training(config, tmp_path / "distill", report_to_trackio=False)
    assert record["status"] == "completed", record["error"]
    losses = [m["loss"] for m in record["metrics"] if "loss" in m]
    assert sum(losses[-3:]) / 3 < 0.8 * losses[0], losses  # the divergence to the teacher shrinks
    assert all(m["tokens_per_second"] > 0 for m in record["metrics"] if "loss" in m)
    totals = compare_run(tmp_path / "distill")["totals"]
    assert totals["n"] >= 24 and totals["tuned_correct"] >= totals["base_correct"] + 3, totals
