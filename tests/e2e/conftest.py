"""A running app server and a headless Debian chromium, for the browser tests."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(data_dir: Path, extra_env: dict | None = None):
    """Start `python app.py` on a free port; return (process, base url, log path)."""
    port = _free_port()
    env = dict(os.environ, DATA_DIR=str(data_dir), TRACKIO_DIR=str(data_dir / "trackio"), GRADIO_SERVER_PORT=str(port),
               HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **(extra_env or {}))
    env.pop("TRACKIO_PROJECT", None)
    log = data_dir / "app.log"
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url, log
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"app did not serve within 90 s:\n{log.read_text()[-3000:]}")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:  # open client connections can hold uvicorn's graceful shutdown
        proc.kill()
        proc.wait(15)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("app-data")
    proc, url, log = start_app(data_dir)
    yield url
    stop_app(proc)
    (ARTIFACTS / "app.log").write_text(log.read_text()) if ARTIFACTS.exists() else None


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Debian's chromium is not installed: run `apt-get install -y chromium` (the README's test command does).")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


# The guided page's steps (app.py): tab number -> the tab's elem_id; its button is "#<elem_id>-button".
STEP_TABS = {1: "step-data", 2: "step-model", 3: "step-cost", 4: "step-train", 5: "step-results"}


def go_to_step(page, number: int) -> None:
    """Open step `number` of the guided page by its tab (what a returning visitor does; newcomers press Next)."""
    page.click(f"#{STEP_TABS[number]}-button")
    page.locator(f"#{STEP_TABS[number]}").wait_for(state="visible", timeout=15_000)


# Validate's summary starts with its verdict: "✅ Valid: ..." or "❌ Not valid: ..." (in the page's language).
VERDICT = re.compile(r"[✅❌]")


def validation_verdict(page, timeout: int = 90_000) -> str:
    """Wait until Validate's summary gives its verdict (the whole summary arrives at once) and return the summary."""
    from playwright.sync_api import expect

    summary = page.locator("#validate-summary")
    expect(summary).to_contain_text(VERDICT, timeout=timeout)
    return summary.inner_text()


def expect_valid(page, word: str = "Valid", timeout: int = 90_000) -> str:
    """Wait for Validate's verdict and require it to be "✅ <word>" ("Not valid" does not count); return the summary."""
    text = validation_verdict(page, timeout)
    verdict = re.search(r"^\s*[✅❌].*$", text, re.M)  # the first verdict line (Gradio's progress text may come first)
    assert verdict and re.match(rf"\s*✅\s*{word}\b", verdict.group(0)), \
        f"expected the verdict '✅ {word}', the summary says: {text[:300]!r}"
    return text
