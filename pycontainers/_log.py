"""structlog loggers for the library; pycontainers never configures logging globally.

structlog (and through it asyncio) costs tens of milliseconds to import, so loggers are
proxies that import it on their first event that can go anywhere: a debug or info event
while neither structlog nor the stdlib's ``logging`` is imported is dropped on the spot (no
application can have asked for it yet; unconfigured, the stdlib shows WARNING and above).
"""

from __future__ import annotations

import sys
from typing import Any

# The structlog methods that are cheap to drop: their stdlib level.
_DROPPABLE = {"debug": 10, "info": 20}


def _drop(*args: Any, **kw: Any) -> None:
    """A filtered event (structlog's filtered methods return None too)."""


class _LazyLogger:
    """A structlog logger that is created on its first event that may be shown."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._logger is None:
            level = _DROPPABLE.get(attr)
            if level is not None and not _may_show(self._name, level):
                return _drop
            self._logger = _make(self._name)
        return getattr(self._logger, attr)


def _may_show(name: str, level: int) -> bool:
    """Whether a debug or info event could reach a handler, without importing anything."""
    structlog = sys.modules.get("structlog")
    if structlog is not None and structlog.is_configured():
        return True
    logging = sys.modules.get("logging")
    if logging is None:  # nobody can have lowered the root logger's WARNING yet
        return False
    enabled: bool = logging.getLogger(name).isEnabledFor(level)
    return enabled


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
