"""DPO and KTO visibly learn on the demo once they start from an SFT-trained demo model (SFT → DPO/KTO).

From the random-init demo model they only log their metrics: it has no preferences to sharpen yet.
"""

from __future__ import annotations

import pytest

from training.config.schema import RunConfig
from training.run.engine import run_training

pytestmark = pytest.mark.integration


def _train(method: str, model_dir: str, out) -> list[dict]:
    config = RunConfig.demo()
    config.method = method
    config.model.name_or_path = model_dir
    config.train.max_steps = 30
    config.train.learning_rate = 1e-3
    config.train.batch_size = 8
    config.train.logging_steps = 5
    record = run_training(config, out, report_to_trackio=False)
    assert record["status"] == "completed", record["error"]
    return [m for m in record["metrics"] if "rewards/margins" in m]


def test_dpo_after_sft_raises_margins_and_accuracy(demo_run, tmp_path):
    logs = _train("dpo", demo_run.status.model_dir, tmp_path / "dpo")
    margins = [m["rewards/margins"] for m in logs]
    assert margins[-1] > margins[0] and margins[-1] > 0, margins
    assert logs[-1]["rewards/accuracies"] >= 0.9, logs[-1]


def test_kto_after_sft_separates_good_from_bad(demo_run, tmp_path):
    logs = _train("kto", demo_run.status.model_dir, tmp_path / "kto")
    # KTO's per-batch margins are noisy (few good and bad answers per batch of 8): compare halves.
    late = logs[len(logs) // 2:]
    assert sum(m["rewards/margins"] for m in late) / len(late) > 0, logs
    rejected = [m["rewards/rejected"] for m in logs if "rewards/rejected" in m]
    assert sum(rejected[len(rejected) // 2:]) / len(rejected[len(rejected) // 2:]) < rejected[0], rejected
