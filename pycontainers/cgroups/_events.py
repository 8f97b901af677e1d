"""OOM notifications: an eventfd on v1 ``memory.oom_control``, POLLPRI on v2 ``memory.events``."""

from __future__ import annotations

import os
import select
import time
from types import TracebackType

from pycontainers.cgroups import _fs
from pycontainers.cgroups._errors import CgroupNotSupported
from pycontainers.cgroups._fs import flat_keyed


class OomWatcher:
    """Waits for out-of-memory events of one cgroup; a context manager that owns its fds.

    Get one from :meth:`CGroup.oom_events` *before* the workload runs; events that happen
    after that are not missed. :meth:`wait` returns True once per burst of events.
    """

    __slots__ = ("_baseline", "_dir", "_fds", "_kind")

    def __init__(self, kind: str, group_dir: str, fds: list[int], baseline: int = 0) -> None:
        self._kind = kind
        self._dir = group_dir
        self._fds = fds
        self._baseline = baseline

    @classmethod
    def v1(cls, memory_dir: str) -> OomWatcher:
        """Register an eventfd for ``memory.oom_control`` through ``cgroup.event_control``."""
        control = os.path.join(memory_dir, "memory.oom_control")
        if not os.path.exists(control):
            raise CgroupNotSupported(f"no memory.oom_control in {memory_dir}", path=memory_dir)
        efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            ofd = os.open(control, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            os.close(efd)
            raise
        watcher = cls("v1", memory_dir, [efd, ofd])
        try:
            _fs.write(os.path.join(memory_dir, "cgroup.event_control"), f"{efd} {ofd}")
        except BaseException:
            watcher.close()
            raise
        return watcher

    @classmethod
    def v2(cls, group_dir: str) -> OomWatcher:
        """Watch ``memory.events`` (the kernel signals changes with POLLPRI)."""
        path = os.path.join(group_dir, "memory.events")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise CgroupNotSupported(
                f"no memory.events in {group_dir}: the memory controller is not enabled there",
                path=path,
                errno=exc.errno,
            ) from None
        watcher = cls("v2", group_dir, [fd])
        watcher._baseline = watcher._count()
        return watcher

    def _count(self) -> int:
        counts = flat_keyed(os.pread(self._fds[0], 4096, 0).decode())
        return counts.get("oom", 0) + counts.get("oom_kill", 0)

    def fileno(self) -> int:
        """The fd to poll: readable on v1 (an eventfd), POLLPRI on v2 (``memory.events``)."""
        return self._fds[0]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until an OOM event (True) or until ``timeout`` seconds pass (False).

        On v1 the eventfd also fires when the group is removed; that returns False.
        """
        if not self._fds:
            raise ValueError("the OOM watcher is closed")
        deadline = None if timeout is None else time.monotonic() + timeout
        poller = select.poll()
        if self._kind == "v1":
            poller.register(self._fds[0], select.POLLIN)
        else:
            poller.register(self._fds[0], select.POLLPRI | select.POLLERR)
        while True:
            if self._kind == "v2":
                count = self._count()
                if count > self._baseline:
                    self._baseline = count
                    return True
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            step = 0.5 if self._kind == "v2" else left  # v2 re-reads, in case a wake-up is lost
            if step is not None and left is not None:
                step = min(step, left)
            ready = poller.poll(None if step is None else step * 1000)
            if ready and self._kind == "v1":
                try:
                    os.eventfd_read(self._fds[0])
                except BlockingIOError:
                    continue
                return os.path.isdir(self._dir)
            if left is not None and left <= 0:
                return False

    def close(self) -> None:
        """Close the watcher's file descriptors (the kernel then drops the registration)."""
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def __enter__(self) -> OomWatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if not self._fds else f"fd={self._fds[0]}"
        return f"<OomWatcher {self._kind} {self._dir} {state}>"
