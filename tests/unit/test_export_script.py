"""The exported training script: header, docstring, env overrides, Trackio setup, no secrets, every method."""

from __future__ import annotations

import ast
import re

import pytest

from training.config.schema import ConfigError, RunConfig
from training.methods.registry import method_names
from training.publish.script import ENV_SETTINGS, render_script

from ._export_fakes import CANARY, hub_config


def _constants(source: str) -> dict[str, str]:
    tree = ast.parse(source)
    return {t.id: ast.unparse(node.value) for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)}


def test_script_shape(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", CANARY)
    text = render_script(hub_config(), "run-1")
    assert text.startswith("# /// script\n")
    header = text.split("# ///\n", 1)[0]
    assert re.search(r'"trl>=\d', header) and '"torch"' in header and '"trackio>=' in header
    doc = ast.get_docstring(ast.parse(text))
    for s in ENV_SETTINGS:
        assert s.env in doc, s.env
    for name in ("WARMUP_RATIO", "LORA_DROPOUT", "METHOD_ARGS", "EVAL_ROWS"):
        assert name in doc
    consts = _constants(text)
    assert consts["MODEL"] == "env_value('MODEL', 'Qwen/Qwen2.5-0.5B-Instruct', str)"
    assert consts["MAX_STEPS"] == "env_value('MAX_STEPS', 100, int)"
    assert consts["OUTPUT_DIR"] == "env_value('OUTPUT_DIR', 'outputs/qwen-capybara', str)"
    assert consts["TRACKIO_SPACE_ID"] == "os.environ.get('TRACKIO_SPACE_ID') or None"
    assert consts["EVAL_ROWS"] == "5"
    assert "trackio_static_space_id=False" in text and "trackio_space_id=TRACKIO_SPACE_ID" in text
    assert "trackio.init" not in text  # one Trackio setup: through the TRL config
    assert CANARY not in text and "HF_TOKEN =" not in text
    assert "def print_banner" in text and "print_banner(out)" in text


@pytest.mark.parametrize("method", method_names())
def test_every_method_compiles(method):
    config = hub_config()
    from training.config.schema import apply_method_defaults

    apply_method_defaults(config, method)
    text = render_script(config)
    compile(text, f"train_{method}.py", "exec")
    consts = _constants(text)
    assert consts["METHOD"] == repr(method)
    assert ("def reward_functions" in text) == bool(config.rewards)


def test_demo_defaults_point_at_local_files(demo_model_path):
    consts = _constants(render_script(RunConfig.demo()))
    assert str(demo_model_path) in consts["MODEL"]
    assert "demo_chat.jsonl" in consts["DATASET"] and consts["EVAL_ROWS"] == "0"


def test_invalid_config_is_refused():
    config = hub_config()
    config.train.learning_rate = 0
    with pytest.raises(ConfigError, match="train.learning_rate"):
        render_script(config)
