"""The process-wide run manager with real training: one run at a time, stop, failures, recovery; in the thread and
in a supervised `accelerate launch` child (forced with 2 CPU processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import short_config, wait_for

pytestmark = pytest.mark.integration

TIMEOUT = 180


def _finish(manager, timeout: float = TIMEOUT):
    status = manager.wait(timeout)
    assert not status.active, f"run still {status.state} after {timeout} s"
    return status


def _assert_new_run_completes(manager) -> None:
    run_id = manager.start(short_config(steps=3))
    status = _finish(manager)
    assert status.run_id == run_id
    assert status.state == "completed", status.error
    assert status.step == 3


def test_second_start_refused_then_stop_keeps_weights(tmp_path: Path, demo_model_path: Path):
    from training.run.manager import RunActiveError, RunManager

    manager = RunManager(root=tmp_path / "runs")  # an empty runs folder: nothing to restore
    assert manager.status().state == "idle"
    assert manager.stop() is False  # nothing to stop

    run_id = manager.start(short_config(steps=400, logging_steps=10))
    try:
        wait_for(lambda: manager.status().step >= 2, TIMEOUT, "the run to take two steps")
        with pytest.raises(RunActiveError) as info:
            manager.start(short_config(steps=3))
        assert run_id in str(info.value)
        assert manager.status().run_id == run_id  # the refused start changed nothing
    finally:
        assert manager.stop() is True
    assert manager.status().state in ("stopping", "stopped")

    status = _finish(manager)
    assert status.state == "stopped"
    assert status.error is None
    assert 2 <= status.step < status.total == 400
    model_dir = Path(status.model_dir)
    assert (model_dir / "config.json").exists() and list(model_dir.glob("*.safetensors"))
    record = json.loads((Path(status.output_dir) / "run.json").read_text())
    assert record["status"] == "stopped"
    assert record["step"] == status.step

    _assert_new_run_completes(manager)


def test_bad_data_fails_in_plain_language(runs_root: Path, demo_model_path: Path, tmp_path: Path):
    from training.run.manager import RunManager

    bad = tmp_path / "wrong_columns.jsonl"
    bad.write_text("".join(json.dumps({"question": f"q{i}", "reply": f"a{i}"}) + "\n" for i in range(5)))
    config = short_config(steps=3)
    config.data.source = str(bad)

    manager = RunManager(root=runs_root)
    manager.start(config)
    status = _finish(manager)
    assert status.state == "failed"
    assert status.model_dir is None
    error = status.error
    assert error and "question" in error and "Column mapping" in error, error
    assert ".." not in error, error  # sentences joined cleanly
    for trace_text in ("Traceback", 'File "', ", line ", "Error:", "DatasetInvalidError"):
        assert trace_text not in error, error
    record = json.loads((Path(status.output_dir) / "run.json").read_text())
    assert record["status"] == "failed" and record["error"] == error
    assert "Traceback" in (Path(status.output_dir) / "run.log").read_text()  # details kept for engineers

    _assert_new_run_completes(manager)


# --- several processes: the supervised `accelerate launch` child (forced here with 2 CPU processes over gloo) -------

def test_child_process_stop_keeps_weights_and_the_lock_holds(tmp_path: Path, demo_model_path: Path):
    from training.run.manager import RunActiveError, RunManager

    manager = RunManager(root=tmp_path / "runs", processes=2)
    run_id = manager.start(short_config(steps=400, logging_steps=1))
    try:
        wait_for(lambda: manager.status().step >= 2, TIMEOUT, "the two processes to take two steps")
        with pytest.raises(RunActiveError):
            manager.start(short_config(steps=3))
        status = manager.status()
        assert status.run_id == run_id and status.processes == 2 and status.phase == "training"
        assert status.total == 400 and status.last_metrics.get("loss")
    finally:
        assert manager.stop() is True
    status = _finish(manager)
    assert status.state == "stopped", status.error
    assert status.error is None and 2 <= status.step < 400
    assert (Path(status.model_dir) / "config.json").exists()
    run_dir = Path(status.output_dir)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "stopped" and record["step"] == status.step
    assert [p.name for p in run_dir.rglob("run.json*")] == ["run.json"]
    log = manager.log_tail()
    assert "2 processes" in log and '"status": "stopped"' in log  # the child's output, readable in the app
    assert not (run_dir / "stop.request").exists()


def test_child_process_crashes_end_like_the_thread(tmp_path: Path, demo_model_path: Path):
    """A failure inside the processes gives the thread's state and message; a process killed with SIGKILL (what the
    out-of-memory killer does) fails with the out-of-memory advice; Resume continues from the last checkpoint."""
    import signal

    import psutil

    from training.run.manager import RunManager

    bad = tmp_path / "wrong_columns.jsonl"
    bad.write_text("".join(json.dumps({"question": f"q{i}", "reply": f"a{i}"}) + "\n" for i in range(5)))
    config = short_config(steps=3)
    config.data.source = str(bad)
    thread = RunManager(root=tmp_path / "thread")
    thread.start(config)
    expected = _finish(thread)
    child = RunManager(root=tmp_path / "child", processes=2)
    child.start(config)
    status = _finish(child)
    assert (status.state, status.error) == (expected.state, expected.error) == ("failed", expected.error)
    assert "Column mapping" in status.error

    run_id = child.start(short_config(steps=400, logging_steps=1, save_steps=3))
    wait_for(lambda: child.status().step >= 5, TIMEOUT, "a checkpoint and two more steps")
    workers = psutil.Process(child._child.proc.pid).children(recursive=True)
    assert len(workers) == 2
    workers[-1].send_signal(signal.SIGKILL)
    status = _finish(child)
    assert status.state == "failed"
    assert status.error.startswith("Out of memory.") and "SIGKILL" in status.error
    from training.run.engine import latest_checkpoint

    saved = int(latest_checkpoint(tmp_path / "child" / run_id).name.split("-")[-1])
    assert saved >= 3 and f"Resume continues from the checkpoint at step {saved}." in status.error, status.error
    assert json.loads((tmp_path / "child" / run_id / "run.json").read_text())["status"] == "failed"

    child.resume(run_id)  # the lock was released
    wait_for(lambda: child.status().step > saved, TIMEOUT, "the resumed run to pass its checkpoint")
    child.stop()
    status = _finish(child)
    assert status.state == "stopped", status.error
    assert any(f"step {saved}" in n for n in status.notes)
