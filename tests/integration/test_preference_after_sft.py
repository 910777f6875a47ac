"""DPO and KTO visibly learn on the demo once they start from an SFT-trained demo model (SFT → DPO/KTO).

From the base demo model they mostly log their metrics: it has no preferences about the demo facts to sharpen yet.
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


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def test_dpo_after_sft_raises_margins_and_accuracy(demo_run, tmp_path):
    # Seeded and deterministic for a given SFT model (identical logs at 1 or 2 threads, idle or under load 5+),
    # but each log averages 5 batches of 8 pairs, so a small upstream change (data order, seed, the SFT model)
    # moves any single value: the last accuracy ranged 0.925-1.0 over 9 SFT x DPO seeds, and single logs of
    # 0.85 occur mid-run. So compare the mean of the last three logs (steps 20-30) with the first (step 5).
    # Over those 9 runs: margins 0.11-0.35 -> 1.39-1.85 (gain >= 1.07), rejected reward -0.34..-0.71 ->
    # -1.79..-2.71 (drop >= 1.35), accuracy 0.93-0.98. Not learning fails: at lr 1e-7, 1e-5 and 1e-4 the
    # margins reach 0.00, 0.04 and 0.42 and the rejected reward barely moves. The accuracy alone says little
    # (it is near 1 even at lr 1e-7: a tiny step in the right direction) but catches reversed preferences.
    logs = _train("dpo", demo_run.status.model_dir, tmp_path / "dpo")
    assert len(logs) == 6, logs  # steps 5, 10, ..., 30
    first, late = logs[0], logs[-3:]
    margins = [m["rewards/margins"] for m in logs]
    late_margin = _mean(m["rewards/margins"] for m in late)
    assert late_margin > max(first["rewards/margins"] + 0.5, 0.5), margins
    accuracies = [m["rewards/accuracies"] for m in logs]
    assert _mean(m["rewards/accuracies"] for m in late) >= 0.75, accuracies
    rejected = [m["rewards/rejected"] for m in logs]
    assert _mean(m["rewards/rejected"] for m in late) < first["rewards/rejected"] - 0.5, rejected


def test_kto_after_sft_separates_good_from_bad(demo_run, tmp_path):
    logs = _train("kto", demo_run.status.model_dir, tmp_path / "kto")
    # KTO's per-batch margins are noisy (few good and bad answers per batch of 8): compare halves.
    late = logs[len(logs) // 2:]
    assert sum(m["rewards/margins"] for m in late) / len(late) > 0, logs
    rejected = [m["rewards/rejected"] for m in logs if "rewards/rejected" in m]
    assert sum(rejected[len(rejected) // 2:]) / len(rejected[len(rejected) // 2:]) < rejected[0], rejected
