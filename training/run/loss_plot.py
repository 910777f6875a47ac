"""A loss-curve PNG for the model card: matplotlib when installed, else drawn with Pillow, else none."""

from __future__ import annotations

import importlib.util
from pathlib import Path

WIDTH, HEIGHT, MARGIN = 640, 360, 48


def loss_points(metrics: list[dict], key: str = "loss") -> list[tuple[float, float]]:
    return [(float(m["step"]), float(m[key])) for m in metrics or []
            if isinstance(m.get(key), (int, float)) and isinstance(m.get("step"), (int, float))]


def loss_series(metrics: list[dict]) -> list[tuple[str, list[tuple[float, float]], str]]:
    """(label, points, colour) of the training loss and, when an eval split was logged, the eval loss."""
    series = [("training loss", loss_points(metrics), "#2563eb")]
    evaluation = loss_points(metrics, "eval_loss")
    if evaluation:
        series.append(("eval loss", evaluation, "#dc2626"))
    return series


def plot_backend() -> str | None:
    """matplotlib, pillow, or None when neither is installed."""
    for module, name in (("matplotlib", "matplotlib"), ("PIL", "pillow")):
        if importlib.util.find_spec(module) is not None:
            return name
    return None


def write_loss_curve(metrics: list[dict], path: str | Path) -> str | None:
    """Draw the training loss into path (PNG). Returns None when drawn, else why it was skipped."""
    points = loss_points(metrics)
    if len(points) < 2:
        return "fewer than two logged loss values, so there is no curve to draw"
    backend = plot_backend()
    if backend is None:
        return "neither matplotlib nor Pillow is installed, so the loss curve image was skipped"
    series = loss_series(metrics)
    if backend == "matplotlib":
        _draw_matplotlib(series, Path(path))
    else:
        _draw_pillow(series, Path(path))
    return None


def _draw_matplotlib(series: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH / 100, HEIGHT / 100), dpi=100)
    for label, points, colour in series:
        ax.plot([p[0] for p in points], [p[1] for p in points], color=colour, label=label, marker="o" if len(points) < 3 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if len(series) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _draw_pillow(series: list, path: Path) -> None:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(img)
    every = [p for _, points, _ in series for p in points]
    xs, ys = [p[0] for p in every], [p[1] for p in every]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    x_span, y_span = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    left, right, top, bottom = MARGIN + 12, WIDTH - MARGIN // 2, MARGIN // 2, HEIGHT - MARGIN

    def at(x: float, y: float) -> tuple[float, float]:
        return left + (x - x0) / x_span * (right - left), bottom - (y - y0) / y_span * (bottom - top)

    draw.line([(left, top), (left, bottom), (right, bottom)], fill="#6b7280", width=1)
    for frac in (0.0, 0.5, 1.0):
        y = y0 + frac * y_span
        _, py = at(x0, y)
        draw.line([(left - 4, py), (left, py)], fill="#6b7280")
        draw.text((4, py - 6), f"{y:.2f}", fill="#374151")
    draw.text((left, bottom + 8), f"step {x0:g}", fill="#374151")
    draw.text((right - 70, bottom + 8), f"step {x1:g}", fill="#374151")
    for i, (label, points, colour) in enumerate(series):
        draw.text((left + 8 + 120 * i, top), label, fill=colour)
        if len(points) > 1:
            draw.line([at(x, y) for x, y in points], fill=colour, width=2)
    img.save(path, format="PNG")
