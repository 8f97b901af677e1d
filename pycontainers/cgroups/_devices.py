"""Devices in resource limits: device-cgroup rules (``"c 1:3 rwm"``) and per-device I/O limits."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pycontainers.cgroups._units import UNLIMITED, parse_bytes, parse_int
from pycontainers.errors import SpecError

_RULE = re.compile(r"^([abc])(?:\s+(\*|\d+):(\*|\d+)(?:\s+([rwm]{1,3}))?)?$")
_MAJOR_MINOR = re.compile(r"^(\d+):(\d+)$")


@attrs.frozen
class DeviceRule:
    """One device-cgroup rule: ``type`` ``a`` (all), ``b`` (block) or ``c`` (char), ``major``
    and ``minor`` (``None`` for ``*``) and ``access``, a subset of ``rwm``.

    ``str(rule)`` is the kernel's form (``"c 1:3 rwm"``), as written to ``devices.allow``.
    """

    type: str
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"

    @classmethod
    def parse(cls, field: str, value: str | DeviceRule) -> DeviceRule:
        """Parse a Docker ``--device-cgroup-rule`` (``"c 1:3 rwm"``, ``"b 8:* r"``, ``"a"``)."""
        if isinstance(value, DeviceRule):
            return value
        match = _RULE.match(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise SpecError(
                field, f"{value!r} is not a device rule such as 'c 1:3 rwm', 'b 8:* r' or 'a'"
            )
        kind, major, minor, access = match.groups()
        access = access or "rwm"
        if len(set(access)) != len(access):
            raise SpecError(field, f"access {access!r} in {value!r} repeats a letter")
        return cls(
            kind,
            None if major in (None, "*") else int(major),
            None if minor in (None, "*") else int(minor),
            "".join(a for a in "rwm" if a in access),
        )

    def __str__(self) -> str:
        major = "*" if self.major is None else self.major
        minor = "*" if self.minor is None else self.minor
        return f"{self.type} {major}:{minor} {self.access}"


def device_rules(field: str, value: object) -> tuple[DeviceRule, ...]:
    """Parse a list of device rules (one string is one rule)."""
    if value is None:
        return ()
    if isinstance(value, (str, DeviceRule)):
        value = [value]
    if not isinstance(value, Iterable):
        raise SpecError(field, f"expected a list of rules such as 'c 1:3 rwm', got {value!r}")
    return tuple(DeviceRule.parse(field, v) for v in value)


@attrs.frozen
class IoDeviceLimit:
    """A per-device I/O limit: the block device ``path`` (``major:minor``) and its ``rate``
    (bytes or operations per second; -1 lifts the limit).
    """

    path: str
    major: int
    minor: int
    rate: int

    @property
    def device(self) -> str:
        """``major:minor``, as cgroup files name devices."""
        return f"{self.major}:{self.minor}"


def _block_device(field: str, path: str) -> tuple[int, int]:
    """Stat ``path`` (or parse ``"major:minor"``) and return the block device's numbers."""
    match = _MAJOR_MINOR.match(path)
    if match:
        return int(match.group(1)), int(match.group(2))
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SpecError(
            field,
            f"device {path!r} does not exist ({exc.strerror})",
            errno=exc.errno,
            path=path,
        ) from exc
    if not stat.S_ISBLK(st.st_mode):
        raise SpecError(field, f"{path!r} is not a block device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def io_limits(field: str, value: Any, *, sizes: bool) -> tuple[IoDeviceLimit, ...]:
    """Parse per-device limits: ``{"/dev/vda": "1m"}``, Docker's ``[{"Path": ..., "Rate": ...}]``
    or ``(path, rate)`` pairs. ``sizes`` accepts ``"1m"`` (bytes per second); else counts.
    """
    if value is None:
        return ()
    items: Iterable[Any] = value.items() if isinstance(value, Mapping) else value
    if isinstance(items, (str, bytes)):
        raise SpecError(field, f"expected a mapping of device path to rate, got {value!r}")
    out: list[IoDeviceLimit] = []
    for item in items:
        if isinstance(item, IoDeviceLimit):
            out.append(item)
            continue
        if isinstance(item, Mapping):
            path, rate = item.get("Path"), item.get("Rate")
        elif isinstance(item, tuple) and len(item) == 2:
            path, rate = item
        else:
            raise SpecError(field, f"expected device path → rate, got {item!r}")
        if not isinstance(path, str) or not path:
            raise SpecError(field, f"expected a device path, got {path!r}")
        number = parse_bytes(field, rate) if sizes else _count(field, rate)
        if number == 0:
            raise SpecError(field, f"the rate for {path} must be positive (-1 lifts the limit)")
        major, minor = _block_device(field, path)
        out.append(IoDeviceLimit(path, major, minor, number))
    devices = [limit.device for limit in out]
    if len(set(devices)) != len(devices):
        raise SpecError(field, f"a device is given twice: {devices}")
    return tuple(out)


def _count(field: str, value: object) -> int:
    if value in (UNLIMITED, "max"):
        return UNLIMITED
    return parse_int(field, value, 1)
