"""A warm start for the ``pycontainers`` command (issue 15): a per-user, per-context Python
process that has done the imports and forks a worker per command.

The launcher script runs the C client ``pycontainers-front`` (``_native/warm_client.c``)
first; for an allowlisted command it connects to ``<dir>/<key>.sock``, where the key is a
digest of everything the process inherited that shapes a command (``pc_warm_context``:
ids, groups, capabilities, no_new_privs, seccomp, namespaces, cgroups, rlimits, scheduling,
personality, securebits, oom_score_adj, the LSM label, ``/``; and the interpreter command,
``PYTHON*``/``LC_*``/``LANG``/``LANGUAGE``/``HOME``/``XDG_CACHE_HOME``). The server's
standby worker checks the request again (peer uid, the same context, no module changed on
disk), takes over the client's fds, cwd, umask, signal dispositions and mask, environment
and argv, and runs the command exactly as the cold launcher does. Any doubt sends the client
down the cold path, which is unchanged. It is an accelerator only: it holds no state and
exits when idle (``docs/howto/warm-start.md``).

Switches: ``PYCONTAINERS_WARM=0`` (always cold), ``PYCONTAINERS_WARM_DIR`` (the socket
directory), ``PYCONTAINERS_WARM_IDLE`` (seconds before an idle server exits, 600).
``pycontainers system warm [--stop]`` lists or stops this user's servers.
"""

from __future__ import annotations

import os

COMMANDS = frozenset(
    ("run", "create", "start", "stop", "restart", "kill", "rm", "ps", "inspect", "logs", "wait",
     "pause", "unpause", "port", "top", "exec", "version", "images", "volume", "network")
)  # fmt: skip
"""The commands a worker runs (the C client holds the same list: ALLOWED)."""

SERVE_ENV = "PYCONTAINERS_WARM_SERVE"
"""Set (to the socket's path) in the environment of the command that starts a server."""

DEFAULT_IDLE = 600.0
"""Seconds without a request after which a server with no worker running exits."""


def socket_dir() -> str | None:
    """The directory of this user's sockets, as the client finds it (None: no warm start)."""
    given = os.environ.get("PYCONTAINERS_WARM_DIR", "")
    if given:
        return given
    if os.geteuid() == 0:
        return "/run/pycontainers-warm"
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    return os.path.join(xdg, "pycontainers-warm") if xdg.startswith("/") else None


def idle_seconds() -> float:
    """``PYCONTAINERS_WARM_IDLE`` (seconds), else :data:`DEFAULT_IDLE`."""
    try:
        value = float(os.environ.get("PYCONTAINERS_WARM_IDLE", ""))
    except ValueError:
        return DEFAULT_IDLE
    return value if value > 0 else DEFAULT_IDLE
