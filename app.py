"""Fine-tune Studio: pick a model, a dataset and a method; validate, estimate, train, compare.

`build_app()` composes the panels and wires their events; `create_server()` puts the app and
the Trackio dashboard on one FastAPI server (a Space exposes one port); `main()` serves it.
Nothing heavy happens at import: torch, transformers and TRL load on first use.
"""

from __future__ import annotations

import os

import gradio as gr

from components.access import handle_access, sign_in_supported
from components.api import register_api
from components.dry_run_panel import create_dry_run_panel, wire_dry_run
from components.estimate_panel import create_estimate_panel, wire_estimate
from components.export_panel import create_export_panel, wire_export_panel
from components.history_panel import create_history_panel, history_rows, wire_history_panel
from components.method_results import create_scores_panel, wire_scores_panel
from components.run_panels import (
    create_result_panel,
    create_train_panel,
    handle_cancel,
    handle_check_all,
    handle_compare,
    handle_stop,
    render_dashboard,
    render_dashboard_waiting,
    render_progress,
    render_status,
    render_where,
    wire_train,
)
from components.settings_panels import create_settings_form
from components.validate_panel import create_validate_panel
from training.config.schema import RunConfig
from training.hosting.access import AccessPolicy
from training.hosting.paths import configure_trackio_env
from training.methods.registry import get_method
from training.run.manager import get_run_manager

CSS = """
.hint {font-size: 0.85em; opacity: 0.8}
#trackio-frame {background: white}
"""

INTRO = """# Fine-tune Studio
Pick a model, a dataset and a method. **Validate** reads every row, **Estimate** shows time, cost and memory,
**Train** runs TRL in the background with live metrics, and the result compares the base and fine-tuned model.
The defaults run offline: a tiny built-in model memorises invented facts in about a minute on a CPU."""


def default_config() -> tuple[RunConfig, str | None]:
    from training.models.loading import default_model

    name, note = default_model()
    if name == "demo":
        return RunConfig.demo(), note
    config = RunConfig()
    config.model.name_or_path = name
    return config, note


def handle_poll(shown: str | None):
    """Refresh the live view; the dashboard only when the run changes, the history when its state does."""
    s = get_run_manager().status()
    logged = bool(s.metrics)
    key = f"{s.run_name}|{s.state}|{int(logged)}"
    old_run, old_state, old_logged = ((shown or "") + "||").split("|")[:3]
    dashboard = history = gr.skip()
    if (old_run, old_logged) != (str(s.run_name), str(int(logged))):
        # The dashboard opens on the run's key metrics once they exist (Trackio shows system metrics until then).
        dashboard = (render_dashboard(s.run_name, get_method((s.config or {}).get("method", "sft")).key_metrics)
                     if logged or not s.active else render_dashboard_waiting(s.run_name))
    if (old_run, old_state) != (str(s.run_name), s.state):
        history = history_rows()[0]
    return render_progress(s), render_status(s), dashboard, render_where(s), history, key


def warn_remote_code(enabled: bool) -> None:
    if enabled:
        gr.Warning("Trust remote code runs Python files from the model repository on this machine. "
                   "Only turn it on for models whose authors you trust.")


def build_app() -> gr.Blocks:
    from training.data.demo_data import demo_questions
    from training.estimate.hardware import detect_flavor

    config, note = default_config()
    policy = AccessPolicy.from_env()
    with gr.Blocks(title="Fine-tune Studio") as demo:
        with gr.Row():
            gr.Markdown(INTRO)
            if policy.requires_sign_in:
                if sign_in_supported():
                    gr.LoginButton(scale=0, min_width=220)
                else:
                    gr.Markdown("Sign-in with Hugging Face is unavailable here (Gradio's login needs a real Space, or a "
                                "Hub login when run locally), so training is closed to everyone."
                                + ("" if policy.on_space else " Unset ALLOWED_USERS to train locally."))
        with gr.Row():
            with gr.Column(scale=1):
                gr.Markdown("## 1. Model, data and method")
                form = create_settings_form(config, note)
            with gr.Column(scale=1):
                gr.Markdown("## 2. Validate")
                create_validate_panel(form)
                gr.Markdown("## 3. Estimate")
                estimate = create_estimate_panel(detect_flavor())
                dry = create_dry_run_panel()
                gr.Markdown("## 4. Train")
                train = create_train_panel()
        gr.Markdown("## 5. Live metrics")
        s = get_run_manager().status()
        dashboard = gr.HTML(render_dashboard(s.run_name, get_method("sft").key_metrics), elem_id="dashboard")
        gr.Markdown("## 6. Before vs after")
        result = create_result_panel([q.question for q in demo_questions()])
        scores = create_scores_panel()
        gr.Markdown("## 7. History")
        history = create_history_panel()
        gr.Markdown("## 8. Publish, download, script, HF Jobs")
        export = create_export_panel()
        shown_run = gr.State(None)

        wire_estimate(estimate, form)
        wire_dry_run(dry, form)
        wire_train(train, form)
        train.stop.click(handle_stop, None, train.status, concurrency_limit=None, api_visibility="private")
        train.cancel.click(handle_cancel, None, train.status, concurrency_limit=None, api_visibility="private")
        result.compare.click(handle_compare, result.prompt, [result.base_answer, result.tuned_answer], concurrency_limit=1)
        result.check_all.click(handle_check_all, None, [result.where, result.scoreboard], concurrency_limit=1)
        timer = gr.Timer(1.0)
        timer.tick(handle_poll, shown_run, [train.progress, train.status, dashboard, result.where, history.table, shown_run],
                   queue=False, show_progress="hidden", api_visibility="private")
        wire_history_panel(history)
        wire_scores_panel(scores)
        wire_export_panel(export)
        register_api()
        demo.load(handle_access, None, [train.access_note, train.train, train.stop, train.cancel], queue=False)
        trust = form.widgets["model.trust_remote_code"]
        trust.change(warn_remote_code, trust, None, queue=False)
    return demo


class ReadOnlyTrackio:
    """Trackio's dashboard as a read-only ASGI app, built on its first request so start-up does not import it.

    Training writes Trackio's SQLite directly from the training thread, so no HTTP write is ever needed:
    every write API (log, delete_run, rename_run, uploads, ...) is refused here for everyone, on top of
    Trackio's own write-token check. The write token is never shown."""

    def __init__(self):
        self._app = None
        self._write_paths: frozenset[str] = frozenset()

    async def __call__(self, scope, receive, send):
        if self._app is None:
            import trackio
            from trackio.server import WRITE_APIS

            self._app, _write_token = trackio.build_starlette_app_only()
            self._write_paths = frozenset({f"/api/{name}" for name in WRITE_APIS} | {"/api/upload"})
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        path = path[len(root):] if root and path.startswith(root) else path
        if scope["type"] == "http" and scope.get("method") != "GET" and path.rstrip("/") in self._write_paths:
            from starlette.responses import JSONResponse

            response = JSONResponse({"error": "This dashboard is read-only: runs are logged by the app itself."}, status_code=403)
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)


def create_server():
    """FastAPI app with Trackio at /trackio and the Gradio UI at /."""
    from fastapi import FastAPI

    configure_trackio_env()
    server = FastAPI()
    server.mount("/trackio", ReadOnlyTrackio())
    max_mb = int(os.environ.get("MAX_UPLOAD_MB", "500"))
    return gr.mount_gradio_app(server, build_app(), path="/", css=CSS, max_file_size=f"{max_mb}mb",
                               footer_links=["api", "settings"])


def main() -> None:
    import uvicorn

    from training.hosting.secrets import install_log_redaction, redact_std_streams

    redact_std_streams()
    install_log_redaction()
    host = os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    print(f"Fine-tune Studio on http://{host}:{port}", flush=True)
    uvicorn.run(create_server(), host=host, port=port, log_level="warning")


if __name__ == "__main__":
    main()
