"""Run history: every run in the data folder, with config, weights download, rerun, resume and delete."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.access import config_read_names, refusal
from components.card_table import render_table
from components.translations import t, tr, translate_message, use_request_language
from training.config.schema import ConfigError, RunConfig
from training.hosting.read_policy import hide_server_paths, public_name
from training.run.manager import RunActiveError, get_run_manager

HEADERS = ["Run", "Method", "Model", "Dataset", "Status", "Steps", "Final loss", "Duration", "Started at"]


@dataclass
class HistoryPanel:
    table: gr.HTML
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
        rows.append([rec.get("run_id"), cfg.get("method"), public_name((cfg.get("model") or {}).get("name_or_path")),
                     public_name((cfg.get("data") or {}).get("source", "")), tr(str(rec.get("status"))), steps,
                     f"{losses[-1]:.4f}" if losses else "", _duration(rec), (rec.get("started_at") or "").replace("T", " ")[:19]])
        ids.append(rec.get("run_id"))
    return rows, ids


def history_table(rows: list[list]) -> str:
    """The runs as a table that fits the screen (a card per run on a phone), headers in the request's language."""
    return render_table([tr(h) for h in HEADERS], rows, table_id="runs-table", empty=tr("No runs yet."))


def create_history_panel() -> HistoryPanel:
    rows, ids = history_rows()
    table = gr.HTML(history_table(rows), elem_id="history-table")
    with gr.Row():
        run = gr.Dropdown(ids, value=ids[0] if ids else None, label=t("Run"), elem_id="history-run", scale=3)
        refresh = gr.Button(t("Refresh"), scale=1, min_width=100)
    with gr.Row():
        show_config = gr.Button(t("Show config"), min_width=120)
        download = gr.Button(t("Download weights"), min_width=120)
        rerun = gr.Button(t("Rerun with this config"), min_width=120)
        resume = gr.Button(t("Resume"), elem_id="resume-btn", min_width=120)
        delete = gr.Button(t("Delete"), variant="stop", min_width=120)
    message = gr.Markdown(elem_id="history-message")
    config_view = gr.Code(language="json", label=t("config"), visible=False)
    weights = gr.File(label=t("Weights (zip)"), visible=False, interactive=False)
    return HistoryPanel(table, run, refresh, show_config, download, rerun, resume, delete, message, config_view, weights)


def handle_refresh(selected: str | None = None, request: gr.Request = None):
    use_request_language(request)
    rows, ids = history_rows()
    return history_table(rows), gr.update(choices=ids, value=selected if selected in ids else (ids[0] if ids else None))


def handle_show_config(run_id: str | None, profile: gr.OAuthProfile | None = None, request: gr.Request = None):
    """The run's config; for visitors, server paths show as their file name only (Hub ids as they are)."""
    use_request_language(request)
    if not run_id:
        return tr("Pick a run first."), gr.update(visible=False)
    try:
        config = get_run_manager().run_record(run_id)["config"]
    except ValueError as exc:
        return translate_message(str(exc)), gr.update(visible=False)
    text = json.dumps(config, indent=2)
    if refusal(profile):
        text = hide_server_paths(text, config_read_names(config))
    return tr("Config of `{run}`.", run=run_id), gr.update(value=text, visible=True)


def handle_download(run_id: str | None, profile: gr.OAuthProfile | None, request: gr.Request = None):
    use_request_language(request)
    if reason := refusal(profile):
        return f"🔒 {translate_message(reason)}", gr.update(visible=False)
    if not run_id:
        return tr("Pick a run first."), gr.update(visible=False)
    try:
        record = get_run_manager().run_record(run_id)
    except ValueError as exc:
        return translate_message(str(exc)), gr.update(visible=False)
    model_dir = record.get("model_dir")
    if not model_dir or not Path(model_dir).exists():
        return (tr("Run `{run}` has no saved weights (status {status}).", run=run_id, status=tr(str(record.get("status")))),
                gr.update(visible=False))
    archive = Path(model_dir).parent / "weights.zip"
    if not archive.exists():
        shutil.make_archive(str(archive.with_suffix("")), "zip", model_dir)
    return tr("Weights of `{run}`.", run=run_id), gr.update(value=str(archive), visible=True)


def _run_action(run_id: str | None, profile: gr.OAuthProfile | None, action, request: gr.Request | None) -> str:
    """Guard a write action on the picked run; turn refusals into a message and a warning."""
    use_request_language(request)
    if reason := refusal(profile):
        return f"🔒 {translate_message(reason)}"
    if not run_id:
        return tr("Pick a run first.")
    try:
        return action(run_id)
    except (RunActiveError, ConfigError, ValueError) as exc:
        message = translate_message(str(exc))
        gr.Warning(message)
        return f"⚠️ {message}"


def _rerun(run_id: str) -> str:
    config = RunConfig.from_dict(get_run_manager().run_record(run_id)["config"])
    config.run_name = None
    return tr("Started `{new}` with the config of `{run}`.", new=get_run_manager().start(config), run=run_id)


def _resume(run_id: str) -> str:
    get_run_manager().resume(run_id)
    return tr("Resuming `{run}` from its last checkpoint.", run=run_id)


def _delete(run_id: str) -> str:
    get_run_manager().delete(run_id)
    return tr("Deleted `{run}`.", run=run_id)


def handle_rerun(run_id: str | None, profile: gr.OAuthProfile | None, request: gr.Request = None):
    return _run_action(run_id, profile, _rerun, request)


def handle_resume(run_id: str | None, profile: gr.OAuthProfile | None, request: gr.Request = None):
    return _run_action(run_id, profile, _resume, request)


def handle_delete(run_id: str | None, profile: gr.OAuthProfile | None, request: gr.Request = None):
    return _run_action(run_id, profile, _delete, request)


def wire_history_panel(h: HistoryPanel) -> None:
    from components.run_panels import RUN_CONTROL

    h.refresh.click(handle_refresh, h.run, [h.table, h.run], queue=False)
    h.show_config.click(handle_show_config, h.run, [h.message, h.config_view])
    h.download.click(handle_download, h.run, [h.message, h.weights])
    # Rerun and Resume start a run: one at a time, with Train, Stop and Cancel.
    for button, handler in ((h.rerun, handle_rerun), (h.resume, handle_resume), (h.delete, handle_delete)):
        button.click(handler, h.run, h.message, api_visibility="private", concurrency_limit=1,
                     concurrency_id=RUN_CONTROL).then(handle_refresh, h.run, [h.table, h.run], queue=False)
