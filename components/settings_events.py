"""The settings form's own events: choosing a method fills in its preset and shows its controls; settings that
apply only to some methods, or only with LoRA, show and hide; the dataset source shows the upload or the Hub id;
Suggest mapping fills the column mapping; ticking Trust remote code warns. Handlers read the form by name."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import gradio as gr

from components.config_mapping import HUB_ID, SOURCE_KIND, UPLOAD, field_path, method_preset, readable_source
from components.setting_composites import method_description
from components.setting_widgets import applies
from components.translations import tr, translate_message, use_request_language
from training.config.schema import ConfigError, setting_fields
from training.methods.registry import METHODS

if TYPE_CHECKING:
    from components.settings_panels import SettingsForm


def preset_paths() -> set[str]:
    """The settings a method's preset sets (training.config.schema.apply_method_defaults): the training settings any
    method overrides, its own settings and its rewards. Choosing a method resets these, and only these."""
    keys = {key for spec in METHODS.values() for key in (*spec.defaults, *spec.demo_defaults)}
    return {f"train.{key}" for key in keys} | {"method_args", "rewards"}


def handle_method_defaults(form: SettingsForm, values: dict[str, Any]) -> dict:
    """Training settings, method settings and rewards that suit the chosen method (the demo model's own for `demo`)."""
    config = method_preset(values.get("model.name_or_path") or "demo", values["method"])
    return form.form_values(config, preset_paths())


def handle_applies(form: SettingsForm, values: dict[str, Any]) -> dict:
    """Show the widgets of the settings that apply to the chosen method and LoRA state; hide the others."""
    method, lora_on = values.get("method"), values.get("lora.enabled", True)
    fields = {f.path: f for f in setting_fields()}
    out = {block: gr.update(visible=applies(fields[path], method, lora_on))
           for path, block in form.conditional_blocks.items()}
    out.update({column: gr.update(visible=any(applies(f, method, lora_on) for f in section))
                for column, section in form.conditional_sections.items()})
    return out


def handle_suggest_mapping(values: dict[str, Any]):
    """Fill the column mapping from synonyms (question → prompt, winner → chosen, ...), from the first rows."""
    from training.data.column_mapping import suggest_column_map
    from training.data.formats import detect_format
    from training.data.sources import DataSourceError, load_records

    try:
        source = readable_source(values.get(SOURCE_KIND), values.get(UPLOAD), values.get(HUB_ID))
        split = (values.get("data.split") or "train").strip()
        loaded = load_records(source, split=split, limit=200)
    except ConfigError as exc:
        return gr.skip(), "⚠️ " + tr("Cannot suggest a mapping:") + f" {translate_message(exc.problems[0][1])}"
    except (DataSourceError, ValueError) as exc:
        return gr.skip(), "⚠️ " + tr("Cannot suggest a mapping:") + f" {translate_message(str(exc))}"
    columns = loaded.columns
    suggestion = suggest_column_map(columns, sample=[r for _, r in loaded.records[:20]])
    if suggestion is None:
        return gr.skip(), ("⚠️ " + tr("No mapping found for columns {columns}. Rename them by hand, e.g.",
                                     columns=", ".join(columns) or "(none)") + " "
                           '`{"your_question_column": "prompt", "your_answer_column": "completion"}`.')
    if not suggestion.column_map:
        fmt = detect_format(columns)
        return gr.skip(), "✅ " + tr("Columns already match: {what}. No mapping needed.",
                                   what=translate_message(fmt.description if fmt else suggestion.describe()))
    return json.dumps(suggestion.column_map), "💡 " + tr("Suggested: {what}. Validate to check every row.",
                                                           what=translate_message(suggestion.describe()))


def warn_remote_code(enabled: bool, request: gr.Request) -> None:
    use_request_language(request)
    if enabled:
        gr.Warning(tr("Trust remote code runs Python files from the model repository on this machine. "
                      "Only turn it on for models whose authors you trust."))


def wire_settings_form(form: SettingsForm) -> None:
    """Wire the form's own events (call once every section is rendered)."""
    method, lora_on = form.widgets["method"], form.widgets.get("lora.enabled")
    split = form.widgets.get("data.split")
    # The dataset source shows the upload or the Hub id (and its split).
    shown_for_hub = [form.hub_id] + ([split] if split is not None else [])
    form.source.change(lambda s: [gr.update(visible=s == "upload")] + [gr.update(visible=s == "hub")] * len(shown_for_hub),
                       form.source, [form.upload, *shown_for_hub], queue=False, api_visibility="private")
    column_map = form.widgets["data.column_map"]
    form.suggest.click(form.bind(handle_suggest_mapping), {form.source, form.upload, *shown_for_hub},
                       [column_map, form.mapping_note], concurrency_limit=4, api_name="handle_suggest_mapping")
    # The method: its description, its own controls and, for GRPO and RLOO, the reward editor.
    method.change(method_description, method, form.method_description, queue=False,
                  api_visibility="private")
    method.change(lambda m: [gr.update(visible=n == m) for n in form.method_groups]
                  + [gr.update(visible=METHODS[m].uses_rewards)],
                  method, [*form.method_groups.values(), form.rewards_group], queue=False, api_visibility="private")
    # Choosing a method fills in the settings that suit it.
    preset_outputs = [comp for name, comp in form.components.items() if field_path(name) in preset_paths()]
    method.input(lambda values: handle_method_defaults(form, form.named(values)),
                 {form.widgets["model.name_or_path"], method}, preset_outputs, queue=False,
                 api_name="handle_method_defaults")
    # Settings that apply only to some methods, or only with LoRA, show and hide.
    if form.conditional_blocks:
        triggers = [method.change] + ([lora_on.change] if lora_on is not None else [])
        gr.on(triggers, lambda values: handle_applies(form, form.named(values)),
              {method, *([lora_on] if lora_on is not None else [])},
              [*form.conditional_blocks.values(), *form.conditional_sections], queue=False, api_visibility="private")
    form.target_preset.change(lambda p: gr.update(visible=p == "custom"), form.target_preset, form.target_custom,
                              queue=False, api_visibility="private")
    trust = form.widgets.get("model.trust_remote_code")
    if trust is not None:
        trust.change(warn_remote_code, trust, None, queue=False)
