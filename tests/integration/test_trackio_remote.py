"""A job reports home: another process logs into the app's embedded Trackio through `trackio.init(server_url=...)`.

The real app (app.create_server) serves on a free port. A separate Python process logs with the server's write
token (as a Job gets it: the TRACKIO_WRITE_TOKEN secret): every step is readable through the dashboard's read API
within 2 s of being logged. With a wrong token the same process logs nothing, and every write endpoint, with no
token or a wrong one, answers 403. The token is never in the page or the app's config.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.live_server import served

pytestmark = pytest.mark.integration

PROJECT = "remote-jobs"
STEPS = 8
MAX_DELAY_S = 2.0
LOGGER = r"""
import os, sys, time
import trackio
project, run_name, url, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
trackio.init(project=project, name=run_name, server_url=url, auto_log_cpu=False, auto_log_gpu=False)
for step in range(steps):
    trackio.log({"train/loss": 3.0 - step / 10}, step=step)
    print(f"LOGGED {step} {time.time():.3f}", flush=True)
    time.sleep(0.4)
if os.environ.get("HARD_EXIT"):
    time.sleep(3)
    os._exit(0)
trackio.finish()
"""


@pytest.fixture(scope="module")
def live_app(isolated_data_dir):
    import app as app_module
    from training.hosting.trackio_mount import write_token

    with served(app_module.create_server()) as url:
        assert httpx.get(f"{url}/trackio/", timeout=30).status_code == 200
        yield url, write_token()


def _logger(tmp_path, url: str, run_name: str, token: str, **env) -> subprocess.Popen:
    environment = dict(os.environ, TRACKIO_DIR=str(tmp_path / f"client-{run_name}"), TRACKIO_WRITE_TOKEN=token, **env)
    environment.pop("TRACKIO_SERVER_URL", None)
    return subprocess.Popen([sys.executable, "-c", LOGGER, PROJECT, run_name, f"{url}/trackio", str(STEPS)], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _steps_seen(url: str, run_name: str) -> set[int]:
    r = httpx.post(f"{url}/trackio/api/get_logs", json={"project": PROJECT, "run": run_name}, timeout=10)
    assert r.status_code == 200, r.text
    return {row["step"] for row in r.json()["data"] or [] if "train/loss" in row}


def test_logs_with_the_token_reach_the_dashboard_within_2s(live_app, tmp_path):
    url, token = live_app
    proc = _logger(tmp_path, url, "job-with-token", token)
    first_seen: dict[int, float] = {}
    deadline = time.time() + 120
    while time.time() < deadline and len(first_seen) < STEPS and proc.poll() in (None, 0):
        now = time.time()
        for step in _steps_seen(url, "job-with-token") - set(first_seen):
            first_seen[step] = now
        time.sleep(0.05)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    logged = {int(p[1]): float(p[2]) for p in (line.split() for line in out.splitlines()) if p and p[0] == "LOGGED"}
    assert sorted(first_seen) == list(range(STEPS)), (first_seen, out)
    delays = {step: first_seen[step] - logged[step] for step in logged}
    print(f"remote logging delay per step (s): {', '.join(f'{d:.2f}' for d in delays.values())}")
    assert max(delays.values()) <= MAX_DELAY_S, delays


def test_wrong_token_logs_nothing(live_app, tmp_path):
    url, _ = live_app
    proc = _logger(tmp_path, url, "job-wrong-token", "not-the-token-0123456789", HARD_EXIT="1")
    out, _ = proc.communicate(timeout=120)
    assert "LOGGED" in out
    runs = httpx.post(f"{url}/trackio/api/get_runs_for_project", json={"project": PROJECT}, timeout=10).json()["data"]
    assert "job-wrong-token" not in [r["name"] if isinstance(r, dict) else r for r in runs or []]
    assert not _steps_seen(url, "job-wrong-token")


@pytest.mark.parametrize("path", ["api/log", "api/bulk_log", "api/bulk_log_system", "api/bulk_alert", "api/bulk_upload_media",
                                  "api/artifact_log", "api/log_artifact_use", "api/bulk_upload_artifact_blob", "api/upload",
                                  "api/delete_run", "api/rename_run", "api/upload_db_to_space", "api/force_sync",
                                  "gradio_api/call/bulk_log", "gradio_api/upload"])
def test_every_write_endpoint_refuses_without_the_token(live_app, path):
    url, token = live_app
    body = {"logs": [{"project": PROJECT, "run": "intruder", "metrics": {"train/loss": 9.0}, "step": 0}], "hf_token": None}
    for headers in ({}, {"x-trackio-write-token": "wrong-token-0123456789"}, {"x-trackio-write-token": ""}):
        r = httpx.post(f"{url}/trackio/{path}", json=body, headers=headers, timeout=10)
        assert r.status_code == 403, (path, headers, r.status_code, r.text)
    if path in ("api/delete_run", "api/rename_run", "api/upload_db_to_space", "api/force_sync"):
        r = httpx.post(f"{url}/trackio/{path}", json={"project": PROJECT, "run": "job-with-token"},
                       headers={"x-trackio-write-token": token}, timeout=10)
        assert r.status_code == 403, "destructive writes are refused even with the token"


def test_the_token_is_never_shown(live_app):
    url, token = live_app
    for path in ("/", "/config", "/gradio_api/info", "/trackio/"):
        assert token not in httpx.get(f"{url}{path}", timeout=30).text, path
    for api in ("get_settings", "get_run_mutation_status"):
        assert token not in httpx.post(f"{url}/trackio/api/{api}", json={}, timeout=30).text, api
    assert "TRACKIO_WRITE_TOKEN" not in os.environ
