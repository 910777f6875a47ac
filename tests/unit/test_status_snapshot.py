"""The status viewers poll (/run_status, components/api.py) is shared for up to 0.25 s, but never outlives a change of
run: right after Start it names the new run, right after Stop it says stopping, right after the run ends it says so.

Before this was fixed, `/start_training` then `/run_status` named the previous, completed run in 9 of 12 tries, and
a script waiting for "not running" took the new run for finished. The training itself is replaced by a stand-in
that finishes when told to, so each try takes milliseconds."""

from __future__ import annotations

import itertools
import json
import threading

import pytest

TRIES = 12


@pytest.fixture
def manager(monkeypatch, tmp_path):
    from components import api
    from training.config.schema import RunConfig
    from training.run import manager as manager_module

    release = threading.Event()

    def fake_training(config, output_dir, *, stop_event, progress, **_):
        progress.phase, progress.total = "training", 10
        while not (release.is_set() or stop_event.is_set()):
            stop_event.wait(0.005)
        progress.step = 10 if release.is_set() else 3
        return {"status": "completed" if release.is_set() else "stopped", "error": None, "model_dir": None}

    counter = itertools.count()
    monkeypatch.setattr(manager_module, "run_training", fake_training)
    monkeypatch.setattr(manager_module, "preflight", lambda config: None)
    monkeypatch.setattr(manager_module, "new_run_id", lambda config: f"run-{next(counter):03d}")
    runs = manager_module.RunManager(root=tmp_path / "runs", processes=1)
    monkeypatch.setattr(api, "get_run_manager", lambda: runs)
    runs.release = release
    runs.config = RunConfig.demo()
    return runs


def _status() -> dict:
    from components.api import status_snapshot

    return json.loads(status_snapshot())


def test_status_right_after_start_names_the_new_run_and_right_after_the_end_says_so(manager):
    for _ in range(TRIES):
        manager.release.clear()
        run_id = manager.start(manager.config)
        status = _status()  # immediately, within the quarter second a snapshot is shared
        assert (status["run_id"], status["state"]) == (run_id, "running"), status
        manager.release.set()
        assert manager.wait(10).state == "completed"
        status = _status()
        assert (status["run_id"], status["state"]) == (run_id, "completed"), status


def test_status_right_after_stop_says_stopping_then_stopped(manager):
    for _ in range(TRIES // 2):
        manager.release.clear()
        run_id = manager.start(manager.config)
        assert _status()["state"] == "running"
        assert manager.stop()
        status = _status()
        assert status["run_id"] == run_id and status["stopping"] is True, status
        manager.wait(10)
        status = _status()
        assert (status["run_id"], status["state"], status["stopping"]) == (run_id, "stopped", False), status


def test_viewers_still_share_one_snapshot_while_nothing_changes(manager, monkeypatch):
    manager.release.clear()
    manager.start(manager.config)
    try:
        calls = []
        real = manager.status
        monkeypatch.setattr(manager, "status", lambda: calls.append(1) or real())
        for _ in range(50):
            _status()
        assert len(calls) <= 2  # one per quarter second at most, not one per viewer
    finally:
        manager.release.set()
        manager.wait(10)
