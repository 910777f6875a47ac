"""A run killed mid-training shows as interrupted after a restart and resumes from the History panel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, REPO_ROOT, go_to_step, start_app, stop_app

pytestmark = pytest.mark.e2e


def test_interrupted_run_resumes_from_the_ui(tmp_path, browser):
    data = tmp_path / "data"
    run_dir = data / "runs" / "20260101-000000-sft-demo-kill"
    env = dict(os.environ, DATA_DIR=str(data), TRACKIO_DIR=str(data / "trackio"), HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "training", "train", "--max-steps", "30", "--save-steps", "10", "--output-dir", str(run_dir)]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (run_dir / "checkpoints" / "checkpoint-10" / "trainer_state.json").exists():
        assert time.time() < deadline and proc.poll() is None, "no checkpoint was written"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    server, url, _log = start_app(data)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, wait_until="load")
        page.wait_for_selector("#validate-btn")
        go_to_step(page, 4)
        page.wait_for_selector('.run-progress[data-state="interrupted"]', timeout=60_000)
        go_to_step(page, 5)
        expect(page.locator("#history-table")).to_contain_text("interrupted", timeout=30_000)
        page.locator("#resume-btn").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "08-interrupted.png"), full_page=True)
        page.click("#resume-btn")
        go_to_step(page, 4)
        page.wait_for_selector('.run-progress[data-state="completed"]', timeout=240_000)
        record = json.loads((run_dir / "run.json").read_text())
        assert record["status"] == "completed" and record["step"] == 30 and record["resumes"] == 1
        go_to_step(page, 5)
        expect(page.locator("#history-table")).to_contain_text("completed", timeout=30_000)
        page.close()
    finally:
        stop_app(server)
