"""Named API endpoints for gradio_client: /start_training, /run_status, /stop_training."""

from __future__ import annotations

import json
import threading
import time

import gradio as gr

from components.access import reading_for, require_writer
from components.config_mapping import check_reads
from training.config.schema import ConfigError, RunConfig, read_names
from training.run.manager import RunActiveError, get_run_manager


def start_training(config_json: str, profile: gr.OAuthProfile | None) -> str:
    """Start a run from a RunConfig as JSON (the `config` object of a run.json). Returns the run id."""
    require_writer(profile)
    try:
        data = json.loads(config_json)
    except (TypeError, ValueError) as exc:
        raise gr.Error(f"config_json is not valid JSON: {exc}. Pass the `config` object of a run.json.") from None
    try:
        config = RunConfig.from_dict(data)
        with reading_for(profile):  # even the owner names server files only inside the app's folders
            check_reads(read_names(config))
            return get_run_manager().start(config)
    except (RunActiveError, ConfigError) as exc:
        raise gr.Error(str(exc)) from None


STATUS_MAX_AGE_S = 0.25  # a crowd of viewers shares one snapshot per quarter second
_snapshot: tuple[float, object, int, str] = (float("-inf"), None, -1, "")  # (taken, manager, its generation, JSON)
_snapshot_lock = threading.Lock()


def _fresh(snapshot: tuple[float, object, int, str], manager) -> bool:
    taken, owner, generation, _ = snapshot
    return owner is manager and generation == manager.generation and time.monotonic() - taken <= STATUS_MAX_AGE_S


def status_snapshot() -> str:
    """The run status as JSON, at most STATUS_MAX_AGE_S old: many viewers polling at once share one snapshot
    instead of each asking the run manager (whose lock the training thread also takes). A run that starts, is asked
    to stop or ends makes the snapshot stale at once (`RunManager.generation`): a script that starts a run and asks
    for its status straight away sees that run, never the previous one."""
    global _snapshot
    manager = get_run_manager()
    if _fresh(snapshot := _snapshot, manager):
        return snapshot[3]
    with _snapshot_lock:
        if _fresh(snapshot := _snapshot, manager):
            return snapshot[3]
        generation = manager.generation  # read before the status: a change in between makes the next call refresh
        text = json.dumps(manager.status().to_dict())
        _snapshot = (time.monotonic(), manager, generation, text)
    return text


async def run_status() -> str:
    """The current run as JSON: state (running, completed, stopped, failed, interrupted, cancelled or idle),
    step, total, eta_seconds, last_metrics and error.

    A coroutine on purpose: Gradio runs it on the event loop instead of handing it to a worker thread, so a poll
    never waits for a thread (or for the GIL hand-over to one) while the training thread keeps the CPU busy."""
    return status_snapshot()


def stop_training(profile: gr.OAuthProfile | None) -> str:
    """Stop the active run at the next step, keeping the weights trained so far."""
    require_writer(profile)
    return "stopping" if get_run_manager().stop() else "no run is active"


STATUS_PATHS = ("/gradio_api/run/run_status", "/gradio_api/api/run_status")


async def _status_response():
    from starlette.responses import Response

    body = b'{"data":[' + json.dumps(status_snapshot()).encode() + b'],"is_generating":false}'
    return Response(body, media_type="application/json")


def add_status_fast_path(server) -> None:
    """Answer plain-HTTP calls of /run_status (POST /gradio_api/run/run_status, what a script or a watching
    dashboard polls) before Gradio's router, with the same {"data": [json]} body.

    Gradio builds a whole session state (the config of every component on the page, about 20 ms of CPU) for each
    direct call that comes without a session, before running the function; a room of viewers polling status would
    spend the server's CPU on that while training needs it. gradio_client and the page keep using Gradio's own
    endpoint (they send a session). Call before mounting Gradio on `server` (FastAPI matches routes in order)."""
    for path in STATUS_PATHS:
        for variant in (path, path + "/"):
            server.add_api_route(variant, _status_response, methods=["POST"], include_in_schema=False)


def register_api() -> None:
    """Call inside the Blocks context."""
    from components.run_panels import RUN_CONTROL

    # Start and Stop: one at a time, in the slot the Train, Stop and Cancel buttons share. Status: off the queue,
    # so it never waits behind them, behind other events or behind training.
    gr.api(start_training, api_name="start_training", concurrency_limit=1, concurrency_id=RUN_CONTROL)
    gr.api(run_status, api_name="run_status", concurrency_limit=None, queue=False)
    gr.api(stop_training, api_name="stop_training", concurrency_limit=1, concurrency_id=RUN_CONTROL)
