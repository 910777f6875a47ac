"""The process-wide run manager with real training: one run at a time, stop, failures, recovery."""

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
