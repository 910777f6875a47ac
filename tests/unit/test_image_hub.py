"""Hub image datasets: streamed from `hf://datasets/ID` (never a local folder of the same name), with the caller's
token rule (a visitor's reads carry no token), pictures kept as bytes; the owner's same name still reads the folder.
The Hub is replaced at `datasets.load_dataset` by a real streamed dataset built from the Parquet fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from training.data.image_rows import is_image_source, load_image_dataset
from training.data.validation import validate_dataset
from training.hosting.read_policy import policy_for, reading_as

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "formats"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """cwd holds a local image folder `owner/flags` (the server's own pictures); the Hub's `owner/flags` is the
    Parquet fixture, streamed. Records every call."""
    import datasets

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # "online": every Hub read goes to the fake below
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURES / "vision_folder", tmp_path / "owner" / "flags")
    calls = []
    real_load = datasets.load_dataset

    def load_dataset(path, name=None, split=None, streaming=False, token=None, **kw):
        calls.append({"path": path, "split": split, "streaming": streaming, "token": token})
        assert path == "hf://datasets/owner/flags", path  # nothing else reaches for the Hub
        return real_load("parquet", data_files=str(FIXTURES / "vision_hub.parquet"), split=split, streaming=streaming)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_a_visitors_hub_id_streams_from_the_hub_without_a_token_never_the_local_folder(hub):
    with reading_as(policy_for(False, on_space=True)):
        report = validate_dataset("owner/flags", "sft")
        dataset = load_image_dataset("owner/flags")
    assert report.valid and report.rows == 3 and "questions and answers" in report.format, report.errors
    assert hub and all(c["path"] == "hf://datasets/owner/flags" and c["streaming"] and c["token"] is False for c in hub)
    assert len(dataset) == 3 and dataset.features["images"].feature.__class__.__name__ == "Image"
    assert "caption" not in str(dataset[0]["messages"])  # the Hub's question/answer rows, not the folder's captions


def test_the_owner_naming_the_same_local_folder_reads_the_folder(hub):
    assert is_image_source("owner/flags")  # no policy in force: the CLI and the owner's side read the disk
    report = validate_dataset("owner/flags", "sft")
    assert report.valid and "captions" in report.format and report.rows == 3
    assert hub == []
