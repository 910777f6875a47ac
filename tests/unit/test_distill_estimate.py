"""Distillation in the estimate: the teacher's weights are held beside the student's, and its forward pass over every
answer costs in proportion to its size; a finished run named as teacher resolves to its weights."""

from __future__ import annotations

import json

import pytest

from training.config.schema import RunConfig
from training.estimate.grid import write_model_folder
from training.estimate.method_costs import method_cost
from training.estimate.quote import estimate_run
from training.models.facts import model_facts


def _distill(student: str, teacher: str) -> RunConfig:
    config = RunConfig.demo("distill")
    config.model.name_or_path = student
    config.method_args["teacher_model_name_or_path"] = teacher
    config.train.max_steps = 50
    return config


def test_a_larger_teacher_costs_memory_and_forward_passes(tmp_path):
    small, large = write_model_folder(tmp_path / "q05", "q05"), write_model_folder(tmp_path / "q3", "q3")
    s, t = model_facts(small), model_facts(large)
    cost = method_cost("distill", {"teacher_model_name_or_path": large}, s)
    assert cost.teacher_params == t.params and cost.reference_forwards == t.compute_params / s.compute_params > 4
    assert "teacher" in cost.note and cost.generations_per_prompt == 1
    same = estimate_run(_distill(small, small), 1000, 60, "a100-large", prices=False, use_measurements=False, suggest=False)
    big = estimate_run(_distill(small, large), 1000, 60, "a100-large", prices=False, use_measurements=False, suggest=False)
    # the 3B teacher's bf16 weights (about 6 GB) come on top of the student's run; its forward passes take time
    assert big.gpu_memory_gb - same.gpu_memory_gb > 2 * (t.params - s.params) / 1e9 * 0.95
    assert big.seconds > same.seconds


def test_a_finished_run_is_a_teacher(tmp_path, monkeypatch):
    from training.models.loading import ModelLoadError
    from training.run.teacher import resolve_teacher

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    from training.hosting.paths import runs_dir

    run = runs_dir() / "sft-run"
    (run / "final").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": "completed", "model_dir": str(run / "final")}))
    assert resolve_teacher("sft-run") == str(run / "final")
    (runs_dir() / "failed-run").mkdir()
    (runs_dir() / "failed-run" / "run.json").write_text(json.dumps({"status": "failed", "model_dir": None}))
    with pytest.raises(ModelLoadError, match="teacher_model_name_or_path: run failed-run has no saved weights"):
        resolve_teacher("failed-run")


def test_an_unreachable_teacher_is_refused_before_a_run_exists(monkeypatch, demo_model_path):
    from training.config.schema import ConfigError
    from training.run.engine import preflight

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = RunConfig.demo("distill")
    config.method_args["teacher_model_name_or_path"] = "nobody/no-such-teacher"
    with pytest.raises(ConfigError) as err:
        preflight(config)
    assert [name for name, _ in err.value.problems] == ["method_args.teacher_model_name_or_path"]
    assert "offline" in str(err.value)
    config.method_args["teacher_model_name_or_path"] = "demo"
    preflight(config)  # `demo` (or any model folder) is a teacher


def test_the_cli_reads_dpo_loss_combinations():
    from training.cli.main import build_parser, config_from_args

    args = build_parser().parse_args(["train", "--method", "dpo", "--dataset", "demo", "--method-arg", "loss_type=sigmoid,sft",
                                      "--method-arg", "loss_weights=1,0.5", "--output-dir", "x"])
    config = config_from_args(args)
    assert config.method_args["loss_type"] == ["sigmoid", "sft"] and config.method_args["loss_weights"] == [1.0, 0.5]
