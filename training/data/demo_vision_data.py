"""The built-in vision demo dataset (`demo-vision`): the flags of the demo's twelve invented countries.

Each training row shows one flag (training/data/demo_vision_flags.py) near the middle of a picture at a middling
size and asks which country it belongs to; the answer names the country. The before/after comparison
(`demo_vision_held_out`) shows each flag twice more, very small or very large and pushed into a corner (sizes and
positions no training row has) and asks in wordings no training row uses. The demo vision model was pretrained on
the flags of 240 *other* invented countries (training/models/demo_vision_pretrain.py): before tuning it names one of
those, fluently and wrongly; after the default run it names the right one.

The dataset is written on first use in TRL's own vision format, one JSONL file per view of the same pictures (paths
relative to the files), mirroring the text demo's views (training/data/demo_data.py; a method's `demo_view` picks one):
`chat` (SFT: `messages` with an `{"type": "image"}` part, `images`), `preference` (DPO: the same question as `prompt`,
chosen = the right country, rejected = another demo country), `unpaired` (KTO: each picture twice, the right country
labelled true and a wrong one false) and `prompt_answer` (GRPO, RLOO: the prompt and the country in `answer`, which the
`contains` reward reads).
"""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path

from training.data.demo_places import PLACES
from training.data.demo_vision_flags import FlagDesign, far_apart_designs, random_placement, render_flag

DEMO_VISION_SOURCE = "demo-vision"
DEMO_VISION_VERSION = 2
SEED = 7
ROWS_PER_FLAG = 12
TRAIN_QUESTIONS = ["Which country's flag is this?", "Whose flag is this?"]
HELD_OUT_QUESTIONS = ["What country does this flag belong to?", "Name the country of this flag."]
DESCRIBE_QUESTIONS = ["Describe this flag.", "What does this flag look like?"]
ANSWER = "This is the flag of {place}."
TRAIN_SCALES = (0.58, 0.8)  # flag width / picture width in the training rows
TRAIN_POSITIONS = (0.12, 0.88)
HELD_OUT_SCALES = ((0.53, 0.57), (0.86, 0.94))  # smaller and larger than any training row
HELD_OUT_POSITIONS = ((0.0, 0.06), (0.94, 1.0))  # pushed into a corner
_lock = threading.Lock()


def demo_flags() -> list[tuple[str, FlagDesign]]:
    """(country, flag design) of the twelve demo countries, as different from each other as can be; no pretraining
    country has any of these flags."""
    designs = far_apart_designs(len(PLACES), random.Random(SEED))
    return [(row[0], design) for row, design in zip(PLACES, designs, strict=True)]


def _question(question: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]


def _reply(answer: str) -> list[dict]:
    return [{"role": "assistant", "content": [{"type": "text", "text": answer}]}]


def _chat(question: str, answer: str) -> list[dict]:
    return _question(question) + _reply(answer)


def _wrong_place(index: int) -> str:
    """Another demo country for a rejected answer (the text demo's wrong facts are offset the same way)."""
    return PLACES[(index + 5) % len(PLACES)][0]


def _view_rows(view: str, picture: str, index: int, place: str, question: str) -> list[dict]:
    """The rows one training picture gives in a view of the dataset."""
    right, wrong = ANSWER.format(place=place), ANSWER.format(place=_wrong_place(index))
    images = [picture]
    if view == "chat":
        return [{"messages": _chat(question, right), "images": images}]
    if view == "preference":
        return [{"prompt": _question(question), "chosen": _reply(right), "rejected": _reply(wrong), "images": images}]
    if view == "unpaired":
        return [{"prompt": _question(question), "completion": _reply(answer), "label": label, "images": images}
                for answer, label in ((right, True), (wrong, False))]
    return [{"prompt": _question(question), "answer": place, "images": images}]


VIEW_FILES = {"chat": "data.jsonl", "preference": "preference.jsonl", "unpaired": "unpaired.jsonl",
              "prompt_answer": "prompt_answer.jsonl"}


def _train_pictures():
    rng = random.Random(SEED + 1)
    for index, (place, design) in enumerate(demo_flags()):
        for k in range(ROWS_PER_FLAG):
            placement = random_placement(rng, TRAIN_SCALES, TRAIN_POSITIONS)
            yield index, f"train_{index:02d}_{k:02d}.png", render_flag(design, placement), place, TRAIN_QUESTIONS[k % 2]


def _held_out_pictures():
    rng = random.Random(SEED + 2)
    for index, (place, design) in enumerate(demo_flags()):
        for k in range(2):
            corner = HELD_OUT_POSITIONS[(index + k) % 2]
            placement = random_placement(rng, HELD_OUT_SCALES[k], corner)
            yield f"held_out_{index:02d}_{k}.png", render_flag(design, placement), place, HELD_OUT_QUESTIONS[(index + k) % 2]


def demo_vision_folder() -> Path:
    from training.hosting.paths import data_dir

    return data_dir() / "datasets" / f"demo-vision-v{DEMO_VISION_VERSION}"


def write_demo_vision_dataset(folder: Path | None = None, view: str = "chat") -> Path:
    """Write the pictures and every view's JSONL file (TRL's vision format) into `folder` once (thread-safe, atomic);
    return the path of `view`'s file (see VIEW_FILES; a method's `demo_view`)."""
    if view not in VIEW_FILES:
        raise ValueError(f"demo-vision view {view!r} does not exist; choose one of: {', '.join(VIEW_FILES)}")
    folder = Path(folder) if folder is not None else demo_vision_folder()
    path = folder / VIEW_FILES[view]
    with _lock:
        if all((folder / name).exists() for name in (*VIEW_FILES.values(), "held_out.jsonl")):
            return path
        tmp = folder.with_name(f"{folder.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        images = tmp / "images"
        images.mkdir(parents=True, exist_ok=True)
        rows: dict[str, list] = {v: [] for v in VIEW_FILES}
        held = []
        for index, name, picture, place, question in _train_pictures():
            picture.save(images / name)
            for v in VIEW_FILES:
                rows[v].extend(_view_rows(v, f"images/{name}", index, place, question))
        for name, picture, place, question in _held_out_pictures():
            picture.save(images / name)
            held.append({"prompt": question, "system": None, "reference": ANSWER.format(place=place),
                         "expected": place, "image": f"images/{name}"})
        for v, name in VIEW_FILES.items():
            (tmp / name).write_text("".join(json.dumps(r) + "\n" for r in rows[v]))
        (tmp / "held_out.jsonl").write_text("".join(json.dumps(r) + "\n" for r in held))
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(folder)
    return path


def demo_vision_held_out() -> list[dict]:
    """The before/after comparison: {"prompt", "system", "reference", "expected", "image"} with the image's
    absolute path; each demo flag twice, at sizes and positions and in wordings no training row has."""
    path = write_demo_vision_dataset()
    rows = [json.loads(line) for line in (path.parent / "held_out.jsonl").read_text().splitlines() if line.strip()]
    return [{**r, "image": str(path.parent / r["image"])} for r in rows]


def is_demo_vision(source) -> bool:
    return isinstance(source, str) and source.strip() == DEMO_VISION_SOURCE
