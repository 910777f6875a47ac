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


@pytest.mark.integration
def test_cli_estimate_of_a_gpu_grid_row_from_the_real_data(tmp_path):
    """Issue 14's check end to end, for one row of the shared H100 grid: make_fixtures.py rebuilds the row's model
    folder (config only) and data, and `python -m training estimate --config CFG --hardware h100 --json` (the
    dataset validated with the real tokenizer) quotes the measured peak reserved memory within ±15 % and seconds per
    step within ±25 %. tests/unit/test_estimate_gpu_grid.py checks every row through the same function, faster."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from training.estimate.grid import dataset_of, row_config_dict

    root = Path(__file__).resolve().parents[2]
    fixtures = root / "tests" / "fixtures" / "calibration"
    row = json.loads((fixtures / "h100-grid.jsonl").read_text().splitlines()[2])  # q05 LoRA b16 x 1024, no checkpointing
    subprocess.run([sys.executable, str(fixtures / "make_fixtures.py"), str(tmp_path)], check=True, capture_output=True)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(row_config_dict(row, str(tmp_path / f"model-{row['shape']}"), str(tmp_path / dataset_of(row)))))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ESTIMATE_LIVE_PRICES": "0", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-m", "training", "estimate", "--config", str(cfg), "--hardware", "h100", "--json"],
                         cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert abs(data["gpu_memory_gb"] / row["peak_reserved_gb"] - 1) <= 0.15, data["memory_breakdown"]
    per_step = data["time_breakdown"]["training"] / data["steps"]
    assert abs(per_step / row["seconds_per_step"] - 1) <= 0.25, (per_step, data["assumptions"])
    assert data["time_source"] == "prior" and data["resolved"]["gradient_checkpointing"] is False
