"""The settings form: every RunConfig setting's widget, generated from its declaration.

`create_settings_form(config, note)` walks `setting_fields()` section by section (model, data, method, LoRA,
training): the "basic" settings are shown, the "advanced" ones go in one closed "Advanced settings" accordion,
"hidden" ones get no widget. Each plain setting's widget comes from `create_setting_widget` (components/
setting_widgets.py); nothing here names a plain field. Hand-made, and kept small, are only the composite controls
whose value is not one widget's: the dataset source (demo / upload / Hub id), the column mapping's Suggest
button, the method with its own controls and reward editor (generated from the method registry), the LoRA target
preset and the QLoRA box. Widgets of settings that apply only to some methods or only with LoRA show and hide with
the method and the LoRA box (`Setting.applies`).

The form (`SettingsForm`) names every component: a field path for a setting's widget, "<path>:<part>" for a
composite's parts (components/config_mapping.py). Handlers take `form.inputs` (a set: Gradio passes one dict
{component: value}) and read it by name with `form.named(values)`.

Three modules: this one holds the form and lays out its sections; components/setting_composites.py builds the
hand-made composite controls; components/settings_events.py wires the form's own events (method presets,
show/hide, Suggest mapping).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from components.access import reading_for
from components.config_mapping import (
    HUB_ID,
    QLORA,
    SOURCE_KIND,
    TARGET_CUSTOM,
    TARGET_PRESET,
    UPLOAD,
    field_path,
    form_values_by_name,
    uploaded,
)
from components.setting_composites import COMPOSITES
from components.setting_widgets import applies, conditional, create_setting_widget, is_compact
from components.settings_events import wire_settings_form
from components.translations import t, tr, use_request_language
from training.config.schema import RunConfig, SettingField, get_value, setting_fields

# Section (the part of the field path before the name) -> (heading among the basic settings, heading in Advanced).
SECTIONS = {
    "model": ("Model", "Model"),
    "data": ("Dataset", "Dataset"),
    "": ("Method", "Run"),
    "lora": ("Adapter: LoRA, QLoRA or full fine-tuning", "Adapter (LoRA)"),
    "train": ("Training", "Training"),
}
SECTION_NOTES = {
    "lora": "The built-in demo model is a small pretrained model (0.9M parameters): LoRA is off for it, because full "
            "fine-tuning is as cheap at that size. Turn LoRA on for real models; off means full fine-tuning.",
}
ROW_SIZE = 3  # compact widgets (numbers, choices, check boxes) per row


@dataclass
class SettingsForm:
    """Every settings component, by name. `widgets` holds one widget per plain setting, keyed by field path (the
    method dropdown and the column-mapping box among them); the rest are the composite settings' parts."""

    widgets: dict[str, gr.components.Component] = field(default_factory=dict)
    # data.source: the source kind, the upload and the Hub id (with the split beside it)
    source: gr.Radio | None = None
    upload: gr.File | None = None
    hub_id: gr.Textbox | None = None
    suggest: gr.Button | None = None
    mapping_note: gr.Markdown | None = None
    model_note: gr.Markdown | None = None
    # method: its description, each method's own controls (in a group per method) and the reward editor
    method_description: gr.Markdown | None = None
    method_groups: dict[str, gr.Group] = field(default_factory=dict)
    controls: dict[str, gr.components.Component] = field(default_factory=dict)  # control_name(method, key) -> widget
    rewards_group: gr.Accordion | None = None
    reward_inputs: dict[str, gr.components.Component] = field(default_factory=dict)  # reward_name(kind, key) -> widget
    # lora.target_modules and lora.quantization
    target_preset: gr.Radio | None = None
    target_custom: gr.Textbox | None = None
    qlora: gr.Checkbox | None = None
    advanced: gr.Accordion | None = None
    # field path -> the block that shows or hides with Setting.applies (a widget, or a composite's container)
    conditional_blocks: dict[str, gr.blocks.Block] = field(default_factory=dict)
    # a section's container -> its settings, where every one of them is conditional (shown while any applies)
    conditional_sections: dict[gr.blocks.Block, list[SettingField]] = field(default_factory=dict)
    default: RunConfig | None = None  # the config the widgets show when built
    note: str | None = None  # a note under the model (e.g. why the demo model is used)

    @property
    def parts(self) -> dict[str, gr.components.Component]:
        """The composite settings' components, by name."""
        out = {SOURCE_KIND: self.source, UPLOAD: self.upload, HUB_ID: self.hub_id, TARGET_PRESET: self.target_preset,
               TARGET_CUSTOM: self.target_custom, QLORA: self.qlora, **self.controls, **self.reward_inputs}
        return {name: comp for name, comp in out.items() if comp is not None}

    @property
    def components(self) -> dict[str, gr.components.Component]:
        """Every component whose value goes into the config, by name."""
        return {**self.widgets, **self.parts}

    @property
    def inputs(self) -> set:
        """The components as a set: an event given them calls its handler with one dict {component: value}."""
        return set(self.components.values())

    def named(self, values: dict) -> dict[str, Any]:
        """{component: value} (what a handler of `inputs` receives) as {name: value}; other components are left out."""
        return {name: values[comp] for name, comp in self.components.items() if comp in values}

    def form_values(self, config: RunConfig, paths: Iterable[str] | None = None) -> dict:
        """{component: value} showing `config` (only the settings in `paths`, when given): for an event's return."""
        wanted = None if paths is None else set(paths)
        comps = self.components
        return {comps[name]: value for name, value in form_values_by_name(config).items()
                if name in comps and (wanted is None or field_path(name) in wanted)}

    def bind(self, fn: Callable[[dict], Any], *, progress: bool = False) -> Callable[[dict], Any]:
        """An event handler for `inputs`: calls fn with the values by name, its messages in the request's language,
        under the signed-in user's read policy (components.access.reading_for: what names they may make the app read).
        With `progress=True` fn also gets `progress=` a callback `(stage, done, total)` shown as Gradio's progress
        bar (rows done / total, time left)."""
        if progress:
            def handler(values: dict, profile: gr.OAuthProfile | None = None, request: gr.Request = None,
                        bar=gr.Progress()):  # noqa: B008 (Gradio's idiom)
                use_request_language(request)

                def report(stage: str, done: int, total: int | None) -> None:
                    bar((done, total) if total else None, desc=tr(stage), unit="rows")

                named = self.named(values)
                with reading_for(profile, uploaded(named)):
                    return fn(named, progress=report)
        else:
            def handler(values: dict, profile: gr.OAuthProfile | None = None, request: gr.Request = None):
                use_request_language(request)
                named = self.named(values)
                with reading_for(profile, uploaded(named)):
                    return fn(named)

        handler.__name__ = getattr(fn, "__name__", "handler")
        return handler


# --- building ------------------------------------------------------------------------------------------------


def default_run_config() -> tuple[RunConfig, str | None]:
    """The config a new page starts from, and a note when the default model could not be used (e.g. offline: demo)."""
    from training.models.loading import default_model

    name, note = default_model()
    if name == "demo":
        return RunConfig.demo(), note
    config = RunConfig()
    config.model.name_or_path = name
    return config, note


def create_settings_form(default: RunConfig, note: str | None = None) -> SettingsForm:
    """Build every settings widget from the declarations in one column, showing `default`, and wire the form's events."""
    form = new_settings_form(default, note)
    render_sections(form, list(dict.fromkeys(f.section for f in _shown_fields())))
    finish_settings_form(form)
    return form


def new_settings_form(default: RunConfig | None = None, note: str | None = None) -> SettingsForm:
    """An empty form showing `default` (`default_run_config()` when not given): place its sections with
    `render_sections` (e.g. one step of a guided page each), then wire it with `finish_settings_form`."""
    if default is None:
        default, note = default_run_config()
    form = SettingsForm()
    form.default, form.note = default, note
    return form


def _shown_fields() -> list[SettingField]:
    return [f for f in setting_fields() if f.setting.group != "hidden"]


def render_sections(form: SettingsForm, sections: list[str], advanced_label: str = "Advanced settings",
                    advanced_id: str = "advanced-settings") -> None:
    """Render the basic settings of `sections` (field-path prefixes; "" is the method), then their advanced ones in
    one closed accordion, in the current Blocks context."""
    default, fields = form.default, _shown_fields()
    claimed = {path for builder in COMPOSITES.values() for path in builder.paths[1:]}

    def section_fields(section: str, group: str) -> list[SettingField]:
        return [f for f in fields if f.section == section and f.setting.group == group and f.path not in claimed]

    for section in sections:
        basic = section_fields(section, "basic")
        if not basic:
            continue
        gr.Markdown(f"### {t(SECTIONS.get(section, (section.title(),))[0])}")
        if section in SECTION_NOTES:
            gr.Markdown(t(SECTION_NOTES[section]), elem_classes=["hint"])
        _render(form, basic, default)
        if section == "model":
            form.model_note = gr.Markdown(f"⚠️ {form.note}" if form.note else "", elem_id="model-note")
    if not any(section_fields(section, "advanced") for section in sections):
        return
    with gr.Accordion(t(advanced_label), open=False, elem_id=advanced_id) as accordion:
        for section in sections:
            advanced = section_fields(section, "advanced")
            if not advanced:
                continue
            shown = any(applies(f, default.method, default.lora.enabled) for f in advanced)
            with gr.Column(visible=shown) as column:  # a section whose settings all hide (LoRA off) hides too
                gr.Markdown(f"**{t(SECTIONS.get(section, ('', section.title()))[1])}**")
                _render(form, advanced, default)
            if all(conditional(f) for f in advanced):
                form.conditional_sections[column] = advanced
    if advanced_id == "advanced-settings" or form.advanced is None:
        form.advanced = accordion


def finish_settings_form(form: SettingsForm) -> None:
    """Wire the form's own events, once every section is rendered."""
    wire_settings_form(form)


def _render(form: SettingsForm, fields: list[SettingField], default: RunConfig) -> None:
    """Lay the fields out in declaration order: compact widgets share rows, composites and text take a full row."""
    method, lora_on = default.method, default.lora.enabled
    row: list[SettingField] = []

    def flush():
        if row:
            with gr.Row():
                for f in row:
                    _plain_widget(form, f, default, method, lora_on)
            row.clear()

    for f in fields:
        if f.path in COMPOSITES:
            flush()
            COMPOSITES[f.path].build(form, default)
        elif is_compact(f):
            row.append(f)
            if len(row) == ROW_SIZE:
                flush()
        else:
            flush()
            _plain_widget(form, f, default, method, lora_on)
    flush()


def _plain_widget(form: SettingsForm, f: SettingField, default: RunConfig, method: str, lora_on: bool):
    widget = create_setting_widget(f, get_value(default, f.path), visible=applies(f, method, lora_on))
    form.widgets[f.path] = widget
    if conditional(f):
        form.conditional_blocks[f.path] = widget
    return widget
