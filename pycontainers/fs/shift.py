"""Make a rootfs usable under a user-namespace mapping when idmapped mounts are not there.

:func:`shifted_copy` copies a tree with every uid and gid moved into the mapping's host
range (what the container sees as 0 is owned by the mapping's host id for 0), cached per
(source, mapping) under the data root and made atomically (a temporary directory renamed
into place). :func:`idmap_supported` says whether the kernel and the source's filesystem
can do the cheaper idmapped mount instead.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import stat
from collections.abc import Sequence

from pycontainers.errors import ContainerStartError
from pycontainers.paths import default_data_root as default_data_root  # re-export
from pycontainers.spec import IdMapping

CACHE_DIR = "shifted"


def _shift(value: int, maps: tuple[IdMapping, ...], what: str, path: str) -> int:
    for m in maps:
        if m.container_id <= value < m.container_id + m.size:
            return m.host_id + value - m.container_id
    raise ContainerStartError(
        "rootfs",
        0,
        f"rootfs: {path} is owned by {what} {value}, which the user namespace does not map",
    )


def _copy_shifted(
    src: str, dst: str, uids: tuple[IdMapping, ...], gids: tuple[IdMapping, ...]
) -> None:
    st = os.lstat(src)
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        os.mkdir(dst, 0o700)
        with os.scandir(src) as entries:
            for entry in entries:
                _copy_shifted(entry.path, os.path.join(dst, entry.name), uids, gids)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
    else:  # devices, fifos, sockets
        os.mknod(dst, mode, st.st_rdev)
    os.lchown(dst, _shift(st.st_uid, uids, "uid", src), _shift(st.st_gid, gids, "gid", src))
    if not stat.S_ISLNK(mode):
        os.chmod(dst, stat.S_IMODE(mode))  # after chown, which clears setuid/setgid
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def shifted_copy(
    rootfs: str,
    uids: tuple[IdMapping, ...],
    gids: tuple[IdMapping, ...],
    data_root: str | None = None,
) -> str:
    """Return a copy of ``rootfs`` owned as the mapping wants, made once per mapping.

    The cache is keyed by the source path and the mapping: after changing the source
    directory, remove ``<data root>/shifted`` to have it copied again.
    """
    source = os.path.realpath(rootfs)
    key = hashlib.sha256(repr((source, uids, gids)).encode()).hexdigest()[:32]
    cache = os.path.join(data_root or default_data_root(), CACHE_DIR)
    target = os.path.join(cache, key)
    if os.path.isdir(target):
        return target
    os.makedirs(cache, mode=0o711, exist_ok=True)
    tmp = f"{target}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        _copy_shifted(source, tmp, uids, gids)
        os.rename(tmp, target)
    except FileExistsError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process made it first
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in (39, 17):  # ENOTEMPTY/EEXIST from rename: made concurrently
            return target
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


@functools.cache
def _idmap_supported_on(device: int, path: str) -> bool:
    from pycontainers import _fsapi, _sys

    pid, pidfd = _sys.spawn_hold(_sys.CLONE_NEWUSER)
    tree = -1
    try:
        userns = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        try:
            tree = _fsapi.open_tree(path)
            _fsapi.idmap_tree(tree, userns)
            return True
        except OSError:
            return False
        finally:
            os.close(userns)
    finally:
        if tree >= 0:
            os.close(tree)
        _sys.pidfd_send_signal(pidfd, 9)
        _sys.reap(pidfd)
        os.close(pidfd)


def idmapped_tree(
    path: str,
    uid_mappings: Sequence[IdMapping],
    gid_mappings: Sequence[IdMapping],
    recursive: bool,
) -> int:
    """A detached copy of the mount at ``path`` (and those under it when ``recursive``),
    idmapped through a user namespace of the given mappings (made for it, and gone once
    the mount holds it); returns the mount's fd. OSError if the kernel or filesystem
    cannot.
    """
    from pycontainers import _fsapi, _plan, _sys

    # a child that only makes the namespace: it waits for a release it never gets (its
    # root need not be mapped), and is killed once the namespace is open
    child = _sys.spawn(_plan.Plan(argv=None, clone_flags=_sys.CLONE_NEWUSER,
                                  fds=((-1, 0), (-1, 1), (-1, 2))))  # fmt: skip
    tree = -1
    try:
        for name, side in (("uid_map", uid_mappings), ("gid_map", gid_mappings)):
            with open(f"/proc/{child.pid}/{name}", "w") as f:
                f.write("".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in side))
        userns = os.open(f"/proc/{child.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        try:
            flags = _fsapi.OPEN_TREE_CLONE | _fsapi.OPEN_TREE_CLOEXEC
            tree = _fsapi.open_tree(path, flags | (_fsapi.AT_RECURSIVE if recursive else 0))
            _fsapi.idmap_tree(tree, userns)
        finally:
            os.close(userns)
    except BaseException:
        if tree >= 0:
            os.close(tree)
        raise
    finally:
        _sys.pidfd_send_signal(child.pidfd, 9)
        _sys.reap(child.pidfd)
        os.close(child.pidfd)
        os.close(child.sock)
    return tree


def idmap_supported(path: str) -> bool:
    """Whether an idmapped mount of ``path`` works here (probed once per filesystem)."""
    if os.geteuid() != 0:
        return False
    return _idmap_supported_on(os.stat(path).st_dev, path)
