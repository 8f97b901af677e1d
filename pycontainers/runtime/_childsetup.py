"""The parent's wait for a child's setup report, and the report turned into an error.

Shared by every start (:mod:`pycontainers.runtime.launch`) and exec
(:mod:`pycontainers.runtime.exec`): the child reports ready, failed (stage, errno, message)
or nothing (it exec'd); a child silent for :data:`SETUP_TIMEOUT` is named stuck.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

from pycontainers import _log
from pycontainers.errors import ContainerStartError

if TYPE_CHECKING:
    from pycontainers._sys import ChildReport

log = _log.get_logger("pycontainers.runtime")

_HINTS = {
    errno.ELOOP: "the path goes through a symlink where none is allowed",
    errno.EXDEV: "the path resolves outside the container's rootfs (through '..' or a symlink)",
}


def start_error(
    report: Any, args: tuple[str, ...] | None = None, userns: bool = False
) -> ContainerStartError:
    """Turn the child's (stage, errno, message) report into an exception with a hint."""
    msg = report.message
    if report.errno and report.stage != "exec":
        msg += f": {os.strerror(report.errno)}"
    hint = _HINTS.get(report.errno)
    if hint and report.stage == "mount":
        msg += f" ({hint})"
    if userns and report.errno == errno.EACCES and report.stage in ("rootfs", "mount"):
        msg += (
            " (with a user namespace, the rootfs and bind sources must be reachable by the "
            "mapped root: every parent directory searchable by that host uid)"
        )
    if report.stage == "rlimit":
        msg += " (raising a hard limit needs CAP_SYS_RESOURCE)"
    return ContainerStartError(
        report.stage, report.errno, f"{report.stage}: {msg}", report.exit_code
    )


SETUP_TIMEOUT = 60.0
"""Seconds a released child may take to report (ready, failed or exec'd) before it is
killed as stuck. A container's setup takes milliseconds; a child stuck in the kernel must
not hang its creator, and every create queued behind it, for ever."""


def release_child(sock: int, tree: int | None, pid: int) -> ChildReport | None:
    """Let the child go on (handing it ``tree``, the idmapped rootfs, if any) and return
    :func:`await_report`.
    """
    if tree is None:
        # socket.py's C core: a plain send needs none of socket.py's enums (~3 ms to import)
        import _socket

        plain = _socket.socket(fileno=sock)
        try:
            plain.send(b"g", _socket.MSG_NOSIGNAL)
        finally:
            plain.detach()  # the fd stays the caller's
    else:
        import socket

        s = socket.socket(fileno=sock)
        try:
            socket.send_fds(s, [b"g"], [tree], socket.MSG_NOSIGNAL)
        finally:
            s.detach()
    return await_report(sock, pid)


def await_report(sock: int, pid: int) -> ChildReport | None:
    """The child's report once its setup is done (None: it exec'd). A child silent for
    :data:`SETUP_TIMEOUT` raises :class:`ContainerStartError` naming where it waits; the
    caller kills it.
    """
    from pycontainers import _sys
    from pycontainers.runtime.stdio import wait_readable

    if not wait_readable(sock, SETUP_TIMEOUT):
        where = _where_stuck(pid)
        log.error("container.setup_stuck", pid=pid, timeout=SETUP_TIMEOUT, where=where)
        raise ContainerStartError(
            "setup",
            errno.ETIMEDOUT,
            f"the container's process {pid} did not finish its setup within "
            f"{SETUP_TIMEOUT:g} s (it waits in {where}); it is killed",
        )
    return _sys.recv_report(sock)


def _where_stuck(pid: int) -> str:
    """The kernel function (and the top of the kernel stack, root only) ``pid`` waits in."""
    parts = []
    for name in ("wchan", "stack"):
        try:
            with open(f"/proc/{pid}/{name}") as f:
                text = f.read().strip()
        except OSError:
            continue
        if name == "stack":
            text = " < ".join(line.split(" ", 1)[-1] for line in text.splitlines()[:6])
        if text and text != "0":
            parts.append(text)
    return "; ".join(parts) or "an unknown place"


__all__ = ["SETUP_TIMEOUT", "await_report", "release_child", "start_error"]
