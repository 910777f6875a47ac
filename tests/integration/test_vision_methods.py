"""DPO, KTO, GRPO and RLOO really train the vision demo (the tiny LLaVA) for 2 steps on picture rows of demo-vision's
view for each method, through the engine (validation's Arrow rows, the recipe, the processor as processing class).

Each run asserts what can only hold when the pictures reached the model and the method's loss ran: the vision tower
ran on real pixel values during training, one picture per prompt (DPO: chosen and rejected share the prompt's
picture, so twice per row); at step 1 the policy equals its frozen reference, so DPO's first loss is ln 2 and KTO's
(no KL at the reference) is 0.5; GRPO and RLOO log finite rewards within what their rewards can give.
"""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.integration

BATCH = 4
PICTURES_PER_ROW = {"dpo": 2, "kto": 1, "grpo": 1, "rloo": 1}  # DPO's collator repeats the prompts for chosen and rejected


def _tower_watch(seen: list):
    """A callback that records the pixel values the vision tower receives while training."""
    from transformers import TrainerCallback

    class WatchTower(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            tower = next(m for name, m in model.named_modules() if name.endswith("vision_tower"))

            def hook(module, positional, named):
                pixels = named.get("pixel_values", positional[0] if positional else None)
                if module.training or model.training:
                    seen.append((tuple(pixels.shape), float(pixels.float().std())))

            tower.register_forward_pre_hook(hook, with_kwargs=True)

    return WatchTower()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, isolated_data_dir):
    """method -> (run record, the pixel batches the tower saw), trained once for the module."""
    from training.config.schema import RunConfig
    from training.run.engine import run_training

    out = {}
    for method in PICTURES_PER_ROW:
        config = RunConfig.demo(method, vision=True)
        t = config.train
        t.max_steps, t.logging_steps, t.batch_size, t.grad_accum = 2, 1, BATCH, 1
        config.data.max_rows = 2 * BATCH
        if method in ("grpo", "rloo"):
            config.method_args.update(num_generations=2, max_completion_length=8, log_completions=False)
        seen: list = []
        record = run_training(config, tmp_path_factory.mktemp(f"vision-{method}"), report_to_trackio=False,
                              save_final=False, extra_callbacks=[_tower_watch(seen)])
        assert record["status"] == "completed", (method, record["error"])
        out[method] = (record, seen)
    return out


def _logs(record: dict) -> list[dict]:
    return [m for m in record["metrics"] if "loss" in m]


@pytest.mark.parametrize("method", list(PICTURES_PER_ROW))
def test_the_pictures_reach_the_vision_tower(method, runs):
    from training.models.demo_vision import IMAGE_SIZE

    record, seen = runs[method]
    assert [m["step"] for m in _logs(record)] == [1, 2]
    assert seen, "the vision tower never ran while training"
    for shape, spread in seen:
        assert shape[1:] == (3, IMAGE_SIZE, IMAGE_SIZE) and spread > 0.1  # real flags, not blank pictures
    if method in ("dpo", "kto"):  # one forward per step on the batch's pictures (the reference model has its own tower)
        assert {s[0] for s, _ in seen} == {BATCH * PICTURES_PER_ROW[method]}


@pytest.mark.parametrize(("method", "first"), [("dpo", math.log(2)), ("kto", 0.5)])
def test_preference_losses_start_at_their_reference_value_and_move(method, first, runs):
    logs = _logs(runs[method][0])
    assert logs[0]["loss"] == pytest.approx(first, rel=1e-4)
    assert logs[1]["loss"] != logs[0]["loss"]  # the first step changed the weights


@pytest.mark.parametrize("method", ["grpo", "rloo"])
def test_reinforcement_runs_score_sampled_answers_about_the_picture(method, runs):
    record, _ = runs[method]
    rewards = [m["reward"] for m in record["metrics"] if "reward" in m]
    assert len(rewards) == 2 and all(math.isfinite(r) for r in rewards)
    assert all(0.0 <= r <= 2.0 for r in rewards)  # length (0..1) + contains(answer) (0 or 1)
    assert any(m.get("completions/mean_length", 0) > 0 for m in record["metrics"])
