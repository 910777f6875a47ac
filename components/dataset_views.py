"""HTML and Markdown views of a validation report: token histogram, compatibility table, rendered preview.

Pure functions from the report's plain data (dicts, as in `ValidationReport.to_dict()`) to strings, so they
are testable without a browser. No gradio, no ML imports.
"""

from __future__ import annotations

import html
import json

from components.image_views import STYLE as IMAGE_STYLE
from components.image_views import image_tokens_line, thumbnails_html
from components.translations import declared_tr, tr, translate_message

STATUS_ICONS = {"ready": "✅", "needs mapping": "🟡", "incompatible": "⛔"}

STYLE = """<style>
.tok-hist{font-size:.9em;margin:.25em 0 1em}
.tok-hist-plot{position:relative;height:130px;display:flex;align-items:flex-end;gap:2px;
  border-bottom:1px solid #888;padding-top:18px}
.tok-bar{flex:1;background:#4f7fd9;min-height:1px;border-radius:2px 2px 0 0}
.tok-bar.over{background:#e0533d}
.tok-maxlen{position:absolute;top:0;bottom:0;border-left:2px dashed #e0533d}
.tok-maxlen span{position:absolute;top:0;left:4px;white-space:nowrap;color:#e0533d;font-size:.85em}
.tok-axis{display:flex;justify-content:space-between;opacity:.75;font-size:.85em}
.rendered-preview .legend span{margin-right:.8em}
.rendered-preview .example{margin:.6em 0 1em}
.rendered-preview .ex-head{font-weight:600;margin-bottom:.2em}
.rendered-preview .part-label{font-size:.8em;text-transform:uppercase;letter-spacing:.04em;opacity:.8;margin-top:.3em}
.rendered-preview pre.tokens{white-space:pre-wrap;word-break:break-word;margin:0;padding:.4em;border:1px solid #8884;
  border-radius:4px;font-size:.85em;line-height:1.5}
.tok{box-shadow:inset -1px 0 0 #8886}
.tok.loss{background:#2e9e5b33;color:inherit;font-weight:600}
.tok.masked{color:#8a8a8a}
.tok.cut{text-decoration:line-through;color:#e0533d}
</style>"""


def histogram_html(stats: dict | None) -> str:
    """Bars of tokens per example; bins past max length in red, max length as a dashed line."""
    if not stats:
        return ""
    hist = stats["histogram"]
    counts, width = hist["counts"], hist["bin_width"]
    max_length = stats["max_length"]
    top = width * len(counts)
    peak = max(counts) or 1
    bars = []
    for i, n in enumerate(counts):
        lo, hi = i * width, (i + 1) * width - 1
        over = lo >= max_length
        bars.append(f'<div class="tok-bar{" over" if over else ""}" style="height:{100 * n / peak:.1f}%" '
                    f'title="{lo}–{hi} tokens: {n} example(s)" data-count="{n}"></div>')
    if max_length < top:
        marker = (f'<div class="tok-maxlen" style="left:{100 * max_length / top:.1f}%" id="max-length-marker">'
                  f"<span>{html.escape(tr('max length {n}', n=max_length))}</span></div>")
        beyond = ""
    else:
        marker = ""
        beyond = " " + tr("Max length {n} is beyond the longest example, so nothing is cut.", n=max_length)
    how = (tr("all {rows} rows", rows=f"{stats['rows']:,}") if stats["exact"]
           else tr("an evenly spaced sample of {sampled} of {rows} rows", sampled=f"{stats['sampled_rows']:,}",
                   rows=f"{stats['rows']:,}"))
    truncated = stats["truncated_pct"]
    cut = (f'<b style="color:#e0533d">{tr("{pct}% over max length {n}: truncated", pct=f"{truncated:g}", n=max_length)}</b>'
           if truncated else tr("none over max length {n}", n=max_length))
    head = tr("<b>Tokens per example</b> ({how}, with this model's tokenizer and chat template): mean {mean}, min {min}, "
              "max {max}; {cut}; about {total} training tokens per epoch.{beyond}", how=how,
              mean=f"{stats['mean_tokens']:g}", min=stats["min_tokens"], max=stats["max_tokens"], cut=cut,
              total=f"{stats['total_tokens']:,}", beyond=beyond)
    return (f'<div class="tok-hist" id="token-histogram" data-truncated-pct="{truncated}" data-max-length="{max_length}">'
            f'<div>{head}</div><div class="tok-hist-plot">{"".join(bars)}{marker}</div>'
            f'<div class="tok-axis"><span>0</span><span>{html.escape(tr("{n} tokens", n=top))}</span></div></div>')


def _span_html(span: dict) -> str:
    cls = "cut" if span["truncated"] else "loss" if span["loss"] else "image" if span["text"].startswith("[image:") else "masked"
    return f'<span class="tok {cls}">{html.escape(span["text"])}</span>'


def rendered_html(examples: list[dict], thumbnails: dict | None = None) -> str:
    """Examples token by token: loss-carrying tokens highlighted, masked ones grey, cut-off ones struck through."""
    if not examples:
        return ""
    out = ['<div class="rendered-preview" id="rendered-preview"><div>'
           + tr("<b>As the trainer sees it</b> (chat template applied, one box per token):") + "</div>"
           f'<div class="legend"><span class="tok loss">{html.escape(tr("trained on (carries loss)"))}</span>'
           f'<span class="tok masked">{html.escape(tr("context only (masked)"))}</span>'
           f'<span class="tok cut">{html.escape(tr("cut off at max length"))}</span></div>']
    for ex in examples:
        tokens = sum(p["tokens"] for p in ex["parts"])
        loss = sum(p["loss_tokens"] for p in ex["parts"])
        out.append('<div class="example"><div class="ex-head">'
                   + html.escape(tr("Row {row}: {tokens} tokens, {loss} carry loss", row=ex["row"], tokens=tokens, loss=loss))
                   + "</div>" + thumbnails_html((thumbnails or {}).get(ex["row"])))
        for part in ex["parts"]:
            spans = "".join(_span_html(s) for s in part["spans"])
            out.append(f'<div class="part-label">{html.escape(part["label"])}</div><pre class="tokens">{spans}</pre>')
        out += [f'<div class="hint">{html.escape(translate_message(n))}</div>' for n in ex.get("notes", [])]
        out.append("</div>")
    out.append("</div>")
    return "".join(out)


def _plain_value(value) -> str:
    if isinstance(value, list):
        return "\n".join(f"[{m.get('role')}] {m.get('content')}" if isinstance(m, dict) else str(m) for m in value)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def plain_preview_html(preview: list[dict]) -> str:
    """The normalised rows without a tokenizer: what each field holds after conversion to TRL's format."""
    if not preview:
        return ""
    out = ['<div class="rendered-preview" id="plain-preview"><div>'
           + tr("<b>First rows as the trainer gets them</b> (converted to TRL's format; no tokenizer, so no token view):")
           + "</div>"]
    for p in preview:
        fields = "".join(f'<div class="part-label">{html.escape(k)}</div><pre class="tokens">{html.escape(_plain_value(v))}</pre>'
                         for k, v in p.items() if k not in ("row", "thumbnails"))
        fields = thumbnails_html(p.get("thumbnails")) + fields
        out.append(f'<div class="example"><div class="ex-head">{html.escape(tr("Row {row}", row=p["row"]))}</div>{fields}</div>')
    out.append("</div>")
    return "".join(out)


def preview_html(report: dict) -> str:
    """Histogram and rendered examples when a tokenizer was available, else the plain normalised preview."""
    thumbnails = {p.get("row"): p["thumbnails"] for p in report.get("preview") or [] if p.get("thumbnails")}
    body = histogram_html(report.get("token_stats")) + image_tokens_line(report.get("token_stats")) + (
        rendered_html(report.get("rendered_preview") or [], thumbnails) or plain_preview_html(report.get("preview") or []))
    return STYLE + (IMAGE_STYLE if thumbnails else "") + body if body else ""


def compatibility_markdown(rows: list[dict]) -> str:
    """Per method: ready / needs mapping (with the map) / incompatible (with the reason)."""
    if not rows:
        return ""
    lines = [f"| {tr('Method')} | {tr('Status')} | {tr('Why')} |", "| --- | --- | --- |"]
    for r in rows:
        why = translate_message(r["reason"]).replace("|", "\\|")
        if r["status"] == "needs mapping" and r["column_map"]:
            why += "; " + tr("use {mapping}", mapping=f"`{json.dumps(r['column_map'])}`")
        status = f"{STATUS_ICONS.get(r['status'], '')} {tr(r['status'])}".strip()
        label = declared_tr(f"method:{r['method']}", "label", r.get("label") or r["method"])  # image rows carry no label
        lines.append(f"| {label} | {status} | {why} |")
    return "\n".join(lines)
