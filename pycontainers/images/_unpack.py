"""Applying the entries of a layer tar below a directory, safely (see :mod:`.layers`).

Every parent directory is resolved with ``openat2(RESOLVE_BENEATH)`` (``_sys.open_beneath``)
and every final component is created without following symlinks, so no entry can write
outside the root: ``..`` components, absolute names, hard links out of the tree and writes
through a symlink that leads outside raise :class:`LayerError`.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable, Sequence

from pycontainers._log import get_logger
from pycontainers.images._errors import LayerError
from pycontainers.images._tar import (
    BLOCKDEV,
    CHARDEV,
    DIRECTORY,
    FIFO,
    HARDLINK,
    REGULAR,
    SYMLINK,
    TarEntry,
    TarReader,
)

log = get_logger("pycontainers.images")

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_O_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_O_LIST_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_beneath(dirfd: int, path: str, flags: int) -> int:
    """``_sys.open_beneath``, imported on first use (a cached build never unpacks)."""
    from pycontainers import _sys

    return _sys.open_beneath(dirfd, path, flags)


# xattrs a layer may not set: overlayfs reads them as instructions (redirects, metacopy...).
_FORBIDDEN_XATTRS = ("trusted.overlay.", "user.overlay.")


def _clean(name: str, what: str = "entry") -> str:
    """``name`` as a relative path without ``.`` parts; refuse absolute and ``..`` names."""
    if name.startswith("/"):
        raise LayerError(f"absolute {what} names are not allowed in a layer", member=name)
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise LayerError(f"'..' in {what} names is not allowed in a layer", member=name)
    return "/".join(parts)


def _escape_error(exc: OSError, member: str) -> LayerError:
    if exc.errno in (errno.EXDEV, errno.ELOOP):
        message = "the path leads outside the layer root through a symlink"
    elif exc.errno == errno.ENOTDIR:
        message = "a parent of the path is not a directory"
    else:
        message = f"cannot resolve the path: {exc.strerror}"
    return LayerError(message, member=member, errno=exc.errno)


class _Applier:
    """Applies the entries of one tar stream below ``root_fd``."""

    def __init__(
        self,
        root_fd: int,
        *,
        overlay: bool,
        userxattr: bool,
        lower_fds: Sequence[int],
        same_owner: bool,
    ) -> None:
        self.root_fd = root_fd
        self.overlay = overlay
        self.opaque_xattr = "user.overlay.opaque" if userxattr else "trusted.overlay.opaque"
        self.lower_fds = lower_fds
        self.same_owner = same_owner
        self.written: set[str] = set()  # paths this layer created
        self.ancestors: set[str] = set()  # directories above those
        self.dirs: dict[str, tuple[int, int]] = {}  # path -> (mode, mtime_ns), applied last
        self._cache_path: str | None = None
        self._cache_fd = -1
        self.entries = 0

    def close(self) -> None:
        self._drop_cache()

    # -- directories ----------------------------------------------------------------------

    def _drop_cache(self) -> None:
        if self._cache_fd >= 0:
            os.close(self._cache_fd)
        self._cache_fd = -1
        self._cache_path = None

    def _invalidate(self) -> None:
        """Forget the cached parent after a removal; its fd stays open for the current entry."""
        self._cache_path = None

    def _parent(self, path: str, *, create: bool = True) -> tuple[int, str] | None:
        """An fd of the directory holding ``path`` (owned by the cache: valid until the
        next call) and the last name; None if it does not exist and not ``create``.
        """
        parent, _, base = path.rpartition("/")
        if not parent:
            return self.root_fd, base
        if parent == self._cache_path:
            return self._cache_fd, base
        fd = self._open_parent(parent, path, create=create)
        if fd < 0:
            return None
        self._drop_cache()
        self._cache_path, self._cache_fd = parent, fd
        return fd, base

    def _open_parent(self, parent: str, member: str, *, create: bool) -> int:
        """A new fd of directory ``parent`` (created if missing and ``create``), else -1."""
        if not parent:
            return os.dup(self.root_fd)
        try:
            return _open_beneath(self.root_fd, parent, _O_PATH_DIR)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise _escape_error(exc, member) from None
            if not create:
                return -1  # nothing there to white out
            return self._make_parents(parent, member)

    def _make_parents(self, parent: str, member: str) -> int:
        """Create the missing directories of ``parent`` (as a tar would), return an fd."""
        fd = os.dup(self.root_fd)
        done = ""
        try:
            for part in parent.split("/"):
                done = f"{done}/{part}" if done else part
                try:
                    nfd = _open_beneath(fd, part, _O_PATH_DIR)
                except OSError as exc:
                    if exc.errno == errno.ENOTDIR and self._is_own_whiteout(fd, part):
                        # An earlier entry of this layer whited the lower one out: the new
                        # directory hides the lower layers' content, as in a flattened tree.
                        os.unlink(part, dir_fd=fd)
                        self._implicit_dir(fd, part, done, hide_lower=True)
                    elif exc.errno == errno.ENOENT:
                        self._implicit_dir(fd, part, done)
                    else:
                        raise _escape_error(exc, member) from None
                    nfd = _open_beneath(fd, part, _O_PATH_DIR)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _is_own_whiteout(self, pfd: int, name: str) -> bool:
        """Whether ``name`` is an overlay whiteout this layer made (overlay mode only)."""
        if not self.overlay:
            return False
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except OSError:
            return False
        return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0

    def _set_opaque(self, pfd: int, name: str) -> None:
        os.setxattr(f"/proc/self/fd/{pfd}/{name}", self.opaque_xattr, b"y", follow_symlinks=False)

    def _implicit_dir(self, pfd: int, name: str, path: str, *, hide_lower: bool = False) -> None:
        """A directory the tar did not list: like the lower layers' one, else 0755 root.

        With ``hide_lower`` (it replaces a whiteout or a file) it is 0755 root, and opaque in
        overlay mode.
        """
        mode, uid, gid, mtime = 0o755, 0, 0, None
        lower = None if hide_lower else self._lower_stat(path)
        if lower is not None and stat.S_ISDIR(lower.st_mode):
            mode, uid, gid, mtime = (
                lower.st_mode & 0o7777,
                lower.st_uid,
                lower.st_gid,
                lower.st_mtime_ns,
            )
        os.mkdir(name, 0o700, dir_fd=pfd)
        if self.same_owner:
            os.chown(name, uid, gid, dir_fd=pfd, follow_symlinks=False)
        if hide_lower and self.overlay:
            self._set_opaque(pfd, name)
        self._mark(path)
        self.dirs[path] = (mode, mtime if mtime is not None else -1)

    def _lower_stat(self, path: str) -> os.stat_result | None:
        """The stat of ``path`` in the topmost lower snapshot that has it (whiteouts hide)."""
        found = self._lower_find(path)
        return found[1] if found is not None else None

    def _lower_find(self, path: str) -> tuple[int, os.stat_result] | None:
        """The topmost lower snapshot holding ``path`` and its stat, as the merged view
        shows it: a whiteout, or an opaque directory above it, hides the layers below.
        """
        for lfd in self.lower_fds:
            try:
                st = os.stat(path, dir_fd=lfd, follow_symlinks=False)
            except OSError:
                if self._hidden_below(lfd, path):
                    return None
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None
            return lfd, st
        return None

    def _hidden_below(self, lfd: int, path: str) -> bool:
        """Whether a parent of ``path`` in the lower ``lfd`` is a whiteout or opaque."""
        parent = path.rpartition("/")[0]
        while parent:
            try:
                st = os.stat(parent, dir_fd=lfd, follow_symlinks=False)
            except OSError:
                parent = parent.rpartition("/")[0]
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return True
            if stat.S_ISDIR(st.st_mode):
                try:
                    if os.getxattr(f"/proc/self/fd/{lfd}/{parent}", self.opaque_xattr) == b"y":
                        return True
                except OSError:
                    pass
            parent = parent.rpartition("/")[0]
        return False

    def _mark(self, path: str) -> None:
        self.written.add(path)
        parent = path.rpartition("/")[0]
        while parent and parent not in self.ancestors:
            self.ancestors.add(parent)
            parent = parent.rpartition("/")[0]

    # -- removal ----------------------------------------------------------------------------

    def _remove(self, pfd: int, base: str) -> bool:
        """Remove ``base`` in ``pfd`` (a whole tree if a directory); False if absent."""
        try:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            self._invalidate()
            shutil.rmtree(base, dir_fd=pfd)
        else:
            os.unlink(base, dir_fd=pfd)
        return True

    def _clear_lower_content(self, dir_path: str, dfd: int) -> None:
        """Remove from a directory everything this layer did not write (opaque semantics)."""
        for name in os.listdir(dfd):
            path = f"{dir_path}/{name}" if dir_path else name
            if path in self.ancestors or path in self.written:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    sub = _open_beneath(dfd, name, _O_LIST_DIR)
                    try:
                        self._clear_lower_content(path, sub)
                    finally:
                        os.close(sub)
            else:
                self._remove(dfd, name)

    # -- whiteouts --------------------------------------------------------------------------

    def _whiteout(self, path: str, member: str) -> None:
        if path in self.written:
            return  # a layer's own entries are only hidden by later layers
        found = self._parent(path, create=self.overlay)
        if found is None:
            return
        pfd, base = found
        if self.overlay and path in self.ancestors:  # keep this layer's entries below
            self._set_opaque(pfd, base)
            return
        if self.overlay:
            self._remove(pfd, base)
            os.mknod(base, stat.S_IFCHR, os.makedev(0, 0), dir_fd=pfd)
            return
        if path in self.ancestors:  # keep this layer's entries below, drop the rest
            dfd = _open_beneath(pfd, base, _O_LIST_DIR)
            try:
                self._clear_lower_content(path, dfd)
            finally:
                os.close(dfd)
            return
        self._remove(pfd, base)

    def _opaque(self, path: str, member: str) -> None:
        if not path:
            dfd = _open_beneath(self.root_fd, ".", _O_LIST_DIR)
        else:
            # The marker says the directory exists in this layer: make it if the tar did not
            # (in both modes, so a flattened tree and stacked snapshots agree).
            found = self._parent(path)
            assert found is not None
            pfd, base = found
            try:
                dfd = _open_beneath(pfd, base, _O_LIST_DIR)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    self._implicit_dir(pfd, base, path)
                elif exc.errno == errno.ENOTDIR:  # a file of a lower layer, or a whiteout
                    self._remove(pfd, base)
                    self._implicit_dir(pfd, base, path, hide_lower=True)
                else:
                    raise _escape_error(exc, member) from None
                dfd = _open_beneath(pfd, base, _O_LIST_DIR)
        try:
            if self.overlay:
                os.setxattr(f"/proc/self/fd/{dfd}", self.opaque_xattr, b"y")
            else:
                self._clear_lower_content(path, dfd)
        finally:
            os.close(dfd)

    # -- entries ----------------------------------------------------------------------------

    def apply(self, entry: TarEntry, reader: TarReader) -> None:
        """Apply one tar entry."""
        self.entries += 1
        path = _clean(entry.name)
        base = path.rpartition("/")[2]
        if base.startswith(WHITEOUT_PREFIX):
            if base == OPAQUE_MARKER:
                self._opaque(path.rpartition("/")[0], entry.name)
            elif not base.startswith(WHITEOUT_PREFIX * 2):  # other .wh..wh. names: AUFS' own
                target = base[len(WHITEOUT_PREFIX) :]
                if target in ("", ".", ".."):
                    raise LayerError("invalid whiteout name", member=entry.name)
                self._whiteout(path[: len(path) - len(base)] + target, entry.name)
            return
        if not path:  # the root directory itself ("./")
            if entry.type == DIRECTORY:
                self._dir_meta(self.root_fd, "", entry, is_root=True)
            return
        found = self._parent(path)
        assert found is not None
        pfd, base = found
        typ = entry.type
        if typ == REGULAR:
            self._file(pfd, base, path, entry, reader)
        elif typ == DIRECTORY:
            self._directory(pfd, base, path, entry)
        elif typ == SYMLINK:
            self._create(pfd, base, lambda: os.symlink(entry.linkname, base, dir_fd=pfd))
            self._meta(pfd, base, entry, symlink=True)
        elif typ == HARDLINK:
            self._hardlink(pfd, base, path, entry)
        elif typ in (CHARDEV, BLOCKDEV, FIFO):
            kind = {CHARDEV: stat.S_IFCHR, BLOCKDEV: stat.S_IFBLK, FIFO: stat.S_IFIFO}[typ]
            dev = os.makedev(entry.devmajor, entry.devminor) if typ != FIFO else 0
            self._create(pfd, base, lambda: os.mknod(base, kind | 0o600, dev, dir_fd=pfd))
            self._meta(pfd, base, entry)
        self._mark(path)

    def _create(self, pfd: int, base: str, make: Callable[[], None]) -> None:
        try:
            make()
        except FileExistsError:
            self._remove(pfd, base)
            make()

    def _file(self, pfd: int, base: str, path: str, entry: TarEntry, reader: TarReader) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(base, flags, 0o600, dir_fd=pfd)
        except FileExistsError:
            self._remove(pfd, base)
            fd = os.open(base, flags, 0o600, dir_fd=pfd)
        try:
            reader.copy_to(fd, entry.name)
            if self.same_owner:
                os.fchown(fd, entry.uid, entry.gid)
            os.fchmod(fd, entry.mode)
            if entry.xattrs:
                self._xattrs(fd, entry)
            os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
        finally:
            os.close(fd)

    def _directory(self, pfd: int, base: str, path: str, entry: TarEntry) -> None:
        try:
            os.mkdir(base, 0o700, dir_fd=pfd)
        except FileExistsError:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                whiteout = self._is_own_whiteout(pfd, base)
                self._remove(pfd, base)
                os.mkdir(base, 0o700, dir_fd=pfd)
                if whiteout:  # this layer whited out the lower one: hide its content
                    self._set_opaque(pfd, base)
        self._dir_meta(pfd, base, entry, path=path)

    def _dir_meta(
        self, pfd: int, base: str, entry: TarEntry, *, path: str = "", is_root: bool = False
    ) -> None:
        target = f"/proc/self/fd/{pfd}" if is_root else f"/proc/self/fd/{pfd}/{base}"
        if self.same_owner:
            os.chown(target, entry.uid, entry.gid, follow_symlinks=False)
        if entry.xattrs:
            self._xattrs(target, entry)
        self.dirs[path] = (entry.mode, entry.mtime_ns)

    def _hardlink(self, pfd: int, base: str, path: str, entry: TarEntry) -> None:
        target = _clean(entry.linkname, "hard link target")
        if not target:
            raise LayerError("a hard link to the layer root", member=entry.name)
        if target == path:
            return
        tparent, _, tbase = target.rpartition("/")
        try:
            tfd = _open_beneath(self.root_fd, tparent or ".", _O_PATH_DIR)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise _escape_error(exc, entry.name) from None
            if not self._copy_up(target, entry.name):
                raise LayerError(
                    f"hard link target {entry.linkname!r} does not exist",
                    member=entry.name,
                    errno=exc.errno,
                ) from None
            tfd = _open_beneath(self.root_fd, tparent or ".", _O_PATH_DIR)
        try:
            link = lambda: os.link(  # noqa: E731
                tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False
            )
            try:
                self._create(pfd, base, link)
            except FileNotFoundError as exc:
                if not self._copy_up(target, entry.name):
                    raise LayerError(
                        f"hard link target {entry.linkname!r} does not exist",
                        member=entry.name,
                        errno=exc.errno,
                    ) from None
                self._create(pfd, base, link)
        except PermissionError as exc:
            raise LayerError(
                f"cannot hard link to {entry.linkname!r} (a directory?)",
                member=entry.name,
                errno=exc.errno,
            ) from None
        finally:
            os.close(tfd)

    def _copy_up(self, target: str, member: str) -> bool:
        """Copy a hard link's target from a lower snapshot into this one (overlay mode)."""
        found = self._lower_find(target)
        if found is None or not stat.S_ISREG(found[1].st_mode):
            return False
        lfd, st = found
        src = _open_beneath(lfd, target, os.O_RDONLY | os.O_NOFOLLOW)
        tparent, _, base = target.rpartition("/")
        pfd = self._open_parent(tparent, member, create=True)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            dst = os.open(base, flags, 0o600, dir_fd=pfd)
            try:
                while os.copy_file_range(src, dst, 1 << 30):
                    pass
                if self.same_owner:
                    os.fchown(dst, st.st_uid, st.st_gid)
                os.fchmod(dst, st.st_mode & 0o7777)
                for name in os.listxattr(src):
                    if not name.startswith(_FORBIDDEN_XATTRS):
                        os.setxattr(dst, name, os.getxattr(src, name))
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(dst)
        finally:
            os.close(src)
            os.close(pfd)
        self._mark(target)
        log.debug("layer.copy_up", path=target, member=member)
        return True

    def _meta(self, pfd: int, base: str, entry: TarEntry, *, symlink: bool = False) -> None:
        if self.same_owner:
            os.chown(base, entry.uid, entry.gid, dir_fd=pfd, follow_symlinks=False)
        if not symlink:
            os.chmod(base, entry.mode, dir_fd=pfd)
        if entry.xattrs:
            self._xattrs(f"/proc/self/fd/{pfd}/{base}", entry)
        os.utime(base, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=pfd, follow_symlinks=False)

    def _xattrs(self, target: int | str, entry: TarEntry) -> None:
        for key, value in entry.xattrs.items():
            if key.startswith(_FORBIDDEN_XATTRS):
                log.warning("layer.xattr_refused", member=entry.name, xattr=key)
                continue
            try:
                if isinstance(target, int):
                    os.setxattr(target, key, value)
                else:
                    os.setxattr(target, key, value, follow_symlinks=False)
            except OSError as exc:
                if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
                    log.warning("layer.xattr_unsupported", member=entry.name, xattr=key)
                    continue
                raise LayerError(
                    f"cannot set xattr {key}: {exc.strerror}", member=entry.name, errno=exc.errno
                ) from None

    def finish(self) -> None:
        """Set the directories' modes and times, now that nothing is written into them."""
        self._drop_cache()
        for path, (mode, mtime) in self.dirs.items():
            try:
                fd = _open_beneath(
                    self.root_fd, path or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                )
            except OSError:
                continue  # replaced or removed by a later entry
            try:
                os.fchmod(fd, mode)
                if mtime >= 0:
                    os.utime(fd, ns=(mtime, mtime))
            finally:
                os.close(fd)
