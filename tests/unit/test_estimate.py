"""Time, cost and memory estimates, and the hardware catalogue."""

from __future__ import annotations

import dataclasses

import pytest

from training.config.schema import LoraSettings, ModelSettings, RunConfig, TrainSettings
from training.estimate.hardware import CATALOGUE, detect_flavor, get_flavor
from training.estimate.quote import estimate_for_config, estimate_run, lora_trainable, model_facts
from training.recipe import resolve_precision

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
    assert est.steps == RunConfig.demo().train.max_steps
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


def test_gpu_precisions_fall_back_on_cpu_and_old_gpus():
    cpu, t4, h100 = {"accelerator": "cpu"}, {"accelerator": "cuda", "bf16": False}, {"accelerator": "cuda", "bf16": True}
    assert resolve_precision("auto", cpu) == ("fp32", None)
    precision, note = resolve_precision("bf16", cpu)
    assert precision == "fp32" and "needs a GPU" in note
    assert resolve_precision("auto", t4) == ("fp16", None) and resolve_precision("bf16", t4)[0] == "fp16"
    assert resolve_precision("auto", h100) == ("bf16", None) and resolve_precision("fp32", h100) == ("fp32", None)


def test_flavor_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOGUE["t4-small"].usd_per_hour = 0  # type: ignore[misc]


# --- issue 6: catalogue, live prices, model facts, methods, calibration, fixes -----------------

ISSUE_FLAVORS = ["cpu-basic", "cpu-upgrade", "t4-small", "t4-medium", "l4x1", "l4x4", "l40sx1", "l40sx4", "l40sx8",
                 "a10g-small", "a10g-large", "a10g-largex2", "a10g-largex4", "a100-large", "a100x4", "a100x8", "h100", "h200"]
FACTS_PRICES = {"t4-small": 0.40, "t4-medium": 0.60, "a10g-small": 1.00, "a10g-large": 1.50, "a10g-largex2": 3.00,
                "a10g-largex4": 5.00, "a100-large": 4.00, "h100": 10.00, "l40sx1": 1.80}


def test_catalogue_has_every_flavor_with_its_numbers():
    from training.estimate.hardware import PRICES_AS_OF

    assert set(ISSUE_FLAVORS) <= set(CATALOGUE)
    assert "20" in PRICES_AS_OF  # an "as of" date
    for flavor in CATALOGUE.values():
        assert flavor.price_note and flavor.label
        if flavor.is_gpu:
            assert flavor.gpu and flavor.vram_gb >= 16 and flavor.tflops_fp16 > 0 and flavor.tflops_fp32 > 0
            assert flavor.mem_bandwidth_gbs > 0 and flavor.peak_tflops("bf16") > flavor.peak_tflops("fp32")
        else:
            assert flavor.ram_gb > 0 and flavor.tflops_fp32 > 0
    for name, price in FACTS_PRICES.items():
        assert CATALOGUE[name].usd_per_hour == price
    assert CATALOGUE["t4-small"].bf16 is False and CATALOGUE["t4-small"].peak_tflops("bf16") == 65  # falls back to fp16
    assert CATALOGUE["l4x4"].device_memory_gb == 24


def test_live_prices_offline_use_the_table(monkeypatch):
    from training.estimate.hardware import live_prices

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert live_prices() is None
    est = estimate_run(config_for(QWEN_05B), rows=100, mean_tokens=100, hardware="t4-small")
    assert "table price as of" in est.price_source
    assert any("table price as of" in a for a in est.assumptions)


def test_live_prices_win_and_never_block(monkeypatch):
    import time

    import huggingface_hub

    from training.estimate import hardware

    class Info:
        def __init__(self, name, per_minute):
            self.name, self.unit_cost_usd, self.unit_label = name, per_minute, "minute"

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hardware, "_live", {"at": 0.0, "prices": None, "thread": None})
    monkeypatch.setattr(huggingface_hub, "list_jobs_hardware", lambda: [Info("t4-small", 0.01)])
    prices = hardware.live_prices(timeout=5)
    assert prices == {"t4-small": pytest.approx(0.6)}
    est = estimate_run(config_for(QWEN_05B), rows=100, mean_tokens=100, hardware="t4-small", prices=prices)
    assert est.usd_per_hour == pytest.approx(0.6) and "live price" in est.price_source

    monkeypatch.setattr(hardware, "_live", {"at": 0.0, "prices": None, "thread": None})
    monkeypatch.setattr(huggingface_hub, "list_jobs_hardware", lambda: time.sleep(3) or [])
    t0 = time.monotonic()
    assert hardware.live_prices(timeout=0.2) is None
    assert time.monotonic() - t0 < 1.5


@pytest.mark.parametrize("name", [
    "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-1.5B", "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen3-0.6B", "Qwen/Qwen3-4B",
    "Qwen/Qwen3-8B", "meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-3B-Instruct", "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.3-70B-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct",
    "HuggingFaceTB/SmolLM2-1.7B-Instruct", "google/gemma-3-270m-it", "google/gemma-3-1b-it", "google/gemma-2-2b-it",
    "mistralai/Mistral-7B-Instruct-v0.3", "microsoft/Phi-3.5-mini-instruct", "microsoft/phi-4",
])
def test_popular_models_are_in_the_table(name):
    facts = model_facts(name)
    assert facts is not None and facts.source == "built-in table"
    assert facts.layers > 0 and facts.hidden > 0 and facts.vocab > 0 and facts.kv_heads > 0


def test_table_architectures_match_their_published_sizes():
    """The architecture numbers and the published parameter count agree (checks both the table and the formula)."""
    from training.models.facts import _ARCH, facts_from_config

    for name, (layers, hidden, inter, heads, kv, head_dim, vocab, tied, params) in _ARCH.items():
        cfg = {"hidden_size": hidden, "num_hidden_layers": layers, "intermediate_size": inter, "num_attention_heads": heads,
               "num_key_value_heads": kv, "head_dim": head_dim or None, "vocab_size": vocab, "tie_word_embeddings": tied}
        computed = facts_from_config(cfg, "test").params
        assert computed == pytest.approx(params, rel=0.08), name


def test_demo_model_facts_without_writing_it(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))  # no demo model written here
    facts = model_facts("demo")
    assert facts.params == pytest.approx(917_504, rel=0.01) and "demo" in facts.source
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_qlora_and_checkpointing_trade_memory_for_time():
    config = config_for("meta-llama/Llama-3.1-8B-Instruct", max_length=2048, batch_size=4)
    lora = estimate_run(config, rows=1000, mean_tokens=1500, hardware="a10g-small", gradient_checkpointing=False, suggest=False,
                        prices=False)
    qlora = estimate_run(config, rows=1000, mean_tokens=1500, hardware="a10g-small", quantization="4bit",
                         gradient_checkpointing=False, suggest=False, prices=False)
    ckpt = estimate_run(config, rows=1000, mean_tokens=1500, hardware="a10g-small", gradient_checkpointing=True, suggest=False,
                        prices=False)
    assert qlora.memory_breakdown["weights"] < lora.memory_breakdown["weights"] / 2.5
    assert qlora.seconds > lora.seconds and any("QLoRA" in a for a in qlora.assumptions)
    assert ckpt.memory_breakdown["activations"] < lora.memory_breakdown["activations"] / 3 and ckpt.seconds > lora.seconds


def test_cheapest_fix_keeps_the_effective_batch():
    # Checkpointing forced off: with TRL's chunked LM head (no full logits), auto checkpointing alone now fits this run
    config = config_for("Qwen/Qwen2.5-1.5B-Instruct", lora=False, batch_size=16, grad_accum=1, max_length=2048,
                        gradient_checkpointing=False)
    est = estimate_run(config, rows=1000, mean_tokens=600, hardware="a10g-small", prices=False)
    assert est.verdict == "does not fit" and est.fix is not None
    s = est.fix["settings"]
    assert s["batch_size"] < 16 and s["batch_size"] * s["grad_accum"] == 16 and s["lora"] is False
    assert "same effective batch" in est.fix["change"] and est.fix["hardware"] == "a10g-small"
    config.train.batch_size, config.train.grad_accum = s["batch_size"], s["grad_accum"]
    assert estimate_run(config, rows=1000, mean_tokens=600, hardware="a10g-small", prices=False).fits  # re-run agrees
    assert "It fits with batch size" in est.summary


def test_70b_full_fix_changes_method_or_machine():
    est = estimate_run(config_for(LLAMA_70B, lora=False), rows=1000, mean_tokens=300, hardware="t4-small", prices=False)
    assert est.fits is False and est.fix is not None
    assert est.fix["verdict"] in ("fits", "tight") and est.fix["hardware"] != "t4-small"
    assert est.fix["settings"]["lora"] is True  # no flavor holds a full 70B fine-tune per GPU


def test_multi_gpu_flavors_check_memory_per_gpu():
    est = estimate_run(config_for("Qwen/Qwen2.5-14B-Instruct", lora=False), rows=100, mean_tokens=300, hardware="a10g-largex4",
                       suggest=False, prices=False)
    assert est.available_memory_gb == 24 and est.verdict == "does not fit"  # 4 x 24 GB is not one 96 GB GPU
    assert "per GPU" in est.summary


def test_method_costs_are_data():
    from training.estimate.method_costs import METHOD_COSTS, method_cost

    assert method_cost("sft") == METHOD_COSTS["sft"]
    assert method_cost("grpo").generations_per_prompt == 8
    assert "estimated like SFT" in method_cost("something-new").note
    sft = config_for(QWEN_05B, max_steps=50)
    grpo = config_for(QWEN_05B, max_steps=50)
    grpo.method = "grpo"
    a = estimate_run(sft, rows=1000, mean_tokens=100, hardware="a10g-small", prices=False)
    b = estimate_run(grpo, rows=1000, mean_tokens=100, hardware="a10g-small", prices=False)
    assert b.seconds > 3 * a.seconds and b.time_breakdown["generation"] > 0
    assert any(a_.startswith("Generation:") for a_ in b.assumptions)
    dpo = config_for(QWEN_05B, max_steps=50)
    dpo.method = "dpo"
    assert estimate_run(dpo, rows=1000, mean_tokens=100, hardware="a10g-small", prices=False).train_tokens == 2 * a.train_tokens


def test_registry_can_declare_method_costs(monkeypatch):
    from training.estimate.method_costs import method_cost
    from training.methods import registry as methods

    spec = dataclasses.replace(methods.METHODS["sft"], name="custom")
    object.__setattr__(spec, "estimate_cost", {"sequences_per_row": 3, "note": "custom"})
    monkeypatch.setitem(methods.METHODS, "custom", spec)
    assert method_cost("custom").sequences_per_row == 3


def test_calibration_is_used_and_labelled_measured(tmp_path):
    from training.estimate.calibration import find_measurement, record_measurement

    path = tmp_path / "calibration.json"
    config = config_for(QWEN_05B, max_steps=100, batch_size=4, grad_accum=4, max_length=1024)
    modelled = estimate_run(config, rows=1000, mean_tokens=300, hardware="t4-small", calibration=path, prices=False)
    assert modelled.time_source == "prior"
    record_measurement(QWEN_05B, "sft", "lora", "t4-small", 2.0, 2400, path=path, steps=50, batch_size=4, grad_accum=4,
                       max_length=1024, tokens_per_step=4800, overhead_seconds=30)
    assert find_measurement(QWEN_05B, "sft", "lora", "t4-small", path)["seconds_per_step"] == 2.0
    est = estimate_run(config, rows=1000, mean_tokens=300, hardware="t4-small", calibration=path, prices=False)
    assert est.time_source == "measured" and est.seconds == pytest.approx(100 * 2.0 + 30, rel=0.01)
    assert est.assumptions[0].startswith("Time measured") and "measured" in est.summary
    other = estimate_run(config, rows=1000, mean_tokens=300, hardware="a10g-small", calibration=path, prices=False)
    assert other.time_source == "prior"  # a measurement counts only for its own hardware
    full = config_for(QWEN_05B, lora=False, max_steps=100)
    assert estimate_run(full, rows=1000, mean_tokens=300, hardware="t4-small", calibration=path, prices=False).time_source == "prior"


def test_record_run_throughput_from_run_json(tmp_path):
    from training.estimate.calibration import find_measurement, record_run_throughput

    path = tmp_path / "calibration.json"
    record = {
        "status": "completed", "config": RunConfig.demo().to_dict(), "step": 300, "total_steps": 300, "train_seconds": 40.0,
        "started_at": "2026-06-01T10:00:00+00:00", "finished_at": "2026-06-01T10:00:43+00:00",
        "metrics": [{"step": 290, "loss": 0.5, "num_tokens": 290 * 1185.0},
                    {"step": 300, "train_runtime": 39.0, "train_steps_per_second": 7.7}],
    }
    entry = record_run_throughput(record, hardware="cpu-basic", path=path)
    assert entry["seconds_per_step"] == pytest.approx(0.13) and entry["tokens_per_step"] == pytest.approx(1185)
    assert entry["tokens_per_second"] == pytest.approx(1185 * 300 / 39.0) and entry["overhead_seconds"] == pytest.approx(3.0)
    assert find_measurement("demo", "sft", "full", "cpu-basic", path) == entry
    est = estimate_run(RunConfig.demo(), rows=240, mean_tokens=74, hardware="cpu-basic", calibration=path, prices=False)
    assert est.time_source == "measured" and est.seconds == pytest.approx(RunConfig.demo().train.max_steps * 0.13 + 3.0, rel=0.01)
    assert record_run_throughput({**record, "status": "failed"}, "cpu-basic", path) is None
    assert record_run_throughput({"status": "completed"}, "cpu-basic", path) is None
    assert record_run_throughput("garbage", "cpu-basic", path) is None  # type: ignore[arg-type]


def test_add_measurement_is_pure_and_bounded():
    from training.estimate.calibration import MEASUREMENTS_KEPT, add_measurement

    store: dict = {"measurements": {}}
    for i in range(MEASUREMENTS_KEPT + 2):
        store = add_measurement(store, "m", "sft", "lora", "t4-small", 1.0 + i)
    entries = store["measurements"]["m|sft|lora|t4-small"]
    assert len(entries) == MEASUREMENTS_KEPT and entries[0]["seconds_per_step"] == 1.0 + MEASUREMENTS_KEPT + 1
    with pytest.raises(ValueError, match="seconds_per_step"):
        add_measurement(store, "m", "sft", "lora", "t4-small", 0)


def test_this_machine_is_named(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv("SPACE_HARDWARE", raising=False)
    est = estimate_run(config_for(QWEN_05B), rows=100, mean_tokens=100, prices=False)
    assert est.hardware == "cpu-basic" and est.current and "no GPU" in est.hardware_source
    assert "this machine" in est.summary
    monkeypatch.setenv("SPACE_HARDWARE", "t4-small")
    est = estimate_run(config_for(QWEN_05B), rows=100, mean_tokens=100, prices=False)
    assert est.hardware == "t4-small" and "this Space's Nvidia T4 small" in est.summary


def test_cli_estimate_without_hardware_names_this_machine(monkeypatch, capsys, demo_model_path):
    import json

    from training.cli.main import main

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv("SPACE_HARDWARE", raising=False)
    assert main(["estimate", "--json", "--max-steps", "20"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"hardware", "seconds", "cost_usd", "gpu_memory_gb", "fits", "assumptions", "hardware_source"} <= set(data)
    assert data["hardware"] == "cpu-basic" and "no GPU" in data["hardware_source"] and data["current"] is True
    assert main(["estimate", "--json", "--all-hardware", "--max-steps", "20"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["hardware"] for r in rows} == set(CATALOGUE)


def test_record_run_throughput_after_resume_uses_train_seconds(tmp_path):
    from training.estimate.calibration import record_run_throughput

    record = {"status": "completed", "config": RunConfig.demo().to_dict(), "step": 400, "train_seconds": 80.0, "resumes": 1,
              "started_at": "2026-06-01T10:00:00+00:00", "finished_at": "2026-06-01T10:00:30+00:00",
              "metrics": [{"step": 400, "train_runtime": 20.0}]}  # the last session only
    entry = record_run_throughput(record, hardware="cpu-basic", path=tmp_path / "c.json")
    assert entry["seconds_per_step"] == pytest.approx(0.2) and entry["overhead_seconds"] is None


def test_method_settings_change_the_cost():
    from training.estimate.method_costs import method_cost

    cost = method_cost("grpo", {"num_generations": 4, "max_completion_length": 64, "beta": 0.04})
    assert (cost.generations_per_prompt, cost.completion_tokens, cost.reference_forwards) == (4, 64, 1.0)
    assert method_cost("dpo", {"beta": 0}).reference_forwards == 0


def test_qlora_needs_a_gpu():
    est = estimate_run(config_for(QWEN_05B), rows=100, mean_tokens=100, hardware="cpu-basic", quantization="4bit",
                       suggest=False, prices=False)
    assert est.verdict == "does not fit" and any("needs an NVIDIA GPU" in a for a in est.assumptions)


def test_estimate_reads_the_resolved_run():
    """The estimate assumes what the trainer will really use: auto checkpointing turns on only where the run would not
    fit without it, precision follows the hardware, and checkpoints are costed only when they are written."""
    big = config_for("meta-llama/Llama-3.1-8B-Instruct", max_length=2048, batch_size=4)
    tight = estimate_run(big, rows=1000, mean_tokens=1500, hardware="a10g-small", suggest=False, prices=False)
    assert tight.resolved["gradient_checkpointing"] is True and tight.resolved["precision"] == "bf16"
    small = config_for("Qwen/Qwen2.5-0.5B-Instruct", max_length=512, batch_size=2)
    roomy = estimate_run(small, rows=1000, mean_tokens=200, hardware="h100", suggest=False, prices=False)
    assert roomy.resolved["gradient_checkpointing"] is False
    assert any("no gradient checkpointing" in a for a in roomy.assumptions)
    cpu = estimate_run(small, rows=100, mean_tokens=200, hardware="cpu-basic", suggest=False, prices=False)
    assert cpu.resolved["precision"] == "fp32" and cpu.resolved["gradient_checkpointing"] is False
    small.train.gradient_checkpointing = True
    forced = estimate_run(small, rows=1000, mean_tokens=200, hardware="h100", suggest=False, prices=False)
    assert forced.resolved["gradient_checkpointing"] is True and forced.gpu_memory_gb < roomy.gpu_memory_gb
    small.train.max_steps, small.train.save_steps = 100, 1000
    none = estimate_run(small, rows=1000, mean_tokens=200, hardware="h100", suggest=False, prices=False)
    assert any("0 checkpoint(s)" in a for a in none.assumptions)


def test_a_paid_flavor_is_never_free_however_short_the_run():
    """A few seconds on a cheap paid flavor cost a fraction of a cent, not nothing: otherwise it ties with this
    free machine and wins "cheapest that fits" on speed (it did, with costs rounded to 4 decimals)."""
    from training.estimate.quote import plain_cost

    est = estimate_run(RunConfig.demo(), rows=16, mean_tokens=20, hardware="cpu-upgrade", prices=False)
    assert 0 < est.cost_usd < 0.01 and plain_cost(est.cost_usd) == "under $0.01"
    free = estimate_run(RunConfig.demo(), rows=16, mean_tokens=20, hardware="cpu-basic", prices=False)
    assert free.cost_usd == 0 and plain_cost(free.cost_usd) == "free"
