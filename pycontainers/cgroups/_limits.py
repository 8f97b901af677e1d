"""The resource-limit keywords of :meth:`CGroup.create`, :meth:`CGroup.update`,
:meth:`CGroup.child` and the container entry points, as one ``TypedDict``.

``mypy`` rejects a misspelled limit keyword in user code;
:meth:`Resources.from_docker` names it at run time for callers without a type checker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

if TYPE_CHECKING:
    from pycontainers.cgroups._devices import DeviceRule, IoDeviceLimit

Size: TypeAlias = "int | str"
"""Bytes, or Docker's size strings (``"64m"``, ``"1g"``); -1 or ``"max"``: no limit."""
IoRates: TypeAlias = (
    "Mapping[str, int | str] | Iterable[tuple[str, int | str] | Mapping[str, Any] | IoDeviceLimit]"
)
"""Per-device rates: ``{"/dev/vda": "1m"}``, ``(path, rate)`` pairs or Docker's dicts."""
DeviceRules: TypeAlias = "str | DeviceRule | Iterable[str | DeviceRule]"
"""Device cgroup rules such as ``"c 1:3 rwm"``."""


class LimitOptions(TypedDict, total=False):
    """Resource-limit keywords: docker-py's names and :class:`Resources`' own fields.

    ``None`` leaves a limit unset. docker-py names and what they set: ``memory`` /
    ``mem_limit`` → ``memory_max``; ``mem_reservation`` / ``memory_reservation`` →
    ``memory_low``; ``memswap_limit`` → ``memory_swap`` (memory plus swap); ``nano_cpus``
    (10⁻⁹ CPUs) → ``cpus``; ``pids_limit`` (0 or -1: none) → ``pids_max``;
    ``device_read_bps`` / ``device_write_bps`` / ``device_read_iops`` /
    ``device_write_iops`` → ``io_read_bps``...; ``device_cgroup_rules`` → ``devices_allow``.
    The others are :class:`Resources`' fields: ``cpu_shares`` (v1 units) or ``cpu_weight``
    (v2 units), ``cpu_quota``/``cpu_period`` (µs) or ``cpus`` (``1.5``), ``cpuset_cpus`` /
    ``cpuset_mems`` (``"0-1,3"``), ``blkio_weight`` (10..1000) or ``io_weight``,
    ``hugetlb`` (page size → limit), ``devices_deny`` then ``devices_allow``; and the
    rarer ones :class:`Resources` describes (``mem_swappiness`` is docker-py's name of
    ``memory_swappiness``).
    """

    # docker-py's names
    memory: Size | None
    mem_limit: Size | None
    mem_reservation: Size | None
    memory_reservation: Size | None
    memswap_limit: Size | None
    nano_cpus: int | None
    pids_limit: int | str | None
    device_read_bps: IoRates | None
    device_write_bps: IoRates | None
    device_read_iops: IoRates | None
    device_write_iops: IoRates | None
    device_cgroup_rules: DeviceRules | None
    # Resources' fields
    memory_max: Size | None
    memory_low: Size | None
    memory_swap: Size | None
    cpu_shares: int | str | None
    cpu_weight: int | str | None
    cpu_quota: int | str | None
    cpu_period: int | str | None
    cpus: float | str | None
    cpuset_cpus: str | int | None
    cpuset_mems: str | int | None
    pids_max: int | str | None
    blkio_weight: int | str | None
    io_weight: int | str | None
    io_read_bps: IoRates | None
    io_write_bps: IoRates | None
    io_read_iops: IoRates | None
    io_write_iops: IoRates | None
    hugetlb: Mapping[str, Size] | Mapping[int, Size] | None
    devices_deny: DeviceRules | None
    devices_allow: DeviceRules | None
    # the rarer ones (see Resources)
    mem_swappiness: int | None
    memory_swappiness: int | None
    memory_kernel_tcp: Size | None
    oom_kill_disable: bool | None
    memory_use_hierarchy: bool | None
    memory_check_before_update: bool | None
    cpu_rt_runtime: int | None
    cpu_rt_period: int | None
    cpu_idle: int | None
    cpu_burst: int | None
    blkio_weight_device: IoRates | None
    blkio_leaf_weight: int | None
    blkio_leaf_weight_device: IoRates | None
    net_cls_classid: int | None
    net_prio_ifpriomap: Mapping[str, int] | None
    rdma: Mapping[str, Mapping[str, int]] | None
    unified: Mapping[str, str] | None


LIMIT_KEYWORDS = frozenset(LimitOptions.__optional_keys__)
"""The names of :class:`LimitOptions`."""
