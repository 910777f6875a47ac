"""The settings reach TRL as resolved: what the trainer really gets is what run.json, the estimate and the card say."""

from __future__ import annotations

import pytest

from tests.integration.helpers import short_config

pytestmark = pytest.mark.integration


def test_new_settings_reach_the_trl_trainer(tmp_path, demo_model_path):
    from training import recipe
    from training.run.engine import runnable_config

    config = short_config(steps=4)
    t = config.train
    t.weight_decay, t.max_grad_norm, t.optimizer, t.gradient_checkpointing, t.packing = 0.05, 0.5, "adamw_torch", True, True
    t.eval_fraction = 0.25
    prepared = recipe.prepare(runnable_config(config), tmp_path, report_to_trackio=False)
    args = prepared.trainer.args
    assert (args.weight_decay, args.max_grad_norm, args.optim) == (0.05, 0.5, "adamw_torch")
    assert args.gradient_checkpointing is True and args.packing is True and args.eval_strategy == "steps"
    assert len(prepared.data.eval) == 45 and len(prepared.data.train) == 135  # 180 demo rows, a quarter held for eval
    assert prepared.resolved.summary()["gradient_checkpointing"] is True
    assert not args.bf16 and not args.fp16 and args.use_cpu  # auto precision on CPU


def test_eval_fraction_logs_eval_loss_beside_train_loss(tmp_path, demo_model_path):
    from training.run.engine import run_training

    config = short_config(steps=6)
    config.train.eval_fraction = 0.1
    record = run_training(config, tmp_path / "run", report_to_trackio=False)
    assert record["status"] == "completed", record["error"]
    evals = [m for m in record["metrics"] if "eval_loss" in m]
    assert evals and all(m["eval_loss"] > 0 for m in evals)
    assert record["resolved"]["eval_strategy"] == "steps"
    assert any("eval split" in note for note in record["notes"])


def test_auto_checkpointing_is_off_on_cpu_and_defaults_match_trl_where_unset(tmp_path, demo_model_path):
    from training import recipe
    from training.run.engine import runnable_config

    prepared = recipe.prepare(runnable_config(short_config(steps=2)), tmp_path, report_to_trackio=False)
    args = prepared.trainer.args
    assert args.gradient_checkpointing is False  # TRL's SFTConfig would default to True; auto resolves it off on CPU
    assert args.optim == "adamw_torch_fused" and args.weight_decay == 0.0 and args.max_grad_norm == 1.0
