"""Parts of the GPU time quote beyond the training step: evaluation passes, GRPO's token-by-token generation, the
real (truncated, padded) token counts, packing, and gradient accumulation."""

from __future__ import annotations

import pytest

from training.estimate.grid import row_config, write_model_folder
from training.estimate.quote import estimate_run
from training.estimate.tokens import padded_length, truncated_mean

ROW = {"shape": "q05", "method": "sft", "peft": "lora", "batch": 8, "max_length": 1024, "gradient_checkpointing": False}
STATS = {"max_tokens": 782, "max_length": 1024, "rows": 3000, "total_tokens": 1360146, "mean_tokens": 453.4,
         "histogram": {"bin_width": 52, "counts": [0, 0, 3, 68, 150, 212, 239, 198, 177, 222, 194, 215, 180, 101, 40, 1, 0, 0, 0, 0]}}


@pytest.fixture()
def config(tmp_path):
    return row_config(ROW, write_model_folder(tmp_path / "model-q05", "q05"))


def quote(config, **kw):
    return estimate_run(config, rows=1000, mean_tokens=453.4, hardware="h100", prices=False, suggest=False,
                        use_measurements=False, token_stats=STATS, **kw)


def test_padding_grows_with_the_batch_and_truncation_cuts_the_mean():
    assert truncated_mean(STATS, 453.4, 1024) == pytest.approx(453.4, rel=0.01)
    assert truncated_mean({**STATS, "max_length": 512, "total_tokens": 1243460}, 453.4, 512) == pytest.approx(414.5, rel=0.01)
    assert truncated_mean(None, 900, 512) == 512
    lengths = [padded_length(STATS, 453.4, 1024, b) for b in (1, 2, 8, 16)]
    assert lengths == sorted(lengths) and lengths[-1] < 782  # E[longest of 16] stays under the longest example
    assert padded_length(STATS, 453.4, 512, 16) <= 512


def test_evaluation_passes_are_counted(config):
    config.train.max_steps = 100
    plain = quote(config)
    config.train.eval_fraction = 0.1
    with_eval = quote(config)
    assert plain.time_breakdown["evaluation"] == 0 and with_eval.time_breakdown["evaluation"] > 0
    assert any(a.startswith("Evaluation: 20 pass(es) x 100 rows") for a in with_eval.assumptions)


def test_grpo_generation_is_tokens_times_decode_latency(config):
    config.method = "grpo"
    config.method_args = {"num_generations": 8, "max_completion_length": 256}
    config.train.grad_accum = 4
    est = quote(config)
    line = next(a for a in est.assumptions if a.startswith("Generation:"))
    assert "256 tokens x 32 completions" in line and "ms per generated token" in line
    # 24 decoder layers with unmerged LoRA: about 0.1 s per generated token, 256 of them per step
    assert 15 < est.time_breakdown["generation"] / est.steps < 60
    assert est.time_breakdown["generation"] > 10 * est.time_breakdown["training"]


def test_accumulation_and_packing(config):
    one = quote(config)
    config.train.grad_accum = 4
    four = quote(config)
    assert four.seconds_per_step == pytest.approx(4 * one.seconds_per_step, rel=0.01)
    config.train.grad_accum, config.train.packing = 1, True
    packed = quote(config)
    # packing fills 1024-token sequences with whole examples: fewer steps for the same rows, longer steps
    config.train.max_steps = -1
    config.train.packing = False
    epoch = quote(config)
    config.train.packing = True
    packed_epoch = quote(config)
    assert packed_epoch.steps < epoch.steps and packed.seconds_per_step > one.seconds_per_step
