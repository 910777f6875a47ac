"""The estimate panel's handler: every flavor in a table, this machine marked, the cheapest fit highlighted."""

from __future__ import annotations

import pytest

from components.config_mapping import form_values_by_name
from training.config.schema import RunConfig

DEMO_VALUES = form_values_by_name(RunConfig.demo())  # the settings form's values, by name


def _table_rows(table: str) -> list[list[str]]:
    """The header row and the cells of each row of a components/card_table.py table, as text."""
    import html
    import re

    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table)
    return [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)] for r in rows]


@pytest.fixture
def no_gpu(monkeypatch, tmp_path):
    """No GPU, and no measured rates: runs trained earlier in the session record this machine's measured speed
    (training/estimate/calibration.py), which would make the quote depend on the order tests run in."""
    from training.estimate import calibration

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv("SPACE_HARDWARE", raising=False)
    monkeypatch.setattr(calibration, "calibration_path", lambda: tmp_path / "calibration.json")


def test_handle_estimate_lists_every_flavor(no_gpu, demo_model_path):
    from components.estimate_panel import TABLE_HEADERS, handle_estimate
    from training.estimate.hardware import CATALOGUE

    summary, table, details = handle_estimate("cpu-basic", DEMO_VALUES)
    assert "needs about" in summary and "this machine" in summary and "free" in summary
    rows = _table_rows(table)
    assert rows[0] == TABLE_HEADERS and all(h for h in rows[0])  # every column has a header
    rows = rows[1:]
    assert len(rows) == len(CATALOGUE) and all(len(r) == len(TABLE_HEADERS) for r in rows)
    assert "**" not in table and "<strong>" not in table  # no Markdown shown as text; bold is the row's class
    assert rows[0][0] == "CPU basic (2 vCPU)" and 'class="strong"' in table
    marks = [r[-1] for r in rows]
    assert sum("this machine" in m for m in marks) == 1 and "this machine" in marks[0]
    assert sum("cheapest that fits" in m for m in marks) == 1
    assert "cheapest that fits" in marks[0]  # the free CPU is the cheapest that fits the demo
    assert details.count("\n- ") >= 5 and "prior model" in details
    assert "gradient checkpointing **False**" in details and "precision **fp32**" in details  # what the trainer resolves
    assert "python -m training train --model demo --dataset demo --method sft" in details


def test_handle_estimate_for_another_flavor_names_the_cheapest(no_gpu, demo_model_path):
    from components.estimate_panel import handle_estimate

    summary, table, _ = handle_estimate("h100", DEMO_VALUES)
    assert "Nvidia H100" in summary and "Cheapest flavor that fits: **CPU basic" in summary
    assert any("selected" in r[-1] for r in _table_rows(table)[1:])


def test_handle_estimate_reports_bad_settings(no_gpu):
    from components.estimate_panel import handle_estimate

    values = {**DEMO_VALUES, "train.learning_rate": -1.0}
    summary, table, details = handle_estimate("cpu-basic", values)
    assert "train.learning_rate" in summary and table == "" and details == ""


def test_flavor_table_bolds_the_cheapest_fit():
    from components.estimate_panel import flavor_rows, flavor_table
    from training.config.schema import LoraSettings, ModelSettings, RunConfig
    from training.estimate.quote import estimate_all

    config = RunConfig(model=ModelSettings(name_or_path="Qwen/Qwen2.5-7B-Instruct"), lora=LoraSettings(enabled=False))
    estimates = estimate_all(config, rows=1000, mean_tokens=400, prices=False)
    rows = flavor_rows(estimates, "t4-small")
    best = [r for r in rows if "cheapest that fits" in r[-1]]
    assert len(best) == 1 and "CPU" not in best[0][0]
    table = flavor_table(estimates, "t4-small")
    assert table.count('<tr class="strong">') == 1
    assert f'<tr class="strong"><td data-label="Hardware">{best[0][0]}</td>' in table
    assert any("❌" in r[4] for r in rows) and any("✅" in r[4] or "⚠️" in r[4] for r in rows)


def test_flavor_table_speaks_the_request_language(no_gpu, demo_model_path):
    from components.estimate_panel import handle_estimate
    from components.translations import set_language

    set_language("fr")
    try:
        _, table, _ = handle_estimate("cpu-basic", DEMO_VALUES)
    finally:
        set_language("en")
    rows = _table_rows(table)
    assert rows[0][:3] == ["Matériel", "Durée", "Coût"]
    assert rows[1][2] == "gratuit" and all("under" not in r[2] and "about" not in r[2] for r in rows[1:])
