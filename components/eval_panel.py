"""Evaluate panel (Results step): a finished run's base and tuned models on the same lm-eval tasks.

Tasks: the run's held-out questions, a file uploaded here (multiple choice or question/answer JSONL; only through the
upload control), and lm-eval's registered tasks (need network; a time and cost estimate shows before Start). The
progress bar has an ETA; Stop ends it between two requests and writes nothing. The results show as a table and a
chart, base against tuned, with a plain-words warning when the tuned model forgot general ability.

One evaluation at a time, never while a run trains; only those allowed to train may evaluate on a public Space
(training.hosting.access.MODEL_ACTIONS). Wiring in app.py:

    evaluation = create_eval_panel()
    wire_eval_panel(evaluation)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import gradio as gr

from components.access import reading_for, refusal
from components.chat_panel import finished_run_ids, handle_refresh, run_folder
from components.translations import t, tr, translate_message, use_request_language
from training.hosting.access import MODEL_ACTIONS
from training.run.manager import get_run_manager

TABLE_HEADERS = ("Task", "Metric", "Base model", "Fine-tuned model", "Change", "Documents")
SUGGESTED = ("arc_easy", "hellaswag", "gsm8k", "ifeval", "mmlu_abstract_algebra")
_busy = threading.Lock()
_current: dict = {}  # the running evaluation: {"progress", "stop"}


@dataclass
class EvalPanel:
    run: gr.Dropdown
    heldout: gr.Checkbox
    registered: gr.Dropdown
    upload: gr.File
    limit: gr.Number
    estimate: gr.Markdown
    start: gr.Button
    stop: gr.Button
    progress: gr.HTML
    table: gr.Dataframe
    chart: gr.BarPlot
    summary: gr.Markdown


def create_eval_panel() -> EvalPanel:
    ids = finished_run_ids()
    run = gr.Dropdown(ids, value=ids[0] if ids else None, label=t("Run to evaluate"), elem_id="eval-run")
    heldout = gr.Checkbox(value=True, label=t("The run's held-out questions"), elem_id="eval-heldout")
    registered = gr.Dropdown(list(SUGGESTED), value=[], multiselect=True, allow_custom_value=True,
                             label=t("Benchmarks from lm-eval (need network)"), elem_id="eval-registered",
                             info=t("Any lm-eval task name; each downloads its dataset from the Hub."))
    upload = gr.File(label=t("Your own questions (JSONL)"), file_types=[".jsonl"], elem_id="eval-file")
    gr.Markdown(t("Multiple choice: one JSON object per line with question, choices (a list) and answer (the index or "
                  "the text of the right choice). Question/answer: question and answer."), elem_classes=["hint"])
    limit = gr.Number(value=0, precision=0, minimum=0, label=t("Documents per task (0: all)"), elem_id="eval-limit")
    estimate = gr.Markdown(elem_id="eval-estimate")
    with gr.Row():
        start = gr.Button(t("Evaluate base vs fine-tuned"), variant="primary", elem_id="eval-start")
        stop = gr.Button(t("Stop evaluation"), variant="stop", elem_id="eval-stop")
    progress = gr.HTML(elem_id="eval-progress")
    table = gr.Dataframe(headers=list(TABLE_HEADERS), value=[], interactive=False, wrap=True, elem_id="eval-table")
    chart = gr.BarPlot(value=None, x="bar", y="score", color="model", label=t("Score per task"), x_title=" ",
                       y_lim=[0, 1], sort=None, elem_id="eval-chart")  # one bar per task and model, side by side
    summary = gr.Markdown(elem_id="eval-summary")
    return EvalPanel(run, heldout, registered, upload, limit, estimate, start, stop, progress, table, chart, summary)


def _tasks(heldout: bool, registered) -> list[str]:
    return (["heldout"] if heldout else []) + [str(r).strip() for r in (registered or []) if str(r).strip()]


def _limit(value) -> int | None:
    return int(value) if value not in (None, "") and float(value) >= 1 else None


def handle_estimate(run_id, registered, limit, request: gr.Request = None) -> str:
    """Time and cost of the registered tasks, before anything starts ("" when none is picked)."""
    from training.evaluate.registered import estimate_eval
    from training.run.engine import read_run

    use_request_language(request)
    names = [str(r).strip() for r in (registered or []) if str(r).strip()]
    if not names:
        return ""
    try:
        record = read_run(run_folder(run_id))
        est = estimate_eval(names, _limit(limit), record["config"]["model"]["name_or_path"])
    except (ValueError, KeyError) as exc:
        return f"⚠️ {translate_message(str(exc))}"
    return "**" + tr("Estimate") + ":** " + est.summary + "\n\n" + "\n".join(f"- {line}" for line in est.lines)


def render_eval_progress(p: dict | None, state: str = "running") -> str:
    p = p or {}
    pct = 100.0 * (p.get("fraction") or 0.0)
    eta = p.get("eta_seconds")
    label = {"running": tr("Evaluating…"), "done": tr("Done"), "stopped": tr("Stopped"), "failed": tr("Failed")}[state]
    detail = p.get("stage", "") + (f" · {p.get('done', 0)}/{p.get('total') or '?'}" if p.get("total") else "")
    if state == "running" and eta is not None:
        detail += " · " + tr("ETA {time}", time=f"{int(eta) // 60}m {int(eta) % 60:02d}s")
    color = {"failed": "#dc2626", "stopped": "#d97706", "done": "#16a34a"}.get(state, "#2563eb")
    import html

    return (f'<div class="eval-progress" data-state="{state}"><div style="display:flex;justify-content:space-between;'
            f'flex-wrap:wrap;font-size:0.9em"><b>{html.escape(label)}</b><span>{html.escape(detail)}</span></div>'
            f'<div style="background:#e5e7eb;border-radius:6px;height:12px;margin-top:4px"><div style="width:{pct:.1f}%;'
            f'background:{color};height:12px;border-radius:6px"></div></div></div>')


def result_views(result: dict):
    """(table with headers in the request's language, chart data, summary Markdown) of an evaluation's results."""
    import pandas as pd

    from training.evaluate.report import forgetting, table_rows

    rows, points = [], []
    for r in table_rows(result):
        fmt = [("–" if v is None else f"{v:.1%}") for v in (r["base"], r["tuned"])]
        change = "–" if r["change"] is None else f"{r['change'] * 100:+.1f}"
        rows.append([r["task"], r["metric"], fmt[0], fmt[1], change, r["n"]])
        for model, value in ((tr("Base model"), r["base"]), (tr("Fine-tuned model"), r["tuned"])):
            if value is not None:
                points.append({"bar": f"{r['task']} · {model}", "model": model, "score": float(value)})
    lines = []
    for f in forgetting(result):
        lines.append("⚠️ " + tr("**Forgetting:** the fine-tuned model is clearly worse than its base on {task} ({metric}: "
                                "{base} before, {tuned} after). Fine-tuning made it lose some general ability: try fewer "
                                "steps, a lower learning rate, LoRA, or mix general data into your dataset.",
                                task=f["task"], metric=f["metric"], base=f"{f['base']:.1%}", tuned=f"{f['tuned']:.1%}"))
    lines.append(tr("Task configs, every answer and the lm-eval command that reproduces these numbers: `{path}`",
                    path=result.get("dir", "")))
    table = {"headers": [tr(h) for h in TABLE_HEADERS], "data": rows}
    return table, pd.DataFrame(points, columns=["bar", "model", "score"]), "\n\n".join(lines)


def handle_evaluate(run_id, heldout, registered, upload, limit, profile: gr.OAuthProfile | None = None,
                    request: gr.Request = None):
    """Run the evaluation in a thread and stream its progress; then the table, the chart and the summary."""
    from training.evaluate.harness import EvalProgress, EvalStopped
    from training.evaluate.runner import evaluate_run

    use_request_language(request)
    skip = (gr.skip(), gr.skip(), gr.skip())
    reason = refusal(profile, MODEL_ACTIONS)
    if reason:
        yield ("", *skip, f"🔒 {translate_message(reason)}")
        return
    if get_run_manager().status().active:
        yield ("", *skip, "⚠️ " + tr("A run is training: evaluate when it finishes (both need the same hardware)."))
        return
    tasks = _tasks(heldout, registered)
    path = upload if isinstance(upload, str) or upload is None else getattr(upload, "path", None)
    if not tasks and not path:
        yield ("", *skip, tr("Pick at least one task or upload a file."))
        return
    if not _busy.acquire(blocking=False):
        yield ("", *skip, "⚠️ " + tr("An evaluation is already running; wait for it or stop it."))
        return
    try:
        progress, stop, box = EvalProgress(), threading.Event(), {}
        _current.update(progress=progress, stop=stop)

        def work():
            try:
                with reading_for(profile, (path,) if path else ()):
                    box["result"] = evaluate_run(run_folder(run_id), tasks, path, _limit(limit), progress=progress,
                                                 stop=stop)
            except EvalStopped:
                box["stopped"] = True
            except Exception as exc:  # noqa: BLE001 - shown to the user; the app keeps serving
                box["error"] = str(exc) or type(exc).__name__

        thread = threading.Thread(target=work, name="evaluate", daemon=True)
        thread.start()
        while thread.is_alive():
            yield (render_eval_progress(progress.to_dict()), *skip, "")
            thread.join(1.0)
        if "result" in box:
            rows, chart, summary = result_views(box["result"])
            yield (render_eval_progress(progress.to_dict(), "done"), rows, chart, summary, "")
        elif box.get("stopped"):
            yield (render_eval_progress(progress.to_dict(), "stopped"), *skip,
                   tr("Stopped: no results were written; earlier results of this run are kept."))
        else:
            yield (render_eval_progress(progress.to_dict(), "failed"), *skip, f"⚠️ {translate_message(box['error'])}")
    finally:
        _current.clear()
        _busy.release()


def handle_stop_eval(profile: gr.OAuthProfile | None = None, request: gr.Request = None) -> str:
    use_request_language(request)
    if refusal(profile, MODEL_ACTIONS):
        return ""
    stop = _current.get("stop")
    if stop is None:
        return tr("No evaluation is running.")
    stop.set()
    return tr("Stopping after the current requests…")


def wire_eval_panel(panel: EvalPanel) -> None:
    for control in (panel.registered, panel.limit, panel.run):
        control.change(handle_estimate, [panel.run, panel.registered, panel.limit], panel.estimate,
                       api_visibility="private", concurrency_limit=4, concurrency_id="eval-estimate")
    panel.start.click(handle_evaluate, [panel.run, panel.heldout, panel.registered, panel.upload, panel.limit],
                      [panel.progress, panel.table, panel.chart, panel.summary, panel.estimate],
                      concurrency_limit=1, concurrency_id="evaluate", api_visibility="private")
    panel.stop.click(handle_stop_eval, None, panel.estimate, queue=False, api_visibility="private")
    panel.run.focus(handle_refresh, panel.run, panel.run, queue=False, api_visibility="private")
