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
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from components.access import reading_for
from components.config_mapping import (
    HUB_ID,
    QLORA,
    SOURCE_KIND,
    SOURCE_KINDS,
    TARGET_CUSTOM,
    TARGET_PRESET,
    UPLOAD,
    UPLOAD_SUFFIXES,
    control_name,
    field_path,
    form_values_by_name,
    method_preset,
    readable_source,
    reward_input_keys,
    reward_input_values,
    reward_name,
    uploaded,
)
from components.setting_widgets import applies, conditional, create_setting_widget, is_compact
from components.translations import declared, setting_text, t, tr, translate_message, use_request_language
from training.config.schema import (
    TARGET_MODULE_PRESETS,
    ConfigError,
    RunConfig,
    SettingField,
    get_value,
    is_demo_model,
    setting_field,
    setting_fields,
)
from training.methods.registry import METHODS

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


def create_settings_form(default: RunConfig, note: str | None = None) -> SettingsForm:
    """Build every settings widget from the declarations in one column, showing `default`, and wire the form's events."""
    form = new_settings_form(default, note)
    render_sections(form, list(dict.fromkeys(f.section for f in _shown_fields())))
    finish_settings_form(form)
    return form


def new_settings_form(default: RunConfig, note: str | None = None) -> SettingsForm:
    """An empty form showing `default`: place its sections with `render_sections` (e.g. one step of a guided page
    each), then wire it with `finish_settings_form`."""
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
    _wire(form)


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


# --- the composite settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Composite:
    """Hand-made controls for the settings in `paths`, built where the first of them is declared."""

    paths: tuple[str, ...]
    build: Callable[[SettingsForm, RunConfig], None]


def _build_source(form: SettingsForm, default: RunConfig) -> None:
    """data.source from three controls: demo, an uploaded file or a Hub id; the split (a plain setting) beside the id."""
    f = setting_field("data.source")
    source = default.data.source
    kind = "demo" if source == "demo" else "hub"
    form.source = gr.Radio(list(SOURCE_KINDS), value=kind, label=setting_text(f.path, "label", f.setting.label),
                           elem_id=f.elem_id,
                           info=t("demo: built-in invented facts. upload: CSV, TSV, JSON, JSONL or Parquet. hub: a Hub "
                                  "dataset id."))
    form.upload = gr.File(label=t("Upload a dataset file"), file_types=list(UPLOAD_SUFFIXES), visible=False,
                          elem_id="dataset-upload")
    with gr.Row():
        form.hub_id = gr.Textbox(value="" if kind == "demo" else source, label=t("Hub dataset id"),
                                 placeholder=t("e.g. trl-lib/Capybara"), visible=kind == "hub", elem_id="hub-id")
        split = setting_field("data.split")
        if split.setting.group != "hidden":
            form.widgets[split.path] = create_setting_widget(split, default.data.split, visible=kind == "hub")


def _build_column_map(form: SettingsForm, default: RunConfig) -> None:
    """The column mapping (a plain setting's widget) with a Suggest button and its note."""
    f = setting_field("data.column_map")
    with gr.Row(equal_height=True):
        form.widgets[f.path] = create_setting_widget(f, default.data.column_map, scale=4,
                                                     placeholder='{"question": "prompt", "answer": "completion"}')
        form.suggest = gr.Button(t("Suggest mapping"), size="sm", scale=1, elem_id="suggest-mapping-btn")
    form.mapping_note = gr.Markdown(elem_id="mapping-note")


def _control_component(method: str, control, value, elem_id: str):
    """One method control rendered from its declaration (training.methods.registry.MethodControl)."""
    key = f"control:{method}.{control.name}"
    kw = {"label": declared(key, "label", control.label), "info": declared(key, "help", control.help), "elem_id": elem_id}
    if control.type == "bool":
        return gr.Checkbox(value=bool(value), **kw)
    if control.type == "choice":
        return gr.Dropdown(list(control.choices), value=value, **kw)
    return gr.Number(value=value, precision=0 if control.type == "int" else None, minimum=control.minimum,
                     maximum=control.maximum, **kw)


def method_description(method: str):
    """The method's description (translated in the browser)."""
    return declared(f"method:{method}", "description", METHODS[method].description)


def _reward_component(kind: str, key: str, value):
    from training.methods.rewards import REWARD_KINDS

    spec = REWARD_KINDS[kind]
    elem_id = f"reward-{kind}-{key}".replace("_", "-")
    if key == "enabled":
        return gr.Checkbox(value=value, label=declared(f"reward:{kind}", "label", spec.label),
                           info=declared(f"reward:{kind}", "help", spec.help), elem_id=elem_id)
    if key == "weight":
        return gr.Number(value=value, label=t("Weight"), elem_id=elem_id, scale=1)
    param = next(p for p in spec.params if p.name == key)
    text = {"label": declared(f"reward:{kind}.{key}", "label", param.label),
            "info": declared(f"reward:{kind}.{key}", "help", param.help)}
    if param.type == "choice":
        return gr.Dropdown(list(param.choices), value=value, elem_id=elem_id, **text)
    if param.type == "int":
        return gr.Number(value=value, precision=0, elem_id=elem_id, **text)
    return gr.Textbox(value=value, elem_id=elem_id, **text)


def _default_rewards(default: RunConfig) -> list[dict]:
    if METHODS[default.method].uses_rewards:
        return default.rewards
    first = next((spec for spec in METHODS.values() if spec.uses_rewards), None)
    if first is None:
        return []
    return list(first.demo_rewards if is_demo_model(default) and first.demo_rewards else first.default_rewards)


def _build_method(form: SettingsForm, default: RunConfig) -> None:
    """The method dropdown, and below it the chosen method's own settings and (GRPO, RLOO) its reward functions,
    all rendered from the registry: a new method needs only its registry entry."""
    f = setting_field("method")
    choices = [(declared(f"method:{name}", "label", spec.label), name) for name, spec in METHODS.items()]
    form.widgets[f.path] = gr.Dropdown(choices, value=default.method, label=setting_text(f.path, "label", f.setting.label),
                                       info=setting_text(f.path, "help", f.setting.help), elem_id=f.elem_id)
    form.method_description = gr.Markdown(method_description(default.method), elem_id="method-description")
    demo = is_demo_model(default)
    with gr.Column(elem_id=setting_field("method_args").elem_id):
        for name, spec in METHODS.items():
            if not spec.controls:
                continue
            values = default.method_args if name == default.method else spec.control_defaults(demo)
            with gr.Group(visible=name == default.method) as form.method_groups[name]:
                gr.Markdown(f"**{spec.name.upper()}** · {t('settings')}", elem_classes=["hint"])
                for control in spec.controls:
                    form.controls[control_name(name, control.name)] = _control_component(
                        name, control, values.get(control.name, control.default),
                        f"{name}-{control.name}".replace("_", "-"))
    rewards = setting_field("rewards")
    with gr.Accordion(t("Reward functions (no code)"), open=True, visible=METHODS[default.method].uses_rewards,
                      elem_id=rewards.elem_id) as form.rewards_group:
        gr.Markdown(t("Tick the rewards to use and give each a weight. The rewards that read a column need it in "
                      "your data (e.g. `answer`)."), elem_classes=["hint"])
        values, row = reward_input_values(_default_rewards(default)), None
        for kind, key in reward_input_keys():
            if key == "enabled":
                row = gr.Row(equal_height=True)
            with row:
                name = reward_name(kind, key)
                form.reward_inputs[name] = _reward_component(kind, key, values[name])


def _build_targets(form: SettingsForm, default: RunConfig) -> None:
    """lora.target_modules from a preset (all-linear, attention) or, for custom, a list of module names."""
    from training.models.adapters import target_preset

    f = setting_field("lora.target_modules")
    value = default.lora.target_modules
    preset = target_preset(value)
    with gr.Column(visible=applies(f, default.method, default.lora.enabled)) as block:
        form.target_preset = gr.Radio(list(TARGET_MODULE_PRESETS), value=preset,
                                      label=setting_text(f.path, "label", f.setting.label),
                                      info=t("all-linear: every linear layer (best quality); attention: q, k, v, o "
                                             "projections only (smaller); custom: the names you list below."),
                                      elem_id="target-preset")
        form.target_custom = gr.Textbox(value=value if preset == "custom" else "q_proj,v_proj",
                                        label=t("Custom target modules"),
                                        info=t("Comma-separated module names, used when the preset is custom."),
                                        placeholder=setting_text(f.path, "placeholder", f.setting.placeholder),
                                        visible=preset == "custom", elem_id=f.elem_id)
    form.conditional_blocks[f.path] = block


def _build_qlora(form: SettingsForm, default: RunConfig) -> None:
    """lora.quantization as one box, disabled with the reason where QLoRA cannot run."""
    from training.models.adapters import qlora_unavailable_reason

    f = setting_field("lora.quantization")
    reason = qlora_unavailable_reason()
    form.qlora = gr.Checkbox(value=default.lora.quantization == "4bit" and reason is None,
                             label=setting_text(f.path, "label", f.setting.label),
                             info=t("Unavailable here:") + f" {reason}" if reason else setting_text(f.path, "help", f.setting.help),
                             interactive=reason is None, elem_id=f.elem_id,
                             visible=applies(f, default.method, default.lora.enabled))
    form.conditional_blocks[f.path] = form.qlora


COMPOSITES: dict[str, Composite] = {c.paths[0]: c for c in (
    Composite(("data.source", "data.split"), _build_source),
    Composite(("data.column_map",), _build_column_map),
    Composite(("method", "method_args", "rewards"), _build_method),
    Composite(("lora.target_modules",), _build_targets),
    Composite(("lora.quantization",), _build_qlora),
)}


# --- events ----------------------------------------------------------------------------------------------------


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


def _wire(form: SettingsForm) -> None:
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
