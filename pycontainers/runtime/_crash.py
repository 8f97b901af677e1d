"""Crash points for recovery tests: ``PYCONTAINERS_CRASH_AT=<point>`` makes the process
SIGKILL itself there, so tests can prove that ``rm -f`` and ``system prune`` recover from
a creator killed at that instant. Unset (always, outside tests), this costs one lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = ("state-dir", "cgroup", "network", "spawned", "released")


def crashpoint(name: str) -> None:
    """Die by SIGKILL here if the environment asks for it."""
    if os.environ.get("PYCONTAINERS_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
