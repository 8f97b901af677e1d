"""A bundle's ``config.json`` as the runtime runs it: the spec, plus what only the runtime
uses (terminal, hooks, cgroups path, OOM score, annotations).

:func:`pycontainers.oci.load.read_config` maps what the spec models; here the fields a
runtime must act on are read from what it keeps aside (``extra``), each either applied or
refused with an :class:`~pycontainers.errors.OciConfigError` naming its JSON path — never
silently dropped.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

import attrs

from pycontainers.errors import OciConfigError
from pycontainers.oci.resources import oci_resources
from pycontainers.spec import ContainerSpec

DEFAULT_CGROUP_PARENT = "pycontainers-runtime"


@attrs.frozen
class Bundle:
    """What ``create`` needs from a bundle."""

    path: str
    spec: ContainerSpec
    cgroup_name: str
    terminal: bool
    console_size: tuple[int, int] | None
    oom_score_adj: int | None
    annotations: dict[str, str]
    hooks: dict[str, list[dict[str, Any]]]
    timens_offsets: str | None = None
    """``linux.timeOffsets`` as the text of ``/proc/PID/timens_offsets``."""
    seccomp_listener: tuple[str, str] | None = None
    """``linux.seccomp.listenerPath`` and ``listenerMetadata``: where the notify fd goes."""


def load_bundle(bundle: str, container_id: str) -> Bundle:
    """Read and check ``<bundle>/config.json`` (errors name the JSON path)."""
    from pycontainers.oci.load import read_config

    bundle = os.path.abspath(bundle)
    path = os.path.join(bundle, "config.json")
    try:
        loaded = read_config(path)
    except FileNotFoundError:
        raise OciConfigError("$", f"{path} does not exist", path=path) from None
    except IsADirectoryError:
        raise OciConfigError("$", f"{path} is a directory", path=path) from None
    with open(path, "rb") as f:
        doc = json.loads(f.read())
    _check_root(doc, bundle)
    extra = loaded.extra
    linux = _obj(extra, "linux", "linux")
    process = _obj(extra, "process", "process")
    _refuse_unsupported(doc, process, linux)
    spec = loaded.spec
    name, parent = _cgroup_path(linux.get("cgroupsPath"), container_id)
    resources = oci_resources(linux.get("resources"), "linux.resources")
    spec = attrs.evolve(spec, resources=resources, cgroup_parent=parent)
    _check_host_nodes(spec)
    terminal = process.get("terminal", False)
    if not isinstance(terminal, bool):
        raise OciConfigError("process.terminal", "expected a boolean")
    size = process.get("consoleSize")
    console_size = None
    if size is not None:
        h, w = (
            _int(size, "height", "process.consoleSize"),
            _int(size, "width", "process.consoleSize"),
        )
        if h > 0xFFFF or w > 0xFFFF:
            raise OciConfigError("process.consoleSize", f"{h}x{w} is larger than 65535x65535")
        console_size = (h, w)
    oom = process.get("oomScoreAdj")
    if oom is not None and (
        isinstance(oom, bool) or not isinstance(oom, int) or not -1000 <= oom <= 1000
    ):
        raise OciConfigError(
            "process.oomScoreAdj", f"expected an integer in -1000..1000, got {oom!r}"
        )
    notes = doc.get("annotations") or {}
    hooks = _hooks(doc.get("hooks"))
    offsets = _time_offsets(linux.get("timeOffsets"), spec)
    listener = _listener((doc.get("linux") or {}).get("seccomp"), spec)
    return Bundle(bundle, spec, name, terminal, console_size, oom, dict(notes), hooks, offsets,
                  listener)  # fmt: skip


def _listener(seccomp: Any, spec: ContainerSpec) -> tuple[str, str] | None:
    """``linux.seccomp.listenerPath`` (an absolute unix socket path) and its metadata;
    SCMP_ACT_NOTIFY without a listener is refused (its calls could only fail).
    """
    if not isinstance(seccomp, dict):
        return None
    path, meta = seccomp.get("listenerPath"), seccomp.get("listenerMetadata", "")
    notify = seccomp.get("defaultAction") == "SCMP_ACT_NOTIFY" or any(
        isinstance(rule, dict) and rule.get("action") == "SCMP_ACT_NOTIFY"
        for rule in seccomp.get("syscalls") or []
    )
    if path in (None, ""):
        if notify:
            raise OciConfigError(
                "linux.seccomp.listenerPath",
                "SCMP_ACT_NOTIFY needs a listener (the unix socket the notify fd is sent to)",
            )
        if meta:
            raise OciConfigError("linux.seccomp.listenerMetadata", "given without listenerPath")
        return None
    if not isinstance(path, str) or not os.path.isabs(path):
        raise OciConfigError(
            "linux.seccomp.listenerPath", f"expected an absolute path, got {path!r}"
        )
    if not isinstance(meta, str):
        raise OciConfigError("linux.seccomp.listenerMetadata", "expected a string")
    if spec.security.privileged or spec.security.seccomp is None:
        raise OciConfigError("linux.seccomp.listenerPath", "there is no seccomp filter to notify")
    return path, meta


_CLOCKS = ("monotonic", "boottime")


def _time_offsets(value: Any, spec: ContainerSpec) -> str | None:
    """``linux.timeOffsets``: per clock ``secs`` and ``nanosecs``, for a new time namespace."""
    if value in (None, {}):
        return None
    if not isinstance(value, dict):
        raise OciConfigError("linux.timeOffsets", "expected an object")
    if "time" not in spec.namespaces:
        raise OciConfigError(
            "linux.timeOffsets",
            "offsets need a new time namespace (a 'time' entry without a path)",
        )
    lines = []
    for clock, offset in value.items():
        where = f"linux.timeOffsets.{clock}"
        if clock not in _CLOCKS:
            raise OciConfigError(where, f"unknown clock (one of {', '.join(_CLOCKS)})")
        if not isinstance(offset, dict) or set(offset) - {"secs", "nanosecs"}:
            raise OciConfigError(where, "expected an object with secs and nanosecs")
        secs, nanos = offset.get("secs", 0), offset.get("nanosecs", 0)
        if isinstance(secs, bool) or not isinstance(secs, int):
            raise OciConfigError(f"{where}.secs", f"expected an integer, got {secs!r}")
        if isinstance(nanos, bool) or not isinstance(nanos, int) or not 0 <= nanos < 10**9:
            raise OciConfigError(
                f"{where}.nanosecs", f"expected an integer in 0..999999999, got {nanos!r}"
            )
        lines.append(f"{clock} {secs} {nanos}\n")
    return "".join(lines) or None


def _obj(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise OciConfigError(where, f"expected an object, got {type(value).__name__}")
    return value


def _int(doc: Any, key: str, where: str) -> int:
    value = doc.get(key) if isinstance(doc, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OciConfigError(f"{where}.{key}", f"expected a non-negative integer, got {value!r}")
    return value


def _check_root(doc: dict[str, Any], bundle: str) -> None:
    """A relative ``root.path`` must stay inside the bundle (no symlink out of it)."""
    root = doc.get("root")
    path = root.get("path") if isinstance(root, dict) else None
    if not isinstance(path, str) or os.path.isabs(path):
        return  # absolute: the caller named the directory itself (podman --rootfs)
    real = os.path.realpath(os.path.join(bundle, path))
    if os.path.commonpath([real, os.path.realpath(bundle)]) != os.path.realpath(bundle):
        raise OciConfigError(
            "root.path",
            f"{path!r} resolves to {real}, outside the bundle {bundle} (through a symlink or "
            "'..'); give an absolute path to use a rootfs elsewhere",
        )
    if not os.path.isdir(real):
        raise OciConfigError("root.path", f"{real} is not a directory")


_REFUSED = {
    "process.apparmorProfile": "AppArmor profiles are not supported by pycontainers-runtime",
    "process.selinuxLabel": "SELinux labels are not supported by pycontainers-runtime",
    "process.ioPriority": "I/O priorities are not supported yet",
    "process.scheduler": "scheduler policies are not supported yet",
    "process.execCPUAffinity": "exec CPU affinity is not supported yet",
    "linux.mountLabel": "SELinux mount labels are not supported by pycontainers-runtime",
    "linux.intelRdt": "Intel RDT is not supported by pycontainers-runtime",
    "linux.memoryPolicy": "NUMA memory policies are not supported yet",
    "linux.netDevices": "moving network devices is not supported yet",
}


def _refuse_unsupported(
    doc: dict[str, Any], process: dict[str, Any], linux: dict[str, Any]
) -> None:
    """Fields we do not apply: refused when set to anything but their empty value."""
    for where, why in _REFUSED.items():
        section, key = where.split(".")
        value = (process if section == "process" else linux).get(key)
        if value not in (None, "", [], {}):
            raise OciConfigError(where, why)
    persona = linux.get("personality")
    if persona not in (None, {}) and (
        not isinstance(persona, dict) or persona.get("domain") != "LINUX" or persona.get("flags")
    ):
        raise OciConfigError(
            "linux.personality", "only the LINUX domain without flags is supported"
        )


def _check_host_nodes(spec: ContainerSpec) -> None:
    """``linux.devices`` in a user namespace: no mknod there, so the host's node at the same
    path is bound; it must be that device (checked again in C, where it is bound). Its mode
    and owner stay the host's.
    """
    if "user" not in spec.namespaces and "user" not in {kind for kind, _ in spec.join}:
        return
    for i, node in enumerate(spec.device_nodes):
        if node.type == "p":
            continue  # a fifo is made in a user namespace too
        where = f"linux.devices[{i}]"
        try:
            st = os.stat(node.path, follow_symlinks=False)
        except OSError as exc:
            raise OciConfigError(
                where,
                f"in a user namespace a device node cannot be made, and the host has no "
                f"{node.path} to bind ({exc.strerror})",
            ) from None
        if (stat.S_IFMT(st.st_mode), st.st_rdev) != (stat.S_IFMT(node.mode), node.rdev):
            raise OciConfigError(
                where,
                f"in a user namespace a device node cannot be made, and the host's "
                f"{node.path} is not the {node.type} {node.major}:{node.minor} device asked for",
            )


def _cgroup_path(value: Any, container_id: str) -> tuple[str, str]:
    """``linux.cgroupsPath`` as (group name, parent path); default: our parent / the id."""
    if value is None or value == "":
        return container_id, DEFAULT_CGROUP_PARENT
    if not isinstance(value, str):
        raise OciConfigError("linux.cgroupsPath", "expected a string")
    if ":" in value and not value.startswith("/"):
        raise OciConfigError(
            "linux.cgroupsPath",
            f"{value!r} is a systemd slice path; pycontainers-runtime manages cgroups "
            "directly (use the cgroupfs driver: podman --cgroup-manager cgroupfs, "
            "containerd SystemdCgroup = false)",
        )
    from pycontainers.cgroups._base import check_path
    from pycontainers.errors import SpecError

    try:
        rel = check_path("linux.cgroupsPath", value)
    except SpecError as exc:
        raise OciConfigError("linux.cgroupsPath", str(exc).split(": ", 1)[-1]) from None
    parent, _, name = rel.rpartition("/")
    return name, parent or "/"  # "/name": right under each hierarchy's root


HOOK_KINDS = (
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
)  # fmt: skip


def _hooks(value: Any) -> dict[str, list[dict[str, Any]]]:
    """``hooks``, checked: each a path, args, env, timeout."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OciConfigError("hooks", "expected an object")
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, hooks in value.items():
        if kind not in HOOK_KINDS:
            raise OciConfigError(
                f"hooks.{kind}", f"unknown hook kind (one of {', '.join(HOOK_KINDS)})"
            )
        if not isinstance(hooks, list):
            raise OciConfigError(f"hooks.{kind}", "expected a list")
        if hooks and kind in ("createContainer", "startContainer"):
            raise OciConfigError(
                f"hooks.{kind}",
                "hooks run inside the container's mount namespace are not supported yet "
                "(prestart, createRuntime, poststart and poststop are)",
            )
        for i, hook in enumerate(hooks):
            where = f"hooks.{kind}[{i}]"
            if not isinstance(hook, dict):
                raise OciConfigError(where, "expected an object")
            path = hook.get("path")
            if not isinstance(path, str) or not os.path.isabs(path):
                raise OciConfigError(f"{where}.path", f"expected an absolute path, got {path!r}")
            for key in ("args", "env"):
                items = hook.get(key, [])
                if not isinstance(items, list) or not all(isinstance(a, str) for a in items):
                    raise OciConfigError(f"{where}.{key}", "expected a list of strings")
            timeout = hook.get("timeout")
            if timeout is not None and (
                isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0
            ):
                raise OciConfigError(
                    f"{where}.timeout", f"expected a positive integer, got {timeout!r}"
                )
        out[kind] = list(hooks)
    return out


__all__ = ["DEFAULT_CGROUP_PARENT", "HOOK_KINDS", "Bundle", "load_bundle"]
