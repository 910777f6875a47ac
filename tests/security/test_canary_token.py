"""A canary HF_TOKEN, and a canary Trackio write token set by the owner, must not appear in anything the app or the
CLI writes, prints or serves; the owner's Trackio write token is the one the dashboard accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import start_app, stop_app

CANARY = "hf_CanaryCanaryCanary0123456789abcdef"
TRACKIO_CANARY = "trackio-canary-write-token-0123456789"


def _sweep(root: Path) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and any(c.encode() in path.read_bytes() for c in (CANARY, TRACKIO_CANARY)):
            hits.append(str(path.relative_to(root)))
    return hits


def test_canary_token_never_written(tmp_path, demo_model_path):
    data = tmp_path / "data"
    env = dict(os.environ, HF_TOKEN=CANARY, DATA_DIR=str(data), TRACKIO_DIR=str(data / "trackio"), HF_HUB_OFFLINE="1")
    outputs = []

    def cli(*args):
        result = subprocess.run([sys.executable, "-m", "training", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                                text=True, timeout=300)
        outputs.append(result.stdout + result.stderr)
        return result

    assert cli("train", "--max-steps", "3", "--output-dir", str(data / "runs" / "cli-ok")).returncode == 0
    # A failing run whose error would quote the token (a dataset id made of it).
    failed = cli("train", "--max-steps", "3", "--dataset", f"someone/{CANARY}", "--output-dir", str(data / "runs" / "cli-bad"))
    assert failed.returncode == 1
    assert json.loads((data / "runs" / "cli-bad" / "run.json").read_text())["status"] == "failed"
    cli("validate", f"someone/{CANARY}", "--json")
    cli("estimate", "--hardware", "t4-small", "--json")

    server, url, log = start_app(data, extra_env={"HF_TOKEN": CANARY, "TRACKIO_WRITE_TOKEN": TRACKIO_CANARY})
    try:
        from gradio_client import Client

        client = Client(url, verbose=False)
        config = json.loads((data / "runs" / "cli-ok" / "run.json").read_text())["config"]
        config["run_name"] = None
        client.predict(json.dumps(config), api_name="/start_training")
        deadline = time.time() + 180
        while json.loads(client.predict(api_name="/run_status"))["state"] == "running":
            assert time.time() < deadline
            time.sleep(0.5)
        outputs.append(client.predict(api_name="/run_status"))
        for path in ("/", "/gradio_api/info", "/config", "/trackio/"):
            with urllib.request.urlopen(url.rstrip("/") + path, timeout=30) as r:
                outputs.append(r.read().decode(errors="replace"))
        log_call = urllib.request.Request(
            url.rstrip("/") + "/trackio/api/bulk_log", method="POST", headers={"Content-Type": "application/json",
                                                                                 "X-Trackio-Write-Token": TRACKIO_CANARY},
            data=json.dumps({"logs": [{"project": "canary", "run": "job", "metrics": {"x": 1.0}, "step": 0}], "hf_token": None}).encode())
        with urllib.request.urlopen(log_call, timeout=30) as r:
            assert r.status == 200  # the owner's TRACKIO_WRITE_TOKEN is the dashboard's write token
    finally:
        stop_app(server)
    outputs.append(log.read_text())

    assert _sweep(data) == [], "the canary token was written to files"
    leaked = [o[:200] for o in outputs if CANARY in o or TRACKIO_CANARY in o]
    assert not leaked, leaked
    assert "hf_***" in (data / "runs" / "cli-bad" / "run.json").read_text()  # redacted, not just absent
