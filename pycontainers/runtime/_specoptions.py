"""The :class:`SpecOptions` ``TypedDict`` (re-exported by :mod:`pycontainers.runtime.options`,
which loads it on first use: typing builds a TypedDict at ~20 us a key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pycontainers.cgroups._limits import LimitOptions

if TYPE_CHECKING:
    from pycontainers.cgroups._devices import DeviceMapping
    from pycontainers.cgroups._resources import Resources
    from pycontainers.runtime.options import BandwidthArg, Ports
    from pycontainers.spec import IdMapping, Mount, SecurityOptions, User


class SpecOptions(LimitOptions, total=False):
    """Every keyword that describes a container: what :func:`pycontainers.run`,
    :meth:`Container.create` and ``make_spec`` take besides their own.

    Process: ``hostname``, ``domainname``, ``env`` (mapping or ``"K=V"`` strings), ``cwd``,
    ``entrypoint``, ``user``, ``rlimits``, ``umask`` (0o022), ``no_new_privs`` (True),
    ``init``. Filesystem: ``mounts``, ``readonly_rootfs``, ``image_root`` (the image store's
    data root). Isolation: ``namespaces``, ``uid_mappings``/``gid_mappings``, ``userns``
    (``"auto"``, ``"host"``), ``cap_add``/``cap_drop``, ``privileged``, ``seccomp``
    (``"default"``) or ``security``. Network: ``network``, ``ports``, ``aliases``, ``dns``,
    ``extra_hosts``, ``bandwidth``, ``dns_search``, ``dns_options``, ``ip``. Kernel:
    ``sysctls`` (namespaced ones), ``group_add`` (more gids). ``volumes_from`` (containers
    whose volumes and binds to mount, ``"NAME[:ro|rw]"``). ``devices`` (host device nodes,
    ``"/dev/fuse"`` or ``"HOST:CONTAINER:PERMS"`` as docker-py gives them). Limits: :class:`LimitOptions` or ``resources``, under
    ``cgroup_parent`` (``"pycontainers"``). ``stop_signal``, ``shm_size`` (``/dev/shm``). :func:`pycontainers.run`
    documents each one.
    """

    hostname: str | None
    domainname: str | None
    env: Mapping[str, str] | Iterable[str] | None
    cwd: str | None
    entrypoint: Sequence[str] | None
    image_root: str | None
    user: str | int | User | None
    mounts: Sequence[Mount]
    namespaces: Iterable[str]
    uid_mappings: Sequence[IdMapping]
    gid_mappings: Sequence[IdMapping]
    rlimits: Mapping[str, int | tuple[int, int]] | None
    readonly_rootfs: bool
    init: bool
    umask: int
    no_new_privs: bool
    cap_add: Iterable[str]
    cap_drop: Iterable[str]
    privileged: bool
    seccomp: str | dict[str, Any] | None
    security: SecurityOptions | None
    resources: Resources | None
    cgroup_parent: str
    userns: str | None
    network: str | None
    ports: Ports | None
    aliases: Iterable[str]
    dns: Iterable[str]
    extra_hosts: Mapping[str, str] | Iterable[str]
    bandwidth: BandwidthArg | None
    stop_signal: str | None
    shm_size: int | str
    sysctls: Mapping[str, str] | None
    group_add: Iterable[str | int]
    dns_search: Iterable[str]
    dns_options: Iterable[str]
    ip: str | None
    volumes_from: Iterable[str]
    devices: Iterable[str | DeviceMapping]


__all__ = ["SpecOptions"]
