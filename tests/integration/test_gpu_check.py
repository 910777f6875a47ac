"""`scripts/gpu_check.sh --smoke`: the prepared GPU check runs every section on CPU at toy size, so it cannot rot
before a GPU is lent. It must exit 0 and write a JSONL with a line for each grid row it reached, every method with
LoRA, QLoRA and full (measured, or skipped with the reason), DDP (and FSDP skipped without 2 GPUs), and the demo run
started and finished through the app's API with its logged throughput."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from training.methods.registry import method_names

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_smoke(tmp_path):
    out = tmp_path / "check.jsonl"
    env = dict(os.environ, DATA_DIR=str(tmp_path / "data"), TMPDIR=str(tmp_path), HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    env.pop("TRACKIO_DIR", None)
    proc = subprocess.run(["bash", "scripts/gpu_check.sh", "--smoke", "--out", str(out), "--work", str(tmp_path / "work")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    shown = f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, shown
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    by = {(x["check"], x["name"]): x for x in lines}
    assert all(x["smoke"] for x in lines)
    grid = [x for x in lines if x["check"] == "grid"]
    assert len(grid) == 1 and all(x["ok"] and x["memory_ratio"] and x["time_ratio"] for x in grid), grid
    for method in method_names():
        for peft in ("lora", "qlora", "full"):
            assert (("methods", f"{method} {peft}")) in by, (method, peft)
        assert by[("methods", f"{method} lora")]["ok"], by[("methods", f"{method} lora")]
        assert by[("methods", f"{method} lora")]["tokens_per_second"] > 0
        assert "NVIDIA GPU" in by[("methods", f"{method} qlora")]["reason"]
    sft = by[("methods", "sft full")]
    assert sft["ok"] and sft["estimated_gb"] > 0 and sft["measured_gb"] > 0 and sft["memory_ratio"] > 0
    assert by[("multi", "ddp")]["ok"] and len(by[("multi", "ddp")]["losses"]) == 2
    assert by[("multi", "fsdp")]["skipped"] and "2 or more GPUs" in by[("multi", "fsdp")]["reason"]
    app = by[("app", "demo")]
    assert app["ok"] and app["state"] == "completed" and app["steps"] == 4, app
    assert app["tokens_per_second"] > 0 and app["mfu"] > 0
    assert "0 failed" in proc.stdout
