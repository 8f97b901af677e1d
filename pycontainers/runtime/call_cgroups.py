"""The cgroups of a zygote's calls: one per call, made ahead, reused once empty.

A zygote's standby joins its call's cgroup before the call exists (joining can wait for
an RCU grace period: that wait is off the call's path), so the caller hands the zygote a
group for its *next* standby with every request and sets the call's own limits
(:func:`call_limits`) on the group of the current one just before the call. A group is
taken back only when nothing of its call is left in it, and removed (its processes killed)
when the pool closes.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from pycontainers.cgroups import CGroup, Resources
    from pycontainers.spec import ContainerSpec

KEEP_IDLE = 8
"""Empty groups a pool keeps for reuse."""


def call_limits(spec: ContainerSpec) -> Resources:
    """The limits a call of ``spec`` runs under: its memory (and memory+swap) and pids
    caps, each explicitly unlimited where ``spec`` sets none (a reused group may have had
    one).
    """
    from pycontainers.cgroups import Resources

    r = spec.resources or Resources()
    return Resources(
        memory_max=r.memory_max if r.memory_max is not None else -1,
        memory_swap=r.memory_swap if r.memory_swap is not None else -1,
        pids_max=r.pids_max if r.pids_max is not None else -1,
    )


@attrs.define
class CallGroup:
    """One call's cgroup: its ``cgroup.procs`` fds (to join it), the limits last set, and
    its OOM-kill and pids-cap counters before the call.
    """

    cgroup: CGroup
    fds: list[int]
    limits: Resources | None = None
    oom_kills: int = 0
    pids_events: int = 0

    def oom_killed(self) -> bool:
        """Whether the OOM killer killed a process of the group since :meth:`mark`."""
        return self.cgroup.oom_kill_count() > self.oom_kills

    def pids_capped(self) -> bool:
        """Whether the pids cap refused a fork in the group since :meth:`mark`."""
        return pids_events(self.cgroup) > self.pids_events

    def mark(self) -> None:
        """Remember the counters: a call's OOM kills and refused forks are the new ones."""
        self.oom_kills = self.cgroup.oom_kill_count()
        self.pids_events = pids_events(self.cgroup)


class CallGroups:
    """Cgroups for the calls of one zygote, under ``parent`` and named ``prefix-N``."""

    def __init__(self, spec: ContainerSpec, prefix: str) -> None:
        from pycontainers.cgroups import Resources
        from pycontainers.runtime.devrules import with_default_devices

        base = attrs.evolve(spec, resources=spec.resources or Resources())
        self._resources = with_default_devices(base)
        self._parent = spec.cgroup_parent
        self._prefix = prefix
        self._idle: list[CallGroup] = []
        self._count = 0
        self._lock = threading.Lock()

    def take(self) -> CallGroup:
        """An empty group: an idle one, or a new one with the spec's limits."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self._count += 1
            name = f"{self._prefix}-{self._count}"
        from pycontainers.cgroups import CGroup

        group = CGroup.create(name, self._resources, parent=self._parent)
        fds: list[int] = []
        try:
            for path in group.procs_paths():
                fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
        except BaseException:
            for fd in fds:
                os.close(fd)
            group.delete(kill=True)
            raise
        made = CallGroup(group, fds)
        made.mark()
        return made

    def limit(self, group: CallGroup, limits: Resources) -> None:
        """Set ``limits`` on ``group`` (a write only where they changed) and mark it."""
        if group.limits != limits:
            group.cgroup.update(limits)
            group.limits = limits
        group.mark()

    def give_back(self, group: CallGroup, *, empty: bool) -> None:
        """Keep ``group`` for a later call if ``empty`` (its call's pid 1 was reaped: the
        kernel killed the rest) and checked so; otherwise kill what is in it and remove it.
        """
        if empty:
            with self._lock:
                if len(self._idle) < KEEP_IDLE:
                    self._idle.append(group)
                    return
        self.drop(group)

    def drop(self, group: CallGroup) -> None:
        """Kill what is in ``group`` and remove it."""
        from pycontainers.runtime.launch import drop_cgroup

        for fd in group.fds:
            os.close(fd)
        group.fds = []
        drop_cgroup(group.cgroup, self._parent)

    def close(self) -> None:
        """Remove every idle group."""
        with self._lock:
            idle, self._idle = self._idle, []
        for group in idle:
            self.drop(group)


def pids_events(group: CGroup) -> int:
    """How often the group's pids cap refused a fork (``pids.events``: ``max N``)."""
    for controller in ("pids", ""):
        directory = group.paths.get(controller)
        if directory is None:
            continue
        try:
            with open(os.path.join(directory, "pids.events")) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "max":
                        return int(value)
        except OSError:
            continue
    return 0


__all__ = ["KEEP_IDLE", "CallGroup", "CallGroups", "call_limits", "pids_events"]
