"""structlog loggers for the library; pycontainers never configures logging globally.

structlog (and through it asyncio) costs tens of milliseconds to import, so loggers are
proxies that import it on their first event.
"""

from __future__ import annotations

from typing import Any


class _LazyLogger:
    """A structlog logger that is created on first use."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._logger is None:
            self._logger = _make(self._name)
        return getattr(self._logger, attr)


def _make(name: str) -> Any:
    import logging

    import structlog

    if structlog.is_configured():  # the application chose where events go
        return structlog.get_logger(name)
    # Unconfigured: route events through the stdlib logger of that name, so they follow the
    # application's logging setup (silent below WARNING by default) instead of structlog's
    # default of printing to stdout.
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.processors.KeyValueRenderer(key_order=["event"], sort_keys=True),
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


def get_logger(name: str) -> Any:
    """Return the logger for ``name`` (``pycontainers.<area>``); events are key-value pairs."""
    return _LazyLogger(name)
