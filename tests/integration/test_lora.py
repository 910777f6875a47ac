"""A LoRA run on the demo model: trains, saves an adapter that peft and the inference view reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import losses

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lora_run(runs_root: Path, demo_model_path: Path) -> dict:
    from training.config.schema import RunConfig
    from training.run.engine import run_training

    config = RunConfig.demo()
    config.lora.enabled = True
    config.lora.r = 8
    config.lora.alpha = 16
    config.train.max_steps = 40
    config.train.learning_rate = 3e-3
    config.train.logging_steps = 5
    config.run_name = "it-lora"
    return run_training(config, runs_root / "it-lora", report_to_trackio=False)


def test_lora_run_completes_and_loss_falls(lora_run):
    assert lora_run["status"] == "completed", lora_run["error"]
    assert lora_run["error"] is None
    assert lora_run["step"] == lora_run["total_steps"] == 40
    values = losses(lora_run["metrics"])
    assert len(values) == 8
    assert values[-1] < values[0], values


def test_lora_adapter_saved_and_reloads_with_peft(lora_run, demo_model_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    final = Path(lora_run["model_dir"])
    assert final.name == "final"
    assert (final / "adapter_config.json").exists()
    assert list(final.glob("adapter_model.*"))
    assert not (final / "config.json").exists()  # an adapter, not full weights

    base = AutoModelForCausalLM.from_pretrained(demo_model_path)
    model = PeftModel.from_pretrained(base, str(final))
    assert model.peft_config["default"].r == 8
    lora_weights = {n: p for n, p in model.named_parameters() if "lora_B" in n}
    assert lora_weights
    assert any(p.abs().sum() > 0 for p in lora_weights.values())  # B starts at zero; training moved it
    with torch.no_grad():
        out = model(torch.tensor([[1, 2, 3]]))
    assert out.logits.shape[-1] == base.config.vocab_size


def test_lora_inference_through_app_path(lora_run):
    from training.run import inference

    prompt = "What is the capital of Zorbia?"
    answer = inference.generate("demo", prompt, trained_dir=lora_run["model_dir"],
                                system_prompt=lora_run["system_prompt"], max_new_tokens=16)
    base = inference.generate("demo", prompt, system_prompt=lora_run["system_prompt"], max_new_tokens=16)
    assert answer.strip(), "the adapter's answer is empty"
    assert answer != base, f"the adapter changed nothing: both answered {answer!r}"  # the adapter was applied
