"""Converters of :class:`~pycontainers.cgroups.Resources`' less common fields: memory
swappiness and OOM control, real-time CPU time, per-device and leaf block-I/O weights,
net_cls/net_prio, rdma and cgroup v2 key/value files (``unified``). Each error names its field.
And :func:`refusal`: which of them a host's cgroup layout cannot honour, and why.

Loaded only when one of these fields is given (``Resources`` calls the converters lazily):
a container without them does not pay for this module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pycontainers.cgroups._devices import IoDeviceLimit, io_limits
from pycontainers.cgroups._units import (
    BLKIO_WEIGHT_MAX,
    BLKIO_WEIGHT_MIN,
    UNLIMITED,
    parse_bytes,
    parse_int,
)
from pycontainers.errors import SpecError

if TYPE_CHECKING:
    from pycontainers.cgroups._layout import CgroupLayout
    from pycontainers.cgroups._resources import Resources

U32_MAX = (1 << 32) - 1
RUNTIME_FILES = frozenset({"cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.freeze",
                           "cgroup.subtree_control", "cgroup.type"})  # fmt: skip
"""cgroup v2 files ``unified`` may not set: they move, kill or freeze processes, or change
how the group is organised, which is the runtime's business."""


def _int(field: str, value: object, low: int, high: int | None = None) -> int | None:
    return None if value is None else parse_int(field, value, low, high)


def _bool(field: str, value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise SpecError(field, f"expected true or false, got {value!r}")


def memory_swappiness(value: object) -> int | None:
    """0..100 (v1 ``memory.swappiness``)."""
    return _int("memory_swappiness", value, 0, 100)


def memory_kernel_tcp(value: object) -> int | None:
    """A size (v1 ``memory.kmem.tcp.limit_in_bytes``); -1: no limit."""
    if value is None:
        return None
    n = parse_bytes("memory_kernel_tcp", value)
    if n == 0:
        raise SpecError("memory_kernel_tcp", "must be positive (-1 or 'max' means no limit)")
    return n


def oom_kill_disable(value: object) -> bool | None:
    """True: the OOM killer leaves the group alone (v1 ``memory.oom_control``)."""
    return _bool("oom_kill_disable", value)


def memory_use_hierarchy(value: object) -> bool | None:
    """v1 ``memory.use_hierarchy`` (always on for current kernels and on v2)."""
    return _bool("memory_use_hierarchy", value)


def memory_check_before_update(value: object) -> bool:
    """Refuse an update whose memory limit is not above the group's usage."""
    return bool(_bool("memory_check_before_update", value))


def cpu_rt_runtime(value: object) -> int | None:
    """Real-time runtime per period, µs (v1 ``cpu.rt_runtime_us``); -1: no limit."""
    return _int("cpu_rt_runtime", value, UNLIMITED)


def cpu_rt_period(value: object) -> int | None:
    """Real-time period, µs (v1 ``cpu.rt_period_us``)."""
    return _int("cpu_rt_period", value, 1, 1_000_000)


def cpu_idle(value: object) -> int | None:
    """1: the group runs as SCHED_IDLE (``cpu.idle``); 0: normally."""
    return _int("cpu_idle", value, 0, 1)


def cpu_burst(value: object) -> int | None:
    """CFS burst, µs (``cpu.cfs_burst_us`` / ``cpu.max.burst``)."""
    return _int("cpu_burst", value, 0)


def blkio_leaf_weight(value: object) -> int | None:
    """10..1000 (v1 ``blkio.leaf_weight``, CFQ only)."""
    return _int("blkio_leaf_weight", value, BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX)


def _weights(field: str, value: object) -> tuple[IoDeviceLimit, ...]:
    if isinstance(value, (list, tuple)):  # docker-py's [{"Path": ..., "Weight": ...}]
        value = [(v["Path"], v["Weight"]) if isinstance(v, Mapping) and "Weight" in v else v
                 for v in value]  # fmt: skip
    out = io_limits(field, value, sizes=False)
    for limit in out:
        if not BLKIO_WEIGHT_MIN <= limit.rate <= BLKIO_WEIGHT_MAX:
            raise SpecError(
                field,
                f"the weight for {limit.path} must be between {BLKIO_WEIGHT_MIN} and "
                f"{BLKIO_WEIGHT_MAX}, got {limit.rate}",
            )
    return out


def blkio_weight_device(value: object) -> tuple[IoDeviceLimit, ...]:
    """Device path (or ``major:minor``) → weight 10..1000."""
    return _weights("blkio_weight_device", value)


def blkio_leaf_weight_device(value: object) -> tuple[IoDeviceLimit, ...]:
    """Device path (or ``major:minor``) → leaf weight 10..1000."""
    return _weights("blkio_leaf_weight_device", value)


def net_cls_classid(value: object) -> int | None:
    """The class id of the group's packets (v1 ``net_cls.classid``), 1..2³²-1."""
    return _int("net_cls_classid", value, 1, U32_MAX)


def _pairs(field: str, value: object) -> list[tuple[Any, Any]]:
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (list, tuple)) and len(v) == 2 for v in value
    ):
        return [(k, v) for k, v in value]
    raise SpecError(field, f"expected a mapping, got {value!r}")


def _name(field: str, name: object, what: str) -> str:
    if (
        not isinstance(name, str)
        or not name
        or len(name) > 64
        or any(c.isspace() or c in "/\x00" for c in name)
    ):
        raise SpecError(field, f"{what} {name!r} is not a valid name")
    return name


def net_prio_ifpriomap(value: object) -> tuple[tuple[str, int], ...]:
    """Interface name → priority (v1 ``net_prio.ifpriomap``)."""
    if not value:
        return ()
    out = {
        _name("net_prio_ifpriomap", k, "interface"): parse_int("net_prio_ifpriomap", v, 0, U32_MAX)
        for k, v in _pairs("net_prio_ifpriomap", value)
    }
    return tuple(sorted(out.items()))


def rdma(value: object) -> tuple[tuple[str, int | None, int | None], ...]:
    """RDMA device → ``{"hca_handles": N, "hca_objects": M}`` (``rdma.max``; a missing one
    stays unlimited), or stored ``(device, handles, objects)`` triples.
    """
    if not value:
        return ()
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (list, tuple)) and len(v) == 3 for v in value
    ):
        items: list[tuple[Any, Any]] = [
            (d, {"hca_handles": h, "hca_objects": o}) for d, h, o in value
        ]
    else:
        items = _pairs("rdma", value)
    out: dict[str, tuple[int | None, int | None]] = {}
    for device, limits in items:
        name = _name("rdma", device, "RDMA device")
        if not isinstance(limits, Mapping) or set(limits) - {"hca_handles", "hca_objects"}:
            raise SpecError("rdma", f"{name}: expected hca_handles and/or hca_objects")
        handles, objects = (_int("rdma", limits.get(k), 0, U32_MAX)
                            for k in ("hca_handles", "hca_objects"))  # fmt: skip
        if handles is None and objects is None:
            raise SpecError("rdma", f"{name}: give hca_handles and/or hca_objects")
        out[name] = (handles, objects)
    return tuple((name, h, o) for name, (h, o) in sorted(out.items()))


def unified(value: object) -> tuple[tuple[str, str], ...]:
    """A cgroup v2 file name (``controller.parameter``) → the value to write to it."""
    if not value:
        return ()
    out: dict[str, str] = {}
    for key, text in _pairs("unified", value):
        if not isinstance(key, str) or "/" in key or "\x00" in key or key in (".", ".."):
            raise SpecError("unified", f"{key!r} must be a file name (no slashes)")
        controller, dot, parameter = key.partition(".")
        if not (controller and dot and parameter):
            raise SpecError("unified", f"{key!r} must be in the form CONTROLLER.PARAMETER")
        if key in RUNTIME_FILES:
            raise SpecError("unified", f"{key} is managed by the runtime and cannot be set")
        if not isinstance(text, str) or "\x00" in text:
            raise SpecError("unified", f"the value of {key} must be a string, got {text!r}")
        out[key] = text
    return tuple(sorted(out.items()))


def unified_controller(key: str) -> str:
    """The controller a ``unified`` file belongs to (``memory.high`` → ``memory``)."""
    return key.partition(".")[0]


# -- what a layout cannot honour ---------------------------------------------------------------
#
# cgroup v2 has no swappiness, OOM-killer switch, non-hierarchical accounting, kernel TCP
# limit, real-time bandwidth, leaf weights, net_cls or net_prio (runc ignores most of these
# on v2, crun refuses them; a limit is never dropped silently here). ``unified`` needs the
# cgroup2 hierarchy, and on a hybrid host only files of controllers that are not v1 ones.
# Checked before anything is written, so a refused limit leaves no group behind.

_V2_HAS_NO = {
    "memory_swappiness": "cgroup v2 has no per-group swappiness",
    "memory_kernel_tcp": "cgroup v2 has no kernel TCP buffer limit",
    "oom_kill_disable": "cgroup v2 cannot disable the OOM killer",
    "memory_use_hierarchy": "cgroup v2 always accounts hierarchically",
    "cpu_rt_runtime": "cgroup v2 has no real-time group bandwidth",
    "cpu_rt_period": "cgroup v2 has no real-time group bandwidth",
    "blkio_leaf_weight": "cgroup v2 has no leaf weights",
    "blkio_leaf_weight_device": "cgroup v2 has no leaf weights",
}
_CONTROLLER = {
    "memory_swappiness": "memory",
    "memory_kernel_tcp": "memory",
    "oom_kill_disable": "memory",
    "memory_use_hierarchy": "memory",
    "cpu_rt_runtime": "cpu",
    "cpu_rt_period": "cpu",
    "blkio_leaf_weight": "blkio",
    "blkio_leaf_weight_device": "blkio",
    "net_cls_classid": "net_cls",
    "net_prio_ifpriomap": "net_prio",
}


def _asks(res: Resources, field: str) -> bool:
    value = getattr(res, field)
    if field == "oom_kill_disable":
        return value is True  # False: the OOM killer stays, as everywhere on v2
    if field == "memory_use_hierarchy":
        return value is False  # True: what v2 always does
    return value not in (None, ())


_BLKIO_FILES = (
    ("blkio_weight", ("blkio.weight", "blkio.bfq.weight"), "use BFQ"),
    ("io_weight", ("blkio.weight", "blkio.bfq.weight"), "use BFQ"),
    ("blkio_weight_device", ("blkio.weight_device", "blkio.bfq.weight_device"), "use BFQ"),
    ("blkio_leaf_weight", ("blkio.leaf_weight",), "leaf weights were CFQ's, gone since Linux 5.0"),
    ("blkio_leaf_weight_device", ("blkio.leaf_weight_device",),
     "leaf weights were CFQ's, gone since Linux 5.0"),
)  # fmt: skip


def _blkio_files(res: Resources, root: str) -> tuple[str, str] | None:
    """A v1 weight the hierarchy has no file for (they come with the I/O scheduler: the
    root group has them when any group can).
    """
    for field, names, why in _BLKIO_FILES:
        if getattr(res, field) in (None, ()):
            continue
        if not any(os.path.exists(os.path.join(root, name)) for name in names):
            return (
                field,
                f"no {' nor '.join(names)} in {root}: the I/O scheduler has no weights ({why})",
            )
    return None


def refusal(res: Resources, layout: CgroupLayout) -> tuple[str, str] | None:
    """``(field, why)`` for the first field of ``res`` that ``layout`` cannot apply, or None."""
    v1 = layout.v1_controllers
    for field, controller in _CONTROLLER.items():
        if not _asks(res, field) or controller in v1:
            continue
        if field in _V2_HAS_NO:
            where = "v2" if layout.unified else "v1"
            why = _V2_HAS_NO[field] if where == "v2" else f"no v1 {controller} hierarchy"
            return field, f"{why} (the {controller} controller is not a v1 hierarchy here)"
        return field, f"{controller} is a cgroup v1 controller and is not mounted on this host"
    if "blkio" in v1:
        found = _blkio_files(res, layout.v1["blkio"])
        if found is not None:
            return found
    if res.rdma and "rdma" not in v1:
        root = layout.unified
        text = ""
        if root is not None:
            try:
                with open(os.path.join(root, "cgroup.controllers")) as f:
                    text = f.read()
            except OSError:
                pass
        if "rdma" not in text.split():
            return "rdma", "the rdma controller is not available on this host"
    if res.unified:
        if layout.unified is None:
            return "unified", "cgroup v2 files need a cgroup2 hierarchy; this host has no cgroup2"
        for key, _ in res.unified:
            controller = unified_controller(key)
            if controller in v1 or (controller == "io" and "blkio" in v1):
                return "unified", (
                    f"{key}: the {controller} controller is a cgroup v1 hierarchy on this "
                    f"{layout.kind} host (use its own field)"
                )
    return None


__all__ = [
    "RUNTIME_FILES",
    "blkio_leaf_weight",
    "blkio_leaf_weight_device",
    "blkio_weight_device",
    "cpu_burst",
    "cpu_idle",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "memory_check_before_update",
    "memory_kernel_tcp",
    "memory_swappiness",
    "memory_use_hierarchy",
    "net_cls_classid",
    "net_prio_ifpriomap",
    "oom_kill_disable",
    "rdma",
    "refusal",
    "unified",
    "unified_controller",
]
