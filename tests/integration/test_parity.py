"""One trainer: the app's engine and the exported script log the same loss at every step.

For every method on the demo data, and for SFT on each input format people bring (chat messages, ShareGPT,
Alpaca with history and a system column, a CSV of prompt/completion), the engine trains 3 steps with
logging_steps=1, the run is exported as a script, and the script (its own bundled copy of the training module,
loaded from the file) trains the same 3 steps. Their losses must agree to a relative 1e-3. A second engine run
of the same config must agree too: every run is reproducible from its seed.
"""

from __future__ import annotations

import csv
import json
import runpy
from pathlib import Path

import pytest

from tests.integration.helpers import losses

pytestmark = pytest.mark.integration

STEPS = 3


def _write_formats(folder: Path) -> dict[str, Path]:
    """The demo facts written in four formats people bring for SFT."""
    from training.data.demo_data import demo_rows

    rows = demo_rows()[:64]
    files = {}
    chat = folder / "chat.jsonl"
    chat.write_text("".join(json.dumps(r) + "\n" for r in rows))
    files["messages"] = chat
    sharegpt = folder / "sharegpt.jsonl"
    role = {"system": "system", "user": "human", "assistant": "gpt"}
    sharegpt.write_text("".join(json.dumps({"conversations": [{"from": role[m["role"]], "value": m["content"]}
                                                              for m in r["messages"]]}) + "\n" for r in rows))
    files["sharegpt"] = sharegpt
    alpaca = folder / "alpaca.jsonl"
    with alpaca.open("w") as f:
        for i, r in enumerate(rows):
            system, user, answer = (m["content"] for m in r["messages"])
            prev = rows[i - 1]["messages"]
            f.write(json.dumps({"instruction": user, "input": "", "output": answer, "system": system,
                                "history": [[prev[1]["content"], prev[2]["content"]]] if i % 2 else []}) + "\n")
    files["alpaca"] = alpaca
    table = folder / "qa.csv"
    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt", "completion"])
        for r in rows:
            writer.writerow([r["messages"][1]["content"], " " + r["messages"][2]["content"]])
    files["csv"] = table
    return files


def _config(method: str, source: str = "demo"):
    from training.config.schema import RunConfig

    config = RunConfig.demo(method)
    config.data.source = source
    t = config.train
    t.max_steps, t.logging_steps, t.batch_size, t.grad_accum = STEPS, 1, 4, 1
    if method in ("grpo", "rloo"):
        config.method_args["num_generations"] = 4
    config.run_name = f"parity-{method}"
    return config


def _engine_losses(config, out: Path) -> list[float]:
    from training.run.engine import run_training

    record = run_training(config, out, report_to_trackio=False)
    assert record["status"] == "completed", record["error"]
    return losses(record["metrics"])


def _script_losses(config, out: Path, monkeypatch) -> list[float]:
    from training.publish.script import write_script

    script = write_script(config, out.parent / f"{out.name}.py")
    module = runpy.run_path(str(script), run_name="exported_script")  # the file's own code, not the app's modules
    assert "training" not in module["prepare"].__module__
    monkeypatch.setenv("OUTPUT_DIR", str(out))
    monkeypatch.setenv("REPORT_TO", "none")
    assert module["main"](module["RUN_CONFIG"], module["ENV_SETTINGS"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "completed" and record["exported_script"] is True
    return losses(record["metrics"])


def _assert_same(app: list[float], script: list[float]) -> None:
    assert len(app) == STEPS and len(script) == STEPS, (app, script)
    assert script == pytest.approx(app, rel=1e-3), f"app {app} vs exported script {script}"


@pytest.mark.parametrize("method", ["sft", "dpo", "kto", "reward", "grpo", "rloo"])
def test_engine_and_exported_script_log_the_same_losses(method, tmp_path, monkeypatch, demo_model_path):
    config = _config(method)
    app = _engine_losses(config, tmp_path / "app")
    _assert_same(app, _script_losses(config, tmp_path / "script", monkeypatch))
    if method in ("reward", "grpo"):  # a new score head, sampled generations: still the same run from the same seed
        assert _engine_losses(_config(method), tmp_path / "again") == pytest.approx(app, rel=1e-6)


def test_every_dpo_loss_at_once_trains_alike_in_app_and_script(tmp_path, monkeypatch, demo_model_path):
    """All 15 DPO losses combined with weights: every loss's code path, declared in the config, in both."""
    from training.methods.dpo_losses import DPO_LOSSES

    config = _config("dpo")
    losses_ = list(DPO_LOSSES)
    config.method_args.update(loss_type=losses_, loss_weights=[round(0.1 + 0.05 * i, 2) for i in range(len(losses_))],
                              label_smoothing=0.1)
    app = _engine_losses(config, tmp_path / "app")
    _assert_same(app, _script_losses(config, tmp_path / "script", monkeypatch))


def test_distillation_trains_alike_in_app_and_script(demo_run, tmp_path, monkeypatch):
    """The student (the base demo model) samples its answers and matches the teacher (the SFT demo run) in both."""
    config = _config("distill")
    config.method_args.update(teacher_model_name_or_path=demo_run.status.model_dir, max_completion_length=8)
    app = _engine_losses(config, tmp_path / "app")
    assert all(loss > 0 for loss in app)  # a teacher that differs from the student: a real divergence
    _assert_same(app, _script_losses(config, tmp_path / "script", monkeypatch))


@pytest.mark.parametrize("fmt", ["messages", "sharegpt", "alpaca", "csv"])
def test_sft_input_formats_train_alike_in_app_and_script(fmt, tmp_path, monkeypatch, demo_model_path):
    source = _write_formats(tmp_path)[fmt]
    config = _config("sft", str(source))
    config.data.eval_rows = 4  # held-out rows are picked alike too
    app = _engine_losses(config, tmp_path / "app")
    _assert_same(app, _script_losses(config, tmp_path / "script", monkeypatch))
    held = [(tmp_path / d / "eval_prompts.jsonl").read_text() for d in ("app", "script")]
    assert held[0] == held[1] and held[0].count("\n") == 4


def test_vision_sft_trains_alike_in_app_and_script(tmp_path, monkeypatch, isolated_data_dir):
    """The tiny LLaVA on the flag pictures: the same losses, and the same held-out questions and pictures."""
    from training.config.schema import RunConfig

    config = RunConfig.demo("sft", vision=True)
    t = config.train
    t.max_steps, t.logging_steps, t.batch_size, t.grad_accum = STEPS, 1, 4, 1
    config.data.eval_rows = 4
    config.run_name = "parity-vision"
    app = _engine_losses(config, tmp_path / "app")
    _assert_same(app, _script_losses(config, tmp_path / "script", monkeypatch))
    held = [[json.loads(line) for line in (tmp_path / d / "eval_prompts.jsonl").read_text().splitlines()]
            for d in ("app", "script")]
    assert len(held[0]) == 4 and [r["prompt"] for r in held[0]] == [r["prompt"] for r in held[1]]
    assert [Path(r["image"]).read_bytes() for r in held[0]] == [Path(r["image"]).read_bytes() for r in held[1]]
