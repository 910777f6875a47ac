"""Examples rendered as the trainer sees them, with the demo tokenizer: which tokens carry loss."""

from __future__ import annotations

import json

import pytest

from components.dataset_views import compatibility_markdown, histogram_html, preview_html
from training.data.preview import count_tokens, render_example
from training.data.validation import token_statistics, validate_dataset


@pytest.fixture(scope="module")
def tokenizer(demo_model_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(demo_model_path)


def _text(part, loss: bool | None = None) -> str:
    return "".join(s.text for s in part.spans if loss is None or s.loss == loss)


def test_chat_only_assistant_tokens_carry_loss(tokenizer):
    row = {"messages": [{"role": "user", "content": "Capital of Zorbia?"}, {"role": "assistant", "content": "Plimtown."}]}
    ex = render_example(row, tokenizer, max_length=1024, row_number=7)
    (part,) = ex.parts
    assert ex.row == 7 and ex.kind == "sft"
    assert _text(part) == tokenizer.apply_chat_template(row["messages"], tokenize=False)
    assert _text(part, loss=True) == "Plimtown.<|im_end|>"
    assert "Capital of Zorbia?" in _text(part, loss=False)
    assert part.tokens == count_tokens(row, tokenizer)


def test_prompt_completion_and_truncation(tokenizer):
    row = {"prompt": "What is 2+2? ", "completion": "It is four."}
    (part,) = render_example(row, tokenizer, max_length=6).parts
    # as in TRL, the completion starts where the tokenized prompt and prompt+completion diverge (here: " It")
    assert _text(part, loss=True).lstrip().startswith("It is") and _text(part, loss=False).startswith("What")
    assert _text(part).endswith("<|im_end|>")  # EOS appended, as SFTTrainer does
    assert [s.truncated for s in part.spans].index(True) == 6


def test_preference_prompt_only_and_unpaired(tokenizer):
    pair = {"prompt": [{"role": "user", "content": "2+2?"}], "chosen": [{"role": "assistant", "content": "4"}],
            "rejected": [{"role": "assistant", "content": "5"}]}
    ex = render_example(pair, tokenizer)
    assert [p.label for p in ex.parts] == ["prompt", "chosen", "rejected"]
    assert ex.parts[0].loss_tokens == 0 and _text(ex.parts[1]).startswith("4") and _text(ex.parts[2]).startswith("5")
    implicit = {"chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
                "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}]}
    assert [_text(p) for p in render_example(implicit, tokenizer).parts] == [_text(p) for p in ex.parts]
    prompt = render_example({"prompt": [{"role": "user", "content": "Hi"}]}, tokenizer, trl_type="prompt_only")
    assert _text(prompt.parts[0]).endswith("<|im_start|>assistant\n") and prompt.parts[0].loss_tokens == 0
    kto = render_example({"prompt": "Q ", "completion": "bad answer", "label": False}, tokenizer)
    assert kto.parts[1].label == "completion (undesirable)" and kto.parts[1].loss_tokens > 0


def test_validate_with_tokenizer_gives_stats_and_rendered_preview(tokenizer):
    # a max length between the shortest and the longest demo example, so that some (not all) are truncated
    counts = sorted(count_tokens(r, tokenizer) for r in validate_dataset("demo").normalised)
    max_length = counts[len(counts) // 2]
    assert counts[0] < max_length < counts[-1]
    report = validate_dataset("demo", tokenizer=tokenizer, max_length=max_length, render=True)
    stats = report.token_stats
    assert stats["exact"] and 0 < stats["truncated_pct"] < 100 and stats["truncated_rows"]
    assert len(report.rendered) == 3 and report.rendered[0]["parts"][0]["loss_tokens"] > 0
    html = preview_html(report.to_dict())
    assert 'id="token-histogram"' in html and 'id="max-length-marker"' in html and 'class="tok loss"' in html
    json.dumps(report.to_dict())


def test_token_statistics_are_sampled_and_say_so(tokenizer, monkeypatch):
    import training.data.token_views as token_views

    monkeypatch.setattr(token_views, "TOKEN_SAMPLE", 10)
    rows = [{"text": "word " * (i % 7 + 1)} for i in range(100)]
    stats = token_statistics(rows, tokenizer, max_length=4)
    assert not stats["exact"] and stats["sampled_rows"] == 10 and stats["rows"] == 100
    assert stats["truncated_rows"] == []  # rows are only named when every row was counted
    assert "evenly spaced sample of 10 of 100 rows" in histogram_html(stats)


def test_tokenizer_without_chat_template_leaves_a_note(tokenizer, tmp_path):
    import copy

    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None
    report = validate_dataset("demo", tokenizer=plain, max_length=64, render=True)
    assert report.valid and report.token_stats is None
    assert "no chat template" in report.tokenizer_note


def test_compatibility_markdown_escapes_and_shows_maps():
    md = compatibility_markdown([{"method": "dpo", "label": "DPO", "status": "needs mapping", "reason": "rename a | b",
                                  "column_map": {"a": "chosen"}}])
    assert "a \\| b" in md and '`{"a": "chosen"}`' in md
