"""The ``delete`` operation: kill the container if needed, collect its process, give back
its cgroup, layer and network, and remove its state.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

from pycontainers import _log
from pycontainers.runtime import state as st
from pycontainers.runtime.lifecycle import Status
from pycontainers.runtime.supervisor import exited

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

log = _log.get_logger("pycontainers.runtime")


def delete(c: Container) -> None:
    """See :meth:`Container.delete`."""
    r = c.record
    if r.status == Status.DELETED:
        return
    sup = c.supervisor
    sup.stopping(c)
    if r.cgroup is not None and c.status == "paused":
        r.cgroup.thaw()  # a frozen process cannot die, so cannot be reaped
    if sup.pidfd is not None and not exited(sup.pidfd):
        c.kill(signal.SIGKILL)
    launch = sup.launch
    sup.finish(c)  # reaped, or its monitor (and any exit hook) gone; fds closed
    if r.cgroup is not None:
        from pycontainers.runtime.launch import drop_cgroup

        parent = c.spec.cgroup_parent if c.spec else os.path.dirname(r.cgroup.path)
        drop_cgroup(r.cgroup, parent)
        r.cgroup = None
    if launch is not None:
        launch.remove_layer()
        launch.remove_network()
    else:  # whatever state it got to (a creator killed mid-create included)
        from pycontainers.runtime.gc import remove_leftovers

        remove_leftovers(c.id, os.path.dirname(c.state_dir))
    st.remove_state_dir(c.state_dir)
    r.move(Status.DELETED)
    log.info("container.deleted", id=c.id)
    from pycontainers.events import container_event

    container_event(c, "destroy")


__all__ = ["delete"]
