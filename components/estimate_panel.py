"""Estimate panel: time, dollars and memory of the run before it starts."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from components.config_mapping import config_from_values
from components.messages import describe_config_error
from training.config import ConfigError, check_config
from training.hardware import CATALOGUE


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
