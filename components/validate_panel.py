"""Validate panel: what is wrong with the data, where, and a preview of what the trainer will get."""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr

from components.config_mapping import config_from_values
from components.messages import describe_config_error
from training.config import ConfigError

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
