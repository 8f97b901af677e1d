"""The spec keywords of :func:`pycontainers.run`, :meth:`Container.create` and ``make_spec``.

One :class:`SpecOptions` ``TypedDict`` lists them all (with the resource limits of
:class:`LimitOptions`), so ``mypy`` rejects a misspelled keyword in user code; callers
without a type checker get :func:`check_keywords`' :class:`SpecError` naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from pycontainers.errors import SpecError

if TYPE_CHECKING:
    from pycontainers.cgroups._devices import DeviceRule, IoDeviceLimit
    from pycontainers.cgroups._resources import Resources
    from pycontainers.network.ports import PortMapping
    from pycontainers.network.tc import Bandwidth
    from pycontainers.spec import IdMapping, Mount, SecurityOptions, User

Size: TypeAlias = "int | str"
"""Bytes, or Docker's size strings (``"64m"``, ``"1g"``); -1 or ``"max"``: no limit."""
IoRates: TypeAlias = (
    "Mapping[str, int | str] | Iterable[tuple[str, int | str] | Mapping[str, Any] | IoDeviceLimit]"
)
"""Per-device rates: ``{"/dev/vda": "1m"}``, ``(path, rate)`` pairs or Docker's dicts."""
DeviceRules: TypeAlias = "str | DeviceRule | Iterable[str | DeviceRule]"
"""Device cgroup rules such as ``"c 1:3 rwm"``."""
Ports: TypeAlias = "Mapping[Any, Any] | Iterable[Any] | str | int | PortMapping"
"""docker-py's ``{container_port: host_binding}`` or Docker's ``-p`` strings."""
BandwidthArg: TypeAlias = "Bandwidth | str | int | Mapping[str, str | int | None]"
"""``{"egress": "1mbit", "ingress": ...}``, one rate for both ways, or a Bandwidth."""


class LimitOptions(TypedDict, total=False):
    """Resource-limit keywords: docker-py's names and :class:`Resources`' own fields.

    ``None`` leaves a limit unset. docker-py names and what they set: ``memory`` /
    ``mem_limit`` → ``memory_max``; ``mem_reservation`` / ``memory_reservation`` →
    ``memory_low``; ``memswap_limit`` → ``memory_swap`` (memory plus swap); ``nano_cpus``
    (10⁻⁹ CPUs) → ``cpus``; ``pids_limit`` (0 or -1: none) → ``pids_max``;
    ``device_read_bps`` / ``device_write_bps`` / ``device_read_iops`` /
    ``device_write_iops`` → ``io_read_bps``...; ``device_cgroup_rules`` → ``devices_allow``.
    The others are :class:`Resources`' fields: ``cpu_shares`` (v1 units) or ``cpu_weight``
    (v2 units), ``cpu_quota``/``cpu_period`` (µs) or ``cpus`` (``1.5``), ``cpuset_cpus`` /
    ``cpuset_mems`` (``"0-1,3"``), ``blkio_weight`` (10..1000) or ``io_weight``,
    ``hugetlb`` (page size → limit), ``devices_deny`` then ``devices_allow``.
    """

    # docker-py's names
    memory: Size | None
    mem_limit: Size | None
    mem_reservation: Size | None
    memory_reservation: Size | None
    memswap_limit: Size | None
    nano_cpus: int | None
    pids_limit: int | str | None
    device_read_bps: IoRates | None
    device_write_bps: IoRates | None
    device_read_iops: IoRates | None
    device_write_iops: IoRates | None
    device_cgroup_rules: DeviceRules | None
    # Resources' fields
    memory_max: Size | None
    memory_low: Size | None
    memory_swap: Size | None
    cpu_shares: int | str | None
    cpu_weight: int | str | None
    cpu_quota: int | str | None
    cpu_period: int | str | None
    cpus: float | str | None
    cpuset_cpus: str | int | None
    cpuset_mems: str | int | None
    pids_max: int | str | None
    blkio_weight: int | str | None
    io_weight: int | str | None
    io_read_bps: IoRates | None
    io_write_bps: IoRates | None
    io_read_iops: IoRates | None
    io_write_iops: IoRates | None
    hugetlb: Mapping[str, Size] | Mapping[int, Size] | None
    devices_deny: DeviceRules | None
    devices_allow: DeviceRules | None


class SpecOptions(LimitOptions, total=False):
    """Every keyword that describes a container: what :func:`pycontainers.run`,
    :meth:`Container.create` and ``make_spec`` take besides their own.

    Process: ``hostname``, ``domainname``, ``env`` (mapping or ``"K=V"`` strings), ``cwd``,
    ``entrypoint``, ``user``, ``rlimits``, ``umask`` (0o022), ``no_new_privs`` (True),
    ``init``. Filesystem: ``mounts``, ``readonly_rootfs``, ``image_root`` (the image store's
    data root). Isolation: ``namespaces``, ``uid_mappings``/``gid_mappings``, ``userns``
    (``"auto"``, ``"host"``), ``cap_add``/``cap_drop``, ``privileged``, ``seccomp``
    (``"default"``) or ``security``. Network: ``network``, ``ports``, ``aliases``, ``dns``,
    ``extra_hosts``, ``bandwidth``. Limits: :class:`LimitOptions` or ``resources``, under
    ``cgroup_parent`` (``"pycontainers"``). ``stop_signal``. :func:`pycontainers.run`
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


LIMIT_KEYWORDS = frozenset(LimitOptions.__optional_keys__)
"""The names of :class:`LimitOptions`."""
SPEC_KEYWORDS = frozenset(SpecOptions.__optional_keys__)
"""The names of :class:`SpecOptions` (the limits included)."""


def check_keywords(given: Iterable[str], known: frozenset[str], where: str) -> None:
    """Raise :class:`SpecError` naming the first keyword of ``given`` not in ``known``.

    For callers without a type checker: the message suggests the nearest known name.
    """
    for key in given:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
            raise SpecError(key, f"not a keyword of {where}; {hint}")


__all__ = [
    "LIMIT_KEYWORDS",
    "SPEC_KEYWORDS",
    "BandwidthArg",
    "DeviceRules",
    "IoRates",
    "LimitOptions",
    "Ports",
    "Size",
    "SpecOptions",
    "check_keywords",
]
