"""The exported training script: a bundle of the real training module, its env overrides, no secrets, every method."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from training.config.schema import ConfigError, RunConfig, setting_fields
from training.methods.registry import method_names
from training.publish.script import BUNDLED_MODULES, BundleError, _strip_training_imports, bundle_source, render_script

from ._export_fakes import CANARY, hub_config


def _constants(source: str) -> dict[str, object]:
    tree = ast.parse(source)
    return {t.id: node.value for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)}


def test_script_shape(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", CANARY)
    text = render_script(hub_config(), "run-1")
    assert text.startswith("# /// script\n")
    header = text.split("# ///\n", 1)[0]
    assert re.search(r'"trl>=\d', header) and '"torch"' in header and '"trackio>=' in header
    doc = ast.get_docstring(ast.parse(text))
    for f in setting_fields():  # every setting can be overridden by an environment variable, listed in the docstring
        assert f.env in doc, f.env
    for name in ("OUTPUT_DIR", "TRACKIO_PROJECT", "HUB_MODEL_ID"):
        assert name in doc
    consts = _constants(text)
    config = ast.literal_eval(consts["RUN_CONFIG"])
    assert config["model"]["name_or_path"] == "Qwen/Qwen2.5-0.5B-Instruct" and config["train"]["max_steps"] == 100
    assert config["data"]["eval_rows"] == 5 and config["run_name"] == "qwen-capybara"
    assert "trackio.init" not in text  # one Trackio setup: through the TRL config
    assert CANARY not in text and "HF_TOKEN =" not in text


def test_script_ships_the_training_module_verbatim():
    """No trainer code in strings: the script holds training/recipe/'s functions exactly as the engine runs them."""
    import inspect

    from training import recipe

    text = render_script(hub_config())
    for func in (recipe.prepare, recipe.resolve_run, recipe.load_training_data, recipe.main):
        assert inspect.getsource(func) in text
    tree = ast.parse(text)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert {"prepare", "resolve_run", "normalise_record", "build_reward_functions", "get_method", "Setting"} <= defined
    assert not any(isinstance(n, ast.ImportFrom) and (n.module or "").startswith("training") for n in ast.walk(tree))


def test_bundle_refuses_unbundled_imports_and_name_clashes():
    with pytest.raises(BundleError, match="does not bundle"):
        _strip_training_imports("from training.run.engine import read_run\n", "x")
    with pytest.raises(BundleError, match="nested"):
        _strip_training_imports("def f():\n    from training.recipe.train import main\n", "x")
    bundle_source()  # the real modules share one namespace
    assert BUNDLED_MODULES[-1] == "training.recipe.train"


@pytest.mark.parametrize("method", method_names())
def test_every_method_compiles(method):
    config = hub_config()
    from training.config.schema import apply_method_defaults

    apply_method_defaults(config, method)
    if "teacher_model_name_or_path" in config.method_args:  # distillation: the teacher is the user's to name
        config.method_args["teacher_model_name_or_path"] = "Qwen/Qwen2.5-1.5B-Instruct"
    text = render_script(config)
    compile(text, f"train_{method}.py", "exec")
    assert ast.literal_eval(_constants(text)["RUN_CONFIG"])["method"] == method


def test_demo_defaults_point_at_local_files(demo_model_path):
    config = ast.literal_eval(_constants(render_script(RunConfig.demo()))["RUN_CONFIG"])
    assert config["model"]["name_or_path"] == str(demo_model_path)
    assert config["data"]["source"].endswith("demo_chat.jsonl") and config["data"]["eval_rows"] == 0


def test_invalid_config_is_refused():
    config = hub_config()
    config.train.learning_rate = 0
    with pytest.raises(ConfigError, match="train.learning_rate"):
        render_script(config)


@pytest.mark.parametrize(("env", "needle"), [
    ({"MAX_STEPS": "abc"}, "MAX_STEPS='abc'"),
    ({"LORA_DROPOUT": "3"}, "LORA_DROPOUT is 3.0; must be a number at least 0 and below 1"),
    ({"TRUST_REMOTE_CODE": "maybe"}, "true or false"),
    ({"METHOD": "ppo"}, "choose one of: sft"),
])
def test_env_overrides_are_checked_by_the_declarations(tmp_path, env, needle):
    script = tmp_path / "train.py"
    script.write_text(render_script(hub_config()))
    done = subprocess.run([sys.executable, str(script)], env={"PATH": "/usr/bin:/bin", "OUTPUT_DIR": str(tmp_path / "o"), **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and needle in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
