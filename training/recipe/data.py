"""The training data: a file or Hub dataset as Arrow, normalised to the method's TRL type in a `Dataset.map`, the
rows held out for the before/after comparison, and the eval split."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from training.data.formats import apply_column_map, detect_format, normalise_record
from training.methods.registry import get_method

FILE_LOADERS = {".jsonl": "json", ".ndjson": "json", ".json": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}


def load_source(source: str, split: str = "train", subset: str | None = None):
    """A local file (JSON, JSONL, CSV, TSV, Parquet) or a Hub dataset, as a memory-mapped Arrow `datasets.Dataset`."""
    from datasets import load_dataset

    path = Path(source).expanduser()
    if path.is_file():
        loader = FILE_LOADERS.get(path.suffix.lower())
        if loader is None:
            raise ValueError(f"dataset {source}: unsupported file type {path.suffix!r}; use {', '.join(FILE_LOADERS)}")
        extra = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        return load_dataset(loader, data_files=str(path), split="train", **extra)
    return load_dataset(source, subset, split=split)


def _drop_nulls(value):
    """Arrow fills a key missing from one row with null; the normalisers read such a key as absent."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def normalise_dataset(dataset, method: str, column_map: dict | None = None):
    """(dataset in the TRL type the method trains on, that TRL type). Raises ValueError naming the row and field."""
    spec = get_method(method)
    column_map = column_map or {}
    columns = [column_map.get(c, c) for c in dataset.column_names]
    fmt = detect_format(columns, spec.formats)
    if fmt is None or fmt.trl_type not in spec.formats:
        raise ValueError(f"columns {sorted(columns)} match no format {spec.name.upper()} trains on ({', '.join(spec.formats)}); "
                         "map yours with the column mapping, e.g. {\"question\": \"prompt\", \"answer\": \"completion\"}")
    need_assistant = fmt.trl_type == "conversational"

    def one(record: dict, index: int) -> dict:
        row, problems = normalise_record(apply_column_map(_drop_nulls(record), column_map), fmt, need_assistant)
        if problems:
            where, message = problems[0]
            raise ValueError(f"row {index + 1}, {where}: {message}")
        return row

    try:
        out = dataset.map(one, with_indices=True, remove_columns=dataset.column_names, desc="Normalising rows")
    except (TypeError, ValueError, ArithmeticError) as exc:
        if str(exc).startswith("row "):
            raise
        from datasets import Dataset  # rows whose shapes differ between Arrow batches: build from every row at once

        out = Dataset.from_list([one(dict(r), i) for i, r in enumerate(dataset)])
    return out, fmt.trl_type


def split_eval_indices(n: int, count: int, seed: int) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices): `count` rows picked at random with `seed`, at most a tenth of the data."""
    count = min(int(count or 0), n // 10)
    if count <= 0:
        return list(range(n)), []
    picked = set(random.Random(seed).sample(range(n), count))
    return [i for i in range(n) if i not in picked], sorted(picked)


def _text_of(value):
    """Plain text of a string, or of the last message of a list of chat messages."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        content = value[-1].get("content")
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
            prompt = messages[users[-1]].get("content")
            later = [m for m in messages[users[-1] + 1:] if isinstance(m, dict) and m.get("role") == "assistant"]
            reference = later[0].get("content") if later else None
    elif isinstance(row.get("prompt"), str):
        prompt = row["prompt"]
    for key in ("completion", "chosen", "answer"):
        if reference is None and row.get(key) is not None and not (key == "completion" and row.get("label") is False):
            reference = _text_of(row[key]) if not isinstance(row[key], (int, float)) else str(row[key])
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    return {"prompt": prompt, "system": system if isinstance(system, str) else None,
            "reference": reference if isinstance(reference, str) and reference.strip() else None}


@dataclass
class TrainingData:
    train: object  # datasets.Dataset in the method's TRL type
    eval: object | None  # the eval split (train.eval_fraction), or None
    trl_type: str
    held_out: list  # eval_record()s of the rows held out for the before/after comparison
    rows: int  # usable rows before any split
    system_prompt: str | None


def load_training_data(config: dict) -> TrainingData:
    """Load, cut to max_rows, normalise, hold out the comparison rows, and split off the eval fraction."""
    d, t = config["data"], config["train"]
    dataset = load_source(d["source"], d["split"], d.get("subset"))
    if d.get("max_rows"):
        dataset = dataset.select(range(min(d["max_rows"], len(dataset))))
    if len(dataset) == 0:
        raise ValueError(f"dataset {d['source']} has no rows")
    dataset, trl_type = normalise_dataset(dataset, config["method"], d.get("column_map"))
    keep, held = split_eval_indices(len(dataset), d.get("eval_rows") or 0, t["seed"])
    records = [r for r in (eval_record(dataset[i]) for i in held) if r is not None]
    train = dataset.select(keep) if records else dataset
    evaluation = None
    if t["eval_fraction"] and len(train) >= 4:
        parts = train.train_test_split(test_size=t["eval_fraction"], seed=t["seed"], shuffle=True)
        train, evaluation = parts["train"], parts["test"]
    first = dataset[0]
    chat = first.get("messages") or (first.get("prompt") if isinstance(first.get("prompt"), list) else None)
    system = chat[0].get("content") if chat and isinstance(chat[0], dict) and chat[0].get("role") == "system" else None
    return TrainingData(train, evaluation, trl_type, records if records else [], len(dataset), system)
