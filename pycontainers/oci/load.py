"""runtime-spec ``config.json`` -> ``ContainerSpec``, validated; errors name the JSON path.

A config we wrote (``io.pycontainers.version``) is read back exactly: OCI fields for what
OCI models, annotations for our extras, and every field derived from an annotation must
equal what the annotation gives (else the file was edited by hand: refused). A config any
other tool wrote (``runc spec``, podman) is mapped field by field; what we do not model is
kept in :attr:`OciConfig.extra` and written back by :func:`~pycontainers.oci.config.to_config`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import attrs

from pycontainers.errors import OciConfigError as OciConfigError
from pycontainers.errors import SpecError
from pycontainers.oci._codec import decode
from pycontainers.oci.config import (
    ANNOTATED,
    DIGEST,
    NS_TO_OCI,
    PREFIX,
    default_mounts,
    digest,
    to_config,
)
from pycontainers.spec import (
    ContainerSpec,
    DeviceNode,
    IdMapping,
    Mount,
    Process,
    SecurityOptions,
    User,
)

_OCI_TO_NS = {v: k for k, v in NS_TO_OCI.items()}
DEFAULT_DESTINATIONS = frozenset(
    {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}
)
"""Mounts every container of ours gets from the rootfs plan; a foreign config's entries for
them are kept as extra fields, not added twice."""


@attrs.frozen
class OciConfig:
    """A loaded config: the spec, the launch options we keep, and the fields we do not model."""

    spec: ContainerSpec
    name: str = ""
    detach: Any = None
    extra: dict[str, Any] = attrs.field(factory=dict)


def from_config(doc: Any, *, bundle: str | None = None, require_digest: bool = False) -> OciConfig:
    """Read a parsed ``config.json``. ``bundle`` resolves a relative ``root.path``;
    ``require_digest`` (a stored config) refuses a file without a matching digest.
    """
    if not isinstance(doc, dict):
        raise OciConfigError("$", f"expected a JSON object, got {type(doc).__name__}")
    notes = _get(doc, "annotations", dict, {})
    for key, value in notes.items():
        if not isinstance(value, str):
            raise OciConfigError(f"annotations.{key}", "annotation values are strings")
    if (require_digest or DIGEST in notes) and notes.get(DIGEST) != digest(doc):
        raise OciConfigError(
            f"annotations.{DIGEST}",
            "the file does not match its digest (truncated, or edited by hand)",
        )
    if notes.get(PREFIX + "version") is not None:
        return _ours(doc, notes)
    if require_digest:
        raise OciConfigError(f"annotations.{PREFIX}version", "missing: not a config we wrote")
    return _foreign(doc, bundle)


def read_config(path: str, *, require_digest: bool = False) -> OciConfig:
    """Load the ``config.json`` at ``path`` (its directory is the bundle)."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise OciConfigError("$", f"{path} is not valid JSON: {exc}", path=path) from None
    try:
        return from_config(doc, bundle=os.path.dirname(path), require_digest=require_digest)
    except OciConfigError as exc:
        exc.path = exc.path or path  # from_config knows the JSON path; this is the file
        raise


def _get(obj: dict[str, Any], key: str, kind: type, default: Any, path: str = "") -> Any:
    where = f"{path}.{key}" if path else key
    if key not in obj or obj[key] is None:
        return default
    value = obj[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise OciConfigError(where, f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _annotation(notes: dict[str, str], field: str) -> Any:
    key = PREFIX + field
    if key not in notes:
        raise OciConfigError(f"annotations.{key}", "missing")
    try:
        return decode(json.loads(notes[key]), f"annotations.{key}")
    except ValueError as exc:
        if isinstance(exc, SpecError):
            raise OciConfigError(exc.field, str(exc).split(": ", 1)[-1]) from None
        raise OciConfigError(f"annotations.{key}", f"not valid JSON: {exc}") from None


def _process_fields(doc: dict[str, Any]) -> dict[str, Any]:
    proc = _get(doc, "process", dict, None)
    if proc is None:
        raise OciConfigError("process", "missing")
    user = _get(proc, "user", dict, {}, "process")
    env = []
    for i, entry in enumerate(_get(proc, "env", list, [], "process")):
        if not isinstance(entry, str) or "=" not in entry:
            raise OciConfigError(f"process.env[{i}]", f"expected NAME=value, got {entry!r}")
        env.append(entry)
    rlimits: dict[str, tuple[int, int]] = {}
    for i, rl in enumerate(_get(proc, "rlimits", list, [], "process")):
        where = f"process.rlimits[{i}]"
        if not isinstance(rl, dict):
            raise OciConfigError(where, "expected an object")
        kind = _get(rl, "type", str, "", where)
        rlimits[kind.lower().removeprefix("rlimit_")] = (
            _get(rl, "soft", int, 0, where),
            _get(rl, "hard", int, 0, where),
        )
    return {
        "args": _get(proc, "args", list, [], "process"),
        "env": env,
        "cwd": _get(proc, "cwd", str, "/", "process"),
        "umask": _get(user, "umask", int, 0o022, "process.user"),
        "rlimits": rlimits,
        "no_new_privs": _get(proc, "noNewPrivileges", bool, False, "process"),
        "uid": _get(user, "uid", int, 0, "process.user"),
        "gid": _get(user, "gid", int, 0, "process.user"),
        "additional_gids": tuple(_get(user, "additionalGids", list, [], "process.user")),
    }


def _namespaces(
    doc: dict[str, Any],
) -> tuple[frozenset[str], str | None, tuple[tuple[str, str], ...]]:
    from pycontainers.spec import JOINABLE

    kinds: set[str] = set()
    netns = None
    joins: list[tuple[str, str]] = []
    linux = _get(doc, "linux", dict, {})
    for i, ns in enumerate(_get(linux, "namespaces", list, [], "linux")):
        where = f"linux.namespaces[{i}]"
        if not isinstance(ns, dict):
            raise OciConfigError(where, "expected an object")
        oci = _get(ns, "type", str, "", where)
        if oci not in _OCI_TO_NS:
            raise OciConfigError(f"{where}.type", f"unknown namespace type {oci!r}")
        path = _get(ns, "path", str, None, where)
        if path is None:
            kinds.add(_OCI_TO_NS[oci])
        elif oci == "network":
            netns = path
        elif _OCI_TO_NS[oci] in JOINABLE:
            joins.append((_OCI_TO_NS[oci], path))
        else:
            raise OciConfigError(f"{where}.path", f"joining a {oci} namespace is not supported")
    return frozenset(kinds), netns, tuple(joins)


def _mappings(doc: dict[str, Any], key: str, base: str = "linux") -> tuple[IdMapping, ...]:
    linux = _get(doc, "linux", dict, {}) if base == "linux" else doc
    out = []
    for i, m in enumerate(_get(linux, key, list, [], base)):
        where = f"{base}.{key}[{i}]"
        if not isinstance(m, dict):
            raise OciConfigError(where, "expected an object")
        out.append(
            IdMapping(
                _get(m, "containerID", int, 0, where),
                _get(m, "hostID", int, 0, where),
                _get(m, "size", int, 0, where),
            )
        )
    return tuple(out)


def _build(where: str, make: Any) -> Any:
    """Run a spec constructor; its SpecError becomes an OciConfigError at ``where``."""
    try:
        return make()
    except SpecError as exc:
        raise OciConfigError(where, str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise OciConfigError(where, str(exc)) from None


def _ours(doc: dict[str, Any], notes: dict[str, str]) -> OciConfig:
    p = _process_fields(doc)
    if notes.get(PREFIX + "default_path") == "true":  # written by environ(), not the spec
        p["env"] = [e for e in p["env"] if not e.startswith("PATH=")]
    kinds, netns, joins = _namespaces(doc)
    linux = _get(doc, "linux", dict, {})
    extras = {field: _annotation(notes, field) for field in ANNOTATED}
    if PREFIX + "devices" in notes:  # newer than ANNOTATED: present only when used
        extras["devices"] = _annotation(notes, "devices")
    detach = _annotation(notes, "detach")
    sysctls = _sysctl(linux)
    process = _build("process", lambda: Process(
        args=p["args"], env=p["env"], cwd=p["cwd"], user=extras.pop("user"),
        rlimits=p["rlimits"], umask=p["umask"], no_new_privs=p["no_new_privs"],
    ))  # fmt: skip
    spec = _build("$", lambda: ContainerSpec(
        process=process,
        hostname=_get(doc, "hostname", str, None),
        domainname=_get(doc, "domainname", str, None),
        namespaces=kinds, netns=netns, join=joins,
        uid_mappings=_mappings(doc, "uidMappings"), gid_mappings=_mappings(doc, "gidMappings"),
        readonly_rootfs=_get(_get(doc, "root", dict, {}), "readonly", bool, False, "root"),
        rootfs_propagation=_get(linux, "rootfsPropagation", str, "rprivate", "linux"),
        sysctls=sysctls, device_nodes=_device_nodes(linux), **extras,
    ))  # fmt: skip
    name = notes.get(PREFIX + "name", "")
    # every field we derive must be what the annotations give: else it was edited by hand
    derived = to_config(spec, name=name, detach=detach)
    derived["annotations"] = {
        k: v for k, v in derived["annotations"].items() if k != DIGEST and k in notes
    }
    # the default filesystems may be spelled by another tool: kept as they are, not checked
    mounts = _get(doc, "mounts", list, [])
    head = [m for m in mounts if isinstance(m, dict) and _is_default(m)]
    ours = dict(doc, mounts=mounts[len(head) :])
    derived["mounts"] = derived["mounts"][len(default_mounts(spec)) :]
    _compare(derived, ours, "")
    extra = _extra(doc, derived)
    if head != default_mounts(spec):
        extra["mounts"] = head
    extra.get("annotations", {}).pop(DIGEST, None)
    if extra.get("annotations") == {}:
        del extra["annotations"]
    return OciConfig(spec, name, detach, extra)


def _is_default(m: dict[str, Any]) -> bool:
    dest = m.get("destination")
    return (
        isinstance(dest, str)
        and os.path.normpath(dest) in DEFAULT_DESTINATIONS
        and not _shared_shm(m, dest)
    )


def _compare(want: Any, have: Any, path: str) -> None:
    if isinstance(want, dict) and isinstance(have, dict):
        for key, value in want.items():
            where = f"{path}.{key}" if path else key
            if key not in have:
                raise OciConfigError(where, "missing (the file was edited by hand?)")
            _compare(value, have[key], where)
        return
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        for i, (a, b) in enumerate(zip(want, have, strict=True)):
            _compare(a, b, f"{path}[{i}]")
        return
    if want != have or type(want) is not type(have):
        raise OciConfigError(
            path, f"{have!r} does not match the io.pycontainers annotations ({want!r})"
        )


def _extra(doc: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    """The parts of ``doc`` that ``known`` does not have (objects compared key by key)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in known:
            out[key] = value
        elif isinstance(value, dict) and isinstance(known[key], dict):
            rest = _extra(value, known[key])
            if rest:
                out[key] = rest
    return out


def _foreign(doc: dict[str, Any], bundle: str | None) -> OciConfig:
    p = _process_fields(doc)
    kinds, netns, joins = _namespaces(doc)
    linux = _get(doc, "linux", dict, {})
    root = _get(doc, "root", dict, None)
    if root is None:
        raise OciConfigError("root", "missing")
    path = _get(root, "path", str, "", "root")
    if not path:
        raise OciConfigError("root.path", "missing")
    if not os.path.isabs(path):
        path = os.path.join(bundle or os.getcwd(), path)
    caps = _capability_sets(_get(doc, "process", dict, {}))
    if p["uid"] == 0:
        caps["ambient"] = _raisable(caps)
    seccomp_doc = _get(linux, "seccomp", dict, None, "linux")
    seccomp = _seccomp(seccomp_doc) if seccomp_doc is not None else None
    security = _security(caps, lambda: SecurityOptions(
        cap_drop=("ALL",), cap_add=caps["bounding"], seccomp=seccomp,
        masked_paths=tuple(_get(linux, "maskedPaths", list, [], "linux")),
        readonly_paths=tuple(_get(linux, "readonlyPaths", list, [], "linux")),
        cap_effective=caps["effective"], cap_permitted=caps["permitted"],
        cap_inheritable=caps["inheritable"], cap_ambient=caps["ambient"],
    ))  # fmt: skip
    if seccomp is not None:
        _check_seccomp(seccomp, security.capabilities())
    sysctls = _sysctl(linux)
    mounts, kept = [], []
    for i, m in enumerate(_get(doc, "mounts", list, [], "")):
        where = f"mounts[{i}]"
        if not isinstance(m, dict):
            raise OciConfigError(where, "expected an object")
        dest = _get(m, "destination", str, "", where)
        if os.path.normpath(dest) in DEFAULT_DESTINATIONS and not _shared_shm(m, dest):
            kept.append(m)
            continue
        mounts.append(_build(where, lambda m=m, dest=dest: _mount(m, dest)))
    user = User(uid=p["uid"], gid=p["gid"], additional_gids=p["additional_gids"])
    process = _build("process", lambda: Process(
        args=p["args"], env=p["env"], cwd=p["cwd"], user=user, rlimits=p["rlimits"],
        umask=p["umask"], no_new_privs=p["no_new_privs"],
    ))  # fmt: skip
    spec = _build("$", lambda: ContainerSpec(
        rootfs=os.path.realpath(path), process=process,
        hostname=_get(doc, "hostname", str, None), domainname=_get(doc, "domainname", str, None),
        namespaces=kinds, netns=netns, join=joins, mounts=tuple(mounts), security=security,
        uid_mappings=_mappings(doc, "uidMappings"), gid_mappings=_mappings(doc, "gidMappings"),
        readonly_rootfs=_get(root, "readonly", bool, False, "root"),
        rootfs_propagation=_get(linux, "rootfsPropagation", str, "rprivate", "linux") or "rprivate",
        sysctls=sysctls, device_nodes=_device_nodes(linux),
    ))  # fmt: skip
    consumed = {
        "ociVersion": None, "root": {"path": None, "readonly": None}, "hostname": None,
        "domainname": None, "mounts": None,
        "process": {"args": None, "env": None, "cwd": None, "user": None, "rlimits": None,
                    "noNewPrivileges": None, "capabilities": None},
        "linux": {"namespaces": None, "uidMappings": None, "gidMappings": None,
                  "rootfsPropagation": None, "maskedPaths": None, "readonlyPaths": None,
                  "seccomp": None, "sysctl": None, "devices": None},
    }  # fmt: skip
    extra = _extra(doc, consumed)
    if kept:
        extra["mounts"] = kept
    return OciConfig(spec, "", None, extra)


_CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")
_CAP_FIELDS = {f"cap_{kind}": kind for kind in _CAP_SETS[1:]} | {"cap_add": "bounding"}


def process_capabilities(
    process: dict[str, Any], uid: int, base: SecurityOptions
) -> SecurityOptions:
    """``base`` with the capability sets of an OCI process object (``process.capabilities``
    of a config, or of ``exec --process``) in place of its own: checked as ``create`` checks
    a config's (errors name ``process.capabilities.<set>``); for uid 0 the ambient set is
    what the kernel can raise. Nothing else of ``base`` changes.
    """
    caps = _capability_sets(process)
    if uid == 0:
        caps["ambient"] = _raisable(caps)
    return _security(caps, lambda: attrs.evolve(
        base, cap_drop=("ALL",), cap_add=caps["bounding"], cap_effective=caps["effective"],
        cap_permitted=caps["permitted"], cap_inheritable=caps["inheritable"],
        cap_ambient=caps["ambient"],
    ))  # fmt: skip


def _capability_sets(process: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """``process.capabilities``: each of the five sets (a missing one is empty, as the
    runtime-spec says), checked to be lists of names.
    """
    caps = _get(process, "capabilities", dict, {}, "process")
    out = {}
    for kind in _CAP_SETS:
        where = f"process.capabilities.{kind}"
        names = _get(caps, kind, list, [], "process.capabilities")
        for i, name in enumerate(names):
            if not isinstance(name, str):
                raise OciConfigError(f"{where}[{i}]", f"expected a capability name, got {name!r}")
        out[kind] = tuple(names)
    unknown = sorted(set(caps) - set(_CAP_SETS))
    if unknown:
        raise OciConfigError(f"process.capabilities.{unknown[0]}", "unknown capability set")
    return out


def _raisable(caps: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """For uid 0, the ambient capabilities the kernel can raise (those also permitted and
    inheritable; ``runc spec`` lists ambient ones without an inheritable set). The others
    change nothing for root, as runc finds when it skips them: execve gives uid 0 the whole
    bounding set, and a switch to another uid clears the ambient set.
    """
    from pycontainers.security.capabilities import normalize

    def names(kind: str) -> set[str]:
        return {normalize(f"cap_{kind}", c) for c in caps[kind]}

    try:
        keep = names("permitted") & names("inheritable")
        return tuple(c for c in caps["ambient"] if normalize("cap_ambient", c) in keep)
    except SpecError as exc:  # an unknown name: refused where the set is built
        kind = exc.field.removeprefix("cap_")
        raise OciConfigError(f"process.capabilities.{kind}", str(exc).split(": ", 1)[-1]) from None


def _security(caps: dict[str, tuple[str, ...]], make: Any) -> SecurityOptions:
    """Build the security options; an error about a capability set names its JSON path."""
    try:
        security: SecurityOptions = make()
    except SpecError as exc:
        kind = _CAP_FIELDS.get(exc.field)
        where = f"process.capabilities.{kind}" if kind else "process.capabilities"
        raise OciConfigError(where, str(exc).removeprefix(f"{exc.field}: ")) from None
    return security


def _device_nodes(linux: dict[str, Any]) -> tuple[DeviceNode, ...]:
    """``linux.devices``: the nodes made in the container's /dev (a missing ``fileMode``,
    ``uid`` or ``gid`` is 0666, 0 and 0, as runc has them).
    """
    out = []
    for i, dev in enumerate(_get(linux, "devices", list, [], "linux")):
        where = f"linux.devices[{i}]"
        if not isinstance(dev, dict):
            raise OciConfigError(where, "expected an object")
        fields: dict[str, Any] = {"path": dev.get("path"), "type": dev.get("type")}
        for key, name in (("major", "major"), ("minor", "minor"), ("fileMode", "file_mode"),
                          ("uid", "uid"), ("gid", "gid")):  # fmt: skip
            if dev.get(key) is not None:
                fields[name] = dev[key]
        mode = fields.get("file_mode")
        if isinstance(mode, int) and not isinstance(mode, bool) and mode >= 0:
            fields["file_mode"] = mode & ~0o170000  # a file type there is the node's: dropped,
            # as runc drops it (the type is "type")
        try:
            out.append(DeviceNode(**fields))
        except SpecError as exc:
            key = {"file_mode": "fileMode"}.get(exc.field.split(".")[-1], exc.field.split(".")[-1])
            raise OciConfigError(f"{where}.{key}", str(exc).split(": ", 1)[-1]) from None
    return tuple(out)


def _sysctl(linux: dict[str, Any]) -> dict[str, str]:
    """``linux.sysctl``: names to string values."""
    out = _get(linux, "sysctl", dict, {}, "linux")
    for key, value in out.items():
        if not isinstance(value, str):
            raise OciConfigError(f"linux.sysctl.{key}", f"expected a string, got {value!r}")
    return dict(out)


def _shared_shm(m: dict[str, Any], dest: str) -> bool:
    """A bind at /dev/shm: a shm the caller made (podman's per-container one with its
    ``--shm-size``, a pod's shared one), mounted over ours, not dropped as a default.
    """
    options = m.get("options") if isinstance(m.get("options"), list) else []
    is_bind = m.get("type") == "bind" or bool({"bind", "rbind"} & set(options or []))
    return os.path.normpath(dest) == "/dev/shm" and is_bind


def _seccomp(doc: dict[str, Any]) -> Any:
    """``linux.seccomp`` parsed; errors name the JSON path."""
    from pycontainers.security.seccomp import SeccompProfile

    # where the notify fd goes is the runtime's business (ociruntime.bundle), not the filter's
    doc = {k: v for k, v in doc.items() if k not in ("listenerPath", "listenerMetadata")}
    try:
        return SeccompProfile.from_json(doc)
    except SpecError as exc:
        raise _seccomp_error(exc) from None


def _check_seccomp(profile: Any, capabilities: frozenset[str]) -> None:
    """Refuse rules that disagree (see ``check_profile``) here, not at the first start."""
    from pycontainers.security.seccomp import check_profile

    try:
        check_profile(profile, capabilities)
    except SpecError as exc:
        raise _seccomp_error(exc) from None


def _seccomp_error(exc: SpecError) -> OciConfigError:
    detail = str(exc).removeprefix(f"{exc.field}: ")
    match = re.match(_SECCOMP_PATH, detail, re.S)
    if match is None:
        return OciConfigError("linux.seccomp", detail)
    return OciConfigError(f"linux.seccomp.{match[1]}", match[2])


# compiled on first use (re's cache): only a refused profile needs it
_SECCOMP_PATH = r"([A-Za-z]\w*(?:\[\d+\])?(?:\.[A-Za-z]\w*(?:\[\d+\])?)*): (.*)"


def _mount(m: dict[str, Any], dest: str) -> Mount:
    where = "mount"
    options = [o for o in _get(m, "options", list, [], where) if isinstance(o, str)]
    kind = _get(m, "type", str, "", where) or "bind"
    if {"bind", "rbind"} & set(options):
        kind = "bind"
    read_only = "ro" in options
    return Mount(
        dest,
        _get(m, "source", str, None, where),
        type=kind,
        options=tuple(o for o in options if o != "ro"),
        read_only=read_only,
        uid_mappings=_mappings(m, "uidMappings", where),
        gid_mappings=_mappings(m, "gidMappings", where),
    )


__all__ = [
    "DEFAULT_DESTINATIONS",
    "OciConfig",
    "OciConfigError",
    "from_config",
    "process_capabilities",
    "read_config",
]
