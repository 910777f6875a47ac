"""What an evaluation's numbers say: the main metric of each task, forgetting in plain words, and the model card's
evaluation table with its Hub `model-index` entries. Pure functions over the results dict of `evaluate_run`:

    {"results": {TASK: {"base": {METRIC: value}, "tuned": {METRIC: value}, "n": N}}, "lm_eval_version": "..."}
"""

from __future__ import annotations

from training.evaluate.tasks import is_local_task

# The metric a task is judged by: the first of these it has (lm-eval's names; ifeval's strict prompt-level accuracy).
MAIN_METRICS = ("contains", "acc_norm", "acc", "exact_match (flexible-extract)", "exact_match (strict-match)",
                "exact_match", "prompt_level_strict_acc", "inst_level_strict_acc", "mc2", "f1")
FORGETTING_DROP = 0.02  # tuned this far (absolute) below the base on a general task, and beyond its noise: forgetting


def main_metric(scores: dict) -> str | None:
    for name in MAIN_METRICS:
        if isinstance(scores.get(name), (int, float)):
            return name
    numeric = [k for k, v in scores.items() if isinstance(v, (int, float)) and not k.endswith("_stderr")]
    return numeric[0] if numeric else None


def _noise(n: int, p: float) -> float:
    """Two standard errors of a proportion p over n documents."""
    return 2 * (max(p * (1 - p), 0.0) / n) ** 0.5 if n else 1.0


def forgetting(results: dict) -> list[dict]:
    """General (registered) tasks where the tuned model is clearly worse than its base: [{"task", "metric", "base",
    "tuned", "drop"}]: a drop of more than FORGETTING_DROP and more than twice the standard error."""
    out = []
    for task, entry in (results.get("results") or {}).items():
        if is_local_task(task):
            continue
        metric = main_metric(entry.get("base") or {})
        if metric is None or not isinstance((entry.get("tuned") or {}).get(metric), (int, float)):
            continue
        base, tuned = float(entry["base"][metric]), float(entry["tuned"][metric])
        drop = base - tuned
        if drop > FORGETTING_DROP and drop > _noise(int(entry.get("n") or 0), base):
            out.append({"task": task, "metric": metric, "base": base, "tuned": tuned, "drop": drop})
    return out


def forgetting_lines(results: dict) -> list[str]:
    """Plain-words warnings, one per task the tuned model got clearly worse at."""
    return [f"Warning: the fine-tuned model is clearly worse than its base on {f['task']} ({f['metric']} "
            f"{f['base']:.1%} before, {f['tuned']:.1%} after). Fine-tuning made it forget some general ability: try "
            "fewer steps, a lower learning rate, LoRA, or mixing general data into your dataset." for f in forgetting(results)]


def table_rows(results: dict) -> list[dict]:
    """One row per task: {"task", "metric", "base", "tuned", "change", "n"} with the task's main metric."""
    rows = []
    for task, entry in (results.get("results") or {}).items():
        metric = main_metric(entry.get("base") or entry.get("tuned") or {})
        if metric is None:
            continue
        base, tuned = (entry.get("base") or {}).get(metric), (entry.get("tuned") or {}).get(metric)
        change = tuned - base if isinstance(base, (int, float)) and isinstance(tuned, (int, float)) else None
        rows.append({"task": task, "metric": metric, "base": base, "tuned": tuned, "change": change, "n": entry.get("n")})
    return rows


def _pct(value) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) else "–"


def card_section(evaluation: dict | None) -> list[str]:
    """The model card's "## Evaluation" lines for run.json's `evaluation` ([] when there is none)."""
    rows = table_rows(evaluation or {})
    if not rows:
        return []
    lines = ["## Evaluation", "", f"With [lm-evaluation-harness](https://github.com/EleutherAI/lm-evaluation-harness) "
             f"{(evaluation or {}).get('lm_eval_version', '')}, greedy decoding, fixed seeds; base model against this "
             "fine-tuned model on the same documents.", "",
             "| task | metric | base | fine-tuned | change | documents |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        change = "–" if r["change"] is None else f"{r['change'] * 100:+.1f} pts"
        lines.append(f"| {r['task']} | {r['metric']} | {_pct(r['base'])} | {_pct(r['tuned'])} | {change} | {r['n']} |")
    lines += [""] + forgetting_lines(evaluation or {}) + ([""] if forgetting(evaluation or {}) else [])
    return lines


def eval_results(evaluation: dict | None, model_name: str) -> list:
    """huggingface_hub EvalResult entries (the card's `model-index`) for the tuned model's scores."""
    from huggingface_hub import EvalResult

    out = []
    for r in table_rows(evaluation or {}):
        if not isinstance(r["tuned"], (int, float)):
            continue
        local = is_local_task(r["task"])
        out.append(EvalResult(task_type="text-generation", dataset_type=r["task"] if not local else f"local/{r['task']}",
                              dataset_name=r["task"], metric_type=r["metric"].split(" ")[0],
                              metric_name=r["metric"], metric_value=round(float(r["tuned"]), 4),
                              source_name="lm-evaluation-harness",
                              source_url="https://github.com/EleutherAI/lm-evaluation-harness"))
    return out
