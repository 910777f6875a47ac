"""Tables that fit every screen: wrapped columns on a wide screen, one card per row on a phone.

A `gr.Dataframe` keeps every column on one line and scrolls sideways inside its box, so on a laptop the last column
(the fine-tuned model's answers) and on a phone everything after the first column sat off-screen. `render_table`
returns plain HTML for a `gr.HTML`: every cell wraps (long ids break anywhere), and below 640 px each row becomes a
card whose cells carry their column's name (`data-label`), so every figure and answer is on screen without a
horizontal scroll. `TABLE_CSS` goes into the page's CSS (app.py).

The headers are translated by the caller (`tr`, in the request's language); cell text is escaped here, so data
(a model's answer, a file name) can never inject markup. Rows listed in `strong` are shown in bold.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

TABLE_CSS = """
.card-table-box {max-width: 100%}
.prose table.card-table, table.card-table {display: table; width: 100%; max-width: 100%; border-collapse: collapse;
  table-layout: auto; font-size: 0.92em; margin: 0; overflow: visible}
table.card-table th, table.card-table td {text-align: left; vertical-align: top; padding: 6px 8px; white-space: normal;
  overflow-wrap: anywhere; word-break: normal; border: none; border-bottom: 1px solid var(--border-color-primary, #e5e7eb);
  box-sizing: border-box}
table.card-table th {font-weight: 600; background: var(--background-fill-secondary, #f9fafb)}
table.card-table tr.strong td {font-weight: 700}
table.card-table td.empty-table {opacity: 0.7; font-style: italic}
@media (max-width: 640px) {
  table.card-table thead {display: none}
  .prose table.card-table, table.card-table, table.card-table tbody, table.card-table tr, table.card-table td {
    display: block; width: 100%}
  table.card-table tr {border: 1px solid var(--border-color-primary, #e5e7eb); border-radius: 8px; margin-bottom: 10px;
    padding: 4px 0}
  table.card-table td {display: grid; grid-template-columns: minmax(min-content, 38%) minmax(0, 1fr); gap: 8px;
    border-bottom: none; padding: 3px 10px}
  table.card-table td::before {content: attr(data-label); font-weight: 600; opacity: 0.75; overflow-wrap: normal}
  table.card-table td:empty {display: none}
  table.card-table td.empty-table {display: block}
  table.card-table td.empty-table::before {content: none}
}
"""


def render_table(headers: Sequence[str], rows: Iterable[Sequence], *, strong: Iterable[int] = (), table_id: str = "",
                 empty: str = "") -> str:
    """An HTML table of `rows` under `headers` (already translated), each row a card on a phone; the rows whose
    indices are in `strong` in bold (e.g. the cheapest flavor that fits). `empty`: the text shown when there are no
    rows ("" shows nothing at all)."""
    rows = [list(r) for r in rows]
    if not rows and not empty:
        return ""
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    head = "".join(f"<th scope=\"col\">{html.escape(str(h))}</th>" for h in headers)
    bold, body = set(strong), []
    for n, row in enumerate(rows):
        tds = "".join(f'<td data-label="{html.escape(str(h))}">{html.escape(_text(v))}</td>' for h, v in zip(headers, row, strict=False))
        body.append(f'<tr class="strong">{tds}</tr>' if n in bold else f"<tr>{tds}</tr>")
    if not rows:
        body.append(f'<tr><td class="empty-table" colspan="{len(headers)}">{html.escape(empty)}</td></tr>')
    return (f'<div class="card-table-box"><table class="card-table"{ident}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table_cells(table: str) -> list[list[str]]:
    """The cells of each data row of a `render_table` table, as text (the header row and the empty note left out):
    what the table says, for tests and callers of the API."""
    import re

    rows = re.findall(r"<tr(?: class=\"strong\")?>(.*?)</tr>", table.split("<tbody>", 1)[-1])
    return [[html.unescape(c) for c in re.findall(r"<td data-label=\"[^\"]*\">(.*?)</td>", r)] for r in rows
            if 'class="empty-table"' not in r]
