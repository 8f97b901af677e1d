"""runtime-spec ``linux.resources`` -> :class:`~pycontainers.cgroups.Resources`.

Every field is applied or refused with an :class:`~pycontainers.errors.OciConfigError`
naming its JSON path, before anything is created; nothing is dropped silently. A field this
host's cgroups cannot honour (``memory.swappiness`` on cgroup v2, ``network`` without the v1
net_cls/net_prio hierarchies, ``unified`` without cgroup2...) is refused saying why. The one
exception is ``memory.kernel``: kernel memory limits are deprecated (Linux 6.x no longer
enforces them) and runc ignores them, so it is accepted with a warning
(``oci.resources_ignored``). Device rules get the default devices a container always needs
(``/dev/null``, ``/dev/zero``, ptys...) allowed after the config's own, as runc adds them.
"""

from __future__ import annotations

from typing import Any

from pycontainers._log import get_logger
from pycontainers.cgroups._devices import DeviceRule, IoDeviceLimit
from pycontainers.cgroups._resources import HOST_DEPENDENT, Resources
from pycontainers.errors import OciConfigError, SpecError

log = get_logger("pycontainers.oci")

JSON_PATHS = {
    "memory_max": "memory.limit", "memory_low": "memory.reservation", "memory_swap": "memory.swap",
    "memory_kernel_tcp": "memory.kernelTCP", "memory_swappiness": "memory.swappiness",
    "oom_kill_disable": "memory.disableOOMKiller", "memory_use_hierarchy": "memory.useHierarchy",
    "memory_check_before_update": "memory.checkBeforeUpdate",
    "cpu_shares": "cpu.shares", "cpu_quota": "cpu.quota", "cpu_period": "cpu.period",
    "cpuset_cpus": "cpu.cpus", "cpuset_mems": "cpu.mems", "cpu_rt_runtime": "cpu.realtimeRuntime",
    "cpu_rt_period": "cpu.realtimePeriod", "cpu_idle": "cpu.idle", "cpu_burst": "cpu.burst",
    "pids_max": "pids.limit", "blkio_weight": "blockIO.weight",
    "blkio_leaf_weight": "blockIO.leafWeight", "blkio_weight_device": "blockIO.weightDevice",
    "blkio_leaf_weight_device": "blockIO.weightDevice",
    "io_read_bps": "blockIO.throttleReadBpsDevice", "io_write_bps": "blockIO.throttleWriteBpsDevice",
    "io_read_iops": "blockIO.throttleReadIOPSDevice",
    "io_write_iops": "blockIO.throttleWriteIOPSDevice", "hugetlb": "hugepageLimits",
    "net_cls_classid": "network.classID", "net_prio_ifpriomap": "network.priorities",
    "rdma": "rdma", "unified": "unified", "devices_deny": "devices", "devices_allow": "devices",
}  # fmt: skip
"""Each :class:`Resources` field -> its JSON path below ``linux.resources``."""

DEFAULT_ALLOWED = (
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
)  # fmt: skip
"""The devices runc allows whatever the config says (null, zero, full, random, urandom,
tty, console, ptmx, the ptys, tun)."""


def oci_resources(
    doc: Any, where: str = "linux.resources", *, check_host: bool = True
) -> Resources:
    """The cgroup limits of a ``linux.resources`` object (None: no limits, a group still).

    ``check_host``: refuse (naming the JSON path) what this host's cgroups cannot honour.
    """
    fields = oci_resource_fields(doc, where)
    try:
        res = Resources(**fields)
    except SpecError as exc:
        path = JSON_PATHS.get(exc.field, exc.field)
        raise OciConfigError(f"{where}.{path}", str(exc).split(": ", 1)[-1]) from None
    if check_host and any(getattr(res, f) not in (None, ()) for f in HOST_DEPENDENT):
        from pycontainers.cgroups._layout import detect_layout
        from pycontainers.cgroups._resfields import refusal

        refused = refusal(res, detect_layout())
        if refused is not None:
            field, why = refused
            raise OciConfigError(
                f"{where}.{JSON_PATHS.get(field, field)}", f"not supported here: {why}"
            )
    return res


def oci_resource_fields(doc: Any, where: str = "linux.resources") -> dict[str, Any]:
    """The :class:`Resources` fields a ``linux.resources`` object sets (``memory_max`` →
    value), parsed but not checked together: an ``update`` checks them on top of the
    container's stored limits. A malformed or unsupported entry raises naming its JSON path.
    """
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise OciConfigError(where, f"expected an object, got {type(doc).__name__}")
    fields: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{where}.{key}"
        if value is None:
            continue
        if not isinstance(value, dict | list):
            raise OciConfigError(path, f"expected an object or a list, got {value!r}")
        handler = _SECTIONS.get(key)
        if handler is None:
            if value in ({}, []):
                continue
            raise OciConfigError(path, "not supported by pycontainers-runtime")
        handler(value, path, fields)
    return fields


def _num(obj: dict[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise OciConfigError(f"{where}.{key}", f"expected an integer, got {value!r}")
    return value


def _bool(obj: dict[str, Any], key: str, where: str) -> bool | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise OciConfigError(f"{where}.{key}", f"expected a boolean, got {value!r}")
    return value


def _refuse_rest(obj: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key, value in obj.items():
        if key in known or value in (None, False, 0, "", [], {}):
            continue
        raise OciConfigError(f"{where}.{key}", "not supported by pycontainers-runtime")


_UNSET_SWAPPINESS = (-1, (1 << 64) - 1)  # -1, or -1 read as a uint64 by a Go client


def _memory(obj: Any, where: str, out: dict[str, Any]) -> None:
    _check_obj(obj, where)
    _refuse_rest(obj, ("limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness",
                       "disableOOMKiller", "useHierarchy", "checkBeforeUpdate"), where)  # fmt: skip
    for key, field in (("limit", "memory_max"), ("reservation", "memory_low"),
                       ("swap", "memory_swap"), ("kernelTCP", "memory_kernel_tcp")):  # fmt: skip
        value = _num(obj, key, where)
        if value is not None and value != 0:
            out[field] = value
    if _num(obj, "kernel", where):
        log.warning("oci.resources_ignored", path=f"{where}.kernel",
                    reason="kernel memory limits are deprecated and ignored, as runc does")  # fmt: skip
    swappiness = _num(obj, "swappiness", where)
    if swappiness is not None and swappiness not in _UNSET_SWAPPINESS:
        out["memory_swappiness"] = swappiness
    for key, field in (("disableOOMKiller", "oom_kill_disable"),
                       ("useHierarchy", "memory_use_hierarchy"),
                       ("checkBeforeUpdate", "memory_check_before_update")):  # fmt: skip
        flag = _bool(obj, key, where)
        if flag is not None:
            out[field] = flag


def _cpu(obj: Any, where: str, out: dict[str, Any]) -> None:
    _check_obj(obj, where)
    _refuse_rest(obj, ("shares", "quota", "period", "cpus", "mems", "realtimeRuntime",
                       "realtimePeriod", "idle", "burst"), where)  # fmt: skip
    for key, field in (("shares", "cpu_shares"), ("quota", "cpu_quota"), ("period", "cpu_period"),
                       ("realtimeRuntime", "cpu_rt_runtime"),
                       ("realtimePeriod", "cpu_rt_period")):  # fmt: skip
        value = _num(obj, key, where)
        if value is not None and value != 0:
            out[field] = value
    for key, field in (("idle", "cpu_idle"), ("burst", "cpu_burst")):  # 0 means something
        value = _num(obj, key, where)
        if value is not None:
            out[field] = value
    for key, field in (("cpus", "cpuset_cpus"), ("mems", "cpuset_mems")):
        value = obj.get(key)
        if value not in (None, ""):
            if not isinstance(value, str):
                raise OciConfigError(f"{where}.{key}", f"expected a string, got {value!r}")
            out[field] = value


def _pids(obj: Any, where: str, out: dict[str, Any]) -> None:
    _check_obj(obj, where)
    _refuse_rest(obj, ("limit",), where)
    value = _num(obj, "limit", where)
    if value is not None and value != 0:
        out["pids_max"] = value


def _block_io(obj: Any, where: str, out: dict[str, Any]) -> None:
    _check_obj(obj, where)
    kinds = {"throttleReadBpsDevice": "io_read_bps", "throttleWriteBpsDevice": "io_write_bps",
             "throttleReadIOPSDevice": "io_read_iops", "throttleWriteIOPSDevice": "io_write_iops"}  # fmt: skip
    _refuse_rest(obj, ("weight", "leafWeight", "weightDevice", *kinds), where)
    weight = _num(obj, "weight", where)
    if weight:
        out["blkio_weight"] = weight
    leaf = _num(obj, "leafWeight", where)
    if leaf:
        out["blkio_leaf_weight"] = leaf
    _weight_devices(obj.get("weightDevice") or [], f"{where}.weightDevice", out)
    for key, field in kinds.items():
        items = obj.get(key) or []
        if not isinstance(items, list):
            raise OciConfigError(f"{where}.{key}", "expected a list")
        limits = []
        for i, item in enumerate(items):
            at = f"{where}.{key}[{i}]"
            _check_obj(item, at)
            major, minor, rate = (_num(item, k, at) for k in ("major", "minor", "rate"))
            if major is None or minor is None or rate is None:
                raise OciConfigError(at, "needs major, minor and rate")
            limits.append(IoDeviceLimit(f"{major}:{minor}", major, minor, rate))
        if limits:
            out[field] = tuple(limits)


def _weight_devices(items: Any, where: str, out: dict[str, Any]) -> None:
    if not isinstance(items, list):
        raise OciConfigError(where, "expected a list")
    weights: list[IoDeviceLimit] = []
    leaves: list[IoDeviceLimit] = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        _check_obj(item, at)
        major, minor = _num(item, "major", at), _num(item, "minor", at)
        if major is None or minor is None:
            raise OciConfigError(at, "needs major and minor")
        weight, leaf = _num(item, "weight", at), _num(item, "leafWeight", at)
        if not weight and not leaf:
            raise OciConfigError(at, "needs a weight or a leafWeight")
        for value, found in ((weight, weights), (leaf, leaves)):
            if value:
                found.append(IoDeviceLimit(f"{major}:{minor}", major, minor, value))
    if weights:
        out["blkio_weight_device"] = tuple(weights)
    if leaves:
        out["blkio_leaf_weight_device"] = tuple(leaves)


def _network(obj: Any, where: str, out: dict[str, Any]) -> None:
    _check_obj(obj, where)
    _refuse_rest(obj, ("classID", "priorities"), where)
    classid = _num(obj, "classID", where)
    if classid:
        out["net_cls_classid"] = classid
    items = obj.get("priorities") or []
    if not isinstance(items, list):
        raise OciConfigError(f"{where}.priorities", "expected a list")
    priorities: dict[str, int] = {}
    for i, item in enumerate(items):
        at = f"{where}.priorities[{i}]"
        _check_obj(item, at)
        name, priority = item.get("name"), _num(item, "priority", at)
        if not isinstance(name, str) or priority is None:
            raise OciConfigError(at, "needs name (a string) and priority")
        priorities[name] = priority
    if priorities:
        out["net_prio_ifpriomap"] = priorities


def _rdma(obj: Any, where: str, out: dict[str, Any]) -> None:
    _check_obj(obj, where)
    limits: dict[str, dict[str, int]] = {}
    for device, item in obj.items():
        at = f"{where}.{device}"
        _check_obj(item, at)
        _refuse_rest(item, ("hcaHandles", "hcaObjects"), at)
        got = {name: value for key, name in (("hcaHandles", "hca_handles"),
                                             ("hcaObjects", "hca_objects"))
               if (value := _num(item, key, at)) is not None}  # fmt: skip
        limits[device] = got  # none: Resources says what is missing
    if limits:
        out["rdma"] = limits


def _unified(obj: Any, where: str, out: dict[str, Any]) -> None:
    _check_obj(obj, where)
    for key, value in obj.items():
        if not isinstance(value, str):
            raise OciConfigError(f"{where}.{key}", f"expected a string, got {value!r}")
    if obj:
        out["unified"] = dict(obj)


def _hugepages(items: Any, where: str, out: dict[str, Any]) -> None:
    if not isinstance(items, list):
        raise OciConfigError(where, "expected a list")
    limits: dict[str, int] = {}
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        _check_obj(item, at)
        size, limit = item.get("pageSize"), _num(item, "limit", at)
        if not isinstance(size, str) or limit is None:
            raise OciConfigError(at, "needs pageSize (a string) and limit")
        limits[size.removesuffix("B")] = limit
    if limits:
        out["hugetlb"] = limits


def _devices(items: Any, where: str, out: dict[str, Any]) -> None:
    if not isinstance(items, list):
        raise OciConfigError(where, "expected a list")
    deny: list[DeviceRule] = []
    allow: list[DeviceRule] = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        _check_obj(item, at)
        allowed = item.get("allow")
        if not isinstance(allowed, bool):
            raise OciConfigError(f"{at}.allow", "expected a boolean")
        kind = item.get("type") or "a"
        access = item.get("access") or "rwm"
        if kind not in ("a", "b", "c") or not isinstance(access, str):
            raise OciConfigError(f"{at}.type", f"expected a, b or c, got {kind!r}")
        major, minor = _num(item, "major", at), _num(item, "minor", at)
        text = kind if kind == "a" else f"{kind} {_star(major)}:{_star(minor)} {access}"
        try:
            rule = DeviceRule.parse(at, text)
        except SpecError as exc:
            raise OciConfigError(at, str(exc).split(": ", 1)[-1]) from None
        if not allowed and allow:
            raise OciConfigError(
                at, "a deny rule after an allow rule cannot be applied in order here"
            )
        (allow if allowed else deny).append(rule)
    out["devices_deny"] = tuple(deny)
    out["devices_allow"] = (*allow, *(DeviceRule.parse(where, r) for r in DEFAULT_ALLOWED))


def _star(value: int | None) -> str:
    return "*" if value is None or value < 0 else str(value)


def _check_obj(obj: Any, where: str) -> None:
    if not isinstance(obj, dict):
        raise OciConfigError(where, f"expected an object, got {type(obj).__name__}")


_SECTIONS = {
    "memory": _memory,
    "cpu": _cpu,
    "pids": _pids,
    "blockIO": _block_io,
    "hugepageLimits": _hugepages,
    "devices": _devices,
    "network": _network,
    "rdma": _rdma,
    "unified": _unified,
}

__all__ = ["DEFAULT_ALLOWED", "JSON_PATHS", "oci_resource_fields", "oci_resources"]
