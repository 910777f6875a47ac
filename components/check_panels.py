"""Validate and Estimate panels: what is wrong with the data, and what the run will cost."""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr

from components.config_mapping import config_from_values
from training.config import ConfigError, check_config
from training.hardware import CATALOGUE

ERROR_HEADERS = ["row", "field", "problem"]
PREVIEW_HEADERS = ["row", "normalised example"]


@dataclass
class ValidatePanel:
    button: gr.Button
    summary: gr.Markdown
    errors: gr.Dataframe
    preview: gr.Dataframe


def create_validate_panel() -> ValidatePanel:
    button = gr.Button("Validate dataset", variant="secondary", elem_id="validate-btn")
    summary = gr.Markdown(elem_id="validate-summary")
    errors = gr.Dataframe(headers=ERROR_HEADERS, value=[], label="Errors (row numbers: file lines, or records)",
                          interactive=False, wrap=True, elem_id="validate-errors", visible=False)
    preview = gr.Dataframe(headers=PREVIEW_HEADERS, value=[], label="Preview: first rows as the trainer will get them",
                           interactive=False, wrap=True, elem_id="validate-preview")
    return ValidatePanel(button, summary, errors, preview)


def _preview_cell(row: dict) -> str:
    if "messages" in row:
        return "\n".join(f"[{m['role']}] {m['content']}" for m in row["messages"])
    return "\n".join(f"[{k}] {v if isinstance(v, str) else json.dumps(v)}" for k, v in row.items() if k != "row")


def describe_config_error(exc: ConfigError) -> str:
    return "**Cannot use these settings:**\n" + "\n".join(f"- `{name}` {msg}" for name, msg in exc.problems)


def handle_validate(*values):
    from training.validation import validate_dataset

    try:
        config = config_from_values(*values)
    except ConfigError as exc:
        return describe_config_error(exc), gr.update(value=[], visible=False), []
    d = config.data
    report = validate_dataset(d.source, config.method, split=d.split, subset=d.subset, column_map=d.column_map,
                              max_rows=d.max_rows)
    icon = "✅" if report.valid else "❌"
    lines = [f"{icon} **{'Valid' if report.valid else 'Not valid'}**: {report.summary()}"]
    if report.columns:
        lines.append(f"Columns: {', '.join(report.columns)}")
    if report.error_count > len(report.errors):
        lines.append(f"Showing {len(report.errors)} of {report.error_count} errors.")
    lines += [f"⚠️ {w}" for w in report.warnings]
    errors = [[e.row if e.row is not None else "", e.field, e.message] for e in report.errors]
    preview = [[p["row"], _preview_cell(p)] for p in report.preview]
    return "\n\n".join(lines), gr.update(value=errors, visible=bool(errors)), preview


@dataclass
class EstimatePanel:
    hardware: gr.Dropdown
    button: gr.Button
    summary: gr.Markdown
    table: gr.Dataframe


def create_estimate_panel(current_flavor: str) -> EstimatePanel:
    with gr.Row():
        hardware = gr.Dropdown([(f.label, f.name) for f in CATALOGUE.values()], value=current_flavor,
                               label="Hardware", info=f"This machine: {CATALOGUE[current_flavor].label}", elem_id="hardware")
        button = gr.Button("Estimate", elem_id="estimate-btn")
    summary = gr.Markdown(elem_id="estimate-summary")
    table = gr.Dataframe(headers=["what", "value"], value=[], interactive=False, wrap=True, label="Assumptions",
                         elem_id="estimate-table")
    return EstimatePanel(hardware, button, summary, table)


def handle_estimate(hardware, *values):
    from training.estimate import estimate_for_config

    try:
        config = check_config(config_from_values(*values))
        est, report = estimate_for_config(config, hardware)
    except ConfigError as exc:
        return describe_config_error(exc), []
    except ValueError as exc:
        return f"**Cannot estimate:** {exc}", []
    head = f"### {est.summary}"
    if not report.valid:
        head += "\n\n⚠️ The dataset has errors; validate it first. The estimate assumes its usable rows."
    if est.verdict == "does not fit":
        head += "\n\n❌ **Does not fit.** Use LoRA, lower the batch size or max length, or pick a bigger GPU."
    rows = [["time", f"{est.seconds:.0f} s" if est.seconds is not None else "unknown"],
            ["cost", f"${est.cost_usd:.4f}" if est.cost_usd is not None else "unknown"],
            ["memory needed", f"{est.gpu_memory_gb} GB of {est.available_memory_gb:g} GB ({est.verdict})"
             if est.gpu_memory_gb is not None else "unknown"]]
    rows += [["assumption", a] for a in est.assumptions]
    return head, rows
