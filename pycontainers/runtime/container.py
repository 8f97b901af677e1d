"""``Container``: a container's life — create, start, wait, kill, delete — from any process.

``Container.create`` runs the whole setup in the C child, which then waits on a fifo in the
container's state directory; ``start()`` (from this process, or another one after
``Container.load(id)``) releases it into execve, like ``runc create`` / ``runc start``.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pycontainers import _log
from pycontainers.errors import ContainerError, ContainerStartError
from pycontainers.runtime import state as st
from pycontainers.runtime.lifecycle import Status, move, require
from pycontainers.runtime.stdio import wait_readable

if TYPE_CHECKING:  # kept out of the import: `pycontainers ps` loads this module
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from typing_extensions import Unpack

    from pycontainers.cgroups import CGroup, CgroupStats
    from pycontainers.cgroups._resources import Resources
    from pycontainers.images import Image
    from pycontainers.images.config import ImageConfig
    from pycontainers.runtime.detach import DetachOptions, HealthCheck
    from pycontainers.runtime.launch import Launch
    from pycontainers.runtime.logs import LogEntry
    from pycontainers.runtime.options import SpecOptions
    from pycontainers.runtime.run import CompletedContainer
    from pycontainers.runtime.stdio import Stdio, StdioArg
    from pycontainers.spec import ContainerSpec, OverlayRootfs, User

log = _log.get_logger("pycontainers.runtime")


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
        self._status = Status(status)
        self._pid = pid
        self._pidfd: int | None = launch.pidfd if launch else None
        self._cgroup: CGroup | None = launch.cgroup if launch else None
        self._image = (spec.image or "") if spec else ""
        self.returncode: int | None = None
        self._name = ""
        self._labels: dict[str, str] = {}
        self._monitored = False
        self._monitor_pid = 0
        self._restart_count = 0
        self._started = 0.0
        self._created = time.time()
        self._rootfs = str(spec.rootfs) if spec else ""
        self._args: tuple[str, ...] = spec.process.args if spec else ()

    # -- construction ---------------------------------------------------------------

    @classmethod
    def create(
        cls,
        rootfs: str | OverlayRootfs | Image | ContainerSpec,
        args: list[str] | tuple[str, ...] | None = None,
        *,
        id: str | None = None,
        name: str | None = None,
        state_root: str | None = None,
        stdin: StdioArg = None,
        stdout: StdioArg = None,
        stderr: StdioArg = None,
        detach: bool = False,
        tty: bool = False,
        interactive: bool = False,
        restart: str = "no",
        healthcheck: HealthCheck | None = None,
        labels: Mapping[str, str] | None = None,
        auto_remove: bool = False,
        log_max_size: int = 0,
        log_max_files: int = 1,
        console_socket: str | None = None,
        **spec_kwargs: Unpack[SpecOptions],
    ) -> Container:
        """Create a container: set up in its namespaces and wait for :meth:`start`.

        ``rootfs`` is an image, a directory, ``"host"``, or a full :class:`ContainerSpec`
        (then no ``args`` or spec keywords). ``id`` (default random), ``name`` (unique
        under ``state_root``; its name on a user network), ``labels``. ``detach=True``: a
        monitor keeps it beyond this process, logs its output (:meth:`logs`,
        :meth:`attach`; ``log_max_size`` bytes, ``log_max_files``), records the exit for
        any process, enforces ``restart`` (no, always, unless-stopped, on-failure[:N]),
        runs the ``healthcheck``; ``tty``, ``interactive`` (open stdin), ``console_socket``
        (the terminal's master goes there, OCI), ``auto_remove``. Else this process is the
        parent: ``stdin``/``stdout``/``stderr`` as in :mod:`subprocess`.

        Spec keywords (:class:`~pycontainers.runtime.options.SpecOptions`) are :func:`run`'s:
        ``hostname``, ``domainname``, ``env``, ``cwd``, ``user``, ``entrypoint``,
        ``image_root``, ``rlimits``, ``umask``, ``no_new_privs``, ``init``, ``mounts``,
        ``readonly_rootfs``, ``namespaces``, ``uid_mappings``, ``gid_mappings``, ``userns``,
        ``cap_add``, ``cap_drop``, ``privileged``, ``seccomp``, ``security``, ``network``,
        ``ports``, ``aliases``, ``dns``, ``extra_hosts``, ``bandwidth``, ``stop_signal``,
        ``resources``, ``cgroup_parent`` and the limits of
        :class:`~pycontainers.runtime.options.LimitOptions` (``memory``, ``cpus``,
        ``pids_limit``, ``cpuset_cpus``, ``blkio_weight``, ``device_read_bps``...: all in
        :func:`run`'s docstring).
        """
        from pycontainers.runtime._launching import create

        return create(
            cls, rootfs, args, id=id, name=name, state_root=state_root,
            stdio_args=(stdin, stdout, stderr), detach=detach, tty=tty,
            interactive=interactive, restart=restart, healthcheck=healthcheck, labels=labels,
            auto_remove=auto_remove, log_max_size=log_max_size, log_max_files=log_max_files,
            console_socket=console_socket, spec_kwargs=spec_kwargs,
        )  # fmt: skip

    def _launch_it(
        self,
        spec: ContainerSpec,
        options: DetachOptions | None,
        stdio_args: tuple[StdioArg, StdioArg, StdioArg],
        wait_for_start: bool,
    ) -> None:
        """Start the container's process (waiting on its start fifo, or at once)."""
        from pycontainers.runtime._launching import launch_into

        launch_into(self, spec, options, stdio_args, wait_for_start)

    @classmethod
    def load(cls, container_id: str, *, state_root: str | None = None) -> Container:
        """Open a container created by any process, by id, unique id prefix or name."""
        root = state_root or st.default_state_root()
        container_id = st.resolve(root, container_id)
        state_dir = os.path.join(root, container_id)
        s = st.read_state(state_dir)
        self = cls(container_id, state_dir, None, None, None, s.status, s.pid)
        self._image = s.image
        self._name = s.name
        self._labels = dict(s.labels)
        self._monitored = s.monitored
        self._monitor_pid = s.monitor_pid
        self._restart_count = s.restart_count
        self._started = s.started
        self._created = s.created
        self._rootfs, self._args = s.rootfs, s.args
        if s.cgroup:
            from pycontainers.cgroups import CGroup, CgroupError

            try:
                self._cgroup = CGroup.open(s.cgroup)
            except CgroupError:  # released when it stopped (a detached container's hook)
                self._cgroup = None
        if s.status in ("created", "running", "paused") and st.proc_alive(s.pid, s.starttime):
            try:
                from pycontainers import _sys

                self._pidfd = _sys.pidfd_open(s.pid)
            except OSError:
                self._status = Status.STOPPED
        elif s.status != "creating":
            self._status = Status.STOPPED
        return self

    @classmethod
    def list(cls, *, state_root: str | None = None) -> list[Container]:
        """Every container under the state root (any status), oldest first."""
        root = state_root or st.default_state_root()
        out = []
        for cid in st.container_ids(root):
            try:
                out.append(cls.load(cid, state_root=root))
            except ContainerError as exc:  # removed meanwhile, or a corrupt state file
                log.warning("container.unreadable", id=cid, error=str(exc))
        return sorted(out, key=lambda c: c._created)

    def _save(self, *, create: bool = False) -> None:
        state = st.State(
            id=self.id,
            pid=self._pid,
            starttime=st.proc_starttime(self._pid) if self._pid else 0,
            status=self._status,
            created=self._created,
            rootfs=self._rootfs,
            args=self._args,
            creator=os.getpid(),
            creator_start=st.proc_starttime(os.getpid()),
            cgroup=self._cgroup.path if self._cgroup is not None else "",
            image=self._image,
            name=self._name,
            monitored=self._monitored,
            monitor_pid=self._monitor_pid,
            monitor_start=st.proc_starttime(self._monitor_pid) if self._monitor_pid else 0,
            started=self._started,
            labels=self._labels,
            restart_count=self._restart_count,
        )
        try:
            with st.locked(self.state_dir, create=create):
                written = st.write_state(self.state_dir, state, create=create)
        except FileNotFoundError:
            written = False
        if not written:  # removed meanwhile (its exit hook, auto_remove): it stays removed
            log.debug("container.state_gone", id=self.id, status=str(self._status))

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
    def status(self) -> Status:
        """The :class:`~pycontainers.runtime.lifecycle.Status` (a ``str``): ``created``,
        ``running``, ``paused``, ``stopped`` or ``deleted``.
        """
        if (
            self._status in ("created", "running")
            and self._pidfd is not None
            and _exited(self._pidfd)
        ):
            if self._launch is not None and not self._monitored:
                self._reap()
            else:
                self._status = move(self._status, Status.STOPPED, self.id)
        if self._status == "stopped" and self._monitored and self.returncode is None:
            from pycontainers.runtime.detach import read_exit

            done = read_exit(self.state_dir)
            if done is not None and done.get("restart_count", 0) == self._restart_count:
                self.returncode = int(done["exit_code"])
        return self._status

    @property
    def name(self) -> str:
        """The container's name ("" if it has none)."""
        return self._name

    @property
    def labels(self) -> dict[str, str]:
        """The container's labels."""
        return dict(self._labels)

    @property
    def detached(self) -> bool:
        """Whether a monitor watches this container (logs, exit status, restarts)."""
        return self._monitored

    @property
    def restart_count(self) -> int:
        """How often the restart policy has started the container again."""
        return self._restart_count

    @property
    def health(self) -> str | None:
        """``starting``, ``healthy`` or ``unhealthy`` (None without a health check)."""
        from pycontainers.runtime.detach import read_health

        h = read_health(self.state_dir) if self._monitored else None
        return str(h["status"]) if h else None

    def logs(self, *, follow: bool = False, **options: Any) -> Iterator[LogEntry]:
        """The detached container's output from its json-file log (``tail``, ``since``,
        ``until``, ``stdout``, ``stderr``; with ``follow`` until the container stops).
        """
        from pycontainers.runtime.logs import read_logs

        if not self._monitored:
            raise ContainerError(
                f"container {self.id[:12]} is not detached: its output went to its stdio"
            )
        return read_logs(
            self.state_dir, follow=follow, running=lambda: self.status == "running", **options
        )

    def attach(self, **options: Any) -> int | None:
        """Attach this terminal to a detached container (see
        :func:`pycontainers.runtime.attach.attach`): its exit code, None once detached.
        """
        from pycontainers.runtime.attach import attach

        return attach(self, **options)

    def inspect(self) -> dict[str, Any]:
        """A Docker-like description: state, exit code, health, network, labels."""
        from pycontainers.runtime.monitored import describe

        return describe(self)

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
        """Let a created container run its command; start a stopped detached one again."""
        if self.status == "stopped" and self._monitored:
            from pycontainers.runtime import monitored

            monitored.start_again(self)
            return
        require("start", self.status, self.id)
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
                if not self._monitored:
                    self._reap()
                raise
        self._status = move(self._status, Status.RUNNING, self.id)
        self._started = time.time()
        self._save()
        log.info("container.started", id=self.id, pid=self._pid)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the main process to exit and return its status (128+N if killed by N).

        Any process can wait for a detached container (its monitor records the status);
        for others only the creating process can, and the rest get a ContainerError.
        """
        if self._monitored:
            from pycontainers.runtime import monitored

            return monitored.wait(self, timeout)
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
            and not wait_readable(self._pidfd, timeout)
        ):
            raise TimeoutError(f"container {self.id[:12]} still running after {timeout} s")
        return self._reap()

    def _reap(self) -> int:
        from pycontainers import _sys

        if self.returncode is None and self._pidfd is not None:
            self.returncode = _sys.reap(self._pidfd)
            self._status = move(self._status, Status.STOPPED, self.id)
            if self._launch is not None:
                self._launch.remove_network()  # as Docker: a stopped container holds no port
        return self.returncode if self.returncode is not None else -1

    @property
    def cgroup(self) -> CGroup:
        """The container's own cgroup (limits, stats, freezer)."""
        if self._cgroup is None:
            raise ContainerError(f"container {self.id[:12]} has no cgroup")
        return self._cgroup

    @property
    def upper_dir(self) -> str | None:
        """The container's writable layer (its changes), for a rootfs of image layers."""
        if self._launch is not None:
            return self._launch.upper_dir
        from pycontainers.fs.shift import default_data_root

        upper = os.path.join(default_data_root(), "containers", self.id, "upper")
        return upper if os.path.isdir(upper) else None

    def commit(
        self,
        reference: str,
        *,
        config: ImageConfig | None = None,
        message: str = "",
        image_root: str | None = None,
    ) -> Image:
        """Make an image of this container: its image's layers plus its changes as one
        layer, with the image's config (or ``config``), tagged ``reference``.
        """
        from pycontainers.runtime.files import commit

        return commit(self, self._image, reference, config, message, image_root)

    def pause(self) -> None:
        """Freeze every process of the container (the cgroup freezer)."""
        require("pause", self.status, self.id)
        self.cgroup.freeze()
        self._status = move(self._status, Status.PAUSED, self.id)
        self._save()

    def resume(self) -> None:
        """Thaw a paused container."""
        require("resume", self.status, self.id)
        self.cgroup.thaw()
        self._status = move(self._status, Status.RUNNING, self.id)
        self._save()

    def update(self, resources: Resources | None = None, **limits: Any) -> None:
        """Change limits of the live container (``memory="128m"``, ``cpus=1``, ...)."""
        require("update", self.status, self.id)
        self.cgroup.update(resources, **limits)

    def stats(self) -> CgroupStats:
        """Memory, cpu, pids and io statistics from the container's cgroup."""
        return self.cgroup.stats()

    def exec(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | Iterable[str] | None = None,
        user: str | int | User | None = None,
        cwd: str | None = None,
        capture_output: bool = False,
        input: bytes | None = None,
        stdin: StdioArg = None,
        stdout: StdioArg = None,
        stderr: StdioArg = None,
        timeout: float | None = None,
        tty: bool = False,
        privileged: bool = False,
        cap_add: Iterable[str] = (),
    ) -> CompletedContainer:
        """Run ``args`` inside this running container and wait, like :func:`run` returns.

        The process joins the container's namespaces, cgroup and user mapping and gets its
        capabilities, seccomp filter, no_new_privs and rlimits, all read from the
        container's stored spec, from any process (a missing or corrupt spec refuses).
        ``user`` and ``cwd`` default to the container's; ``env`` adds to its environment.
        ``privileged`` (Docker's ``exec --privileged``) or ``cap_add`` give this process
        more capabilities; nothing else is widened. A stopped container is a clear error.
        """
        from pycontainers.runtime.exec import exec_in

        return exec_in(
            self, args, env=env, user=user, cwd=cwd, capture_output=capture_output,
            input=input, stdin=stdin, stdout=stdout, stderr=stderr, timeout=timeout, tty=tty,
            privileged=privileged, cap_add=cap_add,
        )  # fmt: skip

    @property
    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of this container."""
        return self._cgroup is not None and self._cgroup.oom_killed()

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

    def stop(self, timeout: float = 10.0, sig: int | None = None) -> None:
        """Docker's stop: ``sig`` (default: the spec's or image's stop signal, else
        SIGTERM), then SIGKILL after ``timeout`` seconds; a detached container is not
        restarted by its policy afterwards.
        """
        from pycontainers.runtime.monitored import stop

        stop(self, timeout, sig)

    def delete(self) -> None:
        """Kill the container if needed, reap it, close its fds and remove its state."""
        if self._status == "deleted":
            return
        if self._monitored:
            open(os.path.join(self.state_dir, "stopped"), "w").close()
        if self._cgroup is not None and self.status == "paused":
            self._cgroup.thaw()  # a frozen process cannot die, so cannot be reaped
        if self._pidfd is not None:
            if not _exited(self._pidfd):
                self.kill(signal.SIGKILL)
            if self._launch is not None and not self._monitored:
                self._reap()
            else:
                wait_readable(self._pidfd, 10.0)
            if self._launch is not None:
                self._launch.close()
            else:
                os.close(self._pidfd)
            self._pidfd = None
        if self._monitored:
            from pycontainers.runtime.monitored import wait_monitor_gone

            wait_monitor_gone(self)  # its exit hook included: nothing races with us
        if self._stdio is not None:
            self._stdio.close_all()
        if self._cgroup is not None:
            from pycontainers.runtime.launch import drop_cgroup

            parent = self.spec.cgroup_parent if self.spec else os.path.dirname(self._cgroup.path)
            drop_cgroup(self._cgroup, parent)
            self._cgroup = None
        if self._launch is not None:
            self._launch.remove_layer()
            self._launch.remove_network()
        else:  # whatever state it got to (a creator killed mid-create included)
            from pycontainers.runtime.gc import remove_leftovers

            remove_leftovers(self.id, os.path.dirname(self.state_dir))
        st.remove_state_dir(self.state_dir)
        self._status = move(self._status, Status.DELETED, self.id)
        log.info("container.deleted", id=self.id)

    def close(self) -> None:
        """Release this handle's fds without touching the container (a ``load()``-ed or a
        detached one; the creator of an attached container keeps its pidfd to reap it).
        """
        if self._launch is not None and self._monitored:
            self._launch.close()
            self._pidfd = None
        elif self._launch is None and self._pidfd is not None:
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

    def _repr_html_(self) -> str:
        """State, ports, mounts, limits and namespaces shared with the host, as HTML."""
        from pycontainers._views import repr_html

        return repr_html(self)


def _exited(pidfd: int) -> bool:
    return wait_readable(pidfd, 0)
