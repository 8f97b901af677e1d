"""Resolve a container :class:`~pycontainers.spec.User` through the rootfs's own
/etc/passwd and /etc/group, read without following symlinks out of the rootfs.
"""

from __future__ import annotations

import os

from pycontainers.errors import SpecError
from pycontainers.spec import User


def _read_beneath(rootfs: str, path: str) -> str:
    from pycontainers import _sys

    try:
        root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        fd = _sys.open_beneath(root, path, os.O_RDONLY)
    except OSError:
        return ""
    finally:
        os.close(root)
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as f:
        return f.read(1 << 20)


def _entries(text: str, fields: int) -> list[list[str]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) >= fields:
            out.append(parts)
    return out


def resolve_user(
    user: User | None, rootfs: str | None, etc: dict[str, str] | None = None
) -> tuple[int, int, tuple[int, ...]]:
    """Return ``(uid, gid, supplementary gids)`` for ``user`` in the rootfs.

    A numeric uid without a gid takes the primary group from /etc/passwd when the uid is
    listed there (as Docker does), else gid 0 — never a name lookup of the number.
    ``etc`` supplies the files' text instead of reading the rootfs (the built-in image).
    """
    if user is None:
        return 0, 0, ()

    def read(path: str) -> str:
        if etc is not None:
            return etc.get(path, "")
        return _read_beneath(rootfs, path) if rootfs else ""

    passwd = _entries(read("/etc/passwd"), 7)
    if user.name is not None:
        match = [p for p in passwd if p[0] == user.name]
        if not match:
            raise SpecError(
                "user", f"unable to find user {user.name}: no matching entries in passwd file"
            )
        uid, gid, name = int(match[0][2]), int(match[0][3]), user.name
    else:
        assert user.uid is not None
        uid, gid, name = user.uid, 0, None
        for p in passwd:
            if p[2].isdigit() and int(p[2]) == uid:
                gid, name = int(p[3]), p[0]
                break
    if user.gid is not None:
        gid = user.gid
    groups: list[int] = list(user.additional_gids)
    if name is not None:
        for g in _entries(read("/etc/group"), 4):
            if name in g[3].split(",") and g[2].isdigit() and int(g[2]) not in groups:
                groups.append(int(g[2]))
    return uid, gid, tuple(groups)
