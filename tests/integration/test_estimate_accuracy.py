"""The CPU time estimate against a real demo run (issue 6: within ±20 %), and the calibration loop.

bench/estimate_accuracy.py runs the full 300-step check; this test runs it too (about 35 s on
an idle 2-core machine). On a machine busy with other work, torch's threads contend and steps
take several times longer, so the timing says nothing about the estimate: the test skips then.
"""

from __future__ import annotations

import os
import time

import pytest

STEPS = 300  # the check: a 300-step demo run (about 35 s idle); fixed costs weigh less than at 100
TOLERANCE = 0.20


def _busy() -> float | None:
    load = os.getloadavg()[0]
    return load if load > 0.75 * (os.cpu_count() or 1) + 0.5 else None


def _wait_until_quiet(limit: float = 120) -> float | None:
    """The 1-minute load average still counts the tests before this one: give it time to decay."""
    deadline = time.monotonic() + limit
    while (load := _busy()) and time.monotonic() < deadline:
        time.sleep(5)
    return load


@pytest.mark.integration
def test_cpu_estimate_within_20_percent_then_measured(demo_model_path, tmp_path):
    if load := _wait_until_quiet():
        pytest.skip(f"machine busy (load average {load:.1f}): a timing check would be meaningless")
    import trl  # noqa: F401 - the comparison is for a warm process, as in the app after start-up

    from training.config.schema import RunConfig
    from training.estimate.calibration import record_run_throughput
    from training.estimate.quote import estimate_for_config
    from training.run.engine import run_training

    config = RunConfig.demo()
    config.train.max_steps = STEPS
    est, _ = estimate_for_config(config, "cpu-basic", use_measurements=False, prices=False)
    t0 = time.perf_counter()
    record = run_training(config, tmp_path / "run", report_to_trackio=False)
    wall = time.perf_counter() - t0
    if load := _busy():
        pytest.skip(f"machine became busy during the run (load average {load:.1f}); measured {wall:.1f} s vs {est.seconds} s")
    assert record["status"] == "completed", record["error"]
    error = (est.seconds - wall) / wall
    assert abs(error) <= TOLERANCE, f"predicted {est.seconds:.1f} s, measured {wall:.1f} s ({error:+.0%})"

    calibration = tmp_path / "calibration.json"
    entry = record_run_throughput(record, hardware="cpu-basic", path=calibration)
    assert entry is not None and entry["steps"] == STEPS
    again, _ = estimate_for_config(config, "cpu-basic", prices=False, calibration=calibration)
    assert again.time_source == "measured"
    assert again.seconds == pytest.approx(wall, rel=0.10)
