"""Input panels: model, dataset, method, LoRA and hyperparameters.

Labels and help text come from the config dataclasses' field metadata, so the UI, the CLI
and the docs say the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr

from training.config import DataSettings, LoraSettings, ModelSettings, RunConfig, TrainSettings, field_help
from training.methods import METHODS


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
    from training.column_mapping import suggest_column_map
    from training.data_sources import DataSourceError, load_records
    from training.formats import detect_format

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


def create_method_panel(default: RunConfig) -> MethodPanel:
    choices = [(spec.label, name) for name, spec in METHODS.items()]
    method = gr.Dropdown(choices, value=default.method, label="Method", elem_id="method")
    description = gr.Markdown(METHODS[default.method].description)
    method.change(lambda m: METHODS[m].description, method, description, queue=False)
    return MethodPanel(method, description)


@dataclass
class LoraPanel:
    enabled: gr.Checkbox
    r: gr.Number
    alpha: gr.Number
    dropout: gr.Number
    target_modules: gr.Textbox


def create_lora_panel(default: RunConfig) -> LoraPanel:
    lo = default.lora
    with gr.Accordion("LoRA", open=True):
        enabled = gr.Checkbox(value=lo.enabled, elem_id="lora-enabled", **_kw(LoraSettings, "enabled"))
        gr.Markdown("The built-in demo model is random-init (1M parameters): LoRA is off for it, because there is no "
                    "pretrained knowledge to adapt. Turn LoRA on for real models.", elem_classes=["hint"])
        with gr.Row():
            r = gr.Number(value=lo.r, precision=0, **_kw(LoraSettings, "r"))
            alpha = gr.Number(value=lo.alpha, precision=0, **_kw(LoraSettings, "alpha"))
            dropout = gr.Number(value=lo.dropout, **_kw(LoraSettings, "dropout"))
        target = gr.Textbox(value=lo.target_modules, **_kw(LoraSettings, "target_modules"))
    return LoraPanel(enabled, r, alpha, dropout, target)


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
