"""JSON for the spec values OCI has no field for, kept in ``io.pycontainers.*`` annotations.

Values are encoded as they are held (already normalized by their converters): attrs
objects of an allow-listed set become ``{"@type": NAME, field: value...}``, tuples become
lists, frozensets ``{"@set": [...]}``, addresses ``{"@ip": "..."}``, seccomp profiles their
Docker JSON. Decoding rebuilds each object without re-running converters (the stored value
is already the normal form) but with its validators and ``__attrs_post_init__`` checks, so
an edited value that breaks a rule is refused; every error names where it is. A field
added after a format was in use carries ``metadata={"omit_default": True}``: it is written
only when it differs from its default, so containers that do not use it stay readable by
the version before it (which refuses fields it does not know).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import attrs

from pycontainers.errors import CodecError as CodecError
from pycontainers.errors import SpecError

# NAME -> "module:Class"; nothing outside this list is ever built from a file
_TYPES = {
    "User": "pycontainers.spec:User",
    "Mount": "pycontainers.spec:Mount",
    "IdMapping": "pycontainers.spec:IdMapping",
    "OverlayRootfs": "pycontainers.spec:OverlayRootfs",
    "SecurityOptions": "pycontainers.spec:SecurityOptions",
    "Resources": "pycontainers.cgroups._resources:Resources",
    "IoDeviceLimit": "pycontainers.cgroups._devices:IoDeviceLimit",
    "DeviceRule": "pycontainers.cgroups._devices:DeviceRule",
    "DeviceMapping": "pycontainers.cgroups._devices:DeviceMapping",
    "NetworkSpec": "pycontainers.network.spec:NetworkSpec",
    "PortMapping": "pycontainers.network._portmap:PortMapping",
    "Bandwidth": "pycontainers.network._bandwidth:Bandwidth",
    "DetachOptions": "pycontainers.supervision:DetachOptions",
    "HealthCheck": "pycontainers.supervision:HealthCheck",
}


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value`` (see the module docstring)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    # A profile or an address can only exist if its module was imported: no import here.
    profiles = sys.modules.get("pycontainers.security._seccomp_profile")
    if profiles is not None and isinstance(value, profiles.SeccompProfile):
        return {"@seccomp": value.to_dict()}
    addresses = sys.modules.get("ipaddress")
    if addresses is not None and isinstance(value, (addresses.IPv4Address, addresses.IPv6Address)):
        return {"@ip": str(value)}
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, frozenset):
        return {"@set": sorted(encode(v) for v in value)}
    if attrs.has(type(value)):
        name = type(value).__name__
        if name not in _TYPES:
            raise TypeError(f"cannot store a {name} in a container config")
        out: dict[str, Any] = {"@type": name}
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if field.metadata.get("omit_default") and item == field.default:
                continue  # a newer field at its default: older readers never see it
            out[field.name] = encode(item)
        return out
    raise TypeError(f"cannot store a {type(value).__name__} in a container config")


def decode(data: Any, path: str) -> Any:
    """The value ``data`` encodes; a :class:`CodecError` naming ``path`` if it is not valid."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return tuple(decode(v, f"{path}[{i}]") for i, v in enumerate(data))
    if not isinstance(data, dict):
        raise CodecError(path, f"unexpected {type(data).__name__}")
    if "@ip" in data:
        import ipaddress

        try:
            return ipaddress.ip_address(data["@ip"])
        except ValueError as exc:
            raise CodecError(path, str(exc)) from None
    if "@set" in data:
        return frozenset(decode(data["@set"], f"{path}.@set"))
    if "@seccomp" in data:
        from pycontainers.security.seccomp import SeccompProfile

        try:
            return SeccompProfile.from_json(data["@seccomp"])
        except SpecError as exc:
            raise CodecError(f"{path}.@seccomp", str(exc)) from None
    return _decode_object(data, path)


def _decode_object(data: dict[str, Any], path: str) -> Any:
    name = data.get("@type")
    if name not in _TYPES:
        raise CodecError(f"{path}.@type", f"unknown or missing type {name!r}")
    module, _, cls_name = _TYPES[name].partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    fields = {f.name: f for f in attrs.fields(cls)}
    unknown = set(data) - set(fields) - {"@type"}
    if unknown:
        raise CodecError(f"{path}.{sorted(unknown)[0]}", f"unknown field of {name}")
    obj = object.__new__(cls)
    for fname, field in fields.items():
        if fname in data:
            value = decode(data[fname], f"{path}.{fname}")
        elif field.default is not attrs.NOTHING:
            default = field.default
            factory = getattr(default, "factory", None)
            value = factory() if factory is not None else default
        else:
            raise CodecError(f"{path}.{fname}", f"missing field of {name}")
        object.__setattr__(obj, fname, value)
    try:
        attrs.validate(obj)
        post_init = getattr(obj, "__attrs_post_init__", None)
        if post_init is not None:
            post_init()
    except (SpecError, ValueError, TypeError) as exc:
        raise CodecError(path, f"invalid {name}: {exc}") from None
    return obj


__all__ = ["CodecError", "decode", "encode"]
