"""The changes in an overlay's upper directory as an OCI layer (a tar stream): overlay
whiteouts (0/0 character devices) become ``.wh.<name>`` entries and opaque directories a
``.wh..wh..opq`` marker.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tarfile
from collections.abc import Iterator

from pycontainers._log import get_logger
from pycontainers.fs.overlay import (
    _CHUNK,
    _OPAQUE_MARKER,
    _PRIVATE_XATTRS,
    _WHITEOUT_PREFIX,
    OverlayError,
)

log = get_logger("pycontainers.fs")


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _info(
    name: str,
    st: os.stat_result,
    xattrs: dict[str, bytes] | None = None,
    mtime_max: int | None = None,
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid = st.st_uid
    info.gid = st.st_gid
    info.mtime = int(st.st_mtime) if mtime_max is None else min(int(st.st_mtime), mtime_max)
    info.uname = info.gname = ""
    if xattrs:
        info.pax_headers = {
            f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()
        }
    return info


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    out = {}
    for name in sorted(names):
        with contextlib.suppress(OSError):
            out[name] = os.getxattr(path, name, follow_symlinks=False)
    return out


def upper_diff(
    upper: str | os.PathLike[str], *, userxattr: bool | None = None, mtime_max: int | None = None
) -> Iterator[bytes]:
    """An overlay upper directory as an OCI layer tar, in chunks of bytes.

    Whiteouts (0/0 character devices) become ``.wh.<name>`` entries and opaque directories
    (``trusted.overlay.opaque`` or ``user.overlay.opaque`` = ``y``) get a ``.wh..wh..opq``
    entry; hard links within the upper layer stay hard links; xattrs other than overlayfs'
    own go into PAX ``SCHILY.xattr.*`` records. Entries come in sorted order, so the same
    tree always gives the same tar. An upper made with ``redirect_dir`` or ``metacopy``
    raises :class:`OverlayError`: a tar cannot say "renamed" or "data is below".
    ``mtime_max`` (``SOURCE_DATE_EPOCH``) clamps every entry's mtime: reproducible layers.
    """
    root = os.fspath(upper)
    keys: tuple[str, ...] = ("trusted.overlay.", "user.overlay.")
    if userxattr is not None:
        keys = ("user.overlay.",) if userxattr else ("trusted.overlay.",)
    links: dict[tuple[int, int], str] = {}
    yield from _walk(root, "", keys, links, mtime_max)
    yield bytes(2 * tarfile.BLOCKSIZE)


def _walk(
    root: str,
    rel: str,
    keys: tuple[str, ...],
    links: dict[tuple[int, int], str],
    mtime_max: int | None = None,
) -> Iterator[bytes]:
    with os.scandir(os.path.join(root, rel) if rel else root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        name = f"{rel}/{entry.name}" if rel else entry.name
        path = entry.path
        st = entry.stat(follow_symlinks=False)
        xattrs = _xattrs(path)
        private = {k: v for k, v in xattrs.items() if k.startswith(_PRIVATE_XATTRS)}
        public = {k: v for k, v in xattrs.items() if not k.startswith(_PRIVATE_XATTRS)}
        for prefix in keys:
            if f"{prefix}redirect" in private or f"{prefix}metacopy" in private:
                raise OverlayError(
                    f"{name} was renamed or copied up metadata-only (redirect_dir/metacopy): "
                    "a layer tar cannot express that",
                    path=path,
                )
        mode = st.st_mode
        whiteout = stat.S_ISCHR(mode) and st.st_rdev == 0
        whiteout = whiteout or any(f"{p}whiteout" in private for p in keys)
        if whiteout:
            parent = name[: len(name) - len(entry.name)]
            info = _info(f"{parent}{_WHITEOUT_PREFIX}{entry.name}", st, None, mtime_max)
            info.mode = 0
            yield _header(info)
            continue
        if stat.S_ISDIR(mode):
            info = _info(f"{name}/", st, public, mtime_max)
            info.type = tarfile.DIRTYPE
            yield _header(info)
            if any(private.get(f"{p}opaque") == b"y" for p in keys):
                marker = _info(f"{name}/{_OPAQUE_MARKER}", st, None, mtime_max)
                marker.mode = 0
                yield _header(marker)
            yield from _walk(root, name, keys, links, mtime_max)
            continue
        info = _info(name, st, public, mtime_max)
        if stat.S_ISLNK(mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(path)
            yield _header(info)
            continue
        if st.st_nlink > 1 and not stat.S_ISDIR(mode):
            first = links.get((st.st_dev, st.st_ino))
            if first is not None:
                info.type = tarfile.LNKTYPE
                info.linkname = first
                yield _header(info)
                continue
            links[(st.st_dev, st.st_ino)] = name
        if stat.S_ISREG(mode):
            info.size = st.st_size
            yield _header(info)
            yield from _file_data(path, st.st_size, name)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor = os.major(st.st_rdev)
            info.devminor = os.minor(st.st_rdev)
            yield _header(info)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
            yield _header(info)
        else:
            log.warning("overlay.diff_skipped", path=name, mode=oct(mode))  # sockets


def _file_data(path: str, size: int, name: str) -> Iterator[bytes]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        left = size
        while left:
            chunk = os.read(fd, min(left, _CHUNK))
            if not chunk:
                raise OverlayError(f"{name} shrank while the diff was read", path=path)
            left -= len(chunk)
            yield chunk
    finally:
        os.close(fd)
    pad = -size % tarfile.BLOCKSIZE
    if pad:
        yield bytes(pad)
