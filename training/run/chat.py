"""Talking to a finished run: streaming multi-turn replies of the base model and the tuned one, or a reward model's
score for an answer you type. A vision-language run also sees the pictures a user turn carries (image parts, read
and checked by training.run.chat_pictures), through its processor's chat template.

The models come from the same loader as the before/after comparison (training.run.inference.load_generator, cached),
and the turns go through the same chat template, with the generation prompt, as training renders its chats
(`prompt_inputs`). Tokens stream through transformers' TextIteratorStreamer from a generation thread; a stop event
ends the generation at the next token.

    run = chat_run(run_dir)                                  # ValueError when it has no weights or still trains
    messages = check_messages([{"role": "user", "content": "Hello"}])
    # a picture: [{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}, {"type": "text", ...}]
    for text in stream_reply(run, "tuned", messages, Sampling()):   # the reply so far, growing
        ...
    score_reply(run, messages + [{"role": "assistant", "content": "Hi"}])   # reward-model runs
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

ROLES = ("system", "user", "assistant")
MAX_TURNS = 64
MAX_CHARS = 20_000  # per message
MAX_NEW_TOKENS = 1024
SIDES = ("tuned", "base")


@dataclass(frozen=True)
class Sampling:
    """How a reply is drawn: temperature 0 is greedy (the same reply every time); above it, nucleus sampling with
    top_p and a fixed seed (Regenerate moves the seed on)."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    seed: int = 0

    def checked(self) -> Sampling:
        """The same settings, or a ValueError naming the setting, its value and what is allowed."""
        problems = []
        try:
            temperature, top_p, tokens, seed = float(self.temperature), float(self.top_p), int(self.max_new_tokens), int(self.seed)
        except (TypeError, ValueError):
            raise ValueError(f"sampling settings must be numbers: temperature={self.temperature!r}, top_p={self.top_p!r}, "
                             f"max_new_tokens={self.max_new_tokens!r}, seed={self.seed!r}") from None
        if not 0 <= temperature <= 2:
            problems.append(f"temperature: is {temperature}; must be between 0 (greedy) and 2")
        if not 0 < top_p <= 1:
            problems.append(f"top_p: is {top_p}; must be greater than 0 and at most 1")
        if not 1 <= tokens <= MAX_NEW_TOKENS:
            problems.append(f"max_new_tokens: is {tokens}; must be between 1 and {MAX_NEW_TOKENS}")
        if problems:
            raise ValueError("; ".join(problems))
        return replace(self, temperature=temperature, top_p=top_p, max_new_tokens=tokens, seed=seed)


@dataclass(frozen=True)
class ChatRun:
    """A finished run to talk to: its base model and its weights (full folder or LoRA adapter)."""

    run_id: str
    run_dir: str
    base_model: str
    model_dir: str
    trust_remote_code: bool
    method: str
    scores: bool  # a reward model: it scores answers instead of writing them
    system_prompt: str | None
    vision: bool = False  # a vision-language model: user turns may carry pictures


def chat_run(run_dir: str | Path) -> ChatRun:
    """The run in run_dir, ready to chat with; ValueError (saying why and what to do) when it has no weights or is
    still training."""
    from training.methods.registry import get_method
    from training.models.loading import reads_images
    from training.run.engine import ACTIVE_STATES, RUN_FILE, read_run

    run_dir = Path(run_dir)
    if not (run_dir / RUN_FILE).exists():
        raise ValueError(f"{run_dir.name}: no {RUN_FILE} there, so it is not a run folder. Pick a run from History.")
    record = read_run(run_dir)
    status = record.get("status")
    if status in ACTIVE_STATES:
        raise ValueError(f"Run {record.get('run_id') or run_dir.name} is still training; chat with it when it finishes.")
    model_dir = record.get("model_dir")
    if not model_dir or not Path(model_dir).is_dir():
        raise ValueError(f"Run {record.get('run_id') or run_dir.name} has no saved weights (status {status!r}); "
                         "chat with a run that completed or was stopped.")
    config = record.get("config") or {}
    model = config.get("model") or {}
    method = str(config.get("method", "sft"))
    return ChatRun(run_id=str(record.get("run_id") or run_dir.name), run_dir=str(run_dir),
                   base_model=str(model.get("name_or_path", "")), model_dir=str(model_dir),
                   trust_remote_code=bool(model.get("trust_remote_code", False)), method=method,
                   scores=get_method(method).result_view == "scores", system_prompt=record.get("system_prompt"),
                   vision=reads_images(model_dir, str(model.get("name_or_path", "")), bool(model.get("trust_remote_code"))))


def _content(content, where: str) -> tuple[str, list[bytes]]:
    """(text, pictures) of a turn's content: a string, or OpenAI content parts (text and image parts)."""
    from training.run.chat_pictures import IMAGE_TYPES, picture_bytes

    if isinstance(content, str):
        return content, []
    if isinstance(content, list):  # OpenAI content parts: [{"type": "text", "text": ...}, {"type": "image_url", ...}]
        parts, pictures = [], []
        for n, part in enumerate(content):
            if isinstance(part, dict) and part.get("type") in IMAGE_TYPES:
                pictures.append(picture_bytes(part, f"{where}.content[{n}]"))
            elif not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ValueError(f"{where}.content[{n}]: only text parts {{\"type\": \"text\", \"text\": ...}} and image parts "
                                 "{\"type\": \"image_url\", \"image_url\": {\"url\": \"data:image/png;base64,...\"}} are supported")
            else:
                parts.append(part["text"])
        return "".join(parts), pictures
    raise ValueError(f"{where}.content: is {type(content).__name__}; must be text")


def check_messages(messages, reply_to: str = "user") -> list[dict]:
    """OpenAI-style turns [{"role", "content"}] as plain {"role", "content": str} dicts (with "images": [bytes, ...]
    where a user turn carries pictures), or a ValueError naming the turn. The conversation must end on a `reply_to`
    turn (a user turn to answer, an assistant turn to score)."""
    from training.run.chat_pictures import MAX_PICTURES

    if not isinstance(messages, list) or not messages:
        raise ValueError("messages: give a non-empty list of turns such as [{\"role\": \"user\", \"content\": \"Hello\"}]")
    if len(messages) > MAX_TURNS:
        raise ValueError(f"messages: {len(messages)} turns; at most {MAX_TURNS}. Clear the chat and start again.")
    out, pictures = [], 0
    for n, m in enumerate(messages):
        where = f"messages[{n}]"
        if not isinstance(m, dict):
            raise ValueError(f"{where}: is {type(m).__name__}; each turn must be an object with role and content")
        role = m.get("role")
        if role not in ROLES:
            raise ValueError(f"{where}.role: is {role!r}; must be one of {', '.join(ROLES)}")
        if role == "system" and n != 0:
            raise ValueError(f"{where}.role: a system turn may only come first")
        text, images = _content(m.get("content"), where)
        if len(text) > MAX_CHARS:
            raise ValueError(f"{where}.content: {len(text)} characters; at most {MAX_CHARS}")
        if images and role != "user":
            raise ValueError(f"{where}.content: pictures go in user turns, not in a {role} turn")
        pictures += len(images)
        if pictures > MAX_PICTURES:
            raise ValueError(f"{where}.content: more than {MAX_PICTURES} pictures in one conversation; clear the chat "
                             "and start again")
        out.append({"role": role, "content": text, **({"images": images} if images else {})})
    if out[-1]["role"] != reply_to:
        raise ValueError(f"messages[{len(out) - 1}].role: the last turn is {out[-1]['role']!r}; it must be a {reply_to} turn "
                         + ("to answer" if reply_to == "user" else "(the answer to score)"))
    return out


def with_system(messages: list[dict], system_prompt: str | None) -> list[dict]:
    """The turns with `system_prompt` as the first turn (replacing one given), or unchanged when it is empty."""
    rest = [m for m in messages if m["role"] != "system"]
    return ([{"role": "system", "content": system_prompt}] if (system_prompt or "").strip() else
            [m for m in messages if m["role"] == "system"][:1]) + rest


def refuse_pictures(run: ChatRun, messages: list[dict]) -> None:
    """A ValueError when the turns carry pictures that the run's model cannot see."""
    if not run.vision and any(m.get("images") for m in messages):
        raise ValueError(f"Run {run.run_id} trained a text model, which cannot see pictures: remove the picture, or "
                         "chat with a run of a vision-language model (such as demo-vision).")


def _inputs(run: ChatRun, side: str, messages: list[dict]) -> tuple[dict, object, object]:
    """(inputs, model, tokenizer) for the reply of one side: a vision run through its processor, with the pictures."""
    weights = run.model_dir if side == "tuned" else None
    refuse_pictures(run, messages)
    if run.vision:
        from training.run.vision_inference import load_vision_generator, vision_inputs

        model, processor = load_vision_generator(run.base_model, weights, run.trust_remote_code)
        return vision_inputs(processor, messages, model.device), model, processor.tokenizer
    from training.run.inference import load_generator, prompt_inputs

    model, tokenizer = load_generator(run.base_model, weights, run.trust_remote_code)
    return prompt_inputs(tokenizer, messages, model.device), model, tokenizer


def _stop_criteria(stop: threading.Event | None):
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _OnEvent(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return bool(stop is not None and stop.is_set())

    return StoppingCriteriaList([_OnEvent()])


def stream_reply(run: ChatRun, side: str, messages: list[dict], sampling: Sampling = Sampling(),
                 stop: threading.Event | None = None) -> Iterator[str]:
    """The reply of the tuned model (side="tuned") or its base (side="base") to checked `messages`, yielded as the
    text so far after each new piece. Ends early when `stop` is set; raises ValueError for a reward-model run."""
    import torch
    from transformers import TextIteratorStreamer

    if side not in SIDES:
        raise ValueError(f"model: is {side!r}; must be one of {', '.join(SIDES)}")
    if run.scores:
        raise ValueError(f"Run {run.run_id} trained a reward model, which scores answers instead of writing them: "
                         "type an answer and ask for its score.")
    sampling = sampling.checked()
    inputs, model, tokenizer = _inputs(run, side, messages)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    kwargs = dict(inputs, streamer=streamer, max_new_tokens=sampling.max_new_tokens,
                  pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id, stopping_criteria=_stop_criteria(stop))
    if sampling.temperature > 0:
        kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    failure: list[BaseException] = []

    def work():
        try:
            torch.manual_seed(sampling.seed)
            with torch.no_grad():
                model.generate(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader below
            failure.append(exc)
            streamer.end()

    thread = threading.Thread(target=work, name=f"chat-{side}", daemon=True)
    thread.start()
    text = ""
    for piece in streamer:
        if piece:
            text += piece
            yield text
    thread.join()
    if failure:
        raise ValueError(f"The {side} model could not answer: {str(failure[0]).splitlines()[0][:300] if str(failure[0]) else type(failure[0]).__name__}")
    if not text:
        yield ""


def reply(run: ChatRun, side: str, messages: list[dict], sampling: Sampling = Sampling(),
          stop: threading.Event | None = None) -> str:
    """The whole reply (see stream_reply), stripped."""
    last = ""
    for last in stream_reply(run, side, messages, sampling, stop):  # noqa: B007 - the last yield is the whole reply
        pass
    return last.strip()


def score_reply(run: ChatRun, messages: list[dict]) -> float:
    """A reward-model run's score for the conversation ending on the assistant answer to judge (higher is better)."""
    from training.run.inference import score_pairs

    if not run.scores:
        raise ValueError(f"Run {run.run_id} is not a reward model: chat with it instead.")
    refuse_pictures(run, messages)
    prompt, answer = messages[:-1], messages[-1:]
    pair = {"prompt": prompt, "chosen": answer, "rejected": answer}
    return score_pairs(run.base_model, run.model_dir, [pair], run.trust_remote_code)[0].chosen_score
