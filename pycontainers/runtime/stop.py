"""The ``stop`` operation: the stop signal, then SIGKILL after a timeout (Docker's stop)."""

from __future__ import annotations

import contextlib
import signal
from typing import TYPE_CHECKING

from pycontainers import _log
from pycontainers.errors import ContainerError
from pycontainers.runtime.lifecycle import Status
from pycontainers.runtime.stdio import wait_readable
from pycontainers.runtime.supervisor import exited

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

log = _log.get_logger("pycontainers.runtime")


def stop_signal(c: Container) -> int:
    """The signal that stops ``c`` first: its spec's (from the image) or SIGTERM."""
    from pycontainers.spec import signal_number

    spec = c.spec
    if spec is None:
        from pycontainers.runtime.specfile import load_spec

        with contextlib.suppress(ContainerError):
            spec = load_spec(c.state_dir)[0]
    name = spec.stop_signal if spec is not None else ""
    return signal_number(name, "stop_signal") if name else int(signal.SIGTERM)


def stop(c: Container, timeout: float | None, sig: int | None) -> None:
    """See :meth:`Container.stop`."""
    if sig is None:
        sig = stop_signal(c)
    c.supervisor.stopping(c)
    if c.status == "paused" and c.record.cgroup is not None:
        c.record.cgroup.thaw()
        c.record.status = Status.RUNNING
    pidfd = c.pidfd
    if pidfd is None or exited(pidfd):
        return
    c.kill(sig)
    if not wait_readable(pidfd, timeout):
        c.kill(signal.SIGKILL)
        wait_readable(pidfd, 10.0)
    if c.detached or c.supervisor.launch is not None:
        c.wait(timeout=30)
    else:
        c.record.move(Status.STOPPED)
    log.info("container.stopped", id=c.id)
    from pycontainers.events import container_event

    container_event(c, "stop")


__all__ = ["stop", "stop_signal"]
