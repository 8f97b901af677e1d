"""OverlayFS: stack read-only lower layers under a writable upper layer, and diff the upper.

>>> with OverlayFS.mount("/mnt/root", ["/snap/2", "/snap/1"], upper="/c/up", work="/c/work") as ov:
...     ...                                                   # doctest: +SKIP
>>> layer = b"".join(ov.diff())  # an OCI layer tar of what changed  # doctest: +SKIP

Lower layers are given **topmost first**, as overlayfs' ``lowerdir`` lists them. However many
there are (up to overlayfs' 500), the mount works:

* **lowerdir+** (Linux 6.8+): layers go to the kernel one at a time through the fd-based
  mount API (``fsopen("overlay")``, then ``fsconfig(FSCONFIG_SET_STRING, "lowerdir+", path)``
  per layer, ``fsmount``), so no option string hits a size limit.
* **legacy** (older kernels): one ``lowerdir=`` option string (topmost first, with colons,
  commas and backslashes escaped) through ``mount(2)``. When the options would not fit its page
  (4096 bytes), the layers are linked from a temporary directory as short symlinks
  (``l/0``, ``l/1`` ..., as Docker's overlay2 driver does) and named relative to it: the
  shim mounts from a helper thread whose working directory is that one, so the process's
  own cwd never changes. A detached overlay (:func:`detached_overlay`) is mounted in a
  private mount namespace of that thread and cloned out with ``open_tree``.

Which one is used is decided once per process: the first mount probes whether this kernel's
overlayfs takes ``lowerdir+`` (:func:`lowerdir_plus_supported`). The environment variable
``PYCONTAINERS_OVERLAY_LOWERDIR_PLUS`` overrides the probe at every mount: ``0`` forces the
legacy way (tests use it), ``1`` requires ``lowerdir+`` (an error where it is missing); unset
or ``auto`` probes. ``OverlayFS.mount(method=...)`` chooses for one mount.

Every kernel call goes through :mod:`pycontainers._sys` (the C shim).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from pycontainers import _fsapi, _sys
from pycontainers._log import get_logger
from pycontainers.errors import OverlayError as OverlayError
from pycontainers.errors import SpecError

log = get_logger("pycontainers.fs")

__all__ = ["OverlayError", "OverlayFS", "lowerdir_plus_supported", "upper_diff"]

#: Environment variable forcing the mount method: "0" legacy, "1" lowerdir+, "auto" probe.
ENV_LOWERDIR_PLUS = "PYCONTAINERS_OVERLAY_LOWERDIR_PLUS"
MOUNT_ATTR_RDONLY = _fsapi.MOUNT_ATTR_RDONLY
MOUNT_ATTR_NOSUID = _fsapi.MOUNT_ATTR_NOSUID
MOUNT_ATTR_NODEV = _fsapi.MOUNT_ATTR_NODEV
_FSCONFIG_VALUE_MAX = 255  # fsconfig() copies at most 256 bytes of a string value
_PAGE = os.sysconf("SC_PAGESIZE")  # mount(2) copies at most one page of options
MAX_LOWERS = 500  # OVL_MAX_STACK

_WHITEOUT_PREFIX = ".wh."
_OPAQUE_MARKER = ".wh..wh..opq"
_PRIVATE_XATTRS = ("trusted.overlay.", "user.overlay.")
_CHUNK = 1 << 20


_lowerdir_plus: bool | None = None  # does the kernel take "lowerdir+"? (None: not probed yet)


def lowerdir_plus_supported() -> bool | None:
    """Whether this kernel's overlayfs takes ``lowerdir+`` (Linux 6.8+), probed once per
    process; None if it cannot be told here (no permission to create an fs context).
    """
    global _lowerdir_plus
    if _lowerdir_plus is not None:
        return _lowerdir_plus
    try:
        fd = _fsapi.fsopen("overlay")
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            return None
        _lowerdir_plus = False  # no fd-based mount API at all
    else:
        try:
            # a context of the legacy kind (overlayfs before 6.5) takes any key and fails
            # only at creation; a native one refuses keys it does not know
            _fsapi.fsconfig_string(fd, "pycontainers-probe", "x")
            _lowerdir_plus = False
        except OSError:
            try:
                _fsapi.fsconfig_string(fd, "lowerdir+", "/")
                _lowerdir_plus = True
            except OSError as exc:
                _lowerdir_plus = False if exc.errno == errno.EINVAL else None
        finally:
            os.close(fd)
    log.info("overlay.probed", lowerdir_plus=_lowerdir_plus)
    return _lowerdir_plus


def _use_lowerdir_plus(method: str) -> bool:
    """Whether to mount through ``lowerdir+`` (True) or one ``lowerdir=`` string (False)."""
    wanted = method
    if method == "auto":
        env = os.environ.get(ENV_LOWERDIR_PLUS, "auto").strip().lower()
        if env in ("0", "no", "false", "off"):
            return False
        wanted = "fsconfig" if env in ("1", "yes", "true", "on") else "auto"
    if wanted == "legacy":
        return False
    supported = lowerdir_plus_supported()
    if wanted == "fsconfig" and supported is False:
        raise OverlayError(
            "this kernel's overlayfs has no 'lowerdir+' (Linux 6.8+)", errno=errno.EINVAL
        )
    return supported is not False  # unknown: try it, the error says why it failed


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
        used, _ = _mount(tgt, lower_paths, up, wk, options, attrs_, method)
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
                errno=exc.errno,
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
            exists = path.exists()
            problem = "is not a directory" if exists else "does not exist"
            code = errno.ENOTDIR if exists else errno.ENOENT
            raise OverlayError(f"{what} {path} {problem}", path=str(path), errno=code)


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
    target: Path | None,
    lowers: tuple[Path, ...],
    upper: Path | None,
    work: Path | None,
    options: tuple[str, ...],
    attr_flags: int,
    method: str,
) -> tuple[str, int | None]:
    """Mount at ``target``, or with no target return a detached mount's fd; and the way."""
    if _use_lowerdir_plus(method):
        return "fsconfig", _mount_fsconfig(target, lowers, upper, work, options, attr_flags)
    return "legacy", _mount_legacy(target, lowers, upper, work, options, attr_flags)


def detached_overlay(
    lowers: Sequence[str | os.PathLike[str]],
    upper: str | os.PathLike[str] | None = None,
    work: str | os.PathLike[str] | None = None,
    *,
    volatile: bool = False,
) -> int:
    """An overlay mount attached nowhere yet, as an fd (fsmount): a container's child moves
    it onto its root inside its own mount namespace, so the host never sees it and it is
    gone with the last fd. ``lowerdir+`` or the legacy way, as for :meth:`OverlayFS.mount`;
    the caller closes the fd.
    """
    paths = tuple(Path(p).absolute() for p in lowers)
    up = Path(upper).absolute() if upper is not None else None
    wk = Path(work).absolute() if work is not None else None
    for p in (*paths, *(x for x in (up, wk) if x is not None)):
        if not p.is_dir():
            raise OverlayError(
                f"overlay layer {p} is not a directory", path=str(p), errno=errno.ENOENT
            )
    options = _options(up is not None, volatile, False, False, False, False)
    used, fd = _mount(None, paths, up, wk, options, 0, "auto")
    assert fd is not None
    log.debug("overlay.detached", lowers=len(paths), method=used)
    return fd


def _mount_fsconfig(
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
        fsfd = _fsapi.fsopen("overlay")
    except OSError as exc:
        raise OverlayError(f"fsopen(overlay): {exc.strerror}", errno=exc.errno) from None
    held: list[int] = []  # O_PATH fds standing in for paths too long for fsconfig
    step, current = "lowerdir+", ""
    try:
        for lower in lowers:
            current = str(lower)
            _fsapi.fsconfig_string(fsfd, "lowerdir+", _short(lower, held))
        for key, value in (("upperdir", upper), ("workdir", work)):
            if value is not None:
                step, current = key, str(value)
                _fsapi.fsconfig_string(fsfd, key, _short(value, held))
        for opt in options:
            step, current = opt, ""
            key, sep, val = opt.partition("=")
            if sep:
                _fsapi.fsconfig_string(fsfd, key, val)
            else:
                _fsapi.fsconfig_flag(fsfd, key)
        step, current = "create", ""
        _fsapi.fsconfig_create(fsfd)
        step = "fsmount"
        mfd = _fsapi.fsmount(fsfd, attr_flags)
        if target is None:
            return mfd
        try:
            step, current = "move_mount", str(target)
            _fsapi.move_mount(mfd, str(target))
        finally:
            os.close(mfd)
        return None
    except OSError as exc:
        detail = _fs_log(fsfd)
        where = f" ({current})" if current else ""
        raise OverlayError(
            f"overlay mount at {target or '(detached)'} failed at {step}{where}: {exc.strerror}"
            + (f" [{detail}]" if detail else " (see dmesg for overlayfs' reason)"),
            path=current or (str(target) if target else None),
            errno=exc.errno,
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


def _escape(path: str) -> str:
    """``path`` as one item of overlayfs' option string (backslash, colon, comma escaped)."""
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def _legacy_data(
    names: list[str], n_lowers: int, has_upper: bool, options: tuple[str, ...]
) -> bytes:
    parts = [f"lowerdir={':'.join(_escape(n) for n in names[:n_lowers])}"]
    if has_upper:
        parts += [f"upperdir={_escape(names[n_lowers])}", f"workdir={_escape(names[n_lowers + 1])}"]
    return os.fsencode(",".join([*parts, *options]))


def _mount_legacy(
    target: Path | None,
    lowers: tuple[Path, ...],
    upper: Path | None,
    work: Path | None,
    options: tuple[str, ...],
    attr_flags: int,
) -> int | None:
    """``mount(2)`` with one ``lowerdir=`` option string; short relative symlinks in a
    temporary directory when the plain paths do not fit a page. Attach at ``target``, or
    with no target return a detached clone's fd.
    """
    flags = (
        (_sys.MS_RDONLY if attr_flags & MOUNT_ATTR_RDONLY else 0)
        | (_sys.MS_NOSUID if attr_flags & MOUNT_ATTR_NOSUID else 0)
        | (_sys.MS_NODEV if attr_flags & MOUNT_ATTR_NODEV else 0)
    )
    paths = [*lowers, *(p for p in (upper, work) if p is not None)]
    data = _legacy_data([str(p) for p in paths], len(lowers), upper is not None, options)
    linked = len(data) >= _PAGE
    tmp = tempfile.mkdtemp(prefix="pco-") if linked or target is None else None
    cwd_fd = -1
    try:
        if tmp is not None:
            cwd_fd = os.open(tmp, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        if linked:
            assert tmp is not None
            os.mkdir(os.path.join(tmp, "l"))
            names = []
            for i, p in enumerate(paths):
                os.symlink(p, os.path.join(tmp, "l", _base36(i)))
                names.append(f"l/{_base36(i)}")  # relative to tmp, the helper thread's cwd
            data = _legacy_data(names, len(lowers), upper is not None, options)
        if len(data) >= _PAGE:
            raise OverlayError(
                f"{len(lowers)} lower layers do not fit mount(2)'s options on this kernel "
                "(Linux 6.8+ takes any number through fsconfig)",
                errno=errno.E2BIG,
            )
        where = str(target) if target is not None else os.path.join(str(tmp), "m")
        if target is None:
            os.mkdir(where)
        try:
            fd = _fsapi.mount_in(
                cwd_fd, None, where, "overlay", flags, data, detached=target is None
            )
        except OSError as exc:
            raise OverlayError(
                f"overlay mount at {target or '(detached)'} failed: {exc.strerror} "
                f"(see dmesg for overlayfs' reason)",
                path=str(target) if target is not None else None,
                errno=exc.errno,
            ) from None
        log.debug("overlay.legacy_mount", lowers=len(lowers), linked=linked, size=len(data))
        return fd if target is None else None
    finally:
        if cwd_fd >= 0:
            os.close(cwd_fd)
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


def upper_diff(
    upper: str | os.PathLike[str], *, userxattr: bool | None = None, mtime_max: int | None = None
) -> Iterator[bytes]:
    """The changes in ``upper`` as an OCI layer tar stream (see :mod:`.overlay_diff`)."""
    from pycontainers.fs.overlay_diff import upper_diff as diff

    return diff(upper, userxattr=userxattr, mtime_max=mtime_max)
