"""The "Check it runs" button: a few real optimizer steps with the exact settings, then seconds/step and peak memory.

Wiring in app.py (after `form = create_settings_form(...)`):

    dry = create_dry_run_panel()      # where the button should appear, e.g. under Estimate
    wire_dry_run(dry, form)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from components.access import reading_for, refusal
from components.config_mapping import config_from_form, uploaded
from components.messages import describe_config_error
from components.translations import t, tr, translate_message, use_request_language
from training.config.schema import ConfigError

if TYPE_CHECKING:
    from components.settings_panels import SettingsForm


@dataclass
class DryRunPanel:
    button: gr.Button
    summary: gr.Markdown


def create_dry_run_panel() -> DryRunPanel:
    button = gr.Button(t("Check it runs (3 real steps)"), variant="secondary", elem_id="dry-run-btn")
    summary = gr.Markdown(t("Runs 3 optimizer steps on a handful of rows with exactly these settings: proves the data, "
                            "masking, rewards and memory work, and measures speed. Nothing is saved."),
                          elem_id="dry-run-summary", elem_classes=["hint"])
    return DryRunPanel(button, summary)


def render_dry_run(report) -> str:
    """Markdown for a DryRunReport."""
    if not report.ok:
        return f"❌ **{tr('It does not run.')}** {translate_message(str(report.error))}"
    lines = [f"✅ **{tr('It runs.')}** {translate_message(report.summary())}"]
    if report.first_step_seconds is not None:
        lines.append(tr("First step {first} s (includes warm-up); later steps {later} s each.",
                        first=f"{report.first_step_seconds:.2f}", later=f"{report.seconds_per_step:.2f}"))
    shown = [m for m in report.metrics if len(m) > 2][-1:] if report.metrics else []
    for m in shown:
        figures = ", ".join(f"{k} {v:.4g}" for k, v in m.items() if k not in ("step", "epoch", "learning_rate")
                            and isinstance(v, (int, float)))
        lines.append(tr("Last step's metrics:") + f" {figures}")
    lines += [f"ℹ️ {translate_message(n)}" for n in report.notes]
    return "\n\n".join(lines)


def handle_dry_run(values: dict[str, Any]) -> str:
    """3 real optimizer steps with the settings (by name) of the form."""
    from training.models.adapters import qlora_unavailable_reason
    from training.run.dry_run import dry_run
    from training.run.manager import get_run_manager

    if get_run_manager().status().active:
        gr.Warning(tr("A run is training; check after it finishes."))
        return "⚠️ " + tr("A run is training now; check it runs after it finishes (both would compete for the same memory).")
    try:
        config = config_from_form(values)
    except ConfigError as exc:
        return describe_config_error(exc)
    if config.peft_mode == "qlora" and qlora_unavailable_reason():
        return f"❌ {translate_message(qlora_unavailable_reason())}"
    return render_dry_run(dry_run(config))


def wire_dry_run(panel: DryRunPanel, form: SettingsForm) -> None:
    def on_dry_run(values: dict, profile: gr.OAuthProfile | None, request: gr.Request):
        """Real steps on this machine's GPU spend it: only for those allowed to train."""
        use_request_language(request)
        if reason := refusal(profile):
            return f"🔒 {translate_message(reason)}"
        named = form.named(values)
        with reading_for(profile, uploaded(named)):
            return handle_dry_run(named)

    panel.button.click(on_dry_run, form.inputs, panel.summary, concurrency_limit=1, api_visibility="private",
                       api_name="handle_dry_run")
