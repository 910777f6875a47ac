"""The page's once-a-second poll: the progress bar, the status, the dashboard, the result note, the History table and
the run pickers of History, Publish and the chat follow the run manager.

The poll keeps what it last showed in a small key (run, state, whether metrics were logged, language), so the heavy
parts change only when they must: the dashboard when the run, its first logged step or the language changes; the
History table and the pickers when the run or its state does. When a run finishes (or the page first loads), the
pickers are set to that run, so Publish, Download, Resume and the chat act on it without a hunt through the list.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from components.export_panel import finished_run_ids
from components.history_panel import history_rows, history_table
from components.run_panels import (
    render_dashboard,
    render_dashboard_empty,
    render_dashboard_waiting,
    render_progress,
    render_status,
    render_where,
    result_picture_update,
)
from components.translations import use_request_language
from training.run.manager import RunStatus, get_run_manager


@dataclass
class LiveView:
    """The components the poll updates, by name."""

    progress: gr.HTML
    status: gr.Markdown
    dashboard: gr.HTML
    where: gr.Markdown
    result_picture: gr.Image  # the before/after picture box, shown for a vision-language run
    result_next_picture: gr.Button  # walks the demo's held-out flags (a demo-vision run)
    result_prompt: gr.Textbox  # its question, set to the demo's held-out one for a demo-vision run
    history_table: gr.HTML
    history_run: gr.Dropdown
    publish_run: gr.Dropdown
    chat_run: gr.Dropdown  # the chat's picker lists the same finished runs as Publish's
    shown: gr.State

    @property
    def outputs(self) -> list:
        return [self.progress, self.status, self.dashboard, self.where, self.result_picture, self.result_next_picture, self.result_prompt,
                self.history_table, self.history_run, self.publish_run, self.chat_run, self.shown]


def create_dashboard() -> gr.HTML:
    """The dashboard slot, showing what the poll would show now (a note before the first run)."""
    return gr.HTML(render_initial_dashboard(get_run_manager().status()), elem_id="dashboard")


def render_initial_dashboard(s: RunStatus) -> str:
    """A friendly note until the first run; the run's key metrics once it logs (Trackio shows system metrics until
    then); a waiting note while it loads."""
    from training.methods.registry import key_metrics

    if s.run_name is None and s.state == "idle":
        return render_dashboard_empty()
    if s.metrics or not s.active:
        config = s.config or {}
        return render_dashboard(s.run_name, key_metrics(config.get("method", "sft"), config.get("method_args")))
    return render_dashboard_waiting(s.run_name)


def picker_updates(s: RunStatus, ids: list[str], run_changed: bool) -> tuple:
    """History's and Publish's run pickers (History lists `ids`): fresh choices, and, once a run has finished, that
    run picked."""
    finished = finished_run_ids()
    done = s.run_id is not None and not s.active
    history = gr.update(choices=ids, value=s.run_id) if done and s.run_id in ids else gr.update(choices=ids)
    if done and s.run_id in finished:
        publish = gr.update(choices=finished, value=s.run_id)
    elif run_changed:
        publish = gr.update(choices=finished)
    else:
        publish = gr.skip()
    return history, publish


def handle_poll(shown: str | None, request: gr.Request):
    """Refresh the live view (see the module's docstring)."""
    lang = use_request_language(request)
    s = get_run_manager().status()
    logged = bool(s.metrics)
    key = f"{s.run_name}|{s.state}|{int(logged)}|{lang}"
    old_run, old_state, old_logged, old_lang = ((shown or "") + "|||").split("|")[:4]
    dashboard = table = history_run = publish_run = picture = next_picture = prompt = gr.skip()
    if (old_run, old_logged, old_lang) != (str(s.run_name), str(int(logged)), lang):
        dashboard = render_initial_dashboard(s)
    state_changed = (old_run, old_state) != (str(s.run_name), s.state)
    if state_changed or old_lang != lang:
        rows, ids = history_rows()
        table = history_table(rows)
        if state_changed:
            history_run, publish_run = picker_updates(s, ids, old_run != str(s.run_name))
            picture, next_picture, prompt = result_picture_update(s)
    chat_run = dict(publish_run)  # its own copy: Gradio consumes an update as it applies it
    return (render_progress(s), render_status(s), dashboard, render_where(s), picture, next_picture, prompt, table, history_run,
            publish_run, chat_run, key)


def wire_live_view(view: LiveView) -> None:
    timer = gr.Timer(1.0)
    timer.tick(handle_poll, view.shown, view.outputs, queue=False, show_progress="hidden", api_visibility="private")
