"""Entering a namespace with the calling thread, and coming back (``Namespace.enter()``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

from pycontainers import _sys
from pycontainers._log import get_logger
from pycontainers.errors import NamespaceError
from pycontainers.namespaces._kinds import NamespaceKind
from pycontainers.namespaces._persist import return_thread
from pycontainers.namespaces._proc import thread_count, thread_self_path

log = get_logger("pycontainers.namespaces")

T = TypeVar("T")

_REFUSED = {
    NamespaceKind.USER: (
        "a process cannot enter a user namespace and come back: setns() into a user "
        "namespace needs a single-threaded process and gives up the capabilities needed to "
        "return; use run_in() to run code in a child inside it"
    ),
    NamespaceKind.PID: (
        "entering a pid namespace never moves the caller itself, only the children it "
        "creates afterwards; use run_in() to run code in a child inside it"
    ),
    NamespaceKind.TIME: (
        "a time namespace applies to the whole process (its vDSO clocks) and to children, not "
        "to one thread; use run_in() to run code in a child inside it"
    ),
}


def refusal(kind: NamespaceKind) -> str | None:
    """Return why the calling thread cannot enter a namespace of ``kind``, or None if it can."""
    if kind in _REFUSED:
        return _REFUSED[kind]
    if kind is NamespaceKind.MNT:
        threads = thread_count()
        if threads > 1:
            return (
                f"cannot enter a mount namespace: this process has {threads} threads, and "
                "setns() into a mount namespace needs a single-threaded process (threads share "
                "one root and working directory); use run_in() to run code in a child inside it"
            )
    return None


class NamespaceEntry(Generic[T]):
    """Context manager that moves the calling thread into a namespace and back on exit.

    On enter it keeps an fd to the thread's current namespace of that kind and setns()es
    into the target; on exit it setns()es back to the kept fd. For a mount namespace the
    working directory is restored too (a chroot made before entering is not). Exit must
    happen on the thread that entered.
    """

    def __init__(
        self, kind: NamespaceKind, open_target: Callable[[], int], label: str, value: T
    ) -> None:
        self._kind = kind
        self._value = value
        self._open_target = open_target
        self._label = label
        self._old_fd: int | None = None
        self._cwd_fd: int | None = None
        self._thread: int | None = None

    def __enter__(self) -> T:
        kind = self._kind
        if self._old_fd is not None:
            raise NamespaceError(f"{self._label}: this enter() context is already active")
        why = refusal(kind)
        if why is not None:
            raise NamespaceError(why)
        target = self._open_target()
        try:
            old = os.open(thread_self_path(kind), os.O_RDONLY | os.O_CLOEXEC)
            cwd: int | None = None
            if kind is NamespaceKind.MNT:
                try:
                    cwd = os.open(".", os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY)
                except OSError:
                    cwd = None
            try:
                _sys.setns(target, kind.flag)
            except OSError as exc:
                os.close(old)
                if cwd is not None:
                    os.close(cwd)
                raise NamespaceError(f"cannot enter {self._label}: {exc}", errno=exc.errno) from exc
        finally:
            os.close(target)
        self._old_fd, self._cwd_fd = old, cwd
        self._thread = threading.get_native_id()
        log.debug("namespace.entered", kind=kind.value, target=self._label, thread=self._thread)
        return self._value

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        old, cwd = self._old_fd, self._cwd_fd
        if old is None:
            return
        if threading.get_native_id() != self._thread:
            raise NamespaceError(
                f"{self._label} was entered by thread {self._thread} but left by thread "
                f"{threading.get_native_id()}; leave it on the thread that entered it"
            )
        self._old_fd = self._cwd_fd = None
        try:
            return_thread(old, self._kind)
        finally:
            os.close(old)
            if cwd is not None:
                try:
                    os.fchdir(cwd)
                finally:
                    os.close(cwd)
        log.debug("namespace.left", kind=self._kind.value, target=self._label, thread=self._thread)
