"""`python -m training train` as a subprocess: run.json a human, a script and the app can all read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_cli_train_writes_reusable_run_json(tmp_path: Path, subprocess_env: dict, demo_model_path: Path):
    out = tmp_path / "cli-run"
    proc = subprocess.run(
        [sys.executable, "-m", "training", "train", "--max-steps", "15", "--output-dir", str(out)],
        cwd=REPO_ROOT, env=subprocess_env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "completed"
    assert "gemm_4bit_forward" not in proc.stderr + proc.stdout  # bitsandbytes' remote-kernel noise (hosting/quiet.py)

    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "completed"
    assert record["error"] is None
    assert isinstance(record["train_seconds"], (int, float)) and record["train_seconds"] > 0
    assert record["config"]["train"]["max_steps"] == 15
    metrics = record["metrics"]
    assert isinstance(metrics, list) and metrics
    assert all(isinstance(m, dict) and isinstance(m["step"], int) for m in metrics)
    loss_rows = [m for m in metrics if "loss" in m]
    assert [m["step"] for m in loss_rows] == [10]  # demo preset logs every 10 steps
    assert (Path(record["model_dir"]) / "config.json").exists()

    # The run.json is a config file for the next run.
    from training.cli.main import build_parser, config_from_args
    from training.config.schema import RunConfig

    args = build_parser().parse_args(["train", "--config", str(out / "run.json"), "--output-dir", str(tmp_path / "again")])
    again = config_from_args(args)
    assert again.to_dict() == record["config"]
    assert again.to_dict() == RunConfig.from_dict(record["config"]).to_dict()
