"""On a Space (SYSTEM=spaces) Trackio's own check wants an HF token with write access to the Space, which a job
must never carry; the mount makes the dashboard's write token the one key there too. Run in a fresh process,
because Trackio picks its routes and checks from SYSTEM when it is built."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

CHECK = r"""
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from training.hosting.trackio_mount import TrackioMount, write_token

client = TestClient(Starlette(routes=[Mount("/trackio", app=TrackioMount())]))
token = write_token()
body = {"logs": [{"project": "p", "run": "job", "metrics": {"train/loss": 1.5}, "step": 1}], "hf_token": None}
for path in ("api/bulk_log", "gradio_api/call/bulk_log", "api/upload", "gradio_api/upload"):
    for headers in ({}, {"x-trackio-write-token": "wrong-token-0123456789"}):
        r = client.post(f"/trackio/{path}", json=body, headers=headers)
        assert r.status_code == 403, (path, headers, r.status_code, r.text)
r = client.post("/trackio/api/bulk_log", json=body, headers={"x-trackio-write-token": token})
assert r.status_code == 200, r.text
r = client.post("/trackio/gradio_api/call/bulk_log", json=body, headers={"x-trackio-write-token": token})
assert r.status_code == 200, r.text
r = client.post("/trackio/api/get_logs", json={"project": "p", "run": "job"})
assert [row["train/loss"] for row in r.json()["data"]] == [1.5, 1.5], r.text
r = client.post("/trackio/api/delete_run", json={"project": "p", "run": "job"}, headers={"x-trackio-write-token": token})
assert r.status_code == 403, r.text
print("OK")
"""


def test_write_token_is_the_key_on_a_space_too(tmp_path):
    env = dict(os.environ, SYSTEM="spaces", SPACE_ID="owner/studio", SPACE_AUTHOR_NAME="owner",
               TRACKIO_DIR=str(tmp_path / "trackio"), PYTHONPATH=str(REPO_ROOT))
    env.pop("HF_TOKEN", None)
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr
