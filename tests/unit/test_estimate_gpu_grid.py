"""The GPU memory quote against real runs: 13 runs measured on one H100 80 GB (bf16; trl 1.16, transformers 5.23,
peft 0.21, bitsandbytes 0.50) by the team, /work/shared/calibration/h100-grid.jsonl (fields in its README.md),
copied to tests/fixtures/calibration/ so the test runs anywhere. Models are random-init Qwen2.5 0.5B / 1.5B / 3B shapes (vocab 151,936, tied
embeddings) built by make_fixtures.py there; the data are random words, so tokens per example are known:
tokens_per_step / (batch x sequences per row), and the longest example (measured with the calibration tokenizer on the
fixture files) is 782 tokens in long_chat.jsonl, 2,939 in longer_chat.parquet and 544 per sequence in pref.jsonl.

The memory model is built from first principles (tensors autograd keeps, optimizer states, LM-head tiles); its one
fitted constant, RESERVED_OVER_ALLOCATED, was fitted on the even rows only and is checked on the odd rows.
Run with -s to see the table."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from training.config.schema import LoraSettings, ModelSettings, RunConfig, TrainSettings
from training.estimate.quote import estimate_run

SHAPES = {  # from the public config.json files of Qwen2.5-0.5B, -1.5B and -3B (make_fixtures.py)
    "q05": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2),
    "q15": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2),
    "q3": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2),
}
LONGEST = {"long_chat": 782, "longer_chat": 2939, "pref": 544}  # tokens of the longest example (per sequence for DPO)

GRID_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "calibration" / "h100-grid.jsonl"
GRID = [json.loads(line) for line in GRID_FILE.read_text().splitlines() if line.strip()]

TOLERANCE = 0.15


def model_folder(tmp_path, shape: str) -> str:
    folder = tmp_path / f"model-{shape}"
    if not folder.exists():
        folder.mkdir()
        cfg = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 151936, "tie_word_embeddings": True,
               "max_position_embeddings": 32768, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "dtype": "bfloat16",
               **SHAPES[shape]}
        (folder / "config.json").write_text(json.dumps(cfg))
    return str(folder)


def grid_config(row: dict, model: str) -> RunConfig:
    lora = LoraSettings(enabled=row["peft"] != "full", quantization="4bit" if row["peft"] == "qlora" else "none")
    train = TrainSettings(batch_size=row["batch"], grad_accum=1, max_length=row["max_length"],
                          gradient_checkpointing=row["gradient_checkpointing"], max_steps=6)
    config = RunConfig(model=ModelSettings(name_or_path=model), lora=lora, train=train)
    config.method = row["method"]
    return config


def quote(row: dict, tmp_path, with_longest: bool = True):
    seqs = row["batch"] * (2 if row["method"] == "dpo" else 1)
    mean = row["tokens_per_step"] / seqs
    data = "pref" if row["method"] == "dpo" else "longer_chat" if row["max_length"] > 1024 else "long_chat"
    return estimate_run(grid_config(row, model_folder(tmp_path, row["shape"])), rows=1000, mean_tokens=mean, hardware="h100",
                        suggest=False, prices=False, use_measurements=False,
                        longest_tokens=LONGEST[data] if with_longest else None)


def errors(tmp_path, rows, with_longest: bool = True) -> list[float]:
    out = []
    print(f"\n{'run':42} {'quoted':>7} {'reserved':>8} {'error':>7}  breakdown (GB)")
    for row in rows:
        est = quote(row, tmp_path, with_longest)
        err = est.gpu_memory_gb / row["peak_reserved_gb"] - 1
        out.append(err)
        name = (f"{row['shape']} {row['method']} {row['peft']} b{row['batch']} x {row['max_length']} "
                f"ckpt {'on' if row['gradient_checkpointing'] else 'off'}")
        parts = " ".join(f"{k[:5]} {v:.2f}" for k, v in est.memory_breakdown.items() if v)
        print(f"{name:42} {est.gpu_memory_gb:7.2f} {row['peak_reserved_gb']:8.2f} {err:+7.1%}  {parts}")
    within = sum(abs(e) <= TOLERANCE for e in out)
    print(f"within ±{TOLERANCE:.0%}: {within} of {len(out)}; median |error| {statistics.median(abs(e) for e in out):.1%}")
    return out


def test_gpu_memory_quote_holds_on_the_h100_grid(tmp_path):
    errs = errors(tmp_path, GRID)
    within = sum(abs(e) <= TOLERANCE for e in errs)
    # The quote before this model (estimate_memory as of HEAD): 5 of these 13 within ±15 %, median |error| 31 %.
    assert within >= 12, errs
    assert statistics.median(abs(e) for e in errs) <= 0.08


def test_gpu_memory_quote_holds_on_the_rows_it_was_not_fitted_to(tmp_path):
    """RESERVED_OVER_ALLOCATED was fitted on the even rows (0, 2, ...): the odd rows are the held-out half."""
    held_out = errors(tmp_path, GRID[1::2])
    assert sum(abs(e) <= TOLERANCE for e in held_out) >= len(held_out) - 1
    assert statistics.median(abs(e) for e in held_out) <= 0.10


def test_without_token_statistics_the_quote_errs_on_the_safe_side(tmp_path):
    """With only the mean known, the longest example is taken as twice the mean: the quote may be high, rarely low."""
    errs = errors(tmp_path, GRID, with_longest=False)
    assert sum(e >= -TOLERANCE for e in errs) >= 12


@pytest.mark.parametrize("row", [GRID[2], GRID[7]], ids=["lora-no-ckpt", "dpo-ckpt"])
def test_checkpointing_off_costs_what_the_grid_says(row, tmp_path):
    """Turning checkpointing on for q05 LoRA b16 x 1024 cuts memory about 8x (30.6 GB -> 4.0 GB measured)."""
    on = quote({**row, "gradient_checkpointing": True}, tmp_path)
    off = quote({**row, "gradient_checkpointing": False}, tmp_path)
    assert off.gpu_memory_gb > 3 * on.gpu_memory_gb
    assert on.memory_breakdown["activations"] < off.memory_breakdown["activations"] / 5
