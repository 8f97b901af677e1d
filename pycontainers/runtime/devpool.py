"""The device groups of foreground runs, kept for the next run instead of removed.

A foreground run of an unprivileged container without limits gets a cgroup for its device
rules alone (:func:`~pycontainers.runtime.devrules.needs_cgroup`): the v1 ``devices`` group
and the unified group with its device program. Making one costs two mkdirs, a dozen rule
writes and a BPF program load and attach; removing it a kill and two rmdirs. So a group
emptied at the end of a run goes into a small per-process pool, keyed by its device policy,
and the next run with the same policy takes it, after a check that fails closed (any doubt:
the group is removed and a fresh one made):

- no process in it (``populated 0`` in the unified group, an empty ``cgroup.procs`` in the
  v1 one), not frozen, no group below it (a cgroupfs directory's link count);
- exactly the policy wanted: the v1 ``devices.list``, the policy record
  (:data:`~pycontainers.cgroups._devbpf.POLICY_XATTR`) and the one device program attached
  to the unified group being the program this process attached.

A group that still holds a process when its run ends is killed and removed, never kept.

Groups are named ``run-<pid>-<starttime>-<n>`` under the default parent: the owner is in
the name, so :func:`owner_gone` tells ``gc`` (:mod:`pycontainers.runtime.gc`) which groups a
killed process left. The pool is removed at interpreter exit (``atexit``); a forked child
starts with an empty pool of its own and leaves its parent's alone. Groups under another
``cgroup_parent`` are made and removed per run, as before.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import re
import threading
from typing import TYPE_CHECKING

import attrs

from pycontainers import _log
from pycontainers._proc import proc_alive, proc_starttime

if TYPE_CHECKING:
    from pycontainers.cgroups import CGroup, CgroupLayout, Resources
    from pycontainers.spec import ContainerSpec, DeviceMapping

log = _log.get_logger("pycontainers.runtime")

KEEP = 4
"""Idle groups kept per device policy (a thread pool running containers at once needs as
many as it has threads; more are removed when their run ends)."""

KEEP_POLICIES = 8
"""Device policies the pool keeps groups for."""

POOL_PARENT = "pycontainers"
"""The only parent whose device groups are pooled: the one ``gc`` looks in."""

_NAME = re.compile(r"^run-([0-9]+)-([0-9]+)-[0-9]+$")


@attrs.frozen
class Wanted:
    """What a group must hold for one device policy: the rules to write, the v1
    ``devices.list`` lines they give and the policy record on the unified group.
    """

    resources: Resources
    v1_list: frozenset[str]
    record: bytes


@attrs.define(eq=False)
class Lease:
    """A device group taken for one run: give it back with :func:`give_back`."""

    group: CGroup
    key: tuple[str, tuple[DeviceMapping, ...]]
    owner: int
    """The pid of the process whose pool made it (a forked child's pool does not keep it)."""
    program: int | None
    """The id of the device program attached to its unified group (None: no unified side)."""
    poolable: bool


@functools.lru_cache(maxsize=64)
def wanted(devices: tuple[DeviceMapping, ...]) -> Wanted:
    """The group content for an unprivileged container without limits given ``devices``."""
    from pycontainers.cgroups._devbpf import device_policy, policy_record
    from pycontainers.runtime.devrules import default_device_resources

    resources = default_device_resources(devices)
    policy = device_policy(resources.devices_deny, resources.devices_allow)
    if policy.allow:  # never the case with Docker's list (it starts with "a"), checked all the same
        lines = frozenset({"a *:* rwm"})
    else:
        lines = frozenset(_v1_line(e.type, e.major, e.minor, e.access) for e in policy.exceptions)
    return Wanted(resources, lines, policy_record(policy))


def _v1_line(kind: str, major: int | None, minor: int | None, access: int) -> str:
    """A ``devices.list`` line as the kernel prints it (``c 1:3 rwm``)."""
    from pycontainers.cgroups._devbpf import ACCESS_BITS

    bits = "".join(a for a in "rwm" if access & ACCESS_BITS[a])
    return f"{kind} {'*' if major is None else major}:{'*' if minor is None else minor} {bits}"


class _Pool:
    """The idle groups of this process, by (parent, devices); thread-safe."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.idle: dict[tuple[str, tuple[DeviceMapping, ...]], list[Lease]] = {}
        self.starttime = 0
        self.exit_hook = False

    def name(self) -> str:
        if not self.starttime:
            self.starttime = proc_starttime(self.pid)
        return f"run-{self.pid}-{self.starttime}-{next(_counter)}"


_counter = itertools.count(1)  # of the process, whatever pool: a name is never made twice
_pool = _Pool()


def _forget_in_child() -> None:
    """After fork(): the child's pool is its own and empty (the parent's groups stay the
    parent's; the lock may have been held by a thread the child does not have).
    """
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_forget_in_child)


def take(spec: ContainerSpec, layout: CgroupLayout) -> Lease:
    """A device group for a foreground run of ``spec`` (no limits, unprivileged) in
    ``layout`` (the device hierarchies): an idle one of the same policy that passes
    :func:`check`, else a new one. A rejected idle group is removed.
    """
    key = (spec.cgroup_parent, spec.devices)
    want = wanted(spec.devices)
    pool = _pool
    while True:
        with pool.lock:
            idle = pool.idle.get(key)
            lease = idle.pop() if idle else None
        if lease is None:
            break
        reason = check(lease, want)
        if reason is None:
            return lease
        log.warning("cgroup.pool_rejected", path=lease.group.path, reason=reason)
        _drop(lease)
    return _make(spec, key, want, layout, pool)


def _make(
    spec: ContainerSpec,
    key: tuple[str, tuple[DeviceMapping, ...]],
    want: Wanted,
    layout: CgroupLayout,
    pool: _Pool,
) -> Lease:
    from pycontainers.cgroups._devbpf import device_programs
    from pycontainers.runtime.launch import create_group

    poolable = spec.cgroup_parent == POOL_PARENT
    name = pool.name() if poolable else os.urandom(8).hex()
    group = create_group(name, want.resources, spec.cgroup_parent, layout)
    program = None
    unified = group.unified_path
    if unified is not None and poolable:
        try:
            ids = device_programs(unified)
        except OSError:
            ids = ()
        # none: a hybrid host refused it (the v1 rules hold the container): made per run
        poolable = len(ids) == 1
        program = ids[0] if ids else None
    return Lease(group, key, pool.pid, program, poolable)


def check(lease: Lease, want: Wanted) -> str | None:
    """Why the idle group of ``lease`` may not be used for a run that wants ``want`` (None:
    it may): a process in it, frozen, a group below it, or a device policy other than
    ``want`` (v1 ``devices.list``; the unified group's record and program).
    """
    from pycontainers.cgroups._devbpf import POLICY_XATTR

    for hierarchy, directory in lease.group.paths.items():
        try:
            if hierarchy == "unified":
                reason = _check_unified(directory, lease.program, want.record, POLICY_XATTR)
            else:
                reason = _check_v1(directory, want.v1_list)
        except OSError as exc:
            reason = f"{directory}: {exc.strerror}"
        if reason is not None:
            return reason
    return None


def _read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 1 << 16).decode()
    finally:
        os.close(fd)


def _check_v1(directory: str, lines: frozenset[str]) -> str | None:
    if os.stat(directory).st_nlink != 2:  # cgroupfs: 2 + the groups below
        return "it has groups below it"
    if _read(f"{directory}/cgroup.procs").strip():
        return "a process is in it"
    if frozenset(_read(f"{directory}/devices.list").splitlines()) != lines:
        return "its v1 device rules changed"
    return None


def _check_unified(directory: str, program: int | None, record: bytes, xattr: str) -> str | None:
    from pycontainers import _sys

    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if os.fstat(fd).st_nlink != 2:
            return "it has groups below it"
        events = _read(f"{directory}/cgroup.events").splitlines()
        if "populated 0" not in events:
            return "a process is in it"
        if "frozen 1" in events:
            return "it is frozen"
        if os.getxattr(fd, xattr) != record:
            return "its device policy record changed"
        if program is None or _sys.bpf_device_programs(fd, directory)[0] != (program,):
            return "its device program changed"
    finally:
        os.close(fd)
    return None


def _empty(lease: Lease) -> bool:
    """Whether nothing is left in the group (nor ever killed by the OOM killer there: its
    counter would tell the next run it was); any doubt is a no.
    """
    from pycontainers.errors import CgroupError

    try:
        for hierarchy, directory in lease.group.paths.items():
            if hierarchy == "unified":
                if "populated 0" not in _read(f"{directory}/cgroup.events").splitlines():
                    return False
            elif _read(f"{directory}/cgroup.procs").strip():
                return False
        return lease.group.oom_kill_count() == 0
    except (OSError, CgroupError):
        return False


def give_back(lease: Lease) -> None:
    """The run of ``lease`` is over (its process reaped): keep its group for the next run
    with the same policy if it is empty and the pool has room; otherwise kill what is left
    in it and remove it.
    """
    pool = _pool
    if lease.poolable and lease.owner == pool.pid and _empty(lease):
        with pool.lock:
            idle = pool.idle.get(lease.key)
            if idle is None and len(pool.idle) < KEEP_POLICIES:
                idle = pool.idle[lease.key] = []
            if idle is not None and len(idle) < KEEP:
                idle.append(lease)
                if not pool.exit_hook:
                    atexit.register(_drain_at_exit)
                    pool.exit_hook = True
                return
    _drop(lease)


def _drop(lease: Lease) -> None:
    from pycontainers.runtime.launch import drop_cgroup

    drop_cgroup(lease.group, lease.key[0])


def drain() -> list[str]:
    """Remove every idle group of this process's pool (at exit, and for tests that want
    the host as it was); the paths removed.
    """
    pool = _pool
    with pool.lock:
        leases = [lease for idle in pool.idle.values() for lease in idle]
        pool.idle = {}
    removed = []
    for lease in leases:
        try:
            _drop(lease)
            removed.append(lease.group.path)
        except Exception as exc:  # the others still go; gc removes this one once we are gone
            log.warning("cgroup.pool_drain_failed", path=lease.group.path, error=str(exc))
    return removed


def _drain_at_exit() -> None:
    if _pool.pid == os.getpid():  # not a forked child's exit: those groups are its parent's
        drain()


def owner_gone(name: str) -> bool:
    """Whether ``name`` is a pooled device group's (``run-<pid>-<starttime>-<n>``) whose
    owner process is gone: ``gc`` removes it (and kills what is in it: a foreground run
    whose owner died has no one left to wait for it).
    """
    match = _NAME.match(name)
    if match is None:
        return False
    return not proc_alive(int(match.group(1)), int(match.group(2)))


__all__ = ["KEEP", "Lease", "Wanted", "check", "drain", "give_back", "owner_gone", "take"]
