"""Trackio receives each run exactly once, under the run's name, in the session's TRACKIO_DIR."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_one_trackio_run_with_loss(demo_run):
    from trackio.sqlite_storage import SQLiteStorage

    from training.hosting.paths import trackio_project

    project = trackio_project()
    name = demo_run.status.run_name
    db = SQLiteStorage.get_project_db_path(project)
    # The run landed in the session's folder, not in the user's ~/.cache.
    assert db.parent.resolve() == Path(os.environ["TRACKIO_DIR"]).resolve()
    assert db.exists()

    assert SQLiteStorage.get_runs(project).count(name) == 1
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        run_ids = conn.execute("SELECT DISTINCT run_id FROM metrics WHERE run_name = ?", (name,)).fetchall()
    assert len(run_ids) == 1  # one Trackio run: no double init

    logs = SQLiteStorage.get_logs(project, run=name)
    train_losses = [row["train/loss"] for row in logs if "train/loss" in row]
    logged = [m for m in demo_run.status.metrics if "loss" in m]
    assert len(train_losses) == len(logged) >= 10  # every logged step reached Trackio (120 steps, every 10)
    assert train_losses[-1] < train_losses[0]
    assert train_losses[-1] == pytest.approx([m["loss"] for m in demo_run.status.metrics if "loss" in m][-1], rel=1e-4)
