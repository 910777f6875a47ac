"""Input panels: model, dataset, method, LoRA and hyperparameters.

Labels and help text come from the config dataclasses' field metadata, so the UI, the CLI
and the docs say the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr

from training.config.schema import (
    TARGET_MODULE_PRESETS,
    DataSettings,
    LoraSettings,
    ModelSettings,
    RunConfig,
    TrainSettings,
    apply_method_defaults,
    field_help,
    is_demo_model,
)
from training.methods.registry import METHODS


def _kw(section: type, name: str) -> dict:
    label, help_text = field_help(section, name)
    return {"label": label, "info": help_text}


@dataclass
class ModelPanel:
    name: gr.Textbox
    trust_remote_code: gr.Checkbox
    note: gr.Markdown


def create_model_panel(default: RunConfig, note: str | None) -> ModelPanel:
    with gr.Group():
        name = gr.Textbox(value=default.model.name_or_path, elem_id="model-name", **_kw(ModelSettings, "name_or_path"))
        trust = gr.Checkbox(value=False, **_kw(ModelSettings, "trust_remote_code"))
    note_md = gr.Markdown(f"⚠️ {note}" if note else "", elem_id="model-note")
    return ModelPanel(name, trust, note_md)


@dataclass
class DatasetPanel:
    source: gr.Radio
    upload: gr.File
    hub_id: gr.Textbox
    split: gr.Textbox
    column_map: gr.Textbox
    suggest: gr.Button
    mapping_note: gr.Markdown


def create_dataset_panel(default: RunConfig) -> DatasetPanel:
    with gr.Group():
        source = gr.Radio(["demo", "upload", "hub"], value="demo", label="Dataset source",
                          info="demo: built-in invented facts. upload: CSV, TSV, JSON, JSONL or Parquet. hub: a Hub dataset id.",
                          elem_id="dataset-source")
        upload = gr.File(label="Upload a dataset file", file_types=[".csv", ".tsv", ".json", ".jsonl", ".parquet"],
                         visible=False, elem_id="dataset-upload")
        with gr.Row(visible=True):
            hub_id = gr.Textbox(label="Hub dataset id", placeholder="e.g. trl-lib/Capybara", visible=False, elem_id="hub-id")
            split = gr.Textbox(value=default.data.split, visible=False, **_kw(DataSettings, "split"))
        with gr.Row(equal_height=True):
            column_map = gr.Textbox(value="", placeholder='{"question": "prompt", "answer": "completion"}', lines=1,
                                    elem_id="column-map", scale=4, **_kw(DataSettings, "column_map"))
            suggest = gr.Button("Suggest mapping", size="sm", scale=1, elem_id="suggest-mapping-btn")
    mapping_note = gr.Markdown(elem_id="mapping-note")
    source.change(lambda s: (gr.update(visible=s == "upload"), gr.update(visible=s == "hub"), gr.update(visible=s == "hub")),
                  source, [upload, hub_id, split], queue=False)
    suggest.click(handle_suggest_mapping, [source, upload, hub_id, split, column_map], [column_map, mapping_note],
                  concurrency_limit=4)
    return DatasetPanel(source, upload, hub_id, split, column_map, suggest, mapping_note)


def _readable_source(source: str, upload, hub_id: str) -> str:
    """Where to read a few rows from, without copying an upload."""
    if source == "upload":
        path = upload if isinstance(upload, str) else getattr(upload, "name", None) or (upload or {}).get("path")
        if not path:
            raise ValueError("no file uploaded yet; drop a CSV, TSV, JSON, JSONL or Parquet file first")
        return path
    if source == "hub":
        if not (hub_id or "").strip():
            raise ValueError("enter a Hub dataset id first")
        return hub_id.strip()
    return "demo"


def handle_suggest_mapping(source: str, upload, hub_id: str, split: str, current: str):
    """Fill the column mapping from synonyms (question → prompt, winner → chosen, ...), from the first rows."""
    from training.data.column_mapping import suggest_column_map
    from training.data.formats import detect_format
    from training.data.sources import DataSourceError, load_records

    try:
        loaded = load_records(_readable_source(source, upload, hub_id), split=(split or "train").strip(), limit=200)
    except (DataSourceError, ValueError) as exc:
        return gr.skip(), f"⚠️ Cannot suggest a mapping: {exc}"
    columns = loaded.columns
    suggestion = suggest_column_map(columns, sample=[r for _, r in loaded.records[:20]])
    if suggestion is None:
        return gr.skip(), (f"⚠️ No mapping found for columns {', '.join(columns) or '(none)'}. Rename them by hand, e.g. "
                           '`{"your_question_column": "prompt", "your_answer_column": "completion"}`.')
    if not suggestion.column_map:
        fmt = detect_format(columns)
        return gr.skip(), f"✅ Columns already match: {fmt.description if fmt else suggestion.describe()}. No mapping needed."
    return json.dumps(suggestion.column_map), f"💡 Suggested: {suggestion.describe()}. Validate to check every row."


@dataclass
class MethodPanel:
    method: gr.Dropdown
    description: gr.Markdown
    groups: dict  # method name -> gr.Group of its extra controls (methods without controls have none)
    control_inputs: list  # every method's controls, in config_mapping.method_control_keys() order
    rewards_group: gr.Group
    reward_inputs: list  # the reward editor, in config_mapping.reward_input_keys() order


def _control_component(control, value, elem_id: str):
    """One method control rendered from its declaration (training.methods.registry.MethodControl)."""
    kw = {"label": control.label, "info": control.help, "elem_id": elem_id}
    if control.type == "bool":
        return gr.Checkbox(value=bool(value), **kw)
    if control.type == "choice":
        return gr.Dropdown(list(control.choices), value=value, **kw)
    return gr.Number(value=value, precision=0 if control.type == "int" else None, minimum=control.minimum,
                     maximum=control.maximum, **kw)


def _reward_component(kind: str, key: str, value):
    from training.methods.rewards import REWARD_KINDS

    spec = REWARD_KINDS[kind]
    elem_id = f"reward-{kind}-{key}".replace("_", "-")
    if key == "enabled":
        return gr.Checkbox(value=value, label=spec.label, info=spec.help, elem_id=elem_id)
    if key == "weight":
        return gr.Number(value=value, label="Weight", elem_id=elem_id, scale=1)
    param = next(p for p in spec.params if p.name == key)
    if param.type == "choice":
        return gr.Dropdown(list(param.choices), value=value, label=param.label, info=param.help, elem_id=elem_id)
    if param.type == "int":
        return gr.Number(value=value, precision=0, label=param.label, info=param.help, elem_id=elem_id)
    return gr.Textbox(value=value, label=param.label, info=param.help, elem_id=elem_id)


def _default_rewards(default: RunConfig) -> list[dict]:
    if METHODS[default.method].uses_rewards:
        return default.rewards
    first = next((spec for spec in METHODS.values() if spec.uses_rewards), None)
    if first is None:
        return []
    return list(first.demo_rewards if is_demo_model(default) and first.demo_rewards else first.default_rewards)


def create_method_panel(default: RunConfig) -> MethodPanel:
    """The method dropdown, and below it the chosen method's own settings and (GRPO, RLOO) its reward functions,
    all rendered from the registry: a new method needs only its registry entry."""
    from components.config_mapping import reward_input_keys, reward_input_values

    choices = [(spec.label, name) for name, spec in METHODS.items()]
    method = gr.Dropdown(choices, value=default.method, label="Method", elem_id="method")
    description = gr.Markdown(METHODS[default.method].description, elem_id="method-description")
    demo = is_demo_model(default)
    groups, control_inputs = {}, []
    for name, spec in METHODS.items():
        if not spec.controls:
            continue
        values = default.method_args if name == default.method else spec.control_defaults(demo)
        with gr.Group(visible=name == default.method) as group:
            gr.Markdown(f"**{spec.name.upper()} settings**", elem_classes=["hint"])
            for control in spec.controls:
                control_inputs.append(_control_component(control, values.get(control.name, control.default),
                                                         f"{name}-{control.name}".replace("_", "-")))
        groups[name] = group
    with gr.Accordion("Reward functions (no code)", open=True, visible=METHODS[default.method].uses_rewards,
                      elem_id="rewards-editor") as rewards_group:
        gr.Markdown("Tick the rewards to use and give each a weight. The rewards that read a column need it in "
                    "your data (e.g. `answer`).", elem_classes=["hint"])
        reward_inputs, row = [], None
        for (kind, key), value in zip(reward_input_keys(), reward_input_values(_default_rewards(default)), strict=True):
            if key == "enabled":
                row = gr.Row(equal_height=True)
            with row:
                reward_inputs.append(_reward_component(kind, key, value))
    method.change(lambda m: METHODS[m].description, method, description, queue=False)
    method.change(lambda m: [gr.update(visible=n == m) for n in groups] + [gr.update(visible=METHODS[m].uses_rewards)],
                  method, [*groups.values(), rewards_group], queue=False)
    return MethodPanel(method, description, groups, control_inputs, rewards_group, reward_inputs)


def handle_method_defaults(model_name: str, method: str):
    """Training settings, method settings and rewards that suit `method` (the demo model's own for `demo`)."""
    from components.config_mapping import method_control_keys, reward_input_values

    config = RunConfig(model=ModelSettings(name_or_path=(model_name or "").strip() or "demo"))
    apply_method_defaults(config, method)
    t = config.train
    controls = [config.method_args[key] if name == method else gr.skip() for name, key in method_control_keys()]
    rewards = reward_input_values(config.rewards) if METHODS[method].uses_rewards else [gr.skip()] * len(
        reward_input_values([]))
    return [t.num_epochs, t.max_steps, t.learning_rate, t.batch_size, t.grad_accum, t.max_length, *controls, *rewards]


def wire_method_defaults(model: ModelPanel, method: MethodPanel, hyper: HyperparamsPanel) -> None:
    """Choosing a method fills in the settings that suit it (learning rate, steps, batch, its own settings)."""
    outputs = [hyper.num_epochs, hyper.max_steps, hyper.learning_rate, hyper.batch_size, hyper.grad_accum,
               hyper.max_length, *method.control_inputs, *method.reward_inputs]
    method.method.input(handle_method_defaults, [model.name, method.method], outputs, queue=False)


@dataclass
class LoraPanel:
    enabled: gr.Checkbox
    r: gr.Number
    alpha: gr.Number
    dropout: gr.Number
    target_modules: gr.Textbox
    quantize_4bit: gr.Checkbox
    use_rslora: gr.Checkbox
    use_dora: gr.Checkbox
    target_preset: gr.Radio


def create_lora_panel(default: RunConfig) -> LoraPanel:
    """LoRA (r, alpha, dropout, target presets, rsLoRA, DoRA), QLoRA (disabled with its reason where it cannot run)
    or, with Use LoRA off, full fine-tuning."""
    from training.models.adapters import qlora_unavailable_reason, target_preset

    lo = default.lora
    qlora_reason = qlora_unavailable_reason()
    with gr.Accordion("Adapter: LoRA, QLoRA or full fine-tuning", open=True):
        enabled = gr.Checkbox(value=lo.enabled, elem_id="lora-enabled", **_kw(LoraSettings, "enabled"))
        gr.Markdown("The built-in demo model is random-init (1M parameters): LoRA is off for it, because there is no "
                    "pretrained knowledge to adapt. Turn LoRA on for real models; off means full fine-tuning.",
                    elem_classes=["hint"])
        label, help_text = field_help(LoraSettings, "quantization")
        quantize = gr.Checkbox(value=lo.quantization == "4bit" and qlora_reason is None, label=label,
                               info=f"Unavailable here: {qlora_reason}" if qlora_reason else help_text,
                               interactive=qlora_reason is None, elem_id="qlora")
        with gr.Row():
            r = gr.Number(value=lo.r, precision=0, **_kw(LoraSettings, "r"))
            alpha = gr.Number(value=lo.alpha, precision=0, **_kw(LoraSettings, "alpha"))
            dropout = gr.Number(value=lo.dropout, **_kw(LoraSettings, "dropout"))
        preset = gr.Radio(list(TARGET_MODULE_PRESETS), value=target_preset(lo.target_modules), label="Target modules",
                          info="all-linear: every linear layer (best quality); attention: q, k, v, o projections only "
                               "(smaller); custom: the names you list below.", elem_id="target-preset")
        target = gr.Textbox(value=lo.target_modules if target_preset(lo.target_modules) == "custom" else "q_proj,v_proj",
                            label="Custom target modules", info="Comma-separated module names, used when the preset "
                            "is custom.", visible=target_preset(lo.target_modules) == "custom")
        with gr.Row():
            rslora = gr.Checkbox(value=lo.use_rslora, **_kw(LoraSettings, "use_rslora"))
            dora = gr.Checkbox(value=lo.use_dora, **_kw(LoraSettings, "use_dora"))
    preset.change(lambda p: gr.update(visible=p == "custom"), preset, target, queue=False)
    return LoraPanel(enabled, r, alpha, dropout, target, quantize, rslora, dora, preset)


@dataclass
class HyperparamsPanel:
    num_epochs: gr.Number
    max_steps: gr.Number
    learning_rate: gr.Number
    batch_size: gr.Number
    grad_accum: gr.Number
    max_length: gr.Number
    precision: gr.Dropdown


def create_hyperparams_panel(default: RunConfig) -> HyperparamsPanel:
    t = default.train
    with gr.Accordion("Training settings", open=True):
        with gr.Row():
            epochs = gr.Number(value=t.num_epochs, **_kw(TrainSettings, "num_epochs"))
            max_steps = gr.Number(value=t.max_steps, precision=0, elem_id="max-steps", **_kw(TrainSettings, "max_steps"))
            lr = gr.Number(value=t.learning_rate, elem_id="learning-rate", **_kw(TrainSettings, "learning_rate"))
        with gr.Row():
            batch = gr.Number(value=t.batch_size, precision=0, **_kw(TrainSettings, "batch_size"))
            accum = gr.Number(value=t.grad_accum, precision=0, **_kw(TrainSettings, "grad_accum"))
            max_length = gr.Number(value=t.max_length, precision=0, **_kw(TrainSettings, "max_length"))
        precision = gr.Dropdown(["auto", "bf16", "fp16", "fp32"], value=t.precision, **_kw(TrainSettings, "precision"))
    return HyperparamsPanel(epochs, max_steps, lr, batch, accum, max_length, precision)
