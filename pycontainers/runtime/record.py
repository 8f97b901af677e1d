"""A container's one state value: its status and what ``state.json`` keeps about it.

:class:`~pycontainers.runtime.container.Container` holds one :class:`Record`; the engine's
operations (create, start, stop, delete, the supervisors) change it only through
:meth:`Record.move` (the lifecycle's transitions) and plain field updates, and
:meth:`Record.to_state` is what gets written for other processes.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import attrs

from pycontainers.runtime import state as st
from pycontainers.runtime.lifecycle import Status, move

if TYPE_CHECKING:
    from pycontainers.cgroups import CGroup


@attrs.define
class Record:
    """A container's state: status, pids, times, identity and its last exit status."""

    id: str
    status: Status
    pid: int = 0
    created: float = 0.0
    started: float = 0.0
    image: str = ""
    name: str = ""
    labels: dict[str, str] = attrs.field(factory=dict)
    rootfs: str = ""
    args: tuple[str, ...] = ()
    restart_count: int = 0
    monitor_pid: int = 0
    detached: bool = False
    returncode: int | None = None
    """The main process's exit status once known (128+N if killed by signal N)."""
    _cgroup: CGroup | None = attrs.field(default=None, alias="cgroup")
    cgroup_path: str = ""
    """The stored path of a cgroup not opened yet (see :attr:`cgroup`)."""

    @property
    def cgroup(self) -> CGroup | None:
        """The container's own cgroup while it holds one: a stored path is opened on first
        use (None once its group is gone), so listing containers opens no group.
        """
        if self._cgroup is None and self.cgroup_path:
            from pycontainers.cgroups import CGroup, CgroupError

            path, self.cgroup_path = self.cgroup_path, ""
            try:
                self._cgroup = CGroup.open(path)
            except CgroupError:  # released when it stopped (by its monitor or exit hook)
                self._cgroup = None
        return self._cgroup

    @cgroup.setter
    def cgroup(self, value: CGroup | None) -> None:
        self._cgroup, self.cgroup_path = value, ""

    def move(self, to: Status) -> None:
        """Change the status, raising :class:`ContainerError` if the lifecycle forbids it."""
        self.status = move(self.status, to, self.id)

    def to_state(self) -> st.State:
        """What ``state.json`` stores (with this process as the writer)."""
        return st.State(
            id=self.id,
            pid=self.pid,
            starttime=st.proc_starttime(self.pid) if self.pid else 0,
            status=self.status,
            created=self.created,
            rootfs=self.rootfs,
            args=self.args,
            creator=os.getpid(),
            creator_start=st.proc_starttime(os.getpid()),
            cgroup=self._cgroup.path if self._cgroup is not None else self.cgroup_path,
            image=self.image,
            name=self.name,
            monitored=self.detached,
            monitor_pid=self.monitor_pid,
            monitor_start=st.proc_starttime(self.monitor_pid) if self.monitor_pid else 0,
            started=self.started,
            labels=self.labels,
            restart_count=self.restart_count,
        )

    @classmethod
    def from_state(cls, s: st.State) -> Record:
        """The record a stored state describes (status as stored; its cgroup is opened on
        first use).
        """
        return cls(
            id=s.id,
            status=Status(s.status),
            pid=s.pid,
            created=s.created,
            started=s.started,
            image=s.image,
            name=s.name,
            labels=dict(s.labels),
            rootfs=s.rootfs,
            args=s.args,
            restart_count=s.restart_count,
            monitor_pid=s.monitor_pid,
            detached=s.monitored,
            cgroup_path=s.cgroup,
        )


__all__ = ["Record"]
