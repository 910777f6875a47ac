"""Every method and adapter mode really trains the demo model on CPU for a few steps.

Each test asserts on the outcome: the method's key metrics were logged (and, where a few steps are enough,
moved the right way), the weights changed, and the result reloads. Step counts are tiny so the whole
file stays within a few minutes on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _train(tmp_path_factory, method: str, steps: int, **changes):
    from training.config.schema import RunConfig
    from training.run.engine import run_training

    config = RunConfig.demo(method)
    config.train.max_steps = steps
    config.train.logging_steps = max(1, steps // 3)
    for key, value in changes.items():
        section, name = key.split("__")
        setattr(getattr(config, section), name, value)
    out = tmp_path_factory.mktemp(f"it-{method}")
    record = run_training(config, out, report_to_trackio=False)
    assert record["status"] == "completed", record["error"]
    return record


def _series(record, key: str) -> list[float]:
    return [m[key] for m in record["metrics"] if isinstance(m.get(key), (int, float))]


def _changed(base_dir: Path, final_dir: Path, head: str = "causal_lm") -> bool:
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    auto = AutoModelForSequenceClassification if head != "causal_lm" else AutoModelForCausalLM
    kwargs = {"num_labels": 1} if head != "causal_lm" else {}
    base = dict(auto.from_pretrained(base_dir, **kwargs).named_parameters())
    tuned = dict(auto.from_pretrained(final_dir, **kwargs).named_parameters())
    name = "model.layers.0.self_attn.q_proj.weight"
    return not torch.equal(base[name], tuned[name])


def test_dpo_full_logs_margins_and_changes_weights(tmp_path_factory, demo_model_path):
    record = _train(tmp_path_factory, "dpo", 6)
    assert len(_series(record, "rewards/margins")) >= 2 and _series(record, "rewards/accuracies")
    assert _changed(demo_model_path, Path(record["model_dir"]))


def test_kto_logs_rewards_and_kl(tmp_path_factory, demo_model_path):
    record = _train(tmp_path_factory, "kto", 6)
    assert _series(record, "kl") and _series(record, "rewards/chosen")
    assert _changed(demo_model_path, Path(record["model_dir"]))


def test_reward_model_learns_and_scores_chosen_higher(tmp_path_factory, demo_model_path):
    from training.data.demo_data import demo_preference_rows
    from training.run.inference import score_pairs

    record = _train(tmp_path_factory, "reward", 24)
    accuracy = _series(record, "accuracy")
    assert accuracy[-1] > accuracy[0] and _series(record, "margin")[-1] > 0
    final = Path(record["model_dir"])
    assert _changed(demo_model_path, final, head="sequence_classification")
    # Every demo pair (72): 24 steps score 67 right; a coin flip gets 60 or more with probability below 1e-9.
    scores = score_pairs("demo", str(final), demo_preference_rows())
    assert len(scores) == 72 and sum(s.correct for s in scores) >= 60, sum(s.correct for s in scores)


def test_grpo_rewards_reach_the_metrics_and_completions_are_logged(tmp_path_factory, demo_model_path):
    record = _train(tmp_path_factory, "grpo", 4)
    assert _series(record, "reward") and _series(record, "reward_std")
    assert _series(record, "rewards/length/mean") and _series(record, "rewards/contains/mean")
    assert _series(record, "completions/mean_length")
    out = Path(record["model_dir"]).parent
    assert list((out / "checkpoints" / "completions").glob("*.parquet"))  # the table sent to Trackio
    assert _changed(demo_model_path, Path(record["model_dir"]))


def test_rloo_trains_on_the_configured_rewards(tmp_path_factory, demo_model_path):
    from training.config.schema import RunConfig

    record = _train(tmp_path_factory, "rloo", 3)
    rewards = RunConfig.demo("rloo").rewards  # length (target 6 words) and contains (the answer column), weight 1 each
    logged = [m for m in record["metrics"] if "reward" in m]
    assert [m["step"] for m in logged] == [1, 2, 3]  # a reward at every step
    for m in logged:  # the reward is the weighted sum of the configured functions, each of which ran
        parts = [m[f"rewards/{r['name']}/mean"] for r in rewards]
        assert m["reward"] == pytest.approx(sum(r["weight"] * v for r, v in zip(rewards, parts, strict=True)), abs=1e-4)
        assert 0.0 <= min(parts) and max(parts) <= 1.0 and "kl" in m and m["completions/mean_length"] > 0
    assert _changed(demo_model_path, Path(record["model_dir"]))


def test_grpo_missing_reward_column_fails_fast_in_plain_words(tmp_path_factory, demo_model_path):
    from training.config.schema import RunConfig
    from training.run.engine import run_training

    config = RunConfig.demo("grpo")
    config.rewards = [{"name": "contains", "weight": 1.0, "column": "solution"}]
    record = run_training(config, tmp_path_factory.mktemp("it-grpo-bad"), report_to_trackio=False)
    assert record["status"] == "failed"
    assert record["error"].startswith("reward function `contains` needs column `solution`; your columns: answer")
    assert record["step"] == 0


def test_lora_with_rslora_and_dora_saves_an_adapter_that_reloads(tmp_path_factory, demo_model_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    record = _train(tmp_path_factory, "dpo", 4, lora__enabled=True, lora__use_rslora=True, lora__use_dora=True,
                    lora__target_modules="attention", lora__r=8)
    final = Path(record["model_dir"])
    assert (final / "adapter_config.json").exists() and not (final / "config.json").exists()
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(demo_model_path), str(final))
    peft = model.peft_config["default"]
    assert peft.use_rslora and peft.use_dora and set(peft.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)


def test_reward_model_with_lora_reloads_and_scores(tmp_path_factory, demo_model_path):
    from training.data.demo_data import demo_preference_rows
    from training.run.inference import score_pairs

    record = _train(tmp_path_factory, "reward", 3, lora__enabled=True)
    scores = score_pairs("demo", record["model_dir"], demo_preference_rows()[:2])
    assert len(scores) == 2 and all(isinstance(s.chosen_score, float) for s in scores)


def test_qlora_on_cpu_fails_with_the_reason(tmp_path_factory, demo_model_path, monkeypatch):
    from training.config.schema import RunConfig, set_peft_mode
    from training.run.engine import run_training

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    config = set_peft_mode(RunConfig.demo("sft"), "qlora")
    record = run_training(config, tmp_path_factory.mktemp("it-qlora"), report_to_trackio=False)
    assert record["status"] == "failed" and "QLoRA needs an NVIDIA GPU" in record["error"]


def test_dry_run_reports_speed_and_memory(demo_model_path):
    from training.config.schema import RunConfig
    from training.run.dry_run import dry_run

    report = dry_run(RunConfig.demo("dpo"), steps=2)
    assert report.ok, report.error
    assert report.steps == 2 and report.seconds_per_step > 0 and report.peak_memory_gb > 0.05
    assert report.memory_kind == "CPU resident (RSS)" and "It runs" in report.summary()
    bad = RunConfig.demo("grpo")
    bad.rewards = [{"name": "exact", "column": "solution"}]
    failed = dry_run(bad, steps=2)
    assert not failed.ok and "needs column `solution`" in failed.error


@pytest.mark.parametrize("method", ["sft", "dpo", "grpo", "kto", "reward", "rloo"])
def test_every_method_trains_on_an_uploaded_file(tmp_path_factory, demo_model_path, method):
    """The upload path: a file stored the way the UI stores uploads (generated name), then 2 real steps."""
    import shutil

    from components.config_mapping import store_upload
    from training.data.demo_data import demo_source_for
    from training.data.sources import demo_dataset_path

    view = demo_source_for(method)
    source = view if view != "demo" else str(demo_dataset_path())
    picked = tmp_path_factory.mktemp(f"upload-{method}") / "my data.jsonl"
    shutil.copyfile(source, picked)
    stored = store_upload(str(picked))
    assert Path(stored).parent.name == "uploads" and "my data" not in stored
    record = _train(tmp_path_factory, method, 2, data__source=stored)
    assert record["step"] == 2
