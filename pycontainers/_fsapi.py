"""Typed wrappers over the native shim's fd-based mount API (fsopen, fsconfig, fsmount,
move_mount, open_tree, idmapped trees), openat2 and syncfs.

The constants come from the kernel headers, compiled into the shim (_native/sysconsts.h);
failures raise :class:`~pycontainers.errors.SyscallError` naming the call and the path, as
:mod:`pycontainers._sys` (which holds the shim) does.
"""

from __future__ import annotations

import os

from pycontainers import _sys

AT_FDCWD: int = _sys.lib.AT_FDCWD
AT_EMPTY_PATH: int = _sys.lib.AT_EMPTY_PATH
AT_RECURSIVE: int = _sys.lib.AT_RECURSIVE
OPEN_TREE_CLONE: int = _sys.lib.OPEN_TREE_CLONE
OPEN_TREE_CLOEXEC: int = _sys.lib.OPEN_TREE_CLOEXEC
FSOPEN_CLOEXEC: int = _sys.lib.FSOPEN_CLOEXEC
FSMOUNT_CLOEXEC: int = _sys.lib.FSMOUNT_CLOEXEC
FSCONFIG_SET_FLAG: int = _sys.lib.FSCONFIG_SET_FLAG
FSCONFIG_SET_STRING: int = _sys.lib.FSCONFIG_SET_STRING
FSCONFIG_SET_FD: int = _sys.lib.FSCONFIG_SET_FD
FSCONFIG_CMD_CREATE: int = _sys.lib.FSCONFIG_CMD_CREATE
MOUNT_ATTR_RDONLY: int = _sys.lib.MOUNT_ATTR_RDONLY
MOUNT_ATTR_NOSUID: int = _sys.lib.MOUNT_ATTR_NOSUID
MOUNT_ATTR_NODEV: int = _sys.lib.MOUNT_ATTR_NODEV
MOVE_MOUNT_F_EMPTY_PATH: int = _sys.lib.MOVE_MOUNT_F_EMPTY_PATH
RESOLVE_NO_XDEV: int = _sys.lib.RESOLVE_NO_XDEV
RESOLVE_NO_MAGICLINKS: int = _sys.lib.RESOLVE_NO_MAGICLINKS
RESOLVE_NO_SYMLINKS: int = _sys.lib.RESOLVE_NO_SYMLINKS
RESOLVE_BENEATH: int = _sys.lib.RESOLVE_BENEATH
RESOLVE_IN_ROOT: int = _sys.lib.RESOLVE_IN_ROOT


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else os.fsencode(value)


def fsopen(fstype: str, flags: int = FSOPEN_CLOEXEC) -> int:
    """A new filesystem context for ``fstype`` (fsopen(2)); returns its fd."""
    return _sys._check(_sys.lib.pc_fsopen(fstype.encode(), flags), "fsopen", fstype)


def fsconfig_string(fd: int, key: str, value: str | bytes) -> None:
    """Set ``key`` to the string ``value`` (at most 255 bytes) in the context ``fd``."""
    raw = _b(value)
    what = f"{key}={os.fsdecode(raw)}"
    _sys._check(
        _sys.lib.pc_fsconfig(fd, FSCONFIG_SET_STRING, key.encode(), raw, 0), "fsconfig", what
    )


def fsconfig_flag(fd: int, key: str) -> None:
    """Set the flag ``key`` in the filesystem context ``fd``."""
    _sys._check(
        _sys.lib.pc_fsconfig(fd, FSCONFIG_SET_FLAG, key.encode(), _sys.ffi.NULL, 0), "fsconfig", key
    )


def fsconfig_fd(fd: int, key: str, value_fd: int) -> None:
    """Set ``key`` to the open file ``value_fd`` in the filesystem context ``fd``."""
    rc = _sys.lib.pc_fsconfig(fd, FSCONFIG_SET_FD, key.encode(), _sys.ffi.NULL, value_fd)
    _sys._check(rc, "fsconfig", f"{key}=fd {value_fd}")


def fsconfig_create(fd: int) -> None:
    """Create the superblock of the filesystem context ``fd`` (FSCONFIG_CMD_CREATE)."""
    _sys._check(
        _sys.lib.pc_fsconfig(fd, FSCONFIG_CMD_CREATE, _sys.ffi.NULL, _sys.ffi.NULL, 0),
        "fsconfig",
        "create",
    )


def fsmount(fd: int, attr_flags: int = 0, flags: int = FSMOUNT_CLOEXEC) -> int:
    """A detached mount of the created context ``fd`` (``MOUNT_ATTR_*``); returns its fd."""
    return _sys._check(_sys.lib.pc_fsmount(fd, flags, attr_flags), "fsmount", f"fd {fd}")


def move_mount(tree_fd: int, target: str, flags: int = MOVE_MOUNT_F_EMPTY_PATH) -> None:
    """Attach the detached mount ``tree_fd`` at ``target`` (move_mount(2))."""
    rc = _sys.lib.pc_move_mount(tree_fd, b"", AT_FDCWD, os.fsencode(target), flags)
    _sys._check(rc, "move_mount", path=target)


def openat2(dirfd: int, path: str, flags: int, *, mode: int = 0, resolve: int = 0) -> int:
    """openat2(2) of ``path`` below ``dirfd`` with ``RESOLVE_*`` bits; always close-on-exec."""
    rc = _sys.lib.pc_openat2(dirfd, os.fsencode(path), flags | os.O_CLOEXEC, mode, resolve)
    return _sys._check(rc, "openat2", path=path)


def open_in_root(dirfd: int, path: str, flags: int = os.O_PATH) -> int:
    """Open ``path`` as a process chrooted at ``dirfd`` would (``RESOLVE_IN_ROOT``, no magic
    links): ``..`` stops at the root and absolute symlinks restart there. Without openat2
    any symlink or ``..`` is refused instead.
    """
    rc = _sys.lib.pc_openat2_beneath(dirfd, os.fsencode(path), flags, 1)
    return _sys._check(rc, "openat2", f"{path}, RESOLVE_IN_ROOT", path=path)


def syncfs(path: str | os.PathLike[str]) -> None:
    """Flush the filesystem holding ``path`` (syncfs(2))."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _sys._check(_sys.lib.pc_syncfs(fd), "syncfs", path=os.fspath(path))
    finally:
        os.close(fd)


def mount_in(
    cwd_fd: int,
    source: str | None,
    target: str,
    fstype: str,
    flags: int = 0,
    data: str | bytes | None = None,
    *,
    detached: bool = False,
) -> int:
    """mount(2) from a helper thread whose working directory is ``cwd_fd``: relative paths
    in ``data`` resolve there, and the process's own cwd never changes. With ``detached``
    the mount is made in a private mount namespace of that thread and a detached clone of
    it is returned (an fd, as :func:`fsmount` gives; the caller closes it), else 0.
    """
    raw = _sys.ffi.NULL if data is None else _b(data)
    rc = _sys.lib.pc_mount_in(
        cwd_fd, _sys._c(source), os.fsencode(target), _sys._c(fstype), flags, raw, int(detached)
    )
    return _sys._check(rc, "mount", path=target)


def open_tree(path: str, flags: int = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE) -> int:
    """A detached copy of the mount tree at ``path`` (open_tree(2)); returns its fd."""
    return _sys._check(_sys.lib.pc_open_tree(path.encode(), flags), "open_tree", path=path)


def idmap_tree(tree_fd: int, userns_fd: int) -> None:
    """Make a detached mount tree idmapped through the user namespace ``userns_fd``."""
    _sys._check(
        _sys.lib.pc_mount_setattr_idmap(tree_fd, userns_fd, AT_EMPTY_PATH | AT_RECURSIVE),
        "mount_setattr",
        "MOUNT_ATTR_IDMAP",
    )


__all__ = [
    "AT_EMPTY_PATH",
    "AT_FDCWD",
    "AT_RECURSIVE",
    "FSCONFIG_CMD_CREATE",
    "FSCONFIG_SET_FD",
    "FSCONFIG_SET_FLAG",
    "FSCONFIG_SET_STRING",
    "FSMOUNT_CLOEXEC",
    "FSOPEN_CLOEXEC",
    "MOUNT_ATTR_NODEV",
    "MOUNT_ATTR_NOSUID",
    "MOUNT_ATTR_RDONLY",
    "MOVE_MOUNT_F_EMPTY_PATH",
    "OPEN_TREE_CLOEXEC",
    "OPEN_TREE_CLONE",
    "RESOLVE_BENEATH",
    "RESOLVE_IN_ROOT",
    "RESOLVE_NO_MAGICLINKS",
    "RESOLVE_NO_SYMLINKS",
    "RESOLVE_NO_XDEV",
    "fsconfig_create",
    "fsconfig_fd",
    "fsconfig_flag",
    "fsconfig_string",
    "fsmount",
    "fsopen",
    "idmap_tree",
    "mount_in",
    "move_mount",
    "open_in_root",
    "open_tree",
    "openat2",
    "syncfs",
]
