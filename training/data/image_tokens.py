"""Tokens of image rows as the model's processor makes them: each picture becomes image tokens (how many depends on
the processor and the picture's size), the text goes through the chat template.

`image_token_count(processor, height, width)` asks the processor itself (`_get_num_multimodal_tokens`, which
transformers' processors implement for vLLM) and, failing that, processes a blank picture of that size.
`add_image_token_views` fills a validation report's token statistics (the histogram counts image tokens; the
stats say how many of the tokens are image tokens) and renders the first rows token by token, with each run of
image tokens shown as one marked span and the loss-carrying tokens marked as for text.
"""

from __future__ import annotations

from training.data.image_families import conversation_view
from training.data.preview import RenderedExample, RenderedPart, TokenSpan, _spans

IMAGE_SPAN = "[image: {n} tokens]"


def _tokenizer_of(processor):
    return getattr(processor, "tokenizer", processor)


_counts: dict[tuple[int, int, int], int] = {}


def _count(processor, height: int, width: int) -> int:
    try:
        data = processor._get_num_multimodal_tokens(image_sizes=[[height, width]])
        count = data["num_image_tokens"][0] if isinstance(data, dict) else data.num_image_tokens[0]
        return int(count)
    except Exception:
        from PIL import Image

        token = getattr(processor, "image_token", "<image>")
        out = processor(text=token, images=[Image.new("RGB", (width, height))], return_tensors="pt")
        return int((out["input_ids"][0] == processor.tokenizer.convert_tokens_to_ids(token)).sum())


def image_token_count(processor, height: int, width: int) -> int:
    """Image tokens one picture of this size becomes in the model's input."""
    key = (id(processor), int(height), int(width))
    if key not in _counts:
        if len(_counts) > 4096:
            _counts.clear()
        _counts[key] = _count(processor, int(height), int(width))
    return _counts[key]


def _ids_and_mask(row: dict, processor) -> tuple[list[int], list[int], int]:
    """(token ids with each image placeholder expanded, loss mask (answers only), image tokens)."""
    tokenizer = _tokenizer_of(processor)
    template = getattr(processor, "chat_template", None) or tokenizer.chat_template
    out = tokenizer.apply_chat_template(row["messages"], chat_template=template, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    ids, mask = list(out["input_ids"]), list(out.get("assistant_masks") or [1] * len(out["input_ids"]))
    image_id = tokenizer.convert_tokens_to_ids(getattr(processor, "image_token", "<image>"))
    sizes = list(row.get("image_sizes") or [])
    expanded_ids, expanded_mask, images = [], [], 0
    for token, loss in zip(ids, mask, strict=True):
        if token == image_id and sizes:
            n = image_token_count(processor, *sizes.pop(0))
            expanded_ids.extend([token] * n)
            expanded_mask.extend([0] * n)
            images += n
        else:
            expanded_ids.append(token)
            expanded_mask.append(int(loss))
    return expanded_ids, expanded_mask, images


def render_image_example(row: dict, processor, max_length: int | None, number: int | None) -> dict:
    """One image row token by token (a preference row: its prompt and chosen answer): each run of image tokens one
    marked span, answers marked as carrying loss."""
    ids, mask, _ = _ids_and_mask({**row, "messages": conversation_view(row, longest=False)}, processor)
    tokenizer = _tokenizer_of(processor)
    image_id = tokenizer.convert_tokens_to_ids(getattr(processor, "image_token", "<image>"))
    spans: list[TokenSpan] = []
    i = 0
    while i < len(ids):
        if ids[i] == image_id:
            j = i
            while j < len(ids) and ids[j] == image_id:
                j += 1
            spans.append(TokenSpan(IMAGE_SPAN.format(n=j - i), False, max_length is not None and i >= max_length))
            i = j
            continue
        j = i
        while j < len(ids) and ids[j] != image_id:
            j += 1
        spans.extend(_spans(tokenizer, ids[i:j], mask[i:j], max_length, i))
        i = j
    part = RenderedPart("conversation", spans, len(ids), int(sum(mask)))
    return RenderedExample(number, "sft", [part], ["Each picture becomes the image tokens shown in brackets; they carry no "
                                                   "loss. Only the answers do."]).to_dict()


def image_token_statistics(rows: list[dict], processor, max_length: int, total_rows: int) -> dict:
    """Token statistics in the shape of training.data.validation.token_statistics, image tokens included, plus
    `mean_image_tokens` and `image_tokens_pct`."""
    counts, image_counts = [], []
    for row in rows:  # a preference row counts its longer answer: the longest sequence the trainer builds from it
        ids, _, images = _ids_and_mask({**row, "messages": conversation_view(row)}, processor)
        counts.append(len(ids))
        image_counts.append(images)
    bins, longest = 20, max(counts)
    top = max(longest + 1, min(max_length + 1, 2 * longest))
    width = max(1, -(-top // bins))
    histogram = [0] * bins
    for c in counts:
        histogram[min(bins - 1, c // width)] += 1
    truncated = sum(c > max_length for c in counts)
    scale = total_rows / len(counts)
    return {"exact": len(counts) == total_rows, "sampled_rows": len(counts), "rows": total_rows,
            "mean_tokens": round(sum(counts) / len(counts), 1), "max_tokens": longest, "min_tokens": min(counts),
            "truncated_pct": round(100 * truncated / len(counts), 2), "truncated_rows": [],
            "total_tokens": int(round(sum(min(c, max_length) for c in counts) * scale)), "max_length": max_length,
            "histogram": {"bin_width": width, "counts": histogram},
            "mean_image_tokens": round(sum(image_counts) / len(image_counts), 1),
            "image_tokens_pct": round(100 * sum(image_counts) / max(1, sum(counts)), 1)}


def add_image_token_views(report, processor, max_length: int | None, render: bool) -> None:
    """Token statistics with image tokens, a warning with the image tokens per example, and rendered rows."""
    try:
        if max_length:
            stats = image_token_statistics(report.normalised, processor, max_length, report.usable_rows)
            report.token_stats = stats
            report.warnings.append(f"Image tokens: {stats['mean_image_tokens']:g} per example on average for this "
                                   f"model's processor ({stats['image_tokens_pct']:g}% of all tokens).")
            if stats["truncated_pct"] > 0:
                report.warnings.append(f"{stats['truncated_pct']:.1f}% of examples are longer than max length {max_length} "
                                       "tokens (image tokens included). Raise max length: a cut picture fails training.")
        for number, row in zip(report.normalised_rows[:3 if render else 0], report.normalised, strict=False):
            report.rendered.append(render_image_example(row, processor, max_length, number))
    except Exception as exc:  # a text tokenizer for image data, a template that cannot show images, ...
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        report.tokenizer_note = (f"Token statistics and the rendered preview are not available: the model's processor "
                                 f"failed ({reason}). Pick a vision-language model for image data.")
