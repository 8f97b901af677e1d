"""Persisting namespaces: bind-mount an nsfs file onto a path, and undo it.

A namespace lives as long as a process, an open fd or a bind mount of its nsfs file
refers to it. ``create`` makes a new namespace and pins it with a bind mount, never
forking the Python interpreter:

* cgroup, ipc, net, uts: the calling thread unshare()s into a new namespace, bind-mounts
  ``/proc/thread-self/ns/KIND`` and setns()es back, all in a try/finally;
* mnt, time, user: the C shim starts a holder child in the new namespace
  (``_sys.spawn_hold``); its ``/proc/PID/ns/KIND`` is bind-mounted from the parent's mount
  namespace, then the holder is killed and reaped.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat

import attrs

from pycontainers import _sys
from pycontainers._log import get_logger
from pycontainers.errors import NamespaceError
from pycontainers.namespaces._kinds import NamespaceKind
from pycontainers.namespaces._proc import (
    Identity,
    identity_of,
    is_nsfs,
    pid_path,
    thread_self_path,
)

log = get_logger("pycontainers.namespaces")

_PID_REFUSED = (
    "a pid namespace cannot be created and persisted: it lives only as long as its init "
    "process, and once the holder process is killed no new process can ever be created in "
    "it. Start processes in a new pid namespace with the runtime (or spawn_joined), or "
    "persist the pid namespace of a running process with Namespace.of_pid(pid, 'pid')"
    ".persist(path), which stays usable while that process lives."
)


@attrs.frozen
class Persisted:
    """Where a namespace is bind-mounted, and whether we created the file under the mount."""

    path: str
    created_file: bool


def prepare_target(path: str) -> bool:
    """Make sure ``path`` is a regular file to mount on; return True if it was created."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if is_nsfs(st):
            raise NamespaceError(f"a namespace is already mounted at {path}")
        if not stat.S_ISREG(st.st_mode):
            raise NamespaceError(
                f"cannot persist a namespace at {path}: it exists and is not a regular file"
            )
        return False
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o444
        )
    except OSError as exc:
        raise NamespaceError(
            f"cannot create {path} to persist a namespace on: {exc.strerror}",
            errno=exc.errno,
            path=path,
        ) from exc
    os.close(fd)
    return True


def create(kind: NamespaceKind, path: str) -> bool:
    """Create a new namespace of ``kind`` and bind-mount it on ``path``.

    Returns True if ``path`` was created (an empty file) for the mount.
    """
    if kind is NamespaceKind.PID:
        raise NamespaceError(_PID_REFUSED)
    created = prepare_target(path)
    try:
        if kind.thread_enterable:
            _bind_from_thread(kind, path)
        else:
            _bind_from_holder(kind, path)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise
    return created


def bind_fd(fd: int, kind: NamespaceKind, path: str) -> bool:
    """Bind-mount the namespace open at ``fd`` on ``path``; return True if the file was created."""
    created = prepare_target(path)
    try:
        _mount(f"/proc/self/fd/{fd}", path, kind)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise
    return created


def unbind(record: Persisted, kind: NamespaceKind, expected: Identity, *, unlink: bool) -> None:
    """Undo a persisted namespace: lazy-unmount it (MNT_DETACH) and maybe unlink the file."""
    path = record.path
    try:
        st = os.stat(path)
    except FileNotFoundError:
        log.debug("namespace.remove_missing", kind=kind.value, path=path)
        return
    if is_nsfs(st):
        if identity_of(st) != expected:
            raise NamespaceError(
                f"{path} now holds another namespace (inode {st.st_ino}, expected "
                f"{expected[1]}); not unmounting it"
            )
        try:
            _sys.umount2(path, _sys.MNT_DETACH)
        except OSError as exc:
            raise NamespaceError(
                f"cannot unmount the {kind.value} namespace at {path}: {exc}",
                errno=exc.errno,
                path=path,
            ) from exc
    if unlink:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise NamespaceError(
                f"unmounted {path} but cannot remove the file: {exc.strerror}",
                errno=exc.errno,
                path=path,
            ) from exc


def _mount(source: str, path: str, kind: NamespaceKind) -> None:
    """Bind-mount the nsfs file ``source`` on ``path``, explaining the usual failures."""
    try:
        _sys.mount(source, path, None, _sys.MS_BIND)
    except OSError as exc:
        hint = ""
        if exc.errno == errno.EPERM:
            hint = " (persisting a namespace needs CAP_SYS_ADMIN, e.g. root)"
        elif exc.errno == errno.EINVAL and kind is NamespaceKind.MNT:
            hint = (
                " (a mount namespace can only be persisted from an older mount namespace and "
                f"on a mount that is not shared with it: make the directory of {path} a "
                "private mount, as util-linux's unshare --mount=FILE also requires)"
            )
        raise NamespaceError(
            f"cannot persist the {kind.value} namespace on {path}: {exc}{hint}",
            errno=exc.errno,
            path=path,
        ) from exc


def _bind_from_thread(kind: NamespaceKind, path: str) -> None:
    """Unshare ``kind`` in this thread, bind-mount the new namespace, then setns back."""
    own = thread_self_path(kind)
    old = os.open(own, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            _sys.unshare(kind.flag)
        except OSError as exc:
            raise NamespaceError(
                f"cannot create a {kind.value} namespace: {exc}", errno=exc.errno
            ) from exc
        try:
            _mount(own, path, kind)
        finally:
            return_thread(old, kind)
    finally:
        os.close(old)


def return_thread(old_fd: int, kind: NamespaceKind) -> None:
    """Put the calling thread back into the namespace open at ``old_fd``, loudly if it fails."""
    try:
        _sys.setns(old_fd, kind.flag)
    except OSError as exc:
        log.error("namespace.return_failed", kind=kind.value, error=str(exc))
        raise NamespaceError(
            f"could not return this thread to its previous {kind.value} namespace: {exc}; "
            "the thread is still inside the other namespace",
            errno=exc.errno,
        ) from exc


def _bind_from_holder(kind: NamespaceKind, path: str) -> None:
    """Start a holder child in a new namespace of ``kind``, bind its ns file, kill it."""
    try:
        pid, pidfd = _sys.spawn_hold(kind.flag)
    except OSError as exc:
        raise NamespaceError(
            f"cannot create a {kind.value} namespace: {exc}", errno=exc.errno
        ) from exc
    try:
        _mount(pid_path(pid, kind), path, kind)
    finally:
        stop_child(pidfd)


def stop_child(pidfd: int) -> None:
    """SIGKILL the child behind ``pidfd`` (if still alive), reap it and close the pidfd."""
    try:
        try:
            _sys.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise
        while True:
            try:
                os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
            except InterruptedError:
                continue
            except ChildProcessError:
                pass
            break
    finally:
        os.close(pidfd)
