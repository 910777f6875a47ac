"""Time, cost and memory estimates, and the hardware catalogue."""

from __future__ import annotations

import dataclasses

import pytest

from training.config import LoraSettings, ModelSettings, RunConfig, TrainSettings
from training.estimate import estimate_for_config, estimate_run, lora_trainable, model_facts
from training.hardware import CATALOGUE, detect_flavor, get_flavor, resolve_precision

QWEN_05B = "Qwen/Qwen2.5-0.5B-Instruct"
LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"


def config_for(model: str, lora: bool = True, **train) -> RunConfig:
    return RunConfig(model=ModelSettings(name_or_path=model), lora=LoraSettings(enabled=lora), train=TrainSettings(**train))


def test_demo_on_cpu_basic(demo_model_path):
    est = estimate_run(RunConfig.demo(), rows=240, mean_tokens=74, hardware="cpu-basic")
    assert est.hardware == "cpu-basic"
    assert est.seconds is not None and est.seconds > 0
    assert est.cost_usd == 0
    assert est.fits is True and est.verdict == "fits"
    assert est.steps == 400
    assert est.params == pytest.approx(917_504, rel=0.01)  # from the demo model's config.json
    assert "free" in est.summary and "CPU basic" in est.summary
    assert any("config.json" in a for a in est.assumptions)


def test_small_model_with_lora_fits_t4():
    est = estimate_run(config_for(QWEN_05B), rows=1000, mean_tokens=300, hardware="t4-small")
    assert est.verdict == "fits" and est.fits is True
    assert 0 < est.gpu_memory_gb < 16
    assert est.trainable_params < est.params / 50
    assert est.seconds > 0 and est.cost_usd > 0
    assert any("built-in table" in a for a in est.assumptions)
    assert any("fp16" in a for a in est.assumptions)  # T4 has no bf16


def test_70b_full_fine_tuning_does_not_fit_t4():
    est = estimate_run(config_for(LLAMA_70B, lora=False), rows=1000, mean_tokens=300, hardware="t4-small")
    assert est.fits is False and est.verdict == "does not fit"
    assert est.gpu_memory_gb > 16 * 10
    assert "does not fit" in est.summary


def test_unknown_model_is_unknown():
    est = estimate_run(config_for("nobody-knows/this-model-xyz"), rows=100, mean_tokens=100, hardware="t4-small")
    assert est.verdict == "unknown"
    assert est.seconds is None and est.cost_usd is None and est.gpu_memory_gb is None and est.fits is None
    assert any("unknown size" in a for a in est.assumptions)
    assert "Unknown model size" in est.summary


def test_cost_scales_with_price():
    config = config_for(QWEN_05B)
    small = estimate_run(config, rows=1000, mean_tokens=300, hardware="t4-small")
    medium = estimate_run(config, rows=1000, mean_tokens=300, hardware="t4-medium")
    assert small.seconds == medium.seconds  # same GPU
    ratio = CATALOGUE["t4-medium"].usd_per_hour / CATALOGUE["t4-small"].usd_per_hour
    assert medium.cost_usd == pytest.approx(small.cost_usd * ratio, rel=0.01)
    assert small.cost_usd == pytest.approx(small.seconds / 3600 * CATALOGUE["t4-small"].usd_per_hour, rel=0.01)


def test_faster_gpu_is_faster_and_more_data_takes_longer():
    config = config_for(QWEN_05B)
    t4 = estimate_run(config, rows=1000, mean_tokens=300, hardware="t4-small")
    h100 = estimate_run(config, rows=1000, mean_tokens=300, hardware="h100")
    assert h100.seconds < t4.seconds
    more = estimate_run(config, rows=4000, mean_tokens=300, hardware="t4-small")
    assert more.seconds > t4.seconds and more.train_tokens == pytest.approx(4 * t4.train_tokens, rel=0.01)


def test_steps_from_epochs():
    config = config_for(QWEN_05B, num_epochs=2.0, batch_size=4, grad_accum=4)
    est = estimate_run(config, rows=100, mean_tokens=50, hardware="t4-small")
    assert est.steps == 7 * 2  # ceil(100 / 16) steps per epoch
    multi = estimate_run(config, rows=100, mean_tokens=50, hardware="l4x4")  # 4 GPUs: 64 examples per step
    assert multi.steps == 2 * 2


def test_tokens_capped_at_max_length():
    config = config_for(QWEN_05B, max_length=128, max_steps=10, batch_size=2, grad_accum=1)
    est = estimate_run(config, rows=100, mean_tokens=5000, hardware="t4-small")
    assert est.train_tokens == 10 * 2 * 128


def test_lora_needs_less_memory_than_full():
    lora = estimate_run(config_for(QWEN_05B), rows=100, mean_tokens=200, hardware="a10g-small")
    full = estimate_run(config_for(QWEN_05B, lora=False), rows=100, mean_tokens=200, hardware="a10g-small")
    assert lora.gpu_memory_gb < full.gpu_memory_gb
    assert full.trainable_params == full.params


def test_lora_trainable_attention_only_is_smaller():
    facts = model_facts(QWEN_05B)
    assert lora_trainable(facts, 16, "attention") < lora_trainable(facts, 16, "all-linear")
    assert lora_trainable(facts, 32, "all-linear") == 2 * lora_trainable(facts, 16, "all-linear")


def test_unknown_hardware():
    with pytest.raises(ValueError, match="Unknown hardware 'nope'; choose one of: cpu-basic"):
        estimate_run(RunConfig(), rows=1, mean_tokens=1, hardware="nope")


def test_estimate_for_config_measures_demo_tokens(demo_model_path):
    est, report = estimate_for_config(RunConfig.demo(), "cpu-basic")
    assert report.valid and report.token_stats is not None
    assert any("measured with the model's tokenizer" in a for a in est.assumptions)
    again, same = estimate_for_config(RunConfig.demo(), "t4-small", report)
    assert same is report and again.hardware == "t4-small"


def test_estimate_for_config_without_tokenizer_guesses():
    est, report = estimate_for_config(config_for(QWEN_05B), "t4-small")  # offline: no tokenizer
    assert report.valid
    assert any("4 characters per token" in a for a in est.assumptions)
    assert est.verdict == "fits"


def test_estimate_to_dict_is_flat():
    data = estimate_run(config_for(QWEN_05B), rows=10, mean_tokens=10, hardware="t4-small").to_dict()
    assert set(data) >= {"hardware", "seconds", "cost_usd", "gpu_memory_gb", "fits", "assumptions", "summary"}


# --- hardware ---------------------------------------------------------------------------------


def test_catalogue_is_consistent():
    for name, flavor in CATALOGUE.items():
        assert flavor.name == name and flavor.usd_per_hour >= 0 and flavor.memory_gb > 0
        assert (flavor.gpu is None) == (flavor.gpu_count == 0)
    assert get_flavor("cpu-basic").usd_per_hour == 0
    assert get_flavor("l4x4").memory_gb == 4 * 24


def test_detect_flavor_from_space_hardware(monkeypatch):
    monkeypatch.setenv("SPACE_HARDWARE", "a10g-small")
    assert detect_flavor() == "a10g-small"
    monkeypatch.setenv("SPACE_HARDWARE", "not-a-flavor")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect_flavor() == "cpu-basic"


def test_gpu_precisions_fall_back_on_cpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert resolve_precision("auto") == ("fp32", None)
    precision, note = resolve_precision("bf16")
    assert precision == "fp32" and "needs a GPU" in note


def test_flavor_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOGUE["t4-small"].usd_per_hour = 0  # type: ignore[misc]
