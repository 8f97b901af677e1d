"""A stage's root filesystem while it is built: its image's snapshots as overlay lowers,
a fresh upper directory per step, overlay mounts that exist only as fds (never attached
to the host's tree), and the step's changes written as a layer blob.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from pycontainers.errors import BuildError
from pycontainers.images import ImageStore
from pycontainers.images.descriptor import MEDIA_TYPE_LAYER_GZIP, Descriptor
from pycontainers.images.digest import Digest, new_hasher

__all__ = ["Workspace", "mkdirs_in_root", "mounted", "write_layer"]

_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


class Workspace:
    """A build's private scratch directory (uppers, work dirs, an empty lower, unpacked
    contexts) under the data root; removed whole by :meth:`close`.
    """

    def __init__(self, base: str | os.PathLike[str]) -> None:
        Path(base).mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="build-", dir=base))
        self._n = itertools.count(1)  # steps of concurrent stages share the workspace
        self._empty: Path | None = None

    def layer_dirs(self) -> tuple[str, str]:
        """A fresh (upper, work) pair on one filesystem."""
        step = self.dir / f"step-{next(self._n)}"
        (step / "upper").mkdir(parents=True)
        (step / "work").mkdir()
        return str(step / "upper"), str(step / "work")

    def release(self, upper: str) -> None:
        """Remove a step's directories (upper and work)."""
        shutil.rmtree(Path(upper).parent, ignore_errors=True)

    def empty_lower(self) -> str:
        """An empty directory, the lower of a rootfs without layers (``FROM scratch``)."""
        if self._empty is None:
            empty = self.dir / "empty"
            empty.mkdir(mode=0o755, exist_ok=True)
            self._empty = empty
        return str(self._empty)

    def close(self) -> None:
        """Remove everything of this build's scratch."""
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def mounted(
    lowers: Iterable[str], upper: str | None = None, work: str | None = None
) -> Iterator[int]:
    """An overlay of ``lowers`` (and ``upper``) as an fd, attached nowhere, closed after.

    One lower without an upper is read as the directory itself (overlayfs wants two).
    """
    from pycontainers.fs.overlay import detached_overlay

    dirs = list(lowers)
    if upper is None and len(dirs) == 1:
        fd = os.open(dirs[0], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    else:
        fd = detached_overlay(dirs, upper, work)
    try:
        yield fd
    finally:
        os.close(fd)


def _open_in_root(root_fd: int, path: str, flags: int) -> int:
    """``_fsapi.open_in_root``, imported on first use (a cached build opens no root)."""
    from pycontainers import _fsapi

    return _fsapi.open_in_root(root_fd, path, flags)


def mkdirs_in_root(
    root_fd: int, path: str, *, uid: int = 0, gid: int = 0, mode: int = 0o755
) -> int:
    """Open the directory ``path`` in the root ``root_fd`` (its symlinks resolved inside
    it), making missing components owned ``uid:gid``; the caller closes the fd.
    """
    parts = [p for p in path.split("/") if p and p != "."]
    fd = os.dup(root_fd)
    try:
        for i, name in enumerate(parts):
            sub = "/" + "/".join(parts[: i + 1])
            try:
                nxt = _open_in_root(root_fd, sub, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError as exc:
                if exc.errno == errno.ENOTDIR:
                    raise BuildError(f"{sub} exists and is not a directory") from None
                if exc.errno != errno.ENOENT:
                    raise
                os.mkdir(name, mode, dir_fd=fd)
                os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
                os.chmod(name, mode, dir_fd=fd)  # not the umask's
                nxt = _open_in_root(root_fd, sub, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            os.close(fd)
            fd = nxt
        if not parts:
            os.close(fd)
            fd = _open_in_root(root_fd, "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except BaseException:
        os.close(fd)
        raise
    return fd


def exists_in_root(root_fd: int, path: str) -> bool:
    """Whether ``path`` resolves (inside the root) to something."""
    try:
        fd = _open_in_root(root_fd, path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def read_in_root(root_fd: int, path: str, limit: int = 1 << 20) -> str:
    """The text of ``path`` in the root (``""`` if it cannot be read)."""
    try:
        fd = _open_in_root(root_fd, path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as f:
        return f.read(limit).decode("utf-8", "replace")


def write_layer(
    store: ImageStore, upper: str, *, mtime_max: int | None = None
) -> tuple[Descriptor, Digest]:
    """The changes in ``upper`` as a tar+gzip layer blob in the store, and its DiffID.

    ``mtime_max`` (``SOURCE_DATE_EPOCH``) clamps every entry's mtime, so the same tree
    always gives the same bytes. Call under ``store.content.lock()`` until the image that
    uses the blob is named, so that a prune cannot take it.
    """
    from pycontainers.fs.overlay import upper_diff

    diff = new_hasher()

    def gzipped() -> Iterator[bytes]:
        comp = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing with mtime 0
        for chunk in upper_diff(upper, userxattr=False, mtime_max=mtime_max):
            diff.update(chunk)
            out = comp.compress(chunk)
            if out:
                yield out
        yield comp.flush()

    desc = store.content.put(gzipped(), media_type=MEDIA_TYPE_LAYER_GZIP)
    return desc, Digest.from_hasher(diff)


def lowers_for(
    store: ImageStore, layers: list[tuple[Descriptor, Digest]], workspace: Workspace
) -> list[str]:
    """The snapshot trees of ``layers`` (unpacked where missing), topmost first; an empty
    directory for a rootfs without layers.
    """
    if not layers:
        return [workspace.empty_lower()]
    from pycontainers.images.digest import chain_id

    with store.content.lock():  # no prune in between
        parent: Digest | None = None
        for desc, diff in layers:
            chain = diff if parent is None else chain_id([parent, diff])
            if not store.snapshots.has(chain):
                with store.content.open(desc) as reader:
                    store.snapshots.unpack(reader, parent=parent, expected_diff_id=diff)
            parent = chain
        assert parent is not None
        return [str(p) for p in store.snapshots.lowers(parent)]
