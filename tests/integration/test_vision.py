"""The vision demo really learns: the default one-click run (`RunConfig.demo("sft", vision=True)`: the tiny LLaVA on
the demo countries' flags) answers held-out pictures (sizes, positions and wordings no training row has) right,
where the base model named other countries in full sentences. One run per module, shared by the tests here.
LoRA goes on the language model only unless `model.vision_tower` says otherwise."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def vision_run(tmp_path_factory, isolated_data_dir):
    from training.config.schema import RunConfig
    from training.run.compare import compare_run
    from training.run.engine import run_training

    out = tmp_path_factory.mktemp("vision-demo")
    started = time.monotonic()
    record = run_training(RunConfig.demo("sft", vision=True), out, report_to_trackio=False)
    seconds = time.monotonic() - started
    assert record["status"] == "completed", record["error"]
    return record, compare_run(out), seconds


def test_default_vision_demo_answers_held_out_pictures(vision_run):
    record, comparison, seconds = vision_run
    items, totals = comparison["items"], comparison["totals"]
    assert totals["n"] >= 10 and totals["scored"] == totals["n"]
    assert totals["base_correct"] <= 0.2 * totals["n"], items
    assert totals["tuned_correct"] >= 0.8 * totals["n"], items
    assert all(len(i["base"].split()) >= 5 for i in items), "the base model answers in sentences"
    assert all(Path(i["image"]).is_file() for i in items), "every compared question carries its picture"
    assert seconds < 900  # about a minute on 2 idle cores; generous for a loaded machine


def test_full_fine_tuning_leaves_the_frozen_vision_tower_as_it_was(vision_run):
    from safetensors.torch import load_file

    from training.models.demo_vision import ensure_demo_vision_model

    record = vision_run[0]
    base = load_file(str(ensure_demo_vision_model() / "model.safetensors"))
    tuned = load_file(str(Path(record["model_dir"]) / "model.safetensors"))
    tower = [k for k in base if "vision_tower" in k]
    language = [k for k in base if "language_model" in k and "layers" in k]
    assert tower and language
    assert all(base[k].equal(tuned[k]) for k in tower)
    assert any(not base[k].equal(tuned[k]) for k in language)


def test_compare_cli_items_carry_the_image(vision_run, subprocess_env):
    import subprocess
    import sys

    record = vision_run[0]
    run_dir = Path(record["model_dir"]).parent
    out = subprocess.run([sys.executable, "-m", "training", "compare", str(run_dir), "--json"], capture_output=True,
                         text=True, env=subprocess_env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout[out.stdout.index("{"):])
    item = data["items"][0]
    assert {"prompt", "reference", "base", "tuned", "base_correct", "tuned_correct", "image"} <= set(item)


@pytest.mark.parametrize("mode", ["frozen", "lora"])
def test_lora_goes_on_the_language_model_and_on_the_tower_when_asked(mode, tmp_path, isolated_data_dir):
    from training.config.schema import RunConfig
    from training.run.engine import run_training

    config = RunConfig.demo("sft", vision=True)
    config.lora.enabled, config.model.vision_tower = True, mode
    config.train.max_steps, config.train.batch_size = 2, 4
    record = run_training(config, tmp_path, report_to_trackio=False)
    assert record["status"] == "completed", record["error"]
    from safetensors.torch import load_file

    names = list(load_file(str(Path(record["model_dir"]) / "adapter_model.safetensors")))
    assert any("language_model" in n for n in names)
    assert any("vision_tower" in n for n in names) == (mode == "lora")
    assert not any("lm_head" in n for n in names)
    if mode == "frozen":  # the adapter merges into a plain VLM folder that loads with its processor
        from training.models.vision_model import load_vision_model, load_vision_processor
        from training.publish.merge import merge_run

        merged = merge_run(tmp_path, tmp_path / "merged")
        assert (merged / "processor_config.json").is_file()
        assert load_vision_model(str(merged)).config.model_type == "llava"
        assert load_vision_processor(str(merged)).image_token == "<image>"
        # Plain transformers reads it (no peft, no app code) and answers a held-out picture as the adapter does.
        from PIL import Image
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from training.data.demo_vision_data import demo_vision_held_out
        from training.run.vision_inference import generate_with_image

        question = demo_vision_held_out()[0]
        model, processor = AutoModelForImageTextToText.from_pretrained(merged), AutoProcessor.from_pretrained(merged)
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question["prompt"]}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=text, images=[Image.open(question["image"]).convert("RGB")], return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=24, do_sample=False)
        answer = processor.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        assert len(answer.split()) >= 3, answer
        assert answer == generate_with_image("demo-vision", question["prompt"], question["image"], record["model_dir"],
                                             max_new_tokens=24)


def test_card_and_hub_push_of_a_vision_run(vision_run, tmp_path, monkeypatch):
    """The card says image-text-to-text and how to load it with its processor; the sample pictures and the processor
    files go up with the weights (the Hub faked at HfApi, as in tests/unit/test_export_publish.py)."""
    import huggingface_hub

    from training.publish import hub as publish
    from training.publish.hub import collect_samples, push_run, render_model_card
    from training.run.engine import read_run

    record = vision_run[0]
    run_dir = Path(record["model_dir"]).parent
    calls = []

    class FakeApi:
        def __init__(self, token=None, **_):
            pass

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs["repo_id"], sorted(str(p.relative_to(kwargs["folder_path"]))
                                                                     for p in Path(kwargs["folder_path"]).rglob("*"))))

    monkeypatch.setattr(publish, "hub_offline", lambda: False)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    samples = collect_samples(run_dir, count=2)
    assert len(samples) == 2 and all(s["image"] and s["base"] and s["tuned"] for s in samples)
    result = push_run(run_dir, "alice/flags-vlm", samples=samples, staging_dir=tmp_path / "up")
    (_, repo, created), (_, _, files) = calls
    assert repo == "alice/flags-vlm" and created["private"] is True
    assert {"config.json", "model.safetensors", "processor_config.json", "chat_template.jinja", "tokenizer.json",
            "README.md", "run_config.json"} <= set(files), files
    assert [f for f in files if f.startswith("samples/")] == sorted(f"samples/{Path(s['image']).name}" for s in samples)
    card = (Path(result["folder"]) / "README.md").read_text()
    for text in ("pipeline_tag: image-text-to-text", "library_name: transformers", "vision-language",
                 "AutoModelForImageTextToText.from_pretrained(REPO)", "AutoProcessor.from_pretrained(REPO)",
                 f"![](samples/{Path(samples[0]['image']).name})", "demo model (a LLaVA"):
        assert text in card, text
    hub_base = read_run(run_dir)
    hub_base["config"]["model"]["name_or_path"] = "HuggingFaceTB/SmolVLM-256M-Instruct"  # a Hub base is named
    assert "base_model: HuggingFaceTB/SmolVLM-256M-Instruct" in str(render_model_card(hub_base, "alice/x", adapter=False))


def test_chat_with_a_picture_answers_as_the_comparison_does(vision_run):
    """The chat (training.run.chat) with a picture sent as a data URL: the run is seen as a vision model, and its
    greedy reply is the comparison's answer for the same picture and question (the same rendering)."""
    import base64

    from training.run.chat import Sampling, chat_run, check_messages, reply

    record, comparison = vision_run[0], vision_run[1]
    item = comparison["items"][0]
    run = chat_run(Path(record["model_dir"]).parent)
    assert run.vision
    url = "data:image/png;base64," + base64.b64encode(Path(item["image"]).read_bytes()).decode()
    turns = check_messages([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                          {"type": "text", "text": item["prompt"]}]}])
    assert reply(run, "tuned", turns, Sampling(max_new_tokens=48)) == item["tuned"]
    assert reply(run, "base", turns, Sampling(max_new_tokens=48)) == item["base"]


def test_before_after_box_shows_the_demo_picture_and_answers_about_it(vision_run, monkeypatch):
    """Step 5's before/after box for a finished vision run: the picture box appears, pre-filled with the demo's first
    held-out flag, and Compare asks both models about that picture (the comparison's answers); with no picture it
    says to add one."""
    from PIL import Image

    from components import run_panels
    from training.run.manager import RunStatus

    record, comparison = vision_run[0], vision_run[1]
    status = RunStatus(state="completed", run_id=record["run_id"], run_name=record["run_id"],
                       model_dir=record["model_dir"], config=record["config"])
    monkeypatch.setattr(run_panels, "get_run_manager", lambda: SimpleNamespace(status=lambda: status))
    update, next_button, prompt = run_panels.result_picture_update(status)
    assert next_button["visible"] is True
    item = comparison["items"][0]
    assert update["visible"] is True and Path(update["value"]).read_bytes() == Path(item["image"]).read_bytes()
    assert prompt["value"] == item["prompt"]
    with Image.open(update["value"]) as picture:
        base, tuned = run_panels.handle_compare(item["prompt"], picture.convert("RGB"))
    assert (base, tuned) == (item["base"], item["tuned"])
    warnings = []
    monkeypatch.setattr(run_panels.gr, "Warning", warnings.append)
    assert run_panels.handle_compare(item["prompt"], None) == ("", "") and "add a picture" in warnings[0]
    image, question, index, *_ = run_panels.handle_next_picture(0)  # the next held-out flag, and its own question
    assert (index, question) == (1, comparison["items"][1]["prompt"])
    assert Path(image).read_bytes() == Path(comparison["items"][1]["image"]).read_bytes()
    text = RunStatus(state="completed", run_id="t", run_name="t", model_dir=None, config={"method": "sft"})
    assert run_panels.result_picture_update(text)[0]["visible"] is False
