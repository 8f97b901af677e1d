"""OverlayFS: stack read-only lower layers under a writable upper layer, and diff the upper.

>>> with OverlayFS.mount("/mnt/root", ["/snap/2", "/snap/1"], upper="/c/up", work="/c/work") as ov:
...     ...                                                   # doctest: +SKIP
>>> layer = b"".join(ov.diff())  # an OCI layer tar of what changed  # doctest: +SKIP

Lower layers are given **topmost first**, as overlayfs' ``lowerdir`` lists them. However many
there are, the mount works: layers go to the kernel one at a time through the fd-based mount
API (``fsopen("overlay")`` then ``fsconfig(FSCONFIG_SET_STRING, "lowerdir+", path)`` per layer,
Linux 6.8+), so no option string hits the page-size limit of ``mount(2)``. On older kernels
the layers are passed through ``mount(2)`` as short symlinks in a temporary directory.

The new mount API has no wrapper in the C shim yet, so this module calls ``fsopen``,
``fsconfig``, ``fsmount`` and ``move_mount`` through ``ctypes`` (:class:`_MountAPI`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from pycontainers import _sys
from pycontainers._log import get_logger
from pycontainers.errors import PyContainersError, SpecError

log = get_logger("pycontainers.fs")

__all__ = ["OverlayError", "OverlayFS", "upper_diff"]

# -- the fd-based mount API (include/uapi/linux/mount.h) ---------------------------------------

_SYS_MOVE_MOUNT = 429
_SYS_FSOPEN = 430
_SYS_FSCONFIG = 431
_SYS_FSMOUNT = 432
FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
AT_FDCWD = -100
_FSCONFIG_VALUE_MAX = 255  # fsconfig() copies at most 256 bytes of a string value
_PAGE = os.sysconf("SC_PAGESIZE")
MAX_LOWERS = 500  # OVL_MAX_STACK

_WHITEOUT_PREFIX = ".wh."
_OPAQUE_MARKER = ".wh..wh..opq"
_PRIVATE_XATTRS = ("trusted.overlay.", "user.overlay.")
_CHUNK = 1 << 20


class OverlayError(PyContainersError):
    """An overlay mount could not be made, unmounted or diffed; ``path`` names the culprit."""

    def __init__(self, message: str, *, path: str | None = None, errno: int = 0) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class _MountAPI:
    """``fsopen``/``fsconfig``/``fsmount``/``move_mount`` through libc's ``syscall()``.

    To move into the C shim (``_sys``) later; the numbers are the unified ones every
    architecture but alpha, ia64 and mips uses.
    """

    def __init__(self) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        machine = platform.machine().lower()
        self.available = not machine.startswith(("alpha", "ia64", "mips"))

    def _call(self, name: str, number: int, *args: Any) -> int:
        rc = int(self.libc.syscall(ctypes.c_long(number), *args))
        if rc < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{name}: {os.strerror(err)}")
        return rc

    def fsopen(self, fstype: str) -> int:
        return self._call(
            "fsopen", _SYS_FSOPEN, ctypes.c_char_p(fstype.encode()), ctypes.c_uint(FSOPEN_CLOEXEC)
        )

    def fsconfig(self, fd: int, cmd: int, key: str | None, value: bytes | None) -> None:
        self._call(
            "fsconfig",
            _SYS_FSCONFIG,
            ctypes.c_int(fd),
            ctypes.c_uint(cmd),
            ctypes.c_char_p(key.encode() if key is not None else None),
            ctypes.c_char_p(value),
            ctypes.c_int(0),
        )

    def fsmount(self, fd: int, attr_flags: int) -> int:
        return self._call(
            "fsmount",
            _SYS_FSMOUNT,
            ctypes.c_int(fd),
            ctypes.c_uint(FSMOUNT_CLOEXEC),
            ctypes.c_uint(attr_flags),
        )

    def move_mount(self, fd: int, target: str) -> None:
        self._call(
            "move_mount",
            _SYS_MOVE_MOUNT,
            ctypes.c_int(fd),
            ctypes.c_char_p(b""),
            ctypes.c_int(AT_FDCWD),
            ctypes.c_char_p(os.fsencode(target)),
            ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
        )


_api: _MountAPI | None = None
_lowerdir_plus: bool | None = None  # does the kernel take "lowerdir+"? (None: not probed yet)


def _mount_api() -> _MountAPI:
    global _api
    if _api is None:
        _api = _MountAPI()
    return _api


def _fs_log(fd: int) -> str:
    """The messages the kernel left in an fs context (``e overlay: ...``), joined."""
    lines = []
    while True:
        try:
            msg = os.read(fd, 1024)
        except OSError:
            break
        if not msg:
            break
        lines.append(msg.decode(errors="replace").strip())
    return "; ".join(lines)


class OverlayFS:
    """A mounted overlay filesystem; obtain one from :meth:`OverlayFS.mount`.

    Leaving a ``with`` block unmounts it. :meth:`diff` works before and after unmounting:
    it reads the upper directory.
    """

    def __init__(
        self,
        target: Path,
        lowers: tuple[Path, ...],
        upper: Path | None,
        work: Path | None,
        options: tuple[str, ...],
        userxattr: bool,
    ) -> None:
        self.target = target
        self.lowers = lowers
        self.upper = upper
        self.work = work
        self.options = options
        self.userxattr = userxattr
        self.mounted = True

    def __repr__(self) -> str:
        state = "mounted" if self.mounted else "unmounted"
        return f"<OverlayFS {state} at {str(self.target)!r}, {len(self.lowers)} lowers>"

    @classmethod
    def mount(
        cls,
        target: str | os.PathLike[str],
        lowers: Sequence[str | os.PathLike[str]],
        *,
        upper: str | os.PathLike[str] | None = None,
        work: str | os.PathLike[str] | None = None,
        volatile: bool = False,
        userxattr: bool = False,
        redirect_dir: bool = False,
        index: bool = False,
        metacopy: bool = False,
        readonly: bool = False,
        nosuid: bool = False,
        nodev: bool = False,
        method: str = "auto",
    ) -> OverlayFS:
        """Mount an overlay of ``lowers`` (topmost first) and ``upper`` at ``target``.

        Without ``upper`` (and ``work``) the mount is read-only and needs two lowers or more.
        ``volatile`` skips syncs to the upper layer (for throw-away containers),
        ``userxattr`` uses ``user.overlay.*`` xattrs (needed in a user namespace);
        ``redirect_dir``, ``index`` and ``metacopy`` stay off unless asked for, since
        :meth:`diff` cannot express their renames and metadata-only copies as a tar.
        ``method`` is ``"auto"``, ``"fsconfig"`` (Linux 6.8+) or ``"legacy"`` (``mount(2)``).
        """
        tgt = Path(target).absolute()
        lower_paths = tuple(Path(p).absolute() for p in lowers)
        up = Path(upper).absolute() if upper is not None else None
        wk = Path(work).absolute() if work is not None else None
        _validate(tgt, lower_paths, up, wk, method)
        options = _options(up is not None, volatile, userxattr, redirect_dir, index, metacopy)
        attrs_ = (
            (MOUNT_ATTR_RDONLY if readonly or up is None else 0)
            | (MOUNT_ATTR_NOSUID if nosuid else 0)
            | (MOUNT_ATTR_NODEV if nodev else 0)
        )
        used = _mount(tgt, lower_paths, up, wk, options, attrs_, method)
        log.info("overlay.mounted", target=str(tgt), lowers=len(lower_paths), method=used)
        return cls(tgt, lower_paths, up, wk, options, userxattr)

    def unmount(self, *, detach: bool = False) -> None:
        """Unmount (lazily with ``detach``); a second call does nothing."""
        if not self.mounted:
            return
        try:
            _sys.umount2(str(self.target), _sys.MNT_DETACH if detach else 0)
        except OSError as exc:
            raise OverlayError(
                f"cannot unmount the overlay at {self.target}: {exc.strerror}",
                path=str(self.target),
                errno=exc.errno or 0,
            ) from None
        self.mounted = False
        log.info("overlay.unmounted", target=str(self.target))

    def __enter__(self) -> OverlayFS:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unmount()

    def diff(self) -> Iterator[bytes]:
        """The upper layer's changes as an OCI layer tar stream (see :func:`upper_diff`)."""
        if self.upper is None:
            raise OverlayError("a read-only overlay (no upper layer) has no diff")
        return upper_diff(self.upper, userxattr=self.userxattr)


def _validate(
    target: Path, lowers: tuple[Path, ...], upper: Path | None, work: Path | None, method: str
) -> None:
    if method not in ("auto", "fsconfig", "legacy"):
        raise SpecError("method", f"must be 'auto', 'fsconfig' or 'legacy', got {method!r}")
    if not lowers:
        raise SpecError("lowers", "an overlay needs at least one lower layer")
    if (upper is None) != (work is None):
        raise SpecError("work", "upper and work directories go together: give both or neither")
    if upper is None and len(lowers) < 2:
        raise SpecError("lowers", "a read-only overlay (no upper) needs at least two lowers")
    if len(lowers) > MAX_LOWERS:
        raise SpecError("lowers", f"overlayfs stacks at most {MAX_LOWERS} lower layers")
    named = [("lower layer", p) for p in lowers] + [("mount target", target)]
    if upper is not None and work is not None:
        named += [("upper directory", upper), ("work directory", work)]
    for what, path in named:
        if not path.is_dir():
            problem = "does not exist" if not path.exists() else "is not a directory"
            raise OverlayError(f"{what} {path} {problem}", path=str(path), errno=errno.ENOENT)


def _options(
    has_upper: bool, volatile: bool, userxattr: bool, redirect: bool, index: bool, metacopy: bool
) -> tuple[str, ...]:
    # "nofollow", not "off": "off" still follows redirects where the kernel's
    # redirect_always_follow is set, which userxattr refuses and untrusted lowers abuse.
    opts = [f"redirect_dir={'on' if redirect else 'nofollow'}", f"index={'on' if index else 'off'}"]
    opts.append(f"metacopy={'on' if metacopy else 'off'}")
    if userxattr:
        opts.append("userxattr")
    if volatile and has_upper:
        opts.append("volatile")
    return tuple(opts)


def _mount(
    target: Path,
    lowers: tuple[Path, ...],
    upper: Path | None,
    work: Path | None,
    options: tuple[str, ...],
    attr_flags: int,
    method: str,
) -> str:
    global _lowerdir_plus
    api = _mount_api()
    if method != "legacy" and api.available and _lowerdir_plus is not False:
        try:
            _mount_fsconfig(api, target, lowers, upper, work, options, attr_flags)
            _lowerdir_plus = True
            return "fsconfig"
        except _NoLowerdirPlus:
            _lowerdir_plus = False
            if method == "fsconfig":
                raise OverlayError(
                    "this kernel's overlayfs has no 'lowerdir+' (Linux 6.8+)", errno=errno.EINVAL
                ) from None
    elif method == "fsconfig":
        raise OverlayError("the fd-based mount API is not available here", errno=errno.ENOSYS)
    _mount_legacy(target, lowers, upper, work, options, attr_flags)
    return "legacy"


class _NoLowerdirPlus(Exception):
    pass


def detached_overlay(
    lowers: Sequence[str | os.PathLike[str]],
    upper: str | os.PathLike[str] | None = None,
    work: str | os.PathLike[str] | None = None,
    *,
    volatile: bool = False,
) -> int:
    """An overlay mount attached nowhere yet, as an fd (fsmount): a container's child moves
    it onto its root inside its own mount namespace, so the host never sees it and it is
    gone with the last fd. Needs Linux 6.8+ (``lowerdir+``); the caller closes the fd.
    """
    api = _mount_api()
    if not api.available:
        raise OverlayError("the fd-based mount API is not available here", errno=errno.ENOSYS)
    paths = tuple(Path(p) for p in lowers)
    for p in (*paths, *(Path(x) for x in (upper, work) if x is not None)):
        if not p.is_dir():
            raise OverlayError(
                f"overlay layer {p} is not a directory", path=str(p), errno=errno.ENOENT
            )
    options = _options(upper is not None, volatile, False, False, False, False)
    try:
        fd = _mount_fsconfig(
            api,
            None,
            paths,
            Path(upper) if upper else None,
            Path(work) if work else None,
            options,
            0,
        )
    except _NoLowerdirPlus:
        raise OverlayError(
            "this kernel's overlayfs has no 'lowerdir+' (Linux 6.8+)", errno=errno.EINVAL
        ) from None
    assert fd is not None
    return fd


def _mount_fsconfig(
    api: _MountAPI,
    target: Path | None,
    lowers: tuple[Path, ...],
    upper: Path | None,
    work: Path | None,
    options: tuple[str, ...],
    attr_flags: int,
) -> int | None:
    """Mount with fsopen/fsconfig/fsmount; attach at ``target``, or with no target return
    the detached mount's fd (the caller closes it).
    """
    try:
        fsfd = api.fsopen("overlay")
    except OSError as exc:
        if exc.errno == errno.ENOSYS:
            raise _NoLowerdirPlus from None
        raise OverlayError(f"fsopen(overlay): {exc.strerror}", errno=exc.errno or 0) from None
    held: list[int] = []  # O_PATH fds standing in for paths too long for fsconfig
    step = "lowerdir+"
    current = ""
    detail = ""
    try:
        for i, lower in enumerate(lowers):
            current = str(lower)
            try:
                api.fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", _short(lower, held))
            except OSError as exc:
                detail = _fs_log(fsfd)
                if i == 0 and exc.errno == errno.EINVAL and "nknown parameter" in detail:
                    raise _NoLowerdirPlus from None
                raise
        for key, value in (("upperdir", upper), ("workdir", work)):
            if value is not None:
                step, current = key, str(value)
                api.fsconfig(fsfd, FSCONFIG_SET_STRING, key, _short(value, held))
        for opt in options:
            step, current = opt, ""
            key, sep, val = opt.partition("=")
            if sep:
                api.fsconfig(fsfd, FSCONFIG_SET_STRING, key, val.encode())
            else:
                api.fsconfig(fsfd, FSCONFIG_SET_FLAG, key, None)
        step, current = "create", ""
        api.fsconfig(fsfd, FSCONFIG_CMD_CREATE, None, None)
        step = "fsmount"
        mfd = api.fsmount(fsfd, attr_flags)
        if target is None:
            return mfd
        try:
            step, current = "move_mount", str(target)
            api.move_mount(mfd, str(target))
        finally:
            os.close(mfd)
        return None
    except OSError as exc:
        detail = "; ".join(d for d in (detail, _fs_log(fsfd)) if d)
        where = f" ({current})" if current else ""
        raise OverlayError(
            f"overlay mount at {target} failed at {step}{where}: {exc.strerror}"
            + (f" [{detail}]" if detail else " (see dmesg for overlayfs' reason)"),
            path=current or str(target),
            errno=exc.errno or 0,
        ) from None
    finally:
        os.close(fsfd)
        for fd in held:
            os.close(fd)


def _short(path: Path, held: list[int]) -> bytes:
    """``path`` as fsconfig() can take it: itself, or ``/proc/self/fd/N`` if too long."""
    raw = os.fsencode(path)
    if len(raw) <= _FSCONFIG_VALUE_MAX:
        return raw
    fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    held.append(fd)
    return f"/proc/self/fd/{fd}".encode()


def _mount_legacy(
    target: Path,
    lowers: tuple[Path, ...],
    upper: Path | None,
    work: Path | None,
    options: tuple[str, ...],
    attr_flags: int,
) -> None:
    """``mount(2)`` with one option string; long or odd paths become short symlinks."""
    flags = (
        (_sys.MS_RDONLY if attr_flags & MOUNT_ATTR_RDONLY else 0)
        | (_sys.MS_NOSUID if attr_flags & MOUNT_ATTR_NOSUID else 0)
        | (_sys.MS_NODEV if attr_flags & MOUNT_ATTR_NODEV else 0)
    )
    paths = [*lowers, *(p for p in (upper, work) if p is not None)]
    tmp: str | None = None

    def data(names: list[str]) -> str:
        parts = [f"lowerdir={':'.join(names[: len(lowers)])}"]
        if upper is not None:
            parts += [f"upperdir={names[len(lowers)]}", f"workdir={names[len(lowers) + 1]}"]
        return ",".join([*parts, *options])

    names = [str(p) for p in paths]
    text = data(names)
    if len(text) >= _PAGE or any(c in n for n in names for c in ",:\\"):
        tmp = tempfile.mkdtemp(prefix="pco")
        names = []
        for i, p in enumerate(paths):
            link = os.path.join(tmp, _base36(i))
            os.symlink(p, link)
            names.append(link)
        text = data(names)
    try:
        if len(text) >= _PAGE:
            raise OverlayError(
                f"{len(lowers)} lower layers do not fit mount(2)'s options on this kernel "
                "(Linux 6.8+ takes any number through fsconfig)",
                errno=errno.E2BIG,
            )
        try:
            _sys.mount("overlay", str(target), "overlay", flags, text)
        except OSError as exc:
            raise OverlayError(
                f"overlay mount at {target} failed: {exc.strerror} (see dmesg for overlayfs' reason)",
                path=str(target),
                errno=exc.errno or 0,
            ) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)  # the mount holds the resolved dirs


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


# -- diff -------------------------------------------------------------------------------------


def upper_diff(upper: str | os.PathLike[str], *, userxattr: bool | None = None) -> Iterator[bytes]:
    """The changes in ``upper`` as an OCI layer tar stream (see :mod:`.overlay_diff`)."""
    from pycontainers.fs.overlay_diff import upper_diff as diff

    return diff(upper, userxattr=userxattr)
