"""Evaluation with lm-eval on the default demo run (shared, trained once per session): held-out questions agree with
`compare`, a multiple-choice file gives the numbers lm-eval's own command line gives from the written task config,
and bad input (unknown or offline tasks, Stop mid-eval) ends in clear messages with nothing lost.

Kept small: --limit cuts each task to a few documents (the full 36-question run is in the report, not here)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

LIMIT = 6


@pytest.fixture(scope="module")
def heldout_eval(demo_run):
    """`python -m training eval RUN --tasks heldout --json --limit 6`, in process; returns (printed JSON, run dir)."""
    import io
    from contextlib import redirect_stdout

    from training.cli.main import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["eval", str(demo_run.output_dir), "--tasks", "heldout", "--limit", str(LIMIT), "--json"])
    assert code == 0
    return json.loads(out.getvalue().strip().splitlines()[-1]), demo_run.output_dir


def test_heldout_base_wrong_tuned_right_and_agrees_with_compare(heldout_eval):
    from training.run.compare import held_out_records, is_correct
    from training.run.engine import read_run
    from training.run.inference import generate

    result, run_dir = heldout_eval
    scores = result["results"]["heldout"]
    assert scores["n"] == LIMIT
    assert scores["base"]["contains"] <= 0.2, scores
    assert scores["tuned"]["contains"] >= 0.8, scores
    assert result["lm_eval_version"].startswith("0.4")
    # the same questions through compare's path (training.run.compare): the same verdict on every question
    record = read_run(run_dir)
    records, _ = held_out_records(run_dir, record)
    model = record["config"]["model"]["name_or_path"]
    folder = Path(result["dir"])
    for side, weights in (("base", None), ("tuned", record["model_dir"])):
        samples = [json.loads(line) for line in (folder / f"samples_{side}.jsonl").read_text().splitlines()]
        assert len(samples) == LIMIT
        for sample in samples:
            r = records[sample["doc_id"]]
            answer = generate(model, r["prompt"], weights, r.get("system"))
            assert bool(sample["contains"]) == bool(is_correct(answer, r)), (side, r["prompt"], answer, sample)
    # kept: run.json, the task config and how to reproduce it
    assert read_run(run_dir)["evaluation"]["results"]["heldout"] == scores
    assert (folder / "tasks" / "heldout.yaml").exists() and (folder / "tasks" / "answer_match.py").exists()
    assert "lm-eval run" in (folder / "REPRODUCE.md").read_text()


def test_multiple_choice_file_equals_lm_eval_cli(demo_run, tmp_path, subprocess_env):
    from training.data.demo_data import demo_held_out
    from training.evaluate.runner import evaluate_run

    rows = []
    for r in demo_held_out()[:4]:
        wrong = ["purple", "Gexwick", "the heron"]
        rows.append({"question": r["prompt"], "choices": [r["reference"]] + [r["reference"].replace(r["expected"], w)
                                                                           for w in wrong], "answer": 0})
    path = tmp_path / "atlas_mc.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = evaluate_run(demo_run.output_dir, tasks=[], data_file=str(path))
    ours = result["results"]["file_atlas_mc"]
    assert ours["n"] == 4 and set(ours["tuned"]) >= {"acc", "acc_norm"}
    command = next(c for c in result["reproduce"] if "peft" not in c and str(demo_run.output_dir / "final") in c)
    argv = shlex.split(command)
    assert argv[:2] == ["lm-eval", "run"]
    proc = subprocess.run([sys.executable, "-m", "lm_eval", *argv[1:]], env=subprocess_env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out_dir = Path(argv[argv.index("--output_path") + 1])
    found = sorted(out_dir.rglob("results_*.json"))
    assert found, proc.stderr[-2000:]
    theirs = json.loads(found[-1].read_text())["results"]["file_atlas_mc"]
    assert round(theirs["acc,none"], 6) == ours["tuned"]["acc"]
    assert round(theirs["acc_norm,none"], 6) == ours["tuned"]["acc_norm"]


def test_registered_task_offline_needs_network_and_unknown_task_is_named(demo_run):
    from training.evaluate.runner import evaluate_run

    with pytest.raises(ValueError, match="needs network"):
        evaluate_run(demo_run.output_dir, tasks=["arc_easy"], limit=2)
    with pytest.raises(ValueError, match="Unknown task 'arc_eazy' \\(did you mean arc_easy"):
        evaluate_run(demo_run.output_dir, tasks=["arc_eazy"], limit=2)


def test_stop_mid_eval_writes_nothing_and_keeps_earlier_results(demo_run, heldout_eval):
    from training.evaluate.harness import EvalProgress, EvalStopped
    from training.evaluate.runner import evaluate_run
    from training.run.engine import read_run

    before = read_run(demo_run.output_dir)["evaluation"]
    progress, stop = EvalProgress(), threading.Event()
    def watch():  # Stop as soon as the base model has its requests: the evaluation is under way
        while progress.total < 1 and not stop.is_set():
            stop.wait(0.02)
        stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with pytest.raises(EvalStopped):
        evaluate_run(demo_run.output_dir, tasks=["heldout"], progress=progress, stop=stop)
    stop.set()
    assert progress.total >= 36 and progress.done < progress.total
    assert read_run(demo_run.output_dir)["evaluation"] == before
