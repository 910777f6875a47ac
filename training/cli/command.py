"""The command line that reproduces a config: `python -m training train` with one generated flag per setting that
differs from the method's preset (the same flags `training.cli.main` generates from the declarations)."""

from __future__ import annotations

import json
import shlex

from training.config.schema import RunConfig, apply_method_defaults, get_value, is_demo_model, setting_fields

ANCHORS = ("model.name_or_path", "data.source", "method")  # always written: they pick the preset the CLI starts from


def preset_for(config: RunConfig) -> RunConfig:
    """What the CLI starts from for this config's model and method (see config_from_args)."""
    if is_demo_model(config) and str(config.data.source).strip() == "demo":
        return RunConfig.demo(config.method)
    preset = RunConfig()
    preset.model.name_or_path = config.model.name_or_path
    return apply_method_defaults(preset, config.method)


def _flag_text(kind: str, value) -> str:
    if kind in ("bool", "tristate") and isinstance(value, bool):
        return "on" if value else "off"
    if kind in ("dict", "list"):
        return shlex.quote(json.dumps(value))
    if value is None:
        return "none"
    return shlex.quote(str(value))


def command_line(config: RunConfig, subcommand: str = "train", output_dir: str | None = "runs/my-run") -> str:
    """`python -m training train --model ... --learning-rate ...`: the flags that turn the preset into `config`."""
    preset = preset_for(config)
    parts = ["python -m training", subcommand]
    for f in setting_fields():
        value = get_value(config, f.path)
        if f.path in ANCHORS or value != get_value(preset, f.path):
            parts += [f.flags[0], _flag_text(f.setting.kind, value)]
    if output_dir and subcommand == "train":
        parts += ["--output-dir", shlex.quote(output_dir)]
    return " ".join(parts)
