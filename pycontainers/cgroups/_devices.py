"""Devices in resource limits: device-cgroup rules (``"c 1:3 rwm"``), per-device I/O limits,
and the host device nodes a container is given (Docker's ``--device``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pycontainers.cgroups._units import UNLIMITED, parse_bytes, parse_int
from pycontainers.errors import SpecError

# compiled on first use (re's cache): most containers parse no rule
_RULE = r"^([abc])(?:\s+(\*|\d+):(\*|\d+)(?:\s+([rwm]{1,3}))?)?$"
_MAJOR_MINOR = r"^(\d+):(\d+)$"


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
        match = re.match(_RULE, value.strip()) if isinstance(value, str) else None
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


_PERMS = frozenset("rwm")


def _check_path(field: str, value: object) -> None:
    if not isinstance(value, str) or not value.startswith("/") or "\x00" in value:
        raise SpecError(field, f"must be an absolute path, got {value!r}")
    if ".." in value.split("/"):
        raise SpecError(field, f"must not contain '..' components, got {value!r}")


def _check_perms(field: str, value: object) -> None:
    if (
        not isinstance(value, str)
        or not value
        or not set(value) <= _PERMS
        or len(set(value)) != len(value)
    ):
        raise SpecError(
            field, f"permissions are some of r, w and m (such as 'rwm', 'r'); got {value!r}"
        )


@attrs.frozen
class DeviceMapping:
    """A host device node given to a container (Docker's ``--device``): the node at
    ``host_path`` (``type`` ``c`` or ``b``, ``major``:``minor``) appears at ``path`` in the
    container, and the device cgroup allows ``perms`` (some of ``r``, ``w``, ``m``) on it.

    :meth:`parse` reads Docker's ``HOST[:CONTAINER[:PERMS]]`` and looks the node up.
    """

    path: str
    host_path: str
    type: str
    major: int
    minor: int
    perms: str = "rwm"

    def __attrs_post_init__(self) -> None:
        _check_path("devices.path", self.path)
        _check_path("devices.host_path", self.host_path)
        if self.type not in ("c", "b"):
            raise SpecError("devices.type", f"c (char) or b (block), got {self.type!r}")
        for name in ("major", "minor"):
            number = getattr(self, name)
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise SpecError(f"devices.{name}", f"a device number >= 0, got {number!r}")
        _check_perms("devices.perms", self.perms)

    @property
    def rule(self) -> DeviceRule:
        """The device-cgroup rule that allows this node (``"c 1:3 rw"``)."""
        perms = "".join(p for p in "rwm" if p in self.perms)
        return DeviceRule(self.type, self.major, self.minor, perms)

    @classmethod
    def parse(cls, field: str, value: str | DeviceMapping) -> DeviceMapping:
        """Docker's ``HOST[:CONTAINER[:PERMS]]`` (``"/dev/fuse"``, ``"/dev/sda:/dev/xvda:r"``,
        ``"/dev/null:rw"``), the host node looked up (symlinks followed): a missing path or
        one that is not a character or block device is a :class:`SpecError` naming ``field``.
        """
        if isinstance(value, DeviceMapping):
            return value
        if not isinstance(value, str) or not value:
            raise SpecError(field, f"expected 'HOST[:CONTAINER[:PERMS]]', got {value!r}")
        parts = value.split(":")
        if len(parts) > 3:
            raise SpecError(field, f"{value!r}: expected HOST[:CONTAINER[:PERMS]]")
        host, target, perms = parts[0], parts[0], "rwm"
        if len(parts) == 3:
            target, perms = parts[1], parts[2]
        elif len(parts) == 2 and parts[1] and not parts[1].startswith("/"):
            perms = parts[1]  # Docker: "/dev/x:rw" gives permissions, not a path
        elif len(parts) == 2:
            target = parts[1]
        _check_perms(field, perms)
        _check_path(field, host)
        _check_path(field, target)
        resolved = os.path.realpath(host)
        try:
            st = os.stat(resolved)
        except OSError as exc:
            raise SpecError(
                field,
                f"{value!r}: no device {host} on the host ({exc.strerror})",
                errno=exc.errno,
                path=host,
            ) from None
        if stat.S_ISCHR(st.st_mode):
            kind = "c"
        elif stat.S_ISBLK(st.st_mode):
            kind = "b"
        else:
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a device node"
            raise SpecError(
                field, f"{value!r}: {host} is {what} (give a character or block device)", path=host
            )
        rdev = st.st_rdev
        ordered = "".join(p for p in "rwm" if p in perms)
        return cls(target, resolved, kind, os.major(rdev), os.minor(rdev), ordered)


def device_mappings(field: str, value: object) -> tuple[DeviceMapping, ...]:
    """Parse a list of devices (one string is one device); a container path given twice
    is an error.
    """
    if value is None:
        return ()
    if isinstance(value, (str, DeviceMapping)):
        value = [value]
    if not isinstance(value, Iterable):
        raise SpecError(field, f"expected a list of 'HOST[:CONTAINER[:PERMS]]', got {value!r}")
    out = tuple(DeviceMapping.parse(field, v) for v in value)
    paths = [d.path for d in out]
    for path in paths:
        if paths.count(path) > 1:
            raise SpecError(field, f"two devices at {path} in the container")
    return out


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
    match = re.match(_MAJOR_MINOR, path)
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


_NODE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


@attrs.frozen
class DeviceNode:
    """A device node made in the container's ``/dev`` (OCI ``linux.devices``): ``type`` ``c``
    (or ``u``, unbuffered char), ``b`` or ``p`` (a fifo), ``major``:``minor``, the
    permission bits ``file_mode`` and the owner ``uid``/``gid`` (ids in the container).

    Making it does not allow it: the device cgroup decides what may be done with the node
    (``Resources.devices_allow``). In a user namespace, where mknod is impossible, the host's
    node at the same path is bound instead (it must be that device; its mode and owner stay
    the host's).
    """

    path: str
    type: str
    major: int = 0
    minor: int = 0
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0

    def __attrs_post_init__(self) -> None:
        _check_path("device_nodes.path", self.path)
        if not self.path.startswith("/dev/") or self.path.rstrip("/") == "/dev":
            raise SpecError("device_nodes.path", f"must be a path under /dev/, got {self.path!r}")
        if self.type not in _NODE_TYPES:
            raise SpecError("device_nodes.type", f"c, u, b or p; got {self.type!r}")
        for name, top in (("major", 0xFFFFFFFF), ("minor", 0xFFFFFFFF), ("file_mode", 0o7777),
                          ("uid", 0xFFFFFFFE), ("gid", 0xFFFFFFFE)):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                raise SpecError(f"device_nodes.{name}", f"an integer in 0..{top:#o}, got {value!r}"
                                if name == "file_mode" else
                                f"an integer in 0..{top}, got {value!r}")  # fmt: skip

    @property
    def mode(self) -> int:
        """``st_mode`` of the node: its file type and ``file_mode``."""
        return _NODE_TYPES[self.type] | self.file_mode

    @property
    def rdev(self) -> int:
        """``st_rdev`` of the node (0 for a fifo)."""
        return 0 if self.type == "p" else os.makedev(self.major, self.minor)


def device_nodes(field: str, value: object) -> tuple[DeviceNode, ...]:
    """A tuple of :class:`DeviceNode` (one path once)."""
    if value is None:
        return ()
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes)):
        raise SpecError(field, f"expected a list of DeviceNode, got {value!r}")
    out = tuple(value)
    for node in out:
        if not isinstance(node, DeviceNode):
            raise SpecError(field, f"expected DeviceNode objects, got {node!r}")
    paths = [os.path.normpath(n.path) for n in out]
    if len(set(paths)) != len(paths):
        raise SpecError(field, f"a path is given twice: {paths}")
    return out
