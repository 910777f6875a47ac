"""Every DPO loss of TRL 1.16 trains 2 steps on the demo, set from the declaration (RunConfig.method_args), and logs
the metrics the registry names for it.

At step 1 the policy still equals its reference (full fine-tuning starts from a frozen copy), so every log-ratio is
0 and each loss has a closed form in beta (0.1) and label smoothing (0.1): the logged first loss proves that the
declared loss, beta and smoothing reached the trainer. A weighted combination's first loss is the weighted sum of
its parts' (RPO: sigmoid + 0.5 x sft).
"""

from __future__ import annotations

import math

import pytest

from training.methods.dpo_losses import DPO_LOSSES
from training.methods.registry import key_metrics

pytestmark = pytest.mark.integration

LN2 = math.log(2)
BETA, SMOOTHING = 0.1, 0.1
AT_REFERENCE = {  # the loss when chosen and rejected log-ratios are both 0
    "sigmoid": LN2, "hinge": 1.0, "ipo": (1 / (2 * BETA)) ** 2,
    "exo_pair": -LN2 - 0.5 * (math.log(1 - SMOOTHING) + math.log(SMOOTHING)),
    "nca_pair": 2 * LN2, "robust": LN2, "bco_pair": 2 * LN2, "sppo_hard": 2 * (0.5 / BETA) ** 2, "aot": LN2,
    "aot_unpaired": LN2, "apo_zero": 1.0, "apo_down": 1.0, "discopop": 0.5 * LN2 + 0.5, "sigmoid_norm": LN2,
    "sft": None,  # the chosen answers' negative log-likelihood: data-dependent, checked through RPO below
}
_runs: dict[tuple, dict] = {}


def _train(losses: tuple[str, ...], weights: tuple[float, ...] = (), tmp_root=None) -> dict:
    """The run's record, trained once per combination for the whole module (2 steps, 8 rows, batch 4)."""
    key = (losses, weights)
    if key not in _runs:
        from training.config.schema import RunConfig, check_config
        from training.run.engine import run_training

        config = RunConfig.demo("dpo")
        t = config.train
        t.max_steps, t.logging_steps, t.batch_size, t.grad_accum, t.max_length = 2, 1, 4, 1, 96
        config.data.max_rows = 8
        config.method_args.update(beta=BETA, label_smoothing=SMOOTHING, loss_type=list(losses), loss_weights=list(weights))
        check_config(config)
        record = run_training(config, tmp_root / "-".join(losses), report_to_trackio=False, save_final=False)
        assert record["status"] == "completed", record["error"]
        _runs[key] = record
    return _runs[key]


@pytest.fixture(scope="module")
def root(tmp_path_factory, demo_model_path):
    return tmp_path_factory.mktemp("dpo-losses")


def _first_loss(record: dict) -> float:
    return next(m["loss"] for m in record["metrics"] if "loss" in m)


@pytest.mark.parametrize("loss", list(DPO_LOSSES))
def test_each_dpo_loss_trains_and_logs_its_key_metrics(loss, root):
    record = _train((loss,), tmp_root=root)
    logs = [m for m in record["metrics"] if "loss" in m]
    assert [m["step"] for m in logs] == [1, 2]
    assert all(math.isfinite(m["loss"]) for m in logs)
    assert all(m["tokens_per_second"] > 0 and 0 < m["mfu"] < 1 for m in logs)  # live throughput at every log
    logged = set().union(*logs)
    for metric in key_metrics("dpo", {"loss_type": [loss]}):
        if metric.startswith("train/"):
            assert metric.removeprefix("train/") in logged, (loss, metric, sorted(logged))
    if AT_REFERENCE[loss] is not None:
        assert _first_loss(record) == pytest.approx(AT_REFERENCE[loss], rel=1e-4), loss
    assert logs[1]["loss"] != logs[0]["loss"]  # the step changed the weights


def test_rpo_weights_add_the_losses(root):
    sigmoid, sft = _first_loss(_train(("sigmoid",), tmp_root=root)), _first_loss(_train(("sft",), tmp_root=root))
    rpo = _train(("sigmoid", "sft"), (1.0, 0.5), tmp_root=root)
    assert _first_loss(rpo) == pytest.approx(sigmoid + 0.5 * sft, rel=1e-4)
    assert sft > 1.0  # the chosen answers' NLL per token of a model that does not know the facts
