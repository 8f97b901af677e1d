"""Launch: the parent's side of one container start — cgroup, plan, spawn, id maps, release.

A failed start leaves nothing behind: the child is killed and reaped, its fds closed and
its cgroup removed before the error reaches the caller.
"""

from __future__ import annotations

import errno
import os
import signal
from typing import TYPE_CHECKING, Any

from pycontainers.errors import ContainerStartError
from pycontainers.runtime.stdio import Stdio
from pycontainers.spec import ContainerSpec

_HINTS = {
    errno.ELOOP: "the path goes through a symlink where none is allowed",
    errno.EXDEV: "the path resolves outside the container's rootfs (through '..' or a symlink)",
}


def start_error(report: Any, args: tuple[str, ...] | None = None) -> ContainerStartError:
    """Turn the child's (stage, errno, message) report into an exception with a hint."""
    msg = report.message
    if report.errno and report.stage != "exec":
        msg += f": {os.strerror(report.errno)}"
    hint = _HINTS.get(report.errno)
    if hint and report.stage == "mount":
        msg += f" ({hint})"
    if report.stage == "rlimit":
        msg += " (raising a hard limit needs CAP_SYS_RESOURCE)"
    return ContainerStartError(
        report.stage, report.errno, f"{report.stage}: {msg}", report.exit_code
    )


if TYPE_CHECKING:
    from pycontainers.cgroups import CGroup


class Launch:
    """The parent's handle on one spawned child: pid, pidfd and its error socket."""

    def __init__(
        self,
        spec: ContainerSpec,
        stdio: Stdio,
        *,
        host_mountpoint: str | None,
        start_fifo: str | None,
        cgroup_name: str,
    ) -> None:
        from pycontainers import _sys
        from pycontainers.runtime.plan import build_plan

        self.cgroup: CGroup | None = None
        cgroup_fds: list[int] = []
        try:
            if spec.resources is not None:
                from pycontainers.cgroups import CGroup

                self.cgroup = CGroup.create(cgroup_name, spec.resources, parent=spec.cgroup_parent)
                cgroup_fds = [
                    os.open(p, os.O_WRONLY | os.O_CLOEXEC) for p in self.cgroup.procs_paths()
                ]
            plan = build_plan(
                spec,
                fds=stdio.fd_map(),
                host_mountpoint=host_mountpoint,
                start_fifo=start_fifo,
                cgroup_fds=tuple(cgroup_fds),
                cgroup_layout=self.cgroup.layout if self.cgroup is not None else None,
            )
            self.spawned = _sys.spawn(plan)
        except BaseException:
            self.remove_cgroup()
            raise
        finally:
            for fd in cgroup_fds:
                os.close(fd)
        self.pid = self.spawned.pid
        self.pidfd = self.spawned.pidfd
        self.sock: int | None = self.spawned.sock
        stdio.close_child_ends()
        try:
            if plan.no_sync:
                report = _sys.recv_report(self.spawned.sock)
            else:
                self._write_id_maps(spec)
                report = _sys.release(self.spawned.sock)
        except BaseException:
            self.abort()
            raise
        if report is None:  # execve happened
            self._close_sock()
        elif not report.ready:
            self.abort()
            raise start_error(report, spec.process.args)

    def _write_id_maps(self, spec: ContainerSpec) -> None:
        if "user" not in spec.namespaces:
            return
        for name, maps in (("uid_map", spec.uid_mappings), ("gid_map", spec.gid_mappings)):
            text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)
            with open(f"/proc/{self.pid}/{name}", "w") as f:
                f.write(text)

    def _close_sock(self) -> None:
        if self.sock is not None:
            os.close(self.sock)
            self.sock = None

    def confirm_exec(self) -> None:
        """After the start signal: wait for execve (EOF) or raise the child's failure."""
        from pycontainers import _sys

        if self.sock is None:
            return
        report = _sys.recv_report(self.sock)
        self._close_sock()
        if report is not None:
            raise start_error(report)

    def close(self) -> None:
        """Close the socket and pidfd (the child must have been reaped or be left alone)."""
        self._close_sock()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def abort(self) -> None:
        """Kill and reap a child that has not exec'd; close everything."""
        from pycontainers import _sys

        try:
            _sys.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except OSError:
            pass
        _sys.reap(self.pidfd)
        self._close_sock()
        os.close(self.pidfd)
        self.pidfd = -1
        self.remove_cgroup()

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of this container."""
        return self.cgroup is not None and self.cgroup.oom_killed()

    def remove_cgroup(self) -> None:
        """Kill whatever is left in the container's cgroup and remove it."""
        if self.cgroup is not None:
            self.cgroup.delete(kill=True)
            self.cgroup = None
