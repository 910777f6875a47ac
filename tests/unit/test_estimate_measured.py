"""Measured beats prior: a GPU dry run's or a completed run's seconds per step and peak reserved memory replace the
model's figures for the same model, method, mode and hardware (and, for memory, the same shape), and the estimate
says which it used. Also: gradient_checkpointing=auto decided from the memory model on a GPU, and the out-of-memory
suggestion with its new time and price."""

from __future__ import annotations

import json

import pytest

from training.estimate.calibration import measured_figures, record_dry_run
from training.estimate.checkpointing import fits_without_checkpointing, run_hardware
from training.estimate.grid import row_config, write_model_folder
from training.estimate.quote import estimate_run
from training.run.dry_run import DryRunReport

ROW = {"shape": "q05", "method": "sft", "peft": "lora", "batch": 16, "max_length": 1024, "gradient_checkpointing": False}


@pytest.fixture()
def q05(tmp_path):
    return write_model_folder(tmp_path / "model-q05", "q05")


def gpu_dry_run(seconds: float, peak: float, ckpt: bool = False) -> DryRunReport:
    return DryRunReport(ok=True, method="sft", peft_mode="lora", steps=3, examples=48, seconds_per_step=seconds,
                        first_step_seconds=seconds * 2, peak_memory_gb=peak, memory_kind="GPU peak reserved",
                        total_seconds=20.0, metrics=[{"step": 3, "num_tokens": 3 * 6839}], gradient_checkpointing=ckpt)


def quote(config, path, **kw):
    return estimate_run(config, rows=1000, mean_tokens=450, hardware="h100", prices=False, suggest=False,
                        calibration=path, longest_tokens=782, **kw)


def test_a_gpu_dry_run_switches_the_quote_to_measured_figures(q05, tmp_path):
    path = tmp_path / "calibration.json"
    config = row_config(ROW, q05)
    prior = quote(config, path)
    assert (prior.time_source, prior.memory_source) == ("prior", "prior") and "(prior)" in prior.summary
    entry = record_dry_run(gpu_dry_run(0.30, 29.8), config, hardware="h100", path=path)
    assert entry is not None and entry["kind"] == "dry run" and entry["peak_memory_gb"] == 29.8
    measured = quote(config, path)
    assert (measured.time_source, measured.memory_source) == ("measured", "measured")
    assert measured.gpu_memory_gb == 29.8 and measured.seconds_per_step == pytest.approx(0.30, rel=0.02)
    assert "measured" in measured.summary and measured.assumptions[0].startswith("Memory measured")
    assert any("in a dry run on h100" in a for a in measured.assumptions)
    # another shape keeps the measured time (scaled by tokens) but the memory prior
    config.train.batch_size = 8
    other = quote(config, path)
    assert other.time_source == "measured" and other.memory_source == "prior"
    # other hardware: all prior
    assert estimate_run(config, 1000, 450, "a100-large", prices=False, suggest=False, calibration=path).time_source == "prior"


def test_cpu_or_failed_dry_runs_are_not_recorded(q05, tmp_path):
    path = tmp_path / "calibration.json"
    config = row_config(ROW, q05)
    cpu = DryRunReport(ok=True, method="sft", peft_mode="lora", steps=3, examples=8, seconds_per_step=1.0,
                       first_step_seconds=2.0, peak_memory_gb=2.0, memory_kind="CPU resident (RSS)", total_seconds=9.0)
    failed = DryRunReport(ok=False, method="sft", peft_mode="lora", steps=0, examples=8, seconds_per_step=None,
                          first_step_seconds=None, peak_memory_gb=None, memory_kind="GPU peak reserved", total_seconds=1.0,
                          error="out of memory")
    assert record_dry_run(cpu, config, "h100", path) is None and record_dry_run(failed, config, "h100", path) is None
    assert not path.exists()


def test_a_finished_run_records_seconds_per_step_for_run_json():
    record = {"step": 40, "metrics": [{"step": 40, "loss": 1.0}, {"train_runtime": 10.0}]}
    assert measured_figures(record) == {"seconds_per_step": 0.25}  # no CUDA here: no peak memory
    assert measured_figures({"step": 0, "metrics": "junk"}) == {}


def test_auto_checkpointing_decided_from_the_memory_model(q05, tmp_path, monkeypatch):
    config = row_config(ROW, q05)
    config.train.gradient_checkpointing = "auto"
    # 27.5 GB without checkpointing (30.6 measured): fits an 80 GB H100 with headroom, not a 24 GB A10G
    assert fits_without_checkpointing(config, 80, True) is True
    assert fits_without_checkpointing(config, 24, True) is False
    assert fits_without_checkpointing(row_config(ROW, str(tmp_path / "nowhere")), 80, True) is None
    # on this CPU machine nothing changes: auto stays off on CPU, no memory question asked
    assert "fits_without_checkpointing" not in run_hardware(config)
    import training.estimate.checkpointing as ck

    monkeypatch.setattr(ck, "local_hardware", lambda: {"accelerator": "cuda", "name": "H100", "bf16": True,
                                                       "memory_gb": 79.2, "count": 1})
    assert run_hardware(config)["fits_without_checkpointing"] is True
    from training.recipe.resolve import resolve_run

    assert resolve_run(config.to_dict(), run_hardware(config), rows=1000).args["gradient_checkpointing"] is False
    config.train.batch_size, config.train.max_length = 64, 4096
    assert resolve_run(config.to_dict(), run_hardware(config), rows=1000).args["gradient_checkpointing"] is True


def test_out_of_memory_suggests_the_cheapest_fix_with_its_time_and_price(q05):
    config = row_config({**ROW, "peft": "full", "batch": 64, "max_length": 2048}, q05)
    est = estimate_run(config, rows=5000, mean_tokens=1500, hardware="a10g-small", prices=False, longest_tokens=2000)
    assert est.verdict == "does not fit" and est.fix is not None
    fix = est.fix
    assert fix["verdict"] != "does not fit" and fix["seconds"] > 0 and fix["cost_usd"] > 0
    assert all(alt["cost_usd"] >= fix["cost_usd"] for alt in fix["alternatives"])
    assert "It fits with" in est.summary and json.dumps(est.to_dict())
    # the estimate shows what checkpointing costs and saves
    choice = est.choices["gradient_checkpointing"]
    assert choice["on"]["gpu_memory_gb"] < choice["off"]["gpu_memory_gb"]
    assert any(a.startswith("Gradient checkpointing off: with it on") for a in est.assumptions)
