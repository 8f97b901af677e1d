"""The ``kill`` operation: a signal to the container's main process, through its pidfd."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from pycontainers.errors import ContainerError

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container


def kill(c: Container, sig: int) -> None:
    """See :meth:`Container.kill`."""
    import signal

    from pycontainers import _sys
    from pycontainers.events import container_event

    pidfd = c.supervisor.pidfd
    if pidfd is None:
        raise ContainerError(f"container {c.id[:12]} is not running")
    if sig != 0 and sig not in signal.valid_signals():
        raise OSError(errno.EINVAL, f"invalid signal {sig}")
    # the event first: the monitor journals the "die" this signal causes at once (no fsync
    # delays it any more), and the journal must never show the effect before its cause
    container_event(c, "kill", signal=str(int(sig)))
    try:
        _sys.pidfd_send_signal(pidfd, sig)
    except OSError as exc:
        if exc.errno != errno.ESRCH:  # exited meanwhile: the signal has nothing to do
            raise


__all__ = ["kill"]
