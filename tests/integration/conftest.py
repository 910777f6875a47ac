"""Fixtures of the integration tier: real training of the demo model on CPU.

The default demo run (400 steps, about 50 s on 2 cores) is trained once per session through a
RunManager and shared by every test that inspects a finished run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

RUN_TIMEOUT_S = 600  # about 50 s on an idle 2-core machine; generous for a loaded one


@dataclass
class FinishedRun:
    manager: object
    run_id: str
    status: object  # RunStatus after the run ended
    states_seen: set
    output_dir: Path
    wall_seconds: float


@pytest.fixture(scope="session")
def runs_root(isolated_data_dir: Path) -> Path:
    root = isolated_data_dir / "integration-runs"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="session")
def demo_run(runs_root: Path, demo_model_path: Path) -> FinishedRun:
    """The default demo config (RunConfig.demo()), trained to completion through a fresh RunManager."""
    from training.config.schema import RunConfig
    from training.run.manager import RunManager

    manager = RunManager(root=runs_root)
    t0 = time.monotonic()
    run_id = manager.start(RunConfig.demo())
    states_seen = {manager.status().state}
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while manager.status().active:
        if time.monotonic() > deadline:
            manager.stop()
            manager.wait(60)  # let the thread end before the interpreter does
            raise AssertionError(f"the demo run did not finish within {RUN_TIMEOUT_S} s")
        states_seen.add(manager.status().state)
        time.sleep(0.2)
    status = manager.wait()
    return FinishedRun(manager, run_id, status, states_seen, Path(status.output_dir), time.monotonic() - t0)
