"""Held-out evaluation prompts: a few rows set aside before training, compared base vs tuned after it.

The demo dataset is a memorisation demo (its before/after questions come from the training set), so it
holds nothing out by default; any other dataset holds out `DEFAULT_EVAL_ROWS` rows the model never trains
on. The engine writes them to RUN_DIR/eval_prompts.jsonl as {"prompt", "system", "reference"}.

`split_eval_rows`, `eval_record`, `_text_of` and `normalise_answer` use only the standard library and no
module globals: the exported training script embeds their source, so both hold out the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path

EVAL_PROMPTS_FILE = "eval_prompts.jsonl"
DEFAULT_EVAL_ROWS = 5
MAX_EVAL_FRACTION = 10  # never hold out more than a tenth of the rows


def resolved_eval_rows(config) -> int:
    """Rows to hold out: data.eval_rows when set, else 0 for the demo dataset and score-only methods, else 5."""
    from training.methods.registry import get_method

    value = getattr(config.data, "eval_rows", None)
    if value is not None:
        return int(value)
    if str(config.data.source).strip() == "demo" or get_method(config.method).result_view != "chat":
        return 0
    return DEFAULT_EVAL_ROWS


def split_eval_rows(rows, count, seed):
    """(training rows, held-out rows): `count` rows picked at random with `seed`, at most a tenth of the data."""
    import random

    count = min(int(count or 0), len(rows) // 10)
    if count <= 0:
        return list(rows), []
    picked = set(random.Random(seed).sample(range(len(rows)), count))
    return [r for i, r in enumerate(rows) if i not in picked], [rows[i] for i in sorted(picked)]


def _text_of(value):
    """Plain text of a string, or of the last message of a list of chat messages."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        content = value[-1].get("content")
        return content if isinstance(content, str) else None
    return None


def eval_record(row):
    """{"prompt", "system", "reference"} of a normalised row, or None when it has no prompt to ask."""
    system, prompt, reference = None, None, None
    messages = row.get("messages") if isinstance(row.get("messages"), list) else None
    if messages is None and isinstance(row.get("prompt"), list):
        messages = row["prompt"]
    if messages:
        if isinstance(messages[0], dict) and messages[0].get("role") == "system":
            system = messages[0].get("content")
        users = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            prompt = messages[users[-1]].get("content")
            later = [m for m in messages[users[-1] + 1:] if isinstance(m, dict) and m.get("role") == "assistant"]
            reference = later[0].get("content") if later else None
    elif isinstance(row.get("prompt"), str):
        prompt = row["prompt"]
    for key in ("completion", "chosen", "answer"):
        if reference is None and row.get(key) is not None and not (key == "completion" and row.get("label") is False):
            reference = _text_of(row[key]) if not isinstance(row[key], (int, float)) else str(row[key])
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    return {"prompt": prompt, "system": system if isinstance(system, str) else None,
            "reference": reference if isinstance(reference, str) and reference.strip() else None}


def normalise_answer(text):
    """Lower case, single spaces, no surrounding punctuation: what exact-match compares."""
    return " ".join(str(text).lower().split()).strip(" .!?\"'")


def score_answer(answer: str, reference: str | None) -> dict:
    """{"exact": bool, "contains": bool} against a reference answer; both None when there is none."""
    if not reference:
        return {"exact": None, "contains": None}
    got, want = normalise_answer(answer), normalise_answer(reference)
    return {"exact": got == want, "contains": bool(want) and want in got}


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


def hold_out(rows: list[dict], config) -> tuple[list[dict], list[dict]]:
    """(training rows, eval records) for a run: the held-out rows turned into prompts with references."""
    train, held = split_eval_rows(rows, resolved_eval_rows(config), config.train.seed)
    records = [r for r in (eval_record(row) for row in held) if r is not None]
    return (train, records) if records else (list(rows), [])


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
