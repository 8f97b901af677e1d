"""The cgroup v1 backend: one directory per mounted hierarchy (``cpu``, ``memory``, ``pids``,
``name=systemd``...), each controller with its own files.
"""

from __future__ import annotations

import errno
import os
import time
from typing import TYPE_CHECKING

from pycontainers.cgroups import _fs
from pycontainers.cgroups._base import DEFAULT_TIMEOUT, CGroup, kill_in_rounds
from pycontainers.cgroups._errors import CgroupError, CgroupNotSupported
from pycontainers.cgroups._events import OomWatcher
from pycontainers.cgroups._fs import flat_keyed, limit_value
from pycontainers.cgroups._layout import CgroupLayout
from pycontainers.cgroups._resources import Resources
from pycontainers.cgroups._units import CPU_SHARES_DEFAULT, UNLIMITED, format_bytes

if TYPE_CHECKING:  # built when stats are read (see _stats)
    from pycontainers.cgroups._stats import CpuStats, IoStats, MemoryStats, PidsStats

# the v1 name of a controller, where it differs from the neutral one
_V1_NAME = {"io": "blkio"}
_NS_PER_TICK = 1_000_000_000 // os.sysconf("SC_CLK_TCK")  # cpuacct.stat counts USER_HZ ticks


def _limit(value: int) -> str:
    return "-1" if value == UNLIMITED else str(value)


class V1CGroup(CGroup):
    """A group on cgroup v1: the same relative path in every mounted hierarchy."""

    kind = "v1"

    def __init__(self, path: str, layout: CgroupLayout) -> None:
        super().__init__(path, layout)
        if not layout.v1_hierarchies:
            raise CgroupNotSupported("no cgroup v1 hierarchy is mounted")
        self._mounts = layout.v1

    @property
    def paths(self) -> dict[str, str]:
        """The group's directory in each v1 hierarchy, keyed by the hierarchy's controllers."""
        return {key: os.path.join(mp, self._path) for key, mp in self._layout.v1_hierarchies}

    @property
    def controllers(self) -> frozenset[str]:
        """The controllers mounted as v1 hierarchies (``blkio`` is called ``io`` here)."""
        names = {c for c in self._mounts if not c.startswith("name=")}
        return frozenset({"io" if c == "blkio" else c for c in names} - {"cpuacct"})

    def _dir(self, controller: str) -> str:
        return os.path.join(self._mounts[controller], self._path)

    def _sub(self, path: str) -> V1CGroup:
        return V1CGroup(path, self._layout)

    def _owner(self, controller: str) -> CGroup | None:
        if controller == "unified":  # refused by _apply, with the reason
            return self
        if controller == "cpu":
            return self if "cpu" in self._mounts or "cpuacct" in self._mounts else None
        return self if _V1_NAME.get(controller, controller) in self._mounts else None

    def _need(self, controller: str) -> str:
        if controller not in self._mounts:
            raise CgroupNotSupported(f"the v1 {controller} hierarchy is not mounted")
        return self._dir(controller)

    # -- creation ------------------------------------------------------------------------------

    def _make_dirs(self) -> list[str]:
        created: list[str] = []
        for key, mountpoint in self._layout.v1_hierarchies:
            cpuset = "cpuset" in key.split(",")
            current = mountpoint
            for part in self._path.split("/"):
                current = os.path.join(current, part)
                if _fs.mkdir(current):
                    created.append(current)
                if cpuset:
                    _init_cpuset(current)
        return created

    # -- limits --------------------------------------------------------------------------------

    def _apply(self, controller: str, res: Resources) -> None:
        if controller == "memory":
            self._apply_memory(res)
        elif controller == "cpu":
            self._apply_cpu(res)
        elif controller == "cpuset":
            d = self._need("cpuset")
            if res.cpuset_cpus is not None:
                _fs.write(f"{d}/cpuset.cpus", res.cpuset_cpus)
            if res.cpuset_mems is not None:
                _fs.write(f"{d}/cpuset.mems", res.cpuset_mems)
        elif controller == "pids":
            assert res.pids_max is not None
            value = "max" if res.pids_max == UNLIMITED else str(res.pids_max)
            _fs.write(f"{self._need('pids')}/pids.max", value)
        elif controller == "io":
            self._apply_blkio(res)
        elif controller == "hugetlb":
            d = self._need("hugetlb")
            for size, limit in res.hugetlb:
                path = f"{d}/hugetlb.{size}.limit_in_bytes"
                if not os.path.exists(path):
                    raise CgroupNotSupported(f"no {size} huge pages in {d}", path=path)
                _fs.write(path, _limit(limit))
        elif controller in ("net_cls", "net_prio", "rdma"):
            _apply_network_rdma(self._need(controller), controller, res)
        elif controller == "unified":
            raise CgroupNotSupported(
                "unified: cgroup v2 files cannot be set on a cgroup v1 host (no cgroup2 "
                f"hierarchy is mounted): {', '.join(k for k, _ in res.unified)}"
            )
        elif controller == "devices":
            d = self._need("devices")
            for rule in res.devices_deny:
                _fs.write(f"{d}/devices.deny", str(rule))
            for rule in res.devices_allow:
                _fs.write(
                    f"{d}/devices.allow",
                    str(rule),
                    hints={errno.EPERM: "a group cannot allow more than its parent"},
                )

    def _apply_memory(self, res: Resources) -> None:
        d = self._need("memory")
        if res.memory_low is not None:
            _fs.write(f"{d}/memory.soft_limit_in_bytes", _limit(res.memory_low))
        writes: list[tuple[str, int]] = []
        if res.memory_max is not None:
            writes.append(("memory.limit_in_bytes", res.memory_max))
        if res.memory_swap is not None:
            if not os.path.exists(f"{d}/memory.memsw.limit_in_bytes"):
                raise CgroupNotSupported(
                    "memory_swap needs swap accounting (boot with swapaccount=1)", path=d
                )
            writes.append(("memory.memsw.limit_in_bytes", res.memory_swap))
        hints = {
            errno.EINVAL: "memory + swap must stay at least the memory limit: set memory_swap too",
            errno.EBUSY: "the group uses more than that and the kernel could not reclaim enough",
        }
        try:
            for name, value in writes:
                _fs.write(f"{d}/{name}", _limit(value), hints=hints)
        except CgroupError as exc:
            # memsw must be >= limit at every step: raising both needs memsw first
            if exc.errno != errno.EINVAL or len(writes) < 2:
                raise
            for name, value in reversed(writes):
                _fs.write(f"{d}/{name}", _limit(value), hints=hints)
        _apply_memory_more(d, res)

    def _apply_cpu(self, res: Resources) -> None:
        d = self._need("cpu")
        if res.cpu_idle == 0:  # an idle group takes no shares: leave idle first
            _cpu_idle(d, 0)
        shares = res.cpu_shares_value()
        if shares is not None:
            _fs.write(
                f"{d}/cpu.shares",
                str(shares),
                hints={errno.EINVAL: "an idle group (cpu_idle=1) has no shares"},
            )
        limit = res.cpu_limit()
        if limit is not None:
            quota, period = limit
            if period is not None:
                _fs.write(f"{d}/cpu.cfs_period_us", str(period))
            if quota is not None:
                _fs.write(f"{d}/cpu.cfs_quota_us", str(quota))
        _apply_cpu_more(d, res)

    def _apply_blkio(self, res: Resources) -> None:
        d = self._need("blkio")
        weight = res.blkio_weight_value()
        if weight is not None:
            for name in ("blkio.weight", "blkio.bfq.weight"):
                if os.path.exists(f"{d}/{name}"):
                    _fs.write(f"{d}/{name}", str(weight))
                    break
            else:
                raise CgroupNotSupported(
                    f"no blkio.weight nor blkio.bfq.weight in {d}: the I/O scheduler has no "
                    "weights (use BFQ)",
                    path=d,
                )
        for limits, name in (
            (res.io_read_bps, "read_bps_device"),
            (res.io_write_bps, "write_bps_device"),
            (res.io_read_iops, "read_iops_device"),
            (res.io_write_iops, "write_iops_device"),
        ):
            for limit in limits:
                rate = 0 if limit.rate == UNLIMITED else limit.rate  # 0 lifts a v1 limit
                _fs.write(f"{d}/blkio.throttle.{name}", f"{limit.device} {rate}")
        no_weights = "the I/O scheduler has no weights (use BFQ)"
        for limit in res.blkio_weight_device:
            path = _first(d, ("blkio.weight_device", "blkio.bfq.weight_device"),
                          "blkio_weight_device", no_weights)  # fmt: skip
            _fs.write(path, f"{limit.device} {limit.rate}")
        no_leaf = "leaf weights were CFQ's, which Linux 5.0 removed"
        if res.blkio_leaf_weight is not None:
            path = _first(d, ("blkio.leaf_weight",), "blkio_leaf_weight", no_leaf)
            _fs.write(path, str(res.blkio_leaf_weight))
        for limit in res.blkio_leaf_weight_device:
            path = _first(d, ("blkio.leaf_weight_device",), "blkio_leaf_weight_device", no_leaf)
            _fs.write(path, f"{limit.device} {limit.rate}")

    def _limits(self, controller: str) -> dict[str, str]:
        out: dict[str, str] = {}
        if controller == "memory" and "memory" in self._mounts:
            limit = limit_value(_fs.read(f"{self._dir('memory')}/memory.limit_in_bytes"))
            if limit is not None:
                out["memory_max"] = format_bytes(limit)
        elif controller == "cpu" and "cpu" in self._mounts:
            d = self._dir("cpu")
            quota = int(_fs.read(f"{d}/cpu.cfs_quota_us"))
            if quota > 0:
                period = int(_fs.read(f"{d}/cpu.cfs_period_us"))
                out["cpus"] = f"{quota / period:g}"
            shares = int(_fs.read(f"{d}/cpu.shares"))
            if shares != CPU_SHARES_DEFAULT:
                out["cpu_shares"] = str(shares)
        elif controller == "cpuset" and "cpuset" in self._mounts:
            d = self._dir("cpuset")
            mine = _fs.read(f"{d}/cpuset.cpus").strip()
            if mine != _fs.read(f"{os.path.dirname(d)}/cpuset.cpus").strip():
                out["cpuset_cpus"] = mine
        elif controller == "pids" and "pids" in self._mounts:
            limit = limit_value(_fs.read(f"{self._dir('pids')}/pids.max"))
            if limit is not None:
                out["pids_max"] = str(limit)
        elif controller == "hugetlb" and "hugetlb" in self._mounts:
            d = self._dir("hugetlb")
            for entry in sorted(os.listdir(d)):
                if entry.endswith(".limit_in_bytes") and "rsvd" not in entry:
                    limit = limit_value(_fs.read(f"{d}/{entry}"))
                    if limit is not None:
                        out[entry.removesuffix(".limit_in_bytes")] = format_bytes(limit)
        return out

    # -- stats ----------------------------------------------------------------------------------

    def _memory_stats(self) -> MemoryStats | None:
        from pycontainers.cgroups._stats import MemoryStats

        if "memory" not in self._mounts:
            return None
        d = self._dir("memory")
        peak = _fs.read_optional(f"{d}/memory.max_usage_in_bytes")
        return MemoryStats(
            usage=int(_fs.read(f"{d}/memory.usage_in_bytes")),
            peak=int(peak) if peak else None,
            limit=limit_value(_fs.read(f"{d}/memory.limit_in_bytes")),
            oom=None,
            oom_kill=flat_keyed(_fs.read(f"{d}/memory.oom_control")).get("oom_kill", 0),
            failcnt=int(_fs.read(f"{d}/memory.failcnt")),
        )

    def _oom_kill_count(self) -> int | None:
        if "memory" not in self._mounts:
            return None
        return flat_keyed(_fs.read(f"{self._dir('memory')}/memory.oom_control")).get("oom_kill", 0)

    def _cpu_stats(self) -> CpuStats | None:
        from pycontainers.cgroups._stats import CpuStats

        if "cpuacct" not in self._mounts:
            return None
        d = self._dir("cpuacct")
        user, system = (
            _fs.read_optional(f"{d}/cpuacct.usage_user"),
            _fs.read_optional(f"{d}/cpuacct.usage_sys"),
        )
        if user is None or system is None:  # older kernels: USER_HZ ticks only
            ticks = flat_keyed(_fs.read(f"{d}/cpuacct.stat"))
            user_ns, system_ns = ticks["user"] * _NS_PER_TICK, ticks["system"] * _NS_PER_TICK
        else:
            user_ns, system_ns = int(user), int(system)
        throttling: dict[str, int] = {}
        if "cpu" in self._mounts:
            throttling = flat_keyed(_fs.read_optional(f"{self._dir('cpu')}/cpu.stat") or "")
        return CpuStats(
            usage=int(_fs.read(f"{d}/cpuacct.usage")),
            user=user_ns,
            system=system_ns,
            nr_periods=throttling.get("nr_periods"),
            nr_throttled=throttling.get("nr_throttled"),
            throttled=throttling.get("throttled_time"),
        )

    def _pids_stats(self) -> PidsStats | None:
        from pycontainers.cgroups._stats import PidsStats

        if "pids" not in self._mounts:
            return None
        d = self._dir("pids")
        peak = _fs.read_optional(f"{d}/pids.peak")
        return PidsStats(
            current=int(_fs.read(f"{d}/pids.current")),
            max=limit_value(_fs.read(f"{d}/pids.max")),
            peak=int(peak) if peak else None,
        )

    def _io_stats(self) -> IoStats | None:
        from pycontainers.cgroups._stats import io_stat_v1

        if "blkio" not in self._mounts:
            return None
        d = self._dir("blkio")

        def read(name: str) -> str:
            text = _fs.read_optional(f"{d}/blkio.throttle.{name}_recursive")
            return text if text is not None else _fs.read(f"{d}/blkio.throttle.{name}")

        return io_stat_v1(read("io_service_bytes"), read("io_serviced"))

    def _oom_watcher(self) -> OomWatcher:
        return OomWatcher.v1(self._need("memory"))

    # -- freezer and kill ---------------------------------------------------------------------

    def _state(self) -> str:
        return _fs.read(f"{self._need('freezer')}/freezer.state").strip()

    def freeze(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Freeze with ``freezer.state``, waiting until the kernel reports FROZEN (it passes
        through FREEZING while tasks reach the refrigerator).
        """
        path = f"{self._need('freezer')}/freezer.state"
        _fs.write(path, "FROZEN")
        deadline = time.monotonic() + timeout
        delay, tries = 0.0005, 0
        while self._state() != "FROZEN":
            if time.monotonic() >= deadline:
                _fs.write(path, "THAWED")
                raise CgroupError(f"timed out after {timeout}s freezing {self._path}", path=path)
            time.sleep(delay)
            delay, tries = min(delay * 2, 0.02), tries + 1
            if tries % 25 == 0:  # a task that forked mid-freeze: ask again
                _fs.write(path, "FROZEN")

    def thaw(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Thaw with ``freezer.state``, waiting until it reads THAWED."""
        path = f"{self._need('freezer')}/freezer.state"
        _fs.write(path, "THAWED")
        _fs.wait_until(lambda: self._state() == "THAWED", timeout, f"{self._path} to thaw", path)

    def is_frozen(self) -> bool:
        """True if ``freezer.state`` reads FROZEN."""
        return self._state() == "FROZEN"

    def kill(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """SIGKILL every process until the group is empty (v1 has no ``cgroup.kill``),
        in rounds under the freezer when it is mounted.
        """
        kill_in_rounds(self, "freezer" in self._mounts, timeout)


def _first(d: str, names: tuple[str, ...], field: str, why: str) -> str:
    """The first of ``names`` that exists in ``d``; else refuse ``field`` saying ``why``."""
    for name in names:
        if os.path.exists(f"{d}/{name}"):
            return f"{d}/{name}"
    raise CgroupNotSupported(f"{field}: no {' nor '.join(names)} in {d}: {why}", path=d)


def _apply_memory_more(d: str, res: Resources) -> None:
    """Swappiness, the OOM killer switch, hierarchy and the kernel TCP buffer limit."""
    if res.memory_swappiness is not None:
        _fs.write(f"{d}/memory.swappiness", str(res.memory_swappiness))
    if res.memory_use_hierarchy is not None:
        _fs.write(
            f"{d}/memory.use_hierarchy",
            "1" if res.memory_use_hierarchy else "0",
            hints={errno.EINVAL: "memory_use_hierarchy: this kernel always accounts "
                   "hierarchically (or the group has children): it cannot be turned off"},
        )  # fmt: skip
    if res.memory_kernel_tcp is not None:
        path = _first(d, ("memory.kmem.tcp.limit_in_bytes",), "memory_kernel_tcp",
                      "the kernel has no kernel memory accounting for TCP")  # fmt: skip
        _fs.write(path, _limit(res.memory_kernel_tcp))
    if res.oom_kill_disable is not None:
        _fs.write(f"{d}/memory.oom_control", "1" if res.oom_kill_disable else "0")


def _cpu_idle(d: str, idle: int) -> None:
    _fs.write(_first(d, ("cpu.idle",), "cpu_idle", "the kernel has no cpu.idle (5.15+)"), str(idle))


def _apply_cpu_more(d: str, res: Resources) -> None:
    """Burst (after the quota it must fit), SCHED_IDLE and real-time bandwidth."""
    if res.cpu_burst is not None:
        path = _first(d, ("cpu.cfs_burst_us",), "cpu_burst", "the kernel has no CFS burst (5.14+)")
        _fs.write(path, str(res.cpu_burst),
                  hints={errno.EINVAL: "the burst must not exceed the quota"})  # fmt: skip
    if res.cpu_idle == 1:  # after the shares: SCHED_IDLE sets the group's weight itself
        _cpu_idle(d, 1)
    runtime, period = res.cpu_rt_runtime, res.cpu_rt_period
    if runtime is None and period is None:
        return
    why = "the kernel has no real-time group scheduling (CONFIG_RT_GROUP_SCHED)"
    field = "cpu_rt_runtime" if runtime is not None else "cpu_rt_period"
    _first(d, ("cpu.rt_runtime_us", "cpu.rt_period_us"), field, why)
    hints = {errno.EINVAL: "a group's real-time runtime must fit in its period and in what its "
             "parent group leaves (the parent's cpu.rt_runtime_us)"}  # fmt: skip
    writes = []
    if period is not None:
        writes.append(("cpu.rt_period_us", str(period)))
    if runtime is not None:
        writes.append(("cpu.rt_runtime_us", str(runtime)))
    try:
        for name, value in writes:
            _fs.write(f"{d}/{name}", value, hints=hints)
    except CgroupError as exc:
        # the two are checked against each other at every step: shrinking the period below
        # the current runtime needs the runtime first
        if exc.errno != errno.EINVAL or len(writes) < 2:
            raise
        for name, value in reversed(writes):
            _fs.write(f"{d}/{name}", value, hints=hints)


def _apply_network_rdma(d: str, controller: str, res: Resources) -> None:
    """``net_cls.classid``, ``net_prio.ifpriomap`` lines or ``rdma.max`` lines."""
    if controller == "net_cls" and res.net_cls_classid is not None:
        _fs.write(f"{d}/net_cls.classid", str(res.net_cls_classid))
    elif controller == "net_prio":
        for interface, priority in res.net_prio_ifpriomap:
            _fs.write(f"{d}/net_prio.ifpriomap", f"{interface} {priority}")
    elif controller == "rdma":
        for line in rdma_lines(res):
            _fs.write(f"{d}/rdma.max", line)


def rdma_lines(res: Resources) -> list[str]:
    """The ``rdma.max`` lines of ``res.rdma`` (one per device; an unset count is ``max``)."""
    return [
        f"{device} hca_handle={'max' if h is None else h} hca_object={'max' if o is None else o}"
        for device, h, o in res.rdma
    ]


def _init_cpuset(directory: str) -> None:
    """Give a new v1 cpuset group its parent's CPUs and nodes: it starts with none, and a
    task cannot join an empty cpuset (ENOSPC).
    """
    parent = os.path.dirname(directory)
    for name in ("cpuset.cpus", "cpuset.mems"):
        if not _fs.read(f"{directory}/{name}").strip():
            _fs.write(f"{directory}/{name}", _fs.read(f"{parent}/{name}").strip())
