"""Held-out evaluation prompts: a few rows set aside before training, compared base vs tuned after it.

The demo dataset is a memorisation demo (its before/after questions come from the training set), so it
holds nothing out by default; any other dataset holds out `DEFAULT_EVAL_ROWS` rows the model never trains
on. The engine writes them to RUN_DIR/eval_prompts.jsonl as {"prompt", "system", "reference"}.

The rows are picked and turned into prompts by training/recipe/ (`split_eval_indices`, `eval_record`), which
the exported script ships too, so the app and the script hold out the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path

from training.run.answer_match import normalise_answer, score_answer  # noqa: F401 - the scoring rule, re-exported

EVAL_PROMPTS_FILE = "eval_prompts.jsonl"
DEFAULT_EVAL_ROWS = 5
MAX_EVAL_FRACTION = 10  # never hold out more than a tenth of the rows


def resolved_eval_rows(config) -> int:
    """Rows to hold out: data.eval_rows when set, else 0 for the demo dataset and score-only methods, else 5."""
    from training.methods.registry import get_method

    value = getattr(config.data, "eval_rows", None)
    if value is not None:
        return int(value)
    if str(config.data.source).strip() in ("demo", "demo-vision") or get_method(config.method).result_view != "chat":
        return 0
    return DEFAULT_EVAL_ROWS


def write_eval_prompts(run_dir: Path, records: list[dict]) -> Path:
    path = Path(run_dir) / EVAL_PROMPTS_FILE
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def read_eval_prompts(run_dir: str | Path | None) -> list[dict]:
    """The held-out prompts of a run ([] when it held none out)."""
    if not run_dir:
        return []
    path = Path(run_dir) / EVAL_PROMPTS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def compare_held_out(model_name: str, trained_dir: str, records: list[dict], trust_remote_code: bool = False,
                     max_new_tokens: int = 64) -> tuple[list[dict], dict]:
    """Base and tuned answers (greedy, seed 0: training.run.inference.generate) to each held-out prompt, scored against
    its reference. Returns (rows, totals) with totals {"n", "scored", "base_exact", "tuned_exact", "base_contains",
    "tuned_contains"}."""
    from training.run.inference import generate

    rows = []
    totals = {"n": 0, "scored": 0, "base_exact": 0, "tuned_exact": 0, "base_contains": 0, "tuned_contains": 0}
    for r in records:
        base = generate(model_name, r["prompt"], None, r.get("system"), max_new_tokens, trust_remote_code)
        tuned = generate(model_name, r["prompt"], trained_dir, r.get("system"), max_new_tokens, trust_remote_code)
        b, t = score_answer(base, r.get("reference")), score_answer(tuned, r.get("reference"))
        totals["n"] += 1
        if r.get("reference"):
            totals["scored"] += 1
            for who, score in (("base", b), ("tuned", t)):
                totals[f"{who}_exact"] += bool(score["exact"])
                totals[f"{who}_contains"] += bool(score["contains"])
        rows.append({**r, "base": base, "tuned": tuned, "base_score": b, "tuned_score": t})
    return rows, totals
