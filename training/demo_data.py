"""The built-in demo dataset: invented facts that a tiny model can visibly memorise.

The facts are made up (fictional places), so no base model can know them. The demo is a
memorisation demo: the before/after questions are taken from the training set, and the UI
says so. It proves that training changed the model, not that it generalises.
"""

from __future__ import annotations

import json
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


def write_demo_dataset(folder: Path) -> Path:
    """Write the demo dataset as JSONL (idempotent) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo_chat.jsonl"
    text = "\n".join(json.dumps(row) for row in demo_rows()) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path
