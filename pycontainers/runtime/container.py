"""``Container``: a container's life — create, start, wait, kill, delete — from any process.

``Container.create`` runs the whole setup in the C child, which then waits on a fifo in the
container's state directory; ``start()`` (from this process, or another one after
``Container.load(id)``) releases it into execve, like ``runc create`` / ``runc start``.
"""

from __future__ import annotations

import builtins
import os
import signal
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pycontainers import _log
from pycontainers.errors import ContainerError
from pycontainers.runtime import state as st
from pycontainers.runtime.lifecycle import ExitStatus, Status

if TYPE_CHECKING:  # kept out of the import: `pycontainers ps` loads this module
    import datetime as dt
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from typing import BinaryIO

    from typing_extensions import Unpack

    from pycontainers.cgroups import CGroup, CgroupStats
    from pycontainers.cgroups._resources import Resources
    from pycontainers.images import Image
    from pycontainers.images.config import ImageConfig
    from pycontainers.runtime.detach import HealthCheck
    from pycontainers.runtime.logs import LogEntry
    from pycontainers.runtime.options import LimitOptions, SpecOptions
    from pycontainers.runtime.record import Record
    from pycontainers.runtime.run import CompletedContainer
    from pycontainers.runtime.stdio import StdioArg
    from pycontainers.runtime.supervisor import Supervisor
    from pycontainers.spec import ContainerSpec, OverlayRootfs, User
    from pycontainers.supervision import DetachOptions

log = _log.get_logger("pycontainers.runtime")


class Container:
    """A container with a life longer than one call: create, start, wait, kill, delete.

    Use it as a context manager to always clean up::

        with Container.create("host", ["sleep", "5"]) as c:
            c.start()
            c.wait()

    Its state is one :class:`~pycontainers.runtime.record.Record` (``record``: status,
    pids, times, identity, exit status); who watches its process is its ``supervisor``
    (:class:`~pycontainers.runtime.supervisor.Attached` when this process is the parent,
    :class:`~pycontainers.runtime.monitored.Monitored` for a detached container).
    """

    def __init__(
        self,
        state_dir: str,
        record: Record,
        spec: ContainerSpec | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        from pycontainers.runtime.supervisor import Attached

        self.id = record.id
        self.state_dir = state_dir
        self.spec = spec
        self.record = record
        self.supervisor: Supervisor = supervisor or Attached(None, None, None)

    # -- construction ---------------------------------------------------------------

    @classmethod
    def create(
        cls,
        rootfs: str | os.PathLike[str] | OverlayRootfs | Image | ContainerSpec,
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
        healthcheck: HealthCheck | str | None = "image",
        labels: Mapping[str, str] | None = None,
        auto_remove: bool = False,
        log_max_size: int = 0,
        log_max_files: int = 1,
        console_socket: str | None = None,
        stop_timeout: int | None = None,
        oom_score_adj: int | None = None,
        log_driver: str = "json-file",
        **spec_kwargs: Unpack[SpecOptions],
    ) -> Container:
        """Create a container: set up in its namespaces and wait for :meth:`start`.

        ``rootfs`` is an image, a directory, ``"host"``, or a full :class:`ContainerSpec`
        (then no ``args`` or spec keywords). ``id`` (default random), ``name`` (unique
        under ``state_root``; its name on a user network), ``labels``. ``detach=True``: a
        monitor keeps it beyond this process, logs its output (:meth:`logs`,
        :meth:`attach`; ``log_max_size`` bytes, ``log_max_files``), records the exit for
        any process, enforces ``restart`` (no, always, unless-stopped, on-failure[:N]),
        runs the ``healthcheck`` (default ``"image"``: the image's ``HEALTHCHECK``;
        ``None`` or ``"none"``: no check); ``tty``, ``interactive`` (open stdin), ``console_socket``
        (the terminal's master goes there, OCI), ``auto_remove``. Else this process is the
        parent: ``stdin``/``stdout``/``stderr`` as in :mod:`subprocess`. Also detached:
        ``stop_timeout`` (seconds :meth:`stop` waits by default), ``oom_score_adj``,
        ``log_driver`` (``json-file``, ``local``: the same here, ``none``: no log kept);
        docker-py's ``log_config={"type": ..., "config": {"max-size": ..., "max-file": ...}}``
        sets these three.

        Spec keywords (:class:`~pycontainers.runtime.options.SpecOptions`) are :func:`run`'s:
        ``hostname``, ``domainname``, ``env``, ``cwd``, ``user``, ``entrypoint``,
        ``image_root``, ``rlimits``, ``umask``, ``no_new_privs``, ``init``, ``mounts``,
        ``readonly_rootfs``, ``namespaces``, ``uid_mappings``, ``gid_mappings``, ``userns``,
        ``cap_add``, ``cap_drop``, ``privileged``, ``seccomp``, ``security``, ``network``,
        ``ports``, ``aliases``, ``dns``, ``extra_hosts``, ``bandwidth``, ``stop_signal``,
        ``shm_size``, ``sysctls``, ``group_add``, ``dns_search``, ``dns_options``, ``ip``,
        ``volumes_from``, ``devices``, ``resources``, ``cgroup_parent`` and the limits of
        :class:`~pycontainers.runtime.options.LimitOptions` (``memory``, ``cpus``,
        ``pids_limit``, ``cpuset_cpus``, ``blkio_weight``, ``device_read_bps``...: all in
        :func:`run`'s docstring).
        """
        from pycontainers.runtime.create import create

        if "log_config" in spec_kwargs:  # docker-py's spelling of the log_* keywords
            from pycontainers.errors import SpecError
            from pycontainers.runtime.options import log_config_of

            spec_kwargs = dict(spec_kwargs)  # type: ignore[assignment]
            given = log_config_of(spec_kwargs.pop("log_config"))  # type: ignore[typeddict-item]
            if (log_driver, log_max_size, log_max_files) != ("json-file", 0, 1):
                raise SpecError(
                    "log_config", "give log_config= or log_driver=/log_max_*=, not both"
                )
            log_driver = given["log_driver"]
            log_max_size = given.get("log_max_size", log_max_size)
            log_max_files = given.get("log_max_files", log_max_files)
        return create(
            cls, rootfs, args, id=id, name=name, state_root=state_root,
            stdio_args=(stdin, stdout, stderr), detach=detach, tty=tty,
            interactive=interactive, restart=restart, healthcheck=healthcheck, labels=labels,
            auto_remove=auto_remove, log_max_size=log_max_size, log_max_files=log_max_files,
            console_socket=console_socket, spec_kwargs=spec_kwargs,
            extra_options={"stop_timeout": stop_timeout, "oom_score_adj": oom_score_adj,
                           "log_driver": log_driver},
        )  # fmt: skip

    @classmethod
    def load(cls, container_id: str, *, state_root: str | None = None) -> Container:
        """Open a container created by any process, by id, unique id prefix or name."""
        from pycontainers.runtime.record import Record

        root = state_root or st.default_state_root()
        container_id = st.resolve(root, container_id)
        state_dir = os.path.join(root, container_id)
        s = st.read_state(state_dir)
        record = Record.from_state(s)  # its cgroup opens on first use
        pidfd = None
        if s.status in ("created", "running", "paused") and st.proc_alive(s.pid, s.starttime):
            try:
                pidfd = os.pidfd_open(s.pid)
            except OSError:
                record.status = Status.STOPPED
        elif s.status != "creating":
            record.status = Status.STOPPED
        return cls(state_dir, record, None, _supervisor(s.monitored, pidfd))

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
        return sorted(out, key=lambda c: c.record.created)

    def save_state(self, *, create: bool = False) -> None:
        """Write :attr:`record` to ``state.json`` for other processes (under its lock; a
        container removed meanwhile stays removed).
        """
        state = self.record.to_state()
        try:
            with st.locked(self.state_dir, create=create):
                written = st.write_state(self.state_dir, state, create=create)
        except FileNotFoundError:
            written = False
        if not written:  # removed meanwhile (its exit hook, auto_remove): it stays removed
            log.debug("container.state_gone", id=self.id, status=str(self.record.status))

    # -- properties -----------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The container's main process id, as seen from the host."""
        return self.record.pid

    @property
    def pidfd(self) -> int | None:
        """A pidfd on the main process (None once deleted or if it is gone)."""
        return self.supervisor.pidfd

    @property
    def status(self) -> Status:
        """The :class:`~pycontainers.runtime.lifecycle.Status` (a ``str``): ``created``,
        ``running``, ``paused``, ``stopped`` or ``deleted``.
        """
        self.supervisor.refresh(self)
        return self.record.status

    @property
    def returncode(self) -> int | None:
        """The exit status once known (128+N if killed by signal N), else None."""
        return self.record.returncode

    @property
    def name(self) -> str:
        """The container's name ("" if it has none)."""
        return self.record.name

    @property
    def labels(self) -> dict[str, str]:
        """The container's labels."""
        return dict(self.record.labels)

    @property
    def short_id(self) -> str:
        """The first 12 hex digits of the id (as ``ps`` shows it; docker-py's name)."""
        return self.id[:12]

    @property
    def image(self) -> str:
        """The image reference the container was made from ("" for a directory rootfs)."""
        return self.record.image

    @property
    def ports(self) -> dict[str, builtins.list[tuple[str, int]]]:
        """Published ports: ``{"80/tcp": [("0.0.0.0", 32768)]}`` (empty without any)."""
        from pycontainers.runtime.describe import published_ports

        return published_ports(self)

    def get_host_port(self, port: int | str, protocol: str = "tcp") -> int:
        """The host port that container ``port`` is published on (testcontainers'
        ``get_exposed_port``); :class:`ContainerError` if it is not published.
        """
        key = str(port) if "/" in str(port) else f"{port}/{protocol}"
        bindings = self.ports.get(key)
        if not bindings:
            raise ContainerError(f"port {key} of container {self.short_id} is not published")
        return bindings[0][1]

    @property
    def host_ip(self) -> str:
        """The address to reach published ports at from this host: the first binding's
        address, ``127.0.0.1`` for a binding on every address.
        """
        for bindings in self.ports.values():
            for address, _ in bindings:
                return "127.0.0.1" if address in ("", "0.0.0.0") else address
        return "127.0.0.1"

    def reload(self) -> None:
        """Read the container's state again (after another process changed it; docker-py's
        name): status, pid, exit code, restart count.
        """
        fresh = Container.load(self.id, state_root=os.path.dirname(self.state_dir))
        try:
            keep = self.record.cgroup
            if self.detached and fresh.record.pid != self.record.pid:
                # started again (a restart policy, another process): watch the new run
                self.supervisor, fresh.supervisor = fresh.supervisor, self.supervisor
            self.record = fresh.record
            if self.record.cgroup is None:
                self.record.cgroup = keep
        finally:
            fresh.close()

    @property
    def detached(self) -> bool:
        """Whether a monitor watches this container (logs, exit status, restarts)."""
        return self.supervisor.detached

    @property
    def restart_count(self) -> int:
        """How often the restart policy has started the container again."""
        return self.record.restart_count

    @property
    def health(self) -> str | None:
        """``starting``, ``healthy`` or ``unhealthy`` (None without a health check)."""
        from pycontainers.runtime.detach import read_health

        h = read_health(self.state_dir) if self.detached else None
        return str(h["status"]) if h else None

    def logs(
        self,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: float | str | dt.datetime | None = None,
        until: float | str | dt.datetime | None = None,
        stdout: bool = True,
        stderr: bool = True,
    ) -> Iterator[LogEntry]:
        """The detached container's output from its json-file log, oldest first: the last
        ``tail`` entries, between ``since`` and ``until`` (Unix times, datetimes or strings
        as ``docker logs`` takes them), of ``stdout`` and/or ``stderr``; with ``follow``,
        new entries until the container stops.
        """
        from pycontainers.runtime.logs import read_logs

        if not self.detached:
            raise ContainerError(
                f"container {self.id[:12]} is not detached: its output went to its stdio"
            )
        if getattr(self.detach_options(), "log_driver", "json-file") == "none":
            raise ContainerError("configured logging driver does not support reading")
        return read_logs(
            self.state_dir, follow=follow, running=lambda: self.status == "running",
            tail=tail, since=since, until=until, stdout=stdout, stderr=stderr,
        )  # fmt: skip

    def attach(
        self,
        *,
        stdin: bool = True,
        tty: bool | None = None,
        detach_keys: str | None = "ctrl-p,ctrl-q",  # supervision.DEFAULT_DETACH_KEYS
        stdin_fd: int = 0,
        stdout: BinaryIO | int | None = None,
        stderr: BinaryIO | int | None = None,
    ) -> int | None:
        """Attach this terminal to a detached container, like ``docker attach``: our
        ``stdin_fd`` goes to it (unless ``stdin`` is false), its output to ``stdout`` /
        ``stderr`` (default ours); ``tty`` (default: the container's) puts our terminal in
        raw mode; ``detach_keys`` (default ctrl-p,ctrl-q) leave it running. Returns its exit
        code, or None once detached (see :func:`pycontainers.runtime.attach.attach`).
        """
        from pycontainers.runtime.attach import attach

        return attach(
            self, stdin=stdin, tty=tty, detach_keys=detach_keys, stdin_fd=stdin_fd,
            stdout=stdout, stderr=stderr,
        )  # fmt: skip

    def inspect(self) -> dict[str, Any]:
        """A Docker-like description: state, exit code, health, network, labels."""
        from pycontainers.runtime.describe import describe

        return describe(self)

    @property
    def stdin(self) -> int | None:
        """Our end of the container's stdin pipe, if ``stdin=PIPE``."""
        return _stdio(self, "stdin")

    @property
    def stdout(self) -> int | None:
        """Our end of the container's stdout pipe, if ``stdout=PIPE``."""
        return _stdio(self, "stdout")

    @property
    def stderr(self) -> int | None:
        """Our end of the container's stderr pipe, if ``stderr=PIPE``."""
        return _stdio(self, "stderr")

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Let a created container run its command; start a stopped detached one again."""
        from pycontainers.runtime.start import start

        start(self)

    def wait(self, timeout: float | None = None) -> ExitStatus:
        """Wait for the main process to exit and return its status (128+N if killed by N):
        an ``int`` that also reads as docker-py's ``{"StatusCode": n, "Error": None}``.

        Any process can wait for a detached container (its monitor records the status);
        for others only the creating process can, and the rest get a ContainerError.
        """
        return ExitStatus(self.supervisor.wait(self, timeout))

    def claim_cleanup(self) -> None:
        """Promise that this process deletes the container once it exits (as a foreground
        ``run --rm`` does): a detached container's monitor then skips its own clean-up hook.
        The claim ends with :meth:`close` or :meth:`delete`, or when this process dies (then
        the monitor cleans up as usual).
        """
        from pycontainers.runtime.monitored import Monitored

        if isinstance(self.supervisor, Monitored):
            self.supervisor.claim_cleanup(self)

    @property
    def cgroup(self) -> CGroup:
        """The container's own cgroup (limits, stats, freezer)."""
        if self.record.cgroup is None:
            raise ContainerError(f"container {self.id[:12]} has no cgroup")
        return self.record.cgroup

    @property
    def upper_dir(self) -> str | None:
        """The container's writable layer (its changes), for a rootfs of image layers."""
        if self.supervisor.launch is not None:
            return self.supervisor.launch.upper_dir
        from pycontainers.paths import default_data_root

        upper = os.path.join(default_data_root(), "containers", self.id, "upper")
        return upper if os.path.isdir(upper) else None

    def commit(
        self,
        reference: str,
        *,
        config: ImageConfig | None = None,
        message: str = "",
        image_root: str | None = None,
        changes: Sequence[str] = (),
        author: str = "",
        pause: bool = True,
    ) -> Image:
        """Make an image of this container: its image's layers plus its changes as one
        layer, with the image's config (or ``config``), tagged ``reference``.

        ``changes``: Dockerfile instructions applied to the config (Docker's ``--change``:
        ``CMD``, ``ENTRYPOINT``, ``ENV``, ``EXPOSE``, ``WORKDIR``, ``USER``, ``LABEL``,
        ``VOLUME``, ``STOPSIGNAL``, ``ONBUILD``, ``HEALTHCHECK``); ``message`` and
        ``author`` are recorded; ``pause`` (default, as Docker's) freezes a running
        container while its layer is read.
        """
        from pycontainers.runtime.files import commit

        return commit(
            self, self.record.image, reference, config, message, image_root,
            changes=changes, author=author, pause=pause,
        )  # fmt: skip

    def rename(self, new_name: str) -> None:
        """Give the container another name (unique under its state root; Docker's
        ``rename``). Its DNS name on a user network stays the old one until it restarts.
        """
        from pycontainers.runtime.rename import rename

        rename(self, new_name)

    def pause(self) -> None:
        """Freeze every process of the container (the cgroup freezer)."""
        from pycontainers.runtime.pause import pause

        pause(self)

    def resume(self) -> None:
        """Thaw a paused container."""
        from pycontainers.runtime.pause import resume

        resume(self)

    def update(
        self,
        resources: Resources | None = None,
        *,
        restart: str | None = None,
        **limits: Unpack[LimitOptions],
    ) -> None:
        """Change limits of the live container: a :class:`Resources` and/or the keywords
        of :class:`~pycontainers.runtime.options.LimitOptions` (``memory="128m"``,
        ``cpus=1``, ``pids_limit``, ``cpuset_cpus``, ``blkio_weight``...); ``restart``
        gives a detached container a new restart policy (``no``, ``always``,
        ``unless-stopped``, ``on-failure[:N]``), running or stopped: its monitor applies it
        when the container exits, and every later start keeps it.
        """
        from pycontainers.runtime.update import update

        update(self, resources, restart, **limits)

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
        return self.record.cgroup is not None and self.record.cgroup.oom_killed()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the main process (PID 1 of the container); one that exited
        meanwhile is not an error, one that is not running is.
        """
        from pycontainers.runtime.kill import kill

        kill(self, sig)

    def stop(self, timeout: float | None = None, sig: int | None = None) -> None:
        """Docker's stop: ``sig`` (default: the spec's or image's stop signal, else
        SIGTERM), then SIGKILL after ``timeout`` seconds (default: the container's
        ``stop_timeout``, else 10; -1 waits forever); a detached container is not
        restarted by its policy afterwards.
        """
        from pycontainers.runtime.stop import stop

        if timeout is None:
            stored = getattr(self.detach_options(), "stop_timeout", None)
            timeout = 10.0 if stored is None else float(stored)
        stop(self, None if timeout < 0 else timeout, sig)

    def detach_options(self) -> DetachOptions | None:
        """How the monitor watches this container (from its stored spec); None if it is
        not detached or its spec is gone.
        """
        from pycontainers.runtime.specfile import load_spec
        from pycontainers.supervision import DetachOptions

        try:
            options = load_spec(self.state_dir)[1].get("detach")
        except ContainerError:
            return None
        return options if isinstance(options, DetachOptions) else None

    def delete(self) -> None:
        """Kill the container if needed, reap it, close its fds and remove its state."""
        from pycontainers.runtime.delete import delete

        delete(self)

    def close(self) -> None:
        """Release this handle's fds without touching the container (a ``load()``-ed or a
        detached one; the creator of an attached container keeps its pidfd to reap it).
        """
        self.supervisor.close()

    def __del__(self) -> None:
        supervisor = getattr(self, "supervisor", None)
        if supervisor is not None and supervisor.launch is None and supervisor.pidfd is not None:
            supervisor.close()

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
        return f"<Container {self.id[:12]} {self.record.status} pid={self.record.pid}>"

    def _repr_html_(self) -> str:
        """State, ports, mounts, limits and namespaces shared with the host, as HTML."""
        from pycontainers._views import repr_html

        return repr_html(self)


def _supervisor(detached: bool, pidfd: int | None) -> Supervisor:
    """The supervisor of a container loaded from its state (no launch handle)."""
    from pycontainers.runtime.monitored import Monitored
    from pycontainers.runtime.supervisor import Attached

    return Monitored(None, pidfd) if detached else Attached(None, pidfd, None)


def _stdio(c: Container, stream: str) -> int | None:
    """Our end of one of an attached container's pipes (None if not a pipe)."""
    from pycontainers.runtime.supervisor import Attached

    sup = c.supervisor
    stdio = sup.stdio if isinstance(sup, Attached) else None
    fd: int | None = getattr(stdio, stream) if stdio is not None else None
    return fd
