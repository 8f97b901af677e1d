"""Trees read and written through directory fds, never through a container's symlinks.

* :func:`open_in_root` resolves a container path with ``openat2(RESOLVE_IN_ROOT)``: ``..``
  stops at the root fd and absolute symlinks restart there, as the container sees them.
* :func:`tar_tree` writes a tree as a tar stream, opening every entry relative to its
  parent's fd with ``O_NOFOLLOW`` (symlinks are stored as symlinks, never followed).
* :func:`extract` unpacks a tar stream below a directory fd with the layer unpacker's
  per-entry safety (``..``, absolute names, links out and writes through symlinks refused).
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator

from pycontainers import _fsapi
from pycontainers._log import get_logger
from pycontainers.errors import ContainerError

log = get_logger("pycontainers.runtime")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20

#: Maps a (uid, gid) pair to the one to record (identity without a user namespace).
IdMap = Callable[[int, int], tuple[int, int]]


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH) -> int:
    """Open ``path`` as a process chrooted at ``root_fd`` would (``RESOLVE_IN_ROOT``).

    Symlinks are followed but stay inside the root, magic links (``/proc/*/fd``) are
    refused. Add ``os.O_NOFOLLOW`` to get a final symlink itself. Raises
    :class:`~pycontainers._sys.SyscallError` naming ``openat2`` and the path.
    """
    return _fsapi.open_in_root(root_fd, path, flags)


def _identity(uid: int, gid: int) -> tuple[int, int]:
    return uid, gid


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _info(name: str, st: os.stat_result, ids: IdMap) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = ids(st.st_uid, st.st_gid)
    info.mtime = int(st.st_mtime)
    info.uname = info.gname = ""
    return info


class _TarWriter:
    """State of one :func:`tar_tree` walk: hard links seen and mount points to skip."""

    def __init__(
        self, ids: IdMap, skip: frozenset[str], root_dev: int | None, skip_devs: frozenset[int]
    ) -> None:
        self.ids = ids
        self.skip = skip
        self.root_dev = root_dev
        self.skip_devs = skip_devs
        self.links: dict[tuple[int, int], str] = {}

    def entry(self, dfd: int, name: str, arc: str, path: str) -> Iterator[bytes]:
        """The tar records of ``name`` in ``dfd`` (recursively), ``path`` its container path."""
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return  # removed meanwhile (a running container)
        mode = st.st_mode
        info = _info(arc, st, self.ids)
        if stat.S_ISDIR(mode):
            info.type = tarfile.DIRTYPE
            info.name = arc.rstrip("/") + "/" if arc != "." else "./"
            yield _header(info)
            if (
                path in self.skip
                or st.st_dev in self.skip_devs
                or (self.root_dev is not None and st.st_dev != self.root_dev)
            ):
                return  # another mount (proc, a volume...): only its mount point
            sub = os.open(name, _DIR_FLAGS, dir_fd=dfd)
            try:
                yield from self.children(sub, info.name if arc != "." else "", path)
            finally:
                os.close(sub)
            return
        if path in self.skip:
            return  # a file bind-mounted over the rootfs (/etc/hosts...)
        if stat.S_ISLNK(mode):
            info.type = tarfile.SYMTYPE
            try:
                info.linkname = os.readlink(name, dir_fd=dfd)
            except FileNotFoundError:
                return
            yield _header(info)
        elif stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                info.type = tarfile.LNKTYPE
                info.linkname = self.links[key]
                yield _header(info)
                return
            if st.st_nlink > 1:
                self.links[key] = arc
            yield from self._file(dfd, name, info)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            yield _header(info)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
            yield _header(info)
        else:
            log.debug("tree.skipped", path=path, mode=oct(mode))  # sockets

    def children(self, dfd: int, prefix: str, path: str) -> Iterator[bytes]:
        """The records of every entry of the directory ``dfd``, sorted by name."""
        for child in sorted(os.listdir(dfd)):
            child_path = f"{path.rstrip('/')}/{child}"
            yield from self.entry(dfd, child, f"{prefix}{child}", child_path)

    def _file(self, dfd: int, name: str, info: tarfile.TarInfo) -> Iterator[bytes]:
        try:
            fd = os.open(
                name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd
            )
        except FileNotFoundError:
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # swapped for something else meanwhile
                return
            info.size = st.st_size
            yield _header(info)
            left = st.st_size
            while left:
                chunk = os.read(fd, min(left, _CHUNK))
                if not chunk:  # it shrank while read: pad, the header is out already
                    log.warning("tree.file_shrank", path=info.name)
                    yield bytes(left)
                    break
                left -= len(chunk)
                yield chunk
        finally:
            os.close(fd)
        pad = -info.size % tarfile.BLOCKSIZE
        if pad:
            yield bytes(pad)


def tar_tree(
    parent_fd: int,
    name: str,
    arcname: str,
    *,
    path: str = "/",
    ids: IdMap = _identity,
    skip: Iterable[str] = (),
    same_mount: bool = False,
    skip_devs: Iterable[int] = (),
) -> Iterator[bytes]:
    """``name`` in the directory ``parent_fd`` (``"."``: the directory itself) as a tar
    stream whose top entry is ``arcname`` (``"."``: the directory's entries at the top).

    ``path`` is the entry's container path, matched against ``skip`` (mount points whose
    content is left out: directories appear empty, files not at all); ``same_mount``
    also leaves out the content of directories on another device than the top one, and
    ``skip_devs`` that of directories on those devices.
    ``ids`` maps owners (host ids to the container's in a user namespace).
    """
    root_dev = os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_dev if same_mount else None
    writer = _TarWriter(ids, frozenset(p for p in skip if p != "/"), root_dev, frozenset(skip_devs))
    yield from writer.entry(parent_fd, name, arcname, path)
    yield bytes(2 * tarfile.BLOCKSIZE)


def extract(
    dest_fd: int,
    chunks: Iterator[bytes],
    *,
    ids: IdMap = _identity,
    special_files: bool = False,
) -> int:
    """Unpack the tar stream ``chunks`` below the directory ``dest_fd``; return the count.

    Each parent is resolved ``RESOLVE_BENEATH`` ``dest_fd`` and each entry created without
    following symlinks: ``..``, absolute names, hard links out of the tree and writes
    through a symlink raise :class:`ContainerError`. ``.wh.`` names are refused (a copy is
    not a layer). Device nodes and fifos only with ``special_files``. Owners are kept,
    mapped through ``ids`` (the container's ids to the host's).
    """
    from pycontainers.images._errors import LayerError
    from pycontainers.images._tar import BLOCKDEV, CHARDEV, FIFO, TarReader
    from pycontainers.images._unpack import WHITEOUT_PREFIX, _Applier

    applier = _Applier(
        dest_fd, overlay=False, userxattr=False, lower_fds=(), same_owner=os.geteuid() == 0
    )
    reader = TarReader(chunks)
    name = ""
    try:
        for entry in reader:
            name = entry.name
            if entry.name.rstrip("/").rpartition("/")[2].startswith(WHITEOUT_PREFIX):
                raise ContainerError(f"refusing {entry.name!r}: '.wh.' names are layer whiteouts")
            if entry.type in (CHARDEV, BLOCKDEV, FIFO) and not special_files:
                raise ContainerError(f"refusing {entry.name!r}: device nodes and fifos")
            entry.uid, entry.gid = ids(entry.uid, entry.gid)
            applier.apply(entry, reader)
        applier.finish()
    except LayerError as exc:
        raise ContainerError(f"unsafe or malformed archive: {exc}") from None
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.ELOOP):
            raise ContainerError(
                f"{name!r} leads out of the destination", errno=exc.errno
            ) from None
        raise ContainerError(
            f"cannot extract {name!r}: {exc.strerror or exc}", errno=exc.errno
        ) from None
    finally:
        applier.close()
    return applier.entries


KERNEL_FS = frozenset({b"proc", b"sysfs", b"devpts", b"mqueue", b"cgroup", b"cgroup2", b"devtmpfs"})


def mountpoints(pid: int, *, kernel_only: bool = False) -> set[str]:
    """The mount points of process ``pid``, as paths below its root; with
    ``kernel_only`` those of kernel filesystems (proc, sysfs, devpts...) and /dev.
    """
    out = set()
    with open(f"/proc/{pid}/mountinfo", "rb") as f:
        for line in f:
            fields = line.split()
            point = _unescape(fields[4])
            fstype = fields[fields.index(b"-") + 1]
            if not kernel_only or fstype in KERNEL_FS or point == "/dev":
                out.add(point)
    return out


def _unescape(raw: bytes) -> str:
    """Decode mountinfo's octal escapes (a space is written backslash, 040)."""
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i : i + 1] == b"\\" and raw[i + 1 : i + 4].isdigit():
            out.append(int(raw[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return os.fsdecode(bytes(out))


def read_id_map(path: str) -> tuple[tuple[int, int, int], ...]:
    """``/proc/PID/uid_map``-style lines as (inside, outside, count) triples."""
    with open(path) as f:
        return tuple(
            (int(a), int(b), int(c)) for a, b, c in (line.split() for line in f if line.strip())
        )


def id_mapper(
    uids: tuple[tuple[int, int, int], ...],
    gids: tuple[tuple[int, int, int], ...],
    *,
    to_host: bool,
) -> IdMap:
    """Map ids between a container's user namespace and the host (the overflow id 65534
    for an id the mapping does not cover); the identity for empty or 1:1 full mappings.
    """
    if not uids or uids == ((0, 0, 4294967295),):
        return _identity

    def one(value: int, maps: tuple[tuple[int, int, int], ...]) -> int:
        for inside, outside, count in maps:
            src, dst = (inside, outside) if to_host else (outside, inside)
            if src <= value < src + count:
                return dst + value - src
        return 65534

    return lambda uid, gid: (one(uid, uids), one(gid, gids))


__all__ = ["extract", "id_mapper", "mountpoints", "open_in_root", "read_id_map", "tar_tree"]
