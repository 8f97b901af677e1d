"""Where the engine keeps things: the state root and the data root, in one place.

The state root (``$PYCONTAINERS_STATE``) holds what lives as long as the machine is up:
container state, locks, network endpoints. The data root (``$PYCONTAINERS_ROOT``) holds what
survives a reboot: images, volumes, writable layers. Root gets the system directories; other
users get directories of their own (rootless).
"""

from __future__ import annotations

import os

STATE_ENV = "PYCONTAINERS_STATE"
"""The environment variable that overrides :func:`default_state_root`."""

DATA_ENV = "PYCONTAINERS_ROOT"
"""The environment variable that overrides :func:`default_data_root`."""


def default_state_root() -> str:
    """``$PYCONTAINERS_STATE``, else /run/pycontainers for root, else under $XDG_RUNTIME_DIR."""
    env = os.environ.get(STATE_ENV)
    if env:
        return env
    if os.geteuid() == 0:
        return "/run/pycontainers"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/pycontainers-{os.geteuid()}"
    return os.path.join(runtime, "pycontainers")


def default_data_root() -> str:
    """``$PYCONTAINERS_ROOT``, else /var/lib/pycontainers for root, else under $XDG_DATA_HOME."""
    env = os.environ.get(DATA_ENV)
    if env:
        return env
    if os.geteuid() == 0:
        return "/var/lib/pycontainers"
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data, "pycontainers")


__all__ = ["DATA_ENV", "STATE_ENV", "default_data_root", "default_state_root"]
