"""Specs: frozen attrs classes that say *what* a container is, validated at construction.

A bad value raises :class:`~pycontainers.errors.SpecError` naming the field, at the line that
wrote it, never deep inside a start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers._specchecks import check_container_path as check_container_path
from pycontainers._specchecks import check_hostname as check_hostname
from pycontainers._specchecks import check_volume_name as check_volume_name
from pycontainers._specchecks import fail as _fail
from pycontainers._specprocess import DEFAULT_PATH as DEFAULT_PATH
from pycontainers._specprocess import Process as Process
from pycontainers._specprocess import User as User
from pycontainers._specsecurity import DEFAULT_MASKED_PATHS as DEFAULT_MASKED_PATHS
from pycontainers._specsecurity import DEFAULT_READONLY_PATHS as DEFAULT_READONLY_PATHS
from pycontainers._specsecurity import SecurityOptions as SecurityOptions
from pycontainers.cgroups._devices import DeviceMapping as DeviceMapping
from pycontainers.cgroups._devices import DeviceNode as DeviceNode
from pycontainers.cgroups._devices import device_mappings, device_nodes
from pycontainers.cgroups._resources import Resources

if TYPE_CHECKING:
    from pycontainers.network.spec import NetworkSpec

ROOTFS_PROPAGATIONS = (
    "rprivate", "private", "rslave", "slave", "rshared", "shared", "runbindable", "unbindable",
)  # fmt: skip
NAMESPACE_KINDS = ("pid", "net", "ipc", "mnt", "uts", "user", "cgroup", "time")
DEFAULT_NAMESPACES = frozenset({"pid", "net", "ipc", "mnt", "uts", "cgroup"})


# -- mounts -----------------------------------------------------------------------------

_FLAG_OPTIONS = {
    "ro",
    "rro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "bind",
    "rbind",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
    "relatime",
    "norelatime",
    "noatime",
    "strictatime",
}
_FS_TYPES = {
    "bind", "volume", "tmpfs", "proc", "sysfs", "mqueue", "devpts", "overlay", "cgroup", "cgroup2",
}  # fmt: skip


def _options(value: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(o for o in value.split(",") if o)
    return tuple(value)


def _mount_maps(value: Iterable[IdMapping]) -> tuple[IdMapping, ...]:
    return tuple(value)


@attrs.frozen
class Mount:
    """A mount inside the container: a bind of a host path, a named volume, or a
    filesystem such as tmpfs.

    ``options`` takes mount(8)-style words (``ro``, ``nosuid``, ``rbind``, ``rslave``...) and
    filesystem data (``size=64m``, ``mode=1777``). A bind's missing ``source`` is an error
    when the spec is built unless ``create`` (then the directory is made). ``type="volume"``
    mounts the named volume ``source`` (None: a new anonymous one), created on first use
    and filled with the image's content at ``target`` unless the ``nocopy`` option is given
    (see :mod:`pycontainers.runtime.volumes`).
    """

    target: str = attrs.field()
    source: str | None = None
    type: str = "bind"
    options: tuple[str, ...] = attrs.field(default=(), converter=_options)
    read_only: bool = False
    create: bool = False
    uid_mappings: tuple[IdMapping, ...] = attrs.field(default=(), converter=_mount_maps)
    """With ``gid_mappings``: an idmapped bind (files of host id H show as the container id
    that maps to H, and are created with H), through a user namespace of these mappings."""
    gid_mappings: tuple[IdMapping, ...] = attrs.field(default=(), converter=_mount_maps)

    @target.validator
    def _check_target(self, _: Any, value: str) -> None:
        check_container_path("Mount.target", value)

    def __attrs_post_init__(self) -> None:
        if self.type not in _FS_TYPES:
            raise _fail("Mount.type", f"unknown type {self.type!r}; one of {sorted(_FS_TYPES)}")
        if self.type == "bind":
            if not self.source or not str(self.source).startswith("/"):
                raise _fail(
                    "Mount.source", f"a bind mount needs an absolute host path, got {self.source!r}"
                )
            if "\x00" in self.source:
                raise _fail("Mount.source", "must not contain NUL bytes")
        elif self.create:
            raise _fail("Mount.create", "only a bind mount's source can be created")
        if self.type == "volume" and self.source is not None:
            check_volume_name(self.source, "Mount.source")
        for opt in self.options:
            if opt == "nocopy" and self.type == "volume":
                continue
            if opt not in _FLAG_OPTIONS and "=" not in opt:
                raise _fail("Mount.options", f"unknown option {opt!r}")
            if "," in opt or "\x00" in opt:
                raise _fail("Mount.options", f"invalid option {opt!r}")
        if self.uid_mappings or self.gid_mappings:
            if self.type != "bind":
                raise _fail("Mount.uid_mappings", "only a bind mount can be idmapped")
            if not (self.uid_mappings and self.gid_mappings):
                raise _fail("Mount.uid_mappings", "give both uid_mappings and gid_mappings")
            for m in (*self.uid_mappings, *self.gid_mappings):
                if not isinstance(m, IdMapping):
                    raise _fail("Mount.uid_mappings", f"expected IdMapping objects, got {m!r}")

    @property
    def normalized_target(self) -> str:
        """The target path, normalized."""
        return check_container_path("Mount.target", self.target)


# -- users and id mappings --------------------------------------------------------------


@attrs.frozen
class IdMapping:
    """``size`` ids starting at ``container_id`` map to ids starting at ``host_id``."""

    container_id: int = attrs.field(validator=attrs.validators.ge(0))
    host_id: int = attrs.field(validator=attrs.validators.ge(0))
    size: int = attrs.field(validator=attrs.validators.ge(1))


# -- container ----------------------------------------------------------------------------


def _namespaces(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    kinds = frozenset(value)
    unknown = kinds - set(NAMESPACE_KINDS)
    if unknown:
        raise _fail(
            "namespaces", f"unknown kinds {sorted(unknown)}; known: {list(NAMESPACE_KINDS)}"
        )
    return kinds


def _layer_dirs(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise _fail("OverlayRootfs.lowers", "must be a list of directories, not one string")
    dirs = tuple(str(v) for v in value)
    if not dirs:
        raise _fail("OverlayRootfs.lowers", "needs at least one layer")
    for d in dirs:
        if not d.startswith("/") or "\x00" in d:
            raise _fail("OverlayRootfs.lowers", f"layers must be absolute paths, got {d!r}")
    return dirs


@attrs.frozen
class OverlayRootfs:
    """A rootfs of read-only layers (``lowers``, top-most first, as an image's snapshots
    give them) under the container's own writable layer.

    ``upper`` and ``work`` (on one filesystem) hold the container's changes; left out, the
    runtime makes them under the data root and removes them with the container. The overlay
    is mounted only inside the container's mount namespace (Linux 6.8+).
    """

    lowers: tuple[str, ...] = attrs.field(converter=_layer_dirs)
    upper: str | None = None
    work: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.upper is None) != (self.work is None):
            raise _fail("OverlayRootfs.work", "upper and work come together")
        for name in ("upper", "work"):
            value = getattr(self, name)
            if value is not None and not value.startswith("/"):
                raise _fail(f"OverlayRootfs.{name}", f"must be an absolute path, got {value!r}")


def signal_number(value: str | int, field: str = "signal") -> int:
    """A signal given by number, name or SIG-name (``9``, ``"KILL"``, ``"SIGTERM"``)."""
    import signal

    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        number = int(value)
        if 0 < number < signal.NSIG:
            return number
        raise _fail(field, f"no signal number {value!r}")
    name = str(value).upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise _fail(field, f"unknown signal {value!r}") from None


def _mounts(value: Iterable[Mount]) -> tuple[Mount, ...]:
    return tuple(value)


_SYSCTL_KEY = r"^[a-z0-9_]+(?:[./][A-Za-z0-9_:@+-]+)+$"  # compiled on first use
_SYSCTL_NS = {
    "ipc": ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
            "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", "fs.mqueue."),
    "net": ("net.",),
    "uts": ("kernel.hostname", "kernel.domainname"),
}  # fmt: skip


def _sysctls(value: object) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, dict) else value
    if isinstance(items, str) or not isinstance(items, Iterable):
        raise _fail("sysctls", f"expected a mapping of names to values, got {value!r}")
    out = []
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise _fail("sysctls", f"expected (name, value) pairs, got {item!r}")
        key, val = item
        if not isinstance(key, str) or not re.match(_SYSCTL_KEY, key) or ".." in key:
            raise _fail(f"sysctls.{key}", "not a sysctl name such as 'net.ipv4.ip_forward'")
        if not isinstance(val, str) or "\x00" in val:
            raise _fail(f"sysctls.{key}", f"the value must be a string, got {val!r}")
        out.append((key, val))
    return tuple(sorted(out))


JOINABLE = ("ipc", "uts", "pid", "user", "mnt", "cgroup", "time")
"""Namespace kinds :attr:`ContainerSpec.join` can name (``net`` is ``netns``)."""


def _joins(value: object) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, dict) else value
    if isinstance(items, str) or not isinstance(items, Iterable):
        raise _fail("join", f"expected (kind, path) pairs, got {value!r}")
    out: dict[str, str] = {}
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise _fail("join", f"expected (kind, path) pairs, got {item!r}")
        kind, path = item
        if kind not in JOINABLE:
            raise _fail("join", f"cannot join a {kind!r} namespace (one of {', '.join(JOINABLE)})")
        if not isinstance(path, str) or not path.startswith("/"):
            raise _fail(f"join.{kind}", f"must be an absolute path, got {path!r}")
        if kind in out:
            raise _fail(f"join.{kind}", "given twice")
        out[kind] = path
    return tuple(sorted(out.items()))


def sysctl_namespace(key: str) -> str | None:
    """The namespace a sysctl belongs to (``ipc``, ``net``, ``uts``), None if the host's."""
    for kind, prefixes in _SYSCTL_NS.items():
        if any(key == p or (p.endswith(".") and key.startswith(p)) for p in prefixes):
            return kind
    return None


def _idmaps(value: Iterable[IdMapping]) -> tuple[IdMapping, ...]:
    return tuple(value)


def _devices(value: object) -> tuple[DeviceMapping, ...]:
    return device_mappings("devices", value)


def _device_nodes(value: object) -> tuple[DeviceNode, ...]:
    return device_nodes("device_nodes", value)


def _shm_size(value: int | str) -> int:
    from pycontainers.cgroups._units import parse_bytes

    n = parse_bytes("shm_size", value, allow_unlimited=False)
    if n < 4096:
        raise _fail("shm_size", f"must be at least 4k, got {value!r}")
    return n


@attrs.frozen
class ContainerSpec:
    """A whole container: its root filesystem, process, namespaces and mounts.

    ``rootfs`` is a directory on the host, an :class:`OverlayRootfs` of layers, or
    ``"host"`` for the built-in image made of the
    host's ``/usr``, ``/bin``, ``/sbin`` and ``/lib*`` read-only with a fresh ``/tmp``.
    """

    rootfs: str | OverlayRootfs
    process: Process
    hostname: str | None = None
    domainname: str | None = None
    namespaces: frozenset[str] = attrs.field(default=DEFAULT_NAMESPACES, converter=_namespaces)
    mounts: tuple[Mount, ...] = attrs.field(default=(), converter=_mounts)
    uid_mappings: tuple[IdMapping, ...] = attrs.field(default=(), converter=_idmaps)
    gid_mappings: tuple[IdMapping, ...] = attrs.field(default=(), converter=_idmaps)
    readonly_rootfs: bool = False
    init: bool = False
    rootfs_propagation: str = "rprivate"
    """The root mount's propagation: (r)private, (r)slave (the host's later mounts appear),
    (r)shared (a peer group of the container's own: nothing reaches the host) or
    (r)unbindable."""
    security: SecurityOptions = attrs.field(factory=SecurityOptions)
    resources: Resources | None = None
    """Limits in a cgroup of the container's own; None: no cgroup is made."""
    cgroup_parent: str = "pycontainers"
    """The group the container's cgroup is made in (``"/"``: each hierarchy's root)."""
    image: str | None = None
    """The image reference the rootfs came from (its layers are the overlay's lowers)."""
    netns: str | None = None
    """Join this existing network namespace (a /proc/PID/ns/net or persisted nsfs path)
    instead of making one; ``"net"`` must then not be in ``namespaces``."""
    network: NetworkSpec | None = None
    """A place on a bridge network (veth, address, ports, /etc/hosts); needs ``"net"`` in
    ``namespaces``. None: the new network namespace has only ``lo``."""
    stop_signal: str = ""
    """The signal :meth:`Container.stop` sends first (``"SIGQUIT"``, ``"15"``); empty:
    SIGTERM. Images set it with ``StopSignal``."""
    shm_size: int = attrs.field(default=64 * 1024 * 1024, converter=_shm_size)
    """Bytes of the container's ``/dev/shm`` tmpfs (Docker's ``--shm-size``; 64 MiB); a
    size string such as ``"128m"`` is accepted."""
    userns_rootfs: str = "auto"
    """With a user namespace (as root), how a directory rootfs is made the container root's
    own: ``"idmap"`` (an idmapped mount; an error where the kernel or filesystem cannot),
    ``"copy"`` (a copy with shifted owners, cached per mapping), ``"auto"`` (idmap where it
    works, else the copy) or ``"none"`` (as is: host root's files show as the overflow id)."""
    join: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_joins)
    """Existing namespaces to join instead of making them, as (kind, path) pairs for
    ``ipc``, ``uts`` and ``pid`` (a Kubernetes pod's containers join its sandbox's), ``user``
    (joined first: the new namespaces are then its own), ``cgroup``, ``time`` and ``mnt``
    (the rootfs is then set up in the joined namespace, as runc does: its path must be
    reachable there, and the mounts made stay that namespace's); the kind must then not be
    in ``namespaces``. The network namespace is
    ``netns``."""
    sysctls: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_sysctls)
    """Kernel parameters set in the container's own namespaces before its process runs
    (``{"net.ipv4.ip_forward": "1"}``): only those of an ipc, net or uts namespace the
    container has (OCI ``linux.sysctl``)."""
    devices: tuple[DeviceMapping, ...] = attrs.field(
        default=(), converter=_devices, metadata={"omit_default": True}
    )
    """Host device nodes bound into the container (Docker's ``--device``:
    ``"/dev/fuse"``, ``"/dev/sda:/dev/xvda:r"`` or :class:`DeviceMapping` s); the device
    cgroup allows each its permissions. Needs ``resources`` (the cgroup)."""
    device_nodes: tuple[DeviceNode, ...] = attrs.field(
        default=(), converter=_device_nodes, metadata={"omit_default": True}
    )
    """Device nodes made in the container's /dev (OCI ``linux.devices``), each with its
    type, numbers, mode and owner; what may be done with them is ``resources``' device rules
    (none are added for them)."""

    def __attrs_post_init__(self) -> None:
        if isinstance(self.rootfs, OverlayRootfs):
            pass
        elif not isinstance(self.rootfs, str) or not self.rootfs:
            raise _fail("rootfs", f"must be a directory path or 'host', got {self.rootfs!r}")
        elif self.rootfs != "host" and not self.rootfs.startswith("/"):
            raise _fail("rootfs", f"must be an absolute path (or 'host'), got {self.rootfs!r}")
        check_hostname("hostname", self.hostname)
        check_hostname("domainname", self.domainname)
        joined = {kind for kind, _ in self.join}
        for kind in joined & self.namespaces:
            raise _fail(f"join.{kind}", f"joining a {kind} namespace excludes it from namespaces")
        if (self.hostname or self.domainname) and not {"uts"} & (self.namespaces | joined):
            raise _fail("hostname", "setting a hostname needs the 'uts' namespace")
        if "mnt" not in self.namespaces | joined:
            raise _fail("namespaces", "a container needs the 'mnt' namespace for its rootfs")
        for m in self.mounts:
            if not isinstance(m, Mount):
                raise _fail("mounts", f"expected Mount objects, got {m!r}")
        if "user" in self.namespaces and not (self.uid_mappings and self.gid_mappings):
            raise _fail("uid_mappings", "the 'user' namespace needs uid_mappings and gid_mappings")
        if self.uid_mappings and "user" not in self.namespaces:
            raise _fail("uid_mappings", "id mappings need the 'user' namespace")
        if self.resources is not None and not isinstance(self.resources, Resources):
            raise _fail("resources", f"expected a Resources object, got {self.resources!r}")
        if not self.cgroup_parent or ".." in self.cgroup_parent.split("/"):
            raise _fail(
                "cgroup_parent", f"must be a relative cgroup path, got {self.cgroup_parent!r}"
            )
        if self.netns is not None:
            if "net" in self.namespaces:
                raise _fail("netns", "joining a network namespace excludes 'net' from namespaces")
            if not self.netns.startswith("/"):
                raise _fail("netns", f"must be an absolute path, got {self.netns!r}")
        if self.network is not None:
            from pycontainers.network.spec import NetworkSpec

            if not isinstance(self.network, NetworkSpec):
                raise _fail("network", f"expected a NetworkSpec, got {self.network!r}")
            if "net" not in self.namespaces:
                raise _fail("network", "a bridge network needs the 'net' namespace")
        if self.stop_signal:
            signal_number(self.stop_signal, "stop_signal")
        for key, _ in self.sysctls:
            ns = sysctl_namespace(key)
            if ns is None:
                raise _fail(f"sysctls.{key}", "not a namespaced sysctl: it would change the host")
            own = self.namespaces | joined | ({"net"} if self.netns is not None else set())
            if ns not in own:
                raise _fail(f"sysctls.{key}", f"needs the container's own {ns!r} namespace")
        if self.devices and self.resources is None:
            raise _fail("devices", "devices need the container's cgroup: give resources")
        if self.userns_rootfs not in ("auto", "idmap", "copy", "none"):
            raise _fail(
                "userns_rootfs", f"one of auto, idmap, copy, none; got {self.userns_rootfs!r}"
            )
        if self.rootfs_propagation not in ROOTFS_PROPAGATIONS:
            raise _fail(
                "rootfs_propagation",
                f"one of {', '.join(ROOTFS_PROPAGATIONS)}; got {self.rootfs_propagation!r}",
            )
