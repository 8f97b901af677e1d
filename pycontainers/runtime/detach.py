"""Detached containers: the monitor program as the container's parent.

A detached container's first process is cloned by an intermediate that then becomes the
monitor (``pycontainers-monitor``, C, about 1 MB RSS): it keeps the output in the
json-file log, serves the attach socket, runs health checks, records the exit status in
``exit.json`` (with whether the OOM killer struck) and enforces the restart policy — after
the Python process that created the container is gone. Health checks run from the monitor
itself, from the entry sealed once per start (:mod:`pycontainers.runtime.health_entry`): no
interpreter per check. When the container is done, the
monitor removes its cgroup itself; only a container with a network endpoint to give back or
``auto_remove`` also gets the exit hook (``python -m pycontainers.runtime.hooks exit``), and
not even that while a client that deletes the container itself holds the claim file
(:meth:`~pycontainers.runtime.container.Container.claim_cleanup`). To restart, the monitor
execs the restart hook, which starts a new container and monitor.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from pycontainers.errors import ContainerError
from pycontainers.supervision import DetachOptions, HealthCheck, check_restart

CLAIM_FILE = "cleanup.claim"
"""In the state dir: a shared flock on it tells the monitor a live client deletes the
container after its exit, so the monitor skips its exit hook."""

PID_PLACEHOLDER = "@@@@PID@@@@@@@@"
"""Replaced in the monitor's argv (in place, by the C shim) with the container's pid."""


class MonitorStdio:
    """The container's stdio for a detached start: pipes (or a pty) whose other ends go to
    the monitor. Same interface as :class:`~pycontainers.runtime.stdio.Stdio` for Launch.
    """

    def __init__(self, tty: bool, interactive: bool) -> None:
        self.child_fds: list[int] = []
        self.monitor_fds: list[int] = []
        self.args: list[str] = []
        self.stdin = self.stdout = self.stderr = None
        if tty:
            # the child makes the pty in the container's own devpts (so the container can
            # name its terminal) and sends the master over this socket to the monitor
            import socket

            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            a, b = mine.detach(), theirs.detach()
            self.child_fds = [b]
            self._map: tuple[tuple[int, int], ...] = ((-1, 0), (-1, 1), (-1, 2), (b, 3))
            self.monitor_fds = [a]
            self.args = ["--pty-socket", "4"]
            return
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        in_r = -1
        self.monitor_fds = [out_r, err_r]
        self.child_fds = [out_w, err_w]
        self.args = ["--stdout-fd", "4", "--stderr-fd", "5"]
        if interactive:
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
            self.monitor_fds.append(in_w)
            self.child_fds.append(in_r)
            self.args += ["--stdin-fd", "6"]
        self._map = ((in_r, 0), (out_w, 1), (err_w, 2))

    def fd_map(self) -> tuple[tuple[int, int], ...]:
        """(our fd, container fd) pairs for the plan."""
        return self._map

    def close_child_ends(self) -> None:
        """Close the container's ends (it has them now)."""
        for fd in self.child_fds:
            os.close(fd)
        self.child_fds = []

    def close_monitor_ends(self) -> None:
        """Close our copies of the monitor's ends (it has them now)."""
        for fd in self.monitor_fds:
            os.close(fd)
        self.monitor_fds = []

    def close_all(self) -> None:
        """Close everything still open (a failed start)."""
        self.close_child_ends()
        self.close_monitor_ends()


def hook_argv(state_root: str, container_id: str, what: str) -> list[str]:
    """The command the monitor runs for ``what`` (exit, restart)."""
    return [
        sys.executable, "-m", "pycontainers.runtime.hooks",
        "--state-root", state_root, "--id", container_id, what,
    ]  # fmt: skip


def monitor_argv(
    state_dir: str,
    state_root: str,
    container_id: str,
    options: DetachOptions,
    stdio: MonitorStdio,
    *,
    exit_hook: bool = True,
) -> list[str]:
    """The monitor's argv for a container (its pid filled in by the shim; the cgroup
    directories appended by the launch). ``exit_hook``: Python has clean-up to do when the
    container is done (a network endpoint, ``auto_remove``).
    """
    from pycontainers.runtime.monitor_bin import monitor_path

    argv = [monitor_path(), "--state-dir", state_dir, "--adopt", PID_PLACEHOLDER]
    argv += ["--ready-fd", "3", *stdio.args]
    console = getattr(options, "console_socket", None)  # None in specs saved before it
    if console is not None:
        argv += ["--console-socket", console]
    if getattr(options, "log_driver", "json-file") == "none":  # no log kept (Docker's none)
        argv += ["--log-file", os.devnull]
    elif options.log_max_size:
        argv += ["--log-max-size", str(options.log_max_size)]
        argv += ["--log-max-files", str(options.log_max_files)]
    argv += ["--restart", options.restart, "--restart-count", str(options.restart_count)]
    argv += ["--restart-backoff-ms", str(options.restart_backoff_ms)]
    # always: a policy changed while it runs (Container.update) may ask for a restart
    argv += ["--restart-cmd", *hook_argv(state_root, container_id, "restart"), "--"]
    hc = options.healthcheck
    if hc is not None:
        from pycontainers.runtime.health_entry import entry_path, seal_pending

        seal_pending(state_dir)  # not the last run's: sealed again once this one runs
        argv += ["--health-entry", entry_path(state_dir)]
        argv += ["--health-interval", str(hc.interval), "--health-timeout", str(hc.timeout)]
        argv += ["--health-retries", str(hc.retries)]
        argv += ["--health-start-period", str(hc.start_period)]
    from pycontainers.events import enabled, journal_path

    if enabled():
        argv += ["--event-file", journal_path(state_root)]  # its "die" events
    if exit_hook:
        argv += ["--claim-file", os.path.join(state_dir, CLAIM_FILE)]
        argv += ["--exit-cmd", *hook_argv(state_root, container_id, "exit"), "--"]
    return argv


def wait_monitor_ready(ctl: int, timeout: float = 10.0) -> None:
    """Wait for the monitor's ready byte on the control socket; raise if it failed."""
    from pycontainers.runtime.stdio import wait_readable

    if not wait_readable(ctl, timeout):
        raise ContainerError(f"the container's monitor did not get ready within {timeout} s")
    data = os.read(ctl, 64)
    if data == b"1":
        return
    if len(data) >= 8:
        err = int.from_bytes(data[4:8], sys.byteorder, signed=True)
        raise ContainerError(f"cannot start the container's monitor: {os.strerror(err)}")
    raise ContainerError("the container's monitor exited during its setup")


def read_exit(state_dir: str) -> dict[str, Any] | None:
    """The monitor's ``exit.json`` of the last run, or None."""
    path = os.path.join(state_dir, "exit.json")
    try:
        with open(path) as f:
            raw: Any = json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ContainerError(f"corrupt exit file {path}: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("exit_code"), int):
        raise ContainerError(f"corrupt exit file {path}: no exit_code")
    return raw


def read_health(state_dir: str) -> dict[str, Any] | None:
    """The monitor's ``health.json``, or None when the container has no health check."""
    try:
        with open(os.path.join(state_dir, "health.json")) as f:
            raw: Any = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


__all__ = [
    "CLAIM_FILE",
    "PID_PLACEHOLDER",
    "DetachOptions",
    "HealthCheck",
    "MonitorStdio",
    "check_restart",
    "monitor_argv",
    "read_exit",
    "read_health",
    "wait_monitor_ready",
]
