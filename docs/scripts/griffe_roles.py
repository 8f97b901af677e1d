"""A griffe extension for the docs build: the package's docstrings are plain prose with
reST-ish markup (``literals``, :class:`~pycontainers.X` roles, ``::`` literal blocks); this
rewrites the roles as Markdown code spans so mkdocstrings renders them without rewriting
every docstring. ``~a.b.C`` shows ``C``, as Sphinx would.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const|term):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    target = match.group(2).strip()
    if match.group(1):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


_RULE = re.compile(r"^(\s*)(=+)((?:\s+=+)+)\s*$")


def _columns(rule: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"=+", rule)]


def _rows(lines: list[str], cols: list[tuple[int, int]]) -> list[list[str]]:
    """The cells of a reST simple table's lines; a line whose first column is blank
    continues the row above.
    """
    rows: list[list[str]] = []
    for line in lines:
        if not line.strip():
            continue
        cells = []
        for i, (start, _) in enumerate(cols):
            end = cols[i + 1][0] if i + 1 < len(cols) else len(line)
            cells.append(line[start:end].strip())
        if rows and not cells[0]:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    return rows


def _markdown(head: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(head), "|" + "---|" * len(head), *(line(r) for r in rows)]


def tables(text: str) -> str:
    """``text`` with its reST simple tables (``===  ===`` rules) as Markdown tables: with a
    header when a second rule follows the first row(s) and more rows follow it, else with an
    empty header.
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _RULE.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        cols = _columns(lines[i])
        j = next((k for k in range(i + 1, len(lines)) if _RULE.match(lines[k])), None)
        if j is None:
            out.append(lines[i])
            i += 1
            continue
        first = _rows(lines[i + 1 : j], cols)
        after = lines[j + 1] if j + 1 < len(lines) else ""
        k = None
        if after.strip() and not _RULE.match(after):  # a header rule: the body follows
            k = next((m for m in range(j + 1, len(lines)) if _RULE.match(lines[m])), None)
        if k is not None:
            table = _markdown(first[0], _rows(lines[j + 1 : k], cols))
            i = k + 1
        else:
            table = _markdown([""] * len(cols), first)
            i = j + 1
        out += ["", *table, ""]
    return "\n".join(out)


def literals(text: str) -> str:
    """reST's ``para::`` (an indented literal block follows: Markdown's indented code block
    needs only the blank line) becomes ``para:``; doctest lines (``>>>``) become fenced
    ``pycon`` blocks.
    """
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
                i += 1
            out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
            continue
        if line.rstrip().endswith("::"):
            stripped = line.rstrip()[:-2].rstrip()
            line = f"{stripped}:" if stripped else ""
        out.append(line)
        i += 1
    return "\n".join(out)


def rewrite(text: str) -> str:
    """``text`` with its reST roles turned into Markdown code spans, its simple tables into
    Markdown tables and its literal and doctest blocks into code blocks.
    """
    return literals(tables(_ROLE.sub(_code, text)))


class ReSTRoles(griffe.Extension):
    """Rewrites reST roles in every docstring once the object tree is built."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring in place."""
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
