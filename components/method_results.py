"""Result views that depend on the method: a reward model shows scores for chosen vs rejected, not chat.

Wiring in app.py (next to the before/after panel):

    scores = create_scores_panel()
    wire_scores_panel(scores)
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from components.card_table import render_table
from components.translations import t, tr, translate_message, use_request_language
from training.methods.registry import METHODS

SCORE_HEADERS = ["Prompt", "Chosen", "Rejected", "Score of chosen", "Score of rejected", "Chosen wins"]


@dataclass
class ScoresPanel:
    button: gr.Button
    summary: gr.Markdown
    table: gr.HTML


def create_scores_panel() -> ScoresPanel:
    with gr.Accordion(t("Reward model: scores for chosen vs rejected"), open=False, elem_id="scores-panel"):
        gr.Markdown(t("For a reward-model run: the trained model scores each pair of the run's dataset; a good reward "
                      "model gives the chosen answer the higher score."), elem_classes=["hint"])
        button = gr.Button(t("Score pairs with the trained reward model"), elem_id="score-pairs-btn")
        summary = gr.Markdown(elem_id="scores-summary")
        table = gr.HTML(elem_id="scores-table")
    return ScoresPanel(button, summary, table)


def score_rows(scores) -> tuple[str, str]:
    """Summary and table (components/card_table.py) for a list of training.run.inference.PairScore."""
    rows = [[s.prompt[-200:], s.chosen[:200], s.rejected[:200], f"{s.chosen_score:.3f}", f"{s.rejected_score:.3f}",
             "✅" if s.correct else "❌"] for s in scores]
    wins = sum(s.correct for s in scores)
    table = render_table([tr(h) for h in SCORE_HEADERS], rows, table_id="pair-scores")
    return tr("**Chosen scored higher in {wins} of {n} pairs.**", wins=wins, n=len(scores)), table


def handle_score_pairs(request: gr.Request = None):
    from training.config.schema import RunConfig
    from training.run.inference import score_run_pairs
    from training.run.manager import get_run_manager

    use_request_language(request)
    s = get_run_manager().status()
    if not s.model_dir or s.active:
        gr.Warning(tr("No finished run yet: train a reward model first."))
        return tr("No finished run yet."), ""
    method = (s.config or {}).get("method", "sft")
    if METHODS.get(method) is None or METHODS[method].result_view != "scores":
        return tr("The last run is {method}, not a reward model: use the before/after answers above.",
                  method=html.escape(method.upper())), ""
    try:
        return score_rows(score_run_pairs(RunConfig.from_dict(s.config), s.model_dir))
    except ValueError as exc:
        gr.Warning(translate_message(str(exc)))
        return f"⚠️ {translate_message(str(exc))}", ""


def wire_scores_panel(panel: ScoresPanel) -> None:
    panel.button.click(handle_score_pairs, None, [panel.summary, panel.table], concurrency_limit=1,
                       api_visibility="private")
