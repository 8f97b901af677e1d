"""Small HTML tables for the ``_repr_html_`` of namespaces (Jupyter)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    caption: str | None = None,
    header: bool = True,
) -> str:
    """Return an HTML table of ``rows`` (cells are escaped), with optional header and caption."""
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)
