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


def rewrite(text: str) -> str:
    """``text`` with its reST roles turned into Markdown code spans."""
    return _ROLE.sub(_code, text)


class ReSTRoles(griffe.Extension):
    """Rewrites reST roles in every docstring once the object tree is built."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring in place."""
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
