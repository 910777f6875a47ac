"""Picture rows for DPO, KTO, GRPO and RLOO (TRL's own format): each family validates with its exact row count and
TRL type, a corrupt picture is reported at its row, every bad row is named with its field, each method takes only the
family its trainer reads, KTO gets preference pairs unpaired, and the preview and estimate count image tokens."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from training.data.image_rows import load_image_dataset
from training.data.validation import validate_dataset

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
FAMILIES = {  # fixture -> (a method that trains on it, TRL type, the columns the rows keep, the picture column)
    "vision_trl_preference.jsonl": ("dpo", "preference", {"prompt", "chosen", "rejected", "images"}, "images[0]"),
    "vision_trl_unpaired.jsonl": ("kto", "unpaired_preference", {"prompt", "completion", "label", "images"}, "image"),
    "vision_trl_prompt_only.jsonl": ("grpo", "prompt_only", {"prompt", "answer", "images"}, "images[0]"),
}
READY = {  # TRL type -> the methods that train on it with pictures
    "preference": {"dpo", "kto"}, "unpaired_preference": {"kto"}, "prompt_only": {"grpo", "rloo"},
    "conversational": {"sft"},
}


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))


@pytest.mark.parametrize("name", list(FAMILIES))
def test_each_family_validates_and_loads_as_its_trainer_reads_it(name):
    method, trl_type, columns, _ = FAMILIES[name]
    report = validate_dataset(str(FIXTURES / name), method)
    assert report.valid, report.errors
    assert (report.rows, report.usable_rows, report.trl_type) == (3, 3, trl_type)
    assert "TRL vision" in report.format and report.arrow_cache
    assert {c["method"] for c in report.compatibility if c["status"] == "ready"} == READY[trl_type]
    dataset = load_image_dataset(str(FIXTURES / name))
    assert set(dataset.column_names) == columns and len(dataset) == 3
    assert dataset.features["images"].feature.__class__.__name__ == "Image"
    row = dataset[0]
    assert row["images"][0].size == (24, 16)  # decoded from the Arrow Image value
    assert row["prompt"][-1]["role"] == "user"
    assert sum(p["type"] == "image" for m in row["prompt"] for p in m["content"]) == len(row["images"]) == 1
    if trl_type == "unpaired_preference":
        assert dataset["label"] == [True, False, True]
    if trl_type == "prompt_only":
        assert dataset["answer"] == ["red", "blue", "green"]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_corrupt_picture_is_reported_at_its_row(name, tmp_path):
    shutil.copy(FIXTURES / name, tmp_path / name)
    shutil.copytree(FIXTURES / "vision_images", tmp_path / "vision_images")
    (tmp_path / "vision_images" / "green.png").write_bytes(b"not a picture at all " * 8)
    report = validate_dataset(str(tmp_path / name), FAMILIES[name][0])
    assert not report.valid and report.error_count == 1 and report.usable_rows == 2
    error = report.errors[0]
    assert (error.row, error.field) == (3, FAMILIES[name][3]) and "not a readable image" in error.message
    with pytest.raises(ValueError, match=r"row 3, "):
        load_image_dataset(str(tmp_path / name))


def test_every_bad_preference_row_is_named_with_its_row_and_field(tmp_path):
    shutil.copytree(FIXTURES / "vision_images", tmp_path / "vision_images")
    ask = [{"role": "user", "content": "<image> Which colour?"}]
    good = {"prompt": ask, "chosen": "Red.", "rejected": "Blue.", "images": ["vision_images/red.png"]}
    rows = [good,
            {**good, "images": ["vision_images/red.png", "vision_images/blue.png"]},  # 2 pictures, 1 placeholder
            {**good, "chosen": [{"role": "assistant", "content": [{"type": "image"}, {"type": "text", "text": "x"}]}]},
            {**good, "prompt": ask + [{"role": "assistant", "content": "Hm."}]},
            {**good, "rejected": ""},
            {**good, "images": []}]
    (tmp_path / "bad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    by_row = {e.row: (e.field, e.message) for e in validate_dataset(str(tmp_path / "bad.jsonl"), "dpo").errors}
    assert sorted(by_row) == [2, 3, 4, 5, 6], by_row
    assert by_row[2][0] == "images" and "2 image(s) but the prompt has 1 <image>" in by_row[2][1]
    assert by_row[3][0] == "chosen" and "pictures belong in the prompt" in by_row[3][1]
    assert by_row[4][0] == "prompt" and "ends on a turn of the assistant" in by_row[4][1]
    assert by_row[5][0] == "rejected" and "is empty" in by_row[5][1]
    assert by_row[6][0] == "images" and "has no image" in by_row[6][1]
    unpaired = [{"prompt": "Colour?", "completion": "Red.", "label": "maybe", "image": "vision_images/red.png"}]
    (tmp_path / "label.jsonl").write_text(json.dumps(unpaired[0]) + "\n")
    [error] = validate_dataset(str(tmp_path / "label.jsonl"), "kto").errors
    assert (error.row, error.field) == (1, "label") and "use true" in error.message


def test_each_method_takes_only_the_pictures_its_trainer_reads():
    def refusal(name: str, method: str) -> str:
        report = validate_dataset(str(FIXTURES / name), method)
        assert not report.valid
        return next(e.message for e in report.errors if e.field == "method")

    assert "DPO trains on preference rows" in refusal("vision_trl.jsonl", "dpo")  # chat rows with pictures
    assert "SFT trains on chat rows" in refusal("vision_trl_preference.jsonl", "sft")
    assert "GRPO trains on prompt-only rows" in refusal("vision_trl_unpaired.jsonl", "grpo")
    assert "REWARD does not take images" in refusal("vision_trl_preference.jsonl", "reward")
    assert "DISTILL does not take images" in refusal("vision_trl_prompt_only.jsonl", "distill")


def test_kto_gets_picture_pairs_unpaired_with_the_same_picture_bytes():
    from datasets import Image, List

    from training.data.image_families import unpair_image_rows
    from training.recipe.data import _vision_rows_for

    pairs = load_image_dataset(str(FIXTURES / "vision_trl_preference.jsonl"))
    assert _vision_rows_for(pairs, "kto") == ("unpaired_preference", True)
    rows = unpair_image_rows(pairs)
    assert len(rows) == 6
    assert rows["label"] == [True, False] * 3
    assert [m[0]["content"][0]["text"] for m in rows["completion"]] == ["It is red.", "It is green.", "It is blue.",
                                                                          "It is red.", "It is green.", "It is blue."]
    raw = lambda d: d.cast_column("images", List(Image(decode=False)))["images"]  # noqa: E731
    assert [r[0]["bytes"] for r in raw(rows)] == [r[0]["bytes"] for r in raw(pairs) for _ in (0, 1)]
    assert _vision_rows_for(pairs, "dpo") == ("preference", False)
    with pytest.raises(ValueError, match="GRPO cannot train on these picture rows"):
        _vision_rows_for(pairs, "grpo")


def test_demo_vision_offers_each_method_its_view_and_the_preview_and_estimate_count_image_tokens():
    from training.config.schema import RunConfig
    from training.data.demo_vision_data import VIEW_FILES
    from training.estimate.quote import estimate_for_config
    from training.models.demo_vision import IMAGE_TOKENS
    from training.models.loading import load_processing_class

    processor = load_processing_class("demo-vision")
    for method, trl_type in (("dpo", "preference"), ("kto", "unpaired_preference"), ("rloo", "prompt_only")):
        report = validate_dataset("demo-vision", method, tokenizer=processor, max_length=128, render=True)
        assert report.valid and report.trl_type == trl_type, report.errors
        assert report.token_stats["mean_image_tokens"] == IMAGE_TOKENS  # one flag per row
        assert report.rendered and f"[image: {IMAGE_TOKENS} tokens]" in json.dumps(report.rendered)
        config = RunConfig.demo(method, vision=True)
        estimate, _ = estimate_for_config(config, report=report)
        assert estimate.gpu_memory_gb > 0 and estimate.seconds > 0
    chat = validate_dataset("demo-vision", "sft")
    pairs = validate_dataset("demo-vision", "dpo")
    assert pairs.rows == chat.rows and len(VIEW_FILES) == 4  # the same pictures in every view
    ready = {c["method"] for c in pairs.compatibility if c["status"] == "ready"}  # like `demo`: a view for each method
    assert ready == {"sft", "dpo", "kto", "grpo", "rloo"}
