"""Namespace kinds: the names under ``/proc/PID/ns`` and their ``CLONE_NEW*`` flags."""

from __future__ import annotations

import enum
import os

from pycontainers import _sys


class NamespaceKind(enum.StrEnum):
    """A kind of Linux namespace, named as its file under ``/proc/PID/ns``.

    Members compare and hash equal to their names, so ``"net"`` works wherever a
    kind is expected. ``pid_for_children`` and ``time_for_children`` are views of the
    pid and time kinds, not kinds of their own.
    """

    CGROUP = "cgroup"
    IPC = "ipc"
    MNT = "mnt"
    NET = "net"
    PID = "pid"
    TIME = "time"
    USER = "user"
    UTS = "uts"

    @property
    def flag(self) -> int:
        """The ``CLONE_NEW*`` flag of this kind (also its ``NS_GET_NSTYPE`` value)."""
        return _FLAGS[self]

    @property
    def proc_name(self) -> str:
        """The file name of this kind under ``/proc/PID/ns``."""
        return self.value

    @property
    def thread_enterable(self) -> bool:
        """Whether a thread can setns() into this kind and back without affecting others."""
        return self in _THREAD_KINDS

    @classmethod
    def parse(cls, value: NamespaceKind | str) -> NamespaceKind:
        """Return the kind named ``value``; raise ``ValueError`` naming the valid kinds."""
        if isinstance(value, NamespaceKind):
            return value
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(k.value for k in cls)
            raise ValueError(f"unknown namespace kind {value!r}; expected one of {valid}") from None

    @classmethod
    def from_flag(cls, flag: int) -> NamespaceKind:
        """Return the kind whose ``CLONE_NEW*`` flag is ``flag``."""
        for kind, value in _FLAGS.items():
            if value == flag:
                return kind
        raise ValueError(f"no namespace kind has the clone flag {flag:#x}")

    @classmethod
    def supported(cls) -> frozenset[NamespaceKind]:
        """Return the kinds this kernel provides (those under ``/proc/self/ns``)."""
        try:
            names = set(os.listdir("/proc/self/ns"))
        except OSError:
            return frozenset()
        return frozenset(kind for kind in cls if kind.proc_name in names)


_FLAGS: dict[NamespaceKind, int] = {
    NamespaceKind.CGROUP: _sys.CLONE_NEWCGROUP,
    NamespaceKind.IPC: _sys.CLONE_NEWIPC,
    NamespaceKind.MNT: _sys.CLONE_NEWNS,
    NamespaceKind.NET: _sys.CLONE_NEWNET,
    NamespaceKind.PID: _sys.CLONE_NEWPID,
    NamespaceKind.TIME: _sys.CLONE_NEWTIME,
    NamespaceKind.USER: _sys.CLONE_NEWUSER,
    NamespaceKind.UTS: _sys.CLONE_NEWUTS,
}

# Kinds a thread can unshare() and setns() in and out of on its own, leaving the
# other threads of the process where they are.
_THREAD_KINDS = frozenset(
    {NamespaceKind.CGROUP, NamespaceKind.IPC, NamespaceKind.NET, NamespaceKind.UTS}
)
