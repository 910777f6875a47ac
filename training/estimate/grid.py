"""Rows of a GPU calibration grid (the shared h100-grid.jsonl format, fields in tests/fixtures/calibration/README.md)
as run configs and estimates, so the unit test, `bench/gpu_estimate.py` and a refit all quote a row the same way:
the config `python -m training estimate --config CFG --hardware FLAVOR --json` would read, estimated from the
dataset report's token statistics (tests/fixtures/calibration/token_stats.json holds those of the grid's data)."""

from __future__ import annotations

import json
from pathlib import Path

from training.config.schema import RunConfig

SHAPES = {  # from the public config.json files of Qwen2.5-0.5B, -1.5B and -3B (make_fixtures.py)
    "q05": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2),
    "q15": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2),
    "q3": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2),
}
GRID_STEPS = 6  # optimizer steps per grid row
NO_CHECKPOINTS = 10**6  # save_steps: none written


def dataset_of(row: dict) -> str:
    """The file a row trained on (make_fixtures.py): pref.jsonl (DPO), longer_chat.parquet (max_length over 1024)
    or long_chat.jsonl."""
    return "pref.jsonl" if row["method"] == "dpo" else "longer_chat.parquet" if row["max_length"] > 1024 else "long_chat.jsonl"


def stats_key(row: dict) -> str:
    return f"{dataset_of(row).split('.')[0]}@{row['max_length']}"


def write_model_folder(folder: Path, shape: str) -> str:
    """A config-only model folder of a grid shape (enough for an estimate)."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 151936, "tie_word_embeddings": True,
           "max_position_embeddings": 32768, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "dtype": "bfloat16",
           **SHAPES[shape]}
    (folder / "config.json").write_text(json.dumps(cfg))
    return str(folder)


def row_config_dict(row: dict, model: str, data: str) -> dict:
    """The config file of a row: the RunConfig defaults except the row's settings, no checkpoints, no eval."""
    return {"model": {"name_or_path": model}, "data": {"source": data}, "method": row["method"],
            "lora": {"enabled": row["peft"] != "full", "quantization": "4bit" if row["peft"] == "qlora" else "none"},
            "train": {"batch_size": row["batch"], "grad_accum": 1, "max_length": row["max_length"],
                      "gradient_checkpointing": bool(row["gradient_checkpointing"]), "max_steps": GRID_STEPS,
                      "save_steps": NO_CHECKPOINTS, "eval_fraction": 0.0}}


def row_config(row: dict, model: str, data: str = "grid.jsonl") -> RunConfig:
    return RunConfig.from_dict(row_config_dict(row, model, data))


class GridReport:
    """The part of a validation report an estimate reads (rows and token statistics), from token_stats.json."""

    def __init__(self, usable_rows: int, token_stats: dict):
        self.usable_rows, self.token_stats, self.normalised = usable_rows, token_stats, []
        self.valid = True


def estimate_row(row: dict, model: str, stats: dict, hardware: str = "h100", **kw):
    """The estimate of one grid row through estimate_for_config (what the CLI's estimate calls), measurements off."""
    from training.estimate.quote import estimate_for_config

    entry = stats[stats_key(row)]
    report = GridReport(entry["usable_rows"], entry["token_stats"])
    kw = {"use_measurements": False, "prices": False, "suggest": False, **kw}
    est, _ = estimate_for_config(row_config(row, model), hardware, report=report, **kw)
    return est


def row_errors(row: dict, est) -> tuple[float | None, float | None]:
    """(memory error, seconds-per-step error) of an estimate against a measured row, as fractions."""
    mem = est.gpu_memory_gb / row["peak_reserved_gb"] - 1 if row.get("peak_reserved_gb") else None
    per_step = est.time_breakdown["training"] / est.steps
    sec = per_step / row["seconds_per_step"] - 1 if row.get("seconds_per_step") else None
    return mem, sec


def row_name(row: dict) -> str:
    return (f"{row['shape']} {row['method']} {row['peft']} b{row['batch']} x {row['max_length']} "
            f"ckpt {'on' if row['gradient_checkpointing'] else 'off'}")


LATENCY_CONSTANTS = ("micro_batch_s", "lora_layer_s", "checkpoint_layer_s", "checkpoint_lora_token_layer_s")


def latency_fit(rows: list[dict], models: dict, stats: dict, matmul_share: float, bandwidth_share: float) -> dict:
    """Fit speed.py's latency constants on measured rows (least squares on relative error, at the given shares), and
    quote each row with constants fitted on the others (leave-one-out). Returns {"constants", "errors", "loo_errors"}
    (errors as fractions, per row). `models`: shape -> model folder."""
    import dataclasses

    import numpy as np

    from training.estimate import speed

    base = speed.RATES["H100"]
    y = np.array([r["seconds_per_step"] for r in rows])

    def per_step(rates) -> np.ndarray:
        speed.RATES["H100"] = rates
        try:
            return np.array([sum(estimate_row(r, models[r["shape"]], stats, compare=False).step_breakdown.values())
                             for r in rows])
        finally:
            speed.RATES["H100"] = base

    zero = dataclasses.replace(base, matmul_share=matmul_share, bandwidth_share=bandwidth_share,
                               **{n: 0.0 for n in LATENCY_CONSTANTS})
    fixed = per_step(zero)
    X = np.stack([per_step(dataclasses.replace(zero, **{n: 1.0})) - fixed for n in LATENCY_CONSTANTS], axis=1)
    w = 1 / y

    def solve(idx):
        c, *_ = np.linalg.lstsq(X[idx] * w[idx, None], (y[idx] - fixed[idx]) * w[idx], rcond=None)
        return np.clip(c, 0, None)

    c = solve(np.arange(len(y)))
    loo = [float((fixed[i] + X[i] @ solve(np.array([j for j in range(len(y)) if j != i]))) / y[i] - 1) for i in range(len(y))]
    return {"constants": dict(zip(LATENCY_CONSTANTS, c.tolist(), strict=True)),
            "errors": ((fixed + X @ c) / y - 1).tolist(), "loo_errors": loo}
