"""RunConfig: serialisation round trips, unknown fields, and validate_config messages."""

from __future__ import annotations

import json

import pytest

from training.config.schema import (
    PRECISIONS,
    ConfigError,
    DataSettings,
    LoraSettings,
    RunConfig,
    TrainSettings,
    check_config,
    field_help,
    validate_config,
)


def problems_by_field(config: RunConfig) -> dict[str, str]:
    return dict(validate_config(config))


def test_defaults_and_demo_are_valid():
    assert validate_config(RunConfig()) == []
    assert validate_config(RunConfig.demo()) == []
    assert check_config(RunConfig.demo()) == RunConfig.demo()


def test_round_trip_dict_and_json():
    config = RunConfig.demo()
    config.data.column_map = {"question": "prompt", "answer": "completion"}
    config.data.max_rows = 10
    config.run_name = "my-run"
    config.lora = LoraSettings(enabled=True, r=8, alpha=16, target_modules="attention")
    again = RunConfig.from_dict(config.to_dict())
    assert again == config
    assert RunConfig.from_dict(json.loads(config.to_json())) == config
    assert isinstance(again.train, TrainSettings) and isinstance(again.data, DataSettings)


def test_from_dict_partial_keeps_defaults():
    config = RunConfig.from_dict({"train": {"learning_rate": 1e-4}, "method": "sft"})
    assert config.train.learning_rate == 1e-4
    assert config.train.batch_size == TrainSettings().batch_size
    assert config.lora == LoraSettings()


def test_column_map_defaults_are_not_shared():
    a, b = RunConfig(), RunConfig()
    a.data.column_map["x"] = "text"
    assert b.data.column_map == {}


def test_from_file_config_and_run_json(tmp_path):
    config = RunConfig.demo()
    config.train.max_steps = 7
    plain = tmp_path / "config.json"
    plain.write_text(config.to_json())
    assert RunConfig.from_file(plain) == config
    run_json = tmp_path / "run.json"
    run_json.write_text(json.dumps({"status": "completed", "train_seconds": 3.2, "config": config.to_dict()}))
    assert RunConfig.from_file(run_json) == config


def test_from_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig.from_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"train": {"learning_rate": }')
    with pytest.raises(ConfigError, match=r"not valid JSON \(line 1"):
        RunConfig.from_file(bad)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object, got list"):
        RunConfig.from_file(listed)


@pytest.mark.parametrize(
    ("data", "field", "allowed"),
    [
        ({"modle": {}}, "modle", "model"),
        ({"train": {"lr": 1e-4}}, "train.lr", "learning_rate"),
        ({"lora": {"rank": 8}}, "lora.rank", "r"),
        ({"data": {"path": "x.csv"}}, "data.path", "source"),
    ],
)
def test_unknown_field_is_named_with_allowed_fields(data, field, allowed):
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict(data)
    (name, message), = info.value.problems
    assert name == field
    assert "unknown field" in message and allowed in message
    assert field in str(info.value)


def test_section_must_be_an_object():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict({"train": 5})
    assert info.value.problems == [("train", "expected an object")]


def _with(**changes) -> RunConfig:
    """Default config with dotted fields changed, e.g. _with(**{"train.batch_size": 0})."""
    config = RunConfig()
    for dotted, value in changes.items():
        *path, name = dotted.split(".")
        target = config
        for part in path:
            target = getattr(target, part)
        setattr(target, name, value)
    return config


@pytest.mark.parametrize(
    ("dotted", "value", "allowed"),
    [
        ("train.learning_rate", 0, "greater than 0"),
        ("train.learning_rate", -1e-4, "greater than 0"),
        ("train.learning_rate", 2.0, "at most 1"),
        ("train.learning_rate", "fast", "greater than 0"),
        ("train.learning_rate", True, "greater than 0"),
        ("train.batch_size", 0, "from 1 to 4096"),
        ("train.batch_size", 2.5, "whole number"),
        ("train.grad_accum", 0, "from 1 to 4096"),
        ("train.max_length", 4, "from 8 to 131072"),
        ("train.max_steps", 0, "-1 (use epochs)"),
        ("train.num_epochs", 0, "greater than 0"),
        ("train.warmup_ratio", 0.9, "from 0 to 0.5"),
        ("train.lr_scheduler", "exponential", "cosine, linear, constant"),
        ("train.logging_steps", 0, "from 1 to 100000"),
        ("train.seed", "x", "whole number"),
        ("train.precision", "int8", ", ".join(PRECISIONS)),
        ("lora.r", 0, "from 1 to 1024"),
        ("lora.r", 4096, "from 1 to 1024"),
        ("lora.alpha", 0, "greater than 0"),
        ("lora.dropout", 1.0, "below 1"),
        ("lora.target_modules", "  ", "not empty"),
        ("model.name_or_path", "", "not empty"),
        ("data.source", " ", "not empty"),
        ("data.max_rows", 0, "at least 1"),
        ("data.column_map", {"a": 1}, "column names"),
        ("method", "ppo", "sft"),
        ("model.trust_remote_code", "false", "true or false"),
        ("lora.enabled", "false", "true or false"),
        ("lora.enabled", None, "true or false"),
        ("lora.enabled", [], "true or false"),
        ("lora.use_dora", 1, "true or false"),
        ("train.gradient_checkpointing", "yes", "auto, true or false"),
        ("train.weight_decay", -0.1, "from 0 to 1"),
        ("train.max_grad_norm", "1", "from 0 to 1000"),
        ("train.optimizer", "lion", "adamw_torch"),
        ("train.packing", "true", "true or false"),
        ("train.eval_fraction", 0.9, "from 0 to 0.5"),
        ("train.learning_rate", float("nan"), "greater than 0"),
        ("run_name", 5, "text"),
        ("rewards", {"name": "exact"}, "JSON list"),
        ("method_args", [], "JSON object"),
    ],
)
def test_validate_config_names_field_value_and_allowed(dotted, value, allowed):
    problems = problems_by_field(_with(**{dotted: value}))
    assert list(problems) == [dotted]
    assert allowed in problems[dotted]
    assert repr(value) in problems[dotted] or value is None


def test_every_field_is_checked_even_when_its_section_is_off():
    """A LoRA setting with LoRA off is still type- and range-checked: nothing malformed reaches a run."""
    problems = problems_by_field(_with(**{"lora.enabled": False, "lora.r": 0, "lora.dropout": "1; rm -rf /"}))
    assert set(problems) == {"lora.r", "lora.dropout"}
    assert "'1; rm -rf /'" in problems["lora.dropout"]


def test_string_false_never_trusts_remote_code():
    with pytest.raises(ConfigError) as info:
        check_config(RunConfig.from_dict({"model": {"trust_remote_code": "false"}}))
    assert info.value.problems == [("model.trust_remote_code", "is 'false'; must be true or false")]


def test_every_setting_is_declared_with_label_help_and_kind():
    from training.config.schema import setting_fields

    paths = [f.path for f in setting_fields()]
    assert len(paths) == len(set(paths))
    for f in setting_fields():
        assert f.setting.label and f.setting.help and f.setting.kind, f.path
        assert f.setting.problem(f.default) is None, f"{f.path}: its default {f.default!r} is not allowed"


def test_check_config_lists_every_problem():
    config = _with(**{"train.learning_rate": 0, "lora.r": 0, "train.batch_size": 0, "train.precision": "bad"})
    with pytest.raises(ConfigError) as info:
        check_config(config)
    assert {name for name, _ in info.value.problems} == {"train.learning_rate", "lora.r", "train.batch_size", "train.precision"}
    assert "train.precision: is 'bad'; choose one of: auto, bf16, fp16, fp32" in str(info.value)


def test_field_help_has_label_and_help():
    label, text = field_help(TrainSettings, "learning_rate")
    assert label == "Learning rate" and "1e-4" in text
    label, _ = field_help(LoraSettings, "r")
    assert label == "LoRA rank r"
