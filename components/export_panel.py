"""After training: publish to the Hub, merge and download, get the script, run on Hugging Face Jobs.

Thin handlers over training.publish.hub, training.publish.merge and training.publish.script; the HF Jobs tab is
components.jobs_panel, the GGUF tab components.gguf_panel. Pushing and merging (a weights download) are guarded by the role rules, like the History
panel's write actions; jobs run on the submitter's account (training.hosting.jobs_account).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.access import config_read_names, refusal
from components.gguf_panel import GgufPanel, create_gguf_panel, wire_gguf_panel
from components.jobs_panel import JobsPanel, create_jobs_panel, wire_jobs_panel
from components.run_panels import RUN_CONTROL
from components.translations import t, tr, translate_message, use_request_language
from training.run.manager import get_run_manager


@dataclass
class ExportPanel:
    run: gr.Dropdown
    refresh: gr.Button
    repo_id: gr.Textbox
    private: gr.Checkbox
    merged: gr.Checkbox
    trackio_space: gr.Textbox
    preview_card: gr.Button
    push: gr.Button
    publish_message: gr.Markdown
    card_view: gr.Markdown
    merge: gr.Button
    merge_message: gr.Markdown
    merged_file: gr.File
    gguf: GgufPanel
    get_script: gr.Button
    script_view: gr.Code
    script_file: gr.File
    jobs: JobsPanel


def finished_run_ids() -> list[str]:
    """Runs with saved weights, newest first."""
    return [r["run_id"] for r in get_run_manager().history() if r.get("model_dir") and r.get("run_id")]


def run_dir(run_id: str | None) -> Path:
    if not run_id:
        raise ValueError("Pick a run first (only runs with saved weights are listed).")
    get_run_manager().run_record(run_id)  # raises a clear error for an unknown run
    return get_run_manager().root / run_id


def _token(oauth_token: gr.OAuthToken | None) -> str | None:
    from training.publish.jobs import resolve_token

    return resolve_token(oauth_token.token if oauth_token is not None else None)


def create_export_panel() -> ExportPanel:
    ids = finished_run_ids()
    with gr.Row():
        run = gr.Dropdown(ids, value=ids[0] if ids else None, label=t("Run"), elem_id="export-run", scale=3)
        refresh = gr.Button(t("Refresh"), scale=1)
    with gr.Tab(t("Publish to the Hub")):
        with gr.Row():
            repo_id = gr.Textbox(label=t("Repo id"), placeholder=t("your-username/my-model"), elem_id="publish-repo")
            trackio_space = gr.Textbox(label=t("Also sync Trackio to this Space (optional)"),
                                       placeholder=t("your-username/trackio"))
        with gr.Row():
            private = gr.Checkbox(True, label=t("Private repo"))
            merged = gr.Checkbox(False, label=t("Push the merged model (not just the LoRA adapter)"))
        with gr.Row():
            preview_card = gr.Button(t("Preview the model card"), elem_id="preview-card-btn")
            push = gr.Button(t("Push to the Hub"), variant="primary", elem_id="push-btn")
        publish_message = gr.Markdown(elem_id="publish-message")
        card_view = gr.Markdown(elem_id="card-view")
    with gr.Tab(t("Merge & download")):
        merge = gr.Button(t("Merge LoRA into the base and zip it"), elem_id="merge-btn")
        merge_message = gr.Markdown()
        merged_file = gr.File(label=t("Merged model (zip)"), interactive=False, visible=False)
    with gr.Tab(t("GGUF (llama.cpp, Ollama)"), elem_id="gguf-tab"):
        gguf = create_gguf_panel()
    with gr.Tab(t("Get the script")):
        get_script = gr.Button(t("Get the training script"), elem_id="get-script-btn")
        script_view = gr.Code(language="python", label="train.py", elem_id="script-view")
        script_file = gr.File(label=t("Download train.py"), interactive=False, visible=False)
    with gr.Tab(t("Run on HF Jobs")):
        jobs = create_jobs_panel()
    return ExportPanel(run, refresh, repo_id, private, merged, trackio_space, preview_card, push, publish_message, card_view,
                       merge, merge_message, merged_file, gguf, get_script, script_view, script_file, jobs)


def handle_refresh_runs(selected: str | None = None):
    ids = finished_run_ids()
    return gr.update(choices=ids, value=selected if selected in ids else (ids[0] if ids else None))


def handle_preview_card(run_id: str | None, repo_id: str, merged: bool, request: gr.Request = None):
    """The card as it would be pushed (without sample generations, which need both models loaded)."""
    import tempfile

    use_request_language(request)
    from training.publish.hub import build_upload_folder, check_repo_id

    try:
        folder = Path(tempfile.mkdtemp(prefix="card-")) / "upload"
        build_upload_folder(run_dir(run_id), folder, check_repo_id(repo_id or "your-username/model-name"),
                            merged=False)
    except ValueError as exc:
        return f"⚠️ {translate_message(str(exc))}", ""
    files = ", ".join(sorted(p.name for p in folder.iterdir()))
    extra = " " + tr("The merged model replaces the adapter files when you push with it ticked.") if merged else ""
    card = (folder / "README.md").read_text().split("---", 2)[-1]
    return tr("Folder that would be pushed: {files}. Sample generations are added when pushing.", files=files) + extra, card


def handle_push(run_id: str | None, repo_id: str, private: bool, merged: bool, trackio_space: str,
                profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, request: gr.Request = None):
    use_request_language(request)
    if reason := refusal(profile):
        return f"🔒 {translate_message(reason)}"
    from training.publish.hub import collect_samples, push_run

    try:
        folder = run_dir(run_id)
        result = push_run(folder, repo_id, private=private, merged=merged, token=_token(oauth_token),
                          samples=collect_samples(folder), trackio_space_id=(trackio_space or "").strip() or None)
    except ValueError as exc:
        message = translate_message(str(exc))
        gr.Warning(message)
        return f"⚠️ {html.escape(message)}"
    space = " " + tr("Trackio synced to {space}.", space=result["trackio_space"]) if result["trackio_space"] else ""
    link = f"[{result['repo_id']}]({result['url']})"
    return "✅ " + (tr("Pushed to {link} (private).", link=link) if private else tr("Pushed to {link} (public).", link=link)) + space


def handle_merge(run_id: str | None, profile: gr.OAuthProfile | None, request: gr.Request = None):
    use_request_language(request)
    if reason := refusal(profile):
        return f"🔒 {translate_message(reason)}", gr.update(visible=False)
    from training.publish.merge import merge_run, zip_folder

    try:
        folder = run_dir(run_id)
        target = folder / "merged"
        if not (target / "config.json").exists():
            merge_run(folder, target)
        archive = zip_folder(target, folder / "merged.zip")
    except ValueError as exc:
        return f"⚠️ {translate_message(str(exc))}", gr.update(visible=False)
    return tr("Merged model of `{run}` in `{path}`.", run=run_id, path=target), gr.update(value=str(archive), visible=True)


def handle_get_script(run_id: str | None, profile: gr.OAuthProfile | None = None):
    """The run's training script; for visitors, server paths in it show as their file name only."""
    import tempfile

    from training.hosting.read_policy import hide_server_paths
    from training.hosting.secrets import redact
    from training.publish.script import SCRIPT_NAME, script_for_run

    try:
        folder = run_dir(run_id)
        text = redact(script_for_run(folder))
    except ValueError as exc:
        return f"# {exc}", gr.update(visible=False)
    if refusal(profile):
        text = hide_server_paths(text, config_read_names(get_run_manager().run_record(run_id).get("config") or {}))
        path = Path(tempfile.mkdtemp(prefix="script-")) / SCRIPT_NAME
    else:
        path = folder / SCRIPT_NAME
    path.write_text(text)
    return text, gr.update(value=str(path), visible=True)


def wire_export_panel(p: ExportPanel) -> None:
    p.refresh.click(handle_refresh_runs, p.run, p.run, queue=False)
    p.preview_card.click(handle_preview_card, [p.run, p.repo_id, p.merged], [p.publish_message, p.card_view],
                         concurrency_limit=1)
    p.push.click(handle_push, [p.run, p.repo_id, p.private, p.merged, p.trackio_space], p.publish_message,
                 concurrency_limit=1, concurrency_id=RUN_CONTROL, api_visibility="private")
    p.merge.click(handle_merge, p.run, [p.merge_message, p.merged_file], concurrency_limit=1, api_visibility="private")
    p.get_script.click(handle_get_script, p.run, [p.script_view, p.script_file])
    wire_jobs_panel(p.jobs, p.run)
    wire_gguf_panel(p.gguf, p.run)
