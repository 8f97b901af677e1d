"""The ``update`` operation: change a live container's resource limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycontainers.runtime.lifecycle import require

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pycontainers.cgroups._resources import Resources
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.options import LimitOptions


def update(c: Container, resources: Resources | None, **limits: Unpack[LimitOptions]) -> None:
    """See :meth:`Container.update`."""
    require("update", c.status, c.id)
    c.cgroup.update(resources, **limits)


__all__ = ["update"]
