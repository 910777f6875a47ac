"""Fine-tune Studio: pick a model, a dataset and a method; validate, estimate, train, compare.

`build_app()` composes the panels and wires their events; `create_server()` puts the app and
the Trackio dashboard on one FastAPI server (a Space exposes one port); `main()` serves it.
Nothing heavy happens at import: torch, transformers and TRL load on first use.
"""

from __future__ import annotations

import os

import gradio as gr

from components.access import create_sign_in, handle_access
from components.api import add_status_fast_path, register_api
from components.card_table import TABLE_CSS
from components.chat_panel import create_chat_panel, wire_chat_panel
from components.dry_run_panel import create_dry_run_panel, wire_dry_run
from components.estimate_panel import create_estimate_panel, wire_estimate
from components.eval_panel import create_eval_panel, wire_eval_panel
from components.export_panel import create_export_panel, wire_export_panel
from components.history_panel import create_history_panel, wire_history_panel
from components.learning_panel import create_learning_panel, wire_learning_panel
from components.live_view import LiveView, create_dashboard, wire_live_view
from components.method_results import create_scores_panel, wire_scores_panel
from components.run_panels import (
    RUN_CONTROL,
    create_result_panel,
    create_train_panel,
    handle_cancel,
    handle_compare,
    handle_next_picture,
    handle_stop,
    wire_train,
)
from components.settings_panels import finish_settings_form, new_settings_form, render_sections
from components.translations import build_i18n, t
from components.validate_panel import create_validate_panel, wire_validate
from training.hosting.paths import configure_trackio_env
from training.hosting.trackio_mount import TrackioMount, capture_configured_token

CSS = """
.hint {font-size: 0.85em; opacity: 0.8}
.step-hint {font-size: 1.02em}
#trackio-frame {background: white}
/* Fits every screen: wide tables scroll inside their own box instead of widening the page. */
.table-wrap, .table-container, [data-testid="dataframe"] {max-width: 100%; overflow-x: auto}
.prose table {display: block; max-width: 100%; overflow-x: auto}
.prose pre, .prose code {white-space: pre-wrap; overflow-wrap: anywhere}
#validate-preview, #rendered-preview {max-width: 100%; overflow-x: auto}
@media (max-width: 640px) {
  #header {flex-wrap: wrap}
  #trackio-frame {height: 420px !important}
}
"""

INTRO = """# Fine-tune Studio
Teach a language model from your own examples, in five steps: **1 Data → 2 Model & method → 3 Cost → 4 Train →
5 Results**. In each step, click the highlighted button, then **Next**. The defaults run offline on a small built-in
model, so you can click through without changing anything."""

STEPS = ("1 · Data", "2 · Model & method", "3 · Cost", "4 · Train", "5 · Results")
STEP_HINTS = (
    "**Step 1 of 5: your data.** Keep the built-in demo dataset or upload your own file, then click **Validate "
    "dataset**: every row is checked and you see what the model will read.",
    "**Step 2 of 5: model and method.** The defaults suit the demo. Choose a method if you have other data; the "
    "advanced settings stay folded away until you need them.",
    "**Step 3 of 5: cost.** See how long the run takes, what it costs on each kind of hardware and how much memory "
    "it needs, before you spend anything.",
    "**Step 4 of 5: train.** Click **Train**. The progress bar and the live loss curve update by themselves; you can "
    "stop at any time and keep the weights trained so far.",
    "**Step 5 of 5: results.** Ask the base model and the fine-tuned one the same question, side by side, or click "
    "**Did it learn?** to ask them every held-out question and read the verdict in plain words; then try the blind "
    "test. Your past runs, downloads and publishing are below.",
)


def build_app() -> gr.Blocks:
    with gr.Blocks(title="Fine-tune Studio") as demo:
        with gr.Row(elem_id="header"):
            gr.Markdown(t(INTRO), elem_id="intro")
            create_sign_in()
        form = new_settings_form()  # the default config (the demo model offline)
        with gr.Tabs(selected=1, elem_id="steps") as steps:
            with gr.Tab(t(STEPS[0]), id=1, elem_id="step-data"):
                gr.Markdown(t(STEP_HINTS[0]), elem_classes=["step-hint"])
                render_sections(form, ["data"], "More dataset settings", "advanced-data-settings")
                validate = create_validate_panel(full_check=True)
                next_buttons = [gr.Button(t("Next: model and method →"), elem_id="next-1")]
            with gr.Tab(t(STEPS[1]), id=2, elem_id="step-model"):
                gr.Markdown(t(STEP_HINTS[1]), elem_classes=["step-hint"])
                render_sections(form, ["model", "", "lora", "train"])
                next_buttons.append(gr.Button(t("Next: cost →"), variant="primary", elem_id="next-2"))
            with gr.Tab(t(STEPS[2]), id=3, elem_id="step-cost"):
                gr.Markdown(t(STEP_HINTS[2]), elem_classes=["step-hint"])
                estimate = create_estimate_panel()
                dry = create_dry_run_panel()
                next_buttons.append(gr.Button(t("Next: train →"), elem_id="next-3"))
            with gr.Tab(t(STEPS[3]), id=4, elem_id="step-train"):
                gr.Markdown(t(STEP_HINTS[3]), elem_classes=["step-hint"])
                train = create_train_panel()
                gr.Markdown("### " + t("Live metrics"))
                dashboard = create_dashboard()
                next_buttons.append(gr.Button(t("Next: results →"), elem_id="next-4"))
            with gr.Tab(t(STEPS[4]), id=5, elem_id="step-results"):
                gr.Markdown(t(STEP_HINTS[4]), elem_classes=["step-hint"])
                gr.Markdown("### " + t("Before vs after"))
                result = create_result_panel()
                gr.Markdown("### " + t("Did it learn?"))
                learning = create_learning_panel()
                scores = create_scores_panel()
                gr.Markdown("### " + t("Chat with it"))
                with gr.Column(elem_id="chat-section"):
                    chat = create_chat_panel()
                gr.Markdown("### " + t("Evaluate on benchmarks"))
                with gr.Column(elem_id="eval-section"):
                    evaluation = create_eval_panel()
                gr.Markdown("### " + t("History"))
                history = create_history_panel()
                gr.Markdown("### " + t("Publish, download, script, HF Jobs"))
                with gr.Column(elem_id="export-section"):
                    export = create_export_panel()
        finish_settings_form(form)  # every setting exists now: wire the events that read all of them
        wire_validate(validate, form)
        for number, button in enumerate(next_buttons, start=2):
            button.click(lambda n=number: gr.Tabs(selected=n), None, steps, queue=False, api_visibility="private",
                         js="() => { window.scrollTo({top: 0}); }")

        wire_estimate(estimate, form)
        wire_dry_run(dry, form)
        wire_train(train, form)
        train.stop.click(handle_stop, None, train.status, concurrency_limit=1, concurrency_id=RUN_CONTROL,
                         api_visibility="private")
        train.cancel.click(handle_cancel, None, train.status, concurrency_limit=1, concurrency_id=RUN_CONTROL,
                           api_visibility="private")
        result.next_picture.click(handle_next_picture, result.picture_index,
                                  [result.picture, result.prompt, result.picture_index, result.base_answer, result.tuned_answer],
                                  queue=False, api_visibility="private")
        result.compare.click(handle_compare, [result.prompt, result.picture], [result.base_answer, result.tuned_answer],
                             concurrency_limit=1)
        wire_learning_panel(learning)
        wire_live_view(LiveView(train.progress, train.status, dashboard, result.where, result.picture, result.next_picture, result.prompt,
                                history.table, history.run,
                                export.run, chat.run, gr.State(None)))
        wire_history_panel(history)
        wire_scores_panel(scores)
        wire_chat_panel(chat)
        wire_eval_panel(evaluation)
        wire_export_panel(export)
        register_api()
        demo.load(handle_access, None, [train.access_note, train.train, train.stop, train.cancel], queue=False)
    return demo


def create_server():
    """FastAPI app with Trackio at /trackio and the Gradio UI at /."""
    from fastapi import FastAPI

    configure_trackio_env()
    capture_configured_token()  # TRACKIO_WRITE_TOKEN stays in this process, out of child processes' environment
    server = FastAPI()
    server.mount("/trackio", TrackioMount())  # reads open; writes only with the write token (HF Jobs report here)
    add_status_fast_path(server)  # status polls skip Gradio's per-call session set-up (components/api.py)
    max_mb = int(os.environ.get("MAX_UPLOAD_MB", "500"))
    return gr.mount_gradio_app(server, build_app(), path="/", css=CSS + TABLE_CSS, max_file_size=f"{max_mb}mb",
                               footer_links=["api", "settings"], i18n=build_i18n())


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
