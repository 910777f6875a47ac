"""After a run: "did it learn?" in plain words, and a blind A/B test of base vs fine-tuned answers.

The numbers come from training.run.compare (`learning_summary`, `blind_test`, `score_blind_picks`); the sentences
are made here from those numbers with translated templates, in the language of the request. The blind test's key
(which answer is the fine-tuned one) lives only in a gr.State, which Gradio keeps on the server: what reaches the
browser before a pick is the question and two unlabelled answers.

The held-out comparison (`finished_comparison`) is computed once per run and shared by the table, the summary and
the blind test. Wiring in app.py (Results step, under the before/after panel):

    learning = create_learning_panel()
    wire_learning_panel(learning)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import gradio as gr

from components.card_table import render_table
from components.image_views import picture_answers_html
from components.run_panels import display_answer, finished_run
from components.translations import current_language, t, tr, translate_message, use_request_language
from training.run.compare import OVERFIT_RATIO, blind_test, learning_summary, score_blind_picks
from training.run.manager import RunStatus

VERDICTS = {"learned": "Yes, it learned.", "partly": "It learned a little.",
            "not_yet": "Not yet: it did not learn much.", "unknown": "Not enough data to say yet."}
VERDICT_ICONS = {"learned": "✅", "partly": "⚠️", "not_yet": "❌", "unknown": "ℹ️"}
TABLE_HEADERS = ("Question", "Reference answer", "Base model", "Fine-tuned model")
BLIND_NOTE = ("Two answers to the same question, one from the base model and one from the fine-tuned model, in a "
              "random order. Pick the better one; the app then tells you which was which.")


def _num(value: float, digits: int = 2) -> str:
    """A number as this language writes it (a decimal comma in French, Spanish and German)."""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if current_language() in ("fr", "es", "de") else text


def render_learning(summary: dict, totals: dict | None = None, source: str = "") -> str:
    """The "did it learn?" box as Markdown, from the numbers of `learning_summary` (never its English `lines`)."""
    verdict = summary.get("verdict") or "unknown"
    lines = [f"{VERDICT_ICONS[verdict]} **{tr(VERDICTS[verdict])}**"]
    if summary.get("loss_first") is not None:
        first, last, drop = summary["loss_first"], summary["loss_last"], summary["loss_drop_pct"] or 0.0
        if drop > 0:
            lines.append(tr("The training loss fell from {first} to {last} (−{drop} %): the model got better at "
                            "predicting the answers in your data.", first=_num(first), last=_num(last),
                            drop=_num(drop, 0)))
        else:
            lines.append(tr("The training loss did not fall ({first} at the start, {last} at the end): try a higher "
                            "learning rate or more steps.", first=_num(first), last=_num(last)))
    if summary.get("eval_loss_last") is not None:
        ev, near = summary["eval_loss_last"], summary["train_loss_at_eval"]
        if summary.get("overfitting"):
            lines.append("⚠️ " + tr("**Over-fitting:** the loss on rows it never trained on ({eval}) is rising and "
                                    "well above the training loss ({train}): it is memorising rather than learning. "
                                    "Use fewer steps, a lower learning rate or more data.", eval=_num(ev),
                                    train=_num(near)))
        elif ev > OVERFIT_RATIO * near:
            lines.append(tr("The loss on rows it never trained on ({eval}) is above the training loss ({train}), as "
                            "expected for unseen rows, but it is not rising: no sign of over-fitting.", eval=_num(ev),
                            train=_num(near)))
        else:
            lines.append(tr("The loss on rows it never trained on ({eval}) stays close to the training loss "
                            "({train}): no sign of over-fitting.", eval=_num(ev), train=_num(near)))
    if summary.get("n"):
        lines.append(tr("{changed} of {n} answers to questions it never saw in training changed after training.",
                        changed=summary["changed"], n=summary["n"]))
        if summary.get("tuned_correct") is not None:
            scored = (totals or {}).get("scored") or summary["n"]
            lines.append(tr("Right answers: {base} of {scored} before training, {tuned} of {scored} after "
                            "({improved} improved, {worsened} got worse).", base=summary["base_correct"],
                            tuned=summary["tuned_correct"], scored=scored, improved=summary["improved"],
                            worsened=summary["worsened"]))
    elif source == "none":
        lines.append(tr("This run set no rows aside, so there are no held-out questions to ask. Set **Held-out "
                        "rows** in step 1 to keep some aside next time."))
    return lines[0] + "\n\n" + "\n".join(f"- {line}" for line in lines[1:])


def learning_text(record: dict, comparison: dict | None) -> str:
    comparison = comparison or {}
    return render_learning(learning_summary(record, comparison), comparison.get("totals"), comparison.get("source", ""))


# --- the held-out comparison ---------------------------------------------------------------------------------

_COMPARISONS: dict[tuple[str, str, int], dict] = {}  # (run folder, weights folder, step) -> compare_run's result


def finished_comparison() -> tuple[RunStatus, dict] | None:
    """The last finished run and its held-out comparison (computed once per run, then reused by the blind test);
    None (with a warning) when there is no run to compare."""
    from training.run.compare import compare_run

    s = finished_run()
    if s is None:
        return None
    cache_key = (str(s.output_dir), str(s.model_dir), s.step)  # a resumed run trains on: new answers
    if cache_key not in _COMPARISONS:
        try:
            comparison = compare_run(s.output_dir)
        except ValueError as exc:
            gr.Warning(translate_message(str(exc)))
            return None
        _COMPARISONS.clear()  # only the last run's answers are kept
        _COMPARISONS[cache_key] = comparison
    return s, _COMPARISONS[cache_key]


def _mark(correct: bool | None) -> str:
    return "" if correct is None else "✅ " if correct else "❌ "


def comparison_rows(comparison: dict) -> list[list[str]]:
    """Question, reference, base and fine-tuned answers, each answer marked right (✅) or wrong (❌)."""
    return [[i["prompt"], i.get("reference") or "", _mark(i["base_correct"]) + display_answer(i["base"]),
             _mark(i["tuned_correct"]) + display_answer(i["tuned"])] for i in comparison.get("items") or []]


def comparison_table(comparison: dict) -> str:
    """The side-by-side table (headers in the request's language), every answer on screen: its columns wrap, and on
    a phone each question is a card with its answers under it (components/card_table.py)."""
    pictures = picture_answers_html(comparison.get("items") or [], _mark)  # questions about pictures show them
    return pictures + render_table([tr(h) for h in TABLE_HEADERS], comparison_rows(comparison), table_id="comparison-table",
                                   empty=tr("No held-out questions to ask."))


def handle_check_all(request: gr.Request = None):
    """Ask every held-out question (the run's rows set aside, or the demo's held-out questions) to both models:
    the "did it learn?" box and the side-by-side table."""
    from training.run.engine import read_run

    use_request_language(request)
    found = finished_comparison()
    if found is None:
        return gr.skip(), gr.skip()
    s, comparison = found
    return learning_text(read_run(s.output_dir), comparison), comparison_table(comparison)


# --- the panel ----------------------------------------------------------------------------------------------------


@dataclass
class LearningPanel:
    check_all: gr.Button
    summary: gr.Markdown
    scoreboard: gr.HTML
    blind_start: gr.Button
    blind_question: gr.Markdown
    answer_a: gr.Textbox
    answer_b: gr.Textbox
    pick_a: gr.Button
    pick_b: gr.Button
    blind_reveal: gr.Markdown
    blind_next: gr.Button
    blind_state: gr.State


def create_learning_panel() -> LearningPanel:
    check_all = gr.Button(t("Did it learn? Ask every held-out question"), variant="primary", elem_id="check-all-btn")
    summary = gr.Markdown(t("Train a model, then click the button above: this box says in plain words whether it "
                            "learned."), elem_id="learning-summary")
    scoreboard = gr.HTML(elem_id="scoreboard")
    with gr.Accordion(t("Blind test: which answer is better?"), open=True, elem_id="blind-section"):
        gr.Markdown(t(BLIND_NOTE), elem_classes=["hint"])
        start = gr.Button(t("Start a blind test"), elem_id="blind-start")
        question = gr.Markdown(elem_id="blind-question")
        with gr.Row():
            answer_a = gr.Textbox(label=t("Answer A"), interactive=False, lines=3, min_width=200, elem_id="blind-a")
            answer_b = gr.Textbox(label=t("Answer B"), interactive=False, lines=3, min_width=200, elem_id="blind-b")
        with gr.Row():
            pick_a = gr.Button(t("A is better"), visible=False, elem_id="blind-pick-a")
            pick_b = gr.Button(t("B is better"), visible=False, elem_id="blind-pick-b")
        reveal = gr.Markdown(elem_id="blind-reveal")
        next_pair = gr.Button(t("Next question"), visible=False, elem_id="blind-next")
    return LearningPanel(check_all, summary, scoreboard, start, question, answer_a, answer_b, pick_a, pick_b, reveal,
                         next_pair, gr.State(None))


# --- the blind A/B test -------------------------------------------------------------------------------------------


def new_blind_session(comparison: dict, seed: int | None = None) -> dict | None:
    """The server-side state of one viewer's blind test (None when no pair of answers differs)."""
    pairs, key = blind_test(comparison, seed=random.randrange(2**31) if seed is None else seed)
    return {"pairs": pairs, "key": key, "picks": {}, "index": 0} if pairs else None


def _show_pair(session: dict):
    """What the browser gets for the current pair: the question and the two answers, nothing else."""
    pair = session["pairs"][session["index"]]
    question = tr("**Question {i} of {n}:** {prompt}", i=session["index"] + 1, n=len(session["pairs"]),
                  prompt=pair["prompt"])
    return (question, display_answer(pair["answers"][0]), display_answer(pair["answers"][1]),
            gr.update(visible=True), gr.update(visible=True), "", gr.update(visible=False), session)


def _nothing(message: str, session=None):
    return message, "", "", gr.update(visible=False), gr.update(visible=False), "", gr.update(visible=False), session


def handle_blind_start(request: gr.Request = None):
    """Start a blind test on the last finished run's held-out answers."""
    use_request_language(request)
    found = finished_comparison()
    if found is None:
        return _nothing("")
    session = new_blind_session(found[1])
    if session is None:
        return _nothing(tr("The base and fine-tuned models gave the same answers: nothing to compare blind."))
    return _show_pair(session)


def handle_blind_pick(choice: int, session: dict | None, request: gr.Request = None):
    """Record the viewer's pick for the current pair, then reveal which answer was the fine-tuned one."""
    use_request_language(request)
    if not session or session["index"] >= len(session["pairs"]):
        return _nothing(tr("Start a blind test first."), session)
    pair = session["pairs"][session["index"]]
    if pair["id"] in session["picks"]:  # a double click: the pair is already revealed
        return (gr.skip(),) * 7 + (session,)
    session["picks"][pair["id"]] = choice
    result = score_blind_picks(session["key"], session["picks"])
    tuned = "AB"[result["reveal"][pair["id"]]]
    verdict = tr("You picked the fine-tuned answer.") if choice == session["key"][pair["id"]] else \
        tr("You picked the base model's answer.")
    lines = [tr("**{letter} was the fine-tuned model**, the other the base model.", letter=tuned) + " " + verdict,
             tr("You preferred the tuned answer in {k} of {n}.", k=result["tuned_preferred"], n=result["picked"])]
    last = session["index"] + 1 >= len(session["pairs"])
    if last:
        lines.append(tr("That was the last question."))
    return (gr.skip(), gr.skip(), gr.skip(), gr.update(visible=False), gr.update(visible=False), "\n\n".join(lines),
            gr.update(visible=not last), session)


def handle_blind_next(session: dict | None, request: gr.Request = None):
    use_request_language(request)
    if not session or session["index"] + 1 >= len(session["pairs"]):
        return _nothing(tr("Start a blind test first."), session)
    session["index"] += 1
    return _show_pair(session)


def wire_learning_panel(panel: LearningPanel) -> None:
    panel.check_all.click(handle_check_all, None, [panel.summary, panel.scoreboard], concurrency_limit=1,
                          concurrency_id="compare-models", api_visibility="private")
    outputs = [panel.blind_question, panel.answer_a, panel.answer_b, panel.pick_a, panel.pick_b, panel.blind_reveal,
               panel.blind_next, panel.blind_state]
    panel.blind_start.click(handle_blind_start, None, outputs, concurrency_limit=1, concurrency_id="compare-models",
                            api_visibility="private")

    def pick_a(session, request: gr.Request):
        return handle_blind_pick(0, session, request)

    def pick_b(session, request: gr.Request):
        return handle_blind_pick(1, session, request)

    panel.pick_a.click(pick_a, panel.blind_state, outputs, queue=False, api_visibility="private")
    panel.pick_b.click(pick_b, panel.blind_state, outputs, queue=False, api_visibility="private")
    panel.blind_next.click(handle_blind_next, panel.blind_state, outputs, queue=False, api_visibility="private")
