"""The dataset side of an estimate: rows, tokens per example and the length distribution, from the validation report
(with the model's tokenizer when it loads)."""

from __future__ import annotations

from training.config.schema import RunConfig
from training.estimate.run_time import PADDING_FACTOR


def dataset_tokens(config: RunConfig, report=None) -> tuple[int, float, str, object]:
    """(rows, mean tokens per example, where the mean comes from, validation report). Token counts come
    from the model's tokenizer when it loads, else about 4 characters per token."""
    from training.data.formats import record_text
    from training.data.validation import validate_dataset
    from training.models.loading import ModelLoadError, load_processing_class

    d = config.data
    if report is None or report.token_stats is None:
        try:
            tokenizer = load_processing_class(config.model.name_or_path, config.model.trust_remote_code)
        except ModelLoadError:
            tokenizer = None
        report = validate_dataset(d.source, config.method, split=d.split, subset=d.subset, column_map=d.column_map,
                                  max_rows=d.max_rows, tokenizer=tokenizer, max_length=config.train.max_length,
                                  text_unit=d.text_unit)
    if report.token_stats:
        mean, source = report.token_stats["mean_tokens"], "measured with the model's tokenizer"
    elif report.normalised:
        sample = report.normalised[:2000]
        mean = sum(len(record_text(r)) for r in sample) / len(sample) / 4
        source = "guessed as 4 characters per token: the tokenizer could not be loaded"
    else:
        mean, source = 256.0, "dataset unreadable: assumed 256"
    return report.usable_rows or 1000, mean, source, report


def padding_from_stats(report) -> float | None:
    """Batches pad to their longest example: with token statistics, at most max/mean (capped at the default)."""
    stats = getattr(report, "token_stats", None)
    if not stats or not stats.get("mean_tokens") or not stats.get("max_tokens"):
        return None
    return max(1.0, min(PADDING_FACTOR, stats["max_tokens"] / stats["mean_tokens"]))


def longest_from_stats(report) -> float | None:
    """The longest example's tokens (memory peaks at the longest batch), when the dataset's token statistics have it."""
    stats = getattr(report, "token_stats", None)
    longest = (stats or {}).get("max_tokens")
    return float(longest) if isinstance(longest, (int, float)) and longest > 0 else None
