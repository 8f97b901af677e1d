"""structlog loggers for the library; pycontainers never configures logging globally."""

from __future__ import annotations

from typing import Any

import structlog


def get_logger(name: str) -> Any:
    """Return the structlog logger for ``name`` (``pycontainers.<area>``)."""
    return structlog.get_logger(name)
