"""The task folder of one evaluation: lm-eval task configs (YAML) over local JSONL files.

    EVAL_DIR/tasks/heldout.yaml + heldout.jsonl      the run's held-out questions (generate_until; exact, contains)
    EVAL_DIR/tasks/file_<name>.yaml + .jsonl         a user's file: multiple choice (log-likelihood, acc) or
                                                     question/answer (generate_until; exact, contains)
    EVAL_DIR/tasks/answer_match.py                   the scoring hook of the generation tasks, a copy of
                                                     training/run/answer_match.py (standard library only)

Generation is greedy (`do_sample: false`) with at most HELD_OUT_NEW_TOKENS new tokens, as the before/after
comparison generates; each row's system prompt becomes the task's per-row `description`, which lm-eval sends as the
system turn when the chat template is applied (`--apply_chat_template`), as training renders chats.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

HELD_OUT_TASK = "heldout"
FILE_TASK_PREFIX = "file_"
HELD_OUT_NEW_TOKENS = 48  # what training.run.compare asks for
MATCH_MODULE = "answer_match"


def _yaml_text(value) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def _write_rows(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _generation_yaml(name: str, data: Path, max_new_tokens: int) -> str:
    return "\n".join([
        f"task: {name}",
        "dataset_path: json",
        "dataset_kwargs:",
        "  data_files:",
        f"    test: {_yaml_text(str(data))}",
        "test_split: test",
        "output_type: generate_until",
        'description: "{{system}}"',
        "doc_to_text: prompt",
        "doc_to_target: reference",
        f"process_results: !function {MATCH_MODULE}.process_results",
        "generation_kwargs:",
        "  until: []",
        "  do_sample: false",
        f"  max_gen_toks: {int(max_new_tokens)}",
        "metric_list:",
        "  - metric: exact_match",
        "    aggregation: mean",
        "    higher_is_better: true",
        "  - metric: contains",
        "    aggregation: mean",
        "    higher_is_better: true",
        "metadata:",
        "  version: 1.0",
        "",
    ])


def _choice_yaml(name: str, data: Path) -> str:
    return "\n".join([
        f"task: {name}",
        "dataset_path: json",
        "dataset_kwargs:",
        "  data_files:",
        f"    test: {_yaml_text(str(data))}",
        "test_split: test",
        "output_type: multiple_choice",
        "doc_to_text: question",
        "doc_to_choice: choices",
        "doc_to_target: answer",
        "metric_list:",
        "  - metric: acc",
        "    aggregation: mean",
        "    higher_is_better: true",
        "  - metric: acc_norm",
        "    aggregation: mean",
        "    higher_is_better: true",
        "metadata:",
        "  version: 1.0",
        "",
    ])


def _copy_match_module(folder: Path) -> None:
    from training.run import answer_match

    shutil.copyfile(answer_match.__file__, folder / f"{MATCH_MODULE}.py")


def generation_rows(records: list[dict]) -> list[dict]:
    """Rows of a generation task: {"prompt", "reference", "expected", "system"} (system "" when none)."""
    return [{"prompt": r["prompt"], "reference": r.get("reference") or "", "expected": r.get("expected") or "",
             "system": r.get("system") or ""} for r in records]


def write_held_out_task(folder: Path, records: list[dict], max_new_tokens: int = HELD_OUT_NEW_TOKENS) -> str:
    """heldout.yaml and heldout.jsonl in folder for the run's held-out records; returns the task name."""
    folder.mkdir(parents=True, exist_ok=True)
    _copy_match_module(folder)
    data = folder / f"{HELD_OUT_TASK}.jsonl"
    _write_rows(data, generation_rows(records))
    (folder / f"{HELD_OUT_TASK}.yaml").write_text(_generation_yaml(HELD_OUT_TASK, data.resolve(), max_new_tokens))
    return HELD_OUT_TASK


def file_task_name(path: str | Path) -> str:
    stem = re.sub(r"[^a-z0-9]+", "_", Path(path).stem.lower()).strip("_")[:40] or "data"
    return FILE_TASK_PREFIX + stem


def write_file_task(folder: Path, eval_file, max_new_tokens: int = HELD_OUT_NEW_TOKENS) -> str:
    """The task config and data for a checked user file (training.evaluate.files.EvalFile); returns the task name."""
    folder.mkdir(parents=True, exist_ok=True)
    name = file_task_name(eval_file.path)
    data = folder / f"{name}.jsonl"
    if eval_file.kind == "mc":
        _write_rows(data, eval_file.rows)
        text = _choice_yaml(name, data.resolve())
    else:
        _copy_match_module(folder)
        _write_rows(data, generation_rows(eval_file.rows))
        text = _generation_yaml(name, data.resolve(), max_new_tokens)
    (folder / f"{name}.yaml").write_text(text)
    return name


def is_local_task(name: str) -> bool:
    return name == HELD_OUT_TASK or name.startswith(FILE_TASK_PREFIX)
