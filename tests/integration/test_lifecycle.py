"""Faults on real training runs: a killed process, an exception at step k, a NaN loss, cancel, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

from .helpers import losses, short_config, wait_for

pytestmark = pytest.mark.integration
TIMEOUT = 240


def _callback(on_step):
    from transformers import TrainerCallback

    class Fault(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            on_step(state.global_step, model)

    return Fault()


def _read(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def test_sigkill_then_resume_from_app_and_cli(tmp_path: Path, subprocess_env: dict, demo_model_path: Path):
    """Kill -9 the training process after a checkpoint; the app lists the run as interrupted; resume ends at the final step."""
    from training.run.manager import RunManager

    root = tmp_path / "runs"
    run_dir = root / "killed"
    cmd = [sys.executable, "-m", "training", "train", "--max-steps", "40", "--save-steps", "10", "--output-dir", str(run_dir)]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (run_dir / "checkpoints" / "checkpoint-20" / "trainer_state.json").exists(), TIMEOUT,
                 "the second checkpoint")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    before = _read(run_dir)
    assert before["status"] == "running"  # what a crash leaves behind
    assert before["step"] >= 20 and before["last_checkpoint_step"] >= 10  # on_save may lag the files
    assert losses(before["metrics"]), "run.json was not kept up to date while training"

    manager = RunManager(root=root)
    assert manager.recover_interrupted() == ["killed"]
    assert _read(run_dir)["status"] == "interrupted"
    assert manager.status().state == "interrupted"  # a fresh app shows it

    result = subprocess.run([sys.executable, "-m", "training", "train", "--resume", str(run_dir)], cwd=REPO_ROOT,
                            env=subprocess_env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-2000:]
    after = _read(run_dir)
    assert after["status"] == "completed"
    assert after["step"] == after["total_steps"] == 40
    assert after["resumes"] == 1
    steps = [m["step"] for m in after["metrics"] if "loss" in m]
    assert steps == sorted(steps) and steps[0] <= 20 < steps[-1] == 40  # the curve continues, no duplicates
    assert len(steps) == len(set(steps))
    assert (run_dir / "final" / "config.json").exists()


def test_exception_at_step_k_then_resume_in_the_manager(tmp_path: Path, demo_model_path: Path):
    from training.run.manager import RunManager

    manager = RunManager(root=tmp_path)

    def boom(step, model):
        if step == 12:
            raise RuntimeError("injected fault at step 12")

    run_id = manager.start(short_config(steps=20, save_steps=5), callbacks=[_callback(boom)])
    status = manager.wait(TIMEOUT)
    assert status.state == "failed"
    assert "injected fault at step 12" in status.error and "run.log" in status.error
    assert "Traceback" not in status.error
    assert "Traceback" in (tmp_path / run_id / "run.log").read_text()

    manager.resume(run_id)  # the lock was released; resume from checkpoint-10
    status = manager.wait(TIMEOUT)
    assert status.state == "completed", status.error
    assert status.step == 20
    assert any("step 10" in n for n in status.notes)


def test_nan_loss_fails_with_plain_advice(tmp_path: Path, demo_model_path: Path):
    import torch

    from training.run.manager import RunManager

    def poison(step, model):
        if step == 3:
            with torch.no_grad():
                for p in model.parameters():
                    p.fill_(float("nan"))

    manager = RunManager(root=tmp_path)
    manager.start(short_config(steps=10), callbacks=[_callback(poison)])
    status = manager.wait(TIMEOUT)
    assert status.state == "failed"
    assert "NaN" in status.error and "learning rate" in status.error
    run_id = manager.start(short_config(steps=2))  # the next run starts cleanly
    assert manager.wait(TIMEOUT).state == "completed", run_id


def test_cancel_discards_weights(tmp_path: Path, demo_model_path: Path):
    from training.run.manager import RunManager

    manager = RunManager(root=tmp_path)
    run_id = manager.start(short_config(steps=400, save_steps=2))
    wait_for(lambda: manager.status().step >= 3, TIMEOUT, "three steps")
    assert manager.cancel() is True
    status = manager.wait(TIMEOUT)
    assert status.state == "cancelled"
    assert status.model_dir is None
    assert not (tmp_path / run_id / "final").exists()
    assert not (tmp_path / run_id / "checkpoints").exists()


def test_cli_ctrl_c_is_a_graceful_stop(tmp_path: Path, subprocess_env: dict, demo_model_path: Path):
    run_dir = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "training", "train", "--max-steps", "400", "--output-dir", str(run_dir)]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (run_dir / "run.json").exists() and _read(run_dir).get("step", 0) >= 3, TIMEOUT, "three steps")
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err[-2000:]
    record = _read(run_dir)
    assert record["status"] == "stopped"
    assert 3 <= record["step"] < 400
    assert (run_dir / "final" / "config.json").exists()
    assert "Traceback" not in err


def test_run_json_is_written_while_training(tmp_path: Path, demo_model_path: Path):
    from training.run.manager import RunManager

    manager = RunManager(root=tmp_path)
    run_id = manager.start(short_config(steps=400, logging_steps=2))
    try:
        wait_for(lambda: manager.status().step >= 6, TIMEOUT, "six steps")
        time.sleep(0.5)
        live = _read(tmp_path / run_id)
        assert live["status"] == "running" and live["pid"] == os.getpid()
        assert losses(live["metrics"])
    finally:
        manager.stop()
        manager.wait(TIMEOUT)
