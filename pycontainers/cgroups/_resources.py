"""``Resources``: the limits of a cgroup, as data, validated at construction.

Field names are neutral between cgroup v1 and v2; :meth:`Resources.from_docker` also takes
docker-py's keyword names (``mem_limit``, ``pids_limit``, ``nano_cpus``, ``device_read_bps``...).
Each backend turns a field into its own files (``memory_max`` is ``memory.max`` on v2 and
``memory.limit_in_bytes`` on v1) and converts where the units differ (shares ⇄ weight).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from pycontainers.cgroups._devices import DeviceRule, IoDeviceLimit, device_rules, io_limits
from pycontainers.cgroups._layout import allowed_cpus, allowed_mems
from pycontainers.cgroups._units import (
    BLKIO_WEIGHT_MAX,
    BLKIO_WEIGHT_MIN,
    CPU_SHARES_MAX,
    CPU_SHARES_MIN,
    CPU_WEIGHT_MAX,
    CPU_WEIGHT_MIN,
    IO_WEIGHT_MAX,
    IO_WEIGHT_MIN,
    UNLIMITED,
    blkio_weight_to_io_weight,
    cpu_shares_to_weight,
    cpu_weight_to_shares,
    format_bytes,
    format_cpu_list,
    hugepage_name,
    hugepage_sizes,
    io_weight_to_blkio_weight,
    parse_bytes,
    parse_cpu_list,
    parse_int,
)
from pycontainers.errors import SpecError

DEFAULT_CPU_PERIOD = 100_000
"""The CFS period (µs) used when only ``cpus`` or ``cpu_quota`` is given, as Docker does."""


def _size(field: str, value: object) -> int | None:
    if value is None:
        return None
    n = parse_bytes(field, value)
    if n == 0:
        raise SpecError(field, "must be positive (-1 or 'max' means no limit)")
    return n


def _int(field: str, value: object, low: int, high: int | None = None) -> int | None:
    return None if value is None else parse_int(field, value, low, high)


def _max_or_int(field: str, value: object, low: int, high: int | None = None) -> int | None:
    if value is None:
        return None
    if value in (UNLIMITED, "max", "-1"):
        return UNLIMITED
    return parse_int(field, value, low, high)


def _cpus(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError("cpus", f"expected a number of CPUs such as 1.5, got {value!r}")
    try:
        cpus = float(value)
    except ValueError:
        raise SpecError("cpus", f"expected a number of CPUs such as 1.5, got {value!r}") from None
    online = os.cpu_count() or 1
    if not 0 < cpus <= online:
        raise SpecError(
            "cpus", f"must be more than 0 and at most {online} (online CPUs), got {value}"
        )
    return cpus


def _cpuset(
    field: str, value: object, allowed_set: Callable[[], frozenset[int]], what: str
) -> str | None:
    if value is None:
        return None
    numbers = parse_cpu_list(field, value)
    allowed = allowed_set()
    outside = numbers - allowed
    if outside:
        raise SpecError(
            field,
            f"{what} {format_cpu_list(outside)} not in the allowed set {format_cpu_list(allowed)}",
        )
    return format_cpu_list(numbers)


def _hugetlb(value: object) -> tuple[tuple[str, int], ...]:
    if not value:
        return ()
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (list, tuple)) and len(v) == 2 for v in value
    ):  # its own output (attrs.evolve, a merge): (size name, limit) pairs
        value = dict(value)
    if not isinstance(value, Mapping):
        raise SpecError("hugetlb", f"expected a mapping of page size to limit, got {value!r}")
    available = hugepage_sizes()
    out: dict[str, int] = {}
    for size, limit in value.items():
        name = hugepage_name(parse_bytes("hugetlb", size, allow_unlimited=False))
        if name not in available:
            raise SpecError(
                "hugetlb", f"no {size!r} huge pages on this kernel; sizes: {sorted(available)}"
            )
        out[name] = parse_bytes("hugetlb", limit)
    return tuple(sorted(out.items()))


# one named converter per field: attrs' mypy plugin types __init__ from them, and each error
# names its field


def _memory_max(value: object) -> int | None:
    return _size("memory_max", value)


def _memory_low(value: object) -> int | None:
    return _size("memory_low", value)


def _memory_swap(value: object) -> int | None:
    return _size("memory_swap", value)


def _cpu_shares(value: object) -> int | None:
    return _int("cpu_shares", value, CPU_SHARES_MIN, CPU_SHARES_MAX)


def _cpu_weight(value: object) -> int | None:
    return _int("cpu_weight", value, CPU_WEIGHT_MIN, CPU_WEIGHT_MAX)


def _cpu_quota(value: object) -> int | None:
    return _max_or_int("cpu_quota", value, 1000)


def _cpu_period(value: object) -> int | None:
    return _int("cpu_period", value, 1000, 1_000_000)


def _cpuset_cpus(value: object) -> str | None:
    return _cpuset("cpuset_cpus", value, allowed_cpus, "CPUs")


def _cpuset_mems(value: object) -> str | None:
    return _cpuset("cpuset_mems", value, allowed_mems, "nodes")


def _pids_max(value: object) -> int | None:
    return _max_or_int("pids_max", value, 1)


def _blkio_weight(value: object) -> int | None:
    return _int("blkio_weight", value, BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX)


def _io_weight(value: object) -> int | None:
    return _int("io_weight", value, IO_WEIGHT_MIN, IO_WEIGHT_MAX)


def _io_read_bps(value: object) -> tuple[IoDeviceLimit, ...]:
    return io_limits("io_read_bps", value, sizes=True)


def _io_write_bps(value: object) -> tuple[IoDeviceLimit, ...]:
    return io_limits("io_write_bps", value, sizes=True)


def _io_read_iops(value: object) -> tuple[IoDeviceLimit, ...]:
    return io_limits("io_read_iops", value, sizes=False)


def _io_write_iops(value: object) -> tuple[IoDeviceLimit, ...]:
    return io_limits("io_write_iops", value, sizes=False)


def _devices_deny(value: object) -> tuple[DeviceRule, ...]:
    return device_rules("devices_deny", value)


def _devices_allow(value: object) -> tuple[DeviceRule, ...]:
    return device_rules("devices_allow", value)


_NEW = {"omit_default": True}


def _later(name: str, value: object, unset: Any = None) -> Any:
    """Convert ``value`` with ``name`` of :mod:`._resfields`, imported on the first value
    that is set (most containers set none of these fields).
    """
    if value is None or value == () or value is unset:
        return unset
    from pycontainers.cgroups import _resfields

    return getattr(_resfields, name)(value)


def _memory_swappiness(value: object) -> int | None:
    out: int | None = _later("memory_swappiness", value)
    return out


def _memory_kernel_tcp(value: object) -> int | None:
    out: int | None = _later("memory_kernel_tcp", value)
    return out


def _oom_kill_disable(value: object) -> bool | None:
    out: bool | None = _later("oom_kill_disable", value)
    return out


def _memory_use_hierarchy(value: object) -> bool | None:
    out: bool | None = _later("memory_use_hierarchy", value)
    return out


def _memory_check_before_update(value: object) -> bool:
    out: bool = _later("memory_check_before_update", value, False)
    return out


def _cpu_rt_runtime(value: object) -> int | None:
    out: int | None = _later("cpu_rt_runtime", value)
    return out


def _cpu_rt_period(value: object) -> int | None:
    out: int | None = _later("cpu_rt_period", value)
    return out


def _cpu_idle(value: object) -> int | None:
    out: int | None = _later("cpu_idle", value)
    return out


def _cpu_burst(value: object) -> int | None:
    out: int | None = _later("cpu_burst", value)
    return out


def _blkio_weight_device(value: object) -> tuple[IoDeviceLimit, ...]:
    out: tuple[IoDeviceLimit, ...] = _later("blkio_weight_device", value, ())
    return out


def _blkio_leaf_weight(value: object) -> int | None:
    out: int | None = _later("blkio_leaf_weight", value)
    return out


def _blkio_leaf_weight_device(value: object) -> tuple[IoDeviceLimit, ...]:
    out: tuple[IoDeviceLimit, ...] = _later("blkio_leaf_weight_device", value, ())
    return out


def _net_cls_classid(value: object) -> int | None:
    out: int | None = _later("net_cls_classid", value)
    return out


def _net_prio_ifpriomap(value: object) -> tuple[tuple[str, int], ...]:
    out: tuple[tuple[str, int], ...] = _later("net_prio_ifpriomap", value, ())
    return out


def _rdma(value: object) -> tuple[tuple[str, int | None, int | None], ...]:
    out: tuple[tuple[str, int | None, int | None], ...] = _later("rdma", value, ())
    return out


def _unified(value: object) -> tuple[tuple[str, str], ...]:
    out: tuple[tuple[str, str], ...] = _later("unified", value, ())
    return out


HOST_DEPENDENT = ("blkio_weight", "io_weight", "blkio_weight_device",
                  "memory_swappiness", "memory_kernel_tcp", "oom_kill_disable",
                  "memory_use_hierarchy", "cpu_rt_runtime", "cpu_rt_period",
                  "blkio_leaf_weight", "blkio_leaf_weight_device", "net_cls_classid",
                  "net_prio_ifpriomap", "rdma", "unified")  # fmt: skip
"""The fields some cgroup layouts cannot honour (see ``_resfields.refusal``)."""


@attrs.frozen(repr=False)
class Resources:
    """Resource limits of a cgroup; every field is optional (``None``: leave as is).

    Sizes take ints or Docker's strings (``"64m"``, ``"1g"``, ``"512k"``); -1 (or ``"max"``)
    means no limit. Fields and their files (v1 / v2):

    - ``memory_max`` (``memory.limit_in_bytes`` / ``memory.max``), ``memory_low``, the
      reservation (``memory.soft_limit_in_bytes`` / ``memory.low``), ``memory_swap``, memory
      *plus* swap as in Docker (``memory.memsw.limit_in_bytes`` / ``memory.swap.max`` =
      ``memory_swap - memory_max``);
    - ``cpu_shares`` (v1 units, 2..262144) or ``cpu_weight`` (v2 units, 1..10000), converted
      for the other version; ``cpu_quota``/``cpu_period`` in µs, or ``cpus=1.5`` (quota =
      cpus * period); ``cpuset_cpus``/``cpuset_mems`` (``"0-1,3"``);
    - ``pids_max``;
    - ``blkio_weight`` (10..1000) or ``io_weight`` (1..10000); ``io_read_bps``,
      ``io_write_bps``, ``io_read_iops``, ``io_write_iops``: device path → rate;
    - ``hugetlb``: page size → limit (``{"2MB": "64m"}``);
    - ``devices_deny`` then ``devices_allow``: device rules (``"c 1:3 rwm"``, ``"a"``),
      written to the v1 ``devices`` controller; on cgroup v2 compiled into a BPF device
      program with the same semantics, attached to the group (hybrid: both);
    - v1 only (refused on v2, which has no such file): ``memory_swappiness`` (0..100),
      ``oom_kill_disable``, ``memory_use_hierarchy``, ``memory_kernel_tcp``
      (``memory.kmem.tcp.limit_in_bytes``), ``cpu_rt_runtime``/``cpu_rt_period`` (µs),
      ``blkio_leaf_weight``, ``blkio_leaf_weight_device``, ``net_cls_classid``,
      ``net_prio_ifpriomap`` (interface → priority);
    - ``cpu_idle`` (0/1, ``cpu.idle``), ``cpu_burst`` (µs: ``cpu.cfs_burst_us`` /
      ``cpu.max.burst``), ``blkio_weight_device`` (device → 10..1000:
      ``blkio.weight_device`` / ``io.bfq.weight`` or ``io.weight``), ``rdma`` (device →
      ``hca_handles``/``hca_objects``, ``rdma.max``);
    - ``unified``: cgroup v2 file → value, written last to the group's cgroup2 directory
      (on hybrid only files of controllers that are not mounted as v1);
    - ``memory_check_before_update``: an update refuses a memory limit not above the usage.
    """

    memory_max: int | None = attrs.field(default=None, converter=_memory_max)
    memory_low: int | None = attrs.field(default=None, converter=_memory_low)
    memory_swap: int | None = attrs.field(default=None, converter=_memory_swap)
    cpu_shares: int | None = attrs.field(default=None, converter=_cpu_shares)
    cpu_weight: int | None = attrs.field(default=None, converter=_cpu_weight)
    cpu_quota: int | None = attrs.field(default=None, converter=_cpu_quota)
    cpu_period: int | None = attrs.field(default=None, converter=_cpu_period)
    cpus: float | None = attrs.field(default=None, converter=_cpus)
    cpuset_cpus: str | None = attrs.field(default=None, converter=_cpuset_cpus)
    cpuset_mems: str | None = attrs.field(default=None, converter=_cpuset_mems)
    pids_max: int | None = attrs.field(default=None, converter=_pids_max)
    blkio_weight: int | None = attrs.field(default=None, converter=_blkio_weight)
    io_weight: int | None = attrs.field(default=None, converter=_io_weight)
    io_read_bps: tuple[IoDeviceLimit, ...] = attrs.field(default=(), converter=_io_read_bps)
    io_write_bps: tuple[IoDeviceLimit, ...] = attrs.field(default=(), converter=_io_write_bps)
    io_read_iops: tuple[IoDeviceLimit, ...] = attrs.field(default=(), converter=_io_read_iops)
    io_write_iops: tuple[IoDeviceLimit, ...] = attrs.field(default=(), converter=_io_write_iops)
    hugetlb: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_hugetlb)
    devices_deny: tuple[DeviceRule, ...] = attrs.field(default=(), converter=_devices_deny)
    devices_allow: tuple[DeviceRule, ...] = attrs.field(default=(), converter=_devices_allow)
    # added later: written only when set, so older readers of a stored spec never see them
    memory_swappiness: int | None = attrs.field(
        default=None, converter=_memory_swappiness, metadata=_NEW
    )
    memory_kernel_tcp: int | None = attrs.field(
        default=None, converter=_memory_kernel_tcp, metadata=_NEW
    )
    oom_kill_disable: bool | None = attrs.field(
        default=None, converter=_oom_kill_disable, metadata=_NEW
    )
    memory_use_hierarchy: bool | None = attrs.field(
        default=None, converter=_memory_use_hierarchy, metadata=_NEW
    )
    memory_check_before_update: bool = attrs.field(
        default=False, converter=_memory_check_before_update, metadata=_NEW
    )
    cpu_rt_runtime: int | None = attrs.field(default=None, converter=_cpu_rt_runtime, metadata=_NEW)
    cpu_rt_period: int | None = attrs.field(default=None, converter=_cpu_rt_period, metadata=_NEW)
    cpu_idle: int | None = attrs.field(default=None, converter=_cpu_idle, metadata=_NEW)
    cpu_burst: int | None = attrs.field(default=None, converter=_cpu_burst, metadata=_NEW)
    blkio_weight_device: tuple[IoDeviceLimit, ...] = attrs.field(
        default=(), converter=_blkio_weight_device, metadata=_NEW
    )
    blkio_leaf_weight: int | None = attrs.field(
        default=None, converter=_blkio_leaf_weight, metadata=_NEW
    )
    blkio_leaf_weight_device: tuple[IoDeviceLimit, ...] = attrs.field(
        default=(), converter=_blkio_leaf_weight_device, metadata=_NEW
    )
    net_cls_classid: int | None = attrs.field(
        default=None, converter=_net_cls_classid, metadata=_NEW
    )
    net_prio_ifpriomap: tuple[tuple[str, int], ...] = attrs.field(
        default=(), converter=_net_prio_ifpriomap, metadata=_NEW
    )
    rdma: tuple[tuple[str, int | None, int | None], ...] = attrs.field(
        default=(), converter=_rdma, metadata=_NEW
    )
    unified: tuple[tuple[str, str], ...] = attrs.field(
        default=(), converter=_unified, metadata=_NEW
    )

    def __attrs_post_init__(self) -> None:
        mem, swap, low = self.memory_max, self.memory_swap, self.memory_low
        if swap is not None and swap != UNLIMITED:
            if mem is None or mem == UNLIMITED:
                raise SpecError("memory_swap", "needs a memory_max (it is memory plus swap)")
            if swap < mem:
                raise SpecError(
                    "memory_swap",
                    f"must be at least memory_max ({format_bytes(mem)}): "
                    "it counts memory plus swap, as in Docker",
                )
        if mem is not None and mem != UNLIMITED and low is not None and low > mem:
            raise SpecError("memory_low", "must not be above memory_max")
        if self.cpu_shares is not None and self.cpu_weight is not None:
            raise SpecError("cpu_weight", "give cpu_shares (v1 units) or cpu_weight, not both")
        if self.blkio_weight is not None and self.io_weight is not None:
            raise SpecError("io_weight", "give blkio_weight (v1 units) or io_weight, not both")
        rt_runtime, rt_period = self.cpu_rt_runtime, self.cpu_rt_period
        if rt_runtime is not None and rt_period is not None and rt_runtime > rt_period:
            raise SpecError("cpu_rt_runtime", "must not be above cpu_rt_period")
        if self.cpus is not None:
            if self.cpu_quota is not None:
                raise SpecError("cpus", "give cpus or cpu_quota, not both")
            period = self.cpu_period or DEFAULT_CPU_PERIOD
            if round(self.cpus * period) < 1000:
                raise SpecError("cpus", f"{self.cpus} CPUs is below the kernel's 1 ms per period")

    # -- what the backends write ---------------------------------------------------------

    def cpu_limit(self) -> tuple[int | None, int | None] | None:
        """``(quota, period)`` in µs for the CFS bandwidth limit (quota -1: none), or ``None``.

        ``cpus`` becomes ``quota = cpus * period`` with Docker's 100 ms period by default.
        """
        if self.cpus is not None:
            period = self.cpu_period or DEFAULT_CPU_PERIOD
            return round(self.cpus * period), period
        if self.cpu_quota is not None:
            return self.cpu_quota, self.cpu_period or DEFAULT_CPU_PERIOD
        if self.cpu_period is not None:
            return None, self.cpu_period
        return None

    def cpu_shares_value(self) -> int | None:
        """The v1 ``cpu.shares`` to write (converted from ``cpu_weight`` if that was given)."""
        if self.cpu_weight is not None:
            return cpu_weight_to_shares(self.cpu_weight)
        return self.cpu_shares

    def cpu_weight_value(self) -> int | None:
        """The v2 ``cpu.weight`` to write (converted from ``cpu_shares`` if that was given)."""
        if self.cpu_shares is not None:
            return cpu_shares_to_weight(self.cpu_shares)
        return self.cpu_weight

    def blkio_weight_value(self) -> int | None:
        """The v1 ``blkio.weight`` to write (converted from ``io_weight`` if that was given)."""
        if self.io_weight is not None:
            return io_weight_to_blkio_weight(self.io_weight)
        return self.blkio_weight

    def io_weight_value(self) -> int | None:
        """The v2 ``io.weight`` to write (converted from ``blkio_weight`` if that was given)."""
        if self.blkio_weight is not None:
            return blkio_weight_to_io_weight(self.blkio_weight)
        return self.io_weight

    def controllers(self) -> frozenset[str]:
        """The controllers these limits need (``memory``, ``cpu``, ``cpuset``, ``pids``,
        ``io``, ``hugetlb``, ``net_cls``, ``net_prio``, ``rdma``, ``devices``, and
        ``unified`` for the cgroup v2 files).
        """
        need = {
            "memory": (self.memory_max, self.memory_low, self.memory_swap,
                       self.memory_swappiness, self.memory_kernel_tcp, self.oom_kill_disable,
                       self.memory_use_hierarchy),
            "cpu": (self.cpu_shares, self.cpu_weight, self.cpu_limit(), self.cpu_rt_runtime,
                    self.cpu_rt_period, self.cpu_idle, self.cpu_burst),
            "cpuset": (self.cpuset_cpus, self.cpuset_mems),
            "pids": (self.pids_max,),
            "io": (self.blkio_weight, self.io_weight, self.blkio_leaf_weight, *self.io_limits(),
                   *self.blkio_weight_device, *self.blkio_leaf_weight_device),
            "hugetlb": self.hugetlb,
            "net_cls": (self.net_cls_classid,),
            "net_prio": self.net_prio_ifpriomap,
            "rdma": self.rdma,
            "devices": self.devices_deny + self.devices_allow,
            "unified": self.unified,
        }  # fmt: skip
        return frozenset(
            name for name, values in need.items() if any(v is not None for v in values)
        )

    def io_limits(self) -> tuple[IoDeviceLimit, ...]:
        """Every per-device limit (bps and iops, read and write)."""
        return self.io_read_bps + self.io_write_bps + self.io_read_iops + self.io_write_iops

    def describe(self) -> list[tuple[str, str]]:
        """The fields that are set, as ``(name, human-readable value)`` pairs."""
        out: list[tuple[str, str]] = []
        for a in attrs.fields(Resources):
            value = getattr(self, a.name)
            if value is None or value == () or value is a.default:
                continue
            if a.name in _BYTES:
                text = format_bytes(value)
            elif a.name.startswith(("io_", "blkio_")) and isinstance(value, tuple):
                text = ", ".join(f"{d.path}={d.rate}" for d in value)
            elif a.name == "hugetlb":
                text = ", ".join(f"{size}={format_bytes(limit)}" for size, limit in value)
            elif a.name.startswith("devices_"):
                text = ", ".join(str(rule) for rule in value)
            elif a.name == "rdma":
                text = ", ".join(f"{d}={h}/{o}" for d, h, o in value)
            elif isinstance(value, tuple):
                text = ", ".join(f"{k}={v}" for k, v in value)
            elif value == UNLIMITED:
                text = "max"
            else:
                text = str(value)
            out.append((a.name, text))
        return out

    def __repr__(self) -> str:
        return "Resources(" + ", ".join(f"{k}={v}" for k, v in self.describe()) + ")"

    # -- Docker's names ----------------------------------------------------------------------

    @classmethod
    def from_docker(cls, **kwargs: Any) -> Resources:
        """Build from docker-py's ``containers.run`` keywords (and this class's own names).

        ``mem_limit``/``memory`` → memory_max, ``mem_reservation``/``memory_reservation`` →
        memory_low, ``memswap_limit`` → memory_swap, ``nano_cpus`` (10⁻⁹ CPUs) → cpus,
        ``pids_limit`` (0 or -1: unlimited) → pids_max, ``device_read_bps``... → io_read_bps...,
        ``device_cgroup_rules`` → devices_allow, ``mem_swappiness`` → memory_swappiness
        (-1: unset). ``oom_kill_disable``, ``cpu_rt_runtime``, ``cpu_rt_period``,
        ``blkio_weight_device``, ``cpu_shares``, ``cpu_quota``, ``cpu_period``,
        ``cpus``, ``cpuset_cpus``, ``cpuset_mems`` and ``blkio_weight`` keep their names.
        A bad value raises :class:`SpecError` naming the keyword as it was written.
        """
        given = docker_fields(kwargs)
        try:
            return cls(**{target: value for target, (_, value) in given.items()})
        except SpecError as exc:
            renamed = as_written(exc, given)
            if renamed is exc:
                raise
            raise renamed from exc


def docker_fields(kwargs: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """:meth:`Resources.from_docker`'s keywords as ``{field: (keyword as written, value)}``,
    unvalidated (``None`` values left out); an unknown or repeated keyword is a SpecError.
    """
    fields = {a.name for a in attrs.fields(Resources)}
    given: dict[str, tuple[str, Any]] = {}
    for key, value in kwargs.items():
        if value is None:
            continue
        target = _DOCKER_NAMES.get(key, key if key in fields else None)
        if target is None:
            known = sorted(fields | set(_DOCKER_NAMES))
            raise SpecError(key, f"unknown resource option; known: {', '.join(known)}")
        if target in given:
            raise SpecError(key, f"{given[target][0]} already sets {target}")
        if key == "nano_cpus":
            value = parse_int(key, value, 1) / 1e9
        elif key == "pids_limit" and isinstance(value, int) and value <= 0:
            value = UNLIMITED
        elif key == "mem_swappiness" and value == -1:
            continue
        given[target] = (key, value)
    return given


def as_written(exc: SpecError, given: Mapping[str, tuple[str, Any]]) -> SpecError:
    """``exc`` naming the keyword as :func:`docker_fields` got it (``mem_limit``, not
    ``memory_max``).
    """
    written = given.get(exc.field, (exc.field, None))[0]
    if written == exc.field:
        return exc
    return SpecError(written, str(exc).split(": ", 1)[1])


_BYTES = frozenset({"memory_max", "memory_low", "memory_swap", "memory_kernel_tcp"})

_DOCKER_NAMES = {
    "memory": "memory_max",
    "mem_limit": "memory_max",
    "mem_reservation": "memory_low",
    "memory_reservation": "memory_low",
    "memswap_limit": "memory_swap",
    "nano_cpus": "cpus",
    "pids_limit": "pids_max",
    "device_read_bps": "io_read_bps",
    "device_write_bps": "io_write_bps",
    "device_read_iops": "io_read_iops",
    "device_write_iops": "io_write_iops",
    "device_cgroup_rules": "devices_allow",
    "mem_swappiness": "memory_swappiness",
}
