"""The GPU quote (memory and seconds per step) against real runs: 13 runs measured on one H100 80 GB (bf16; trl 1.16,
transformers 5.23, peft 0.21, bitsandbytes 0.50) by the team, /work/shared/calibration/h100-grid.jsonl (fields in its
README.md), copied with make_fixtures.py, its tokenizer and word list to tests/fixtures/calibration/ so the test runs
anywhere; h100-facts.jsonl there adds the one run facts.md reports beside them (q05 LoRA b16 x 1024 with gradient
checkpointing). Models are random-init Qwen2.5 0.5B / 1.5B / 3B shapes (config-only folders suffice); token_stats.json
holds the dataset reports' token statistics of the grid's data (make_fixtures.py's files, measured with that
tokenizer by validate_dataset), so each row is quoted exactly as `python -m training estimate --config CFG --hardware
h100 --json` quotes it: through estimate_for_config (tests/integration/test_estimate_accuracy.py runs the CLI itself on
one row, from the real data files).

Memory is first principles with two fitted constants (allocator slack, fitted on the even rows, checked on the odd);
time is first principles with latency constants fitted on all 14 runs (training/estimate/speed.py), checked on the
rows they were not fitted to by leave-one-out (median error 9 %). Run with -s to see the table."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from training.estimate.grid import estimate_row, row_errors, row_name, write_model_folder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "calibration"
GRID = [json.loads(line) for line in (FIXTURES / "h100-grid.jsonl").read_text().splitlines() if line.strip()]
FACTS_ROW = json.loads((FIXTURES / "h100-facts.jsonl").read_text().splitlines()[0])
STATS = json.loads((FIXTURES / "token_stats.json").read_text())

MEMORY_TOLERANCE = 0.15
TIME_TOLERANCE = 0.25  # on the median row (issue 14)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grid-models")
    return {shape: write_model_folder(folder / f"model-{shape}", shape) for shape in ("q05", "q15", "q3")}


def quote(row: dict, models: dict, stats: dict = STATS, **kw):
    return estimate_row(row, models[row["shape"]], stats, **kw)


def table(rows: list[dict], models: dict, stats: dict = STATS) -> list[tuple[float, float]]:
    out = []
    print(f"\n{'run':40} {'GB':>6} {'meas':>6} {'error':>7} {'s/step':>7} {'meas':>6} {'error':>7}")
    for row in rows:
        est = quote(row, models, stats)
        mem, sec = row_errors(row, est)
        out.append((mem, sec))
        print(f"{row_name(row):40} {est.gpu_memory_gb:6.2f} {row['peak_reserved_gb']:6.2f} {mem:+7.1%} "
              f"{est.time_breakdown['training'] / est.steps:7.3f} {row['seconds_per_step']:6.3f} {sec:+7.1%}")
    return out


def test_gpu_memory_quote_holds_on_every_row_of_the_h100_grid(models):
    errs = [m for m, _ in table(GRID, models)]
    # Before issue 14's work: 12 of 13 within ±15 % (q05 LoRA b2 x 512 with checkpointing -15.7 %); before the first
    # principles model, 5 of 13 and median 31 %.
    assert all(abs(e) <= MEMORY_TOLERANCE for e in errs), errs
    assert statistics.median(abs(e) for e in errs) <= 0.05


def test_gpu_memory_quote_holds_on_the_rows_it_was_not_fitted_to(models):
    """The allocator constants of memory.py were fitted on the even rows (0, 2, ...): the odd rows are held out."""
    held_out = [m for m, _ in table(GRID[1::2], models)]
    assert all(abs(e) <= MEMORY_TOLERANCE for e in held_out), held_out
    assert statistics.median(abs(e) for e in held_out) <= 0.10


def test_seconds_per_step_hold_on_the_h100_grid(models):
    errs = [s for _, s in table(GRID, models)]
    # Before issue 14's work (35 % MFU, a fixed 50 ms per step): median |error| 56 %, 11 of 13 rows 2-7x too optimistic.
    assert statistics.median(abs(e) for e in errs) <= TIME_TOLERANCE
    assert statistics.median(abs(e) for e in errs) <= 0.12, errs  # what the fit reaches, with margin
    assert all(abs(e) <= 0.35 for e in errs), errs


def test_seconds_per_step_hold_on_runs_the_constants_were_not_fitted_to(models):
    """Leave-one-out: the latency constants of speed.py refitted on 13 of the 14 runs (at speed.py's shares) quote the
    14th; every run in turn. speed.py reports a median of 9 % and a worst of 30 %."""
    from training.estimate.grid import latency_fit
    from training.estimate.speed import H100_FIT

    rows = [*GRID, FACTS_ROW]
    result = latency_fit(rows, models, STATS, H100_FIT.matmul_share, H100_FIT.bandwidth_share)
    loo = result["loo_errors"]
    print("\nleave-one-out:", " ".join(f"{e:+.0%}" for e in loo))
    assert len(loo) == 14
    assert statistics.median(abs(e) for e in loo) <= 0.12, loo
    assert max(abs(e) for e in loo) <= 0.35, loo
    # the constants in speed.py are this fit's (rounded): the test checks the model that ships
    for name, value in result["constants"].items():
        assert getattr(H100_FIT, name) == pytest.approx(value, rel=0.05, abs=1e-7), (name, value)


def test_the_run_facts_md_adds_is_quoted_too(models):
    """q05 LoRA b16 x 1024 with checkpointing: 3.98 GB and 0.70 s/step measured (2.9x slower than without)."""
    mem, sec = row_errors(FACTS_ROW, quote(FACTS_ROW, models))
    assert abs(mem) <= 0.20 and abs(sec) <= TIME_TOLERANCE, (mem, sec)


def test_the_cli_json_keeps_its_keys(models):
    data = quote(GRID[2], models).to_dict()
    assert {"gpu_memory_gb", "steps", "time_breakdown", "time_source", "memory_source", "seconds_per_step"} <= set(data)
    assert data["steps"] == 6 and data["time_breakdown"]["training"] > 0
    assert data["time_source"] == "prior" and data["memory_source"] == "prior"
    assert "prior" in data["summary"]


def test_without_token_statistics_the_quote_errs_on_the_safe_side(models):
    """With only the mean known, lengths are taken as spread up to twice the mean: memory may be high, rarely low."""
    bare = {k: {"usable_rows": v["usable_rows"], "token_stats": {"mean_tokens": v["token_stats"]["mean_tokens"]}}
            for k, v in STATS.items()}
    errs = [m for m, _ in table(GRID, models, bare)]
    assert sum(e >= -MEMORY_TOLERANCE for e in errs) >= 12


@pytest.mark.parametrize("row", [GRID[2], GRID[7]], ids=["lora-no-ckpt", "dpo-ckpt"])
def test_checkpointing_trades_what_the_grid_says(row, models):
    """q05 LoRA b16 x 1024: checkpointing cuts memory 30.6 GB -> 4.0 GB and makes steps 2.9x slower (0.24 -> 0.70 s)."""
    on = quote({**row, "gradient_checkpointing": True}, models)
    off = quote({**row, "gradient_checkpointing": False}, models)
    assert off.gpu_memory_gb > 3 * on.gpu_memory_gb
    assert on.memory_breakdown["activations"] < off.memory_breakdown["activations"] / 5
    assert 1.8 <= on.seconds_per_step / off.seconds_per_step <= 4.0
    choice = on.choices["gradient_checkpointing"]
    assert choice["chosen"] is True and choice["off"]["seconds"] < choice["on"]["seconds"]
    assert choice["off"]["gpu_memory_gb"] == off.gpu_memory_gb


def test_checkpoint_writes_only_when_checkpoints_are_written(models):
    """The start-up-and-saving term counts checkpoints only when save_steps writes them (3B full: it assumed four)."""
    from training.estimate.grid import row_config
    from training.estimate.quote import estimate_run

    row = GRID[9]  # q3 full
    config = row_config(row, models["q3"])
    none = estimate_run(config, rows=1000, mean_tokens=450, hardware="h100", prices=False, use_measurements=False,
                        suggest=False, compare=False)
    config.train.save_steps = 2
    three = estimate_run(config, rows=1000, mean_tokens=450, hardware="h100", prices=False, use_measurements=False,
                         suggest=False, compare=False)
    assert any("0 checkpoint(s)" in a for a in none.assumptions) and any("3 checkpoint(s)" in a for a in three.assumptions)
    # 3 checkpoints of 3B weights + AdamW states at ~400 MB/s: about a minute more
    assert three.time_breakdown["startup_and_saving"] - none.time_breakdown["startup_and_saving"] > 60
