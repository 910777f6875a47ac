"""`python -m training train --num-processes 2` on CPU (two processes over gloo, through `accelerate launch`): the same
loss curve as one process with the same global batch, one run.json (rank 0 writes), and resume from its checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

from .helpers import short_config

pytestmark = pytest.mark.integration
TIMEOUT = 300
STEPS, SAVE, GLOBAL_BATCH = 6, 3, 8
LOSS_TOLERANCE = 2e-3  # same rows per step; only the order of the floating-point sums differs


def _train(args: list[str], env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "training", "train", *args], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, (result.stdout[-1500:], result.stderr[-3000:])
    return result


def _curve(run_dir: Path) -> list[tuple[int, float]]:
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed", record["error"]
    return [(m["step"], m["loss"]) for m in record["metrics"] if "loss" in m]


def test_two_processes_match_one_then_resume(tmp_path: Path, subprocess_env: dict, demo_model_path: Path):
    from training.run.engine import run_training

    one = tmp_path / "one-process"
    config = short_config(steps=STEPS, batch_size=GLOBAL_BATCH, save_steps=SAVE)
    record = run_training(config, one, report_to_trackio=False)
    assert record["status"] == "completed", record["error"]
    single = _curve(one)

    two = tmp_path / "two-processes"
    result = _train(["--max-steps", str(STEPS), "--batch-size", str(GLOBAL_BATCH // 2), "--save-steps", str(SAVE),
                     "--logging-steps", "1", "--output-dir", str(two), "--num-processes", "2"], subprocess_env)
    assert f"global batch {GLOBAL_BATCH} = batch {GLOBAL_BATCH // 2} x accumulation 1 x 2 processes" in result.stderr
    assert result.stdout.count('"status": "completed"') == 1  # rank 0 alone prints the summary
    double = _curve(two)
    assert [s for s, _ in double] == [s for s, _ in single] == list(range(1, STEPS + 1))
    for (step, a), (_, b) in zip(single, double, strict=True):
        assert abs(a - b) <= LOSS_TOLERANCE, f"step {step}: one process {a:.5f}, two processes {b:.5f}"
    assert double[-1][1] < double[0][1] - 0.05  # it learned
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("run.json*")) == [
        "one-process/run.json", "two-processes/run.json"]  # one record per run, no stray temporary
    assert (two / "final" / "config.json").exists() and list((two / "final").glob("*.safetensors"))
    assert {p.name for p in (two / "checkpoints").glob("checkpoint-*")} == {f"checkpoint-{SAVE}", f"checkpoint-{STEPS}"}
    assert not (two / "rank-errors").exists()

    # A crash after the first checkpoint: the last checkpoint and the weights are gone, run.json says interrupted.
    import shutil

    shutil.rmtree(two / "checkpoints" / f"checkpoint-{STEPS}")
    shutil.rmtree(two / "final")
    record = json.loads((two / "run.json").read_text())
    record.update(status="interrupted", metrics=[m for m in record["metrics"] if m.get("step", 0) <= SAVE])
    (two / "run.json").write_text(json.dumps(record))

    _train(["--resume", str(two), "--num-processes", "2"], subprocess_env)
    after = json.loads((two / "run.json").read_text())
    assert after["status"] == "completed" and after["resumes"] == 1 and after["step"] == STEPS
    assert any(f"step {SAVE}" in n for n in after["notes"])
    resumed = _curve(two)
    assert [s for s, _ in resumed] == list(range(1, STEPS + 1))  # the curve continues, no duplicates
    for (step, a), (_, b) in zip(double, resumed, strict=True):
        assert abs(a - b) <= LOSS_TOLERANCE, f"step {step}: before the crash {a:.5f}, resumed {b:.5f}"
    assert (two / "final" / "config.json").exists()

