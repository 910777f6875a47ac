"""The committed demo model: small, complete, copied into the data folder, reproducible from its script's plan."""

from __future__ import annotations

import json

from training.models.demo_model import DEMO_ARCHITECTURE, DEMO_FILES, DEMO_VOCAB_SIZE, DEMO_WEIGHTS, ensure_demo_model

MAX_MB = 10


def test_committed_weights_are_small_and_complete():
    assert all((DEMO_WEIGHTS / name).exists() for name in DEMO_FILES)
    size = sum(p.stat().st_size for p in DEMO_WEIGHTS.rglob("*") if p.is_file())
    assert size < MAX_MB * 1e6, f"{size / 1e6:.1f} MB"
    config = json.loads((DEMO_WEIGHTS / "config.json").read_text())
    assert {k: config[k] for k in DEMO_ARCHITECTURE} == DEMO_ARCHITECTURE
    assert config["vocab_size"] == DEMO_VOCAB_SIZE


def test_weights_record_the_plan_they_were_built_with():
    from dataclasses import asdict

    from training.models.demo_pretrain import PretrainPlan

    built = json.loads((DEMO_WEIGHTS / "pretraining.json").read_text())
    assert built["plan"] == asdict(PretrainPlan())  # rebuild (scripts/build_demo_model.py) after changing the plan


def test_demo_model_is_copied_into_the_data_folder(demo_model_path):
    assert demo_model_path.parent.name == "models"
    assert (demo_model_path / "model.safetensors").read_bytes() == (DEMO_WEIGHTS / "model.safetensors").read_bytes()
    assert ensure_demo_model() == demo_model_path
