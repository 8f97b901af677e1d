"""``ContainerSpec`` -> runtime-spec ``config.json`` (v1.2): what OCI has a field for goes
there, our extras go to ``io.pycontainers.*`` annotations (JSON, see :mod:`._codec`).

Fields derived from an annotation (capabilities and seccomp from the security options,
``linux.resources`` from the limits, ``mounts`` from our mounts) are written so that any OCI
runtime sees the container as we run it; :func:`pycontainers.oci.load.from_config` checks
them against the annotations, so a hand edit of one without the other is refused.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pycontainers._digest import sha256_hex
from pycontainers.oci._codec import encode
from pycontainers.spec import ContainerSpec, Mount

OCI_VERSION = "1.2.0"
PREFIX = "io.pycontainers."
DIGEST = PREFIX + "digest"
VERSION = "1"
NS_TO_OCI = {
    "pid": "pid",
    "net": "network",
    "ipc": "ipc",
    "mnt": "mount",
    "uts": "uts",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}
ANNOTATED = (
    "rootfs", "user", "security", "resources", "mounts", "init", "image", "network",
    "stop_signal", "userns_rootfs", "cgroup_parent", "shm_size",
)  # fmt: skip
"""ContainerSpec fields kept in annotations (``io.pycontainers.<field>``)."""


def to_config(
    spec: ContainerSpec,
    *,
    name: str = "",
    detach: Any = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``config.json`` document of ``spec``.

    ``name`` and ``detach`` (:class:`~pycontainers.supervision.DetachOptions`) are the
    container's launch options, kept as annotations; ``extra`` holds fields we do not model
    (from :func:`~pycontainers.oci.load.from_config`), merged back so they survive a round
    trip.
    """
    proc = spec.process
    user = proc.user
    doc: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "root": {"path": root_path(spec), "readonly": spec.readonly_rootfs},
        "process": {
            "terminal": bool(getattr(detach, "tty", False)),
            "user": _user(spec),
            "args": list(proc.args),
            "env": [f"{k}={v}" for k, v in proc.environ().items()],
            "cwd": proc.cwd,
            "capabilities": capabilities(spec),
            "rlimits": [
                {"type": f"RLIMIT_{n.upper()}", "soft": s, "hard": h} for n, s, h in proc.rlimits
            ],
            "noNewPrivileges": proc.no_new_privs,
        },
        "mounts": [*default_mounts(spec), *(oci_mount(m) for m in spec.mounts)],
        "linux": _linux(spec),
        "annotations": {},
    }
    if spec.hostname is not None:
        doc["hostname"] = spec.hostname
    if spec.domainname is not None:
        doc["domainname"] = spec.domainname
    notes = doc["annotations"]
    notes[PREFIX + "version"] = VERSION
    for field in ANNOTATED:
        value = user if field == "user" else getattr(spec, field)
        notes[PREFIX + field] = json.dumps(encode(value), sort_keys=True)
    if spec.devices:  # written only when used: older readers never see it
        notes[PREFIX + "devices"] = json.dumps(encode(spec.devices), sort_keys=True)
    if "PATH" not in dict(proc.env):  # the process gets the default PATH, as in Docker
        notes[PREFIX + "default_path"] = "true"
    notes[PREFIX + "name"] = name
    notes[PREFIX + "detach"] = json.dumps(encode(detach), sort_keys=True)
    if spec.image:
        notes["org.opencontainers.image.ref.name"] = spec.image
    if spec.stop_signal:
        notes["org.opencontainers.image.stopSignal"] = spec.stop_signal
    if extra and "mounts" in extra:  # another tool's spelling of the default mounts: kept
        extra = dict(extra)
        doc["mounts"] = [*extra.pop("mounts"), *doc["mounts"][len(default_mounts(spec)) :]]
    return merge(doc, extra) if extra else doc


def root_path(spec: ContainerSpec) -> str:
    """``root.path``: the rootfs directory (``"rootfs"`` for the host image or an overlay,
    which are made at start; the annotations say which).
    """
    return spec.rootfs if isinstance(spec.rootfs, str) and spec.rootfs != "host" else "rootfs"


def _user(spec: ContainerSpec) -> dict[str, Any]:
    user = spec.process.user
    out: dict[str, Any] = {
        "uid": user.uid if user is not None and user.uid is not None else 0,
        "gid": user.gid if user is not None and user.gid is not None else 0,
        "umask": spec.process.umask,
    }
    if user is not None and user.additional_gids:
        out["additionalGids"] = list(user.additional_gids)
    return out


def capabilities(spec: ContainerSpec) -> dict[str, list[str]]:
    """``process.capabilities`` as the security options give them (Docker's model: one set,
    ambient and inheritable empty; or an OCI config's own sets).
    """
    names = sorted(spec.security.capabilities())
    effective, permitted, inheritable, ambient = spec.security.cap_sets()
    permitted_names = names if permitted is None else list(permitted)
    return {"bounding": names,
            "effective": permitted_names if effective is None else list(effective),
            "permitted": permitted_names, "inheritable": list(inheritable),
            "ambient": list(ambient)}  # fmt: skip


def seccomp(spec: ContainerSpec) -> dict[str, Any] | None:
    """``linux.seccomp``: the profile resolved for this container's capabilities and arch."""
    sec = spec.security
    if sec.privileged or sec.seccomp is None:
        return None
    from pycontainers.security import _seccomp_cache

    caps = sec.capabilities()
    cache_key = _seccomp_cache.key(_seccomp_cache.profile_source(sec.seccomp), caps)
    cached = _seccomp_cache.load_resolved(cache_key)
    if cached is not None:
        try:
            loaded = json.loads(cached)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            return loaded
    from pycontainers.security.seccomp import default_profile

    profile = default_profile() if sec.seccomp == "default" else sec.seccomp
    out: dict[str, Any] = profile.resolve(caps).to_dict()
    out.pop("comment", None)
    _seccomp_cache.store_resolved(cache_key, json.dumps(out, sort_keys=True).encode())
    return out


def default_mounts(spec: ContainerSpec) -> list[dict[str, Any]]:
    """The filesystems every container of ours gets from the rootfs plan (``/proc``,
    ``/dev``, ``/sys``...), spelled as ``runc spec`` spells them, for other runtimes.
    """
    quiet = ["nosuid", "noexec", "nodev"]
    out: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": [*quiet, "mode=1777", f"size={spec.shm_size // 1024}k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": quiet},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*quiet, "ro"]},
    ]  # fmt: skip
    if spec.resources is not None:
        out.append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                    "options": [*quiet, "relatime", "ro"]})  # fmt: skip
    return out


def oci_mount(m: Mount) -> dict[str, Any]:
    """One ``mounts`` entry for ``m`` (a volume shows as a bind of its name until resolved)."""
    options = list(m.options)
    if m.type in ("bind", "volume") and not {"bind", "rbind"} & set(options):
        options.insert(0, "rbind")
    if m.read_only and "ro" not in options:
        options.append("ro")
    out: dict[str, Any] = {
        "destination": m.target,
        "type": "bind" if m.type in ("bind", "volume") else m.type,
        "source": m.source or m.type,
        "options": options,
    }
    for key, maps in (("uidMappings", m.uid_mappings), ("gidMappings", m.gid_mappings)):
        if maps:
            out[key] = [{"containerID": i.container_id, "hostID": i.host_id, "size": i.size}
                        for i in maps]  # fmt: skip
    return out


def _linux(spec: ContainerSpec) -> dict[str, Any]:
    linux: dict[str, Any] = {
        "namespaces": [{"type": NS_TO_OCI[k]} for k in sorted(spec.namespaces)],
        "rootfsPropagation": spec.rootfs_propagation,
    }
    if spec.netns is not None:
        linux["namespaces"].append({"type": "network", "path": spec.netns})
    for kind, path in spec.join:
        linux["namespaces"].append({"type": NS_TO_OCI[kind], "path": path})
    for key, maps in (("uidMappings", spec.uid_mappings), ("gidMappings", spec.gid_mappings)):
        if maps:
            linux[key] = [
                {"containerID": m.container_id, "hostID": m.host_id, "size": m.size} for m in maps
            ]
    if not spec.security.privileged:
        linux["maskedPaths"] = list(spec.security.masked_paths)
        linux["readonlyPaths"] = list(spec.security.readonly_paths)
    filt = seccomp(spec)
    if filt is not None:
        linux["seccomp"] = filt
    if spec.resources is not None:
        linux["resources"] = resources(spec)
    if spec.sysctls:
        linux["sysctl"] = dict(spec.sysctls)
    if spec.device_nodes:
        linux["devices"] = [
            {"path": n.path, "type": n.type, "major": n.major, "minor": n.minor,
             "fileMode": n.file_mode, "uid": n.uid, "gid": n.gid}
            for n in spec.device_nodes
        ]  # fmt: skip
    return linux


def resources(spec: ContainerSpec) -> dict[str, Any]:
    """``linux.resources`` for runtimes that read only the OCI fields."""
    res = spec.resources
    assert res is not None
    out: dict[str, Any] = {}
    memory = {"limit": res.memory_max, "reservation": res.memory_low, "swap": res.memory_swap,
              "kernelTCP": res.memory_kernel_tcp, "swappiness": res.memory_swappiness,
              "disableOOMKiller": res.oom_kill_disable, "useHierarchy": res.memory_use_hierarchy,
              "checkBeforeUpdate": res.memory_check_before_update or None}  # fmt: skip
    if any(v is not None for v in memory.values()):
        out["memory"] = {k: v for k, v in memory.items() if v is not None}
    quota_period = res.cpu_limit()
    quota, period = quota_period if quota_period is not None else (None, None)
    cpu = {"shares": res.cpu_shares, "quota": quota, "period": period,
           "cpus": res.cpuset_cpus, "mems": res.cpuset_mems,
           "realtimeRuntime": res.cpu_rt_runtime, "realtimePeriod": res.cpu_rt_period,
           "idle": res.cpu_idle, "burst": res.cpu_burst}  # fmt: skip
    if any(v is not None for v in cpu.values()):
        out["cpu"] = {k: v for k, v in cpu.items() if v is not None}
    if res.pids_max is not None:
        out["pids"] = {"limit": res.pids_max}
    io: dict[str, Any] = {}
    if res.blkio_weight is not None:
        io["weight"] = res.blkio_weight
    if res.blkio_leaf_weight is not None:
        io["leafWeight"] = res.blkio_leaf_weight
    weights: dict[tuple[int, int], dict[str, int]] = {}
    for key, limits in (("weight", res.blkio_weight_device),
                        ("leafWeight", res.blkio_leaf_weight_device)):  # fmt: skip
        for d in limits:
            weights.setdefault((d.major, d.minor), {"major": d.major, "minor": d.minor})[key] = (
                d.rate
            )
    if weights:
        io["weightDevice"] = list(weights.values())
    for key, limits in (
        ("throttleReadBpsDevice", res.io_read_bps),
        ("throttleWriteBpsDevice", res.io_write_bps),
        ("throttleReadIOPSDevice", res.io_read_iops),
        ("throttleWriteIOPSDevice", res.io_write_iops),
    ):
        if limits:
            io[key] = [{"major": d.major, "minor": d.minor, "rate": d.rate} for d in limits]
    if io:
        out["blockIO"] = io
    rules = [(False, r) for r in res.devices_deny] + [(True, r) for r in res.devices_allow]
    if rules:
        out["devices"] = [
            {"allow": allow, "type": r.type, "major": r.major, "minor": r.minor, "access": r.access}
            for allow, r in rules
        ]
    network: dict[str, Any] = {}
    if res.net_cls_classid is not None:
        network["classID"] = res.net_cls_classid
    if res.net_prio_ifpriomap:
        network["priorities"] = [{"name": n, "priority": p} for n, p in res.net_prio_ifpriomap]
    if network:
        out["network"] = network
    if res.rdma:
        out["rdma"] = {
            device: {k: v for k, v in (("hcaHandles", h), ("hcaObjects", o)) if v is not None}
            for device, h, o in res.rdma
        }
    if res.unified:
        out["unified"] = dict(res.unified)
    if res.hugetlb:
        out["hugepageLimits"] = [{"pageSize": size, "limit": limit} for size, limit in res.hugetlb]
    return out


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra``'s keys added (recursively into objects both have)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif key not in out:
            out[key] = copy.deepcopy(value)
    return out


def digest(doc: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``doc`` without its digest annotation."""
    body = dict(doc)  # a shallow copy: only the annotations differ (no deep copy: CLI speed)
    if isinstance(body.get("annotations"), dict):
        body["annotations"] = {k: v for k, v in body["annotations"].items() if k != DIGEST}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + sha256_hex(text.encode())


def seal(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its digest annotation (a stored config's edits become detectable)."""
    out = dict(doc)  # shares the rest of ``doc`` (callers serialize it, never edit it)
    out["annotations"] = {**(doc.get("annotations") or {}), DIGEST: digest(doc)}
    return out


__all__ = [
    "ANNOTATED",
    "DIGEST",
    "NS_TO_OCI",
    "OCI_VERSION",
    "PREFIX",
    "capabilities",
    "default_mounts",
    "digest",
    "merge",
    "oci_mount",
    "resources",
    "root_path",
    "seal",
    "seccomp",
    "to_config",
]
