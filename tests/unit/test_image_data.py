"""Image datasets: every documented format validates with its exact row count, a bad picture in each is reported
at its row, and every kind of bad picture or reference is refused with its row and field (no reading outside the
dataset's folder)."""

from __future__ import annotations

import base64
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from training.data.image_rows import is_image_source, load_image_dataset
from training.data.validation import validate_dataset

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
FORMATS = {  # fixture -> (format label fragment, the row number of its third row)
    "vision_trl.jsonl": ("TRL vision", 3),
    "vision_llamafactory.json": ("LLaMA-Factory", 3),
    "vision_sharegpt4v.json": ("ShareGPT-4V", 3),
    "vision_openai.jsonl": ("OpenAI vision", 3),
    "vision_folder": ("captions", 4),  # CSV: the header is line 1
    "vision_qa.zip": ("questions and answers", 3),
    "vision_hub.parquet": ("questions and answers", 3),
}
BROKEN = b"this is not a picture, only some text " * 4


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))


def _png(mode="RGB", size=(12, 8)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_validates_with_its_exact_row_count(name):
    report = validate_dataset(str(FIXTURES / name), "sft")
    assert report.valid, report.errors
    assert (report.rows, report.usable_rows) == (3, 3)
    assert FORMATS[name][0] in report.format
    assert report.trl_type == "conversational" and report.arrow_cache
    assert any(w.startswith("Images: 3 pictures") for w in report.warnings)
    dataset = load_image_dataset(str(FIXTURES / name))
    assert len(dataset) == 3 and dataset.features["images"].feature.__class__.__name__ == "Image"
    row = dataset[0]
    assert row["images"][0].size[0] > 0  # decoded from the Arrow Image value
    assert sum(p["type"] == "image" for m in row["messages"] for p in m["content"]) == len(row["images"])


def _copy_with_bad_third_picture(name: str, tmp_path: Path) -> Path:
    """The fixture copied into tmp_path with the third row's picture (green) corrupted, in the format's own way."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    if name == "vision_openai.jsonl":
        rows = [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]
        rows[2]["messages"][1]["content"][1]["image_url"]["url"] = "data:image/png;base64," + base64.b64encode(BROKEN).decode()
        target = tmp_path / name
        target.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return target
    if name == "vision_hub.parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(FIXTURES / name)
        images = table.column("image").to_pylist()
        images[2] = {"bytes": BROKEN, "path": None}
        table = table.set_column(0, "image", pa.array(images, type=table.schema.field("image").type))
        pq.write_table(table, tmp_path / name)
        return tmp_path / name
    if name == "vision_qa.zip":
        target = tmp_path / name
        with zipfile.ZipFile(FIXTURES / name) as source, zipfile.ZipFile(target, "w") as out:
            for item in source.namelist():
                out.writestr(item, BROKEN if item.endswith("green.png") else source.read(item))
        return target
    if name == "vision_folder":
        shutil.copytree(FIXTURES / name, tmp_path / name)
        (tmp_path / name / "green.png").write_bytes(BROKEN)
        return tmp_path / name
    shutil.copy(FIXTURES / name, tmp_path / name)
    shutil.copytree(FIXTURES / "vision_images", tmp_path / "vision_images")
    (tmp_path / "vision_images" / "green.png").write_bytes(BROKEN)
    return tmp_path / name


@pytest.mark.parametrize("name", list(FORMATS))
def test_a_bad_picture_in_each_format_is_reported_at_its_row(name, tmp_path):
    report = validate_dataset(str(_copy_with_bad_third_picture(name, tmp_path)), "sft")
    assert not report.valid and report.error_count == 1 and report.usable_rows == 2
    error = report.errors[0]
    assert error.row == FORMATS[name][1], error
    assert "not a readable image" in error.message
    with pytest.raises(ValueError, match=rf"row {FORMATS[name][1]}, "):
        load_image_dataset(str(_copy_with_bad_third_picture(name, tmp_path / "again")))


def _trl_file(tmp_path: Path, pictures: dict[str, bytes], refs: list, text="<image>What is it?") -> Path:
    folder = tmp_path / "set"
    (folder / "img").mkdir(parents=True, exist_ok=True)
    for name, data in pictures.items():
        (folder / "img" / name).write_bytes(data)
    rows = [{"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "A thing."}],
             "images": [ref] if not isinstance(ref, list) else ref} for ref in refs]
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _errors(path: Path) -> list[tuple]:
    report = validate_dataset(str(path), "sft")
    return [(e.row, e.field, e.message) for e in report.errors]


def test_every_kind_of_bad_picture_is_named_with_its_row_and_field(tmp_path, monkeypatch):
    import training.data.image_refs as refs

    good = _png()
    from PIL import Image

    buffer = io.BytesIO()
    Image.frombytes("RGB", (30, 30), bytes(range(256)) * 10 + bytes(140)).save(buffer, "PNG")
    truncated = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    (tmp_path / "secret.png").write_bytes(good)
    pictures = {"good.png": good, "broken.png": BROKEN, "cut.png": truncated, "deep.png": _png("I;16"),
                "big.png": _png(size=(40, 40))}
    path = _trl_file(tmp_path, pictures, ["img/good.png", "img/broken.png", "img/cut.png", "img/deep.png", "img/big.png",
                                          "../secret.png", str(tmp_path / "secret.png"), "img/missing.png",
                                          "https://example.com/cat.png"])
    (path.parent / "img" / "link.png").symlink_to(tmp_path / "secret.png")
    with path.open("a") as fh:
        fh.write(json.dumps({"messages": [{"role": "user", "content": "<image>"}, {"role": "assistant", "content": "x"}],
                             "images": ["img/link.png"]}) + "\n")
        fh.write(json.dumps({"messages": [{"role": "user", "content": "<image><image> both?"},
                                          {"role": "assistant", "content": "x"}], "images": ["img/good.png"]}) + "\n")
    monkeypatch.setattr(refs, "MAX_IMAGE_PIXELS", 1000)  # 40x40 is over it, 12x8 is not
    errors = _errors(path)
    by_row = {row: (field, message) for row, field, message in errors}
    assert sorted(by_row) == list(range(2, 12)), errors
    assert "not a readable image" in by_row[2][1]
    assert "truncated" in by_row[3][1]
    assert "mode is I;16" in by_row[4][1]
    assert "above the limit" in by_row[5][1]
    for row in (6, 7):
        assert "outside the dataset folder" in by_row[row][1] and "refused" in by_row[row][1]
    assert "does not exist" in by_row[8][1]
    assert "offline" in by_row[9][1] and "data:image" in by_row[9][1]  # web addresses: tests/unit/test_image_urls.py
    assert "outside the dataset folder" in by_row[10][1]  # a link that leads out
    assert "1 image(s) but the text has 2" in by_row[11][1]
    assert all(field.startswith("images") for field, _ in by_row.values())


def test_a_text_dataset_is_not_an_image_dataset_and_reward_models_refuse_images():
    assert not is_image_source(str(FIXTURES / "openai_chat.jsonl"))
    assert is_image_source(str(FIXTURES / "vision_folder"))
    report = validate_dataset(str(FIXTURES / "vision_trl.jsonl"), "reward")
    assert not report.valid
    assert any("does not take images" in e.message for e in report.errors)
    assert {c["method"]: c["status"] for c in report.compatibility}["sft"] == "ready"
