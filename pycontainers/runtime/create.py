"""The ``create`` operation: a container's state directory, name, spec and first process
(attached, or under a monitor). The body of :meth:`Container.create` and of starting one again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers import _log
from pycontainers.cgroups._resources import Resources
from pycontainers.errors import ContainerError, SpecError
from pycontainers.runtime import state as st
from pycontainers.runtime._crash import crashpoint
from pycontainers.runtime.launch import Launch
from pycontainers.runtime.lifecycle import Status
from pycontainers.runtime.stdio import Stdio, StdioArg
from pycontainers.runtime.supervisor import Attached
from pycontainers.spec import ContainerSpec, OverlayRootfs

if TYPE_CHECKING:
    from pycontainers.images import Image
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.detach import DetachOptions, HealthCheck
    from pycontainers.runtime.options import SpecOptions

log = _log.get_logger("pycontainers.runtime")


def create(
    cls: type[Container],
    rootfs: str | os.PathLike[str] | OverlayRootfs | Image | ContainerSpec,
    args: list[str] | tuple[str, ...] | None,
    *,
    id: str | None,
    name: str | None,
    state_root: str | None,
    stdio_args: tuple[StdioArg, StdioArg, StdioArg],
    detach: bool,
    tty: bool,
    interactive: bool,
    restart: str,
    healthcheck: HealthCheck | str | None,
    labels: Mapping[str, str] | None,
    auto_remove: bool,
    log_max_size: int,
    log_max_files: int,
    console_socket: str | None,
    spec_kwargs: SpecOptions,
    extra_options: Mapping[str, Any] | None = None,
) -> Container:
    """See :meth:`Container.create`."""
    from pycontainers.runtime.detach import DetachOptions
    from pycontainers.runtime.record import Record
    from pycontainers.runtime.resolve import make_spec

    if "restart_policy" in spec_kwargs:  # docker-py's spelling
        from pycontainers.runtime.options import restart_of

        if restart != "no":
            raise SpecError("restart_policy", "give restart= or restart_policy=, not both")
        spec_kwargs = dict(spec_kwargs)  # type: ignore[assignment]
        restart = restart_of(spec_kwargs.pop("restart_policy"))  # type: ignore[typeddict-item]
    extra = {k: v for k, v in (extra_options or {}).items() if v not in (None, "json-file")}
    if isinstance(healthcheck, str) and healthcheck not in ("image", "none"):
        raise SpecError(
            "healthcheck", f"a HealthCheck, 'image', 'none' or None; got {healthcheck!r}"
        )
    # the cgroup join's grace period passes while the start is prepared (nothing to do when
    # this process started a container just before)
    from pycontainers.cgroups import prime

    prime.prime()
    try:
        explicit = healthcheck if not isinstance(healthcheck, str) else None
        if not detach and (tty or interactive or restart != "no" or explicit or auto_remove
                           or extra):  # fmt: skip
            raise SpecError("detach", "tty, interactive, restart, healthcheck, auto_remove, "
                            "stop_timeout, oom_score_adj and log_driver need detach=True (a "
                            "monitor keeps them)")  # fmt: skip
        if detach and stdio_args != (None, None, None):
            raise SpecError("detach", "a detached container's output goes to its log: use "
                            "logs() or attach() instead of stdin/stdout/stderr")  # fmt: skip
        if isinstance(rootfs, ContainerSpec):
            from pycontainers.runtime.volumes import resolve_mounts

            spec = resolve_mounts(rootfs)  # volumes made, bind sources checked
        else:
            spec = make_spec(rootfs, args, **spec_kwargs)
            if tty and "TERM" not in dict(spec.process.env):  # as Docker does for -t
                process = attrs.evolve(spec.process, env=(*spec.process.env, ("TERM", "xterm")))
                spec = attrs.evolve(spec, process=process)
        if healthcheck == "image":  # the image's HEALTHCHECK, as Docker runs it
            healthcheck = _image_healthcheck(rootfs, spec, spec_kwargs) if detach else None
        elif healthcheck == "none":
            healthcheck = None
        assert not isinstance(healthcheck, str)
        if spec.resources is None and os.geteuid() == 0:
            # a long-lived container gets its own cgroup (rootless: none can be made here)
            spec = attrs.evolve(spec, resources=Resources())
        options = DetachOptions(
            tty=tty,
            interactive=interactive,
            restart=restart,
            healthcheck=healthcheck,
            log_max_size=log_max_size,
            log_max_files=log_max_files,
            auto_remove=auto_remove,
            console_socket=console_socket,
            **extra,
        )
        container_id = st.check_id(id or os.urandom(32).hex())
        root = st.ensure_dir(state_root or st.default_state_root())
        state_dir = os.path.join(root, container_id)
        with st.names_locked(root):
            if name is not None:
                st.check_name_free(root, st.check_name(name))
            try:
                os.mkdir(state_dir, 0o700)
            except FileExistsError:
                raise ContainerError(
                    f"a container with id {container_id} already exists in {root}"
                ) from None
            record = Record(
                id=container_id,
                status=Status.CREATING,
                created=time.time(),
                name=name or "",
                labels=dict(labels or {}),
            )
            c = cls(state_dir, record, spec)
            c.save_state(create=True)  # the name is taken from here on
    except BaseException:
        prime.stop()  # failed before its launch: no primer is left running for it
        raise
    crashpoint("state-dir")
    try:
        launch_into(c, spec, options if detach else None, stdio_args, True)
    except BaseException:
        st.remove_state_dir(state_dir)
        raise
    log.info("container.created", id=container_id, pid=c.pid, detach=detach)
    from pycontainers.events import container_event

    container_event(c, "create")
    return c


def launch_into(
    c: Container,
    spec: ContainerSpec,
    options: DetachOptions | None,
    stdio_args: tuple[StdioArg, StdioArg, StdioArg],
    wait_for_start: bool,
) -> None:
    """Start the container's process (waiting on its start fifo, or at once)."""
    from pycontainers.runtime.detach import MonitorStdio, monitor_argv
    from pycontainers.runtime.monitored import Monitored
    from pycontainers.runtime.resolve import needs_mountpoint

    root = os.path.dirname(c.state_dir)
    stdio: Stdio | MonitorStdio | None = None
    monitor = None
    try:
        fifo = None
        if wait_for_start:
            fifo = os.path.join(c.state_dir, "start.fifo")
            os.mkfifo(fifo, 0o600)
        from pycontainers.runtime.specfile import save_spec

        # every container's spec is stored, attached or not: any process that enters it
        # later (exec, health checks, restarts) takes its security from this file alone
        r = c.record
        save_spec(c.state_dir, spec, {"name": r.name, "detach": options})
        if options is not None:
            stdio = MonitorStdio(options.tty, options.interactive)
            exit_hook = spec.network is not None or options.auto_remove
            monitor = monitor_argv(c.state_dir, root, c.id, options, stdio, exit_hook=exit_hook)
        else:
            stdio = Stdio(*stdio_args)
        mnt = st.ensure_dir(os.path.join(root, ".mnt")) if needs_mountpoint(spec) else None
        launch = Launch(
            spec,
            stdio,  # type: ignore[arg-type]
            host_mountpoint=mnt,
            start_fifo=fifo,
            cgroup_name=c.id,
            name=r.name or None,
            state_root=root,
            monitor=monitor,
            console=options is not None and options.tty,
        )
    except BaseException:
        if stdio is not None:
            stdio.close_all()
        raise
    c.spec = spec
    if options is not None:
        c.supervisor = Monitored(launch, launch.pidfd)
    else:
        c.supervisor = Attached(launch, launch.pidfd, stdio if isinstance(stdio, Stdio) else None)
    r.rootfs, r.args = str(spec.rootfs), spec.process.args
    if options is not None and options.oom_score_adj is not None:
        _set_oom_score_adj(launch, options.oom_score_adj)
    r.pid = launch.pid
    r.cgroup = launch.cgroup
    r.image = spec.image or ""
    r.detached = options is not None
    r.monitor_pid = launch.monitor_pid
    r.restart_count = options.restart_count if options is not None else 0
    crashpoint("released")
    r.move(Status.CREATED if wait_for_start else Status.RUNNING)
    r.started = 0.0 if wait_for_start else time.time()
    c.save_state()
    if options is not None and options.healthcheck is not None and not wait_for_start:
        from pycontainers.runtime.health_entry import seal_health_entry

        seal_health_entry(c, options.healthcheck)  # what the monitor runs for each check


def _image_healthcheck(
    rootfs: object, spec: ContainerSpec, options: SpecOptions
) -> HealthCheck | None:
    """The HEALTHCHECK of the image the container is made from (None without one)."""
    from pycontainers.runtime.detach import HealthCheck

    image: Any = rootfs if hasattr(rootfs, "raw_config") else None
    if image is None and spec.image:
        from pycontainers.images import default_store

        image = default_store(options.get("image_root")).get(spec.image)
    if image is None:
        return None
    return HealthCheck.from_image((image.raw_config or {}).get("config"))


def _set_oom_score_adj(launch: Launch, value: int) -> None:
    """Docker's ``--oom-score-adj`` on the container's first process (before it runs when
    it waits for its start; its children inherit it).
    """
    try:
        with open(f"/proc/{launch.pid}/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as exc:
        launch.abort()
        hint = " (lowering it needs CAP_SYS_RESOURCE)" if exc.errno == 13 else ""
        raise SpecError(
            "oom_score_adj", f"cannot set {value}: {exc.strerror}{hint}", errno=exc.errno
        ) from None
