"""`train --config CFG` refuses a config that cannot work before a run exists, with the app's own preflight: each of
17 bad configs exits 2 naming its field, and no run folder (so no run.json) is written. Before issue 23, an unknown
model or a missing dataset file wrote run.json, then failed with a message that named neither field."""

from __future__ import annotations

import json

import pytest

from training.cli.main import main

BAD_CONFIGS = [  # (field, bad value, words of the message)
    ("model.name_or_path", "nobody/no-such-model-xyz", "not available"),
    ("data.source", "{tmp}/missing.jsonl", "does not exist"),
    ("method", "nope", "choose one of"),
    ("train.learning_rate", "fast", "must be a number"),
    ("train.batch_size", 0, "whole number from 1"),
    ("train.max_steps", "many", "whole number"),
    ("train.num_epochs", -1, "greater than 0"),
    ("train.max_length", 0, "whole number from 8"),
    ("train.precision", "fp8", "choose one of"),
    ("train.lr_scheduler", "sometimes", "choose one of"),
    ("train.optimizer", "sgdx", "choose one of"),
    ("lora.r", 0, "whole number from 1"),
    ("lora.dropout", 1.5, "below 1"),
    ("train.warmup_ratio", 2, "from 0 to 0.5"),
    ("train.grad_accum", 0, "whole number from 1"),
    ("data.split", "", "not empty"),
    ("lora.enabled", "yes", "true or false"),
]


def test_there_are_17():
    assert len(BAD_CONFIGS) == 17 and len({f for f, _, _ in BAD_CONFIGS}) == 17


@pytest.mark.parametrize(("field", "value", "words"), BAD_CONFIGS, ids=[f for f, _, _ in BAD_CONFIGS])
def test_train_refuses_a_bad_config_before_a_run_exists(tmp_path, capsys, monkeypatch, field, value, words):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # an unknown model is then refused at once, without the network
    if isinstance(value, str):
        value = value.format(tmp=tmp_path)
    section, _, name = field.rpartition(".")
    config = {"train": {"max_steps": 2}}
    if section:
        config.setdefault(section, {})[name] = value
    else:
        config[name] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    out = tmp_path / "run"
    assert main(["train", "--config", str(path), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{field}: " in err and words in err, err
    assert not out.exists(), "a run folder was written for a config that cannot run"
