"""The registry of notebook views: objects ask it for their HTML, :mod:`pycontainers.display`
fills it.

``Namespace``, ``CGroup``, ``Image``, ``Container``... call :func:`repr_html` from their
``_repr_html_``; they never import the display front end. :mod:`pycontainers.display`
registers its views with :func:`html_view` when it is imported, and :func:`repr_html` imports
it on the first call, so a notebook needs no extra import.
"""

from __future__ import annotations

import functools
import html
import importlib

_loaded = False


@functools.singledispatch
def html_view(obj: object) -> str | None:
    """The HTML view of ``obj``, or None if no view is registered for its type."""
    return None


def repr_html(obj: object) -> str:
    """What ``obj._repr_html_()`` returns: its registered view, else its escaped repr."""
    global _loaded
    if not _loaded:
        # The views live in the front end (layer 3), which registers them when imported. It is
        # imported by name, on first use, so that this module (layer 0) depends on nothing.
        importlib.import_module("pycontainers.display")
        _loaded = True
    view = html_view(obj)
    return view if view is not None else f"<pre>{html.escape(repr(obj))}</pre>"


__all__ = ["html_view", "repr_html"]
