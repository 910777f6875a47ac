"""The CLI contract: exit codes 0 (valid/success), 1 (invalid data), 2 (bad usage), JSON shapes,
and no tracebacks for user mistakes. Few subprocess runs (each pays Python start-up); argument
handling is tested in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from training.cli.main import build_parser, config_from_args, main
from training.config.schema import ConfigError, RunConfig

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli(env: dict, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_validate_demo_json(subprocess_env):
    result = cli(subprocess_env, "validate", "demo", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"valid", "format", "rows", "errors", "warnings"} <= set(data)
    assert data["valid"] is True and data["format"] == "messages" and data["rows"] == 180
    assert data["errors"] == []


def test_validate_broken_file_json(subprocess_env, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "fine"}\n{oops\n{"text": 1}\n')
    result = cli(subprocess_env, "validate", str(path), "--json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert data["errors"] and all({"row", "field", "message"} <= set(e) for e in data["errors"])
    assert [(e["row"], e["field"]) for e in data["errors"]] == [(2, "(line)"), (3, "text")]


def test_validate_missing_file(subprocess_env, tmp_path):
    result = cli(subprocess_env, "validate", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 1
    assert "does not exist" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["validate"], ["validate", "demo", "--method", "no-such-method"], []])
def test_bad_usage_exits_2(subprocess_env, args):
    result = cli(subprocess_env, *args)
    assert result.returncode == 2
    assert "error:" in result.stderr and "Traceback" not in result.stderr


def test_estimate_json(subprocess_env, demo_model_path):
    result = cli(subprocess_env, "estimate", "--hardware", "t4-small", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"hardware", "seconds", "cost_usd", "gpu_memory_gb", "fits", "assumptions"} <= set(data)
    assert data["hardware"] == "t4-small" and data["seconds"] > 0 and data["fits"] is True
    assert isinstance(data["assumptions"], list) and data["assumptions"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["estimate", "--hardware", "nope"], "Unknown hardware 'nope'"),
        (["train", "--lr", "0", "--output-dir", "OUT"], "train.learning_rate"),
    ],
)
def test_usage_errors_without_traceback(subprocess_env, tmp_path, args, needle):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    result = cli(subprocess_env, *args)
    assert result.returncode == 2
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# --- in-process: flags to config ------------------------------------------------------------------


def parse(*argv: str) -> RunConfig:
    return config_from_args(build_parser().parse_args(list(argv)))


def test_flags_default_to_demo_preset():
    assert parse("estimate") == RunConfig.demo()


def test_flags_override_config():
    config = parse("train", "--output-dir", "x", "--model", "Qwen/Qwen2.5-0.5B-Instruct", "--dataset", "data.jsonl",
                   "--lr", "1e-4", "--batch-size", "2", "--lora", "on", "--lora-r", "8", "--precision", "fp16",
                   "--run-name", "r1", "--epochs", "3")
    assert config.model.name_or_path == "Qwen/Qwen2.5-0.5B-Instruct" and config.data.source == "data.jsonl"
    assert config.train.learning_rate == 1e-4 and config.train.batch_size == 2 and config.train.num_epochs == 3
    assert config.lora.enabled and config.lora.r == 8 and config.train.precision == "fp16" and config.run_name == "r1"


def test_config_file_and_run_json(tmp_path):
    base = RunConfig.demo()
    base.train.max_steps = 12
    run_json = tmp_path / "run.json"
    run_json.write_text(json.dumps({"status": "completed", "config": base.to_dict()}))
    config = parse("estimate", "--config", str(run_json), "--lora", "off", "--max-steps", "20")
    assert config.train.max_steps == 20 and config.train.learning_rate == base.train.learning_rate


def test_invalid_flag_values_raise_config_error():
    with pytest.raises(ConfigError) as info:
        parse("estimate", "--batch-size", "0", "--lora", "on", "--lora-r", "0")
    assert {name for name, _ in info.value.problems} == {"train.batch_size", "lora.r"}


def test_main_returns_2_for_bad_column_map(capsys):
    assert main(["validate", "demo", "--column-map", "{not json"]) == 2
    assert "--column-map must be a JSON object" in capsys.readouterr().err


def test_main_validate_text_output(capsys, tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nq,a\n")
    assert main(["validate", str(path)]) == 1
    assert "Column mapping" in capsys.readouterr().out
    assert main(["validate", str(path), "--column-map", '{"question": "prompt", "answer": "completion"}']) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_json_adds_compatibility_and_suggested_mapping(tmp_path, capsys):
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nWhat is 2+2?,4\n")
    assert main(["validate", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {"valid", "format", "rows", "errors", "warnings", "compatibility", "suggested_column_map", "partial"} <= set(data)
    assert data["suggested_column_map"] == {"question": "prompt", "answer": "completion"}
    sft = next(c for c in data["compatibility"] if c["method"] == "sft")
    assert sft["status"] == "needs mapping" and sft["column_map"] == data["suggested_column_map"]
    assert main(["validate", str(path), "--json", "--column-map", json.dumps(data["suggested_column_map"])]) == 0
    mapped = json.loads(capsys.readouterr().out)
    assert mapped["valid"] and mapped["format"] == "prompt_completion"
    assert next(c for c in mapped["compatibility"] if c["method"] == "sft")["status"] == "ready"


def test_validate_with_model_reports_tokens_and_rendered_preview(demo_model_path, capsys):
    assert main(["validate", "demo", "--model", "demo", "--max-length", "64", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    stats = data["token_stats"]
    assert stats["exact"] and stats["max_length"] == 64 and sum(stats["histogram"]["counts"]) == data["usable_rows"]
    assert data["rendered_preview"] and any(s["loss"] for s in data["rendered_preview"][0]["parts"][0]["spans"])


def test_validate_full_flag_reads_every_hub_row(monkeypatch, capsys):
    from training.data import sources as data_sources

    monkeypatch.setattr(data_sources, "open_hub_stream", lambda *a: ({"text": f"t{i}"} for i in range(1500)))
    assert main(["validate", "someone/texts", "--json"]) == 0
    quick = json.loads(capsys.readouterr().out)
    assert quick["rows"] == 1000 and quick["partial"]
    assert main(["validate", "someone/texts", "--full", "--json"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full["rows"] == 1500 and not full["partial"]


@pytest.mark.parametrize("method", ["sft", "dpo", "grpo"])
def test_command_line_round_trips_through_the_generated_flags(method):
    """The 'show command' text, parsed by the CLI's generated flags, gives back the same config."""
    import shlex

    from training.cli.command import command_line
    from training.config.schema import apply_method_defaults

    config = apply_method_defaults(RunConfig(), method)
    config.model.name_or_path = "Qwen/Qwen2.5-0.5B-Instruct"
    config.data.source, config.data.column_map = "me/my data", {"q": "prompt"}
    t = config.train
    t.weight_decay, t.max_grad_norm, t.optimizer, t.gradient_checkpointing = 0.01, 0.5, "adafactor", False
    t.packing, t.eval_fraction, t.seed, t.learning_rate = method == "sft", 0.1, 7, 1e-5
    config.lora.use_dora, config.run_name = True, "it's mine"
    line = command_line(config)
    assert "--weight-decay 0.01" in line and "--gradient-checkpointing off" in line and "--dora on" in line
    args = build_parser().parse_args(shlex.split(line)[3:])
    assert config_from_args(args) == config


def test_train_help_lists_the_new_settings(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = capsys.readouterr().out
    for flag in ("--gradient-checkpointing", "--weight-decay", "--packing", "--max-grad-norm", "--optimizer",
                 "--eval-fraction", "--lr", "--epochs", "--lora-r", "--rslora", "--save-steps", "--peft"):
        assert flag in text, flag
