"""``features`` (what this runtime supports, as runtime-spec features JSON) and ``spec``
(a template ``config.json`` for a bundle, rootful or rootless).
"""

from __future__ import annotations

import json
import os
from typing import Any

from pycontainers.errors import OciRuntimeError

MOUNT_OPTIONS = (
    "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand",
    "noatime", "nodev", "nodiratime", "noexec", "nosuid", "private", "rbind", "relatime",
    "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave",
    "strictatime", "suid", "sync", "unbindable",
)  # fmt: skip


def features_doc() -> dict[str, Any]:
    """The runtime-spec features document of this runtime (only what it applies)."""
    from pycontainers.oci.config import NS_TO_OCI, OCI_VERSION
    from pycontainers.security._seccomp_profile import ACTIONS, OPERATORS
    from pycontainers.security.capabilities import CAPABILITIES

    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
        "mountOptions": list(MOUNT_OPTIONS),
        "linux": {
            "namespaces": sorted(NS_TO_OCI.values()),
            "capabilities": list(CAPABILITIES),
            "cgroup": {
                "v1": True,
                "v2": True,
                "systemd": False,
                "systemdUser": False,
                "rdma": True,
            },
            "seccomp": {
                "enabled": True,
                "actions": sorted(ACTIONS),
                "operators": sorted(OPERATORS),
                "archs": [
                    "SCMP_ARCH_AARCH64",
                    "SCMP_ARCH_X32",
                    "SCMP_ARCH_X86",
                    "SCMP_ARCH_X86_64",
                ],
            },
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
        },
        "annotations": {"io.pycontainers.runtime.version": _version()},
    }


def _version() -> str:
    from pycontainers.ociruntime.main import VERSION

    return VERSION


def features() -> None:
    """Print :func:`features_doc`."""
    print(json.dumps(features_doc(), indent=4))


def template(rootless: bool = False) -> dict[str, Any]:
    """The template config: ``sh`` on a terminal in ``rootfs``, read-only, Docker's few
    default capabilities; ``rootless``: a user namespace mapping the caller's own ids, the
    host's network, /sys bound from the host.
    """
    from pycontainers.oci.config import OCI_VERSION

    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    quiet = ["nosuid", "noexec", "nodev"]
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": [*quiet, "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": quiet},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*quiet, "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": [*quiet, "relatime", "ro"]},
    ]  # fmt: skip
    namespaces = ["pid", "network", "ipc", "uts", "mount"]
    linux: dict[str, Any] = {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    }  # fmt: skip
    if rootless:
        namespaces = ["pid", "ipc", "uts", "mount", "user"]
        linux.pop("resources")
        linux["uidMappings"] = [{"containerID": 0, "hostID": os.getuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": os.getgid(), "size": 1}]
        mounts[5] = {"destination": "/sys", "type": "none", "source": "/sys",
                     "options": ["rbind", *quiet, "ro"]}  # fmt: skip
        mounts.pop()
    linux["namespaces"] = [{"type": n} for n in namespaces]
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "pycontainers",
        "mounts": mounts,
        "linux": linux,
    }


def write_spec(bundle: str, *, rootless: bool) -> None:
    """Write :func:`template` to ``<bundle>/config.json`` (never over an existing one)."""
    path = os.path.join(bundle, "config.json")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        raise OciRuntimeError(f"{path} exists: remove it first", path=path) from None
    except OSError as exc:
        raise OciRuntimeError(
            f"cannot write {path}: {exc.strerror}", errno=exc.errno, path=path
        ) from None
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(template(rootless), indent="\t"))


__all__ = ["features", "features_doc", "template", "write_spec"]
