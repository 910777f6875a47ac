"""The API from gradio_client, and the live run as seen by many, reloading, stalled or absent clients."""

from __future__ import annotations

import json
import socket
import threading
import time
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import ARTIFACTS, go_to_step

pytestmark = pytest.mark.e2e


def _client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def _status(client) -> dict:
    return json.loads(client.predict(api_name="/run_status"))


def _step_rate(client, seconds: float) -> float:
    first = _status(client)["step"]
    time.sleep(seconds)
    return (_status(client)["step"] - first) / seconds


@pytest.fixture(scope="module")
def long_run(app_server):
    """One run started by 20 simultaneous API calls; the module's tests watch it."""
    from training.config.schema import RunConfig

    config = RunConfig.demo()
    config.train.max_steps = 2000
    results: list[tuple[str, str]] = []

    def call():
        try:
            results.append(("ok", _client(app_server).predict(config.to_json(), api_name="/start_training")))
        except Exception as exc:  # gradio_client raises AppError carrying our message
            results.append(("refused", str(exc)))

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    client = _client(app_server)
    yield results, client
    client.predict(api_name="/stop_training")


def test_twenty_concurrent_starts_give_one_run(long_run):
    results, client = long_run
    started = [r for kind, r in results if kind == "ok"]
    refused = [r for kind, r in results if kind == "refused"]
    assert len(results) == 20
    assert len(started) == 1, results
    assert len(refused) == 19
    assert all(f"A run is active: {started[0]}" in r for r in refused), refused[:2]
    status = _status(client)
    assert status["run_id"] == started[0]
    assert status["state"] == "running"
    assert {"state", "step", "total", "eta_seconds", "last_metrics", "error"} <= set(status)


def test_bad_config_is_refused_clearly(long_run, app_server):
    client = _client(app_server)
    with pytest.raises(Exception) as info:
        client.predict("{not json", api_name="/start_training")
    assert "not valid JSON" in str(info.value)


def test_page_reload_shows_the_live_run(long_run, app_server, browser):
    _, client = long_run
    run_id = _status(client)["run_id"]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_server, wait_until="load")
    page.wait_for_selector("#validate-btn")
    go_to_step(page, 4)
    page.wait_for_selector('.run-progress[data-state="running"]', timeout=60_000)
    page.locator("#train-status").get_by_text(run_id).wait_for(timeout=30_000)
    step_before = int(page.locator(".run-progress").get_attribute("data-step"))
    page.reload(wait_until="load")
    page.wait_for_selector("#validate-btn")
    go_to_step(page, 4)
    page.wait_for_selector('.run-progress[data-state="running"]', timeout=60_000)
    page.wait_for_function(f"() => Number(document.querySelector('.run-progress')?.dataset.step) > {step_before}",
                           timeout=60_000)
    page.locator("#train-status").get_by_text(run_id).wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "07-after-reload.png"), full_page=True)
    page.close()


def test_stalled_and_closed_clients_do_not_slow_training(long_run, app_server, browser):
    _, client = long_run
    page = browser.new_page()
    page.goto(app_server, wait_until="load")
    page.wait_for_selector("#validate-btn")
    go_to_step(page, 4)
    page.wait_for_selector(".run-progress")
    baseline = _step_rate(client, 6)  # with a live, polling tab
    assert baseline > 0

    # A stalled client: the same tab with its JavaScript frozen, plus a socket that never reads.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Debugger.enable")
    cdp.send("Debugger.pause")
    host = urlparse(app_server)
    stalled = socket.create_connection((host.hostname, host.port))
    stalled.sendall(b"GET /gradio_api/queue/data?session_hash=stalled HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    try:
        with_stalled = _step_rate(client, 6)
    finally:
        stalled.close()
        page.close()  # every tab is now closed
    assert with_stalled >= 0.5 * baseline, (baseline, with_stalled)

    without_tabs = _step_rate(client, 4)
    assert without_tabs >= 0.5 * baseline, (baseline, without_tabs)
    assert _status(client)["state"] == "running"


def test_stop_from_the_api(long_run):
    _, client = long_run
    assert client.predict(api_name="/stop_training") == "stopping"
    deadline = time.time() + 60
    while _status(client)["state"] == "running" and time.time() < deadline:
        time.sleep(0.5)
    status = _status(client)
    assert status["state"] == "stopped"
    assert status["step"] < status["total"]
