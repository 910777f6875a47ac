"""The token views of a validation, with a tokenizer: token statistics (exact up to TOKEN_SAMPLE rows, else from an
evenly spaced sample; cached per tokenizer and max length) and the first examples rendered as the trainer sees them.
A tokenizer that cannot handle the data leaves a note in the report, not a crash."""

from __future__ import annotations

import hashlib
import json

from training.data.validation_cache import cached_tokens, store_tokens
from training.data.validation_report import RENDERED_ROWS, TOKEN_SAMPLE, ValidationReport, name_rows


def tokenizer_key(tokenizer, max_length: int | None) -> str:
    template = getattr(tokenizer, "chat_template", None) or ""
    if not isinstance(template, str):
        template = json.dumps(template, sort_keys=True, default=str)
    try:
        size = len(tokenizer)
    except TypeError:
        size = 0
    material = [type(tokenizer).__name__, getattr(tokenizer, "name_or_path", ""), size,
                hashlib.sha256(template.encode()).hexdigest(), max_length]
    return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()[:24]


def add_token_views(report: ValidationReport, tokenizer, max_length: int | None, render: bool,
                     key: str | None = None) -> None:
    """Token statistics (cached per tokenizer and max length) and rendered examples; a tokenizer that cannot handle
    the data leaves a note, not a crash."""
    from training.data.preview import render_example

    try:
        if max_length:
            token_key = tokenizer_key(tokenizer, max_length)
            stats = cached_tokens(key, token_key)
            if stats is None:
                rows = report.token_sample or report.normalised
                numbers = report.token_sample_rows or report.normalised_rows
                stats = token_statistics(rows, tokenizer, max_length, report.trl_type, numbers,
                                         total_rows=report.usable_rows)
                store_tokens(key, token_key, stats)
            report.token_stats = stats
            if stats["truncated_pct"] > 0:
                where = f" ({name_rows(stats['truncated_rows'])})" if stats["truncated_rows"] else ""
                report.warnings.append(f"{stats['truncated_pct']:.1f}% of examples{where} are longer than max length "
                                       f"{max_length} tokens and will be truncated. Raise max length or shorten them.")
        shown = RENDERED_ROWS if render else 0
        for number, row in zip(report.normalised_rows[:shown], report.normalised[:shown], strict=True):
            report.rendered.append(render_example(row, tokenizer, max_length, number, trl_type=report.trl_type).to_dict())
    except Exception as exc:  # a tokenizer without a chat template, a template that rejects a role, ...
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        report.tokenizer_note = f"Token statistics and the rendered preview are not available: the tokenizer failed ({reason})."
        if report.trl_type in ("conversational", "preference", "prompt_only") and not getattr(tokenizer, "chat_template", None):
            report.tokenizer_note += " The model has no chat template, so it cannot format chat data; pick an Instruct/chat model."


def count_tokens(row: dict, tokenizer, trl_type: str | None = None) -> int:
    from training.data.preview import count_tokens as count

    return count(row, tokenizer, trl_type)


def token_statistics(rows: list[dict], tokenizer, max_length: int, trl_type: str | None = None,
                     row_numbers: list[int] | None = None, total_rows: int | None = None) -> dict:
    """Token counts per example: exact up to TOKEN_SAMPLE rows, else from an evenly spaced sample (stated).
    `rows` may already be such a sample of `total_rows` usable rows (the validation pass keeps one)."""
    from training.data.preview import count_tokens as count

    n = len(rows)
    total = max(total_rows or n, n)
    step = max(1, n // TOKEN_SAMPLE)
    picked = list(range(0, n, step))[:TOKEN_SAMPLE]
    counts = [count(rows[i], tokenizer, trl_type) for i in picked]
    longest = max(counts)
    truncated = [i for i, c in zip(picked, counts, strict=True) if c > max_length]
    bins = 20
    # the histogram spans the data; max length is inside it unless it is far beyond the longest example
    top = max(longest + 1, min(max_length + 1, 2 * longest))
    width = max(1, -(-top // bins))
    histogram = [0] * bins
    for c in counts:
        histogram[min(bins - 1, c // width)] += 1
    exact = len(picked) == total
    return {
        "exact": exact,
        "sampled_rows": len(picked),
        "rows": total,
        "mean_tokens": round(sum(counts) / len(counts), 1),
        "max_tokens": longest,
        "min_tokens": min(counts),
        "truncated_pct": round(100 * len(truncated) / len(counts), 2),
        "truncated_rows": [row_numbers[i] for i in truncated[:20]] if exact and row_numbers else [],
        "total_tokens": int(round(sum(min(c, max_length) for c in counts) * total / len(counts))),
        "max_length": max_length,
        "histogram": {"bin_width": width, "counts": histogram},
    }
