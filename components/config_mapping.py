"""Mapping UI values to a RunConfig: one ordered list of inputs, one function to build the config."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from training.config import ConfigError, DataSettings, LoraSettings, ModelSettings, RunConfig, TrainSettings
from training.paths import uploads_dir

UPLOAD_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet")


def settings_inputs(model, dataset, method, lora, hyper) -> list:
    """The components whose values `config_from_values` takes, in order."""
    return [model.name, model.trust_remote_code, dataset.source, dataset.upload, dataset.hub_id, dataset.split,
            dataset.column_map, method.method, lora.enabled, lora.r, lora.alpha, lora.dropout, lora.target_modules,
            hyper.num_epochs, hyper.max_steps, hyper.learning_rate, hyper.batch_size, hyper.grad_accum,
            hyper.max_length, hyper.precision]


def store_upload(temp_path: str) -> str:
    """Copy an upload into the data folder under a generated name; the user's file name is never used as a path."""
    suffix = Path(temp_path).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ConfigError([("dataset", f"{Path(temp_path).name} has type {suffix or 'none'}; upload CSV, TSV, JSON, JSONL or Parquet")])
    target = uploads_dir() / f"{uuid.uuid4().hex}{suffix}"
    shutil.copyfile(temp_path, target)
    return str(target)


def dataset_source(source: str, upload, hub_id: str) -> str:
    if source == "upload":
        if not upload:
            raise ConfigError([("dataset", "no file uploaded yet; drop a CSV, TSV, JSON, JSONL or Parquet file")])
        path = upload if isinstance(upload, str) else getattr(upload, "name", None) or upload.get("path")
        return store_upload(path)
    if source == "hub":
        if not (hub_id or "").strip():
            raise ConfigError([("dataset", "enter a Hub dataset id such as trl-lib/Capybara")])
        return hub_id.strip()
    return "demo"


def parse_column_map(text: str) -> dict[str, str]:
    text = (text or "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise ConfigError([("data.column_map", 'is not valid JSON; write it like {"question": "prompt"}')]) from None
    if not isinstance(value, dict):
        raise ConfigError([("data.column_map", 'must be a JSON object like {"question": "prompt"}')])
    return value


def _int(value, name: str) -> int:
    if value is None or value == "":
        raise ConfigError([(name, "is empty; enter a whole number")])
    if float(value) != int(value):
        raise ConfigError([(name, f"is {value}; enter a whole number")])
    return int(value)


def _float(value, name: str) -> float:
    if value is None or value == "":
        raise ConfigError([(name, "is empty; enter a number")])
    return float(value)


def config_from_values(name, trust, source, upload, hub_id, split, column_map, method, lora_on, r, alpha, dropout,
                       target, epochs, max_steps, lr, batch, accum, max_length, precision) -> RunConfig:
    """Build the RunConfig from the UI values; raises ConfigError naming the field."""
    return RunConfig(
        model=ModelSettings(name_or_path=(name or "").strip(), trust_remote_code=bool(trust)),
        data=DataSettings(source=dataset_source(source, upload, hub_id), split=(split or "train").strip(),
                          column_map=parse_column_map(column_map)),
        method=method,
        lora=LoraSettings(enabled=bool(lora_on), r=_int(r, "lora.r"), alpha=_int(alpha, "lora.alpha"),
                          dropout=_float(dropout, "lora.dropout"), target_modules=(target or "").strip()),
        train=TrainSettings(num_epochs=_float(epochs, "train.num_epochs"), max_steps=_int(max_steps, "train.max_steps"),
                            learning_rate=_float(lr, "train.learning_rate"), batch_size=_int(batch, "train.batch_size"),
                            grad_accum=_int(accum, "train.grad_accum"), max_length=_int(max_length, "train.max_length"),
                            precision=precision, **_demo_train_extras(name)),
    )


def _demo_train_extras(name: str) -> dict:
    """Settings the UI does not show, taken from the demo preset for the demo model, else the defaults."""
    preset = RunConfig.demo().train if (name or "").strip() == "demo" else TrainSettings()
    return {"warmup_ratio": preset.warmup_ratio, "logging_steps": preset.logging_steps}
