"""Who watches a container's main process: this process (attached) or a monitor (detached).

:class:`Supervisor` is the small interface :class:`~pycontainers.runtime.container.Container`
drives: learn that the process exited and its status, wait for it, mark a stop, finish a
delete, start a stopped container again. :class:`Attached` is the creating process as the
parent (it reaps through its pidfd); :class:`~pycontainers.runtime.monitored.Monitored` is
the C monitor that outlives the creator and records the exit in ``exit.json``.
"""

from __future__ import annotations

import abc
import os
from typing import TYPE_CHECKING, ClassVar

from pycontainers.errors import ContainerError
from pycontainers.runtime.lifecycle import Status, require
from pycontainers.runtime.stdio import wait_readable

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.launch import Launch
    from pycontainers.runtime.stdio import Stdio


def exited(pidfd: int) -> bool:
    """Whether the process behind ``pidfd`` has exited (without reaping it)."""
    return wait_readable(pidfd, 0)


class Supervisor(abc.ABC):
    """The process handle of a container and the rules of learning its exit status.

    ``launch`` is the creating process's handle (None in any other process), ``pidfd`` a
    pidfd on the main process while it may run.
    """

    detached: ClassVar[bool]

    def __init__(self, launch: Launch | None, pidfd: int | None) -> None:
        self.launch = launch
        self.pidfd = pidfd

    @abc.abstractmethod
    def refresh(self, c: Container) -> None:
        """Bring ``c.record`` up to date if the main process exited (no waiting)."""

    @abc.abstractmethod
    def wait(self, c: Container, timeout: float | None) -> int:
        """Wait for the main process's exit status (``TimeoutError`` after ``timeout``)."""

    def start_stopped(self, c: Container) -> None:
        """Run a stopped container again (only a monitor can: else the lifecycle's error)."""
        require("start", c.record.status, c.id)

    @abc.abstractmethod
    def stopping(self, c: Container) -> None:
        """A stop or a delete is under way (a monitor must not restart the container)."""

    @abc.abstractmethod
    def start_failed(self, c: Container) -> None:
        """The payload could not be executed after the start signal."""

    @abc.abstractmethod
    def finish(self, c: Container) -> None:
        """In a delete, after the kill: collect the process and anyone still using it."""

    def close(self) -> None:
        """Release the fds this handle holds, leaving the container alone."""
        if self.launch is not None:
            self.launch.close()
        elif self.pidfd is not None:
            os.close(self.pidfd)
        self.pidfd = None


class Attached(Supervisor):
    """The creating process as the container's parent: it reaps the exit status via the
    pidfd; another process (after ``Container.load``) can see that it exited, not its status.
    """

    detached = False

    def __init__(self, launch: Launch | None, pidfd: int | None, stdio: Stdio | None) -> None:
        super().__init__(launch, pidfd)
        self.stdio = stdio

    def refresh(self, c: Container) -> None:
        """See :meth:`Supervisor.refresh`."""
        r = c.record
        live = r.status in (Status.CREATED, Status.RUNNING)
        if live and self.pidfd is not None and exited(self.pidfd):
            if self.launch is not None:
                self.reap(c)
            else:
                r.move(Status.STOPPED)

    def wait(self, c: Container, timeout: float | None) -> int:
        """See :meth:`Supervisor.wait`: only the creating process has the status."""
        if self.launch is None:
            raise ContainerError(
                "only the process that created an attached container can wait for its exit "
                "status (create it with detach=True for a monitor that records it)"
            )
        if c.record.returncode is not None:
            return c.record.returncode
        if (
            timeout is not None
            and self.pidfd is not None
            and not wait_readable(self.pidfd, timeout)
        ):
            raise TimeoutError(f"container {c.id[:12]} still running after {timeout} s")
        return self.reap(c)

    def reap(self, c: Container) -> int:
        """Collect the exit status (creator only); a stopped container holds no port."""
        from pycontainers import _sys

        r = c.record
        if r.returncode is None and self.pidfd is not None and self.launch is not None:
            r.returncode = _sys.reap(self.pidfd)
            r.move(Status.STOPPED)
            self.launch.remove_network()
            if r.started:  # its die, as a monitor journals a detached one's
                from pycontainers.events import container_event

                container_event(c, "die", exitCode=str(r.returncode))
        return r.returncode if r.returncode is not None else -1

    def stopping(self, c: Container) -> None:
        """See :meth:`Supervisor.stopping`: nothing restarts an attached container."""

    def start_failed(self, c: Container) -> None:
        """See :meth:`Supervisor.start_failed`."""
        self.reap(c)

    def finish(self, c: Container) -> None:
        """See :meth:`Supervisor.finish`."""
        if self.pidfd is not None:
            if self.launch is not None:
                self.reap(c)
            else:
                wait_readable(self.pidfd, 10.0)
        Supervisor.close(self)  # the creator's handle too: the container is going
        if self.stdio is not None:
            self.stdio.close_all()

    def close(self) -> None:
        """See :meth:`Supervisor.close`: the creator keeps its pidfd (to reap)."""
        if self.launch is None:
            super().close()


__all__ = ["Attached", "Supervisor", "exited"]
