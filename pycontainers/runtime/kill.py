"""The ``kill`` operation: a signal to the container's main process, through its pidfd."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from pycontainers.errors import ContainerError

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container


def kill(c: Container, sig: int) -> None:
    """See :meth:`Container.kill`."""
    from pycontainers import _sys

    pidfd = c.supervisor.pidfd
    if pidfd is None:
        raise ContainerError(f"container {c.id[:12]} is not running")
    try:
        _sys.pidfd_send_signal(pidfd, sig)
    except OSError as exc:
        if exc.errno != errno.ESRCH:  # exited meanwhile: the signal has nothing to do
            raise
    from pycontainers.events import container_event

    container_event(c, "kill", signal=str(int(sig)))


__all__ = ["kill"]
