"""``run()``: one container from start to exit, shaped like :func:`subprocess.run`."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from pycontainers.errors import ContainerExitError, ContainerTimeout

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.12

    from pycontainers.images.image import Image
    from pycontainers.runtime.options import SpecOptions
from pycontainers.runtime.launch import Launch
from pycontainers.runtime.resolve import host_mountpoint as host_mountpoint  # re-export
from pycontainers.runtime.resolve import make_spec as make_spec  # re-export
from pycontainers.runtime.resolve import needs_mountpoint as needs_mountpoint  # re-export
from pycontainers.runtime.stdio import PIPE, Stdio, StdioArg, communicate
from pycontainers.spec import (
    ContainerSpec,
    OverlayRootfs,
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


def run(
    rootfs_or_image: str | os.PathLike[str] | OverlayRootfs | Image | ContainerSpec,
    args: Sequence[str] | None = None,
    *,
    capture_output: bool = False,
    input: bytes | None = None,
    stdin: StdioArg = None,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    timeout: float | None = None,
    check: bool = False,
    **spec_kwargs: Unpack[SpecOptions],
) -> CompletedContainer:
    """Run ``args`` in a new container and wait for it, like :func:`subprocess.run`.

    ``rootfs_or_image`` is an image (a reference such as ``"busybox"`` or
    ``"localhost/app:1"`` in the local image store, or an :class:`Image`), a directory (an
    absolute path string, or any :class:`os.PathLike`, such as a :class:`pathlib.Path`),
    ``"host"`` (the host's /usr, /bin, /lib* read-only with a fresh /tmp), an
    :class:`OverlayRootfs`, or a full :class:`ContainerSpec` (then no spec keywords). An
    image supplies the defaults: entrypoint and cmd, env, working directory and user.

    Keywords of the run: ``capture_output``, ``input`` (bytes for stdin), ``stdin`` /
    ``stdout`` / ``stderr`` (:mod:`subprocess`-style), ``timeout`` (seconds: the container
    is killed and :class:`ContainerTimeout` raised), ``check`` (a non-zero status raises
    :class:`ContainerExitError`).

    Spec keywords (:class:`~pycontainers.runtime.options.SpecOptions`, shared with
    :meth:`Container.create`; an unknown one is a type error, and a :class:`SpecError`
    naming it at run time):

    ====================================  =================================================
    ``hostname``, ``domainname``          names in its UTS namespace
    ``env``                               mapping or ``"K=V"`` strings (over the image's)
    ``cwd``, ``user``                     working directory; ``"uid[:gid]"``, a name from
                                          the rootfs's /etc/passwd, or a :class:`User`
    ``entrypoint``                        replaces the image's (``args`` follow it)
    ``image_root``                        the image store's data root
    ``rlimits``                           ``{"nofile": 1024}`` or ``(soft, hard)`` values
    ``umask``, ``no_new_privs``           0o022 and True by default
    ``init``                              a tiny PID 1 that reaps and forwards signals
    ``mounts``, ``readonly_rootfs``       :class:`Mount` s (bind, tmpfs, volume); a
                                          read-only /
    ``namespaces``                        default pid, net, ipc, mnt, uts, cgroup
    ``uid_mappings``, ``gid_mappings``    :class:`IdMapping` s (with ``"user"``)
    ``userns``                            ``"auto"``: root maps to the subordinate ids of
                                          the ``pycontainers`` user; ``"host"``, None
    ``cap_add``, ``cap_drop``             capability names, or ``"ALL"``
    ``privileged``, ``seccomp``           all capabilities; ``"default"``, None or a
                                          Docker-format profile
    ``security``                          a whole :class:`SecurityOptions` instead
    ``network``                           ``"none"`` (only ``lo``; the default, or
                                          ``"bridge"`` with ``ports``), ``"host"``,
                                          ``"container:<id>"``, ``"ns:<path>"``,
                                          ``"bridge"`` or a :class:`Network`'s name
    ``ports``                             ``{"80/tcp": 8080}`` or ``-p`` strings (bridge)
    ``aliases``, ``dns``, ``extra_hosts``  names on a user network; resolvers; hosts
    ``bandwidth``                         ``{"egress": "1mbit", "ingress": ...}``
    ``stop_signal``                       for :meth:`Container.stop` (default: image's)
    ``shm_size``                          ``/dev/shm``'s size (``"64m"``)
    ``sysctls``                           namespaced kernel parameters
                                          (``{"net.ipv4.ip_forward": "1"}``)
    ``group_add``                         more group ids for the process
    ``dns_search``, ``dns_options``       resolv.conf's search and options
    ``ip``                                an address on a user-defined network
    ``volumes_from``                      containers whose volumes and binds to mount
                                          (``"NAME[:ro|rw]"``)
    ``devices``                           host device nodes (``"/dev/fuse"``,
                                          ``"HOST:CONTAINER:PERMS"``; :class:`DeviceMapping`)
    ``resources``, ``cgroup_parent``      a whole :class:`Resources`; the parent cgroup
                                          (``"pycontainers"``)
    ====================================  =================================================

    Resource limits (:class:`~pycontainers.runtime.options.LimitOptions`) put the
    container in a cgroup of its own, removed with it. docker-py's names: ``memory`` /
    ``mem_limit``, ``mem_reservation`` / ``memory_reservation``, ``memswap_limit``,
    ``nano_cpus``, ``pids_limit``, ``device_read_bps``, ``device_write_bps``,
    ``device_read_iops``, ``device_write_iops``, ``device_cgroup_rules``; and
    :class:`Resources`' own: ``memory_max``, ``memory_low``, ``memory_swap``,
    ``cpu_shares``, ``cpu_weight``, ``cpu_quota``, ``cpu_period``, ``cpus``,
    ``cpuset_cpus``, ``cpuset_mems``, ``pids_max``, ``blkio_weight``, ``io_weight``,
    ``io_read_bps``, ``io_write_bps``, ``io_read_iops``, ``io_write_iops``, ``hugetlb``,
    ``devices_deny``, ``devices_allow``; the rarer ``memory_swappiness`` (docker-py's
    ``mem_swappiness``), ``memory_kernel_tcp``, ``oom_kill_disable``,
    ``memory_use_hierarchy``, ``memory_check_before_update``, ``cpu_rt_runtime``,
    ``cpu_rt_period``, ``cpu_idle``, ``cpu_burst``, ``blkio_weight_device``,
    ``blkio_leaf_weight``, ``blkio_leaf_weight_device``, ``net_cls_classid``,
    ``net_prio_ifpriomap``, ``rdma``, ``unified``. Sizes take ``"64m"``-style strings.

    A container that fails to start raises :class:`ContainerStartError` (``exit_code``
    127: command not found, 126: not executable, 125: any other setup failure) and leaves
    nothing behind.
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
        mnt = host_mountpoint() if needs_mountpoint(spec) else None
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
