"""The ``pause`` and ``resume`` operations: the cgroup freezer on the whole container."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycontainers.runtime.lifecycle import Status, require

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container


def pause(c: Container) -> None:
    """See :meth:`Container.pause`."""
    require("pause", c.status, c.id)
    c.cgroup.freeze()
    c.record.move(Status.PAUSED)
    c.save_state()
    from pycontainers.events import container_event

    container_event(c, "pause")


def resume(c: Container) -> None:
    """See :meth:`Container.resume`."""
    require("resume", c.status, c.id)
    c.cgroup.thaw()
    c.record.move(Status.RUNNING)
    c.save_state()
    from pycontainers.events import container_event

    container_event(c, "unpause")


__all__ = ["pause", "resume"]
