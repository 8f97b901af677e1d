"""runtime-spec ``linux.resources`` -> :class:`~pycontainers.cgroups.Resources`.

Every field is applied or refused with an :class:`~pycontainers.errors.OciConfigError`
naming its JSON path; nothing is dropped silently. Device rules get the default devices a
container always needs (``/dev/null``, ``/dev/zero``, ptys...) allowed after the config's
own, as runc adds them.
"""

from __future__ import annotations

from typing import Any

from pycontainers.cgroups._devices import DeviceRule, IoDeviceLimit
from pycontainers.cgroups._resources import Resources
from pycontainers.errors import OciConfigError, SpecError

DEFAULT_ALLOWED = (
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
)  # fmt: skip
"""The devices runc allows whatever the config says (null, zero, full, random, urandom,
tty, console, ptmx, the ptys, tun)."""


def oci_resources(doc: Any, where: str = "linux.resources") -> Resources:
    """The cgroup limits of a ``linux.resources`` object (None: no limits, a group still)."""
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
    try:
        return Resources(**fields)
    except SpecError as exc:
        raise OciConfigError(f"{where}.{exc.field}", str(exc).split(": ", 1)[-1]) from None


def _num(obj: dict[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise OciConfigError(f"{where}.{key}", f"expected an integer, got {value!r}")
    return value


def _refuse_rest(obj: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key, value in obj.items():
        if key in known or value in (None, False, 0, "", [], {}):
            continue
        if key == "swappiness" and value == 60:  # the kernel's default: nothing to set
            continue
        raise OciConfigError(f"{where}.{key}", "not supported by pycontainers-runtime")


def _memory(obj: Any, where: str, out: dict[str, Any]) -> None:
    _check_obj(obj, where)
    _refuse_rest(obj, ("limit", "reservation", "swap"), where)
    for key, field in (("limit", "memory_max"), ("reservation", "memory_low"),
                       ("swap", "memory_swap")):  # fmt: skip
        value = _num(obj, key, where)
        if value is not None and value != 0:
            out[field] = value


def _cpu(obj: Any, where: str, out: dict[str, Any]) -> None:
    _check_obj(obj, where)
    _refuse_rest(obj, ("shares", "quota", "period", "cpus", "mems"), where)
    for key, field in (("shares", "cpu_shares"), ("quota", "cpu_quota"), ("period", "cpu_period")):
        value = _num(obj, key, where)
        if value is not None and value != 0:
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
    _refuse_rest(obj, ("weight", *kinds), where)
    weight = _num(obj, "weight", where)
    if weight:
        out["blkio_weight"] = weight
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
}

__all__ = ["DEFAULT_ALLOWED", "oci_resources"]
