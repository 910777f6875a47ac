"""Helpers shared by the integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def losses(metrics) -> list[float]:
    return [m["loss"] for m in metrics if isinstance(m.get("loss"), (int, float))]


def short_config(steps: int = 5, **train):
    """The demo config cut to a few steps: proves a run starts and finishes, quickly."""
    from training.config.schema import RunConfig

    config = RunConfig.demo()
    config.train.max_steps = steps
    config.train.logging_steps = 1
    for name, value in train.items():
        setattr(config.train, name, value)
    return config
