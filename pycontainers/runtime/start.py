"""The ``start`` operation: release a created container into its command (the start
fifo), or run a stopped detached one again through its supervisor.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from pycontainers import _log
from pycontainers.errors import ContainerError, ContainerStartError
from pycontainers.runtime.lifecycle import Status, require

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

log = _log.get_logger("pycontainers.runtime")


def start(c: Container) -> None:
    """See :meth:`Container.start`."""
    from pycontainers.events import container_event

    if c.status == "stopped":
        c.supervisor.start_stopped(c)
        container_event(c, "start")
        return
    require("start", c.status, c.id)
    release_created(c)
    log.info("container.started", id=c.id, pid=c.pid)
    container_event(c, "start")


def release_created(c: Container) -> None:
    """Let the created container ``c`` go into its command: a byte on its start fifo, the
    exec confirmed, the record moved to running (and its health check sealed).
    """
    fifo = os.path.join(c.state_dir, "start.fifo")
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ContainerError(
            f"container {c.id[:12]} is not waiting for a start signal: {exc}",
            errno=exc.errno,
            path=fifo,
        ) from None
    try:
        os.write(fd, b"1")
    finally:
        os.close(fd)
    os.unlink(fifo)
    launch = c.supervisor.launch
    if launch is not None:
        try:
            launch.confirm_exec()
        except ContainerStartError:
            c.supervisor.start_failed(c)
            raise
    c.record.move(Status.RUNNING)
    c.record.started = time.time()
    c.save_state()
    if c.detached and os.path.exists(os.path.join(c.state_dir, "health.entry")):
        from pycontainers.runtime.health_entry import seal_health_entry

        seal_health_entry(c)  # its health check, for the monitor (it runs now)


__all__ = ["release_created", "start"]
