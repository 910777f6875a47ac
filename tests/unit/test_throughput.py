"""Live throughput: tokens per second and MFU from TRL's token count and the estimate's FLOPs per token."""

from __future__ import annotations

import time

import pytest

from training.config.schema import RunConfig
from training.estimate.speed import training_flops_per_token
from training.models.facts import model_facts
from training.run.throughput import flops_per_token, peak_flops, throughput_callback


def test_flops_per_token_are_the_estimates(demo_model_path):
    config = RunConfig.demo()
    facts = model_facts("demo")
    assert flops_per_token(config, "fp32") == training_flops_per_token(facts, False, False, 128.0, 0.0)
    dpo = RunConfig.demo("dpo")  # the reference model's forward pass is work the method needs
    assert flops_per_token(dpo, "fp32") == pytest.approx(training_flops_per_token(facts, False, False, 128.0, 1.0))
    assert flops_per_token(dpo, "fp32") > flops_per_token(config, "fp32")


def test_peak_is_the_catalogues(monkeypatch):
    monkeypatch.setenv("SPACE_HARDWARE", "a100x4")
    assert peak_flops("bf16", processes=4) == (4 * 312e12, "a100x4")
    monkeypatch.setenv("SPACE_HARDWARE", "cpu-basic")
    assert peak_flops("fp32", processes=2) == (0.16e12, "cpu-basic")


def test_each_log_gets_tokens_per_second_and_mfu():
    callback = throughput_callback(flops=6e6, peak=1e12, gpu=False)
    callback.on_train_begin(None, None, None)
    time.sleep(0.2)
    logs = {"loss": 1.0, "num_tokens": 2000.0}
    callback.on_log(None, None, None, logs=logs)
    seconds = 2000.0 / logs["tokens_per_second"]
    assert 0.2 <= seconds < 5
    assert logs["mfu"] == pytest.approx(logs["tokens_per_second"] * 6e6 / 1e12, rel=1e-3)
    time.sleep(0.1)
    later = {"loss": 0.9, "num_tokens": 2500.0}  # the rate is over the tokens since the previous log only
    callback.on_log(None, None, None, logs=later)
    assert 500.0 / later["tokens_per_second"] < seconds
    eval_logs = {"eval_loss": 1.2}
    callback.on_log(None, None, None, logs=eval_logs)
    assert eval_logs == {"eval_loss": 1.2}


def test_the_status_line_shows_throughput():
    from components.run_panels import render_status
    from training.run.manager import RunStatus

    metrics = {"step": 10, "loss": 1.5, "tokens_per_second": 1234.5, "mfu": 0.0123}
    text = render_status(RunStatus(state="running", run_id="r1", last_metrics=metrics))
    assert "1,234" in text and "1.23%" in text and "tokens/s" in text and "GPU" not in text
    text = render_status(RunStatus(state="running", run_id="r1", last_metrics={**metrics, "peak_reserved_gb": 7.25}))
    assert "7.2 GB" in text
