"""The settings form's values, by name, to a RunConfig and back.

Values are keyed by name, never by position:

- a field path (`train.learning_rate`) for every setting with one widget of its own (components/setting_widgets.py
  converts it by the field's declared kind), and
- "<path>:<part>" for the parts of the few composite settings whose value several controls make together:
  data.source (source kind, upload, Hub id), lora.target_modules (preset, custom list), lora.quantization (the
  QLoRA box), method_args (every method's controls, "method_args:dpo.beta") and rewards (the reward editor,
  "rewards:exact.weight"); the last two are generated from training/methods/registry.py and rewards.py.

`config_from_form(values)` builds and checks the config (raising ConfigError naming the field);
`form_values_by_name(config)` is the reverse. A value left out keeps the method's preset.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.setting_widgets import config_value, widget_value
from training.config.schema import (
    ConfigError,
    RunConfig,
    apply_method_defaults,
    get_value,
    read_names,
    set_value,
    setting_fields,
    validate_config,
)
from training.hosting.paths import uploads_dir
from training.hosting.read_policy import REFUSED_START, ReadRefused, check_name, grant
from training.methods.registry import METHODS, get_method
from training.methods.rewards import REWARD_KINDS

UPLOAD_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet")
SOURCE_KINDS = ("demo", "upload", "hub")

# The parts of the composite settings.
SOURCE_KIND = "data.source:kind"  # demo, upload or hub
UPLOAD = "data.source:upload"  # the uploaded file (used when the kind is upload)
HUB_ID = "data.source:hub_id"  # a Hub dataset id, or a file path on the server (used when the kind is hub)
TARGET_PRESET = "lora.target_modules:preset"  # all-linear, attention or custom
TARGET_CUSTOM = "lora.target_modules:custom"  # module names, used when the preset is custom
QLORA = "lora.quantization:4bit"  # True: 4-bit base (QLoRA), when LoRA is on
COMPOSITE_PATHS = ("data.source", "lora.target_modules", "lora.quantization", "method_args", "rewards")


def control_name(method: str, key: str) -> str:
    return f"method_args:{method}.{key}"


def reward_name(kind: str, key: str) -> str:
    return f"rewards:{kind}.{key}"


def field_path(name: str) -> str:
    """The config field a form value belongs to: `train.seed` -> itself, `rewards:exact.weight` -> `rewards`."""
    return name.split(":", 1)[0]


def plain_fields() -> list:
    """The settings that have one widget of their own: every declared field that is not hidden or composite."""
    return [f for f in setting_fields() if f.setting.group != "hidden" and f.path not in COMPOSITE_PATHS]


def method_control_keys() -> list[tuple[str, str]]:
    """(method, control name) of every method's extra controls."""
    return [(name, c.name) for name, spec in METHODS.items() for c in spec.controls]


def reward_input_keys() -> list[tuple[str, str]]:
    """(reward kind, setting) of the reward editor's components: on/off, weight, then the kind's own settings."""
    return [(kind.name, key) for kind in REWARD_KINDS.values()
            for key in ("enabled", "weight", *(p.name for p in kind.params))]


def reward_input_values(rewards: list[dict]) -> dict[str, Any]:
    """The reward editor's values, by name, showing `rewards` (the first of each kind; others at their defaults, off)."""
    chosen: dict[str, dict] = {}
    for spec in rewards:
        chosen.setdefault(spec.get("name"), spec)
    out = {}
    for kind, key in reward_input_keys():
        spec = chosen.get(kind)
        if key == "enabled":
            value = spec is not None
        elif key == "weight":
            value = float((spec or {}).get("weight", 1.0))
        else:
            param = next(p for p in REWARD_KINDS[kind].params if p.name == key)
            value = (spec or {}).get(key, param.default)
        out[reward_name(kind, key)] = value
    return out


def rewards_from_values(values: Mapping[str, Any], order: list[str] = ()) -> list[dict]:
    """The reward specs the editor's values describe (only the kinds switched on): the kinds named in `order`
    (the method preset's) in that order, then the others in the editor's."""
    out = []
    rank = {name: i for i, name in enumerate(order)}
    kinds = sorted(REWARD_KINDS.values(), key=lambda k: rank.get(k.name, len(rank)))
    for kind in kinds:
        if not values.get(reward_name(kind.name, "enabled")):
            continue
        spec: dict[str, Any] = {"name": kind.name,
                                "weight": _float(values.get(reward_name(kind.name, "weight"), 1.0),
                                                 f"rewards.{kind.name}.weight")}
        for param in kind.params:
            value = values.get(reward_name(kind.name, param.name), param.default)
            spec[param.name] = (_int(value, f"rewards.{kind.name}.{param.name}") if param.type == "int"
                                else value.strip() if isinstance(value, str) else value)
        out.append(spec)
    return out


def method_args_from_values(method: str, values: Mapping[str, Any], preset: dict) -> dict:
    """The method's settings: its controls' values where given, else `preset`'s."""
    out = dict(preset)
    for control in get_method(method).controls:
        name = control_name(method, control.name)
        if name not in values:
            continue
        value, where = values[name], f"method_args.{control.name}"
        if control.type == "int":
            value = _int(value, where)
        elif control.type == "float":
            value = _float(value, where)
        elif control.type == "bool":
            value = bool(value)
        elif control.type in ("choices", "floats"):
            value = control.coerce(value if value is not None else [])
        elif control.type == "text":
            value = (value or "").strip()
        out[control.name] = value
    return out


def store_upload(temp_path: str) -> str:
    """Copy an upload into the data folder under a generated name; the user's file name is never used as a path."""
    suffix = Path(temp_path).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ConfigError([("dataset", f"{Path(temp_path).name} has type {suffix or 'none'}; upload CSV, TSV, JSON, JSONL or Parquet")])
    target = uploads_dir() / f"{uuid.uuid4().hex}{suffix}"
    shutil.copyfile(temp_path, target)
    grant(target)  # the caller's own upload: readable by them in this event, by no other visitor ever
    return str(target)


def upload_path(upload) -> str | None:
    """The temporary path of a gr.File value (a path, a FileData-like object or a dict), or None."""
    if not upload:
        return None
    return upload if isinstance(upload, str) else getattr(upload, "name", None) or upload.get("path")


def uploaded(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The file Gradio's upload control handed to this event (Gradio accepts only files uploaded to it), if the
    source is an upload: the one server path a visitor may make the app read."""
    path = upload_path(values.get(UPLOAD)) if values.get(SOURCE_KIND) == "upload" else None
    return (path,) if path else ()


def readable_source(kind: str, upload, hub_id: str) -> str:
    """Where the data is read from, without copying an upload: demo, the upload's temporary path or a Hub id
    (or, for those allowed, a file on the server), checked against the caller's read policy."""
    if kind == "upload":
        path = upload_path(upload)
        if not path:
            raise ConfigError([("dataset", "no file uploaded yet; drop a CSV, TSV, JSON, JSONL or Parquet file")])
        source = path
    elif kind == "hub":
        if not (hub_id or "").strip():
            raise ConfigError([("dataset", "enter a Hub dataset id such as trl-lib/Capybara")])
        source = hub_id.strip()
    else:
        return "demo"
    check_reads([("data.source", "dataset", source)])
    return source


def check_reads(names: list[tuple[str, str, str]]) -> None:
    """Raise ConfigError for every (field, kind, value) the caller may not make the app read; the message is the same
    whatever the value is, and whether or not it exists."""
    problems = []
    for path, what, value in names:
        try:
            check_name(value, what)
        except ReadRefused as exc:
            problems.append((path, str(exc)))
    if problems:
        raise ConfigError(problems)


def dataset_source(kind: str, upload, hub_id: str) -> str:
    """data.source for the source controls; an upload is copied into the data folder first."""
    source = readable_source(kind, upload, hub_id)
    return store_upload(source) if kind == "upload" else source


def _int(value, name: str) -> int:
    if value is None or value == "":
        raise ConfigError([(name, "is empty; enter a whole number")])
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError([(name, f"is {value!r}; enter a whole number")]) from None
    if not number.is_integer():
        raise ConfigError([(name, f"is {value}; enter a whole number")])
    return int(number)


def _float(value, name: str) -> float:
    if value is None or value == "":
        raise ConfigError([(name, "is empty; enter a number")])
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError([(name, f"is {value!r}; enter a number")]) from None


def method_preset(model_name: str, method: str) -> RunConfig:
    """The config a form starts from: the method's preset (the demo's own for the demo model)."""
    name = (model_name or "").strip()
    demo, vision = name in ("demo", "demo-vision"), name == "demo-vision"  # demo-vision: the tiny LLaVA on its flags
    if method not in METHODS:  # left as it is, for validate_config to name
        config = RunConfig.demo(vision=vision) if demo else RunConfig()
        config.method = method
        return config
    return RunConfig.demo(method, vision=vision) if demo else apply_method_defaults(RunConfig(), method)


def config_from_form(values: Mapping[str, Any], check: bool = True) -> RunConfig:
    """The RunConfig the form's values (by name) describe, checked against every declaration.

    Starts from the method's preset, sets each plain setting from its widget (by its declared kind) and the
    composite ones from their parts. Raises ConfigError naming every field that is wrong; with `check=False` only
    for values that cannot be read at all (JSON that does not parse, no file uploaded). An upload is copied into
    the data folder only once the rest of the config is valid."""
    model_name = str(values.get("model.name_or_path") or "").strip()
    method = values.get("method") or "sft"
    config = method_preset(model_name, method)
    problems: list[tuple[str, str]] = []

    def collect(fn, *args):
        try:
            return fn(*args)
        except ConfigError as exc:
            problems.extend(exc.problems)
            return None

    for f in plain_fields():
        if f.path in values:
            value = collect(config_value, f, values[f.path])
            if not any(name == f.path for name, _ in problems):
                set_value(config, f.path, value)
    kind = values.get(SOURCE_KIND)
    if kind is not None:
        source = collect(readable_source, kind, values.get(UPLOAD), values.get(HUB_ID))
        if source is not None:
            config.data.source = source
    if TARGET_PRESET in values or TARGET_CUSTOM in values:
        preset = values.get(TARGET_PRESET) or "custom"
        config.lora.target_modules = preset if preset != "custom" else str(values.get(TARGET_CUSTOM) or "").strip()
    if QLORA in values:
        config.lora.quantization = "4bit" if values[QLORA] and config.lora.enabled else "none"
    if method in METHODS:
        args = collect(method_args_from_values, method, values, config.method_args)
        if args is not None:
            config.method_args = args
        if get_method(method).uses_rewards and any(field_path(n) == "rewards" for n in values):
            rewards = collect(rewards_from_values, values, [r.get("name") for r in config.rewards])
            if rewards is not None:
                config.rewards = rewards
    collect(check_reads, [n for n in read_names(config) if not any(name == n[0] for name, _ in problems)])
    if any(msg.startswith(REFUSED_START) for _, msg in problems):  # a refused name: say only that
        raise ConfigError([(name, msg) for name, msg in problems if msg.startswith(REFUSED_START)])
    if check:
        reported = {name for name, _ in problems}
        problems += [(name, msg) for name, msg in validate_config(config) if name not in reported]
    if problems:
        raise ConfigError(problems)
    if kind == "upload":
        config.data.source = store_upload(config.data.source)
    return config


def form_values_by_name(config: RunConfig) -> dict[str, Any]:
    """What the form shows for `config`, by name: the reverse of `config_from_form`.

    The upload is not set (a file path on the server is shown as a Hub id, which reads it as that file); the custom
    target modules only when the preset is custom; method controls only the config's method's; the reward editor
    only for methods that use rewards."""
    from training.models.adapters import target_preset

    out = {f.path: widget_value(f, get_value(config, f.path)) for f in plain_fields()}
    source = config.data.source
    out[SOURCE_KIND], out[HUB_ID] = ("demo", "") if source == "demo" else ("hub", source)
    preset = target_preset(config.lora.target_modules)
    out[TARGET_PRESET] = preset
    if preset == "custom":
        out[TARGET_CUSTOM] = config.lora.target_modules
    out[QLORA] = config.lora.quantization == "4bit"
    if config.method in METHODS:
        spec = get_method(config.method)
        for control in spec.controls:
            value = config.method_args.get(control.name, control.default)
            if control.type == "floats":  # shown in a text box as "1, 0.5"
                value = ", ".join(f"{v:g}" for v in value or []) if isinstance(value, list) else str(value or "")
            elif control.type == "choices":
                value = control.coerce(value)
            out[control_name(spec.name, control.name)] = value
        if spec.uses_rewards:
            out.update(reward_input_values(config.rewards))
    return out
