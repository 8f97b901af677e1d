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

import attrs

from pycontainers import _log
from pycontainers.cgroups._resources import Resources
from pycontainers.errors import ContainerError, ContainerStartError
from pycontainers.runtime import state as st
from pycontainers.runtime.launch import Launch
from pycontainers.runtime.stdio import Stdio, StdioArg, wait_readable
from pycontainers.spec import ContainerSpec, OverlayRootfs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pycontainers.cgroups import CGroup, CgroupStats
    from pycontainers.images import Image
    from pycontainers.images.config import ImageConfig
    from pycontainers.runtime.run import CompletedContainer

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
        self._status = status
        self._pid = pid
        self._pidfd: int | None = launch.pidfd if launch else None
        self._cgroup: CGroup | None = launch.cgroup if launch else None
        self._image = (spec.image or "") if spec else ""
        self.returncode: int | None = None

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
        **spec_kwargs: Any,
    ) -> Container:
        """Create a container: set up in its namespaces and wait for :meth:`start`.

        ``rootfs`` is a directory, ``"host"``, or a full :class:`ContainerSpec` (then
        ``args`` and spec keywords are not given). Spec keywords are those of :func:`run`.
        ``name`` is what other containers on its user network call it.
        """
        from pycontainers.runtime.run import make_spec, needs_mountpoint

        spec = (
            rootfs if isinstance(rootfs, ContainerSpec) else make_spec(rootfs, args, **spec_kwargs)
        )
        if spec.resources is None and os.geteuid() == 0:
            # a long-lived container gets its own cgroup (rootless: none can be made here)
            spec = attrs.evolve(spec, resources=Resources())
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
            mnt = st.ensure_dir(os.path.join(root, ".mnt")) if needs_mountpoint(spec) else None
            launch = Launch(
                spec,
                stdio,
                host_mountpoint=mnt,
                start_fifo=fifo,
                cgroup_name=container_id,
                name=name,
                state_root=root,
            )
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
        self._image = s.image
        if s.cgroup:
            from pycontainers.cgroups import CGroup

            self._cgroup = CGroup.open(s.cgroup)
        if s.status in ("created", "running", "paused") and st.proc_starttime(s.pid) == s.starttime:
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
            rootfs=str(self.spec.rootfs) if self.spec else "",
            args=self.spec.process.args if self.spec else (),
            creator=os.getpid(),
            cgroup=self._cgroup.path if self._cgroup is not None else "",
            image=self._image,
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
            and not wait_readable(self._pidfd, timeout)
        ):
            raise TimeoutError(f"container {self.id[:12]} still running after {timeout} s")
        return self._reap()

    def _reap(self) -> int:
        from pycontainers import _sys

        if self.returncode is None and self._pidfd is not None:
            self.returncode = _sys.reap(self._pidfd)
            self._status = "stopped"
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
        from pycontainers.images import default_store

        upper = self.upper_dir
        if upper is None:
            raise ContainerError(
                f"container {self.id[:12]} has no layer of its own to commit: only a container "
                "created here from an image (or OverlayRootfs) can be committed"
            )
        store = default_store(image_root)
        base = store.get(self._image) if self._image else None
        return store.commit_directory(
            upper, reference, base=base, config=config, created_by=message or "pycontainers commit"
        )

    def pause(self) -> None:
        """Freeze every process of the container (the cgroup freezer)."""
        if self.status != "running":
            raise ContainerError(
                f"container {self.id[:12]} is {self._status}; only a running one can pause"
            )
        self.cgroup.freeze()
        self._status = "paused"
        self._save()

    def resume(self) -> None:
        """Thaw a paused container."""
        if self._status != "paused":
            raise ContainerError(f"container {self.id[:12]} is {self._status}, not paused")
        self.cgroup.thaw()
        self._status = "running"
        self._save()

    def update(self, resources: Resources | None = None, **limits: Any) -> None:
        """Change limits of the live container (``memory="128m"``, ``cpus=1``, ...)."""
        self.cgroup.update(resources, **limits)

    def stats(self) -> CgroupStats:
        """Memory, cpu, pids and io statistics from the container's cgroup."""
        return self.cgroup.stats()

    def exec(self, args: Sequence[str], **kwargs: Any) -> CompletedContainer:
        """Run ``args`` inside this running container and wait, like :func:`run` returns.

        Joins its namespaces and cgroup with its capabilities, seccomp filter and
        no_new_privs. Keywords: ``env``, ``user``, ``cwd``, ``capture_output``, ``input``,
        ``stdin``/``stdout``/``stderr``, ``timeout``. A stopped container is a clear error.
        """
        from pycontainers.runtime.exec import exec_in

        return exec_in(self, args, **kwargs)

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

    def delete(self) -> None:
        """Kill the container if needed, reap it, close its fds and remove its state."""
        if self._status == "deleted":
            return
        if self._cgroup is not None and self._status == "paused":
            self._cgroup.thaw()  # a frozen process cannot die, so cannot be reaped
        if self._pidfd is not None:
            if not _exited(self._pidfd):
                self.kill(signal.SIGKILL)
            if self._launch is not None:
                self._reap()
                self._launch.close()
            else:
                wait_readable(self._pidfd, 10.0)
                os.close(self._pidfd)
            self._pidfd = None
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
        else:
            _remove_network(self.id, os.path.dirname(self.state_dir))
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


def _remove_network(owner: str, state_root: str) -> None:
    from pycontainers.network.endpoint import Endpoints, disconnect

    eps = os.path.join(state_root, "network")
    if os.path.isdir(eps) and (
        os.path.exists(Endpoints(state_root).record_path(owner))
        or os.path.exists(Endpoints(state_root).files(owner))
    ):
        disconnect(owner, state_root)


def _exited(pidfd: int) -> bool:
    return wait_readable(pidfd, 0)


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
