"""``CGroup``: the one interface over cgroup v1, v2 and hybrid hosts.

A backend knows its directories and how to write a controller's limits and read its stats;
everything else (create, add, procs, update, stats, delete, repr) is written once here.
"""

from __future__ import annotations

import abc
import os
import re
import signal
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from pycontainers._log import get_logger
from pycontainers.cgroups import _fs
from pycontainers.cgroups._errors import CgroupError, CgroupNotSupported
from pycontainers.cgroups._events import OomWatcher
from pycontainers.cgroups._layout import CgroupLayout
from pycontainers.cgroups._resources import HOST_DEPENDENT, Resources
from pycontainers.errors import SpecError

if TYPE_CHECKING:  # (the stats types are built when stats are read, see _stats)
    from typing_extensions import Unpack  # typing.Unpack from Python 3.12

    from pycontainers.cgroups._limits import LimitOptions
    from pycontainers.cgroups._stats import CgroupStats, CpuStats, IoStats, MemoryStats, PidsStats

log = get_logger("pycontainers.cgroups")

DEFAULT_PARENT = "pycontainers"
"""The group every container's cgroup is created under, at the root of each hierarchy."""

DEFAULT_TIMEOUT = 5.0
# the order limits are written in: cpuset first (v1 needs cpus before tasks), devices last
# the cgroup v2 files of ``unified`` come last: they override what the fields wrote
CONTROLLER_ORDER = ("cpuset", "memory", "cpu", "pids", "io", "hugetlb", "net_cls", "net_prio",
                    "rdma", "devices", "unified")  # fmt: skip
_COMPONENT = re.compile(r"^[A-Za-z0-9_.:@+-]{1,255}$")


def check_path(field: str, value: str, *, allow_empty: bool = False) -> str:
    """Return ``value`` as a relative cgroup path (``"a/b"``); raise :class:`SpecError` if it
    is absolute-looking, empty or has ``..``/``.`` or odd characters.
    """
    if not isinstance(value, str):
        raise SpecError(field, f"expected a cgroup name, got {value!r}")
    parts = [p for p in value.strip("/").split("/") if p]
    if not parts and not allow_empty:
        raise SpecError(field, "must not be empty")
    for part in parts:
        if part in (".", "..") or not _COMPONENT.match(part) or part.startswith("cgroup."):
            raise SpecError(
                field, f"{value!r}: each part must be letters, digits or _.:@+- (not '.' or '..')"
            )
    return "/".join(parts)


def resolve_resources(resources: Resources | None, limits: Mapping[str, Any]) -> Resources | None:
    """One :class:`Resources` from either an object or keywords (:meth:`Resources.from_docker`)."""
    if resources is not None and limits:
        raise SpecError("resources", "give a Resources object or keywords, not both")
    if limits:
        return Resources.from_docker(**limits)
    if resources is not None and not isinstance(resources, Resources):
        raise SpecError("resources", f"expected a Resources object, got {resources!r}")
    return resources


class CGroup(abc.ABC):
    """A control group in every hierarchy this host has: v1, v2 or both (hybrid).

    Get one from :meth:`create` (idempotent) or :meth:`open`; the backend is chosen from
    /proc/self/mountinfo (:func:`detect_layout`) or from the ``layout`` given. ``path`` is
    relative to the root of each hierarchy (``"pycontainers/web"``). A context manager:
    leaving the ``with`` block kills what is left in the group and deletes it.
    """

    kind: ClassVar[str]

    def __init__(self, path: str, layout: CgroupLayout) -> None:
        self._path = check_path("path", path)
        self._layout = layout

    # -- factories ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        resources: Resources | None = None,
        *,
        parent: str = DEFAULT_PARENT,
        layout: CgroupLayout | None = None,
        **limits: Unpack[LimitOptions],
    ) -> CGroup:
        """Create (or reuse) the group ``parent/name`` in every hierarchy and apply limits.

        ``parent`` defaults to ``"pycontainers"``; ``layout`` picks the backend (default:
        this host's).

        Limits are a :class:`Resources` or its keywords (:class:`LimitOptions`; ``None``
        leaves a limit unset), not both: docker-py's ``memory`` / ``mem_limit``,
        ``mem_reservation`` / ``memory_reservation``, ``memswap_limit``, ``nano_cpus``,
        ``pids_limit``, ``device_read_bps``, ``device_write_bps``, ``device_read_iops``,
        ``device_write_iops``, ``device_cgroup_rules``, and :class:`Resources`' own
        ``memory_max``, ``memory_low``, ``memory_swap``, ``cpu_shares``, ``cpu_weight``,
        ``cpu_quota``, ``cpu_period``, ``cpus``, ``cpuset_cpus``, ``cpuset_mems``,
        ``pids_max``, ``blkio_weight``, ``io_weight``, ``io_read_bps``, ``io_write_bps``,
        ``io_read_iops``, ``io_write_iops``, ``hugetlb``, ``devices_deny``,
        ``devices_allow``; the rarer ones (see :class:`Resources`): ``memory_swappiness``
        (docker-py's ``mem_swappiness``), ``memory_kernel_tcp``, ``oom_kill_disable``,
        ``memory_use_hierarchy``, ``memory_check_before_update``, ``cpu_rt_runtime``,
        ``cpu_rt_period``, ``cpu_idle``, ``cpu_burst``, ``blkio_weight_device``,
        ``blkio_leaf_weight``, ``blkio_leaf_weight_device``, ``net_cls_classid``,
        ``net_prio_ifpriomap``, ``rdma``, ``unified``.
        For example ``CGroup.create("web", memory="64m", pids_limit=32)``.
        If applying them fails, the directories this call made are removed again.
        """
        from pycontainers.cgroups._factory import create_cgroup

        return create_cgroup(name, resources, parent=parent, layout=layout, **limits)

    @classmethod
    def open(cls, path: str, *, layout: CgroupLayout | None = None) -> CGroup:
        """Return the existing group at ``path`` (relative to the hierarchy roots)."""
        from pycontainers.cgroups._factory import open_cgroup

        return open_cgroup(path, layout=layout)

    # -- identity ----------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The group's path relative to the root of each hierarchy (``"pycontainers/web"``)."""
        return self._path

    @property
    def name(self) -> str:
        """The last component of :attr:`path`."""
        return self._path.rsplit("/", 1)[-1]

    @property
    def layout(self) -> CgroupLayout:
        """The hierarchies this group lives in."""
        return self._layout

    @property
    @abc.abstractmethod
    def paths(self) -> dict[str, str]:
        """The group's directory in each hierarchy: ``{"memory": "/sys/fs/cgroup/memory/..."``,
        ``"unified": ...}`` (v1 keys are the hierarchy's controllers, ``"cpu,cpuacct"``).
        """

    @property
    def unified_path(self) -> str | None:
        """The group's directory in the cgroup2 hierarchy (for ``CLONE_INTO_CGROUP``), if any."""
        return self.paths.get("unified")

    @property
    @abc.abstractmethod
    def controllers(self) -> frozenset[str]:
        """The controllers that can limit this group (``memory``, ``cpu``, ``io``...)."""

    def exists(self) -> bool:
        """True if the group's directory exists in every hierarchy."""
        return all(os.path.isdir(d) for d in self.paths.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CGroup):
            return NotImplemented
        return type(self) is type(other) and (self._path, self._layout) == (
            other._path,
            other._layout,
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._path, self._layout))

    # -- lifecycle -----------------------------------------------------------------------------

    def materialize(self, resources: Resources | None) -> None:
        """Make the group's directories where missing and apply ``resources``; on failure
        remove the directories this call made (used by :func:`CGroup.create` and :meth:`child`).
        """
        created = self._make_dirs()
        try:
            if resources is not None:
                self.update(resources)
        except BaseException:
            for directory in reversed(created):  # only what this call made, deepest first
                try:
                    os.rmdir(directory)
                except OSError as exc:
                    log.warning("cgroup.cleanup_failed", path=directory, error=exc.strerror)
            raise
        log.debug("cgroup.created", path=self._path, kind=self.kind, created=len(created))

    def child(
        self, name: str, resources: Resources | None = None, **limits: Unpack[LimitOptions]
    ) -> CGroup:
        """Create (or reuse) the group ``name`` below this one, with the same backend.

        Limits are a :class:`Resources` or its keywords (:class:`LimitOptions`; ``None``
        leaves a limit unset), not both: docker-py's ``memory`` / ``mem_limit``,
        ``mem_reservation`` / ``memory_reservation``, ``memswap_limit``, ``nano_cpus``,
        ``pids_limit``, ``device_read_bps``, ``device_write_bps``, ``device_read_iops``,
        ``device_write_iops``, ``device_cgroup_rules``, and :class:`Resources`' own
        ``memory_max``, ``memory_low``, ``memory_swap``, ``cpu_shares``, ``cpu_weight``,
        ``cpu_quota``, ``cpu_period``, ``cpus``, ``cpuset_cpus``, ``cpuset_mems``,
        ``pids_max``, ``blkio_weight``, ``io_weight``, ``io_read_bps``, ``io_write_bps``,
        ``io_read_iops``, ``io_write_iops``, ``hugetlb``, ``devices_deny``,
        ``devices_allow``; the rarer ones (see :class:`Resources`): ``memory_swappiness``
        (docker-py's ``mem_swappiness``), ``memory_kernel_tcp``, ``oom_kill_disable``,
        ``memory_use_hierarchy``, ``memory_check_before_update``, ``cpu_rt_runtime``,
        ``cpu_rt_period``, ``cpu_idle``, ``cpu_burst``, ``blkio_weight_device``,
        ``blkio_leaf_weight``, ``blkio_leaf_weight_device``, ``net_cls_classid``,
        ``net_prio_ifpriomap``, ``rdma``, ``unified``.
        """
        sub = self._sub(f"{self._path}/{check_path('name', name)}")
        sub.materialize(resolve_resources(resources, limits))
        return sub

    def children(self) -> list[str]:
        """The names of the groups directly below this one (in its first hierarchy)."""
        first = next(iter(self.paths.values()))
        try:
            return sorted(e.name for e in os.scandir(first) if e.is_dir())
        except OSError as exc:
            raise CgroupError(
                f"cannot list {first}: {exc.strerror}", path=first, errno=exc.errno
            ) from exc

    def delete(self, *, kill: bool = False, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Remove the group (and groups below it) from every hierarchy, deepest first.

        A group that still has processes is busy: pass ``kill=True`` to :meth:`kill` them
        first. EBUSY right after the last process exited is retried for ``timeout`` seconds.
        Deleting a group that does not exist does nothing.
        """
        if kill and any(os.path.isdir(d) for d in self.paths.values()):
            try:
                self.kill(timeout=timeout)
            except (CgroupError, OSError):
                # being removed meanwhile (a container's monitor removes its group when the
                # container exits, one hierarchy after the other): fine once nothing is left
                if self._any_process_left():
                    raise
        for directory in self.paths.values():
            _fs.rmdir_tree(directory, timeout)
        log.debug("cgroup.deleted", path=self._path)

    def _any_process_left(self) -> bool:
        """Whether a process is still in the group, in any hierarchy that still has it."""
        for path in self.procs_paths():
            try:
                if _fs.read(path).split():
                    return True
            except (CgroupError, OSError):  # that hierarchy's group is gone
                continue
        return False

    def __enter__(self) -> CGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.delete(kill=True)

    # -- processes -----------------------------------------------------------------------------

    def procs_paths(self) -> list[str]:
        """Every ``cgroup.procs`` file a process writes its pid (or ``"0"``) to, to join this
        group in every hierarchy: one per v1 hierarchy, plus the unified one.
        """
        return [os.path.join(d, "cgroup.procs") for d in self.paths.values()]

    def clone_into(self) -> tuple[int, int]:
        """``(fd, index)`` for clone3's ``CLONE_INTO_CGROUP``: an ``O_PATH|O_DIRECTORY`` fd of
        this group's cgroup2 directory and the index of its ``cgroup.procs`` in
        :meth:`procs_paths`; ``(-1, -1)`` without a cgroup2 group, or with
        ``PYCONTAINERS_CLONE_INTO_CGROUP=0`` (every hierarchy is then joined by a write).
        """
        keys = list(self.paths)
        if "unified" not in keys or os.environ.get("PYCONTAINERS_CLONE_INTO_CGROUP") == "0":
            return -1, -1
        fd = os.open(self.paths["unified"], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return fd, keys.index("unified")

    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into this group in every hierarchy."""
        for path in self.procs_paths():
            _fs.write(path, str(pid))

    def procs(self) -> list[int]:
        """The pids in this group (not in groups below it), in any hierarchy, sorted."""
        found: set[int] = set()
        for path in self.procs_paths():
            found.update(int(line) for line in _fs.read(path).split())
        return sorted(found)

    def _procs_below(self) -> set[int]:
        """The pids in this group and every group below it, in any hierarchy."""
        found: set[int] = set()
        for directory in self.paths.values():
            for root, _, files in os.walk(directory):
                if "cgroup.procs" in files:
                    text = _fs.read_optional(os.path.join(root, "cgroup.procs")) or ""
                    found.update(int(line) for line in text.split())
        return found

    # -- limits and stats ----------------------------------------------------------------------

    def update(self, resources: Resources | None = None, **limits: Unpack[LimitOptions]) -> None:
        """Apply the limits that are set in ``resources`` (or keywords) to the live group;
        fields left ``None`` are not touched.

        Limits are a :class:`Resources` or its keywords (:class:`LimitOptions`; ``None``
        leaves a limit unset), not both: docker-py's ``memory`` / ``mem_limit``,
        ``mem_reservation`` / ``memory_reservation``, ``memswap_limit``, ``nano_cpus``,
        ``pids_limit``, ``device_read_bps``, ``device_write_bps``, ``device_read_iops``,
        ``device_write_iops``, ``device_cgroup_rules``, and :class:`Resources`' own
        ``memory_max``, ``memory_low``, ``memory_swap``, ``cpu_shares``, ``cpu_weight``,
        ``cpu_quota``, ``cpu_period``, ``cpus``, ``cpuset_cpus``, ``cpuset_mems``,
        ``pids_max``, ``blkio_weight``, ``io_weight``, ``io_read_bps``, ``io_write_bps``,
        ``io_read_iops``, ``io_write_iops``, ``hugetlb``, ``devices_deny``,
        ``devices_allow``; the rarer ones (see :class:`Resources`): ``memory_swappiness``
        (docker-py's ``mem_swappiness``), ``memory_kernel_tcp``, ``oom_kill_disable``,
        ``memory_use_hierarchy``, ``memory_check_before_update``, ``cpu_rt_runtime``,
        ``cpu_rt_period``, ``cpu_idle``, ``cpu_burst``, ``blkio_weight_device``,
        ``blkio_leaf_weight``, ``blkio_leaf_weight_device``, ``net_cls_classid``,
        ``net_prio_ifpriomap``, ``rdma``, ``unified``.
        """
        res = resolve_resources(resources, limits)
        if res is None:
            return
        if any(getattr(res, f) not in (None, ()) for f in HOST_DEPENDENT):
            from pycontainers.cgroups._resfields import refusal

            refused = refusal(res, self._layout)
            if refused is not None:  # before anything is written
                raise CgroupNotSupported(f"{refused[0]}: {refused[1]}")
        if res.memory_check_before_update:
            self._check_usage(res)
        wanted = res.controllers()
        for controller in CONTROLLER_ORDER:
            if controller in wanted:
                self._require(controller)._apply(controller, res)
        log.debug("cgroup.updated", path=self._path, resources=repr(res))

    def _check_usage(self, res: Resources) -> None:
        """``memory_check_before_update``: refuse a memory (or memory+swap) limit that is not
        above what the group uses now, before anything is written.
        """
        owner = self._owner("memory")
        stats = owner._memory_stats() if owner is not None else None
        if stats is None:
            return  # nothing to compare with (no memory controller): runc does not fail either
        for field, limit in (("memory_swap", res.memory_swap), ("memory_max", res.memory_max)):
            if limit is not None and 0 < limit <= stats.usage:
                raise CgroupError(
                    f"{field}: rejecting a limit of {limit} bytes: {self._path} uses "
                    f"{stats.usage} (memory_check_before_update)"
                )

    def _require(self, controller: str) -> CGroup:
        owner = self._owner(controller)
        if owner is None:
            raise CgroupNotSupported(
                f"the {controller} controller is not available for {self._path} on this host "
                f"({self._layout.kind} cgroups)"
            )
        return owner

    def stats(self) -> CgroupStats:
        """A snapshot of memory, CPU, pids and I/O statistics."""
        from pycontainers.cgroups._stats import CgroupStats

        memory, cpu, pids, io = (self._owner(c) for c in ("memory", "cpu", "pids", "io"))
        return CgroupStats(
            memory=memory._memory_stats() if memory else None,
            cpu=cpu._cpu_stats() if cpu else None,
            pids=pids._pids_stats() if pids else None,
            io=io._io_stats() if io else None,
        )

    def oom_kill_count(self) -> int:
        """How many processes of this group the OOM killer killed (0 without a memory
        controller).
        """
        owner = self._owner("memory")
        count = owner._oom_kill_count() if owner else None
        return count or 0

    def oom_killed(self) -> bool:
        """True if the OOM killer killed a process of this group."""
        return self.oom_kill_count() > 0

    def oom_events(self) -> OomWatcher:
        """A watcher that waits for this group's OOM events (open it before the workload)."""
        return self._require("memory")._oom_watcher()

    def limits(self) -> dict[str, str]:
        """The limits in force, read back from the group's files (``{"memory_max": "32MiB"}``)."""
        out: dict[str, str] = {}
        for controller in CONTROLLER_ORDER:
            owner = self._owner(controller)
            if owner is not None:
                out.update(owner._limits(controller))
        return out

    # -- what a backend provides -----------------------------------------------------------------

    @abc.abstractmethod
    def _sub(self, path: str) -> CGroup:
        """The same backend at another path."""

    @abc.abstractmethod
    def _make_dirs(self) -> list[str]:
        """Create the group's directories; return those that did not exist, outermost first."""

    @abc.abstractmethod
    def _owner(self, controller: str) -> CGroup | None:
        """The backend that handles ``controller`` for this group, or None."""

    def _apply(self, controller: str, res: Resources) -> None:
        raise CgroupNotSupported(f"{self.kind} cannot apply {controller} limits")

    def _limits(self, controller: str) -> dict[str, str]:
        return {}

    def _memory_stats(self) -> MemoryStats | None:
        return None

    def _oom_kill_count(self) -> int | None:
        """The ``oom_kill`` counter alone (``inspect`` and ``ps`` read it for every container)."""
        return None

    def _cpu_stats(self) -> CpuStats | None:
        return None

    def _pids_stats(self) -> PidsStats | None:
        return None

    def _io_stats(self) -> IoStats | None:
        return None

    def _oom_watcher(self) -> OomWatcher:
        raise CgroupNotSupported(f"no OOM events for {self._path}")

    @abc.abstractmethod
    def freeze(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Stop every process in the group (and below it); return once all are frozen."""

    @abc.abstractmethod
    def thaw(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Let the group's processes run again; return once the group is thawed."""

    @abc.abstractmethod
    def is_frozen(self) -> bool:
        """True if the group is frozen."""

    @abc.abstractmethod
    def kill(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """SIGKILL every process in the group and below it; return once the group is empty."""

    # -- display ---------------------------------------------------------------------------------

    def _live(self) -> tuple[dict[str, str], list[tuple[str, str]]]:
        try:
            return self.limits(), self.stats().summary()
        except (CgroupError, OSError, ValueError):
            return {}, [("state", "deleted" if not self.exists() else "unreadable")]

    def __repr__(self) -> str:
        limits, stats = self._live()
        parts = [f"{k}={v}" for k, v in limits.items()] + [f"{k}={v}" for k, v in stats]
        return f"<CGroup {self.kind} {self._path}{' ' if parts else ''}{' '.join(parts)}>"

    def _repr_html_(self) -> str:
        """The group's limits and live statistics as an HTML table (for notebooks)."""
        from pycontainers._views import repr_html

        return repr_html(self)


def kill_in_rounds(group: CGroup, can_freeze: bool, timeout: float) -> None:
    """Kill ``group``'s processes in rounds until none is left or ``timeout`` passes.

    With a freezer each round runs frozen: nothing forks and no pid is reused between
    reading the pids and killing them (the kills land when the group thaws).
    """
    deadline = time.monotonic() + timeout
    while True:
        frozen = False
        if can_freeze:
            try:
                group.freeze(timeout=min(1.0, timeout))
                frozen = True
            except CgroupError:
                pass
        try:
            pids = group._procs_below()
            if not pids:
                return
            if time.monotonic() >= deadline:
                raise CgroupError(
                    f"timed out after {timeout}s killing {group.path}: {sorted(pids)} still there"
                )
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        finally:
            if frozen:
                group.thaw(timeout=timeout)
        round_end = min(deadline, time.monotonic() + 0.5)
        delay = 0.0005
        while group._procs_below() and time.monotonic() < round_end:
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
