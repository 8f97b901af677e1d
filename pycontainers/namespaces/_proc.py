"""Finding namespaces in /proc and checking nsfs files: stat, open, NS_GET_NSTYPE."""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import stat
import threading

from pycontainers.errors import NamespaceError
from pycontainers.namespaces._kinds import NamespaceKind

# ioctl(fd, NS_GET_NSTYPE) on an nsfs file returns the CLONE_NEW* flag of its kind.
NS_GET_NSTYPE = 0xB703
# statfs(2) f_type of nsfs; every namespace inode lives on the one nsfs superblock,
# so comparing st_dev with a known namespace file is an equivalent check.
NSFS_MAGIC = 0x6E736673

Identity = tuple[int, int]
"""A namespace's (device, inode) pair, as stat(2) shows it on its nsfs file."""


def pid_path(pid: int, kind: NamespaceKind) -> str:
    """Return ``/proc/PID/ns/KIND``."""
    return f"/proc/{pid}/ns/{kind.proc_name}"


def thread_self_path(kind: NamespaceKind) -> str:
    """Return ``/proc/thread-self/ns/KIND``: the calling thread's namespace of ``kind``."""
    return f"/proc/thread-self/ns/{kind.proc_name}"


def task_path(kind: NamespaceKind) -> str:
    """Return the calling thread's namespace file by a path that stays valid in other threads."""
    return f"/proc/{os.getpid()}/task/{threading.get_native_id()}/ns/{kind.proc_name}"


@functools.cache
def nsfs_device() -> int:
    """Return ``st_dev`` of the nsfs filesystem (the one superblock of every namespace)."""
    names = sorted(os.listdir("/proc/self/ns"))
    if not names:  # pragma: no cover - a kernel without namespaces
        raise NamespaceError("this kernel exposes no namespaces under /proc/self/ns")
    return os.stat(f"/proc/self/ns/{names[0]}").st_dev


def is_nsfs(st: os.stat_result) -> bool:
    """Tell whether ``st`` describes a namespace file (an inode of nsfs)."""
    return stat.S_ISREG(st.st_mode) and st.st_dev == nsfs_device()


def identity_of(st: os.stat_result) -> Identity:
    """Return the (device, inode) identity of a namespace from its stat result."""
    return (st.st_dev, st.st_ino)


def stat_pid_ns(pid: int, kind: NamespaceKind, path: str | None = None) -> os.stat_result:
    """Stat a process's (or a task's, with ``path``) namespace file with clear errors."""
    where = path or pid_path(pid, kind)
    try:
        return os.stat(where)
    except FileNotFoundError as exc:
        if not os.path.exists(f"/proc/{pid}"):
            raise NamespaceError(
                f"no process with pid {pid}", errno=errno.ESRCH, path=where
            ) from None
        raise NamespaceError(
            f"this kernel has no {kind.value} namespaces ({where} does not exist)",
            errno=exc.errno,
            path=where,
        ) from None
    except PermissionError as exc:
        raise NamespaceError(
            f"not allowed to inspect the {kind.value} namespace of pid {pid}: {exc.strerror} "
            "(needs ptrace access to the process, e.g. root)",
            errno=exc.errno,
            path=where,
        ) from exc


def open_ns(path: str, kind: NamespaceKind, expected: Identity | None = None) -> int:
    """Open the namespace file at ``path`` (O_CLOEXEC) and check it is still the one expected.

    Raises :class:`NamespaceError` if the file is gone, is not a namespace of ``kind``, or
    holds another namespace than ``expected`` (its process exited and the pid was reused).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise NamespaceError(
            f"the {kind.value} namespace is no longer reachable at {path}: {exc.strerror} "
            "(did its process exit or its persisted file get removed?)",
            errno=exc.errno,
            path=path,
        ) from exc
    try:
        st = os.fstat(fd)
        if not is_nsfs(st):
            raise NamespaceError(f"{path} is not a namespace file")
        if expected is not None and identity_of(st) != expected:
            raise NamespaceError(
                f"{path} now holds another namespace (inode {st.st_ino}, expected "
                f"{expected[1]}): the process it belonged to has exited"
            )
        if fd_kind(fd) is not kind:
            raise NamespaceError(f"{path} is not a {kind.value} namespace")
    except BaseException:
        os.close(fd)
        raise
    return fd


def fd_kind(fd: int) -> NamespaceKind:
    """Ask the kernel (ioctl NS_GET_NSTYPE) which kind the namespace open at ``fd`` is."""
    try:
        flag = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError as exc:
        raise NamespaceError(
            f"ioctl(NS_GET_NSTYPE) failed on fd {fd}: {exc.strerror}", errno=exc.errno
        ) from exc
    try:
        return NamespaceKind.from_flag(flag)
    except ValueError:
        raise NamespaceError(f"the kernel reports an unknown namespace type {flag:#x}") from None


def thread_count() -> int:
    """Return how many threads this process has (entries of ``/proc/self/task``)."""
    return len(os.listdir("/proc/self/task"))
