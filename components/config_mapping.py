"""Mapping UI values to a RunConfig: one ordered list of inputs, one function to build the config."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from training.config.schema import (
    ConfigError,
    DataSettings,
    LoraSettings,
    ModelSettings,
    RunConfig,
    TrainSettings,
    apply_method_defaults,
)
from training.hosting.paths import uploads_dir
from training.methods.registry import METHODS, get_method
from training.methods.rewards import REWARD_KINDS

UPLOAD_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet")


def settings_inputs(model, dataset, method, lora, hyper) -> list:
    """The components whose values `config_from_values` takes, in order: the 20 base settings, then the
    adapter extras (EXTRA_LORA_KEYS), every method's controls (method_control_keys) and the reward
    editor (reward_input_keys), so that a new registry entry needs no change here."""
    return [model.name, model.trust_remote_code, dataset.source, dataset.upload, dataset.hub_id, dataset.split,
            dataset.column_map, method.method, lora.enabled, lora.r, lora.alpha, lora.dropout, lora.target_modules,
            hyper.num_epochs, hyper.max_steps, hyper.learning_rate, hyper.batch_size, hyper.grad_accum,
            hyper.max_length, hyper.precision,
            lora.quantize_4bit, lora.use_rslora, lora.use_dora, lora.target_preset,
            *method.control_inputs, *method.reward_inputs]


EXTRA_LORA_KEYS = ("quantize_4bit", "use_rslora", "use_dora", "target_preset")


def method_control_keys() -> list[tuple[str, str]]:
    """(method, control name) of every method's extra controls, in the order the UI lists their components."""
    return [(name, c.name) for name, spec in METHODS.items() for c in spec.controls]


def reward_input_keys() -> list[tuple[str, str]]:
    """(reward kind, setting) of the reward editor's components: on/off, weight, then the kind's own settings."""
    return [(kind.name, key) for kind in REWARD_KINDS.values()
            for key in ("enabled", "weight", *(p.name for p in kind.params))]


def reward_input_values(rewards: list[dict]) -> list:
    """The reward editor's values showing `rewards` (the first of each kind; others at their defaults, off)."""
    chosen = {}
    for spec in rewards:
        chosen.setdefault(spec.get("name"), spec)
    out = []
    for kind, key in reward_input_keys():
        spec = chosen.get(kind)
        if key == "enabled":
            out.append(spec is not None)
        elif key == "weight":
            out.append(float((spec or {}).get("weight", 1.0)))
        else:
            param = next(p for p in REWARD_KINDS[kind].params if p.name == key)
            out.append((spec or {}).get(key, param.default))
    return out


def rewards_from_values(values: list) -> list[dict]:
    """The reward specs the editor's values describe (only the kinds switched on)."""
    specs: dict[str, dict] = {}
    on: set[str] = set()
    for (kind, key), value in zip(reward_input_keys(), values, strict=False):
        if key == "enabled":
            if value:
                on.add(kind)
            specs[kind] = {"name": kind}
        elif key == "weight":
            specs[kind]["weight"] = _float(value, f"rewards.{kind}.weight")
        else:
            param = next(p for p in REWARD_KINDS[kind].params if p.name == key)
            specs[kind][key] = _int(value, f"rewards.{kind}.{key}") if param.type == "int" else (
                value.strip() if isinstance(value, str) else value)
    return [spec for kind, spec in specs.items() if kind in on]


def method_args_from_values(method: str, values: list) -> dict:
    """The chosen method's settings from the values of every method's controls."""
    out = {}
    for (name, key), value in zip(method_control_keys(), values, strict=False):
        if name != method:
            continue
        control = get_method(name).control(key)
        if control.type == "int":
            value = _int(value, f"method_args.{key}")
        elif control.type == "float":
            value = _float(value, f"method_args.{key}")
        elif control.type == "bool":
            value = bool(value)
        out[key] = value
    return out


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
                       target, epochs, max_steps, lr, batch, accum, max_length, precision, *extra) -> RunConfig:
    """Build the RunConfig from the UI values; raises ConfigError naming the field.

    `extra` holds, in settings_inputs order, the adapter extras, every method's controls and the reward editor;
    without them (older callers) the method's defaults apply."""
    config = _base_config(name, trust, source, upload, hub_id, split, column_map, method, lora_on, r, alpha, dropout,
                          target, epochs, max_steps, lr, batch, accum, max_length, precision)
    spec = get_method(method) if method in METHODS else None
    if spec is None:
        return config
    demo = RunConfig.demo(method) if (name or "").strip() == "demo" else apply_method_defaults(RunConfig(), method)
    if not extra:
        config.method_args, config.rewards = demo.method_args, demo.rewards if spec.uses_rewards else []
        return config
    n_lora, n_controls = len(EXTRA_LORA_KEYS), len(method_control_keys())
    quantize, rslora, dora, preset = extra[:n_lora]
    config.lora.quantization = "4bit" if quantize and config.lora.enabled else "none"
    config.lora.use_rslora, config.lora.use_dora = bool(rslora), bool(dora)
    if preset and preset != "custom":
        config.lora.target_modules = preset
    config.method_args = method_args_from_values(method, list(extra[n_lora:n_lora + n_controls]))
    config.rewards = rewards_from_values(list(extra[n_lora + n_controls:])) if spec.uses_rewards else []
    return config


def _base_config(name, trust, source, upload, hub_id, split, column_map, method, lora_on, r, alpha, dropout,
                 target, epochs, max_steps, lr, batch, accum, max_length, precision) -> RunConfig:
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
                            precision=precision, **_demo_train_extras(name, method)),
    )


def _demo_train_extras(name: str, method: str = "sft") -> dict:
    """Settings the UI does not show, taken from the method's demo preset for the demo model, else the defaults."""
    if (name or "").strip() == "demo":
        preset = RunConfig.demo(method if method in METHODS else "sft").train
    else:
        preset = TrainSettings()
    return {"warmup_ratio": preset.warmup_ratio, "logging_steps": preset.logging_steps}
