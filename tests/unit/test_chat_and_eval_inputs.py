"""Bad input to the chat and the evaluation is refused before any model loads, with the row, field or setting named;
forgetting is worded from the numbers; the time and cost estimate of registered tasks follows the hardware table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.evaluate.files import EvalFileError, read_eval_file
from training.evaluate.report import card_section, forgetting, forgetting_lines, main_metric, table_rows
from training.run.chat import Sampling, check_messages, with_system


def _jsonl(path: Path, lines: list) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_multiple_choice_and_question_answer_files_are_normalised(tmp_path):
    mc = read_eval_file(_jsonl(tmp_path / "mc.jsonl", [
        {"question": "Capital of Zorbia?", "choices": ["Plimtown", "Gexwick"], "answer": "Gexwick"},
        "",
        {"question": "Flag of Zorbia?", "choices": ["red", "blue", "green"], "answer": 0},
    ]))
    assert mc.kind == "mc"
    assert [r["answer"] for r in mc.rows] == [1, 0]
    qa = read_eval_file(_jsonl(tmp_path / "qa.jsonl", [{"prompt": "Capital?", "reference": "Plimtown"},
                                                       {"question": "Year?", "answer": 1999}]))
    assert qa.kind == "qa" and qa.rows[1] == {"prompt": "Year?", "reference": "1999", "system": None}


def test_malformed_file_errors_name_line_and_field(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [
        {"question": "ok?", "choices": ["a", "b"], "answer": 1},
        "{not json",
        {"question": "", "choices": ["a", "b"], "answer": 0},
        {"question": "q", "choices": ["only one"], "answer": 0},
        {"question": "q", "choices": ["a", "b"], "answer": 7},
        {"question": "q", "choices": ["a", "b"], "answer": "c"},
        [1, 2],
        {"question": "q", "answer": "a"},
        {"text": "nothing to score"},
    ])
    with pytest.raises(EvalFileError) as info:
        read_eval_file(path)
    where = [(e.line, e.field) for e in info.value.errors]
    assert where == [(2, "json"), (3, "question"), (4, "choices"), (5, "answer"), (6, "answer"), (7, "row"),
                     (8, "columns"), (9, "columns")]
    assert "line 5, answer: is 7; the index must be between 0 and 1" in str(info.value)
    assert "8 problems" in str(info.value)
    with pytest.raises(EvalFileError, match="has no rows"):
        read_eval_file(_jsonl(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(EvalFileError, match="does not exist"):
        read_eval_file(tmp_path / "missing.jsonl")


def test_task_configs_are_written_next_to_their_data(tmp_path):
    from training.evaluate.tasks import file_task_name, write_file_task, write_held_out_task

    records = [{"prompt": "Which city is the capital of Zorbia?", "system": "atlas", "reference": "Plimtown.",
                "expected": "Plimtown"}]
    assert write_held_out_task(tmp_path, records) == "heldout"
    text = (tmp_path / "heldout.yaml").read_text()
    assert "output_type: generate_until" in text and "process_results: !function answer_match.process_results" in text
    assert str((tmp_path / "heldout.jsonl").resolve()) in text and "do_sample: false" in text
    assert json.loads((tmp_path / "heldout.jsonl").read_text())["system"] == "atlas"
    from training.run.answer_match import process_results

    assert (tmp_path / "answer_match.py").read_text() == Path(process_results.__code__.co_filename).read_text()
    assert process_results(records[0], ["The capital of Zorbia is Plimtown."]) == {"exact_match": 0.0, "contains": 1.0}
    assert process_results(records[0], ["plimtown"]) == {"exact_match": 1.0, "contains": 1.0}
    assert process_results(records[0], ["The capital of Zorbia is Gexwick."]) == {"exact_match": 0.0, "contains": 0.0}
    mc = read_eval_file(_jsonl(tmp_path / "My Quiz.jsonl", [{"question": "q", "choices": ["a", "b"], "answer": 1}]))
    assert file_task_name(mc.path) == "file_my_quiz"
    write_file_task(tmp_path, mc)
    assert "output_type: multiple_choice" in (tmp_path / "file_my_quiz.yaml").read_text()


def test_sampling_and_messages_are_checked():
    assert Sampling().checked().temperature == 0.0
    with pytest.raises(ValueError, match="temperature: is 3.0.*max_new_tokens: is 0"):
        Sampling(temperature=3, max_new_tokens=0).checked()
    with pytest.raises(ValueError, match="top_p: is 0.0"):
        Sampling(top_p=0).checked()
    with pytest.raises(ValueError, match="must be numbers"):
        Sampling(temperature="hot").checked()
    turns = check_messages([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
    assert turns == [{"role": "user", "content": "Hi"}]
    for bad, expected in (([], "non-empty list"), ([{"role": "bot", "content": "x"}], r"messages\[0\].role: is 'bot'"),
                          ([{"role": "user", "content": 3}], r"messages\[0\].content: is int"),
                          ([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}], "may only come first"),
                          ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "must be a user turn")):
        with pytest.raises(ValueError, match=expected):
            check_messages(bad)
    assert with_system([{"role": "user", "content": "q"}], "sys")[0] == {"role": "system", "content": "sys"}
    assert with_system([{"role": "system", "content": "old"}, {"role": "user", "content": "q"}], "")[0]["content"] == "old"


def test_pictures_in_chat_turns_are_read_checked_and_confined(tmp_path):
    """Image parts: a data URL is decoded and checked; a path only under the caller's read policy (a visitor: their
    own upload); a web address, a broken picture, a picture outside a user turn and too many are refused, by turn."""
    import base64
    import io

    from PIL import Image

    from training.hosting.read_policy import REFUSED_START, policy_for, reading_as
    from training.run.chat import ChatRun, refuse_pictures
    from training.run.chat_pictures import MAX_PICTURES

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), "red").save(buffer, "PNG")
    png = buffer.getvalue()
    url = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}}
    turns = check_messages([{"role": "user", "content": [url, {"type": "text", "text": "Whose flag?"}]}])
    assert turns == [{"role": "user", "content": "Whose flag?", "images": [png]}]
    (tmp_path / "mine.png").write_bytes(png)
    (tmp_path / "theirs.png").write_bytes(png)
    mine = {"type": "image", "image": str(tmp_path / "mine.png")}
    with reading_as(policy_for(False, on_space=True, uploads=(str(tmp_path / "mine.png"),))):
        assert check_messages([{"role": "user", "content": [mine]}])[0]["images"] == [png]
        with pytest.raises(ValueError, match=r"messages\[0\].content\[0\]: " + REFUSED_START):
            check_messages([{"role": "user", "content": [{"type": "image", "image": str(tmp_path / "theirs.png")}]}])
    for part, expected in (({"type": "image_url", "image_url": {"url": "https://x.org/a.png"}}, "not fetched"),
                           ({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}, "not a readable image"),
                           ({"type": "image"}, "give the picture as a data URL")):
        with pytest.raises(ValueError, match=r"messages\[0\].content\[0\]: .*" + expected):
            check_messages([{"role": "user", "content": [part]}])
    with pytest.raises(ValueError, match="pictures go in user turns"):
        check_messages([{"role": "system", "content": [url]}, {"role": "user", "content": "q"}])
    with pytest.raises(ValueError, match=f"more than {MAX_PICTURES} pictures"):
        check_messages([{"role": "user", "content": [url] * (MAX_PICTURES + 1)}])
    text_run = ChatRun("run-t", "", "demo", "", False, "sft", False, None)
    with pytest.raises(ValueError, match="Run run-t trained a text model, which cannot see pictures"):
        refuse_pictures(text_run, turns)
    refuse_pictures(text_run, [{"role": "user", "content": "q"}])  # text alone is fine


def test_chat_panel_keeps_pictures_in_turns_and_regenerate_puts_them_back():
    """The Chatbot's value as Gradio hands it back (file parts) becomes image parts of the user turn; Regenerate puts
    the last question and its picture back in the inputs; text-only chats stay plain strings."""
    from components.chat_panel import _plain, handle_regenerate

    history = [{"role": "user", "content": [{"type": "file", "file": {"path": "/tmp/gradio/a/flag.png"}},
                                            {"type": "text", "text": "Whose flag?"}]},
               {"role": "assistant", "content": [{"type": "text", "text": "This is the flag of Zorbia."}]}]
    assert _plain(history) == [{"role": "user", "content": [{"type": "image", "image": "/tmp/gradio/a/flag.png"},
                                                            {"type": "text", "text": "Whose flag?"}]},
                               {"role": "assistant", "content": "This is the flag of Zorbia."}]
    assert _plain([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]) == [{"role": "user", "content": "Hi"}]
    tuned, base, message, seed, picture = handle_regenerate(history, [], 0)
    assert (tuned, base, message, seed, picture) == ([], [], "Whose flag?", 1, "/tmp/gradio/a/flag.png")


def _fake_run(root: Path, **record) -> Path:
    folder = root / "run-x"
    folder.mkdir()
    base = {"run_id": "run-x", "status": "failed", "model_dir": None,
            "config": {"method": "sft", "model": {"name_or_path": "demo"}, "data": {"source": "demo"}}}
    (folder / "run.json").write_text(json.dumps({**base, **record}))
    return folder


def test_a_run_without_weights_is_refused_by_chat_and_eval(tmp_path):
    from training.evaluate.runner import evaluate_run
    from training.run.chat import chat_run

    folder = _fake_run(tmp_path)
    with pytest.raises(ValueError, match="has no saved weights \\(status 'failed'\\)"):
        chat_run(folder)
    with pytest.raises(ValueError, match="has no saved weights"):
        evaluate_run(folder, ["heldout"])
    assert not (folder / "eval").exists()  # nothing written
    with pytest.raises(ValueError, match="not a run folder"):
        chat_run(tmp_path)


def test_no_finished_run_is_refused_clearly(tmp_path, monkeypatch):
    from components import chat_panel
    from training.run.manager import RunManager

    monkeypatch.setattr(chat_panel, "get_run_manager", lambda: RunManager(root=tmp_path))
    with pytest.raises(ValueError, match="No finished run yet"):
        chat_panel.run_folder("")
    with pytest.raises(ValueError, match="No run named"):
        chat_panel.run_folder("../etc")


RESULTS = {"results": {
    "heldout": {"base": {"exact_match": 0.0, "contains": 0.05}, "tuned": {"exact_match": 0.9, "contains": 1.0}, "n": 36},
    "arc_easy": {"base": {"acc": 0.60, "acc_norm": 0.55, "acc_stderr": 0.01}, "tuned": {"acc": 0.50, "acc_norm": 0.45},
                 "n": 2376},
    "hellaswag": {"base": {"acc_norm": 0.40}, "tuned": {"acc_norm": 0.39}, "n": 100},
}, "lm_eval_version": "0.4.13"}


def test_forgetting_is_said_only_when_the_tuned_model_is_clearly_worse():
    assert main_metric(RESULTS["results"]["arc_easy"]["base"]) == "acc_norm"
    assert main_metric(RESULTS["results"]["heldout"]["tuned"]) == "contains"
    found = forgetting(RESULTS)
    assert [f["task"] for f in found] == ["arc_easy"]  # not heldout (its own data), not hellaswag (within noise)
    assert "clearly worse than its base on arc_easy (acc_norm 55.0% before, 45.0% after)" in forgetting_lines(RESULTS)[0]
    rows = {r["task"]: r for r in table_rows(RESULTS)}
    assert rows["heldout"]["change"] == pytest.approx(0.95)
    card = "\n".join(card_section(RESULTS))
    assert "| arc_easy | acc_norm | 55.0% | 45.0% | -10.0 pts | 2376 |" in card and "Warning" in card


def test_model_card_has_an_evaluation_table_and_model_index():
    from training.config.schema import RunConfig
    from training.publish.hub import render_model_card

    record = {"config": RunConfig.demo().to_dict(), "metrics": [{"step": 1, "loss": 2.0}], "step": 1, "total_steps": 1,
              "evaluation": RESULTS}
    card = str(render_model_card(record, "me/atlas", adapter=False, loss_curve=None))
    assert "## Evaluation" in card and "| heldout | contains | 5.0% | 100.0% |" in card
    assert "model-index" in card and "metric_value" not in card and "value: 1.0" in card


def test_time_and_cost_estimate_for_registered_tasks():
    from training.evaluate.registered import estimate_eval

    gpu = estimate_eval(["arc_easy", "mmlu_anatomy"], 100, "Qwen/Qwen2.5-0.5B-Instruct", hardware="t4-small")
    all_docs = estimate_eval(["arc_easy"], None, "Qwen/Qwen2.5-0.5B-Instruct", hardware="t4-small")
    assert 0 < gpu.seconds < all_docs.seconds * 2
    assert gpu.usd == pytest.approx(gpu.seconds / 3600 * 0.40)
    assert "t4-small" in gpu.summary and any("arc_easy: 100 documents x 4 requests" in line for line in gpu.lines)
    cpu = estimate_eval(["gsm8k"], 10, "demo", hardware="cpu-basic")
    assert cpu.usd == 0 and "free" in cpu.summary
