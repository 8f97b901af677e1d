"""A client of a Docker Engine API daemon (``pycontainers serve`` or dockerd), local or on
another machine: :class:`Client` for Python code; the CLI's ``--host`` uses the same.
"""

from __future__ import annotations

from pycontainers._lazy import lazy_exports

_EXPORTS = {
    "Client": "pycontainers.client.client",
    "RemoteContainer": "pycontainers.client.objects",
    "RemoteImage": "pycontainers.client.objects",
    "Tls": "pycontainers.client.transport",
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
__all__ = sorted(_EXPORTS)
