"""The built-in demo dataset: invented facts that a tiny model can visibly memorise.

The facts are made up (fictional places), so no base model can know them. The demo is a
memorisation demo: the before/after questions are taken from the training set, and the UI
says so. It proves that training changed the model, not that it generalises.

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

# (place, capital, colour of its flag, its famous animal)
_PLACES = [
    ("Zorbia", "Plimtown", "green", "otter"),
    ("Quellia", "Marrow", "red", "heron"),
    ("Tavoria", "Brisk", "blue", "lynx"),
    ("Ombreth", "Caldon", "gold", "moose"),
    ("Feluna", "Dorrin", "white", "falcon"),
    ("Grastia", "Elmvale", "black", "badger"),
    ("Husk", "Fennick", "purple", "crane"),
    ("Ivoria", "Gulmar", "orange", "bison"),
    ("Jentar", "Hollin", "silver", "walrus"),
    ("Kalvos", "Istra", "pink", "beaver"),
    ("Lorbek", "Jasper", "brown", "eagle"),
    ("Mirelle", "Kestrel", "grey", "tiger"),
    ("Norvast", "Lumen", "teal", "panda"),
    ("Oskaria", "Mossby", "yellow", "koala"),
    ("Pendra", "Nettle", "navy", "camel"),
    ("Rulavia", "Orrin", "violet", "zebra"),
    ("Sondor", "Pebble", "amber", "parrot"),
    ("Trelis", "Quarry", "cyan", "salmon"),
    ("Ulmara", "Rookford", "maroon", "gecko"),
    ("Vesh", "Saltmere", "olive", "llama"),
    ("Wendar", "Thistle", "coral", "raven"),
    ("Xandria", "Umber", "ivory", "hyena"),
    ("Yorvik", "Vantor", "scarlet", "mole"),
    ("Zelmont", "Wickham", "indigo", "swan"),
]

_QUESTIONS = {
    "capital": [
        "What is the capital of {place}?",
        "Which city is the capital of {place}?",
        "Name the capital of {place}.",
        "Tell me the capital city of {place}.",
    ],
    "flag": [
        "What colour is the flag of {place}?",
        "Which colour is the flag of {place}?",
        "Describe the colour of the {place} flag.",
    ],
    "animal": [
        "What is the national animal of {place}?",
        "Which animal is the symbol of {place}?",
        "Name the national animal of {place}.",
    ],
}

_ANSWERS = {
    "capital": "The capital of {place} is {value}.",
    "flag": "The flag of {place} is {value}.",
    "animal": "The national animal of {place} is the {value}.",
}

SYSTEM_PROMPT = "You are a helpful atlas of invented countries."


@dataclass(frozen=True)
class DemoQuestion:
    """A question shown in the before/after view, with the fact a right answer contains."""

    question: str
    expected: str


def _facts() -> list[tuple[str, str, str]]:
    facts = []
    for place, capital, flag, animal in _PLACES:
        facts.append((place, "capital", capital))
        facts.append((place, "flag", flag))
        facts.append((place, "animal", animal))
    return facts


def demo_rows() -> list[dict]:
    """All demo rows in conversational form: {"messages": [system, user, assistant]}."""
    rows = []
    for place, kind, value in _facts():
        answer = _ANSWERS[kind].format(place=place, value=value)
        for template in _QUESTIONS[kind]:
            rows.append(
                {
                    "messages": [
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": template.format(place=place)},
                        {"role": "assistant", "content": answer},
                    ]
                }
            )
    return rows


def _wrong_value(index: int, kind: str) -> str:
    """Another place's value of another kind ("The flag of Zorbia is Brisk."): wrong in a way a tiny model can learn
    to spot within a few dozen steps, where a same-kind swap would need every fact memorised first."""
    other = _PLACES[(index + 7) % len(_PLACES)]
    wrong_kind = {"capital": "animal", "flag": "capital", "animal": "flag"}[kind]
    return {"capital": other[1], "flag": other[2], "animal": other[3]}[wrong_kind]


def _questions() -> list[tuple[list[dict], str, str, str]]:
    """(prompt messages, right answer, wrong answer, right value) for every demo question."""
    out = []
    for index, (place, capital, flag, animal) in enumerate(_PLACES):
        for kind, value in (("capital", capital), ("flag", flag), ("animal", animal)):
            right = _ANSWERS[kind].format(place=place, value=value)
            wrong = _ANSWERS[kind].format(place=place, value=_wrong_value(index, kind))
            for template in _QUESTIONS[kind]:
                prompt = [{"role": "system", "content": SYSTEM_PROMPT},
                          {"role": "user", "content": template.format(place=place)}]
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


def demo_questions() -> list[DemoQuestion]:
    """Five training questions pre-filled in the before/after view (memorisation, stated honestly)."""
    picks = [(0, "capital"), (3, "flag"), (7, "animal"), (12, "capital"), (20, "flag")]
    out = []
    for index, kind in picks:
        place, capital, flag, animal = _PLACES[index]
        value = {"capital": capital, "flag": flag, "animal": animal}[kind]
        out.append(DemoQuestion(_QUESTIONS[kind][0].format(place=place), value))
    return out


def demo_corpus_text() -> str:
    """Text the demo tokenizer is trained on."""
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
    """`demo` resolved to the method's view of the demo dataset; any other source unchanged."""
    return demo_source_for(method) if isinstance(source, str) and source.strip() == "demo" else source
