"""The generated corpus the demo model is pretrained on (training/models/demo_pretrain.py).

Fluent English-like sentences from templates about invented everyday topics, small talk, and a made-up atlas
of many invented countries (none of them a demo place) told in statements and asked in every question wording,
answered in full sentences in the chat template. That teaches the skill the demo relies on: facts learned
from statements can be asked for in other words. Deterministic for a seed.
"""

from __future__ import annotations

import random

from training.data.demo_data import (
    ANSWERS,
    HELD_OUT_QUESTIONS,
    KINDS,
    PLACES,
    STATEMENT_PROMPTS,
    STATEMENTS,
    SYSTEM_PROMPT,
    TRAIN_QUESTIONS,
)

COLOURS = ["green", "red", "blue", "gold", "white", "black", "purple", "orange", "silver", "pink", "brown", "grey",
           "teal", "yellow", "navy", "violet", "amber", "cyan", "maroon", "olive"]
ANIMALS = ["otter", "heron", "lynx", "moose", "falcon", "badger", "crane", "bison", "walrus", "beaver", "eagle",
           "tiger", "panda", "koala", "camel", "zebra", "parrot", "salmon", "gecko", "llama", "raven", "hyena",
           "mole", "swan", "fox", "wolf", "bear", "owl", "deer", "hare"]
_ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "r", "s", "st", "t", "tr", "v",
           "w", "z", "th", "sh"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
_CODAS = ["", "n", "r", "l", "s", "m", "th", "nd", "rk", "x"]
_PLACE_ENDINGS = ["ia", "or", "and", "ar", "eth", "os", "ana", "ur", "is", "en"]
_TOWN_ENDINGS = ["ton", "ford", "by", "mere", "vale", "wick", "holm", "dale", "port", "field", "more", "ley"]

EXTRA_QUESTIONS = {  # more wordings, only ever asked about pretraining places, so the skill is general
    "capital": ["Can you name the capital of {place}?", "I wonder which city is the capital of {place}.",
                "Which town is the capital of {place}?"],
    "flag": ["What is the colour of the flag of {place}?", "Can you tell me which colour the {place} flag is?",
             "Which colour does the flag of {place} show?"],
    "animal": ["Can you name the national animal of {place}?", "What is the animal of {place}?",
               "Which beast stands for {place}?"],
}
_ALL_STATEMENTS = {kind: [ANSWERS[kind]] + STATEMENTS[kind] for kind in KINDS}
_EXTRA_STATEMENTS = {
    "capital": ["In {place}, the capital is {value}.", "The capital city of {place} is called {value}."],
    "flag": ["The flag of {place} is mostly {value}.", "People in {place} fly a {value} flag."],
    "animal": ["In {place}, the national animal is the {value}.", "The {value} stands for {place}."],
}

_SUBJECTS = ["the old farmer", "a young girl", "the baker", "my neighbour", "the teacher", "a tall man", "the children",
             "the captain", "a quiet student", "the fisherman", "her brother", "the doctor", "the gardener"]
_VERBS = ["walks to", "looks at", "paints", "visits", "cleans", "finds", "carries", "builds", "opens", "watches",
          "reads about", "sings about", "dreams of"]
_OBJECTS = ["the red barn", "a small boat", "the green hill", "the long river", "an old book", "the village market",
            "a warm kitchen", "the stone bridge", "a bright garden", "the busy harbour", "a wooden chair", "the tall tower"]
_TIMES = ["every morning", "in the evening", "on sunny days", "after lunch", "in winter", "at night", "on Sundays",
          "before dinner", "in the spring", "once a week"]
_SMALL_TALK = [
    ("Hello!", "Hello! I am a small atlas. Ask me about a country."),
    ("Hi there.", "Hi! I can tell you about capitals, flags and animals."),
    ("How are you?", "I am well, thank you. What would you like to know?"),
    ("Who are you?", "I am a small language model that knows some invented countries."),
    ("Thank you.", "You are welcome. Ask me another question any time."),
    ("Good morning.", "Good morning! Which country shall we talk about?"),
    ("What can you do?", "I can answer questions about the capitals, flags and animals of countries."),
    ("Tell me a story.", "Once upon a time, a young girl walked to the stone bridge and found an old book."),
    ("What is the weather like?", "I cannot see the sky, but I hope it is a sunny day where you are."),
    ("Goodbye.", "Goodbye! It was nice to talk with you."),
]


def _word(rng: random.Random, syllables: int, endings: list[str]) -> str:
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)]
    return ("".join(parts) + rng.choice(endings)).capitalize()


def invented_atlas(count: int, seed: int = 0) -> list[tuple[str, str, str, str]]:
    """`count` invented countries (place, capital, flag colour, animal), none named like a demo place or capital."""
    rng = random.Random(seed)
    taken = {name.lower() for row in PLACES for name in row[:2]}
    atlas = []
    while len(atlas) < count:
        place, capital = _word(rng, rng.choice((1, 2)), _PLACE_ENDINGS), _word(rng, 1, _TOWN_ENDINGS)
        if place.lower() in taken or capital.lower() in taken or len(place) < 4:
            continue
        taken.update((place.lower(), capital.lower()))
        atlas.append((place, capital, rng.choice(COLOURS), rng.choice(ANIMALS)))
    return atlas


def _chat_text(user: str, answer: str, system: bool) -> str:
    head = f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n" if system else ""
    return f"{head}<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{answer}<|im_end|>\n"


def _sentence(rng: random.Random) -> str:
    text = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TIMES)}."
    return text[0].upper() + text[1:]


def pretraining_examples(places: int = 240, seed: int = 0) -> list[str]:
    """The pretraining corpus as a list of short texts (chat turns or plain sentences), shuffled."""
    rng = random.Random(seed)
    out: list[str] = []
    for place, capital, flag, animal in invented_atlas(places, seed):
        values = {"capital": capital, "flag": flag, "animal": animal}
        for kind in KINDS:
            fill = {"place": place, "value": values[kind]}
            answer = ANSWERS[kind].format(**fill)
            for template in TRAIN_QUESTIONS[kind] + HELD_OUT_QUESTIONS[kind] + EXTRA_QUESTIONS[kind]:
                out.append(_chat_text(template.format(**fill), answer, rng.random() < 0.7))
            for statement in _ALL_STATEMENTS[kind] + _EXTRA_STATEMENTS[kind]:
                request = rng.choice(STATEMENT_PROMPTS).format(place=place)
                out.append(_chat_text(request, statement.format(**fill), rng.random() < 0.7))
        about = (f"{place} is a country. Its capital is {capital}, its flag is {flag} "
                 f"and its national animal is the {animal}.")
        out.append(_chat_text(f"Tell me about {place}.", about, True))
    for _ in range(places * 2):
        user, answer = rng.choice(_SMALL_TALK)
        out.append(_chat_text(user, answer, rng.random() < 0.5))
        out.append(" ".join(_sentence(rng) for _ in range(rng.choice((1, 2, 3)))))
    rng.shuffle(out)
    return out


def tokenizer_text(places: int = 240, seed: int = 0) -> list[str]:
    """Lines the demo tokenizer is trained on: the corpus and the demo rows, so demo names tokenize sensibly."""
    from training.data.demo_data import demo_corpus_text

    return pretraining_examples(places, seed) + demo_corpus_text().splitlines()
