"""Views for Jupyter and the terminal: what the ``_repr_html_`` of ``Namespace``,
``NamespaceSet``, ``NamespaceComparison``, ``CGroup``, ``Image`` and ``Container`` show, and
a live plot of a container's memory and CPU.

>>> from pycontainers.display import live_stats, render_text  # doctest: +SKIP
>>> print(render_text(container))  # doctest: +SKIP
>>> samples = live_stats(container, seconds=5, interval=0.25)  # doctest: +SKIP
"""

from __future__ import annotations

from pycontainers.display._live import StatsSample, live_stats, sample, stats_svg
from pycontainers.display._views import (
    host_namespaces,
    owner_userns,
    register_views,
    render_html,
    render_text,
    shared_with_host,
)

__all__ = [
    "StatsSample",
    "host_namespaces",
    "live_stats",
    "owner_userns",
    "render_html",
    "render_text",
    "sample",
    "shared_with_host",
    "stats_svg",
]

register_views()
