"""Tokens a run really computes, from the dataset report's token statistics: the mean example after truncation at
max_length (what is trained), and the padded length of a batch (every sequence is padded to the batch's longest,
so a batch of B costs B x E[longest of B]). Without statistics, lengths are taken as spread evenly up to the longest
example (twice the mean when that is unknown)."""

from __future__ import annotations

LONGEST_OVER_MEAN = 2.0  # the longest example when only the mean is known (the calibration data's is 1.7x)
_POINTS = 256


def truncated_mean(stats: dict | None, mean: float, max_length: int) -> float:
    """Mean tokens per example after truncation at max_length: exact from the report's total when it was counted
    at this max_length, else min(mean, max_length)."""
    if stats and stats.get("max_length") == max_length and stats.get("rows") and stats.get("total_tokens"):
        return min(float(max_length), stats["total_tokens"] / stats["rows"])
    return min(float(mean), float(max_length))


def _cdf_points(stats: dict | None, mean: float, longest: float | None) -> tuple[list[float], list[float]]:
    """(lengths, cumulative share of examples up to each) describing the length distribution, piecewise linear."""
    hist = (stats or {}).get("histogram") or {}
    counts, width = hist.get("counts"), hist.get("bin_width")
    top = (stats or {}).get("max_tokens") or longest
    if counts and width and sum(counts) and top:
        xs, ys, total, seen = [0.0], [0.0], float(sum(counts)), 0
        for i, c in enumerate(counts):
            seen += c
            edge = min(float((i + 1) * width), float(top))
            if edge > xs[-1]:
                xs.append(edge)
                ys.append(seen / total)
            if edge >= top:
                break
        ys[-1] = 1.0
        return xs, ys
    high = float(longest) if longest and longest > 0 else LONGEST_OVER_MEAN * mean
    low = max(0.0, min(2 * mean - high, mean))
    return [low, max(high, low + 1.0)], [0.0, 1.0]


def padded_length(stats: dict | None, mean: float, max_length: int, batch: int, longest: float | None = None) -> float:
    """Expected length of a batch of `batch` examples padded to its longest, capped at max_length:
    E[min(longest of B, max_length)] = integral of (1 - F(x)^B) from 0 to max_length."""
    xs, ys = _cdf_points(stats, mean, longest)
    cap = float(max_length)
    if batch <= 1:  # one example: no padding, the mean (truncated) length
        return truncated_mean(stats, mean, max_length)
    end = min(cap, xs[-1])
    total, step = 0.0, end / _POINTS
    j = 0
    for k in range(_POINTS):
        x = (k + 0.5) * step
        while j + 1 < len(xs) and xs[j + 1] < x:
            j += 1
        if x <= xs[0]:
            f = 0.0
        elif j + 1 >= len(xs):
            f = 1.0
        else:
            f = ys[j] + (ys[j + 1] - ys[j]) * (x - xs[j]) / (xs[j + 1] - xs[j])
        total += (1 - f ** batch) * step
    return total
