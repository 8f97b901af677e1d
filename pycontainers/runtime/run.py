"""``run()``: one container from start to exit, shaped like :func:`subprocess.run`."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers.cgroups._resources import Resources
from pycontainers.errors import ContainerExitError, ContainerTimeout, SpecError
from pycontainers.runtime import state as st

if TYPE_CHECKING:
    from pycontainers.images.image import Image
from pycontainers.runtime.launch import Launch
from pycontainers.runtime.stdio import PIPE, Stdio, StdioArg, communicate
from pycontainers.spec import (
    DEFAULT_NAMESPACES,
    ContainerSpec,
    IdMapping,
    Mount,
    OverlayRootfs,
    Process,
    SecurityOptions,
    User,
)


@attrs.frozen
class CompletedContainer:
    """The result of :func:`run`, like ``subprocess.CompletedProcess``.

    ``returncode`` is the payload's exit status, or 128+N if signal N killed it.
    ``stdout`` and ``stderr`` hold what was captured (``b""`` for a stream not captured).
    ``oom_killed`` is True when the kernel's OOM killer killed a process of the container
    (only known with a memory limit, which gives the container a cgroup).
    """

    args: tuple[str, ...]
    returncode: int
    stdout: bytes = b""
    stderr: bytes = b""
    oom_killed: bool = False

    def check_returncode(self) -> None:
        """Raise :class:`ContainerExitError` if the exit status is non-zero."""
        if self.returncode:
            raise ContainerExitError(list(self.args), self.returncode, self.stdout, self.stderr)


def make_spec(
    rootfs: str | OverlayRootfs | Image,
    args: Sequence[str] | None,
    *,
    hostname: str | None = None,
    domainname: str | None = None,
    env: Mapping[str, str] | Iterable[str] | None = None,
    cwd: str | None = None,
    entrypoint: Sequence[str] | None = None,
    image_root: str | None = None,
    user: str | int | User | None = None,
    mounts: Sequence[Mount] = (),
    namespaces: Iterable[str] = DEFAULT_NAMESPACES,
    uid_mappings: Sequence[IdMapping] = (),
    gid_mappings: Sequence[IdMapping] = (),
    rlimits: Mapping[str, int | tuple[int, int]] | None = None,
    readonly_rootfs: bool = False,
    init: bool = False,
    umask: int = 0o022,
    no_new_privs: bool = True,
    cap_add: Iterable[str] = (),
    cap_drop: Iterable[str] = (),
    privileged: bool = False,
    seccomp: str | dict[str, Any] | None = "default",
    security: SecurityOptions | None = None,
    resources: Resources | None = None,
    cgroup_parent: str = "pycontainers",
    userns: str | None = None,
    network: str | None = None,
    ports: Any = None,
    aliases: Iterable[str] = (),
    dns: Iterable[str] = (),
    extra_hosts: Mapping[str, str] | Iterable[str] = (),
    bandwidth: Any = None,
    stop_signal: str | None = None,
    **limits: Any,
) -> ContainerSpec:
    """Build a :class:`ContainerSpec` from :func:`run`'s keywords (validated here).

    Resource limits come as docker-py keywords (``memory="64m"``, ``cpus=0.5``,
    ``pids_limit=32``, ``cpuset_cpus="0"``, ``blkio_weight=500``,
    ``device_read_bps={"/dev/vda": "1m"}``...) or a whole ``resources=Resources(...)``.
    """
    kinds = frozenset([namespaces] if isinstance(namespaces, str) else namespaces)
    netns: str | None = None
    net_spec = None
    if network is None:
        network = "bridge" if ports else "none"
    if network in ("none", "host") or network.startswith(("container:", "ns:")):
        for field, value in (("ports", ports), ("aliases", aliases), ("bandwidth", bandwidth)):
            if value:
                raise SpecError(field, f"needs a bridge network, not network={network!r}")
    if network == "none":
        pass
    elif network == "host":
        kinds -= {"net"}
    elif network.startswith("container:"):
        from pycontainers.runtime.container import Container

        other = Container.load(network.partition(":")[2])
        try:
            if other.status not in ("running", "paused", "created"):
                raise SpecError("network", f"container {other.id[:12]} is {other.status}")
            netns = f"/proc/{other.pid}/ns/net"
        finally:
            other.close()
        kinds -= {"net"}
    elif network.startswith("ns:"):
        netns = network.partition(":")[2]
        kinds -= {"net"}
    else:
        from pycontainers.network.spec import NetworkSpec

        net_spec = NetworkSpec(
            network=network,
            ports=ports,
            aliases=aliases,
            dns=dns,
            extra_hosts=extra_hosts,
            bandwidth=bandwidth,
        )
    if userns == "auto":
        from pycontainers.security.userns import auto_mappings

        uid_mappings, gid_mappings = auto_mappings()
        kinds |= {"user"}
    elif userns not in (None, "host"):
        raise SpecError("userns", f"expected 'auto', 'host' or None, got {userns!r}")
    if os.geteuid() != 0:  # rootless: a user namespace of our own is the only way
        from pycontainers.security.rootless import rootless_mappings

        kinds |= {"user"}
        if not uid_mappings:
            uid_mappings, gid_mappings = rootless_mappings()
    if limits:
        if resources is not None:
            raise SpecError(
                next(iter(limits)), "give limits as keywords or as resources=, not both"
            )
        resources = Resources.from_docker(**limits)
    if resources is not None and os.geteuid() != 0:
        raise SpecError(
            "resources",
            "cgroup limits need root: rootless containers get no cgroup here "
            "(a delegated cgroup v2 subtree is not supported yet)",
        )
    image_ref: str | None = None
    if not isinstance(rootfs, (str, OverlayRootfs)) or (
        isinstance(rootfs, str) and rootfs != "host" and not rootfs.startswith("/")
    ):
        # an image: its layers under a writable layer of the container's own, and its
        # config's defaults (entrypoint + cmd as Docker combines them, env, workdir, user)
        from pycontainers.images import default_store

        store = default_store(image_root)
        image = store.get(rootfs) if isinstance(rootfs, str) else rootfs
        image_ref = str(image.reference)
        rootfs = OverlayRootfs(tuple(store.snapshots_for(image)))
        args = image.config.command(args, entrypoint)
        env = {**image.config.environ(), **dict(_env_pairs(env))}
        cwd = cwd or image.config.working_dir or None
        if user is None and image.config.user:
            user = image.config.user
        if stop_signal is None and image.config.stop_signal:
            stop_signal = image.config.stop_signal
    elif entrypoint is not None:
        args = (*entrypoint, *(args or ()))
    process = Process(
        args=tuple(args or ()),
        env=env,
        cwd=cwd or "/",
        user=user,
        rlimits=rlimits,
        umask=umask,
        no_new_privs=no_new_privs,
    )
    spec = ContainerSpec(
        rootfs=rootfs,
        process=process,
        hostname=hostname,
        domainname=domainname,
        namespaces=kinds,
        mounts=tuple(mounts),
        uid_mappings=tuple(uid_mappings),
        gid_mappings=tuple(gid_mappings),
        readonly_rootfs=readonly_rootfs,
        init=init,
        security=security or _security(tuple(cap_add), tuple(cap_drop), privileged, seccomp),
        resources=resources,
        cgroup_parent=cgroup_parent,
        image=image_ref,
        netns=netns,
        network=net_spec,
        stop_signal=stop_signal or "",
    )
    from pycontainers.runtime.volumes import resolve_mounts

    return resolve_mounts(spec)  # bind sources checked, volumes made and bound


def _env_pairs(env: Mapping[str, str] | Iterable[str] | None) -> tuple[tuple[str, str], ...]:
    from pycontainers.spec import _env

    return _env(env)


_DEFAULT_SECURITY = SecurityOptions()


def _security(
    cap_add: tuple[str, ...],
    cap_drop: tuple[str, ...],
    privileged: bool,
    seccomp: str | dict[str, Any] | None,
) -> SecurityOptions:
    if not cap_add and not cap_drop and not privileged and seccomp == "default":
        return _DEFAULT_SECURITY  # validated once
    return SecurityOptions(
        cap_add=cap_add, cap_drop=cap_drop, privileged=privileged, seccomp=seccomp
    )


def needs_mountpoint(spec: ContainerSpec) -> bool:
    """Whether the rootfs is mounted (tmpfs, overlay) on an empty directory of ours."""
    return spec.rootfs == "host" or isinstance(spec.rootfs, OverlayRootfs)


_host_mnt: dict[str, str] = {}


def _host_mountpoint() -> str:
    root = st.default_state_root()
    if root not in _host_mnt or not os.path.isdir(_host_mnt[root]):
        _host_mnt[root] = st.ensure_dir(os.path.join(st.ensure_dir(root), ".mnt"))
    return _host_mnt[root]


def run(
    rootfs_or_image: str | OverlayRootfs | Image | ContainerSpec,
    args: Sequence[str] | None = None,
    *,
    capture_output: bool = False,
    input: bytes | None = None,
    stdin: StdioArg = None,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    timeout: float | None = None,
    check: bool = False,
    **spec_kwargs: Any,
) -> CompletedContainer:
    """Run ``args`` in a new container and wait for it, like :func:`subprocess.run`.

    ``rootfs_or_image`` is an image (a reference such as ``"busybox"`` or
    ``"localhost/app:1"`` in the local image store, or an :class:`Image`), a directory,
    ``"host"`` (the host's /usr, /bin, /lib* read-only with a fresh /tmp), an
    :class:`OverlayRootfs`, or a full :class:`ContainerSpec`. An image supplies the
    defaults: entrypoint and cmd (``entrypoint=`` overrides, as Docker's), env, working
    directory and user. Keywords: ``hostname``,
    ``domainname``, ``env``, ``cwd``, ``user`` (``"uid[:gid]"`` or a name from the rootfs's
    /etc/passwd), ``mounts``, ``namespaces`` (default pid, net, ipc, mnt, uts, cgroup),
    ``uid_mappings``/``gid_mappings`` (with ``"user"``), ``rlimits``, ``readonly_rootfs``,
    ``init`` (a tiny init as PID 1 that reaps zombies and forwards signals), ``umask``,
    ``no_new_privs``, ``cap_add``/``cap_drop`` (names, or ``"ALL"``), ``privileged`` and
    ``seccomp`` (``"default"``, ``None`` or a Docker-format profile) — or a whole
    ``security=SecurityOptions(...)``; ``network``: ``"none"`` (its own network namespace
    with only ``lo``, the default), ``"host"``, ``"container:<id>"`` (share another
    container's), ``"ns:<path>"`` (join a persisted one), ``"bridge"`` (the default
    network) or the name of a :class:`Network` — the default is ``"none"``, or
    ``"bridge"`` when ``ports`` are published; on a bridge network: ``ports``
    (``{"80/tcp": 8080}``: container port to host port, or Docker's ``-p`` strings),
    ``aliases``, ``dns``, ``extra_hosts`` and ``bandwidth`` (``{"egress": "1mbit"}``); resource limits as docker-py
    keywords (``memory``, ``cpus``, ``pids_limit``, ``cpuset_cpus``, ``blkio_weight``,
    ``device_read_bps``...) or ``resources=Resources(...)``, which put the container in a
    cgroup of its own under
    ``cgroup_parent``, removed with it; ``userns="auto"`` maps container root to the
    subordinate ids of the ``pycontainers`` user (see :mod:`pycontainers.security.userns`).

    On ``timeout`` the container is killed and :class:`ContainerTimeout` raised; with
    ``check`` a non-zero status raises :class:`ContainerExitError`. A container that fails
    to start raises :class:`ContainerStartError` (``exit_code`` 127: command not found, 126:
    not executable, 125: any other setup failure) and leaves nothing behind.
    """
    if isinstance(rootfs_or_image, ContainerSpec):
        from pycontainers.runtime.volumes import resolve_mounts

        spec = resolve_mounts(rootfs_or_image)  # volumes made, bind sources checked
    else:
        spec = make_spec(rootfs_or_image, args, **spec_kwargs)
    if capture_output:
        if stdout is not None or stderr is not None:
            raise ValueError("capture_output may not be used with stdout or stderr")
        stdout = stderr = PIPE
    if input is not None:
        if stdin is not None:
            raise ValueError("input and stdin may not both be given")
        stdin = PIPE
    deadline = None if timeout is None else time.monotonic() + timeout
    stdio = Stdio(stdin, stdout, stderr)
    try:
        mnt = _host_mountpoint() if needs_mountpoint(spec) else None
        launch = Launch(
            spec, stdio, host_mountpoint=mnt, start_fifo=None, cgroup_name=os.urandom(8).hex()
        )
        try:
            out, err, timed_out = communicate(stdio, launch.pidfd, input, deadline)
            if timed_out:
                launch.abort()
                assert timeout is not None
                raise ContainerTimeout(list(spec.process.args), timeout, out, err)
            from pycontainers import _sys

            code = _sys.reap(launch.pidfd)
            oom_killed = launch.oom_killed()
        except BaseException:
            if launch.pidfd >= 0:
                launch.abort()
            raise
        finally:
            launch.remove_cgroup()
            launch.remove_layer()
            launch.remove_network()
        launch.close()
    finally:
        stdio.close_all()
    result = CompletedContainer(spec.process.args, code, out or b"", err or b"", oom_killed)
    if check:
        result.check_returncode()
    return result
