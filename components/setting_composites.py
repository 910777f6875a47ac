"""The settings whose value is not one widget's, built by hand where the first of their fields is declared: the
dataset source (demo / upload / Hub id, with the split), the column mapping with its Suggest button, the method with
its own controls and reward editor (generated from the method registry), the LoRA target preset and the QLoRA box.

Each builder fills the parts of the settings form (components/settings_panels.py) it owns, by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr

from components.config_mapping import (
    SOURCE_KINDS,
    UPLOAD_SUFFIXES,
    control_name,
    reward_input_keys,
    reward_input_values,
    reward_name,
)
from components.setting_widgets import applies, create_setting_widget
from components.translations import declared, setting_text, t
from training.config.schema import TARGET_MODULE_PRESETS, RunConfig, is_demo_model, setting_field
from training.methods.registry import METHODS

if TYPE_CHECKING:
    from components.settings_panels import SettingsForm


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
    if control.type == "choices":
        return gr.Dropdown(list(control.choices), value=control.coerce(value), multiselect=True, **kw)
    if control.type == "floats":
        return gr.Textbox(value=", ".join(f"{v:g}" for v in value or []), placeholder="1, 1", **kw)
    if control.type == "text":
        return gr.Textbox(value=value or "", **kw)
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
