"""Estimate panel: time, dollars and memory of the run on every flavor, before it starts.

The summary speaks plainly about the chosen hardware; the table lists every flavor with this
machine marked and the cheapest flavor that fits highlighted; the details list the assumptions.
It refreshes by itself when a setting changes (queued, latest settings win), so it never blocks
the page. Handlers are thin: map the form's values (by name) to a RunConfig, call training.estimate.quote.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from components.access import reading_for
from components.card_table import render_table
from components.config_mapping import HUB_ID, SOURCE_KIND, UPLOAD, config_from_form, store_upload, upload_path, uploaded
from components.messages import describe_config_error
from components.translations import t, tr, translate_message, use_request_language
from training.config.schema import ConfigError
from training.estimate.hardware import CATALOGUE
from training.hosting.read_policy import grant

if TYPE_CHECKING:
    from components.settings_panels import SettingsForm

TABLE_HEADERS = ["Hardware", "Time", "Cost", "Memory needed", "Fits", "Notes"]  # figures first, the marks last
_REPORTS_KEPT = 8


@dataclass
class EstimatePanel:
    hardware: gr.Dropdown
    button: gr.Button
    summary: gr.Markdown
    table: gr.HTML
    details: gr.Markdown

    @property
    def outputs(self) -> list:
        return [self.summary, self.table, self.details]


def create_estimate_panel(current_flavor: str | None = None) -> EstimatePanel:
    """The panel, with the hardware picker on `current_flavor` (default: the flavor of this machine)."""
    if current_flavor is None:
        from training.estimate.hardware import detect_flavor

        current_flavor = detect_flavor()
    with gr.Row():
        hardware = gr.Dropdown([(f.label, f.name) for f in CATALOGUE.values()], value=current_flavor,
                               label=t("Hardware"), info=t("This machine:") + f" {CATALOGUE[current_flavor].label}",
                               elem_id="hardware")
        button = gr.Button(t("Estimate"), variant="primary", elem_id="estimate-btn")
    summary = gr.Markdown(elem_id="estimate-summary")
    gr.Markdown("**" + t("Every flavor") + "**", elem_classes=["hint"])
    table = gr.HTML(elem_id="estimate-table")  # components/card_table.py: wraps, and one card per flavor on a phone
    with gr.Accordion(t("How this was estimated"), open=False):
        details = gr.Markdown(elem_id="estimate-details")
    return EstimatePanel(hardware, button, summary, table, details)


def wire_estimate(panel: EstimatePanel, form: SettingsForm) -> None:
    """The button, plus a refresh whenever a setting changes: text and numbers on blur/Enter (not every
    keystroke), choices on change. All share one queue slot; only the latest pending request runs."""
    triggers = [panel.button.click, panel.hardware.change]
    for comp in form.components.values():
        if isinstance(comp, (gr.Textbox, gr.Number)):
            triggers += [comp.blur, comp.submit]
        else:
            triggers.append(comp.change)

    def on_estimate(values: dict, profile: gr.OAuthProfile | None, request: gr.Request):
        use_request_language(request)
        named = form.named(values)
        with reading_for(profile, uploaded(named)):
            return handle_estimate(values[panel.hardware], named)

    gr.on(triggers, on_estimate, {panel.hardware, *form.inputs}, panel.outputs, trigger_mode="always_last",
          concurrency_limit=2, concurrency_id="estimate", show_progress="minimal", api_name="handle_estimate")


# --- handler -----------------------------------------------------------------------------------

_uploads: dict[str, str] = {}
_reports: dict[tuple, object] = {}
_cache_lock = threading.Lock()


def _stored_upload(values: dict[str, Any]) -> dict[str, Any]:
    """Copy an upload into the data folder once per uploaded file, not on every refresh."""
    temp = upload_path(values.get(UPLOAD))
    if values.get(SOURCE_KIND) != "upload" or not temp:
        return values
    with _cache_lock:
        stored = _uploads.get(temp)
    if stored is None or not os.path.exists(stored):
        stored = store_upload(temp)
        with _cache_lock:
            _uploads[temp] = stored
    grant(stored)  # this caller's own upload (Gradio handed `temp` to this event)
    # an existing file path given as the Hub id is read as that file
    return {**values, SOURCE_KIND: "hub", HUB_ID: stored}


def _report_key(config) -> tuple:
    d = config.data
    try:
        mtime = os.path.getmtime(d.source)
    except (OSError, ValueError):
        mtime = None
    return (config.model.name_or_path, d.source, mtime, d.split, d.subset, json.dumps(d.column_map, sort_keys=True),
            d.max_rows, config.method, config.train.max_length)


def flavor_rows(estimates, selected: str) -> list[list[str]]:
    """One row of plain text per flavor, in TABLE_HEADERS' order."""
    from training.estimate.quote import cheapest_fitting, plain_cost, plain_duration

    best = cheapest_fitting(estimates)
    rows = []
    for e in estimates:
        marks = []
        if e.current:
            marks.append("📍 " + tr("this machine"))
        if best is not None and e.hardware == best.hardware:
            marks.append("⭐ " + tr("cheapest that fits"))
        if e.hardware == selected and not e.current:
            marks.append(tr("selected"))
        time = tr("unknown") if e.seconds is None else translate_message(plain_duration(e.seconds)).replace(tr("about") + " ", "~")
        if e.time_source == "measured":
            time += " (" + tr("measured") + ")"
        cost = tr("unknown") if e.cost_usd is None else translate_message(plain_cost(e.cost_usd)).replace(tr("about") + " ", "~")
        memory = tr("unknown") if e.gpu_memory_gb is None else f"{e.gpu_memory_gb:.1f} / {e.available_memory_gb:g} GB"
        fits = {"fits": "✅ " + tr("fits"), "tight": "⚠️ " + tr("tight"), "does not fit": "❌ " + tr("no"),
                "unknown": "?"}[e.verdict]
        rows.append([e.hardware_label, time, cost, memory, fits, ", ".join(marks)])
    return rows


def flavor_table(estimates, selected: str) -> str:
    """Every flavor as a table that fits the screen (a card per flavor on a phone), the cheapest that fits in bold."""
    from training.estimate.quote import cheapest_fitting

    best = cheapest_fitting(estimates)
    strong = [n for n, e in enumerate(estimates) if best is not None and e.hardware == best.hardware]
    return render_table([tr(h) for h in TABLE_HEADERS], flavor_rows(estimates, selected), strong=strong,
                        table_id="flavor-table")


def render_summary(est, best, report) -> str:
    head = f"### {translate_message(est.summary)}"
    if report is not None and not report.valid:
        head += "\n\n⚠️ " + tr("The dataset has errors; validate it first. The estimate assumes its usable rows.")
    if est.verdict == "does not fit" and est.fix:
        s = est.fix["settings"]
        from training.estimate.quote import plain_cost, plain_duration

        head += "\n\n❌ " + tr("**Does not fit.** Cheapest change that fits: **{change}** (needs {gb} GB).",
                                change=translate_message(est.fix["change"]), gb=f"{est.fix['gpu_memory_gb']:.1f}")
        head += " " + tr("Then: {duration}, {cost}.", duration=translate_message(plain_duration(est.fix["seconds"])),
                         cost=translate_message(plain_cost(est.fix["cost_usd"])))
        if s.get("quantization") or s.get("gradient_checkpointing"):
            head += " " + tr("Gradient checkpointing and QLoRA (NVIDIA GPU only) are under Advanced settings.")
    elif est.verdict == "does not fit":
        head += "\n\n❌ " + tr("**Does not fit on any flavor.** Pick a smaller model.")
    head += checkpointing_trade(est)
    if best is not None and best.hardware != est.hardware:
        from training.estimate.quote import plain_cost, plain_duration

        head += "\n\n" + tr("Cheapest flavor that fits: **{label}**, {duration}, {cost}.", label=best.hardware_label,
                               duration=translate_message(plain_duration(best.seconds)),
                               cost=translate_message(plain_cost(best.cost_usd)))
    return head


def checkpointing_trade(est) -> str:
    """One line: what gradient checkpointing costs in time and saves in memory for this run (GPU flavors)."""
    choice = (getattr(est, "choices", None) or {}).get("gradient_checkpointing")
    if not choice or not choice["on"].get("seconds") or not choice["off"].get("seconds"):
        return ""
    from training.estimate.quote import plain_duration

    on, off = choice["on"], choice["off"]
    text = tr("Gradient checkpointing {state}: on {on_time} and {on_gb} GB, off {off_time} and {off_gb} GB{oom}.",
              state=tr("on") if choice["chosen"] else tr("off"), on_time=translate_message(plain_duration(on["seconds"])),
              on_gb=f"{on['gpu_memory_gb']:.1f}", off_time=translate_message(plain_duration(off["seconds"])),
              off_gb=f"{off['gpu_memory_gb']:.1f}",
              oom=tr(" (off does not fit)") if off["verdict"] == "does not fit" else "")
    return "\n\n" + text


def render_details(est, config=None) -> str:
    lines = [f"- {translate_message(a)}" for a in est.assumptions]
    source = tr("a measured run") if est.time_source == "measured" else tr("the prior model (not yet measured here)")
    text = (tr("Estimate for **{label}** ({name}); time from {source}.", label=est.hardware_label, name=est.hardware,
               source=source) + "\n\n" + "\n".join(lines))
    if est.resolved:
        shown = ", ".join(f"{k.replace('_', ' ')} **{v}**" for k, v in est.resolved.items() if k not in ("method", "trainer"))
        text += "\n\n" + tr("**As the trainer will run it on {name}:** {settings}.", name=est.hardware, settings=shown)
    if config is not None:
        from training.cli.command import command_line

        text += "\n\n" + tr("The same run from the command line:") + f"\n\n```bash\n{command_line(config)}\n```"
    return text


def handle_estimate(hardware: str, values: dict[str, Any]):
    """Time, cost and memory of the run the form's values (by name) describe, on every flavor."""
    from training.estimate.quote import cheapest_fitting, estimate_all_for_config

    try:
        config = config_from_form(_stored_upload(values))
        key = _report_key(config)
        with _cache_lock:
            report = _reports.get(key)
        estimates, report = estimate_all_for_config(config, report, suggest_for=hardware or "current")
        with _cache_lock:
            _reports[key] = report
            while len(_reports) > _REPORTS_KEPT:
                _reports.pop(next(iter(_reports)))
    except ConfigError as exc:
        return describe_config_error(exc), "", ""
    except ValueError as exc:
        return f"**{tr('Cannot estimate:')}** {translate_message(str(exc))}", "", ""
    selected = next((e for e in estimates if e.hardware == hardware), None) or next(e for e in estimates if e.current)
    best = cheapest_fitting(estimates)
    return render_summary(selected, best, report), flavor_table(estimates, selected.hardware), render_details(selected, config)
