"""The Docker Engine API daemon (``pycontainers serve``): a front end on the library.

The docker CLI, docker-py, docker-compose and testcontainers talk to it over a unix socket
(or TCP with TLS client verification). Every request becomes calls of the library's public
objects (:class:`~pycontainers.Container`, the image store, :class:`~pycontainers.Network`,
:class:`~pycontainers.Volume`); containers belong to their monitors and live on without the
daemon, and a daemon sees every container the CLI or the library made (one state root).

Import :mod:`pycontainers.api.server` to run one (it needs the ``api`` extra: aiohttp).
"""

API_VERSION = "1.45"
"""The Engine API version this daemon speaks."""

MIN_API_VERSION = "1.24"
"""The oldest API version a client may ask for."""

__all__ = ["API_VERSION", "MIN_API_VERSION"]
