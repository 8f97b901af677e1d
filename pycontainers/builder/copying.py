"""COPY and ADD sources as one tar stream: names relative to the destination directory,
owners and modes as ``--chown``/``--chmod`` say, and a digest of exactly that (mtimes left
out) for the cache key.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator

import attrs

from pycontainers.builder.context import BuildContext

__all__ = ["Entry", "SourceTree", "tar_entries"]

_CHUNK = 1 << 20


@attrs.frozen
class Entry:
    """One entry to write: its name below the destination, where its bytes come from
    (a host path, or inline ``data``), and its metadata.
    """

    name: str
    kind: str  # "dir", "file", "symlink"
    mode: int
    uid: int
    gid: int
    mtime: int
    size: int = 0
    host_path: str = ""
    data: bytes | None = None
    linkname: str = ""


@attrs.define
class SourceTree:
    """Entries gathered from a context (or another stage's rootfs) for one COPY/ADD."""

    entries: list[Entry] = attrs.field(factory=list)

    def add_path(
        self,
        root_path: str,
        rel_name: str,
        walk: Iterable[tuple[str, os.stat_result]],
        *,
        base: str,
        owner: tuple[int, int] | None,
        chmod: int | None,
        exclude: Callable[[str], bool] | None = None,
    ) -> None:
        """Add what ``walk`` yields (context paths below ``base``) as ``rel_name`` and
        below; ``root_path`` is the host directory the paths are relative to; entries whose
        name ``exclude`` matches are left out.
        """
        for path, st in walk:
            sub = path[len(base) :].lstrip("/") if base else path
            name = f"{rel_name}/{sub}" if sub and rel_name else (sub or rel_name)
            if exclude is not None and name and exclude(name):
                continue
            uid, gid = owner if owner is not None else (0, 0)
            mode = stat.S_IMODE(st.st_mode)
            host = os.path.join(root_path, path) if path else root_path
            if stat.S_ISDIR(st.st_mode):
                kind = "dir"
                if chmod is not None:
                    mode = chmod
            elif stat.S_ISLNK(st.st_mode):
                self.entries.append(Entry(name, "symlink", 0o777, uid, gid, int(st.st_mtime),
                                          linkname=os.readlink(host)))  # fmt: skip
                continue
            elif stat.S_ISREG(st.st_mode):
                kind = "file"
                if chmod is not None:
                    mode = chmod
            else:
                continue  # sockets, fifos and devices are not copied
            source = host if kind == "file" else ""
            entry = Entry(name, kind, mode, uid, gid, int(st.st_mtime), st.st_size, source)
            self.entries.append(entry)

    def add_data(self, name: str, data: bytes, *, mode: int, owner: tuple[int, int] | None,
                 mtime: int) -> None:  # fmt: skip
        """Add a file with inline content (a heredoc, a downloaded file)."""
        uid, gid = owner if owner is not None else (0, 0)
        self.entries.append(Entry(name, "file", mode, uid, gid, mtime, size=len(data), data=data))

    def digest(self) -> str:
        """sha256 over every entry's name, kind, mode, owner, link target and content."""
        h = hashlib.sha256()
        for e in self.entries:
            h.update(f"{e.name}\0{e.kind}\0{e.mode:o}\0{e.uid}:{e.gid}\0{e.linkname}\0".encode(
                "utf-8", "surrogateescape"))  # fmt: skip
            if e.kind == "file":
                h.update(_file_digest(e).encode())
            h.update(b"\n")
        return "sha256:" + h.hexdigest()


def _file_digest(e: Entry) -> str:
    if e.data is not None:
        return hashlib.sha256(e.data).hexdigest()
    with open(e.host_path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def tar_entries(
    entries: Iterable[Entry], *, clamp: Callable[[int], int] = lambda t: t
) -> Iterator[bytes]:
    """The entries as a tar stream (mtimes through ``clamp``), ready for extraction."""
    for e in entries:
        info = tarfile.TarInfo(e.name + ("/" if e.kind == "dir" else ""))
        info.mode, info.uid, info.gid = e.mode, e.uid, e.gid
        info.mtime = clamp(e.mtime)
        info.uname = info.gname = ""
        if e.kind == "dir":
            info.type = tarfile.DIRTYPE
            yield _header(info)
        elif e.kind == "symlink":
            info.type = tarfile.SYMTYPE
            info.linkname = e.linkname
            yield _header(info)
        else:
            info.size = e.size
            yield _header(info)
            if e.data is not None:
                yield e.data
            else:
                yield from _read(e.host_path, e.size, e.name)
            pad = -e.size % tarfile.BLOCKSIZE
            if pad:
                yield bytes(pad)
    yield bytes(2 * tarfile.BLOCKSIZE)


def _read(path: str, size: int, name: str) -> Iterator[bytes]:
    from pycontainers.errors import BuildError

    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        left = size
        while left:
            chunk = os.read(fd, min(left, _CHUNK))
            if not chunk:
                raise BuildError(f"{name} changed size while it was copied", path=path)
            left -= len(chunk)
            yield chunk
    finally:
        os.close(fd)


def context_tree(ctx: BuildContext, rel: str, dest_name: str, *, owner: tuple[int, int] | None,
                 chmod: int | None, tree: SourceTree, contents_only: bool,
                 exclude: Callable[[str], bool] | None = None) -> None:  # fmt: skip
    """Add the context path ``rel``: a directory's content (``contents_only``) or the
    path itself, named ``dest_name`` below the destination; ``exclude`` (``--exclude``)
    leaves out the entries whose name below the destination it matches.
    """
    walk = ctx.walk(rel)
    if contents_only:
        next(walk)  # the directory itself: its content goes into the destination
    tree.add_path(str(ctx.root), dest_name, walk, base=rel, owner=owner, chmod=chmod,
                  exclude=exclude)  # fmt: skip
