"""Result views that depend on the method: a reward model shows scores for chosen vs rejected, not chat.

Wiring in app.py (next to the before/after panel):

    scores = create_scores_panel()
    wire_scores_panel(scores)
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from training.methods.registry import METHODS

SCORE_HEADERS = ["prompt", "chosen", "rejected", "score chosen", "score rejected", "chosen wins"]


@dataclass
class ScoresPanel:
    button: gr.Button
    summary: gr.Markdown
    table: gr.Dataframe


def create_scores_panel() -> ScoresPanel:
    with gr.Accordion("Reward model: scores for chosen vs rejected", open=False, elem_id="scores-panel"):
        gr.Markdown("For a reward-model run: the trained model scores each pair of the run's dataset; a good reward "
                    "model gives the chosen answer the higher score.", elem_classes=["hint"])
        button = gr.Button("Score pairs with the trained reward model", elem_id="score-pairs-btn")
        summary = gr.Markdown(elem_id="scores-summary")
        table = gr.Dataframe(headers=SCORE_HEADERS, value=[], interactive=False, wrap=True, elem_id="scores-table")
    return ScoresPanel(button, summary, table)


def score_rows(scores) -> tuple[str, list[list]]:
    """Summary and table rows for a list of training.run.inference.PairScore."""
    rows = [[s.prompt[-200:], s.chosen[:200], s.rejected[:200], s.chosen_score, s.rejected_score,
             "✅" if s.correct else "❌"] for s in scores]
    wins = sum(s.correct for s in scores)
    return f"**Chosen scored higher in {wins} of {len(scores)} pairs.**", rows


def handle_score_pairs():
    from training.config.schema import RunConfig
    from training.run.inference import score_run_pairs
    from training.run.manager import get_run_manager

    s = get_run_manager().status()
    if not s.model_dir or s.active:
        gr.Warning("No finished run yet: train a reward model first.")
        return "No finished run yet.", []
    method = (s.config or {}).get("method", "sft")
    if METHODS.get(method) is None or METHODS[method].result_view != "scores":
        return (f"The last run is {html.escape(method.upper())}, not a reward model: use the before/after answers "
                "above."), []
    try:
        return score_rows(score_run_pairs(RunConfig.from_dict(s.config), s.model_dir))
    except ValueError as exc:
        gr.Warning(str(exc))
        return f"⚠️ {exc}", []


def wire_scores_panel(panel: ScoresPanel) -> None:
    panel.button.click(handle_score_pairs, None, [panel.summary, panel.table], concurrency_limit=1,
                       api_visibility="private")
