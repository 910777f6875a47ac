"""Train/Stop, the live status, the embedded Trackio dashboard, and the before/after result."""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import gradio as gr

from components.access import reading_for, refusal
from components.config_mapping import config_from_form, uploaded
from components.messages import describe_config_error
from components.translations import t, tr, translate_message, use_request_language
from training.config.schema import ConfigError
from training.run.manager import RunActiveError, RunStatus, get_run_manager

if TYPE_CHECKING:
    from components.settings_panels import SettingsForm

TRACKIO_PATH = "/trackio/"
# Start, Stop, Cancel, Push (buttons and API) share one slot: one at a time, never behind the read-only calls.
RUN_CONTROL = "run-control"


@dataclass
class TrainPanel:
    train: gr.Button
    stop: gr.Button
    cancel: gr.Button
    access_note: gr.Markdown
    progress: gr.HTML
    status: gr.Markdown
    config_view: gr.Code
    config_file: gr.File


def create_train_panel() -> TrainPanel:
    with gr.Row():
        train = gr.Button(t("Train"), variant="primary", elem_id="train-btn")
        stop = gr.Button(t("Stop (keep weights)"), variant="stop", elem_id="stop-btn")
        cancel = gr.Button(t("Cancel (discard)"), elem_id="cancel-btn")
    access_note = gr.Markdown(elem_id="access-note")
    progress = gr.HTML(render_progress(RunStatus(state="idle")), elem_id="train-progress")
    status = gr.Markdown(t("No run yet. Click **Train** to start."), elem_id="train-status")
    with gr.Accordion(t("Run config (reusable with `python -m training train --config`)"), open=False):
        config_view = gr.Code(language="json", value="", label=t("config"), elem_id="run-config")
        config_file = gr.File(label=t("Download config"), interactive=False)
    return TrainPanel(train, stop, cancel, access_note, progress, status, config_view, config_file)


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(round(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def render_progress(s: RunStatus) -> str:
    pct = 100.0 * s.step / s.total if s.total else (100.0 if s.state == "completed" else 0.0)
    preparing = tr("Preparing ({stage})", stage=translate_message(s.stage) if s.stage else tr("loading model and data"))
    label = {"idle": tr("Ready"), "running": tr("Training…") if s.phase == "training" else preparing,
             "stopping": tr("Stopping at the next step"), "completed": tr("Completed"), "stopped": tr("Stopped"),
             "failed": tr("Failed"), "cancelled": tr("Cancelled"),
             "interrupted": tr("Interrupted: resume it from History")}.get(s.state, s.state)
    eta = " · " + tr("ETA {time}", time=_fmt_seconds(s.eta_seconds)) if s.state == "running" and s.phase == "training" else ""
    steps = tr("step {step} / {total}", step=s.step, total=s.total) if s.total else ""
    color = {"failed": "#dc2626", "stopped": "#d97706", "interrupted": "#d97706", "completed": "#16a34a"}.get(s.state, "#2563eb")
    return (
        f'<div class="run-progress" data-state="{s.state}" data-step="{s.step}" data-total="{s.total}">'
        f'<div style="display:flex;justify-content:space-between;font-size:0.9em">'
        f"<b>{html.escape(label)}</b><span>{steps}{eta}</span></div>"
        f'<div style="background:#e5e7eb;border-radius:6px;height:14px;margin-top:4px">'
        f'<div style="width:{pct:.1f}%;background:{color};height:14px;border-radius:6px"></div></div></div>'
    )


def render_status(s: RunStatus) -> str:
    if s.state == "idle":
        return tr("No run yet. Click **Train** to start.")
    lines = [tr("**Run** `{run}` · state **{state}** · elapsed {elapsed}", run=s.run_id, state=tr(s.state),
                elapsed=_fmt_seconds(s.elapsed_seconds))]
    loss = s.last_metrics.get("loss")
    if loss is not None:
        lines.append(tr("Last loss: **{loss}** at step {step}", loss=f"{loss:.4f}", step=s.last_metrics.get("step")))
    rate, mfu = s.last_metrics.get("tokens_per_second"), s.last_metrics.get("mfu")
    if rate is not None:
        lines.append(tr("Throughput: **{rate}** tokens/s · MFU {mfu}", rate=f"{rate:,.0f}",
                        mfu=f"{mfu:.2%}" if mfu is not None else "?")
                     + (" · " + tr("peak GPU memory {gb} GB", gb=f"{s.last_metrics['peak_reserved_gb']:.1f}")
                        if s.last_metrics.get("peak_reserved_gb") is not None else ""))
    lines += [f"ℹ️ {translate_message(n)}" for n in s.notes]
    if s.error:
        lines.append(f"❌ **{html.escape(translate_message(s.error))}**")
    if s.model_dir:
        lines.append(tr("Weights: `{path}`", path=s.model_dir))
    return "\n\n".join(lines)


def handle_train(profile: gr.OAuthProfile | None, values: dict[str, Any]):
    """Start a run with the settings (by name) of the form."""
    reason = refusal(profile)
    if reason:
        reason = translate_message(reason)
        gr.Warning(reason)
        return f"🔒 {reason}", gr.skip(), gr.skip()
    try:
        config = config_from_form(values)
        run_id = get_run_manager().start(config)
    except RunActiveError as exc:
        message = translate_message(str(exc))
        gr.Warning(message)
        return f"⚠️ {message}", gr.skip(), gr.skip()
    except ConfigError as exc:
        gr.Warning(tr("Fix the settings first:") + " " + "; ".join(f"{name} {translate_message(msg)}"
                                                                    for name, msg in exc.problems))
        return describe_config_error(exc), gr.skip(), gr.skip()
    s = get_run_manager().status()
    cfg_path = Path(s.output_dir) / "config.json"
    cfg_path.write_text(json.dumps(s.config, indent=2))
    return tr("Started run `{run}`.", run=run_id), json.dumps(s.config, indent=2), str(cfg_path)


def wire_train(panel: TrainPanel, form: SettingsForm) -> None:
    def on_train(values: dict, profile: gr.OAuthProfile | None, request: gr.Request):
        use_request_language(request)
        named = form.named(values)
        with reading_for(profile, uploaded(named)):
            return handle_train(profile, named)

    panel.train.click(on_train, form.inputs, [panel.status, panel.config_view, panel.config_file],
                      concurrency_limit=1, concurrency_id=RUN_CONTROL, api_visibility="private", api_name="handle_train")


def handle_stop(profile: gr.OAuthProfile | None, request: gr.Request = None):
    use_request_language(request)
    if reason := refusal(profile):
        return f"🔒 {translate_message(reason)}"
    if get_run_manager().stop():
        return tr("Stopping at the next step; the weights trained so far will be saved.")
    return tr("No run is active.")


def handle_cancel(profile: gr.OAuthProfile | None, request: gr.Request = None):
    use_request_language(request)
    if reason := refusal(profile):
        return f"🔒 {translate_message(reason)}"
    if get_run_manager().cancel():
        return tr("Cancelling at the next step; this run's weights and checkpoints will be discarded.")
    return tr("No run is active.")


# Trackio plots against its own count of log calls unless told otherwise; transformers logs the trainer's step as
# "train/global_step" with every entry (trackio's frontend/src/lib/dataProcessing.js takes any logged column).
X_AXIS = "train/global_step"


def dashboard_metrics(key_metrics: tuple[str, ...]) -> tuple[str, ...]:
    """The method's key metrics with the ones a newcomer reads first at the front: the reward (GRPO, RLOO), then
    the loss."""
    first = [m for m in ("train/reward", "train/loss") if m in key_metrics] or ["train/loss"]
    return (*first, *(m for m in key_metrics if m not in first))


def dashboard_url(run_name: str | None, metrics: tuple[str, ...]) -> str:
    params = {"project": os.environ.get("TRACKIO_PROJECT", "finetune-studio"), "sidebar": "hidden", "navbar": "hidden",
              "metrics": ",".join(dashboard_metrics(metrics)), "x_axis": X_AXIS}
    if run_name:
        params["runs"] = run_name
    return TRACKIO_PATH + "?" + urlencode(params, safe="/,")


def render_dashboard(run_name: str | None, metrics: tuple[str, ...]) -> str:
    url = html.escape(dashboard_url(run_name, metrics))
    return (f'<iframe id="trackio-frame" src="{url}" title="Trackio dashboard" '
            'style="width:100%;height:560px;border:1px solid #e5e7eb;border-radius:8px"></iframe>')


_PLACEHOLDER_STYLE = "padding:24px;border:1px dashed #d1d5db;border-radius:8px"


def render_dashboard_empty() -> str:
    """Before the first run: what will appear here, instead of Trackio's empty-project developer text."""
    return (f'<div id="trackio-empty" style="{_PLACEHOLDER_STYLE}"><b>📈 ' + html.escape(tr("No training yet."))
            + "</b><br>" + html.escape(tr("When you click Train, the loss curve appears here and updates every second: "
                                          "a falling line means the model is learning.")) + "</div>")


def render_dashboard_waiting(run_name: str | None) -> str:
    return (f'<div id="trackio-waiting" style="{_PLACEHOLDER_STYLE}">'
            + html.escape(tr("Run {run} is loading; its plots appear here after the first logged step.",
                             run=str(run_name))) + "</div>")


@dataclass
class ResultPanel:
    where: gr.Markdown
    prompt: gr.Textbox
    picture: gr.Image  # shown for a vision-language run: the picture both models are asked about
    next_picture: gr.Button  # shown for a demo-vision run: the next held-out flag and its question
    picture_index: gr.State
    compare: gr.Button
    base_answer: gr.Textbox
    tuned_answer: gr.Textbox


def create_result_panel(questions: list[str] | None = None) -> ResultPanel:
    """Before vs after on one prompt, pre-filled with `questions` (default: the demo's held-out questions)."""
    if questions is None:
        from training.data.demo_data import demo_questions

        questions = [q.question for q in demo_questions()]
    where = gr.Markdown(t("Train a model to compare it with its base here."), elem_id="result-where")
    prompt = gr.Textbox(value=questions[0] if questions else "", label=t("Prompt"), elem_id="compare-prompt",
                        info=t("Pre-filled with the demo's held-out questions: their wording appears nowhere in the "
                               "training data, so a right answer shows the model learned the fact, not the sentence."))
    picture = gr.Image(type="pil", sources=["upload", "clipboard"], label=t("Picture"), height=160, visible=False,
                       elem_id="compare-picture")
    next_picture = gr.Button(t("Another held-out picture"), size="sm", visible=False, elem_id="compare-next-picture")
    picture_index = gr.State(0)
    if questions:
        gr.Examples([[q] for q in questions], inputs=[prompt], label=t("Held-out questions"))
    compare = gr.Button(t("Compare base vs fine-tuned"), elem_id="compare-btn")
    with gr.Row():
        base = gr.Textbox(label=t("Base model"), interactive=False, elem_id="base-answer", lines=3, min_width=200)
        tuned = gr.Textbox(label=t("Fine-tuned model"), interactive=False, elem_id="tuned-answer", lines=3, min_width=200)
    return ResultPanel(where, prompt, picture, next_picture, picture_index, compare, base, tuned)


def display_answer(text: str) -> str:
    """The answer as shown: say so when a model produced no visible text (an untrained model often does)."""
    return text if text.strip() else tr("(no visible text: the model produced only whitespace or special tokens)")


def finished_run() -> RunStatus | None:
    """The newest run with weights to chat with; None (with a warning) otherwise."""
    from training.methods.registry import get_method

    s = get_run_manager().status()
    if not s.model_dir or s.active:
        gr.Warning(tr("No finished run yet: train (or wait for the run to finish) first."))
        return None
    if get_method((s.config or {}).get("method", "sft")).result_view == "scores":
        gr.Warning(tr("This run trained a reward model, which scores answers instead of writing them: "
                      "use 'Score chosen vs rejected' below."))
        return None
    return s


def run_sees_pictures(s: RunStatus) -> bool:
    from training.models.loading import reads_images

    model = (s.config or {}).get("model") or {}
    return bool(s.model_dir) and reads_images(s.model_dir, model.get("name_or_path", ""), model.get("trust_remote_code") is True)


def result_picture_update(s: RunStatus) -> tuple:
    """(picture box, "another held-out picture" button, prompt) updates for the run now shown: for a vision-language
    run the picture box appears; when it trained on the built-in demo, it holds the demo's first held-out flag and
    its question, and the button walks through the others. Hidden for any other run (the prompt then stays as the
    user left it)."""
    if s.active or not run_sees_pictures(s):
        return gr.update(visible=False, value=None), gr.update(visible=False), gr.skip()
    from training.data.demo_vision_data import demo_vision_held_out, is_demo_vision

    if not is_demo_vision(((s.config or {}).get("data") or {}).get("source")):
        return gr.update(visible=True), gr.update(visible=False), gr.skip()
    first = demo_vision_held_out()[0]
    return gr.update(visible=True, value=first["image"]), gr.update(visible=True), gr.update(value=first["prompt"])


def handle_next_picture(index: int | None):
    """The demo's next held-out flag (pictures and wordings never trained on) and its question, in turn."""
    from training.data.demo_vision_data import demo_vision_held_out

    held_out = demo_vision_held_out()
    index = ((index or 0) + 1) % len(held_out)
    return held_out[index]["image"], held_out[index]["prompt"], index, "", ""


def handle_compare(prompt: str, picture=None, request: gr.Request = None):
    from training.run.inference import compare

    use_request_language(request)
    s = finished_run()
    if s is None:
        return "", ""
    if not (prompt or "").strip():
        gr.Warning(tr("Type a prompt first."))
        return "", ""
    model = s.config["model"]
    try:
        if run_sees_pictures(s):
            if picture is None:
                gr.Warning(tr("This run answers questions about pictures: add a picture first."))
                return "", ""
            from training.run.vision_inference import generate_with_image

            base, tuned = (generate_with_image(model["name_or_path"], prompt, picture, weights, s.system_prompt,
                                               trust_remote_code=model["trust_remote_code"]) for weights in (None, s.model_dir))
        else:
            base, tuned = compare(model["name_or_path"], s.model_dir, prompt, s.system_prompt, model["trust_remote_code"])
        return display_answer(base), display_answer(tuned)
    except ValueError as exc:
        gr.Warning(translate_message(str(exc)))
        return "", ""


def render_where(s: RunStatus) -> str:
    if s.model_dir and not s.active:
        return tr("Run `{run}` ({state}). Fine-tuned weights: `{path}`", run=s.run_id, state=tr(s.state), path=s.model_dir)
    if s.active:
        return tr("Run `{run}` is training; compare when it finishes.", run=s.run_id)
    return tr("Train a model to compare it with its base here.")
