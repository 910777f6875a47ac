"""Named API endpoints for gradio_client: /start_training, /run_status, /stop_training."""

from __future__ import annotations

import json

import gradio as gr

from components.access import require_writer
from training.config.schema import ConfigError, RunConfig
from training.run.manager import RunActiveError, get_run_manager


def start_training(config_json: str, profile: gr.OAuthProfile | None) -> str:
    """Start a run from a RunConfig as JSON (the `config` object of a run.json). Returns the run id."""
    require_writer(profile)
    try:
        data = json.loads(config_json)
    except (TypeError, ValueError) as exc:
        raise gr.Error(f"config_json is not valid JSON: {exc}. Pass the `config` object of a run.json.") from None
    try:
        return get_run_manager().start(RunConfig.from_dict(data))
    except (RunActiveError, ConfigError) as exc:
        raise gr.Error(str(exc)) from None


def run_status() -> str:
    """The current run as JSON: state (running, completed, stopped, failed, interrupted, cancelled or idle),
    step, total, eta_seconds, last_metrics and error."""
    return json.dumps(get_run_manager().status().to_dict())


def stop_training(profile: gr.OAuthProfile | None) -> str:
    """Stop the active run at the next step, keeping the weights trained so far."""
    require_writer(profile)
    return "stopping" if get_run_manager().stop() else "no run is active"


def register_api() -> None:
    """Call inside the Blocks context."""
    gr.api(start_training, api_name="start_training", concurrency_limit=None)
    gr.api(run_status, api_name="run_status", concurrency_limit=None, queue=False)
    gr.api(stop_training, api_name="stop_training", concurrency_limit=None)
