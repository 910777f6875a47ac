"""A plain .txt file is text, not CSV (issue 23 point 9): each line, each paragraph or the whole file becomes a `text`
row, as data.text_unit says, and validates as language modelling (continued pretraining). The fixture is shaped like
LLaMA-Factory's data/wiki_demo.txt: 30 documents, one per line (our own invented content)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.cli.main import build_parser
from training.config.schema import RunConfig
from training.data.file_types import text_rows
from training.data.validation import validate_dataset

WIKI = Path(__file__).resolve().parents[1] / "fixtures" / "text" / "wiki_like.txt"


def test_each_line_of_a_wiki_like_file_is_a_text_row():
    report = validate_dataset(str(WIKI), "sft")
    assert report.valid, report.errors
    assert (report.format, report.trl_type, report.rows, report.usable_rows) == ("text", "text", 30, 30)
    assert report.columns == ["text"] and report.normalised_rows[:3] == [1, 2, 3]
    assert report.preview[0]["text"].startswith("Zorbia is a small island nation")
    assert not any("header" in w or "CSV" in w for w in report.warnings), report.warnings


def test_paragraphs_and_the_whole_document(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("First paragraph,\nits second line.\n\n\nSecond paragraph.\n   \nThird,\r\nwith a CRLF.\n")
    by_paragraph = validate_dataset(str(path), "sft", text_unit="paragraph")
    assert by_paragraph.valid and by_paragraph.usable_rows == 3
    assert by_paragraph.normalised_rows == [1, 5, 7]  # each paragraph at its first line
    assert by_paragraph.normalised[0] == {"text": "First paragraph,\nits second line."}
    whole = validate_dataset(str(path), "sft", text_unit="document")
    assert whole.valid and whole.usable_rows == 1 and whole.normalised[0]["text"].endswith("with a CRLF.")
    lines = validate_dataset(str(path), "sft")  # the default: blank lines are skipped, the others counted as lines
    assert lines.usable_rows == 5 and lines.normalised_rows == [1, 2, 5, 7, 8]


def test_the_same_rows_reach_training(tmp_path):
    from training.recipe.data import load_source

    for unit in ("line", "paragraph", "document"):
        dataset = load_source(str(WIKI), text_unit=unit)
        assert dataset["text"] == [t for _, t in text_rows(WIKI.read_text(), unit)]
    assert len(load_source(str(WIKI))) == 30


def test_the_setting_is_declared_so_cli_and_widget_are_generated():
    config = RunConfig.from_dict({"data": {"source": str(WIKI), "text_unit": "paragraph"}})
    assert config.data.text_unit == "paragraph"
    args = build_parser().parse_args(["validate", str(WIKI), "--text-unit", "document"])
    assert args.text_unit == "document"
    from training.config.schema import validate_config

    config.data.text_unit = "sentence"
    assert [name for name, _ in validate_config(config)] == ["data.text_unit"]


def test_a_txt_file_holding_json_lines_is_read_as_jsonl(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n')
    report = validate_dataset(str(path), "sft")
    assert report.valid and report.format == "messages"


@pytest.mark.parametrize("method", ["dpo"])
def test_a_method_that_needs_pairs_says_so(method):
    report = validate_dataset(str(WIKI), method)
    assert not report.valid and report.errors[0].field == "(columns)"
