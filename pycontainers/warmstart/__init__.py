"""A warm start for the ``pycontainers`` command (issue 15), and for the OCI runtime's
``create`` (issue 17): a per-user, per-context Python process that has done the imports and
forks a worker per command.

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

RUNTIME_TARGET = "pycontainers.ociruntime.main:entry"
"""The OCI runtime's entry: a server started for it serves :data:`RUNTIME_COMMANDS`."""

RUNTIME_COMMANDS = frozenset(("create", "exec"))
"""The runtime's commands a worker runs (``runtime_front.c`` holds the same list). The
container's first process, or the exec'd one, is cloned by the C front end
(``pycontainers-runtime-front``, the caller's child) from the plan the worker sends it
(:mod:`pycontainers.runtime._remote`): a shim (conmon, containerd-shim) must be its
ancestor. ``state``/``start``/``kill``/``delete`` are the front end's own, in C."""

RUNTIME_GLOBALS = ("--root", "--log", "--log-format", "--criu", "--rootless")
"""The runtime's global options that take a value (``--debug`` takes none): the front end
(``runtime_front.c``: is_global) skips the same ones to find the command."""


def command_of(target: str, argv: list[str]) -> str | None:
    """The command ``argv`` runs for the launcher ``target`` (None: none found)."""
    if target != RUNTIME_TARGET:
        return argv[0] if argv else None
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, _ = arg.partition("=")
        if not eq and arg == "--debug":
            i += 1
        elif name in RUNTIME_GLOBALS:
            i += 1 if eq else 2
        else:
            return arg
    return None


def commands_for(target: str) -> frozenset[str]:
    """The commands a worker of a server for ``target`` runs."""
    return RUNTIME_COMMANDS if target == RUNTIME_TARGET else COMMANDS


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
