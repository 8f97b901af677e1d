"""``Container``: a container's life — create, start, wait, kill, delete — from any process.

``Container.create`` runs the whole setup in the C child, which then waits on a fifo in the
container's state directory; ``start()`` (from this process, or another one after
``Container.load(id)``) releases it into execve, like ``runc create`` / ``runc start``.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import time
from types import TracebackType
from typing import Any

from pycontainers import _log
from pycontainers.errors import ContainerError, ContainerStartError
from pycontainers.runtime import state as st
from pycontainers.runtime.stdio import Stdio, StdioArg
from pycontainers.spec import ContainerSpec

log = _log.get_logger("pycontainers.runtime")

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


class Launch:
    """The parent's handle on one spawned child: pid, pidfd and its error socket."""

    def __init__(
        self,
        spec: ContainerSpec,
        stdio: Stdio,
        *,
        host_mountpoint: str | None,
        start_fifo: str | None,
    ) -> None:
        from pycontainers import _sys
        from pycontainers.runtime.plan import build_plan

        plan = build_plan(
            spec, fds=stdio.fd_map(), host_mountpoint=host_mountpoint, start_fifo=start_fifo
        )
        self.spawned = _sys.spawn(plan)
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


def _new_id() -> str:
    return os.urandom(32).hex()


class Container:
    """A container with a life longer than one call: create, start, wait, kill, delete.

    Use it as a context manager to always clean up::

        with Container.create("host", ["sleep", "5"]) as c:
            c.start()
            c.wait()
    """

    def __init__(
        self,
        container_id: str,
        state_dir: str,
        spec: ContainerSpec | None,
        launch: Launch | None,
        stdio: Stdio | None,
        status: str,
        pid: int,
    ) -> None:
        self.id = container_id
        self.state_dir = state_dir
        self.spec = spec
        self._launch = launch
        self._stdio = stdio
        self._status = status
        self._pid = pid
        self._pidfd: int | None = launch.pidfd if launch else None
        self.returncode: int | None = None

    # -- construction ---------------------------------------------------------------

    @classmethod
    def create(
        cls,
        rootfs: str | ContainerSpec,
        args: list[str] | tuple[str, ...] | None = None,
        *,
        id: str | None = None,
        state_root: str | None = None,
        stdin: StdioArg = None,
        stdout: StdioArg = None,
        stderr: StdioArg = None,
        **spec_kwargs: Any,
    ) -> Container:
        """Create a container: set up in its namespaces and wait for :meth:`start`.

        ``rootfs`` is a directory, ``"host"``, or a full :class:`ContainerSpec` (then
        ``args`` and spec keywords are not given). Spec keywords are those of :func:`run`.
        """
        from pycontainers.runtime.run import make_spec

        spec = (
            rootfs if isinstance(rootfs, ContainerSpec) else make_spec(rootfs, args, **spec_kwargs)
        )
        container_id = st.check_id(id or _new_id())
        root = st.ensure_dir(state_root or st.default_state_root())
        state_dir = os.path.join(root, container_id)
        try:
            os.mkdir(state_dir, 0o700)
        except FileExistsError:
            raise ContainerError(
                f"a container with id {container_id} already exists in {root}"
            ) from None
        stdio: Stdio | None = None
        try:
            fifo = os.path.join(state_dir, "start.fifo")
            os.mkfifo(fifo, 0o600)
            stdio = Stdio(stdin, stdout, stderr)
            mnt = st.ensure_dir(os.path.join(root, ".mnt")) if spec.rootfs == "host" else None
            launch = Launch(spec, stdio, host_mountpoint=mnt, start_fifo=fifo)
        except BaseException:
            if stdio is not None:
                stdio.close_all()
            _remove_dir(state_dir)
            raise
        self = cls(container_id, state_dir, spec, launch, stdio, "created", launch.pid)
        self._save()
        log.info("container.created", id=container_id, pid=launch.pid)
        return self

    @classmethod
    def load(cls, container_id: str, *, state_root: str | None = None) -> Container:
        """Open a container created by any process, by id."""
        root = state_root or st.default_state_root()
        state_dir = os.path.join(root, st.check_id(container_id))
        s = st.read_state(state_dir)
        self = cls(container_id, state_dir, None, None, None, s.status, s.pid)
        if s.status in ("created", "running") and st.proc_starttime(s.pid) == s.starttime:
            try:
                from pycontainers import _sys

                self._pidfd = _sys.pidfd_open(s.pid)
            except OSError:
                self._status = "stopped"
        else:
            self._status = "stopped"
        return self

    def _save(self) -> None:
        state = st.State(
            id=self.id,
            pid=self._pid,
            starttime=st.proc_starttime(self._pid),
            status=self._status,
            created=time.time(),
            rootfs=self.spec.rootfs if self.spec else "",
            args=self.spec.process.args if self.spec else (),
            creator=os.getpid(),
        )
        with st.locked(self.state_dir):
            st.write_state(self.state_dir, state)

    # -- properties -----------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The container's main process id, as seen from the host."""
        return self._pid

    @property
    def pidfd(self) -> int | None:
        """A pidfd on the main process (None once deleted or if it is gone)."""
        return self._pidfd

    @property
    def status(self) -> str:
        """``created``, ``running``, ``stopped`` or ``deleted``."""
        if (
            self._status in ("created", "running")
            and self._pidfd is not None
            and _exited(self._pidfd)
        ):
            if self._launch is not None:
                self._reap()
            else:
                self._status = "stopped"
        return self._status

    @property
    def stdin(self) -> int | None:
        """Our end of the container's stdin pipe, if ``stdin=PIPE``."""
        return self._stdio.stdin if self._stdio else None

    @property
    def stdout(self) -> int | None:
        """Our end of the container's stdout pipe, if ``stdout=PIPE``."""
        return self._stdio.stdout if self._stdio else None

    @property
    def stderr(self) -> int | None:
        """Our end of the container's stderr pipe, if ``stderr=PIPE``."""
        return self._stdio.stderr if self._stdio else None

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Let a created container run its command."""
        if self.status != "created":
            raise ContainerError(
                f"container {self.id[:12]} is {self._status}; only a created one can start"
            )
        fifo = os.path.join(self.state_dir, "start.fifo")
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise ContainerError(
                f"container {self.id[:12]} is not waiting for a start signal: {exc}"
            ) from None
        try:
            os.write(fd, b"1")
        finally:
            os.close(fd)
        os.unlink(fifo)
        if self._launch is not None:
            try:
                self._launch.confirm_exec()
            except ContainerStartError:
                self._reap()
                raise
        self._status = "running"
        self._save()
        log.info("container.started", id=self.id, pid=self._pid)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the main process to exit and return its status (128+N if killed by N).

        Only the creating process can learn the exit status; others get a ContainerError.
        """
        if self._launch is None:
            raise ContainerError(
                "only the process that created a container can wait for its exit status "
                "(the state-keeping monitor comes with the engine)"
            )
        if self.returncode is not None:
            return self.returncode
        if (
            timeout is not None
            and self._pidfd is not None
            and not _wait_readable(self._pidfd, timeout)
        ):
            raise TimeoutError(f"container {self.id[:12]} still running after {timeout} s")
        return self._reap()

    def _reap(self) -> int:
        from pycontainers import _sys

        if self.returncode is None and self._pidfd is not None:
            self.returncode = _sys.reap(self._pidfd)
            self._status = "stopped"
        return self.returncode if self.returncode is not None else -1

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the main process (PID 1 of the container)."""
        from pycontainers import _sys

        if self._pidfd is None:
            raise ContainerError(f"container {self.id[:12]} is not running")
        try:
            _sys.pidfd_send_signal(self._pidfd, sig)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise

    def delete(self) -> None:
        """Kill the container if needed, reap it, close its fds and remove its state."""
        if self._status == "deleted":
            return
        if self._pidfd is not None:
            if not _exited(self._pidfd):
                self.kill(signal.SIGKILL)
            if self._launch is not None:
                self._reap()
                self._launch.close()
            else:
                _wait_readable(self._pidfd, 10.0)
                os.close(self._pidfd)
            self._pidfd = None
        if self._stdio is not None:
            self._stdio.close_all()
        _remove_dir(self.state_dir)
        self._status = "deleted"
        log.info("container.deleted", id=self.id)

    def close(self) -> None:
        """Release this handle's fds without touching the container (for ``load()``-ed ones)."""
        if self._launch is None and self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def __del__(self) -> None:
        if getattr(self, "_launch", None) is None and getattr(self, "_pidfd", None) is not None:
            self.close()

    def __enter__(self) -> Container:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.delete()

    def __repr__(self) -> str:
        return f"<Container {self.id[:12]} {self._status} pid={self._pid}>"


def _exited(pidfd: int) -> bool:
    return _wait_readable(pidfd, 0)


def _wait_readable(fd: int, timeout: float) -> bool:
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(timeout * 1000))


def _remove_dir(path: str) -> None:
    for name in ("state.json", "start.fifo", "lock"):
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
    for name in os.listdir(path) if os.path.isdir(path) else ():
        os.unlink(os.path.join(path, name))
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
