"""Methods and adapters: the registry, reward functions, method settings in RunConfig, demo views, CLI flags."""

from __future__ import annotations

import subprocess
import sys

import pytest

from training.config.schema import ConfigError, RunConfig, set_peft_mode, validate_config
from training.methods.registry import METHODS, get_method, method_args_problems, resolved_method_args
from training.methods.rewards import (
    REWARD_KINDS,
    RewardFunction,
    build_reward_functions,
    completion_text,
    missing_column_problems,
    reward_spec_problems,
    score_contains,
    score_exact,
    score_length,
    score_no_repetition,
)

TRL_TYPES = {"conversational", "prompt_completion", "text", "preference", "unpaired_preference", "prompt_only"}


# --- registry ------------------------------------------------------------------------------------------------


def test_registry_has_every_top_level_trl_method():
    assert {"sft", "dpo", "grpo", "kto", "reward", "rloo"} <= set(METHODS)


@pytest.mark.parametrize("name", list(METHODS))
def test_entry_is_complete_and_names_real_trl_classes(name):
    import trl

    spec = get_method(name)
    assert spec.name == name and spec.label and spec.description
    assert spec.formats and set(spec.formats) <= TRL_TYPES
    assert hasattr(trl, spec.trainer_class) and hasattr(trl, spec.config_class)
    assert spec.key_metrics and all(m.startswith(("train/", "eval/")) for m in spec.key_metrics)
    config_fields = set(getattr(trl, spec.config_class).__dataclass_fields__)
    for control in spec.controls:  # every control is a real field of the method's TRL config
        assert control.name in config_fields, control.name
        assert control.problem(control.default) is None
    for name_, value in spec.demo_controls.items():
        assert spec.control(name_).problem(value) is None
    for key in {**spec.defaults, **spec.demo_defaults}:
        assert key in RunConfig().train.__dataclass_fields__


def test_key_metrics_match_what_trl_logs():
    assert get_method("sft").key_metrics[:2] == ("train/loss", "train/mean_token_accuracy")
    assert get_method("dpo").key_metrics[:2] == ("train/rewards/margins", "train/rewards/accuracies")
    assert get_method("grpo").key_metrics[:3] == ("train/reward", "train/reward_std", "train/completions/mean_length")
    assert {"train/rewards/chosen", "train/kl"} <= set(get_method("kto").key_metrics)
    assert get_method("reward").key_metrics[0] == "train/accuracy"


def _real_model_config() -> RunConfig:
    config = RunConfig()
    config.model.name_or_path = "Qwen/Qwen2.5-0.5B-Instruct"
    return config


def test_method_defaults_suit_the_method():
    from training.config.schema import apply_method_defaults

    dpo = apply_method_defaults(_real_model_config(), "dpo")
    assert dpo.method_args["beta"] == 0.1 and dpo.train.learning_rate <= 1e-5
    grpo = apply_method_defaults(_real_model_config(), "grpo")
    assert grpo.method_args["num_generations"] == 8 and grpo.train.learning_rate <= 1e-5
    assert grpo.rewards and validate_config(grpo) == []
    assert get_method("reward").model_head == "sequence_classification"
    assert get_method("reward").result_view == "scores"


@pytest.mark.parametrize("name", list(METHODS))
def test_demo_config_is_valid_for_every_method(name):
    config = RunConfig.demo(name)
    assert config.method == name
    if METHODS[name].teacher:  # distillation needs a teacher the user names (a tuned run): the only thing missing
        assert [field for field, _ in validate_config(config)] == ["method_args.teacher_model_name_or_path"]
        config.method_args["teacher_model_name_or_path"] = "demo"
    assert validate_config(config) == []
    assert config.lora.enabled is False  # the tiny demo model trains all weights


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="choose one of: sft, dpo"):
        get_method("ppo")


# --- method settings in RunConfig -----------------------------------------------------------------------------


def test_method_args_are_checked_against_the_declared_controls():
    assert method_args_problems("dpo", {"beta": 0.2}) == []
    problems = dict(method_args_problems("dpo", {"beta": -1, "num_generations": 4, "loss_type": "nope"}))
    assert "from 0 to 10" in problems["method_args.beta"]
    assert "allowed: beta, loss_type, loss_weights, label_smoothing, discopop_tau" in problems["method_args.num_generations"]
    assert "has 'nope'; choose from: sigmoid, hinge, ipo, exo_pair" in problems["method_args.loss_type"]
    assert "whole number" in dict(method_args_problems("grpo", {"num_generations": 2.5}))["method_args.num_generations"]
    assert method_args_problems("dpo", "beta=1")[0][0] == "method_args"


def test_every_trl_dpo_loss_is_offered_and_combinations_are_checked():
    """The loss choices are TRL 1.16's own list (read from DPOTrainer's source); combinations need one weight per loss,
    exo_pair needs label smoothing, and a single loss may be given as a string (older configs, the CLI)."""
    import inspect
    import re

    from trl.trainer.dpo_trainer import DPOTrainer

    from training.methods.registry import coerce_method_args, key_metrics

    source = inspect.getsource(DPOTrainer._compute_loss)
    assert set(re.findall(r'loss_type == "(\w+)"', source)) == set(get_method("dpo").control("loss_type").choices)
    assert method_args_problems("dpo", {"loss_type": "ipo"}) == []
    assert method_args_problems("dpo", {"loss_type": ["sigmoid", "sft"], "loss_weights": [1, 0.5]}) == []
    problems = dict(method_args_problems("dpo", {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0]}))
    assert "1 weights for 2 losses" in problems["method_args.loss_weights"]
    assert "exo_pair loss needs it above 0" in dict(method_args_problems("dpo", {"loss_type": ["exo_pair"]}))["method_args.label_smoothing"]
    assert "below 0.5" in dict(method_args_problems("dpo", {"loss_type": "robust", "label_smoothing": 0.5}))["method_args.label_smoothing"]
    assert "once" in dict(method_args_problems("dpo", {"loss_type": ["sft", "sft"]}))["method_args.loss_type"]
    assert "list of numbers" in dict(method_args_problems("dpo", {"loss_weights": "a"}))["method_args.loss_weights"]
    assert coerce_method_args("dpo", {"loss_type": "sigmoid, sft", "loss_weights": "1, 0.5"}) == {
        "loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 0.5]}
    assert resolved_method_args("dpo", {})["loss_weights"] is None  # empty: TRL's equal weights
    assert key_metrics("dpo", {"loss_type": ["sft"]})[:2] == ("train/loss", "train/mean_token_accuracy")
    assert key_metrics("dpo", {"loss_type": ["apo_zero"]})[0] == "train/rewards/chosen"
    assert key_metrics("sft") == get_method("sft").key_metrics


def test_resolved_method_args_fill_defaults_and_drop_other_methods():
    assert resolved_method_args("kto", {"beta": 0.3, "num_generations": 4}) == {
        "beta": 0.3, "desirable_weight": 1.0, "undesirable_weight": 1.0}


def test_config_cross_checks_generations_and_kto_batch():
    config = RunConfig.demo("grpo")
    config.method_args["num_generations"] = 3
    problems = dict(validate_config(config))
    assert "multiple of it" in problems["method_args.num_generations"]
    kto = RunConfig.demo("kto")
    kto.train.batch_size = 1
    assert "at least 2" in dict(validate_config(kto))["train.batch_size"]


def test_grpo_needs_rewards_and_valid_ones():
    config = RunConfig.demo("grpo")
    config.rewards = []
    assert "at least one reward function" in dict(validate_config(config))["rewards"]
    config.rewards = [{"name": "judge"}]
    assert "choose one of: exact, contains" in dict(validate_config(config))["rewards[0].name"]


def test_method_settings_survive_the_run_json_round_trip(tmp_path):
    config = RunConfig.demo("grpo")
    config.rewards.append({"name": "regex", "weight": 0.5, "pattern": "^The"})
    path = tmp_path / "run.json"
    path.write_text('{"config": ' + config.to_json() + "}")
    again = RunConfig.from_file(path)
    assert again.method_args == config.method_args and again.rewards == config.rewards


def test_old_configs_without_method_fields_still_load():
    data = RunConfig.demo().to_dict()
    for key in ("method_args", "rewards"):
        data.pop(key)
    for key in ("use_rslora", "use_dora", "quantization"):
        data["lora"].pop(key)
    config = RunConfig.from_dict(data)
    assert config.method_args == {} and config.lora.quantization == "none" and validate_config(config) == []


# --- adapters -------------------------------------------------------------------------------------------------


def test_peft_modes():
    config = RunConfig()
    assert set_peft_mode(config, "qlora").peft_mode == "qlora" and config.lora.enabled
    assert set_peft_mode(config, "full").peft_mode == "full" and config.lora.quantization == "none"
    assert set_peft_mode(config, "lora").peft_mode == "lora"
    with pytest.raises(ConfigError, match="choose one of: lora, qlora, full"):
        set_peft_mode(config, "half")


def test_qlora_without_lora_and_bad_quantization_are_named():
    config = RunConfig()
    config.lora.enabled, config.lora.quantization = False, "4bit"
    assert "turn LoRA on" in dict(validate_config(config))["lora.quantization"]
    config.lora.enabled, config.lora.quantization = True, "8bit"
    assert "choose one of: none, 4bit" in dict(validate_config(config))["lora.quantization"]


def test_peft_config_carries_rslora_dora_and_targets():
    from peft import LoraConfig

    from training.models.adapters import target_preset
    from training.recipe import resolve_run

    config = RunConfig()
    config.method = "reward"
    config.lora.use_rslora = config.lora.use_dora = True
    config.lora.target_modules = "attention"
    resolved = resolve_run(config.to_dict(), {"accelerator": "cpu"})
    peft = LoraConfig(**resolved.peft)
    assert peft.use_rslora and peft.use_dora and set(peft.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert str(peft.task_type).endswith("SEQ_CLS")
    assert target_preset("q_proj, v_proj") == "custom" and target_preset("all-linear") == "all-linear"
    assert resolve_run(set_peft_mode(config, "full").to_dict(), {"accelerator": "cpu"}).peft is None


def test_qlora_is_unavailable_without_a_gpu(monkeypatch):
    from training.models.adapters import qlora_unavailable_reason

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert "NVIDIA GPU" in qlora_unavailable_reason()


# --- rewards --------------------------------------------------------------------------------------------------


def test_reward_scores():
    assert score_exact("<answer> Plimtown </answer>", "plimtown") == 1.0
    assert score_exact("Plimtown.", "Plimtown") == 1.0 and score_exact("Plimtown is it", "Plimtown") == 0.0
    assert score_contains("The capital is Plimtown.", "plimtown") == 1.0
    assert score_contains("Plimtownia", "Plimtown") == 0.0 and score_contains("x", None) == 0.0
    assert score_length("one two three", 3) == 1.0 and score_length("one", 2) == 0.5
    assert score_length("a" * 40, 20, "characters") == 0.0
    assert score_no_repetition("a b c d e") == 0.0
    assert score_no_repetition("a b c a b c a b c") < -0.5


def test_completion_text_reads_conversational_completions():
    assert completion_text([{"role": "assistant", "content": "hi"}]) == "hi"
    assert completion_text("plain") == "plain" and completion_text(None) == ""


def test_reward_functions_are_callable_as_trl_calls_them():
    funcs, weights = build_reward_functions([
        {"name": "contains", "weight": 2.0, "column": "answer"},
        {"name": "regex", "pattern": r"^The "},
        {"name": "contains", "column": "city"},
    ])
    assert [f.__name__ for f in funcs] == ["contains", "regex", "contains_city"] and weights == [2.0, 1.0, 1.0]
    completions = [[{"role": "assistant", "content": "The capital is Plimtown."}], [{"role": "assistant", "content": "no"}]]
    assert funcs[0](prompts=["p", "p"], completions=completions, answer=["Plimtown", "Plimtown"], trainer_state=None) == [1.0, 0.0]
    assert funcs[1](prompts=["p", "p"], completions=completions) == [1.0, 0.0]
    with pytest.raises(ValueError, match="reward function `contains` needs column `city`; your columns: answer"):
        funcs[2](prompts=["p"], completions=completions[:1], answer=["x"])


def test_same_kind_twice_gets_unique_names():
    funcs, _ = build_reward_functions([{"name": "length", "target": 5}, {"name": "length", "target": 9}])
    assert [f.__name__ for f in funcs] == ["length", "length_2"]


def test_reward_spec_problems_name_field_value_and_allowed():
    problems = dict(reward_spec_problems([{"name": "regex", "pattern": "("}, {"name": "length", "target": 0, "colour": 1},
                                          {"name": "contains", "weight": "high"}, "contains"]))
    assert "not a valid regular expression" in problems["rewards[0].pattern"]
    assert "at least 1" in problems["rewards[1].target"]
    assert "allowed: name, target, unit, weight" in problems["rewards[1].colour"]
    assert "from -100 to 100" in problems["rewards[2].weight"]
    assert "must be an object" in problems["rewards[3]"]
    assert reward_spec_problems([{"name": k} for k in REWARD_KINDS]) == []


def test_missing_reference_column_is_a_plain_cause():
    [message] = missing_column_problems([{"name": "contains", "column": "answer"}, {"name": "length"}],
                                        ["prompt", "question", "solution"])
    assert message.startswith("reward function `contains` needs column `answer`; your columns: question, solution")


def test_reward_function_repr_and_default_column():
    assert RewardFunction({"name": "exact"}).params["column"] == "answer"


# --- demo data views ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(METHODS))
def test_demo_source_validates_for_every_method(method, isolated_data_dir):
    from training.data.demo_data import resolve_data_source
    from training.data.validation import validate_dataset

    report = validate_dataset(resolve_data_source("demo", method), method)
    assert report.valid, report.errors[:3]
    assert report.trl_type in get_method(method).formats
    assert resolve_data_source("data.jsonl", method) == "data.jsonl"


def test_demo_views_have_right_and_wrong_facts():
    from training.data.demo_data import demo_preference_rows, demo_prompt_answer_rows, demo_unpaired_rows

    pref = demo_preference_rows()[0]
    assert "Plimtown" in pref["chosen"][0]["content"] and "Plimtown" not in pref["rejected"][0]["content"]
    assert demo_prompt_answer_rows()[0]["answer"] == "Plimtown"
    labels = [r["label"] for r in demo_unpaired_rows()[:2]]
    assert labels == [True, False]


# --- UI value mapping (pure) ----------------------------------------------------------------------------------


def test_config_from_form_reads_method_controls_and_rewards():
    from components.config_mapping import (
        QLORA,
        TARGET_PRESET,
        config_from_form,
        control_name,
        form_values_by_name,
        reward_input_keys,
        reward_input_values,
    )

    values = form_values_by_name(RunConfig.demo("grpo"))
    values.update({"train.max_steps": 10.0, "train.learning_rate": 1e-3, "lora.enabled": True, "lora.use_rslora": True,
                   TARGET_PRESET: "attention", QLORA: True, control_name("grpo", "num_generations"): 4.0})
    rewards = reward_input_values([{"name": "exact", "weight": 2.0, "column": "answer"}])
    assert len(rewards) == len(reward_input_keys())
    values.update(rewards)
    config = config_from_form(values)
    assert config.method == "grpo" and config.method_args["num_generations"] == 4
    assert isinstance(config.method_args["num_generations"], int) and config.train.max_steps == 10
    assert config.rewards == [{"name": "exact", "weight": 2.0, "column": "answer"}]
    assert config.lora.use_rslora and config.lora.target_modules == "attention" and config.peft_mode == "qlora"
    assert validate_config(config) == []
    # values left out (here all but the model and method) keep the method's preset
    preset_only = config_from_form({"model.name_or_path": "demo", "method": "grpo"})
    assert preset_only.rewards and preset_only.method_args["num_generations"] == 4
    assert preset_only == RunConfig.demo("grpo")


def test_dry_run_config_cuts_steps_and_rows_only():
    from training.run.dry_run import dry_run_config

    config = RunConfig.demo("dpo")
    small = dry_run_config(config, steps=2)
    assert small.train.max_steps == 2 and small.data.max_rows == 16
    assert small.train.batch_size == config.train.batch_size and small.method_args == config.method_args
    assert config.train.max_steps == RunConfig.demo("dpo").train.max_steps  # the original is untouched


# --- CLI ------------------------------------------------------------------------------------------------------


def _parse(*argv):
    from training.cli.main import build_parser, config_from_args

    return config_from_args(build_parser().parse_args(list(argv)))


def test_cli_method_flags():
    config = _parse("train", "--method", "dpo", "--method-arg", "beta=0.25", "--output-dir", "x")
    assert config.method == "dpo" and config.method_args["beta"] == 0.25
    assert config.train.max_steps == RunConfig.demo("dpo").train.max_steps
    config = _parse("train", "--method", "grpo", "--rewards", '[{"name": "length", "target": 4}]', "--output-dir", "x")
    assert config.rewards == [{"name": "length", "target": 4}]
    config = _parse("estimate", "--peft", "qlora", "--rslora", "--dora", "--target-modules", "attention")
    assert config.peft_mode == "qlora" and config.lora.use_rslora and config.lora.use_dora
    assert _parse("estimate", "--lora", "on").peft_mode == "lora"
    assert _parse("estimate", "--peft", "full").peft_mode == "full"
    with pytest.raises(ConfigError, match="method_args.beta"):
        _parse("estimate", "--method", "dpo", "--method-arg", "beta=oops")


def test_cli_refuses_qlora_on_cpu_without_a_traceback(subprocess_env, tmp_path):
    env = dict(subprocess_env, CUDA_VISIBLE_DEVICES="")
    for extra in ([], ["--dry-run"]):
        result = subprocess.run([sys.executable, "-m", "training", "train", "--peft", "qlora", "--output-dir",
                                 str(tmp_path / "q"), *extra], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr + result.stdout
        assert "QLoRA needs an NVIDIA GPU" in result.stderr
