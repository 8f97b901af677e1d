"""Specs: frozen attrs classes that say *what* a container is, validated at construction.

A bad value raises :class:`~pycontainers.errors.SpecError` naming the field, at the line that
wrote it, never deep inside a start.
"""

from __future__ import annotations

import posixpath
import re
import resource
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers.cgroups._devices import DeviceMapping as DeviceMapping
from pycontainers.cgroups._devices import DeviceNode as DeviceNode
from pycontainers.cgroups._devices import device_mappings, device_nodes
from pycontainers.cgroups._resources import Resources
from pycontainers.errors import SpecError

if TYPE_CHECKING:
    from pycontainers.network.spec import NetworkSpec

ROOTFS_PROPAGATIONS = (
    "rprivate", "private", "rslave", "slave", "rshared", "shared", "runbindable", "unbindable",
)  # fmt: skip
NAMESPACE_KINDS = ("pid", "net", "ipc", "mnt", "uts", "user", "cgroup", "time")
DEFAULT_NAMESPACES = frozenset({"pid", "net", "ipc", "mnt", "uts", "cgroup"})
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_ENV_NAME = re.compile(r"^[^=\x00]+$")
# patterns only some specs need: compiled on first use (re's cache), not by every import
_HOSTNAME_LABEL = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
_VOLUME_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$"


def _fail(field: str, message: str) -> SpecError:
    return SpecError(field, message)


def check_container_path(field: str, path: str) -> str:
    """Return ``path`` normalized if it is an absolute path free of ``..``; else raise."""
    if not isinstance(path, str) or not path:
        raise _fail(field, f"must be a non-empty absolute path, got {path!r}")
    if "\x00" in path:
        raise _fail(field, "must not contain NUL bytes")
    if not path.startswith("/"):
        raise _fail(field, f"must be an absolute path inside the container, got {path!r}")
    if ".." in path.split("/"):
        raise _fail(field, f"must not contain '..' components, got {path!r}")
    return posixpath.normpath(path).replace("//", "/")


def check_hostname(field: str, name: str | None) -> None:
    """Raise unless ``name`` is a valid RFC 1123 host name of at most 64 bytes."""
    if name is None:
        return
    if not isinstance(name, str) or not name or len(name.encode()) > 64:
        raise _fail(field, f"must be 1 to 64 characters, got {name!r}")
    if not all(re.match(_HOSTNAME_LABEL, label) for label in name.split(".")):
        raise _fail(field, f"{name!r} is not a valid host name (letters, digits, '-' and '.')")


def check_volume_name(name: str, field: str = "name") -> str:
    """Raise :class:`SpecError` unless ``name`` is a valid volume name (Docker's rule)."""
    if not isinstance(name, str) or not re.match(_VOLUME_NAME, name):
        raise _fail(field, f"invalid volume name {name!r}: letters, digits, '_', '.', '-'")
    return name


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


@attrs.frozen
class User:
    """The identity the payload runs as. ``name`` is resolved in the rootfs's /etc/passwd."""

    uid: int | None = None
    gid: int | None = None
    additional_gids: tuple[int, ...] = ()
    name: str | None = None

    @classmethod
    def parse(cls, value: str | int | User) -> User:
        """Parse Docker's ``--user`` forms: ``uid``, ``uid:gid``, ``name``, ``name:group``."""
        if isinstance(value, User):
            return value
        if isinstance(value, int):
            if value < 0:
                raise _fail("user", f"uid must be >= 0, got {value}")
            return cls(uid=value)
        if not isinstance(value, str) or not value:
            raise _fail("user", f"expected uid[:gid] or a name, got {value!r}")
        user, _, group = value.partition(":")
        if not user:
            raise _fail("user", f"missing user in {value!r}")
        gid: int | None = None
        if group:
            if not group.isdigit():
                raise _fail(
                    "user", f"group names are not supported yet, use a numeric gid: {value!r}"
                )
            gid = int(group)
        if user.isdigit():  # a numeric user is never looked up as a name (CVE-2016-3697)
            return cls(uid=int(user), gid=gid)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*\$?$", user):
            raise _fail("user", f"invalid user name {user!r}")
        return cls(name=user, gid=gid)


# -- process ------------------------------------------------------------------------------

_RLIMITS = {
    name[len("RLIMIT_") :].lower(): getattr(resource, name)
    for name in dir(resource)
    if name.startswith("RLIMIT_")
}


def _env(
    value: Mapping[str, str] | Iterable[str | tuple[str, str]] | None,
) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    items: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        items = [(str(k), str(v)) for k, v in value.items()]
    else:
        for entry in value:
            if (  # the converted form itself (attrs.evolve passes it again)
                isinstance(entry, tuple)
                and len(entry) == 2
                and all(isinstance(x, str) for x in entry)
            ):
                items.append(entry)
                continue
            if not isinstance(entry, str) or "=" not in entry:
                raise _fail("env", f"entries must look like NAME=value, got {entry!r}")
            k, _, v = entry.partition("=")
            items.append((k, v))
    for k, v in items:
        if not _ENV_NAME.match(k):
            raise _fail("env", f"invalid variable name {k!r}")
        if "\x00" in v:
            raise _fail("env", f"value of {k} contains a NUL byte")
    return tuple(items)


def _rlimits(
    value: Mapping[str, int | tuple[int, int]] | Iterable[tuple[str, int, int]] | None,
) -> tuple[tuple[str, int, int], ...]:
    # a mapping of name -> limit or (soft, hard), or this converter's own output: triples
    # (attrs.evolve passes a field's converted value through its converter again)
    if value is None or isinstance(value, Mapping):
        items = list((value or {}).items())
    else:
        items = []
        for item in value:
            if isinstance(item, str) or len(item) != 3:
                raise _fail("rlimits", f"expected a mapping or (name, soft, hard), got {item!r}")
            items.append((item[0], (item[1], item[2])))
    out = []
    for name, limit in items:
        if not isinstance(name, str):
            raise _fail("rlimits", f"a resource name must be a string, got {name!r}")
        key = name.lower().removeprefix("rlimit_")
        if key not in _RLIMITS:
            raise _fail("rlimits", f"unknown resource {name!r}; one of {sorted(_RLIMITS)}")
        soft, hard = (limit, limit) if isinstance(limit, int) else limit
        if soft < 0 or hard < 0 or soft > hard:
            raise _fail("rlimits", f"{name}: need 0 <= soft <= hard, got {soft}, {hard}")
        out.append((key, soft, hard))
    return tuple(out)


def _args(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise _fail("args", "must be a list of strings, not one string (use ['sh', '-c', ...])")
    return tuple(value)


@attrs.frozen
class Process:
    """What runs in the container: command, environment, working directory and identity."""

    args: tuple[str, ...] = attrs.field(converter=_args)
    env: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_env)
    cwd: str = "/"
    user: User | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(User.parse),  # type: ignore[misc]
    )
    rlimits: tuple[tuple[str, int, int], ...] = attrs.field(default=(), converter=_rlimits)
    umask: int = 0o022
    no_new_privs: bool = True

    def __attrs_post_init__(self) -> None:
        if not self.args:
            raise _fail("args", "the command must not be empty")
        for a in self.args:
            if not isinstance(a, str) or "\x00" in a:
                raise _fail("args", f"arguments must be strings without NUL bytes, got {a!r}")
        check_container_path("cwd", self.cwd)
        if not 0 <= self.umask <= 0o777:
            raise _fail("umask", f"must be between 0 and 0o777, got {self.umask!r}")

    def environ(self) -> dict[str, str]:
        """The environment as a dict, with PATH defaulted as Docker does."""
        env = dict(self.env)
        env.setdefault("PATH", DEFAULT_PATH)
        return env


# -- security -----------------------------------------------------------------------------

DEFAULT_MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def _caps(field: str, value: Iterable[str] | str) -> tuple[str, ...]:
    from pycontainers.security.capabilities import normalize

    if isinstance(value, str):
        value = [value]
    return tuple(normalize(field, v) for v in value)


def _cap_add(value: Iterable[str] | str) -> tuple[str, ...]:
    return _caps("cap_add", value)


def _cap_drop(value: Iterable[str] | str) -> tuple[str, ...]:
    return _caps("cap_drop", value)


def _cap_set(field: str, value: Iterable[str] | str | None) -> tuple[str, ...]:
    """One OCI capability set: names normalized, sorted, no ``ALL`` (None: empty)."""
    names = _caps(field, value or ())
    if "ALL" in names:
        raise _fail(field, "list the capabilities by name (ALL is for cap_add/cap_drop)")
    return tuple(sorted(set(names)))


def _cap_effective(value: Iterable[str] | str | None) -> tuple[str, ...] | None:
    return None if value is None else _cap_set("cap_effective", value)


def _cap_permitted(value: Iterable[str] | str | None) -> tuple[str, ...] | None:
    return None if value is None else _cap_set("cap_permitted", value)


def _cap_inheritable(value: Iterable[str] | str | None) -> tuple[str, ...]:
    return _cap_set("cap_inheritable", value)


def _cap_ambient(value: Iterable[str] | str | None) -> tuple[str, ...]:
    return _cap_set("cap_ambient", value)


def _paths(field: str, value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise _fail(field, "must be a list of paths, not one string")
    return tuple(check_container_path(field, v) for v in value)


def _masked(value: Iterable[str]) -> tuple[str, ...]:
    return _paths("masked_paths", value)


def _readonly(value: Iterable[str]) -> tuple[str, ...]:
    return _paths("readonly_paths", value)


def _seccomp_profile(value: Any) -> Any:
    if value is None or value == "default":
        return value
    from pycontainers.security._seccomp_profile import SeccompProfile

    if isinstance(value, SeccompProfile):
        return value
    if isinstance(value, (str, bytes, Mapping)):
        return SeccompProfile.from_json(value)
    raise _fail(
        "seccomp", f"expected 'default', None, JSON text or a dict, got {type(value).__name__}"
    )


@attrs.frozen
class SecurityOptions:
    """Docker's defaults unless told otherwise: its 14 capabilities, its seccomp profile,
    masked and read-only /proc and /sys paths.

    ``seccomp`` is ``"default"``, ``None`` (no filter), or a profile in Docker's JSON format
    (a ``str`` of JSON or a parsed ``dict``). ``privileged`` gives every capability, no
    seccomp filter and no masked or read-only paths.
    """

    cap_add: tuple[str, ...] = attrs.field(default=(), converter=_cap_add)
    cap_drop: tuple[str, ...] = attrs.field(default=(), converter=_cap_drop)
    privileged: bool = False
    seccomp: Any = attrs.field(default="default", converter=_seccomp_profile)
    """``"default"``, ``None``, or a ``SeccompProfile`` (JSON text and dicts are parsed)."""
    masked_paths: tuple[str, ...] = attrs.field(default=DEFAULT_MASKED_PATHS, converter=_masked)
    readonly_paths: tuple[str, ...] = attrs.field(
        default=DEFAULT_READONLY_PATHS, converter=_readonly
    )
    cap_effective: tuple[str, ...] | None = attrs.field(
        default=None, converter=_cap_effective, metadata={"omit_default": True}
    )
    """OCI's ``process.capabilities.effective``; None: the permitted set."""
    cap_permitted: tuple[str, ...] | None = attrs.field(
        default=None, converter=_cap_permitted, metadata={"omit_default": True}
    )
    """OCI's ``permitted`` set; None: the whole (bounding) set, :meth:`capabilities`."""
    cap_inheritable: tuple[str, ...] = attrs.field(
        default=(), converter=_cap_inheritable, metadata={"omit_default": True}
    )
    """OCI's ``inheritable`` set (default empty: CVE-2022-29162; only an OCI config sets it)."""
    cap_ambient: tuple[str, ...] = attrs.field(
        default=(), converter=_cap_ambient, metadata={"omit_default": True}
    )
    """OCI's ``ambient`` set (default empty); each must be permitted and inheritable."""

    def __attrs_post_init__(self) -> None:
        if self.cap_sets() == (None, None, (), ()):
            return  # Docker's model: one set
        if self.privileged:
            raise _fail("cap_effective", "privileged gives every capability: no per-set lists")
        bounding = self.capabilities()
        permitted = bounding if self.cap_permitted is None else frozenset(self.cap_permitted)
        inheritable = frozenset(self.cap_inheritable)
        for name, caps, within, what in (
            ("cap_effective", self.cap_effective, permitted, "the permitted set"),
            ("cap_permitted", self.cap_permitted, bounding, "the bounding set"),
            ("cap_inheritable", self.cap_inheritable, bounding, "the bounding set"),
            ("cap_ambient", self.cap_ambient, permitted & inheritable,
             "both the permitted and the inheritable set"),
        ):  # fmt: skip
            outside = sorted(set(caps or ()) - within)  # None: within by definition
            if outside:
                raise _fail(name, f"{', '.join(outside)} not in {what}")

    def capabilities(self) -> frozenset[str]:
        """The container's capability set (names): its bounding set."""
        from pycontainers.security.capabilities import resolve

        return resolve(self.cap_add, self.cap_drop, self.privileged)

    def cap_sets(
        self,
    ) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None, tuple[str, ...], tuple[str, ...]]:
        """The (effective, permitted, inheritable, ambient) lists as given."""
        return (self.cap_effective, self.cap_permitted, self.cap_inheritable, self.cap_ambient)


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
