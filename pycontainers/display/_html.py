"""HTML building blocks for the notebook views: escaped tables and key/value lists."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

MISSING = "—"
"""What a view shows for a value that is not known or not set."""


def esc(value: object) -> str:
    """``str(value)`` escaped for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def table(
    headers: Sequence[str] | None,
    rows: Iterable[Sequence[object]],
    *,
    caption: str | None = None,
) -> str:
    """An HTML table of ``rows`` (every cell escaped), with an optional header and caption."""
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    if headers:
        out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def fields(
    rows: Iterable[tuple[str, object]], *, caption: str, raw: frozenset[str] = frozenset()
) -> str:
    """A two-column table of ``(name, value)``; values of names in ``raw`` are trusted HTML
    (already built from escaped parts by this package), every other value is escaped.
    """
    body = "".join(
        f"<tr><th style='text-align:left'>{esc(k)}</th>"
        f"<td style='text-align:left'>{v if k in raw else esc(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table><caption>{esc(caption)}</caption>{body}</table>"


def text_block(title: str, rows: Iterable[tuple[str, object]]) -> str:
    """A plain-text view: ``title`` then aligned ``name: value`` lines."""
    items = [(k, str(v)) for k, v in rows]
    width = max((len(k) for k, _ in items), default=0)
    return "\n".join([title, *(f"  {k.ljust(width)}  {v}" for k, v in items)])
