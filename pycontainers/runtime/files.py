"""Files and processes of a container: ``cp`` both ways, ``top``, ``diff`` and ``export``.

Every container path is resolved with ``openat2(RESOLVE_IN_ROOT)`` on an fd of the
container's root, never by string: a symlink the container planted (``/evil -> /``,
``/etc/x -> ../../..``) resolves inside the container, as it would for a process there, and
can never lead to the host's files. The root is ``/proc/PID/root`` while the container runs
(its own mounts, volumes included, are seen) and, once it stopped, a detached overlay of its
image layers and its own layer, unmounted when the fd is closed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from pycontainers._log import get_logger
from pycontainers.errors import ContainerError

if TYPE_CHECKING:
    from pycontainers.images import Image
    from pycontainers.images.config import ImageConfig
    from pycontainers.runtime._tree import IdMap
    from pycontainers.runtime.container import Container

log = get_logger("pycontainers.runtime")

_LIVE = ("created", "running", "paused")
_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


# -- the container's root --------------------------------------------------------------


def _lowers(c: Container) -> tuple[str, ...] | None:
    """The container's image layers (top-most first), or None for a directory rootfs."""
    from pycontainers.spec import OverlayRootfs

    spec: Any = c.spec
    if spec is None and c.detached:
        from pycontainers.runtime.specfile import load_spec

        with contextlib.suppress(ContainerError):
            spec, _ = load_spec(c.state_dir)
    if spec is not None:
        return tuple(spec.rootfs.lowers) if isinstance(spec.rootfs, OverlayRootfs) else None
    image = getattr(c, "_image", "")
    if image:
        from pycontainers.images import default_store

        store = default_store()
        return tuple(store.snapshots_for(store.get(image)))
    return None


def _dir_rootfs(c: Container) -> str | None:
    spec: Any = c.spec
    rootfs = spec.rootfs if spec is not None else getattr(c, "_rootfs", "")
    if isinstance(rootfs, str) and rootfs.startswith("/") and os.path.isdir(rootfs):
        return rootfs
    return None


def _upper_work(c: Container) -> tuple[str, str] | None:
    upper = c.upper_dir
    if upper is None:
        return None
    work = os.path.join(os.path.dirname(upper), "work")
    return upper, work


@contextlib.contextmanager
def container_root(c: Container, *, write: bool = False) -> Iterator[tuple[int, IdMap, IdMap]]:
    """An O_PATH fd of the container's root as it sees it, and its id maps (host to
    container, container to host). Closed (a stopped container's overlay unmounted) after.
    """
    from pycontainers.runtime._tree import id_mapper, read_id_map

    if c.status in _LIVE and c.pid:
        fd = os.open(f"/proc/{c.pid}/root", _DIR)
        try:
            uids = read_id_map(f"/proc/{c.pid}/uid_map")
            gids = read_id_map(f"/proc/{c.pid}/gid_map")
            yield fd, id_mapper(uids, gids, to_host=False), id_mapper(uids, gids, to_host=True)
        finally:
            os.close(fd)
        return
    spec: Any = c.spec
    maps: tuple[tuple[tuple[int, int, int], ...], ...] = ((), ())
    if spec is not None and spec.uid_mappings:
        maps = tuple(
            tuple((m.container_id, m.host_id, m.size) for m in ms)
            for ms in (spec.uid_mappings, spec.gid_mappings)
        )
    to_c, to_h = (id_mapper(*maps, to_host=flag) for flag in (False, True))
    with _stopped_root(c, write) as fd:
        yield fd, to_c, to_h


@contextlib.contextmanager
def _stopped_root(c: Container, write: bool) -> Iterator[int]:
    from pycontainers.fs.overlay import detached_overlay

    directory = _dir_rootfs(c)
    if directory is not None:
        fd = os.open(directory, _DIR)
    else:
        lowers = _lowers(c)
        layer = _upper_work(c)
        if not lowers or layer is None:
            raise ContainerError(
                f"container {c.id[:12]} is {c.status} and its root filesystem cannot be "
                "rebuilt here (only an image or directory rootfs can be read while stopped)"
            )
        upper, work = layer
        # writes go to the container's own layer, as while it runs; to read, that layer is
        # stacked read-only as one more lower (its whiteouts and opaque dirs still count)
        fd = detached_overlay(lowers, upper, work) if write else detached_overlay((upper, *lowers))
    try:
        yield fd
    finally:
        os.close(fd)


def _resolve_parent(root: int, path: str) -> tuple[int, str]:
    """(fd of the parent directory, last name) of the container path ``path``."""
    from pycontainers.runtime._tree import open_in_root

    norm = posixpath.normpath("/" + path.lstrip("/"))
    parent, name = posixpath.split(norm)
    if not name:  # the root itself
        return os.dup(root), "."
    return open_in_root(root, parent, _DIR), name


def _error(c: Container, path: str, exc: OSError) -> ContainerError:
    what = {
        errno.ENOENT: "no such file or directory",
        errno.ENOTDIR: "a parent is not a directory",
        errno.ELOOP: "too many levels of symbolic links",
        errno.EXDEV: "the path leads out of the container",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return ContainerError(f"container {c.id[:12]}: {path}: {what}", errno=exc.errno, path=path)


# -- cp ----------------------------------------------------------------------------------


def copy_from(c: Container, src: str, *, follow_link: bool = False) -> Iterator[bytes]:
    """``src`` of the container as a tar stream (chunks of bytes), like ``docker cp
    CONTAINER:SRC -``: the path's last name at the top of the tar, a directory with all
    it holds. A final symlink is archived as a link unless ``follow_link`` (or ``src``
    ends with ``/``); symlinks above it are followed inside the container only.

    The stream is built as it is read; a missing path raises before the first chunk.
    """
    from pycontainers.runtime._tree import open_in_root, tar_tree

    follow = follow_link or src.endswith(("/", "/."))
    stack = contextlib.ExitStack()
    root, to_container, _ = stack.enter_context(container_root(c))
    try:
        parent, name = _resolve_parent(root, src)
        stack.callback(os.close, parent)
        arcname = name if name != "." else "."
        if follow and name != ".":
            target = open_in_root(parent, name, _DIR)  # resolved from the parent, in-root
            stack.callback(os.close, target)
            parent, name = target, "."
        os.stat(name, dir_fd=parent, follow_symlinks=False)  # exists? (raise before streaming)
    except OSError as exc:
        stack.close()
        raise _error(c, src, exc) from None
    except BaseException:
        stack.close()
        raise
    path = posixpath.normpath("/" + src.lstrip("/"))
    # cp reads through the container's own mounts (volumes...) as docker cp does, but not
    # into /proc, /sys and /dev
    devs = _kernel_devs(c, root)
    return _closing(
        stack, tar_tree(parent, name, arcname, path=path, ids=to_container, skip_devs=devs)
    )


def _kernel_devs(c: Container, root: int) -> set[int]:
    """The devices of the running container's /proc, /sys, /dev... mounts."""
    from pycontainers.runtime._tree import mountpoints, open_in_root

    devs: set[int] = set()
    if not (c.status in _LIVE and c.pid):
        return devs
    with contextlib.suppress(OSError):
        for point in mountpoints(c.pid, kernel_only=True):
            with contextlib.suppress(OSError):
                fd = open_in_root(root, point, os.O_PATH | os.O_NOFOLLOW)
                try:
                    devs.add(os.fstat(fd).st_dev)
                finally:
                    os.close(fd)
    return devs


def _closing(stack: contextlib.ExitStack, chunks: Iterator[bytes]) -> Iterator[bytes]:
    with stack:
        yield from chunks


def _chunks(data: bytes | IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        yield bytes(data)
        return
    read = getattr(data, "read", None)
    if read is not None:
        while chunk := read(1 << 20):
            yield chunk
        return
    yield from data


def copy_to(c: Container, dest: str, data: bytes | IO[bytes] | Iterable[bytes]) -> int:
    """Extract the tar stream ``data`` (bytes, a binary file or chunks) into the container's
    directory ``dest``, like ``docker cp - CONTAINER:DEST``; return the entries written.

    ``dest`` is resolved inside the container (its symlinks stay in its root) and must be a
    directory. Entries are created below it relative to directory fds: ``..``, absolute
    names, links leading out, writes through symlinks, ``.wh.`` names, devices and fifos
    raise :class:`ContainerError` (entries before the bad one stay). Owners are kept,
    mapped into a user namespace's host ids. A stopped container gets the files in its
    own layer.
    """
    from pycontainers.runtime._tree import extract, open_in_root

    with container_root(c, write=True) as (root, _, to_host):
        try:
            dfd = open_in_root(root, dest, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise _error(c, dest, exc) from None
        try:
            n = extract(dfd, _chunks(data), ids=to_host)
        finally:
            os.close(dfd)
    log.info("container.copied_to", id=c.id, dest=dest, entries=n)
    return n


# -- top ---------------------------------------------------------------------------------


def _pids(c: Container) -> list[int]:
    if c.status not in ("running", "paused"):
        raise ContainerError(f"container {c.id[:12]} is {c.status}, not running")
    try:
        return c.cgroup.procs()
    except ContainerError:
        pass  # no cgroup of its own: the processes of its pid namespace
    ns = os.stat(f"/proc/{c.pid}/ns/pid")
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                st = os.stat(f"/proc/{entry}/ns/pid")
                if (st.st_dev, st.st_ino) == (ns.st_dev, ns.st_ino):
                    out.append(int(entry))
    return sorted(out)


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def top(c: Container) -> list[dict[str, Any]]:
    """Every process of the running container (its cgroup, else its pid namespace):
    ``pid`` and ``ppid`` (host pids), ``uid`` and ``user`` (host view, as ``ps`` on the
    host shows them), ``state``, ``cmd`` (the command line, or ``[comm]``).
    """
    out = []
    for pid in _pids(c):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                raw = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            uid = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            continue  # exited meanwhile
        comm = raw[raw.index(b"(") + 1 : raw.rindex(b")")].decode(errors="replace")
        fields = raw[raw.rindex(b")") + 2 :].split()
        out.append(
            {
                "pid": pid,
                "ppid": int(fields[1]),
                "uid": uid,
                "user": _user(uid),
                "state": fields[0].decode(),
                "cmd": " ".join(argv) if argv else f"[{comm}]",
            }
        )
    return out


# -- diff --------------------------------------------------------------------------------


def diff(c: Container) -> list[tuple[str, str]]:
    """The container's changes to its image, as Docker lists them: ``("A", path)`` added,
    ``("C", path)`` changed, ``("D", path)`` deleted, sorted by path. Read from its own
    layer, so it works running or stopped; a directory rootfs has no layer: an error.
    """
    from pycontainers.runtime.volumes import _merged

    layer = _upper_work(c)
    lowers = _lowers(c)
    if layer is None or not lowers:
        raise ContainerError(
            f"container {c.id[:12]} has no layer of its own to diff: only a container made "
            "from an image (or OverlayRootfs) keeps its changes apart"
        )
    out: list[tuple[str, str]] = []
    with _merged(lowers) as lower:
        up = os.open(layer[0], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            _diff_dir(up, lower, "", out, hidden=False)
        finally:
            os.close(up)
    return sorted(out, key=lambda kind_path: kind_path[1])


def _in_lower(lower: int, path: str) -> bool:
    from pycontainers import _sys

    try:
        os.close(_sys.open_beneath(lower, path, os.O_PATH | os.O_NOFOLLOW))
    except OSError:
        return False
    return True


def _opaque(dfd: int, name: str) -> bool:
    for key in ("trusted.overlay.opaque", "user.overlay.opaque"):
        with contextlib.suppress(OSError):
            if os.getxattr(f"/proc/self/fd/{dfd}/{name}", key, follow_symlinks=False) == b"y":
                return True
    return False


def _diff_dir(dfd: int, lower: int, rel: str, out: list[tuple[str, str]], *, hidden: bool) -> None:
    """Changes below the upper directory ``dfd`` (``rel`` in the container); ``hidden``:
    the lower layers' content is hidden here (an opaque or new directory).
    """
    for name in sorted(os.listdir(dfd)):
        path = f"{rel}/{name}"
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        below = not hidden and _in_lower(lower, path)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # an overlay whiteout
            if below:
                out.append(("D", path))
            continue
        out.append(("C" if below else "A", path))
        if not stat.S_ISDIR(st.st_mode):
            continue
        opaque = _opaque(dfd, name)
        sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        try:
            if opaque and below:  # replaced: what the image had there is gone
                from pycontainers import _sys

                kept = set(os.listdir(sub))
                ldir = _sys.open_beneath(lower, path, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    out += [("D", f"{path}/{n}") for n in os.listdir(ldir) if n not in kept]
                finally:
                    os.close(ldir)
            _diff_dir(sub, lower, path, out, hidden=hidden or opaque or not below)
        finally:
            os.close(sub)


# -- export ------------------------------------------------------------------------------


def export(c: Container, fileobj: IO[bytes]) -> int:
    """Write the container's whole filesystem as it sees it to ``fileobj`` as a tar (like
    ``docker export``); return the bytes written. Mounts over the rootfs (/proc, /sys,
    /dev, volumes, /etc/hosts...) are left out, their mount points kept as empty
    directories.
    """
    n = 0
    for chunk in export_chunks(c):
        fileobj.write(chunk)
        n += len(chunk)
    return n


def export_chunks(c: Container) -> Iterator[bytes]:
    """:func:`export` as a stream of chunks."""
    from pycontainers.runtime._tree import mountpoints, tar_tree

    stack = contextlib.ExitStack()
    root, to_container, _ = stack.enter_context(container_root(c))
    live = c.status in _LIVE and c.pid
    try:
        skip = mountpoints(c.pid) if live else set()
    except OSError:
        stack.close()
        raise
    return _closing(
        stack,
        tar_tree(root, ".", ".", path="/", ids=to_container, skip=skip, same_mount=bool(live)),
    )


def commit(
    c: Container,
    image: str,
    reference: str,
    config: ImageConfig | None,
    message: str,
    image_root: str | None,
    *,
    changes: Sequence[str] = (),
    author: str = "",
    pause: bool = True,
) -> Image:
    """See :meth:`Container.commit` (``image`` is the container's image reference)."""
    from pycontainers.images import default_store

    upper = c.upper_dir
    if upper is None:
        raise ContainerError(
            f"container {c.id[:12]} has no layer of its own to commit: only a container "
            "created here from an image (or OverlayRootfs) can be committed"
        )
    store = default_store(image_root)
    base = store.get(image) if image else None
    raw: Any = config
    if changes:
        from pycontainers.builder.changes import apply_changes

        start = config.to_oci() if config is not None else None
        if start is None and base is not None:
            start = dict(base.raw_config.get("config") or {})
        raw = apply_changes(start, changes)
    frozen = pause and c.status == "running" and c.record.cgroup is not None
    if frozen:
        c.pause()
    try:
        return store.commit_directory(
            upper, reference, base=base, config=raw, author=author, comment=message,
            created_by=message or "pycontainers commit",
        )  # fmt: skip
    finally:
        if frozen:
            c.resume()


__all__ = [
    "commit",
    "container_root",
    "copy_from",
    "copy_to",
    "diff",
    "export",
    "export_chunks",
    "top",
]
