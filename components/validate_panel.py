"""Validate panel: what is wrong with the data, where, per-method compatibility, token statistics and a preview
of the examples exactly as the trainer will see them.

`create_validate_panel()` works with app.py's own wiring of `button` (three outputs: summary, errors, preview).
Given the settings form, `create_validate_panel(form)` wires its events itself, including the
"Full check" that reads every row of a Hub dataset. The handlers take the form's values by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from components.config_mapping import config_from_form
from components.dataset_views import compatibility_markdown, preview_html
from components.messages import describe_config_error
from components.translations import t, tr, translate_message
from training.config.schema import ConfigError

if TYPE_CHECKING:
    from components.settings_panels import SettingsForm

ERROR_HEADERS = ["Row", "Field", "Problem"]


@dataclass
class ValidatePanel:
    button: gr.Button
    full_check: gr.Button
    summary: gr.Markdown
    errors: gr.Dataframe
    preview: gr.HTML

    @property
    def outputs(self) -> list:
        return [self.summary, self.errors, self.preview]


def create_validate_panel(form: SettingsForm | None = None, *, full_check: bool | None = None) -> ValidatePanel:
    """Build the panel; with the settings `form` (components/settings_panels.py) it wires its own events. A page that
    places the form's settings after the panel (the guided page) builds it with full_check=True and calls
    `wire_validate` once every setting exists."""
    with gr.Row():
        button = gr.Button(t("Validate dataset"), variant="primary", elem_id="validate-btn")
        full = gr.Button(t("Full check (every row of a Hub dataset)"), size="sm",
                         visible=form is not None if full_check is None else full_check, elem_id="full-check-btn")
    summary = gr.Markdown(elem_id="validate-summary")
    errors = gr.Dataframe(headers=ERROR_HEADERS, value=[], label=t("Errors (row numbers: file lines, or records)"),
                          interactive=False, wrap=True, elem_id="validate-errors", visible=False)
    preview = gr.HTML(elem_id="validate-preview")
    panel = ValidatePanel(button, full, summary, errors, preview)
    if form is not None:
        wire_validate(panel, form)
    return panel


def wire_validate(panel: ValidatePanel, form: SettingsForm) -> None:
    """Validate and Full check read every setting of the form (call after all of them are built)."""
    panel.button.click(form.bind(handle_validate, progress=True), form.inputs, panel.outputs, concurrency_limit=4,
                       api_name="handle_validate")
    panel.full_check.click(form.bind(handle_full_check, progress=True), form.inputs, panel.outputs, concurrency_limit=2,
                           api_name="handle_full_check")


def _tokenizer(model_name: str, trust_remote_code: bool):
    """The model's tokenizer (a vision-language model's processor, which counts image tokens), or None and the reason
    it could not be loaded."""
    from training.models.loading import ModelLoadError, load_processing_class_cached

    for attempt in range(2):
        try:
            return load_processing_class_cached(model_name, trust_remote_code), None
        except ModelLoadError as exc:
            return None, tr("Token statistics skipped:") + f" {translate_message(str(exc))}"
        except ImportError as exc:  # transformers imported by two threads at once can fail once; the retry succeeds
            if attempt:
                return None, tr("Token statistics skipped: the tokenizer library failed to load ({error}).", error=exc)
        except Exception as exc:  # a broken tokenizer file must not stop the structure check
            return None, tr("Token statistics skipped: the tokenizer of {model} could not be loaded ({error}).",
                            model=model_name, error=exc)
    return None, None


def summary_markdown(report, tokenizer_note: str | None) -> str:
    data = report.to_dict()
    icon = "✅" if report.valid else "❌"
    lines = [f"{icon} **{tr('Valid') if report.valid else tr('Not valid')}**: {translate_message(report.summary())}"]
    if report.partial:
        lines.append("🔎 " + tr("**Partial check**: only the first rows were read (see below)."))
    if report.columns:
        lines.append(tr("Columns:") + f" {', '.join(report.columns)}")
    if report.error_count > len(report.errors):
        lines.append(tr("Showing the first {shown} of {total} errors.", shown=len(report.errors), total=report.error_count))
    if report.suggested_column_map:
        lines.append("💡 " + tr("Suggested column mapping for this method: `{mapping}` (paste it under Column mapping, "
                               "or press Suggest mapping).", mapping=json.dumps(report.suggested_column_map)))
    lines += [f"⚠️ {translate_message(w)}" for w in report.warnings]
    for note in (tokenizer_note, report.tokenizer_note):
        if note:
            lines.append(f"ℹ️ {translate_message(note)}")
    table = compatibility_markdown(data["compatibility"])
    if table:
        lines.append(f"**{tr('Which methods can use this data')}**\n\n" + table)
    return "\n\n".join(lines)


def _validate(values: dict[str, Any], full: bool, progress=None):
    from training.data.validation import HUB_STREAM_ROWS, validate_dataset

    try:
        config = config_from_form(values)
    except ConfigError as exc:
        return describe_config_error(exc), gr.update(value=[], visible=False), ""
    tokenizer, note = _tokenizer(config.model.name_or_path, config.model.trust_remote_code)
    d = config.data
    report = validate_dataset(d.source, config.method, split=d.split, subset=d.subset, column_map=d.column_map,
                              max_rows=d.max_rows, tokenizer=tokenizer, max_length=config.train.max_length,
                              stream_rows=None if full else HUB_STREAM_ROWS, render=True,
                              progress=progress, text_unit=d.text_unit)
    errors = [[e.row if e.row is not None else "", e.field, translate_message(e.message)] for e in report.errors]
    table = {"headers": [tr(h) for h in ERROR_HEADERS], "data": errors}  # headers in the request's language
    return summary_markdown(report, note), gr.update(value=table, visible=bool(errors)), preview_html(report.to_dict())


def handle_validate(values: dict[str, Any], progress=None):
    """Validate (a Hub dataset: its first rows, streamed) with the model's tokenizer for statistics and preview.
    `progress(stage, done, total)` is told how far reading and checking the rows has got."""
    return _validate(values, full=False, progress=progress)


def handle_full_check(values: dict[str, Any], progress=None):
    """Validate every row, a Hub dataset included."""
    return _validate(values, full=True, progress=progress)
