"""Where the per-container monitor program (``pycontainers-monitor``, C) is installed.

The build (``setup.py``'s ``build_monitor`` step) compiles ``_native/monitor*.c`` into
``pycontainers/_bin/pycontainers-monitor``; the environment variable
``PYCONTAINERS_MONITOR`` points at another build (tests, packagers).
"""

from __future__ import annotations

import os

from pycontainers.errors import MonitorMissingError as MonitorMissingError

MONITOR_ENV = "PYCONTAINERS_MONITOR"


def monitor_path() -> str:
    """The absolute path of the ``pycontainers-monitor`` executable.

    Raises ``MonitorMissingError`` naming the fix when it is missing.
    """
    path = os.environ.get(MONITOR_ENV)
    if not path:
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.path.join(package, "_bin", "pycontainers-monitor")
    if not os.access(path, os.X_OK) or not os.path.isfile(path):
        raise MonitorMissingError(
            f"the container monitor {path} is missing or not executable: "
            "rebuild with pip install -e . (or pip install .)"
        )
    return path
