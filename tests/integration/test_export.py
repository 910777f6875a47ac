"""Export, for real on the demo model: a tiny LoRA run on the demo data given as a file (so 5 rows are held
out), the merge round-trip, the held-out comparison, the exported script run end to end, and CLI export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lora_file_run(runs_root: Path, demo_model_path: Path) -> dict:
    from training.config.schema import RunConfig
    from training.data.sources import demo_dataset_path
    from training.run.engine import run_training

    config = RunConfig.demo()
    config.data.source = str(demo_dataset_path())  # a file, not `demo`: 5 rows held out by default
    config.lora.enabled, config.lora.r, config.lora.alpha = True, 4, 8
    config.train.max_steps, config.train.logging_steps = 4, 1
    config.run_name = "it-export"
    return run_training(config, runs_root / "it-export", report_to_trackio=False)


def test_rows_held_out_and_compared(lora_file_run, runs_root):
    from training.run.holdout import compare_held_out, read_eval_prompts

    assert lora_file_run["status"] == "completed", lora_file_run["error"]
    assert lora_file_run["eval_rows"] == 5
    prompts = read_eval_prompts(runs_root / "it-export")
    assert len(prompts) == 5 and all(p["prompt"] and p["reference"] and p["system"] for p in prompts)
    rows, totals = compare_held_out("demo", lora_file_run["model_dir"], prompts[:2], max_new_tokens=8)
    assert totals["n"] == totals["scored"] == 2
    assert set(rows[0]) >= {"base", "tuned", "base_score", "tuned_score"}


def test_merge_round_trip(lora_file_run, runs_root, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from training.publish.merge import merge_run, zip_folder

    merged = merge_run(runs_root / "it-export", tmp_path / "merged")
    assert (merged / "config.json").exists() and not (merged / "adapter_config.json").exists()
    assert zip_folder(merged).stat().st_size > 0
    from training.models.demo_model import ensure_demo_model

    base = AutoModelForCausalLM.from_pretrained(ensure_demo_model())  # the demo the run trained on, whatever its version
    with_adapter = PeftModel.from_pretrained(base, lora_file_run["model_dir"]).eval()
    plain = AutoModelForCausalLM.from_pretrained(merged).eval()
    ids = torch.tensor([[1, 5, 9, 42, 7, 3]])
    with torch.no_grad():
        expected, got = with_adapter(ids).logits, plain(ids).logits
    assert torch.allclose(expected, got, atol=1e-4), (expected - got).abs().max()
    assert not any("lora" in name for name, _ in plain.named_parameters())


def test_exported_script_runs_end_to_end(lora_file_run, runs_root, tmp_path, subprocess_env):
    from training.publish.script import script_for_run

    script = tmp_path / "train.py"
    script.write_text(script_for_run(runs_root / "it-export"))
    out = tmp_path / "script-run"
    env = {**subprocess_env, "MAX_STEPS": "2", "OUTPUT_DIR": str(out), "HF_TOKEN": "hf_CanaryTokenForScriptTest12345"}
    env.pop("PYTHONPATH", None)  # the script must not need this repository
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "completed" and record["error"] is None
    assert record["step"] == record["total_steps"] == 2 and record["train_seconds"] > 0
    assert [m["step"] for m in record["metrics"] if "loss" in m] == [1, 2]
    assert (out / "final" / "adapter_config.json").exists()
    assert record["config"]["train"]["max_steps"] == 2 and record["config"]["lora"]["r"] == 4
    # the script holds out the same rows as the engine did
    assert (out / "eval_prompts.jsonl").read_text() == (runs_root / "it-export" / "eval_prompts.jsonl").read_text()
    from training.config.schema import RunConfig

    RunConfig.from_dict(record["config"])  # run.json's config replays in the app
    for path in out.rglob("*"):
        if path.is_file():
            assert b"hf_CanaryTokenForScriptTest12345" not in path.read_bytes(), path
    assert "hf_CanaryTokenForScriptTest12345" not in result.stdout + result.stderr


def test_cli_export_merge_and_card(lora_file_run, runs_root, tmp_path, subprocess_env):
    result = subprocess.run([sys.executable, "-m", "training", "export", str(runs_root / "it-export"),
                             "--merge", str(tmp_path / "merged"), "--zip", "--card", str(tmp_path / "card"),
                             "--samples", "2", "--repo-id", "alice/demo-lora"],
                            cwd=REPO_ROOT, env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(written["zip"]).exists() and (tmp_path / "merged" / "model.safetensors").exists()
    card = (tmp_path / "card" / "README.md").read_text()
    assert "## Sample generations" in card and card.count("\n| ") >= 3 and "alice/demo-lora" in card
    assert (tmp_path / "card" / "loss_curve.png").exists() and (tmp_path / "card" / "adapter_model.safetensors").exists()
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
