"""The monitor as a container's supervisor: what any process does with a detached container
through its monitor's files — wait for the exit status, wait for the monitor to finish,
start it again, give back what a stopped container held.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from typing import TYPE_CHECKING, Any

from pycontainers import _log
from pycontainers.errors import ContainerError
from pycontainers.runtime import state as st
from pycontainers.runtime.detach import CLAIM_FILE, read_exit
from pycontainers.runtime.lifecycle import Status
from pycontainers.runtime.stdio import wait_readable
from pycontainers.runtime.supervisor import Supervisor, exited

if TYPE_CHECKING:
    from pycontainers.network.spec import NetworkSpec
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.launch import Launch

log = _log.get_logger("pycontainers.runtime")


class Monitored(Supervisor):
    """A detached container: its monitor is the parent, records the exit in ``exit.json``
    and enforces the restart policy, so any process can wait for it and start it again.
    """

    detached = True

    def __init__(self, launch: Launch | None, pidfd: int | None) -> None:
        super().__init__(launch, pidfd)
        self._claim = -1

    def refresh(self, c: Container) -> None:
        """See :meth:`Supervisor.refresh`: the status of the current run, from its monitor."""
        r = c.record
        live = r.status in (Status.CREATED, Status.RUNNING)
        if live and self.pidfd is not None and exited(self.pidfd):
            r.move(Status.STOPPED)
        if r.status == Status.STOPPED and r.returncode is None:
            done = read_exit(c.state_dir)
            if done is not None and done.get("restart_count", 0) == r.restart_count:
                r.returncode = int(done["exit_code"])

    def wait(self, c: Container, timeout: float | None) -> int:
        """Wait until the current run has exited and its monitor recorded the status."""
        r = c.record
        deadline = None if timeout is None else time.monotonic() + timeout
        if r.returncode is not None and r.status == Status.STOPPED:
            return r.returncode
        if self.pidfd is not None and not wait_readable(self.pidfd, timeout):
            raise TimeoutError(f"container {c.id[:12]} still running after {timeout} s")
        pause = 0.0002  # the file comes a few hundred µs after the exit, as a rule
        while True:  # the monitor drains the output (up to 2 s) before it writes the file
            done = _this_run_exit(c, r.restart_count)
            gone = done is None and not monitor_alive(c)
            if gone:  # it writes the file just before it exits: maybe right after our read
                done = _this_run_exit(c, r.restart_count)
            if done is not None:
                r.returncode = int(done["exit_code"])
                r.status = Status.STOPPED
                return r.returncode
            if gone:
                raise ContainerError(
                    f"container {c.id[:12]} exited but its monitor recorded no status "
                    "(was the monitor killed?)"
                )
            if deadline is not None and time.monotonic() > deadline + 5:
                raise TimeoutError(f"no exit status for container {c.id[:12]} yet")
            time.sleep(pause)
            pause = min(pause * 2, 0.005)

    def start_stopped(self, c: Container) -> None:
        """See :meth:`Supervisor.start_stopped`."""
        start_again(c)

    def stopping(self, c: Container) -> None:
        """See :meth:`Supervisor.stopping`: the mark the monitor reads before restarting."""
        open(os.path.join(c.state_dir, "stopped"), "w").close()

    def start_failed(self, c: Container) -> None:
        """See :meth:`Supervisor.start_failed`: the monitor records the failed run."""

    def finish(self, c: Container) -> None:
        """See :meth:`Supervisor.finish`: the monitor and any exit hook are done with it."""
        if self.pidfd is not None:
            wait_readable(self.pidfd, 10.0)
        wait_monitor_gone(c)
        self.close()  # the claim (if any) last: the monitor has decided by now

    def claim_cleanup(self, c: Container) -> None:
        """Tell the monitor this process will delete ``c`` after its exit (it then skips its
        own clean-up); if this process dies first, the kernel drops the claim.
        """
        if self._claim < 0:
            fd = os.open(
                os.path.join(c.state_dir, CLAIM_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
            fcntl.flock(fd, fcntl.LOCK_SH)
            self._claim = fd

    def close(self) -> None:
        """See :meth:`Supervisor.close` (a claim is dropped too)."""
        super().close()
        if self._claim >= 0:
            os.close(self._claim)
            self._claim = -1


def _this_run_exit(c: Container, restart_count: int) -> dict[str, Any] | None:
    """The exit file if it is of run ``restart_count`` (or a later one), else None."""
    done = read_exit(c.state_dir)
    return done if done is not None and done.get("restart_count", 0) >= restart_count else None


def monitor_alive(c: Container) -> bool:
    """Whether the monitor recorded in the state (or its hook, same pid) still runs."""
    try:
        s = st.read_state(c.state_dir)
    except ContainerError:
        return False
    return bool(s.monitor_pid) and st.proc_alive(s.monitor_pid, s.monitor_start)


def wait_monitor_gone(c: Container, timeout: float = 15.0) -> None:
    """Wait for the monitor and the hook it became to finish. A restart hook that was
    already past its check of the stop mark has started a new run by then: that run is
    killed and waited for too, until no monitor of this container is left.
    """
    import signal

    seen: set[tuple[int, int]] = set()
    for _ in range(5):
        try:
            s = st.read_state(c.state_dir)
        except ContainerError:
            return
        if (s.monitor_pid, s.monitor_start) in seen:
            return
        seen.add((s.monitor_pid, s.monitor_start))
        if len(seen) > 1 and st.proc_alive(s.pid, s.starttime):
            with contextlib.suppress(OSError):
                os.kill(s.pid, signal.SIGKILL)
        _wait_one_monitor(c, s, timeout)


def _wait_one_monitor(c: Container, s: st.State, timeout: float) -> None:
    from pycontainers import _sys

    if not s.monitor_pid or not st.proc_alive(s.monitor_pid, s.monitor_start):
        return
    if s.monitor_pid == os.getpid():  # we are its exit hook
        return
    try:
        fd = _sys.pidfd_open(s.monitor_pid)
    except OSError:
        return
    try:
        if not wait_readable(fd, timeout):
            log.warning("container.monitor_lingers", id=c.id, pid=s.monitor_pid)
    finally:
        os.close(fd)


def release_resources(c: Container) -> None:
    """Give back what a stopped container held: its network endpoint and its cgroup (the
    monitor removed the cgroup already when nothing was left in it).
    """
    from pycontainers.network.endpoint import disconnect

    root = os.path.dirname(c.state_dir)
    with contextlib.suppress(FileNotFoundError):
        disconnect(c.id, root)
    cgroup = c.record.cgroup
    if cgroup is not None:
        from pycontainers.runtime.launch import drop_cgroup

        with contextlib.suppress(Exception):
            drop_cgroup(cgroup, os.path.dirname(cgroup.path))
        c.record.cgroup = None


def start_again(c: Container, restart_count: int | None = None) -> None:
    """Run a stopped detached container again from its saved spec (same id, name, layer)."""
    import attrs

    from pycontainers.runtime.create import launch_into
    from pycontainers.runtime.specfile import load_spec

    spec, options = load_spec(c.state_dir)
    detach = options["detach"]
    if restart_count is not None:
        detach = attrs.evolve(detach, restart_count=restart_count)
    wait_monitor_gone(c)  # the last run's monitor and exit hook are done with it
    for name in ("stopped", "exit.json", "health.json"):  # never read the last run's status
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(c.state_dir, name))
    release_resources(c)
    c.supervisor.close()
    c.record.name = options.get("name", "")
    c.record.returncode = None
    from pycontainers.network import extras

    # its further networks are joined before its command runs: it waits on its start fifo
    further = extras.load(c.state_dir) if spec.network is not None else []
    launch_into(c, spec, detach, (None, None, None), bool(further))
    if further:
        from pycontainers.runtime.start import release_created

        try:
            _rejoin(c, further)
            release_created(c)
        except BaseException:
            with contextlib.suppress(Exception):  # not left waiting on its fifo
                c.kill(signal.SIGKILL)
            raise
    log.info("container.started", id=c.id, pid=c.pid, restart_count=detach.restart_count)


def _rejoin(c: Container, further: list[NetworkSpec]) -> None:
    """Connect ``c`` (started again, its command not yet released) to each of its further
    networks. A network that is gone, or a connect that fails, is logged and skipped (it
    runs on the networks left, as Docker starts a container whose extra network was
    removed); the record stays until a disconnect.
    """
    from pycontainers.errors import PyContainersError
    from pycontainers.network.attach import attach
    from pycontainers.network.network import Network

    for spec in further:
        try:
            attach(Network.get(spec.network), c, aliases=spec.aliases, ip=spec.ip)
        except PyContainersError as exc:
            log.warning("network.rejoin_failed", id=c.id, network=spec.network, error=str(exc))


__all__ = [
    "Monitored",
    "monitor_alive",
    "release_resources",
    "start_again",
    "wait_monitor_gone",
]
