"""Benchmark evaluation of a finished run, base against tuned, with lm-evaluation-harness (`lm_eval`).

No harness of our own: every task is an lm-eval task config, scored by lm-eval's `hf` model (`pretrained=` the base
model or the run's full weights, `peft=` a LoRA adapter) through `lm_eval.simple_evaluate`.

- `files`: a user's JSONL checked row by row: multiple choice {question, choices, answer} or question/answer.
- `tasks`: the task folder of one evaluation (YAML configs over local JSONL files, plus the scoring hook
  training/run/answer_match.py copied beside them), so `lm-eval run --include_path DIR` reproduces the numbers.
- `registered`: lm-eval's own tasks (arc_easy, hellaswag, gsm8k, ifeval, mmlu_*...): network checks and a time and
  cost estimate before they start.
- `harness`: the lm-eval model with progress, ETA and Stop between requests.
- `runner`: `evaluate_run(run_dir, tasks, data_file, limit)`: both models on the same tasks; results written next
  to the task configs, into run.json and to the run's Trackio run.
- `report`: forgetting in plain words, and the model card's evaluation table and `model-index` entries.
"""
