"""The warm path of :class:`~pycontainers.testing.Sandbox`: zygotes and pooled call cgroups.

A :class:`WarmPool` keeps one :class:`~pycontainers.runtime.zygote.Zygote` per sandbox
filesystem (image, mounts, writable /dev/shm) and one pool of call cgroups per set of
limits (memory, pids). Each call gets a cgroup of its own from the pool — made with the
limits and Docker's device rules of the sandbox's spec, reused only once empty, removed
when the pool closes — and a zygote that is restarted when it died.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pycontainers import _log

if TYPE_CHECKING:
    from pycontainers.cgroups import CGroup
    from pycontainers.runtime.zygote import CallOutcome, Zygote
    from pycontainers.spec import ContainerSpec

log = _log.get_logger("pycontainers.testing")

SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""The zygote's defaults (the sandbox's env overrides them): a zygote must be
single-threaded to fork, so preloaded numerical libraries start no thread pools."""
KEEP_IDLE = 8
"""Empty call cgroups a pool keeps for reuse (per set of limits)."""


@attrs.frozen
class WarmOutcome:
    """A call's :class:`~pycontainers.runtime.zygote.CallOutcome`, plus what its cgroup saw:
    an OOM kill, and whether it hit its pids cap.
    """

    call: CallOutcome
    oom_killed: bool
    pids_capped: bool
    zygote_log: str


@attrs.define
class _Group:
    cgroup: CGroup
    fds: list[int]
    oom_kills: int
    pids_events: int


class _CallGroups:
    """Call cgroups with one set of limits: taken per call, given back when empty."""

    def __init__(self, spec: ContainerSpec, prefix: str) -> None:
        from pycontainers.runtime.launch import with_default_devices

        self._resources = with_default_devices(spec)
        self._parent = spec.cgroup_parent
        self._prefix = prefix
        self._idle: list[_Group] = []
        self._count = 0
        self._lock = threading.Lock()

    def take(self) -> _Group:
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
        return _Group(group, fds, group.oom_kill_count(), _pids_events(group))

    def give_back(self, group: _Group) -> None:
        """Keep ``group`` for the next call if nothing of this one is left in it."""
        try:
            empty = not group.cgroup.procs()
        except OSError:
            empty = False
        if empty:
            group.oom_kills = group.cgroup.oom_kill_count()
            group.pids_events = _pids_events(group.cgroup)
            with self._lock:
                if len(self._idle) < KEEP_IDLE:
                    self._idle.append(group)
                    return
        self._drop(group)

    def _drop(self, group: _Group) -> None:
        from pycontainers.runtime.launch import drop_cgroup

        for fd in group.fds:
            os.close(fd)
        group.fds = []
        drop_cgroup(group.cgroup, self._parent)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for group in idle:
            self._drop(group)


def _pids_events(group: CGroup) -> int:
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


class WarmPool:
    """Zygotes and call cgroups for one sandbox; :meth:`close` stops and removes them all."""

    def __init__(self, preload: Sequence[str]) -> None:
        self.preload = tuple(preload)
        self._id = os.urandom(4).hex()
        self._lock = threading.Lock()
        self._zygotes: dict[Hashable, Zygote] = {}
        self._groups: dict[Hashable, _CallGroups] = {}
        self._closed = False

    def call(
        self,
        spec: ContainerSpec,
        *,
        writable_shm: bool,
        payload: bytes,
        env: Mapping[str, str],
        timeout: float | None,
        modules: Sequence[str] = (),
    ) -> WarmOutcome:
        """Run one pickled call in a zygote for ``spec`` (started or restarted as needed)."""
        zygote = self._zygote(spec, writable_shm)
        groups = self._call_groups(spec)
        group = groups.take() if groups is not None else None
        try:
            outcome = zygote.call(
                payload,
                env=env,
                cgroup_fds=group.fds if group is not None else (),
                timeout=timeout,
                modules=modules,
            )
            oom = pids = False
            if group is not None:
                oom = group.cgroup.oom_kill_count() > group.oom_kills
                pids = _pids_events(group.cgroup) > group.pids_events
        finally:
            if group is not None and groups is not None:
                groups.give_back(group)
        tail = ""
        if outcome.zygote_died or not zygote.alive():
            tail = zygote.log_tail()
            self._retire(spec, writable_shm, zygote)
        return WarmOutcome(outcome, oom, pids, tail)

    def _zygote(self, spec: ContainerSpec, writable_shm: bool) -> Zygote:
        from pycontainers.runtime.zygote import Zygote, call_plan, zygote_spec

        key = (spec.rootfs, spec.mounts, writable_shm)
        with self._lock:
            if self._closed:
                from pycontainers.errors import SandboxError

                raise SandboxError("the sandbox is closed")
            zygote = self._zygotes.get(key)
            if zygote is not None and zygote.alive():
                return zygote
            if zygote is not None:
                log.info("sandbox.zygote_restarted", pid=zygote.pid)
                self._zygotes.pop(key)
                zygote.close()
            env = {
                **SINGLE_THREADED,
                **spec.process.environ(),
                "PYTHONPATH": os.pathsep.join(_python_path()),
            }
            zygote = Zygote(
                zygote_spec(spec, sys.executable, env),
                call_plan(spec, writable_shm=writable_shm),
                self.preload,
            )
            self._zygotes[key] = zygote
            return zygote

    def _retire(self, spec: ContainerSpec, writable_shm: bool, zygote: Zygote) -> None:
        key = (spec.rootfs, spec.mounts, writable_shm)
        with self._lock:
            if self._zygotes.get(key) is zygote:
                del self._zygotes[key]
        zygote.close()

    def _call_groups(self, spec: ContainerSpec) -> _CallGroups | None:
        if spec.resources is None:
            return None  # no limits: the call stays in its zygote's group, as cold has none
        key = spec.resources
        with self._lock:
            groups = self._groups.get(key)
            if groups is None:
                prefix = f"sandbox-{self._id}-{len(self._groups)}"
                groups = self._groups[key] = _CallGroups(spec, prefix)
            return groups

    def close(self) -> None:
        """Stop every zygote (and the calls they run) and remove every call cgroup."""
        with self._lock:
            self._closed = True
            zygotes, self._zygotes = list(self._zygotes.values()), {}
            groups, self._groups = list(self._groups.values()), {}
        for zygote in zygotes:
            zygote.close()
        for group in groups:
            group.close()


def _python_path() -> list[str]:
    cwd = os.getcwd()
    return [p if os.path.isabs(p) else os.path.join(cwd, p) for p in sys.path if p]
