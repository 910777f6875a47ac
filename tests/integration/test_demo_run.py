"""The offline demo, end to end: RunConfig.demo() trained through the RunManager, then asked questions."""

from __future__ import annotations

import json

import pytest

from .helpers import losses

pytestmark = pytest.mark.integration


def test_demo_run_completes(demo_run):
    status = demo_run.status
    assert status.state == "completed", status.error
    assert status.error is None
    assert "running" in demo_run.states_seen
    assert status.run_id == demo_run.run_id
    assert status.run_name == demo_run.run_id  # no name given: the run id names it
    assert status.step == status.total == 400
    assert status.phase == "done"


def test_demo_loss_falls(demo_run):
    values = losses(demo_run.status.metrics)
    assert len(values) >= 30  # logged every 10 of 400 steps
    assert values[-1] < 0.5 * values[0], values


def test_demo_run_json(demo_run):
    from training.config.schema import RunConfig

    record = json.loads((demo_run.output_dir / "run.json").read_text())
    assert record["status"] == "completed"
    assert record["error"] is None
    assert record["run_id"] == demo_run.run_id
    assert isinstance(record["train_seconds"], (int, float)) and record["train_seconds"] > 0
    expected = RunConfig.demo()
    expected.run_name = demo_run.run_id
    assert record["config"] == expected.to_dict()
    assert RunConfig.from_file(demo_run.output_dir / "run.json").to_dict() == expected.to_dict()
    assert isinstance(record["metrics"], list) and record["metrics"]
    assert all(isinstance(m, dict) and "step" in m for m in record["metrics"])
    assert losses(record["metrics"]) == losses(demo_run.status.metrics)
    assert record["step"] == record["total_steps"] == 400
    assert record["model_dir"] == demo_run.status.model_dir
    assert record["system_prompt"] == demo_run.status.system_prompt


def test_demo_weights_saved(demo_run):
    from pathlib import Path

    model_dir = Path(demo_run.status.model_dir)
    assert model_dir.parent == demo_run.output_dir
    assert (model_dir / "config.json").exists()
    assert list(model_dir.glob("*.safetensors"))
    assert (model_dir / "tokenizer_config.json").exists()
    assert not (model_dir / "adapter_config.json").exists()  # the demo trains all weights


def test_demo_run_in_history(demo_run):
    history = demo_run.manager.history()
    assert [r["run_id"] for r in history if r["run_id"] == demo_run.run_id] == [demo_run.run_id]


def test_tuned_model_answers_and_base_does_not(demo_run):
    from training.data.demo_data import SYSTEM_PROMPT, demo_questions
    from training.run import inference

    questions = demo_questions()
    system_prompt = demo_run.status.system_prompt
    assert system_prompt == SYSTEM_PROMPT
    tuned = [inference.generate("demo", q.question, trained_dir=demo_run.status.model_dir, system_prompt=system_prompt)
             for q in questions]
    base = [inference.generate("demo", q.question) for q in questions]
    right = sum(inference.contains_fact(a, q.expected) for a, q in zip(tuned, questions, strict=True))
    base_right = sum(inference.contains_fact(a, q.expected) for a, q in zip(base, questions, strict=True))
    assert right >= 0.8 * len(questions), list(zip([q.question for q in questions], tuned, strict=True))
    assert base_right == 0, base
    assert all(isinstance(a, str) for a in tuned + base)
