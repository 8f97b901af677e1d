"""The field checks every spec module shares (paths, host names, volume names).

Part of :mod:`pycontainers.spec`, which re-exports the public names.
"""

from __future__ import annotations

import posixpath
import re

from pycontainers.errors import SpecError

# patterns only some specs need: compiled on first use (re's cache), not by every import
_HOSTNAME_LABEL = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
_VOLUME_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$"


def fail(field: str, message: str) -> SpecError:
    return SpecError(field, message)


def check_container_path(field: str, path: str) -> str:
    """Return ``path`` normalized if it is an absolute path free of ``..``; else raise."""
    if not isinstance(path, str) or not path:
        raise fail(field, f"must be a non-empty absolute path, got {path!r}")
    if "\x00" in path:
        raise fail(field, "must not contain NUL bytes")
    if not path.startswith("/"):
        raise fail(field, f"must be an absolute path inside the container, got {path!r}")
    if ".." in path.split("/"):
        raise fail(field, f"must not contain '..' components, got {path!r}")
    return posixpath.normpath(path).replace("//", "/")


def check_hostname(field: str, name: str | None) -> None:
    """Raise unless ``name`` is a valid RFC 1123 host name of at most 64 bytes."""
    if name is None:
        return
    if not isinstance(name, str) or not name or len(name.encode()) > 64:
        raise fail(field, f"must be 1 to 64 characters, got {name!r}")
    if not all(re.match(_HOSTNAME_LABEL, label) for label in name.split(".")):
        raise fail(field, f"{name!r} is not a valid host name (letters, digits, '-' and '.')")


def check_volume_name(name: str, field: str = "name") -> str:
    """Raise :class:`SpecError` unless ``name`` is a valid volume name (Docker's rule)."""
    if not isinstance(name, str) or not re.match(_VOLUME_NAME, name):
        raise fail(field, f"invalid volume name {name!r}: letters, digits, '_', '.', '-'")
    return name


__all__ = ["check_container_path", "check_hostname", "check_volume_name", "fail"]
