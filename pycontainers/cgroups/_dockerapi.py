""":class:`Resources` as the Docker Engine API spells its limits: the resource fields of a
``HostConfig`` (``POST /containers/create``, ``POST /containers/{id}/update``, and what
``GET /containers/{id}/json`` shows), both ways, in one table.

Docker's conventions: 0 (or ``""``, ``[]``) means "not set"; ``MemorySwap``,
``PidsLimit`` and ``CpuQuota`` take -1 for "no limit"; ``MemorySwappiness`` -1 (or null)
means "the kernel's"; ``NanoCpus`` is 10⁻⁹ CPUs; the per-device lists are
``[{"Path": ..., "Weight"|"Rate": ...}]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pycontainers.cgroups._units import UNLIMITED
from pycontainers.errors import SpecError

if TYPE_CHECKING:
    from pycontainers.cgroups._resources import Resources

SCALARS: tuple[tuple[str, str, type, Any], ...] = (
    ("Memory", "memory_max", int, 0),
    ("MemoryReservation", "memory_low", int, 0),
    ("MemorySwap", "memory_swap", int, 0),
    ("MemorySwappiness", "memory_swappiness", int, None),
    ("OomKillDisable", "oom_kill_disable", bool, False),
    ("KernelMemoryTCP", "memory_kernel_tcp", int, 0),
    ("CpuShares", "cpu_shares", int, 0),
    ("CpuQuota", "cpu_quota", int, 0),
    ("CpuPeriod", "cpu_period", int, 0),
    ("CpuRealtimeRuntime", "cpu_rt_runtime", int, 0),
    ("CpuRealtimePeriod", "cpu_rt_period", int, 0),
    ("CpusetCpus", "cpuset_cpus", str, ""),
    ("CpusetMems", "cpuset_mems", str, ""),
    ("PidsLimit", "pids_max", int, 0),
    ("BlkioWeight", "blkio_weight", int, 0),
)
"""(HostConfig key, Resources field, JSON type, what Docker shows when it is not set)."""

DEVICE_LISTS = (
    ("BlkioWeightDevice", "blkio_weight_device", "Weight"),
    ("BlkioDeviceReadBps", "io_read_bps", "Rate"),
    ("BlkioDeviceWriteBps", "io_write_bps", "Rate"),
    ("BlkioDeviceReadIOps", "io_read_iops", "Rate"),
    ("BlkioDeviceWriteIOps", "io_write_iops", "Rate"),
)
"""(HostConfig key, Resources field, the key of each entry's value)."""

KEYS: dict[str, str] = {
    **{field: key for key, field, _, _ in SCALARS},
    **{field: key for key, field, _ in DEVICE_LISTS},
    "cpus": "NanoCpus",
}
"""Resources field → its HostConfig key (to name it in errors)."""

ALL_KEYS: tuple[str, ...] = (
    *(key for key, _, _, _ in SCALARS),
    *(key for key, _, _ in DEVICE_LISTS),
    "NanoCpus",
)
"""Every resource key of a HostConfig this module reads."""

_UNLIMITED_AT = frozenset({"MemorySwap", "PidsLimit", "CpuQuota"})


def from_host_config(host: Mapping[str, Any], where: str = "HostConfig") -> dict[str, Any]:
    """The :class:`Resources` fields a HostConfig (or an update body: ``where`` "") sets,
    field → value; a value of the wrong type raises :class:`SpecError` naming the key.
    """
    out: dict[str, Any] = {}
    prefix = f"{where}." if where else ""
    # keys in any case, as Docker's Go decoder takes them: docker-py sends CPURealtimePeriod
    lower = {k.lower(): v for k, v in host.items() if isinstance(k, str)}
    host = {key: host[key] if key in host else lower.get(key.lower()) for key in ALL_KEYS}
    for key, field, kind, _ in SCALARS:
        value: Any = host.get(key)
        if value is None:
            continue
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
            raise SpecError(prefix + key, f"expected {kind.__name__}, got {value!r}")
        if key == "MemorySwappiness":
            if value != -1:
                out[field] = value
        elif key in _UNLIMITED_AT and isinstance(value, int) and value < 0:
            out[field] = UNLIMITED
        elif value:
            out[field] = value
    nano = host.get("NanoCpus")
    if nano is not None:
        if isinstance(nano, bool) or not isinstance(nano, int):
            raise SpecError(prefix + "NanoCpus", f"expected int, got {nano!r}")
        if nano:
            out["cpus"] = nano / 1e9
    for key, field, name in DEVICE_LISTS:
        entries = host.get(key)
        if not entries:
            continue
        if not isinstance(entries, list) or not all(
            isinstance(e, Mapping) and isinstance(e.get("Path"), str) for e in entries
        ):
            raise SpecError(prefix + key, f'expected [{{"Path": ..., "{name}": ...}}], got '
                            f"{entries!r}")  # fmt: skip
        out[field] = {e["Path"]: e.get(name) for e in entries}
    return out


def to_host_config(res: Resources | None) -> dict[str, Any]:
    """Every resource key of Docker's HostConfig for the limits ``res`` (Docker's "not set"
    value for those it does not set).
    """
    out: dict[str, Any] = {}
    for key, field, _, unset in SCALARS:
        value = getattr(res, field, None)
        out[key] = unset if value is None else value
    cpus = getattr(res, "cpus", None)
    out["NanoCpus"] = round(cpus * 1e9) if cpus else 0
    for key, field, name in DEVICE_LISTS:
        out[key] = [{"Path": d.path, name: d.rate} for d in getattr(res, field, ())]
    return out


__all__ = ["ALL_KEYS", "DEVICE_LISTS", "KEYS", "SCALARS", "from_host_config", "to_host_config"]
