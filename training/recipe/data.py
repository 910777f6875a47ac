"""The training data: a file or Hub dataset as memory-mapped Arrow, normalised to the method's TRL type in a batched
`Dataset.map`, the rows held out for the before/after comparison, and the eval split.

When the app's engine has validated the data, `config["data"]["validated"]` says where the rows already are as
Arrow (the validation cache) and whether they are already in TRL shape; then the file is not parsed again and rows in
TRL shape are not normalised again. A run that stops at `max_steps` normalises and tokenises only the rows it trains
on (see `rows_needed`).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from training.data.arrow_rows import drop_nulls
from training.data.file_types import DATASETS_LOADERS, KIND_SUFFIXES, load_file_dataset
from training.data.formats import FORMATS, apply_column_map, detect_format, normalise_record
from training.data.image_families import FAMILY_NEEDS, image_trl_type, unpair_image_rows
from training.data.image_rows import is_image_source, is_vision_dataset, load_image_dataset
from training.methods.registry import get_method

SUBSET_METHODS = ("sft", "dpo", "reward")  # trainers that tokenise every row up front (KTO needs both labels)
NORMALISE_BATCH = 1000

FILE_LOADERS = {suffix: DATASETS_LOADERS[kind] for suffix, kind in KIND_SUFFIXES.items()}  # suffix -> datasets loader


def load_source(source: str, split: str = "train", subset: str | None = None, text_unit: str = "line"):
    """A local file (see training.data.file_types; a .txt file as `text` rows by `text_unit`) or a Hub dataset, as a
    memory-mapped Arrow `datasets.Dataset`."""
    from datasets import load_dataset

    path = Path(source).expanduser()
    if path.is_file():
        return load_file_dataset(path, text_unit)
    return load_dataset(source, subset, split=split)


def dataset_format(dataset, method: str, column_map: dict | None = None):
    """The source format (FormatInfo) of the dataset's columns for the method; ValueError when none fits."""
    spec = get_method(method)
    column_map = column_map or {}
    columns = [column_map.get(c, c) for c in dataset.column_names]
    fmt = detect_format(columns, spec.formats)
    if fmt is None or fmt.trl_type not in spec.formats:
        raise ValueError(f"columns {sorted(columns)} match no format {spec.name.upper()} trains on ({', '.join(spec.formats)}); "
                         "map yours with the column mapping, e.g. {\"question\": \"prompt\", \"answer\": \"completion\"}")
    return fmt


def normalise_dataset(dataset, method: str, column_map: dict | None = None, fmt=None, desc: str = "Normalising rows"):
    """(dataset in the TRL type the method trains on, that TRL type), by a batched `Dataset.map`. Raises ValueError
    naming the row (its index in `dataset`, 1-based) and field."""
    column_map = column_map or {}
    fmt = fmt or dataset_format(dataset, method, column_map)
    need_assistant = fmt.trl_type == "conversational"

    def one(record: dict, index: int) -> dict:
        row, problems = normalise_record(apply_column_map(drop_nulls(record), column_map), fmt, need_assistant)
        if problems:
            where, message = problems[0]
            raise ValueError(f"row {index + 1}, {where}: {message}")
        return row

    def batch(columns: dict, indices: list[int]) -> dict:
        names = list(columns)
        rows = [one(dict(zip(names, values, strict=True)), i)
                for i, values in zip(indices, zip(*columns.values(), strict=True), strict=True)]
        keys = list(dict.fromkeys(k for r in rows for k in r))
        return {k: [r.get(k) for r in rows] for k in keys}

    try:
        out = dataset.map(batch, with_indices=True, batched=True, batch_size=NORMALISE_BATCH,
                          remove_columns=dataset.column_names, desc=desc)
    except (TypeError, ValueError, ArithmeticError) as exc:
        if str(exc).startswith("row "):
            raise
        from datasets import Dataset  # rows whose shapes differ between Arrow batches: build from every row at once

        out = Dataset.from_list([one(dict(r), i) for i, r in enumerate(dataset)])
    return out, fmt.trl_type


def rows_needed(config: dict) -> int | None:
    """How many training rows a run that stops at `max_steps` can reach: max_steps x batch x grad_accum x processes.
    None when every row may be used (epochs, packing, or a trainer that does not tokenise up front)."""
    t = config["train"]
    if t["max_steps"] <= 0 or t.get("packing") or config["method"] not in SUBSET_METHODS:
        return None
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    return t["max_steps"] * t["batch_size"] * t["grad_accum"] * max(1, world)


def _in_trl_shape(dataset, validated: dict):
    """The dataset's TRL columns as they are, when validation found every row already in TRL shape; else None."""
    columns = validated.get("columns") or []
    if validated.get("trl_ready") and columns and all(c in dataset.column_names for c in columns):
        return dataset.select_columns(columns)
    return None


def split_eval_indices(n: int, count: int, seed: int) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices): `count` rows picked at random with `seed`, at most a tenth of the data."""
    count = min(int(count or 0), n // 10)
    if count <= 0:
        return list(range(n)), []
    picked = set(random.Random(seed).sample(range(n), count))
    return [i for i in range(n) if i not in picked], sorted(picked)


def _plain(content):
    """Text of a message's content: a string, or the text parts of a list of parts (images left out)."""
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text" and p.get("text")]
        return " ".join(texts) if texts else None
    return content


def _text_of(value):
    """Plain text of a string, or of the last message of a list of chat messages."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        content = _plain(value[-1].get("content"))
        return content if isinstance(content, str) else None
    return None


def eval_record(row: dict) -> dict | None:
    """{"prompt", "system", "reference"} of a normalised row, or None when it has no prompt to ask."""
    system, prompt, reference = None, None, None
    messages = row.get("messages") if isinstance(row.get("messages"), list) else None
    if messages is None and isinstance(row.get("prompt"), list):
        messages = row["prompt"]
    if messages:
        if isinstance(messages[0], dict) and messages[0].get("role") == "system":
            system = messages[0].get("content")
        users = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            prompt = _plain(messages[users[-1]].get("content"))
            later = [m for m in messages[users[-1] + 1:] if isinstance(m, dict) and m.get("role") == "assistant"]
            reference = _plain(later[0].get("content")) if later else None
    elif isinstance(row.get("prompt"), str):
        prompt = row["prompt"]
    for key in ("completion", "chosen", "answer"):
        if reference is None and row.get(key) is not None and not (key == "completion" and row.get("label") is False):
            reference = _text_of(row[key]) if not isinstance(row[key], (int, float)) else str(row[key])
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    out = {"prompt": prompt, "system": system if isinstance(system, str) else None,
           "reference": reference if isinstance(reference, str) and reference.strip() else None}
    if row.get("images"):  # a picture row: the first picture goes with the question (saved by the recipe)
        out["image"] = row["images"][0]
    return out


def _vision_rows_for(dataset, method: str) -> tuple[str, bool]:
    """(the TRL type the method's trainer gets from these picture rows, whether they must be unpaired first: KTO on
    preference pairs, as TRL's KTOTrainer takes only unpaired picture rows). ValueError when the method does not train
    on this family."""
    spec = get_method(method)
    trl_type = image_trl_type(dataset.column_names)
    if not spec.images or trl_type not in spec.formats:
        why = spec.images_note if not spec.images else f"it trains on {' or '.join(FAMILY_NEEDS[t] for t in spec.formats)}"
        raise ValueError(f"{spec.name.upper()} cannot train on these picture rows ({FAMILY_NEEDS[trl_type]}): {why}")
    if trl_type == "preference" and "unpaired_preference" in spec.formats:
        return "unpaired_preference", True
    return trl_type, False


@dataclass
class TrainingData:
    train: object  # datasets.Dataset in the method's TRL type
    eval: object | None  # the eval split (train.eval_fraction), or None
    trl_type: str
    held_out: list  # eval_record()s of the rows held out for the before/after comparison
    rows: int  # usable rows before any split
    system_prompt: str | None


def load_training_data(config: dict, on_stage=None) -> TrainingData:
    """Load (memory-mapped), cut to max_rows, hold out the comparison rows, split off the eval fraction, keep only the
    rows a max_steps run reaches, and normalise what is left. The held-out rows and the eval split are the same
    as when every row is normalised first: they are picked by index, and normalising keeps every row.
    `on_stage(text)` is told what is being done."""
    d, t = config["data"], config["train"]
    stage = on_stage or (lambda text: None)
    validated = d.get("validated") or {}
    arrow = validated.get("arrow_cache")
    if arrow and Path(arrow).is_file():  # the rows as validation read them: nothing to parse again
        from datasets import Dataset

        dataset = Dataset.from_file(arrow)
    elif is_image_source(d["source"]):  # pictures: rows in TRL's vision shape, images as Arrow Image values
        stage("loading data")
        dataset = load_image_dataset(d["source"], d["split"], d.get("subset"))
    else:
        stage("loading data")
        dataset = load_source(d["source"], d["split"], d.get("subset"), d.get("text_unit") or "line")
    if d.get("max_rows"):
        dataset = dataset.select(range(min(d["max_rows"], len(dataset))))
    if len(dataset) == 0:
        raise ValueError(f"dataset {d['source']} has no rows")
    column_map = d.get("column_map") or {}
    known = validated.get("source_format")
    vision = is_vision_dataset(dataset)
    if vision:  # picture rows are normalised as they are read: TRL's shape for their family already
        trl_type, unpair = _vision_rows_for(dataset, config["method"])  # pairs are unpaired after the splits below
        fmt = None
    else:
        fmt = FORMATS[known] if known in FORMATS and not column_map else dataset_format(dataset, config["method"], column_map)
        trl_type, unpair = fmt.trl_type, False
    ready = dataset if vision else _in_trl_shape(dataset, validated)

    def normalised(part, desc: str):
        if ready is not None:
            return part.select_columns(ready.column_names)
        stage(f"{desc.lower()} ({len(part):,} rows)")
        return normalise_dataset(part, config["method"], column_map, fmt, desc=desc)[0]

    n = len(dataset)
    keep, held = split_eval_indices(n, d.get("eval_rows") or 0, t["seed"])
    held_rows = normalised(dataset.select(held), "Normalising held-out rows") if held else []
    records = [r for r in (eval_record(row) for row in held_rows) if r is not None]
    train = dataset.select(keep) if records else dataset
    evaluation = None
    if t["eval_fraction"] and len(train) >= 4:
        parts = train.train_test_split(test_size=t["eval_fraction"], seed=t["seed"], shuffle=True)
        train, evaluation = parts["train"], normalised(parts["test"], "Normalising eval rows")
    needed = rows_needed(config)
    if needed is not None and needed < len(train):  # the rows a max_steps run reaches, drawn at random by seed
        train = train.shuffle(seed=t["seed"]).select(range(needed))
    train = normalised(train, "Normalising rows")
    if unpair:  # a held-out pair stays out of training whole: its picture is never trained on
        train, evaluation = unpair_image_rows(train), (unpair_image_rows(evaluation) if evaluation is not None else None)
    first = normalised(dataset.select([0]), "Normalising rows")[0]
    chat = first.get("messages") or (first.get("prompt") if isinstance(first.get("prompt"), list) else None)
    system = _plain(chat[0].get("content")) if chat and isinstance(chat[0], dict) and chat[0].get("role") == "system" else None
    return TrainingData(train, evaluation, trl_type, records if records else [], n, system)
