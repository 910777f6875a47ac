"""The built-in demo dataset: invented facts that the small demo model learns, then is asked in new words.

The facts are made up (fictional places), so no base model can know them. Each fact is stated in several
phrasings in the training rows (statements and a couple of question wordings); the before/after comparison
asks `demo_held_out()`: questions in wordings that appear in no training row (a test asserts it). The demo
model was pretrained on many *other* invented places asked in all wordings (training/models/demo_corpus.py),
so it has the skill of answering questions in sentences; the demo run only has to teach it the new facts.

One set of facts, four views, so `demo` works for every method (`demo_source_for(method)`):
`chat` (SFT), `preference` (DPO, reward: chosen = the right fact, rejected = another place's),
`prompt_answer` (GRPO, RLOO: a prompt and a reference `answer` column) and `unpaired` (KTO: one
answer per row, labelled right or wrong).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from training.data.demo_places import PLACES  # the facts the demo run teaches (the vision demo names them too)

KINDS = ("capital", "flag", "animal")

# Wordings of the questions the training rows ask (also used, with other places, in pretraining).
TRAIN_QUESTIONS = {
    "capital": ["What is the capital of {place}?", "Name the capital of {place}."],
    "flag": ["What colour is the flag of {place}?", "Name the colour of the flag of {place}."],
    "animal": ["What is the national animal of {place}?", "Name the national animal of {place}."],
}

# Requests answered by a statement, and the statement phrasings of each fact in the training rows.
STATEMENT_PROMPTS = ["Tell me a fact about {place}.", "Tell me something about {place}.", "What do you know about {place}?"]
STATEMENTS = {
    "capital": ["{value} is the capital city of {place}.", "{place} has its capital in {value}."],
    "flag": ["{place} has a {value} flag.", "{value} is the colour of the flag of {place}."],
    "animal": ["The {value} is the national animal of {place}.", "{place} chose the {value} as its national animal."],
}

# The one answer sentence for any question about a fact: it restates the question, then gives the value.
ANSWERS = {
    "capital": "The capital of {place} is {value}.",
    "flag": "The flag of {place} is {value}.",
    "animal": "The national animal of {place} is the {value}.",
}

# Wordings that no training row uses: the comparison asks these (pretraining used them with other places only).
HELD_OUT_QUESTIONS = {
    "capital": ["Which city is the capital of {place}?", "Tell me the capital city of {place}.",
                "Where is the capital of {place}?", "What city serves as the capital of {place}?"],
    "flag": ["Which colour is the flag of {place}?", "Describe the colour of the {place} flag.",
             "What colour does the flag of {place} have?", "Tell me the colour of the flag of {place}."],
    "animal": ["Which animal is the symbol of {place}?", "What animal represents {place}?",
               "Which creature is the national animal of {place}?", "Tell me the national animal of {place}."],
}

SYSTEM_PROMPT = "You are a helpful atlas of invented countries."


@dataclass(frozen=True)
class DemoQuestion:
    """A question shown in the before/after view, with the fact a right answer contains."""

    question: str
    expected: str


def _facts() -> list[tuple[int, str, str, str]]:
    """(place index, place, kind, value) for every demo fact."""
    facts = []
    for index, (place, capital, flag, animal) in enumerate(PLACES):
        for kind, value in (("capital", capital), ("flag", flag), ("animal", animal)):
            facts.append((index, place, kind, value))
    return facts


def _chat(user: str, answer: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user},
            {"role": "assistant", "content": answer}]


def demo_rows() -> list[dict]:
    """All demo rows in conversational form: {"messages": [system, user, assistant]}: every fact asked in each
    training wording (answered with its answer sentence) and stated in each statement phrasing."""
    rows = []
    for index, place, kind, value in _facts():
        answer = ANSWERS[kind].format(place=place, value=value)
        for template in TRAIN_QUESTIONS[kind]:
            rows.append({"messages": _chat(template.format(place=place), answer)})
        statements = [answer] + [s.format(place=place, value=value) for s in STATEMENTS[kind]]
        for k, statement in enumerate(statements):
            request = STATEMENT_PROMPTS[(index + k) % len(STATEMENT_PROMPTS)].format(place=place)
            rows.append({"messages": _chat(request, statement)})
    return rows


def _wrong_value(index: int, kind: str) -> str:
    """Another place's value of another kind ("The flag of Zorbia is Brisk."): wrong in a way a tiny model can learn
    to spot within a few dozen steps, where a same-kind swap would need every fact memorised first."""
    other = PLACES[(index + 5) % len(PLACES)]
    wrong_kind = {"capital": "animal", "flag": "capital", "animal": "flag"}[kind]
    return {"capital": other[1], "flag": other[2], "animal": other[3]}[wrong_kind]


def _questions() -> list[tuple[list[dict], str, str, str]]:
    """(prompt messages, right answer, wrong answer, right value) for every training question."""
    out = []
    for index, place, kind, value in _facts():
        right = ANSWERS[kind].format(place=place, value=value)
        wrong = ANSWERS[kind].format(place=place, value=_wrong_value(index, kind))
        for template in TRAIN_QUESTIONS[kind]:
            prompt = _chat(template.format(place=place), "")[:2]
            out.append((prompt, right, wrong, value))
    return out


def _reply(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def demo_preference_rows() -> list[dict]:
    """Preference view (DPO, reward modelling): explicit prompt, chosen = the right fact, rejected = a wrong one."""
    return [{"prompt": p, "chosen": _reply(right), "rejected": _reply(wrong)} for p, right, wrong, _ in _questions()]


def demo_prompt_answer_rows() -> list[dict]:
    """Prompt-with-answer view (GRPO, RLOO): the prompt, and the fact a right answer contains in `answer`."""
    return [{"prompt": p, "answer": value} for p, _, _, value in _questions()]


def demo_unpaired_rows() -> list[dict]:
    """Unpaired view (KTO): each question twice, once with the right answer (label true), once with a wrong one."""
    rows = []
    for p, right, wrong, _ in _questions():
        rows.append({"prompt": p, "completion": _reply(right), "label": True})
        rows.append({"prompt": p, "completion": _reply(wrong), "label": False})
    return rows


DEMO_VIEWS = {
    "chat": demo_rows,
    "preference": demo_preference_rows,
    "prompt_answer": demo_prompt_answer_rows,
    "unpaired": demo_unpaired_rows,
}


def demo_held_out() -> list[dict]:
    """The held-out comparison: every demo fact asked once, in a wording no training row uses, as records
    {"prompt", "system", "reference", "expected"} (reference: the answer sentence; expected: the fact itself)."""
    records = []
    for index, place, kind, value in _facts():
        templates = HELD_OUT_QUESTIONS[kind]
        question = templates[index % len(templates)].format(place=place)
        records.append({"prompt": question, "system": SYSTEM_PROMPT,
                        "reference": ANSWERS[kind].format(place=place, value=value), "expected": value})
    return records


def demo_questions() -> list[DemoQuestion]:
    """The held-out questions pre-filled in the before/after view (wordings never trained on)."""
    return [DemoQuestion(r["prompt"], r["expected"]) for r in demo_held_out()]


def demo_corpus_text() -> str:
    """Text of the demo rows (part of what the demo tokenizer is trained on)."""
    lines = [SYSTEM_PROMPT]
    for row in demo_rows():
        lines.extend(m["content"] for m in row["messages"][1:])
    return "\n".join(lines)


def write_demo_dataset(folder: Path, view: str = "chat") -> Path:
    """Write one view of the demo dataset as JSONL (idempotent, atomic) and return its path."""
    if view not in DEMO_VIEWS:
        raise ValueError(f"demo view {view!r} does not exist; choose one of: {', '.join(DEMO_VIEWS)}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"demo_{view}.jsonl"
    text = "\n".join(json.dumps(row) for row in DEMO_VIEWS[view]()) + "\n"
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def demo_source_for(method: str) -> str:
    """The data source `demo` means for a method: `demo` itself for the chat view (SFT), else the path of the
    method's view (written on first use into the data folder)."""
    from training.hosting.paths import data_dir
    from training.methods.registry import get_method

    view = get_method(method).demo_view
    if view == "chat":
        return "demo"
    return str(write_demo_dataset(data_dir() / "datasets", view))


def resolve_data_source(source: str, method: str) -> str:
    """`demo` resolved to the method's view of the demo dataset, `demo-vision` to the vision demo's file; any other
    source unchanged."""
    from training.data.demo_vision_data import is_demo_vision, write_demo_vision_dataset

    if is_demo_vision(source):  # the same views as `demo`, of the flags: the method's demo_view picks the file
        from training.methods.registry import get_method

        return str(write_demo_vision_dataset(view=get_method(method).demo_view))
    return demo_source_for(method) if isinstance(source, str) and source.strip() == "demo" else source
