"""The spec keywords of :func:`pycontainers.run`, :meth:`Container.create` and ``make_spec``.

One :class:`SpecOptions` ``TypedDict`` lists them all (with the resource limits of
:class:`LimitOptions`), so ``mypy`` rejects a misspelled keyword in user code; callers
without a type checker get :func:`check_keywords`' :class:`SpecError` naming it. The
TypedDicts are built on first use (``SpecOptions`` lives in ``runtime/_specoptions.py``):
a start needs only their names, :data:`SPEC_KEYWORDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from pycontainers._lazy import lazy_exports
from pycontainers.errors import SpecError

if TYPE_CHECKING:
    from pycontainers.cgroups._limits import DeviceRules as DeviceRules
    from pycontainers.cgroups._limits import IoRates as IoRates
    from pycontainers.cgroups._limits import LimitOptions as LimitOptions
    from pycontainers.cgroups._limits import Size as Size
    from pycontainers.network.ports import PortMapping
    from pycontainers.network.tc import Bandwidth
    from pycontainers.runtime._specoptions import SpecOptions as SpecOptions

Ports: TypeAlias = "Mapping[Any, Any] | Iterable[Any] | str | int | PortMapping"
"""docker-py's ``{container_port: host_binding}`` or Docker's ``-p`` strings."""
BandwidthArg: TypeAlias = "Bandwidth | str | int | Mapping[str, str | int | None]"
"""``{"egress": "1mbit", "ingress": ...}``, one rate for both ways, or a Bandwidth."""


# The TypedDicts' names, written out: typing builds a TypedDict at ~20 us a key (it compiles
# each annotation), ~1.5 ms of every start that would build these two; they load on first
# use instead (see __getattr__ below). tests/unit/test_typed_entry_points.py keeps these
# sets equal to their keys.
LIMIT_KEYWORDS = frozenset({
    "blkio_weight", "cpu_period", "cpu_quota", "cpu_shares", "cpu_weight", "cpus",
    "cpuset_cpus", "cpuset_mems", "device_cgroup_rules", "device_read_bps", "device_read_iops",
    "device_write_bps", "device_write_iops", "devices_allow", "devices_deny", "hugetlb",
    "io_read_bps", "io_read_iops", "io_weight", "io_write_bps", "io_write_iops", "mem_limit",
    "mem_reservation", "memory", "memory_low", "memory_max", "memory_reservation",
    "memory_swap", "memswap_limit", "nano_cpus", "pids_limit", "pids_max",
    # the rarer ones
    "blkio_leaf_weight", "blkio_leaf_weight_device", "blkio_weight_device", "cpu_burst",
    "cpu_idle", "cpu_rt_period", "cpu_rt_runtime", "mem_swappiness",
    "memory_check_before_update", "memory_kernel_tcp", "memory_swappiness",
    "memory_use_hierarchy", "net_cls_classid", "net_prio_ifpriomap", "oom_kill_disable",
    "rdma", "unified",
})  # fmt: skip
"""The names of :class:`LimitOptions`."""
SPEC_KEYWORDS = LIMIT_KEYWORDS | frozenset({
    "aliases", "bandwidth", "cap_add", "cap_drop", "cgroup_parent", "cwd", "devices", "dns",
    "dns_options", "dns_search", "domainname", "entrypoint", "env", "extra_hosts",
    "gid_mappings", "group_add", "hostname", "image_root", "init", "ip", "mounts",
    "namespaces", "network", "no_new_privs", "ports", "privileged", "readonly_rootfs",
    "resources", "rlimits", "seccomp", "security", "shm_size", "stop_signal", "sysctls",
    "uid_mappings", "umask", "user", "userns", "volumes_from",
})  # fmt: skip
"""The names of :class:`SpecOptions` (the limits included)."""


_DOCKER_PY = {
    "environment": "env",
    "working_dir": "cwd",
    "ulimits": "rlimits",
    "dns_opt": "dns_options",
}
"""docker-py's spellings of our keywords, accepted where they mean the same thing."""


def _ulimits(value: Any) -> dict[str, tuple[int, int]]:
    """docker-py's ``ulimits`` (``[{"Name": "nofile", "Soft": 1024, "Hard": 2048}]`` or
    ``docker.types.Ulimit`` objects) as our ``rlimits``.
    """
    out: dict[str, tuple[int, int]] = {}

    def get(item: Any, key: str) -> Any:
        if isinstance(item, Mapping):
            return item.get(key, item.get(key.lower()))
        return getattr(item, key.lower(), None)

    for item in value or ():
        name, soft, hard = get(item, "Name"), get(item, "Soft"), get(item, "Hard")
        if not isinstance(name, str) or not isinstance(soft, int):
            raise SpecError(
                "ulimits", f"expected {{'Name': ..., 'Soft': n, 'Hard': n}}, got {item!r}"
            )
        out[name] = (soft, hard if isinstance(hard, int) else soft)
    return out


def docker_py_spellings(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with docker-py's names (``environment``, ``working_dir``, ``ulimits``)
    turned into ours; both spellings of one keyword is an error. ``devices`` is spelled
    alike: docker-py's ``"/dev/x:/dev/y:rwm"`` strings are ours.
    """
    out = dict(options)
    for theirs, ours in _DOCKER_PY.items():
        if theirs not in out:
            continue
        if ours in out:
            raise SpecError(theirs, f"give {ours}= or docker-py's {theirs}=, not both")
        value = out.pop(theirs)
        out[ours] = _ulimits(value) if theirs == "ulimits" else value
    return out


def restart_of(policy: Any) -> str:
    """docker-py's ``restart_policy`` (``{"Name": "on-failure", "MaximumRetryCount": 3}``)
    as our ``restart`` string (``"on-failure:3"``).
    """
    if not isinstance(policy, Mapping) or not isinstance(policy.get("Name", ""), str):
        raise SpecError("restart_policy", f"expected {{'Name': ..., ...}}, got {policy!r}")
    name = policy.get("Name") or "no"
    count = policy.get("MaximumRetryCount") or 0
    return f"{name}:{count}" if name == "on-failure" and count else name


_LOG_DRIVERS = ("json-file", "local", "none")


def log_config_of(value: Any) -> dict[str, Any]:
    """docker-py's ``log_config`` (``{"type": "json-file", "config": {"max-size": "10m"}}``,
    Docker's ``{"Type": ..., "Config": ...}`` or a ``docker.types.LogConfig``-like object
    with ``.type``/``.config``) as :meth:`Container.create`'s ``log_driver``,
    ``log_max_size`` and ``log_max_files``; an unknown type or option names its field.
    """
    from pycontainers.runtime.flagparse import parse_log_opts

    if isinstance(value, Mapping):
        unknown = set(value) - {"type", "config", "Type", "Config"}
        if unknown:
            raise SpecError(f"log_config.{sorted(unknown)[0]}", "known: type, config")
        kind, config = (
            value.get("type", value.get("Type")),
            value.get("config", value.get("Config")),
        )
    else:
        kind, config = getattr(value, "type", None), getattr(value, "config", None)
    if kind not in _LOG_DRIVERS:
        raise SpecError("log_config.type", f"one of {', '.join(_LOG_DRIVERS)}; got {kind!r}")
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise SpecError("log_config.config", f"expected a mapping of options, got {config!r}")
    for key in config:
        if key not in ("max-size", "max-file"):
            raise SpecError(
                f"log_config.config.{key}",
                f"not an option of the {kind} driver here (max-size, max-file)",
            )
        if kind == "none":
            raise SpecError(f"log_config.config.{key}", "the none driver keeps no log")
    out: dict[str, Any] = {"log_driver": kind}
    for key, option in config.items():
        try:
            out.update(parse_log_opts([f"{key}={option}"]))
        except SpecError as exc:
            raise SpecError(f"log_config.config.{key}", str(exc).split(": ", 1)[-1]) from None
    return out


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


# the keyword types load on first use (a start checks keywords by SPEC_KEYWORDS alone)
_TYPES = {
    "DeviceRules": "pycontainers.cgroups._limits",
    "IoRates": "pycontainers.cgroups._limits",
    "LimitOptions": "pycontainers.cgroups._limits",
    "Size": "pycontainers.cgroups._limits",
    "SpecOptions": "pycontainers.runtime._specoptions",
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _TYPES)

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
    "docker_py_spellings",
    "log_config_of",
    "restart_of",
]
