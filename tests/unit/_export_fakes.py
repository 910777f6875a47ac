"""A fake finished run folder (no training): run.json, a LoRA adapter's final/ and metrics, for export tests."""

from __future__ import annotations

import json
from pathlib import Path

from training.config.schema import RunConfig

CANARY = "hf_CanaryTokenForExportTests123456"


def hub_config() -> RunConfig:
    config = RunConfig()
    config.model.name_or_path = "Qwen/Qwen2.5-0.5B-Instruct"
    config.data.source = "trl-lib/Capybara"
    config.train.max_steps = 100
    config.run_name = "qwen-capybara"
    return config


def fake_run(root: Path, config: RunConfig | None = None, adapter: bool = True) -> Path:
    config = config or hub_config()
    run = root / "run-1"
    final = run / "final"
    final.mkdir(parents=True)
    if adapter:
        (final / "adapter_config.json").write_text(json.dumps({"r": config.lora.r, "peft_type": "LORA"}))
        (final / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    else:
        (final / "config.json").write_text("{}")
        (final / "model.safetensors").write_bytes(b"\0" * 16)
    (final / "tokenizer_config.json").write_text("{}")
    (final / "training_args.bin").write_bytes(b"args")
    metrics = [{"step": s, "loss": 3.0 - s / 50, "learning_rate": 2e-4} for s in range(5, 105, 5)]
    metrics.append({"step": 100, "train_loss": 2.4, "train_runtime": 60.0})
    record = {"run_id": "run-1", "status": "completed", "config": config.to_dict(), "metrics": metrics,
              "train_seconds": 60.0, "error": None, "model_dir": str(final), "step": 100, "total_steps": 100,
              "system_prompt": None}
    (run / "run.json").write_text(json.dumps(record))
    return run
