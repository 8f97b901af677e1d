"""The cgroup v2 backend: one unified tree; controllers are enabled for children through each
ancestor's ``cgroup.subtree_control``.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from pycontainers._log import get_logger
from pycontainers.cgroups import _fs
from pycontainers.cgroups._base import DEFAULT_TIMEOUT, CGroup, kill_in_rounds
from pycontainers.cgroups._errors import CgroupError, CgroupNotSupported
from pycontainers.cgroups._events import OomWatcher
from pycontainers.cgroups._fs import flat_keyed, limit_value
from pycontainers.cgroups._layout import CgroupLayout
from pycontainers.cgroups._resources import HOST_DEPENDENT, Resources
from pycontainers.cgroups._units import (
    CPU_WEIGHT_DEFAULT,
    UNLIMITED,
    blkio_weight_to_io_weight,
    format_bytes,
)

if TYPE_CHECKING:  # built when stats are read (see _stats)
    from pycontainers.cgroups._stats import CpuStats, IoStats, MemoryStats, PidsStats

log = get_logger("pycontainers.cgroups")


def _max(value: int) -> str:
    return "max" if value == UNLIMITED else str(value)


class V2CGroup(CGroup):
    """A group in the unified (cgroup2) hierarchy.

    Device rules (``devices_deny``, ``devices_allow``) become a ``BPF_PROG_TYPE_CGROUP_DEVICE``
    program attached to the group's directory, with the v1 controller's semantics: an
    update's rules apply to the group's rules (recorded in an extended attribute of the
    directory, the kernel keeping only the program) and a new program replaces the old.

    The root is ``layout.unified``: point it at a directory laid out like cgroupfs to work on
    a copy (tests do, for controllers a hybrid host cannot enable).
    """

    kind = "v2"

    def __init__(self, path: str, layout: CgroupLayout) -> None:
        super().__init__(path, layout)
        if not layout.unified:
            raise CgroupNotSupported("no cgroup2 hierarchy is mounted")
        self._root = layout.unified
        self._d = os.path.join(self._root, self._path)

    @property
    def paths(self) -> dict[str, str]:
        """``{"unified": directory}``."""
        return {"unified": self._d}

    @property
    def controllers(self) -> frozenset[str]:
        """The controllers the unified root offers (its ``cgroup.controllers``)."""
        return frozenset((_fs.read_optional(f"{self._root}/cgroup.controllers") or "").split())

    def _sub(self, path: str) -> V2CGroup:
        return V2CGroup(path, self._layout)

    def _owner(self, controller: str) -> CGroup | None:
        return self  # a missing file says what is not enabled, when it is needed

    def _file(self, name: str, controller: str) -> str:
        path = f"{self._d}/{name}"
        if not os.path.exists(path):
            enabled = (_fs.read_optional(f"{self._d}/cgroup.controllers") or "").split()
            raise CgroupNotSupported(
                f"no {name} in {self._d}: the {controller} controller is not enabled there "
                f"(enabled: {', '.join(enabled) or 'none'})",
                path=path,
            )
        return path

    # -- creation ------------------------------------------------------------------------------

    def _make_dirs(self) -> list[str]:
        created: list[str] = []
        current = self._root
        for part in self._path.split("/"):
            _enable_controllers(current)
            current = os.path.join(current, part)
            if _fs.mkdir(current):
                created.append(current)
        return created

    # -- limits --------------------------------------------------------------------------------

    def _apply(self, controller: str, res: Resources) -> None:
        if controller == "memory":
            self._apply_memory(res)
        elif controller == "cpu":
            self._apply_cpu(res)
        elif controller == "cpuset":
            if res.cpuset_cpus is not None:
                _fs.write(self._file("cpuset.cpus", "cpuset"), res.cpuset_cpus)
            if res.cpuset_mems is not None:
                _fs.write(self._file("cpuset.mems", "cpuset"), res.cpuset_mems)
        elif controller == "pids":
            assert res.pids_max is not None
            _fs.write(self._file("pids.max", "pids"), _max(res.pids_max))
        elif controller == "io":
            self._apply_io(res)
        elif controller == "hugetlb":
            for size, limit in res.hugetlb:
                _fs.write(self._file(f"hugetlb.{size}.max", "hugetlb"), _max(limit))
        elif controller == "devices":  # no files: a BPF program attached to the directory
            from pycontainers.cgroups._devbpf import attach_device_rules

            attach_device_rules(self._d, res.devices_deny, res.devices_allow)
        elif controller == "rdma":
            from pycontainers.cgroups._v1 import rdma_lines

            for line in rdma_lines(res):
                _fs.write(self._file("rdma.max", "rdma"), line)
        elif controller == "unified":
            self._apply_unified(res)
        else:  # net_cls, net_prio: v1 only
            raise CgroupNotSupported(
                f"{controller} is a cgroup v1 controller, not mounted on this host", path=self._d
            )

    def _apply_unified(self, res: Resources) -> None:
        """Each ``unified`` file, one line per write (as runc and crun write them)."""
        for key, value in res.unified:
            path = f"{self._d}/{key}"
            if not os.path.exists(path):
                from pycontainers.cgroups._resfields import unified_controller

                enabled = (_fs.read_optional(f"{self._d}/cgroup.controllers") or "").split()
                raise CgroupNotSupported(
                    f"unified: {key}: no such file in {self._d} (the "
                    f"{unified_controller(key)} controller is not enabled there; enabled: "
                    f"{', '.join(enabled) or 'none'})",
                    path=path,
                )
            for line in value.split("\n") or [""]:
                if line:
                    _fs.write(path, line)

    def _refuse_v1_only(self, res: Resources) -> None:
        if all(getattr(res, f) in (None, ()) for f in HOST_DEPENDENT):
            return
        from pycontainers.cgroups._resfields import refusal

        found = refusal(res, CgroupLayout("v2", unified=self._root))
        if found is not None:
            raise CgroupNotSupported(f"{found[0]}: {found[1]}", path=self._d)

    def _apply_memory(self, res: Resources) -> None:
        self._refuse_v1_only(res)
        if res.memory_low is not None:
            _fs.write(self._file("memory.low", "memory"), _max(res.memory_low))
        if res.memory_max is not None:
            _fs.write(self._file("memory.max", "memory"), _max(res.memory_max))
        if res.memory_swap is not None:
            # Docker's memory_swap is memory plus swap; v2 limits swap alone
            swap = UNLIMITED
            if res.memory_swap != UNLIMITED and res.memory_max not in (None, UNLIMITED):
                swap = res.memory_swap - res.memory_max
            if not os.path.exists(f"{self._d}/memory.swap.max"):
                raise CgroupNotSupported(
                    "memory_swap needs swap accounting (no memory.swap.max)", path=self._d
                )
            _fs.write(f"{self._d}/memory.swap.max", _max(swap))

    def _apply_cpu(self, res: Resources) -> None:
        self._refuse_v1_only(res)
        if res.cpu_idle == 0:  # an idle group takes no weight: leave idle first
            _fs.write(self._file("cpu.idle", "cpu"), "0")
        weight = res.cpu_weight_value()
        if weight is not None:
            _fs.write(
                self._file("cpu.weight", "cpu"),
                str(weight),
                hints={errno.EINVAL: "an idle group (cpu_idle=1) has no weight"},
            )
        if res.cpu_idle == 1:
            _fs.write(self._file("cpu.idle", "cpu"), "1")
        limit = res.cpu_limit()
        if limit is not None:
            path = self._file("cpu.max", "cpu")
            quota, period = limit
            if quota is None:  # only the period changes: keep the quota
                current = _fs.read(path).split()[0]
                _fs.write(path, f"{current} {period}")
            else:
                _fs.write(path, f"{_max(quota)} {period}")
        if res.cpu_burst is not None:
            _fs.write(
                self._file("cpu.max.burst", "cpu"),
                str(res.cpu_burst),
                hints={errno.EINVAL: "the burst must not exceed the quota"},
            )

    def _apply_io(self, res: Resources) -> None:
        self._refuse_v1_only(res)
        for limit in res.blkio_weight_device:
            if os.path.exists(f"{self._d}/io.bfq.weight"):  # BFQ: v1's units
                _fs.write(f"{self._d}/io.bfq.weight", f"{limit.device} {limit.rate}")
            else:
                weight = blkio_weight_to_io_weight(limit.rate)
                _fs.write(self._file("io.weight", "io"), f"{limit.device} {weight}")
        if res.blkio_weight is not None or res.io_weight is not None:
            if os.path.exists(f"{self._d}/io.bfq.weight"):  # BFQ takes v1's 1..1000 range
                _fs.write(f"{self._d}/io.bfq.weight", str(res.blkio_weight_value()))
            else:
                _fs.write(self._file("io.weight", "io"), f"default {res.io_weight_value()}")
        per_device: dict[str, list[str]] = {}
        for limits, key in (
            (res.io_read_bps, "rbps"),
            (res.io_write_bps, "wbps"),
            (res.io_read_iops, "riops"),
            (res.io_write_iops, "wiops"),
        ):
            for limit in limits:
                per_device.setdefault(limit.device, []).append(f"{key}={_max(limit.rate)}")
        for device, settings in per_device.items():
            _fs.write(self._file("io.max", "io"), f"{device} {' '.join(settings)}")

    def _limits(self, controller: str) -> dict[str, str]:
        out: dict[str, str] = {}

        def read(name: str) -> str | None:
            text = _fs.read_optional(f"{self._d}/{name}")
            return None if text is None else text.strip()

        if controller == "memory" and (text := read("memory.max")) not in (None, "max"):
            out["memory_max"] = format_bytes(int(text))
        elif controller == "cpu":
            cpu_max = (read("cpu.max") or "max").split()
            if cpu_max[0] != "max":
                out["cpus"] = f"{int(cpu_max[0]) / int(cpu_max[1]):g}"
            if (weight := read("cpu.weight")) not in (None, str(CPU_WEIGHT_DEFAULT)):
                out["cpu_weight"] = str(weight)
        elif controller == "cpuset" and (cpus := read("cpuset.cpus")):
            out["cpuset_cpus"] = cpus
        elif controller == "pids" and (pids := read("pids.max")) not in (None, "max"):
            out["pids_max"] = str(pids)
        elif controller == "hugetlb":
            for entry in sorted(os.listdir(self._d)):
                if entry.startswith("hugetlb.") and entry.endswith(".max") and "rsvd" not in entry:
                    limit = limit_value(read(entry) or "max")  # unlimited reads as ~2**63
                    if limit is not None:
                        out[entry.removesuffix(".max")] = format_bytes(limit)
        return out

    # -- stats ----------------------------------------------------------------------------------

    def _memory_stats(self) -> MemoryStats | None:
        from pycontainers.cgroups._stats import MemoryStats

        current = _fs.read_optional(f"{self._d}/memory.current")
        if current is None:
            return None
        events = flat_keyed(_fs.read_optional(f"{self._d}/memory.events") or "")
        peak = _fs.read_optional(f"{self._d}/memory.peak")
        return MemoryStats(
            usage=int(current),
            peak=int(peak) if peak else None,
            limit=limit_value(_fs.read_optional(f"{self._d}/memory.max") or "max"),
            oom=events.get("oom", 0),
            oom_kill=events.get("oom_kill", 0),
            failcnt=events.get("max", 0),
        )

    def _oom_kill_count(self) -> int | None:
        return flat_keyed(_fs.read_optional(f"{self._d}/memory.events") or "").get("oom_kill", 0)

    def _cpu_stats(self) -> CpuStats | None:
        from pycontainers.cgroups._stats import CpuStats

        text = _fs.read_optional(f"{self._d}/cpu.stat")  # a core file: there without cpu too
        if text is None:
            return None
        stat = flat_keyed(text)

        def ns(key: str) -> int | None:
            return stat[key] * 1000 if key in stat else None

        return CpuStats(
            usage=stat.get("usage_usec", 0) * 1000,
            user=ns("user_usec"),
            system=ns("system_usec"),
            nr_periods=stat.get("nr_periods"),
            nr_throttled=stat.get("nr_throttled"),
            throttled=ns("throttled_usec"),
        )

    def _pids_stats(self) -> PidsStats | None:
        from pycontainers.cgroups._stats import PidsStats

        current = _fs.read_optional(f"{self._d}/pids.current")
        if current is None:
            return None
        peak = _fs.read_optional(f"{self._d}/pids.peak")
        return PidsStats(
            current=int(current),
            max=limit_value(_fs.read(f"{self._d}/pids.max")),
            peak=int(peak) if peak else None,
        )

    def _io_stats(self) -> IoStats | None:
        from pycontainers.cgroups._stats import io_stat_v2

        text = _fs.read_optional(f"{self._d}/io.stat")
        return None if text is None else io_stat_v2(text)

    def _oom_watcher(self) -> OomWatcher:
        return OomWatcher.v2(self._d)

    # -- freeze and kill -------------------------------------------------------------------------

    def freeze(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Freeze with ``cgroup.freeze``, waiting for ``frozen 1`` in ``cgroup.events``."""
        path = self._core("cgroup.freeze", "freezing needs Linux 5.2")
        _fs.write(path, "1")
        try:
            _fs.wait_keyed(
                f"{self._d}/cgroup.events", "frozen", 1, timeout, f"{self._path} to freeze"
            )
        except CgroupError:
            _fs.write(path, "0")
            raise

    def thaw(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Thaw with ``cgroup.freeze``, waiting for ``frozen 0`` in ``cgroup.events``."""
        _fs.write(self._core("cgroup.freeze", "freezing needs Linux 5.2"), "0")
        _fs.wait_keyed(f"{self._d}/cgroup.events", "frozen", 0, timeout, f"{self._path} to thaw")

    def is_frozen(self) -> bool:
        """True if ``cgroup.events`` says ``frozen 1``."""
        events = flat_keyed(_fs.read(f"{self._d}/cgroup.events"))
        return events.get("frozen") == 1

    def kill(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Write ``cgroup.kill`` (Linux 5.14+; the kernel kills the whole subtree at once) and
        wait for ``populated 0``; older kernels: SIGKILL rounds under ``cgroup.freeze``.
        """
        if not os.path.exists(f"{self._d}/cgroup.kill"):
            kill_in_rounds(self, os.path.exists(f"{self._d}/cgroup.freeze"), timeout)
            return
        _fs.write(f"{self._d}/cgroup.kill", "1")
        _fs.wait_keyed(
            f"{self._d}/cgroup.events", "populated", 0, timeout, f"{self._path} to empty"
        )

    def _core(self, name: str, why: str) -> str:
        path = f"{self._d}/{name}"
        if not os.path.exists(path):
            raise CgroupNotSupported(f"no {name} in {self._d} ({why})", path=path)
        return path


def _enable_controllers(directory: str) -> None:
    """Enable for ``directory``'s children every controller it has (one at a time: one that
    cannot be enabled — a domain controller where processes live, say — does not stop the
    others; a limit that needs it then fails naming the missing file).
    """
    available = (_fs.read_optional(f"{directory}/cgroup.controllers") or "").split()
    enabled = _fs.read_optional(f"{directory}/cgroup.subtree_control")
    if not available or enabled is None:
        return
    for controller in sorted(set(available) - set(enabled.split())):
        try:
            _fs.write(f"{directory}/cgroup.subtree_control", f"+{controller}")
        except CgroupError as exc:
            log.debug(
                "cgroup.enable_failed", directory=directory, controller=controller, error=str(exc)
            )
