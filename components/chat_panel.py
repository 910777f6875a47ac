"""Chat playground (Results step): talk to a finished run, its base beside it, or both; and the /chat endpoint.

The replies stream token by token (training.run.chat). The chat template is the one training used; the system
prompt starts as the run's. A reward-model run scores an answer you type instead. A vision-language run shows a
picture control: the attached picture goes into the conversation (shown there) and the model sees it through its
processor; the pictures are read under the caller's read policy (their own uploads, never other server files). Chat and the endpoint run in
their own concurrency group ("chat", two at a time), never in the slot Start and Stop share, and /run_status is
served off the queue: a chat never blocks them.

Who may chat: on a public Space only those allowed to train (training.hosting.access.MODEL_ACTIONS), since a chat
loads the weights on the owner's hardware; off a Space, the local user.

Wiring in app.py (Results step):

    chat = create_chat_panel()
    wire_chat_panel(chat)        # also registers api_name="/chat"
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.access import reading_for, refusal
from components.translations import t, tr, translate_message, use_request_language
from training.hosting.access import MODEL_ACTIONS
from training.run.manager import get_run_manager

CHAT_GROUP = "chat"
CHAT_LIMIT = 2
MODES = ("tuned", "base", "both")
_stops: dict[str, threading.Event] = {}  # session hash -> the stop event of its current reply


def finished_run_ids() -> list[str]:
    """Runs with weights that are not training, newest first."""
    from training.run.engine import ACTIVE_STATES

    return [r["run_id"] for r in get_run_manager().history()
            if r.get("run_id") and r.get("model_dir") and r.get("status") not in ACTIVE_STATES]


def run_folder(run_id: str | None) -> Path:
    """The folder of run_id, or of the newest finished run when it is empty; ValueError when there is none."""
    manager = get_run_manager()
    run_id = (run_id or "").strip()
    if not run_id:
        ids = finished_run_ids()
        if not ids:
            raise ValueError("No finished run yet: train a model first (or wait for the run to finish), then chat with it.")
        run_id = ids[0]
    manager.run_record(run_id)  # ValueError for a name that is not a run here (no path tricks: one folder level)
    return manager.root / run_id


def _sampling(temperature, top_p, max_new_tokens, seed=0):
    from training.run.chat import Sampling

    return Sampling(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed).checked()


def _as_messages(messages) -> list:
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except ValueError as exc:
            raise ValueError(f"messages: not valid JSON ({exc}); give a list of {{\"role\", \"content\"}} turns") from None
    return messages


# --- the API ------------------------------------------------------------------------------------------------------


def chat(run_id: str, messages: list, temperature: float = 0.0, top_p: float = 1.0, max_new_tokens: int = 128,
         model: str = "tuned", profile: gr.OAuthProfile | None = None) -> str:
    """The reply of a finished run's model to OpenAI-style `messages` (the turns so far, ending on a user turn).

    run_id: a run of History ("" = the newest finished run). model: "tuned" or "base". temperature 0 is greedy (the
    same reply every time). Without a system turn, the run's own system prompt is used, as in training. For a reward
    model run, end on the assistant answer to judge: the reply is its score. For a vision-language run a user turn may
    carry pictures as image parts: {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}."""
    from training.run.chat import chat_run, check_messages, reply, score_reply, with_system

    reason = refusal(profile, MODEL_ACTIONS)
    if reason:
        raise gr.Error(reason)
    try:
        run = chat_run(run_folder(run_id))
        with reading_for(profile):  # a picture named by path: only inside the app's folders (read_policy.py)
            turns = check_messages(_as_messages(messages), reply_to="assistant" if run.scores else "user")
        if not any(m["role"] == "system" for m in turns):
            turns = with_system(turns, run.system_prompt)
        if run.scores:
            return f"{score_reply(run, turns):.4f}"
        return reply(run, model, turns, _sampling(temperature, top_p, max_new_tokens))
    except ValueError as exc:
        raise gr.Error(str(exc)) from None


def register_chat_api() -> None:
    """Call inside the Blocks context: api_name="/chat", in the chat group."""
    gr.api(chat, api_name="chat", concurrency_limit=CHAT_LIMIT, concurrency_id=CHAT_GROUP)


# --- the panel ----------------------------------------------------------------------------------------------------


@dataclass
class ChatPanel:
    run: gr.Dropdown
    refresh: gr.Button
    mode: gr.Radio
    system: gr.Textbox
    temperature: gr.Slider
    top_p: gr.Slider
    max_new_tokens: gr.Slider
    tuned_chat: gr.Chatbot
    base_chat: gr.Chatbot
    message: gr.Textbox
    picture: gr.Image
    send: gr.Button
    stop: gr.Button
    regenerate: gr.Button
    clear: gr.Button
    note: gr.Markdown
    seed: gr.State


def _chat_run_or_none(run_id: str | None):
    from training.run.chat import chat_run

    try:
        return chat_run(run_folder(run_id))
    except ValueError:
        return None


def create_chat_panel() -> ChatPanel:
    ids = finished_run_ids()
    first = _chat_run_or_none(ids[0]) if ids else None
    with gr.Row():
        run = gr.Dropdown(ids, value=ids[0] if ids else None, label=t("Run to chat with"), scale=3, min_width=200,
                          elem_id="chat-run", allow_custom_value=False)
        refresh = gr.Button(t("Refresh"), scale=1, min_width=100)
    mode = gr.Radio([(t("Fine-tuned"), "tuned"), (t("Base"), "base"), (t("Both, side by side"), "both")], value="both",
                    label=t("Who answers"), elem_id="chat-mode")
    system = gr.Textbox(value=(first.system_prompt or "") if first else "", label=t("System prompt"), lines=1, elem_id="chat-system",
                        info=t("Starts as the run's own system prompt, the one it trained with."))
    with gr.Accordion(t("Sampling"), open=False):
        temperature = gr.Slider(0, 2, value=0, step=0.05, label=t("Temperature"),
                                info=t("0 answers greedily: the same reply every time."))
        top_p = gr.Slider(0.05, 1, value=1, step=0.05, label=t("Top-p"))
        max_new_tokens = gr.Slider(1, 1024, value=128, step=1, label=t("Max new tokens"))
    with gr.Row(equal_height=True):
        tuned_chat = gr.Chatbot(label=t("Fine-tuned model"), height=360, min_width=160, elem_id="chat-tuned")
        base_chat = gr.Chatbot(label=t("Base model"), height=360, min_width=160, elem_id="chat-base")
    message = gr.Textbox(label=t("Message"), lines=2, elem_id="chat-message",
                         placeholder=t("Type a message; for a reward model, the answer to score"))
    picture = gr.Image(type="filepath", sources=["upload", "clipboard"], label=t("Picture (optional)"), height=160,
                       elem_id="chat-picture", visible=bool(first and first.vision))
    with gr.Row():
        send = gr.Button(t("Send"), variant="primary", min_width=70, elem_id="chat-send")
        stop = gr.Button(t("Stop"), variant="stop", min_width=70, elem_id="chat-stop")
    with gr.Row():
        regenerate = gr.Button(t("Regenerate"), min_width=70, elem_id="chat-regenerate")
        clear = gr.Button(t("Clear"), min_width=70, elem_id="chat-clear")
    note = gr.Markdown(elem_id="chat-note")
    return ChatPanel(run, refresh, mode, system, temperature, top_p, max_new_tokens, tuned_chat, base_chat, message,
                     picture, send, stop, regenerate, clear, note, gr.State(0))


def _picture_path(part) -> str | None:
    """The file of a Chatbot content part: {"path"} as this panel adds it, {"type": "file", "file": {"path"}} as
    Gradio hands it back."""
    if isinstance(part, dict) and isinstance(part.get("file"), dict):
        part = part["file"]
    return part.get("path") if isinstance(part, dict) and isinstance(part.get("path"), str) else None


def _plain(history) -> list[dict]:
    """A Chatbot's value as {"role", "content": str} turns (Gradio may hand content back as parts); a turn with
    pictures as content parts: [{"type": "image", "image": PATH}, ..., {"type": "text", "text": ...}]."""
    out = []
    for m in history or []:
        content = m.get("content") if isinstance(m, dict) else None
        pictures = []
        if isinstance(content, list):
            pictures = [path for path in map(_picture_path, content) if path]
            content = "".join(p if isinstance(p, str) else p.get("text", "") if isinstance(p, dict) else str(p)
                              for p in content)
        if isinstance(content, str) and m.get("role") in ("user", "assistant"):
            if pictures:
                content = [*({"type": "image", "image": path} for path in pictures), {"type": "text", "text": content}]
            out.append({"role": m["role"], "content": content})
    return out


def _text_of(turn: dict) -> str:
    content = turn.get("content")
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [] if p.get("type") == "text")


def _turns(history, system: str, profile) -> list[dict]:
    """The turns for the model: the chat so far with the system prompt; its pictures read (and checked) under the
    caller's read policy, which grants the files Gradio handed to this event (their own uploads)."""
    from training.run.chat import check_messages, with_system

    turns = with_system(_plain(history), system)
    pictures = tuple(p["image"] for t in turns if isinstance(t["content"], list) for p in t["content"] if p.get("image"))
    if not pictures:
        return turns
    with reading_for(profile, pictures):
        return check_messages(turns)


def handle_run_selected(run_id: str | None, request: gr.Request = None):
    """A new run: its system prompt, empty chats."""
    from training.run.chat import chat_run

    use_request_language(request)
    try:
        run = chat_run(run_folder(run_id))
    except ValueError as exc:
        return "", [], [], translate_message(str(exc)), gr.update(visible=False, value=None)
    note = tr("This run trained a reward model: type an answer and Send to see its score (higher is better).") \
        if run.scores else ""
    return run.system_prompt or "", [], [], note, gr.update(visible=run.vision, value=None)


def handle_refresh(current: str | None):
    ids = finished_run_ids()
    return gr.update(choices=ids, value=current if current in ids else (ids[0] if ids else None))


def _stream(run, side, history, system, sampling, stop, profile=None):
    from training.run.chat import stream_reply

    turns = _turns(history, system, profile)
    history = list(history) + [{"role": "assistant", "content": ""}]
    for text in stream_reply(run, side, turns, sampling, stop):
        history[-1] = {"role": "assistant", "content": text}
        yield history
    if not history[-1]["content"].strip():
        history[-1] = {"role": "assistant", "content": tr("(no visible text: the model produced only whitespace or "
                                                          "special tokens)")}
        yield history


def handle_send(run_id, mode, system, temperature, top_p, max_new_tokens, message, tuned_history, base_history, seed,
                picture=None, profile: gr.OAuthProfile | None = None, request: gr.Request = None):
    """Add the message (and its picture) to the chat(s) and stream the reply of each model asked; the reward model's
    score instead. Yields (tuned chat, base chat, message box, note, picture)."""
    from training.run.chat import chat_run, check_messages, refuse_pictures, score_reply, with_system

    use_request_language(request)
    reason = refusal(profile, MODEL_ACTIONS)
    if reason:
        yield tuned_history, base_history, message, f"🔒 {translate_message(reason)}", picture
        return
    text = (message or "").strip()
    if not text:
        yield tuned_history, base_history, message, tr("Type a message first."), picture
        return
    try:
        run = chat_run(run_folder(run_id))
        sampling = _sampling(temperature, top_p, max_new_tokens, seed)
        if picture:
            refuse_pictures(run, [{"images": [picture]}])
    except ValueError as exc:
        yield tuned_history, base_history, message, f"⚠️ {translate_message(str(exc))}", picture
        return
    tuned_history, base_history = list(tuned_history or []), list(base_history or [])
    if run.scores:  # a prompt first, then each answer typed is scored against it
        if not tuned_history or _plain(tuned_history)[-1:] == [] or _plain(tuned_history)[-1]["role"] != "user":
            tuned_history.append({"role": "user", "content": text})
            yield tuned_history, base_history, "", tr("Now type an answer to this prompt and Send: the reward model "
                                                      "scores it."), None
            return
        turns = check_messages(with_system(_plain(tuned_history) + [{"role": "assistant", "content": text}], system),
                               reply_to="assistant")
        score = score_reply(run, turns)
        tuned_history += [{"role": "assistant", "content": text + "\n\n" + tr("Reward score: {score}", score=f"{score:.4f}")}]
        yield tuned_history, base_history, "", "", None
        return
    stop = _stops[getattr(request, "session_hash", None) or "-"] = threading.Event()
    sides = ("tuned", "base") if mode == "both" else (mode,)
    turn = {"role": "user", "content": [{"path": picture}, text] if picture else text}  # the picture shows in the chat
    if "tuned" in sides:
        tuned_history.append(turn)
    if "base" in sides:
        base_history.append(dict(turn))
    yield tuned_history, base_history, "", "", None
    try:
        for side in sides:
            history = tuned_history if side == "tuned" else base_history
            for history in _stream(run, side, history, system, sampling, stop, profile):  # noqa: B020 - the growing reply
                if side == "tuned":
                    tuned_history = history
                else:
                    base_history = history
                yield tuned_history, base_history, "", "", None
            if stop.is_set():
                break
    except ValueError as exc:
        yield tuned_history, base_history, "", f"⚠️ {translate_message(str(exc))}", None


def handle_stop(request: gr.Request = None):
    event = _stops.get(getattr(request, "session_hash", None) or "-")
    if event is not None:
        event.set()


def handle_clear():
    return [], [], "", "", 0, None


def handle_regenerate(tuned_history, base_history, seed):
    """Take back the last reply of each chat and put its question (and picture) back; the next seed, so sampling
    draws another reply (greedy gives the same)."""
    last_user, last_picture = "", None
    trimmed = []
    for history in (list(tuned_history or []), list(base_history or [])):
        while history and history[-1].get("role") == "assistant":
            history.pop()
        if history and history[-1].get("role") == "user":
            turn = (_plain(history[-1:]) or [{"content": ""}])[0]
            last_user = last_user or _text_of(turn)
            pictures = [p["image"] for p in turn["content"] if p.get("image")] if isinstance(turn["content"], list) else []
            last_picture = last_picture or (pictures[-1] if pictures else None)
            history.pop()
        trimmed.append(history)
    return trimmed[0], trimmed[1], last_user, int(seed or 0) + 1, last_picture


def handle_mode(mode: str):
    return gr.update(visible=mode in ("tuned", "both")), gr.update(visible=mode in ("base", "both"))


def wire_chat_panel(panel: ChatPanel) -> None:
    register_chat_api()
    panel.run.change(handle_run_selected, panel.run, [panel.system, panel.tuned_chat, panel.base_chat, panel.note,
                                                      panel.picture], queue=False, api_visibility="private")
    panel.refresh.click(handle_refresh, panel.run, panel.run, queue=False, api_visibility="private")
    panel.run.focus(handle_refresh, panel.run, panel.run, queue=False, api_visibility="private")
    panel.mode.change(handle_mode, panel.mode, [panel.tuned_chat, panel.base_chat], queue=False, api_visibility="private")
    inputs = [panel.run, panel.mode, panel.system, panel.temperature, panel.top_p, panel.max_new_tokens, panel.message,
              panel.tuned_chat, panel.base_chat, panel.seed, panel.picture]
    outputs = [panel.tuned_chat, panel.base_chat, panel.message, panel.note, panel.picture]
    sent = panel.send.click(handle_send, inputs, outputs, concurrency_limit=CHAT_LIMIT, concurrency_id=CHAT_GROUP,
                            api_visibility="private")
    submitted = panel.message.submit(handle_send, inputs, outputs, concurrency_limit=CHAT_LIMIT,
                                     concurrency_id=CHAT_GROUP, api_visibility="private")
    panel.stop.click(handle_stop, None, None, queue=False, api_visibility="private", cancels=[sent, submitted])
    panel.clear.click(handle_clear, None, [panel.tuned_chat, panel.base_chat, panel.message, panel.note, panel.seed,
                                           panel.picture], queue=False, api_visibility="private")
    regen = panel.regenerate.click(handle_regenerate, [panel.tuned_chat, panel.base_chat, panel.seed],
                                   [panel.tuned_chat, panel.base_chat, panel.message, panel.seed, panel.picture],
                                   queue=False, api_visibility="private")
    regen.then(handle_send, inputs, outputs, concurrency_limit=CHAT_LIMIT, concurrency_id=CHAT_GROUP,
               api_visibility="private")
