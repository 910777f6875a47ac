"""The "Check it runs" button: a few real optimizer steps with the exact settings, then seconds/step and peak memory.

Wiring in app.py (after `form = create_settings_form(...)`):

    dry = create_dry_run_panel()      # where the button should appear, e.g. under Estimate
    wire_dry_run(dry, form)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from components.config_mapping import config_from_form
from components.messages import describe_config_error
from training.config.schema import ConfigError

if TYPE_CHECKING:
    from components.settings_panels import SettingsForm


@dataclass
class DryRunPanel:
    button: gr.Button
    summary: gr.Markdown


def create_dry_run_panel() -> DryRunPanel:
    button = gr.Button("Check it runs (3 real steps)", variant="secondary", elem_id="dry-run-btn")
    summary = gr.Markdown("Runs 3 optimizer steps on a handful of rows with exactly these settings: proves the data, "
                          "masking, rewards and memory work, and measures speed. Nothing is saved.",
                          elem_id="dry-run-summary", elem_classes=["hint"])
    return DryRunPanel(button, summary)


def render_dry_run(report) -> str:
    """Markdown for a DryRunReport."""
    if not report.ok:
        return f"❌ **It does not run.** {report.error}"
    lines = [f"✅ **It runs.** {report.summary()}"]
    if report.first_step_seconds is not None:
        lines.append(f"First step {report.first_step_seconds:.2f} s (includes warm-up); later steps "
                     f"{report.seconds_per_step:.2f} s each.")
    shown = [m for m in report.metrics if len(m) > 2][-1:] if report.metrics else []
    for m in shown:
        figures = ", ".join(f"{k} {v:.4g}" for k, v in m.items() if k not in ("step", "epoch", "learning_rate")
                            and isinstance(v, (int, float)))
        lines.append(f"Last step's metrics: {figures}")
    lines += [f"ℹ️ {n}" for n in report.notes]
    return "\n\n".join(lines)


def handle_dry_run(values: dict[str, Any]) -> str:
    """3 real optimizer steps with the settings (by name) of the form."""
    from training.models.adapters import qlora_unavailable_reason
    from training.run.dry_run import dry_run
    from training.run.manager import get_run_manager

    if get_run_manager().status().active:
        gr.Warning("A run is training; check after it finishes.")
        return "⚠️ A run is training now; check it runs after it finishes (both would compete for the same memory)."
    try:
        config = config_from_form(values)
    except ConfigError as exc:
        return describe_config_error(exc)
    if config.peft_mode == "qlora" and qlora_unavailable_reason():
        return f"❌ {qlora_unavailable_reason()}"
    return render_dry_run(dry_run(config))


def wire_dry_run(panel: DryRunPanel, form: SettingsForm) -> None:
    panel.button.click(form.bind(handle_dry_run), form.inputs, panel.summary, concurrency_limit=1,
                       api_visibility="private", api_name="handle_dry_run")
