"""HTML for pictures: the thumbnails of an image dataset's first rows beside their rendered template, the image-token
line of the token histogram, and the picture beside each before/after answer. No image library: thumbnails come
as data URLs from the validation report (training/data/image_validation.py), compared pictures are small files
read as they are."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from components.translations import tr

MAX_PICTURE_BYTES = 2_000_000  # larger files are not inlined into the page
STYLE = ('<style>.thumbs img,.pic-answer img{width:64px;height:auto;image-rendering:pixelated;border:1px solid #8886;'
         'border-radius:4px;margin-right:.3em;vertical-align:top}.pic-answer{display:flex;gap:.8em;margin:.4em 0;'
         'align-items:flex-start}.tok.image{background:#3b7dd833;color:inherit;font-style:italic}</style>')


def thumbnails_html(urls: list[str]) -> str:
    """The pictures of one row as small images (data URLs only: nothing is fetched)."""
    shown = [u for u in urls or [] if isinstance(u, str) and u.startswith("data:image/")]
    return '<div class="thumbs">' + "".join(f'<img alt="" src="{html.escape(u)}">' for u in shown) + "</div>" if shown else ""


def image_tokens_line(stats: dict | None) -> str:
    """How many of the tokens per example are image tokens, when the statistics count them."""
    if not stats or stats.get("mean_image_tokens") is None:
        return ""
    return ('<div id="image-tokens">' + html.escape(tr("Image tokens: {mean} per example on average ({pct}% of all tokens).",
                                                       mean=f"{stats['mean_image_tokens']:g}",
                                                       pct=f"{stats['image_tokens_pct']:g}")) + "</div>")


def picture_url(path: str | None) -> str | None:
    """A data URL of a small picture file (PNG/JPEG/WebP/GIF), or None."""
    try:
        file = Path(str(path))
        kind = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".gif": "gif"}.get(file.suffix.lower())
        if kind is None or not file.is_file() or file.stat().st_size > MAX_PICTURE_BYTES:
            return None
        return f"data:image/{kind};base64," + base64.b64encode(file.read_bytes()).decode()
    except (OSError, ValueError):
        return None


def picture_answers_html(items: list[dict], mark) -> str:
    """Each compared question about a picture: the picture beside the question and both answers."""
    cards = []
    for item in items:
        url = picture_url(item.get("image"))
        if url is None:
            continue
        answers = (f"<div><b>{html.escape(item['prompt'])}</b><br>{html.escape(tr('Base model'))}: "
                   f"{html.escape(mark(item['base_correct']) + item['base'])}<br>{html.escape(tr('Fine-tuned model'))}: "
                   f"{html.escape(mark(item['tuned_correct']) + item['tuned'])}</div>")
        cards.append(f'<div class="pic-answer"><img alt="" src="{url}">{answers}</div>')
    return STYLE + '<div id="picture-answers">' + "".join(cards) + "</div>" if cards else ""
