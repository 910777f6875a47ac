"""Run history: every run in the data folder, with config, weights download, rerun, resume and delete."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.access import refusal
from training.config.schema import ConfigError, RunConfig
from training.run.manager import RunActiveError, get_run_manager

HEADERS = ["run", "method", "model", "dataset", "status", "steps", "final loss", "duration", "started at"]


@dataclass
class HistoryPanel:
    table: gr.Dataframe
    run: gr.Dropdown
    refresh: gr.Button
    show_config: gr.Button
    download: gr.Button
    rerun: gr.Button
    resume: gr.Button
    delete: gr.Button
    message: gr.Markdown
    config_view: gr.Code
    weights: gr.File


def _duration(rec: dict) -> str:
    seconds = rec.get("train_seconds")
    return "" if seconds is None else f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def history_rows() -> tuple[list[list], list[str]]:
    rows, ids = [], []
    for rec in get_run_manager().history():
        cfg = rec.get("config") or {}
        losses = [m["loss"] for m in rec.get("metrics") or [] if "loss" in m]
        steps = f"{rec.get('step') or 0}/{rec.get('total_steps') or '?'}"
        rows.append([rec.get("run_id"), cfg.get("method"), (cfg.get("model") or {}).get("name_or_path"),
                     Path(str((cfg.get("data") or {}).get("source", ""))).name or "", rec.get("status"), steps,
                     f"{losses[-1]:.4f}" if losses else "", _duration(rec), (rec.get("started_at") or "").replace("T", " ")[:19]])
        ids.append(rec.get("run_id"))
    return rows, ids


def create_history_panel() -> HistoryPanel:
    rows, ids = history_rows()
    table = gr.Dataframe(headers=HEADERS, value=rows, interactive=False, wrap=True, elem_id="history-table")
    with gr.Row():
        run = gr.Dropdown(ids, value=ids[0] if ids else None, label="Run", elem_id="history-run", scale=3)
        refresh = gr.Button("Refresh", scale=1)
    with gr.Row():
        show_config = gr.Button("Show config")
        download = gr.Button("Download weights")
        rerun = gr.Button("Rerun with this config")
        resume = gr.Button("Resume", elem_id="resume-btn")
        delete = gr.Button("Delete", variant="stop")
    message = gr.Markdown(elem_id="history-message")
    config_view = gr.Code(language="json", label="config", visible=False)
    weights = gr.File(label="Weights (zip)", visible=False, interactive=False)
    return HistoryPanel(table, run, refresh, show_config, download, rerun, resume, delete, message, config_view, weights)


def handle_refresh(selected: str | None = None):
    rows, ids = history_rows()
    return rows, gr.update(choices=ids, value=selected if selected in ids else (ids[0] if ids else None))


def handle_show_config(run_id: str | None):
    if not run_id:
        return "Pick a run first.", gr.update(visible=False)
    try:
        config = get_run_manager().run_record(run_id)["config"]
    except ValueError as exc:
        return str(exc), gr.update(visible=False)
    return f"Config of `{run_id}`.", gr.update(value=json.dumps(config, indent=2), visible=True)


def handle_download(run_id: str | None, profile: gr.OAuthProfile | None):
    if reason := refusal(profile):
        return f"🔒 {reason}", gr.update(visible=False)
    if not run_id:
        return "Pick a run first.", gr.update(visible=False)
    try:
        record = get_run_manager().run_record(run_id)
    except ValueError as exc:
        return str(exc), gr.update(visible=False)
    model_dir = record.get("model_dir")
    if not model_dir or not Path(model_dir).exists():
        return f"Run `{run_id}` has no saved weights (status {record.get('status')}).", gr.update(visible=False)
    archive = Path(model_dir).parent / "weights.zip"
    if not archive.exists():
        shutil.make_archive(str(archive.with_suffix("")), "zip", model_dir)
    return f"Weights of `{run_id}`.", gr.update(value=str(archive), visible=True)


def _run_action(run_id: str | None, profile: gr.OAuthProfile | None, action) -> str:
    """Guard a write action on the picked run; turn refusals into a message and a warning."""
    if reason := refusal(profile):
        return f"🔒 {reason}"
    if not run_id:
        return "Pick a run first."
    try:
        return action(run_id)
    except (RunActiveError, ConfigError, ValueError) as exc:
        gr.Warning(str(exc))
        return f"⚠️ {exc}"


def _rerun(run_id: str) -> str:
    config = RunConfig.from_dict(get_run_manager().run_record(run_id)["config"])
    config.run_name = None
    return f"Started `{get_run_manager().start(config)}` with the config of `{run_id}`."


def _resume(run_id: str) -> str:
    get_run_manager().resume(run_id)
    return f"Resuming `{run_id}` from its last checkpoint."


def _delete(run_id: str) -> str:
    get_run_manager().delete(run_id)
    return f"Deleted `{run_id}`."


def handle_rerun(run_id: str | None, profile: gr.OAuthProfile | None):
    return _run_action(run_id, profile, _rerun)


def handle_resume(run_id: str | None, profile: gr.OAuthProfile | None):
    return _run_action(run_id, profile, _resume)


def handle_delete(run_id: str | None, profile: gr.OAuthProfile | None):
    return _run_action(run_id, profile, _delete)


def wire_history_panel(h: HistoryPanel) -> None:
    h.refresh.click(handle_refresh, h.run, [h.table, h.run], queue=False)
    h.show_config.click(handle_show_config, h.run, [h.message, h.config_view])
    h.download.click(handle_download, h.run, [h.message, h.weights])
    for button, handler in ((h.rerun, handle_rerun), (h.resume, handle_resume), (h.delete, handle_delete)):
        button.click(handler, h.run, h.message, api_visibility="private").then(handle_refresh, h.run, [h.table, h.run])
