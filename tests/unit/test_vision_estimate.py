"""The estimate's image side, checked without a GPU: the vision tower's parameters against the demo VLM's real
modules, its activation bytes against what autograd really saves in a CPU forward pass, and a quote for the demo
VLM that counts the tower (weights always; gradients, optimizer states and activations only when it trains)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def demo_vlm(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(tmp_path_factory.mktemp("data")))
        from training.models.demo_vision import ensure_demo_vision_model
        from training.models.vision_model import load_vision_model

        path = ensure_demo_vision_model()
        yield path, load_vision_model(str(path))


def test_tower_and_projector_parameters_match_the_model(demo_vlm):
    from training.estimate.vision_costs import vision_facts_from_config
    from training.models.vision_model import count_parameters

    path, model = demo_vlm
    facts = vision_facts_from_config(json.loads((path / "config.json").read_text()))
    counts = count_parameters(model)
    assert facts.tower_params == counts["tower"]
    assert facts.projector_params == counts["projector"]


def test_tower_activation_bytes_match_what_autograd_saves(demo_vlm):
    import torch

    from training.estimate.vision_costs import tower_activation_bytes, vision_facts_from_config

    path, model = demo_vlm
    facts = vision_facts_from_config(json.loads((path / "config.json").read_text()))
    tower = model.model.vision_tower
    weights = {p.untyped_storage().data_ptr() for p in tower.parameters()}
    saved: dict[int, int] = {}

    def keep(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in weights:
            saved[ptr] = t.untyped_storage().nbytes()
        return t

    pixels = torch.randn(8, 3, 40, 40)
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        tower(pixel_values=pixels)
    measured, modelled = sum(saved.values()), tower_activation_bytes(facts, "fp32", 8)
    assert modelled == pytest.approx(measured, rel=0.2), (measured, modelled)


def test_the_quote_counts_the_vision_tower(demo_vlm, monkeypatch):
    from training.config.schema import RunConfig
    from training.estimate.quote import estimate_run

    path, _ = demo_vlm
    config = RunConfig.demo("sft", vision=True)
    config.model.name_or_path = str(path)
    frozen = estimate_run(config, 120, 60.0, "cpu-basic", use_measurements=False, prices=False, suggest=False)
    assert frozen.params == pytest.approx(1_024_704, rel=0.002)  # language model + tower + projector (norms aside)
    assert frozen.memory_breakdown["vision_weights"] > 0 and "vision_activations" not in frozen.memory_breakdown
    assert any(a.startswith("Vision tower: 0.08M parameters") for a in frozen.assumptions)
    config.model.vision_tower = "train"
    trained = estimate_run(config, 120, 60.0, "cpu-basic", use_measurements=False, prices=False, suggest=False)
    assert trained.memory_breakdown["vision_activations"] > 0
    assert trained.seconds > frozen.seconds
