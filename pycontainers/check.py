"""Host diagnosis: what works here for pycontainers, and how to fix what does not.

Run it as ``pycontainers check`` or ``python -m pycontainers.check``; from Python,
:func:`check_host` returns the findings.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable

import attrs

OK, WARN, MISSING = "ok", "warn", "missing"


@attrs.frozen
class Finding:
    """One check: its name, status (``ok``, ``warn`` or ``missing``), what was seen, and
    how to fix it when it is not ok.
    """

    name: str
    status: str
    detail: str
    fix: str = ""


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _kernel() -> Finding:
    release = os.uname().release
    parts = release.split(".")
    major, minor = int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    if (major, minor) >= (5, 12):
        return Finding("kernel", OK, release)
    return Finding("kernel", WARN, f"{release}: openat2 needs 5.6, clone3 5.3, idmapped mounts 5.12",
                   "upgrade to Linux 5.12 or newer")  # fmt: skip


def _privileges() -> Finding:
    if os.geteuid() == 0:
        return Finding("privileges", OK, "running as root")
    return Finding("privileges", WARN, f"running as uid {os.geteuid()}: rootless mode",
                   "run as root, or see the rootless notes in the README")  # fmt: skip


def _namespaces() -> Finding:
    kinds = ("pid", "net", "ipc", "mnt", "uts", "user", "cgroup", "time")
    missing = [k for k in kinds if not os.path.exists(f"/proc/self/ns/{k}")]
    if not missing:
        return Finding("namespaces", OK, ", ".join(kinds))
    return Finding("namespaces", MISSING if "mnt" in missing or "pid" in missing else WARN,
                   f"missing: {', '.join(missing)}",
                   "enable CONFIG_*_NS in the kernel configuration")  # fmt: skip


def _user_namespaces() -> Finding:
    limit = _read("/proc/sys/user/max_user_namespaces")
    if limit == "0":
        return Finding("user namespaces", MISSING, "user.max_user_namespaces = 0",
                       "sysctl -w user.max_user_namespaces=15000")  # fmt: skip
    debian = _read("/proc/sys/kernel/unprivileged_userns_clone")
    apparmor = _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
    if debian == "0" or apparmor == "1":
        return Finding("user namespaces", WARN, "unprivileged user namespaces are restricted",
                       "sysctl -w kernel.unprivileged_userns_clone=1 (Debian) or "
                       "kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu) for rootless use")  # fmt: skip
    return Finding("user namespaces", OK, f"max {limit}")


def _cgroups() -> Finding:
    try:
        with open("/proc/self/mountinfo") as f:
            types = [line.split(" - ")[1].split()[0] for line in f if " - " in line]
    except OSError:
        types = []
    v1, v2 = "cgroup" in types, "cgroup2" in types
    layout = "hybrid" if v1 and v2 else "v2" if v2 else "v1" if v1 else None
    if layout is None:
        return Finding("cgroups", MISSING, "no cgroup filesystem mounted",
                       "mount cgroup2 on /sys/fs/cgroup")  # fmt: skip
    if layout == "hybrid":
        return Finding(
            "cgroups", OK, "hybrid: v1 controllers plus a v2 tree (supported; crun is not)"
        )
    return Finding("cgroups", OK, layout)


def _overlay() -> Finding:
    fs = _read("/proc/filesystems") or ""
    if "overlay" in fs.split():
        return Finding("overlayfs", OK, "available")
    return Finding("overlayfs", WARN, "not loaded (it may load on first mount)", "modprobe overlay")


def _openat2() -> Finding:
    try:
        from pycontainers import _sys

        root = os.open("/", os.O_PATH | os.O_DIRECTORY)
        try:
            os.close(_sys.open_beneath(root, "/etc"))
        finally:
            os.close(root)
    except OSError as exc:
        return Finding("openat2", WARN, f"not usable ({exc}): a stricter fallback refuses every symlink",
                       "upgrade to Linux 5.6 or newer")  # fmt: skip
    except ImportError as exc:
        return Finding(
            "openat2", MISSING, f"native shim not built: {exc}", "pip install pycontainers-sdk"
        )
    return Finding("openat2", OK, "RESOLVE_BENEATH works")


def _seccomp() -> Finding:
    if "Seccomp:" not in (_read("/proc/self/status") or ""):
        return Finding("seccomp", MISSING, "kernel without seccomp", "enable CONFIG_SECCOMP_FILTER")
    try:
        from pycontainers.security.seccomp import libseccomp_version

        version = ".".join(str(part) for part in libseccomp_version())
        return Finding("seccomp", OK, f"libseccomp {version}")
    except Exception as exc:
        return Finding("seccomp", MISSING, str(exc), "apt-get install libseccomp2")


def _nftables() -> Finding:
    if ctypes.util.find_library("nftables"):
        return Finding("nftables", OK, "libnftables found")
    return Finding("nftables", WARN, "libnftables not found: port publishing will not work",
                   "apt-get install libnftables1")  # fmt: skip


def _subids() -> Finding:
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"
    text = _read("/etc/subuid") or ""
    if any(line.split(":")[0] == user for line in text.splitlines()):
        return Finding("subordinate ids", OK, f"/etc/subuid has a range for {user}")
    return Finding("subordinate ids", WARN, f"no /etc/subuid range for {user}",
                   f"usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}")  # fmt: skip


def _run_container() -> Finding:
    if os.geteuid() != 0:
        return Finding("container", WARN, "not tried (needs root in this version)")
    try:
        from pycontainers.runtime.run import run

        result = run("host", ["true"], timeout=30)
    except Exception as exc:
        return Finding("container", MISSING, f"could not run 'true' in the host image: {exc}")
    if result.returncode != 0:
        return Finding("container", MISSING, f"'true' exited with {result.returncode}")
    return Finding("container", OK, "ran 'true' in the built-in host image")


CHECKS: tuple[Callable[[], Finding], ...] = (
    _kernel, _privileges, _namespaces, _user_namespaces, _cgroups, _overlay, _openat2,
    _seccomp, _nftables, _subids, _run_container,
)  # fmt: skip


def check_host() -> list[Finding]:
    """Run every check and return the findings."""
    return [check() for check in CHECKS]


def main() -> int:
    """Print the findings; exit 1 if anything essential is missing."""
    findings = check_host()
    width = max(len(f.name) for f in findings)
    for f in findings:
        print(f"{f.name:<{width}}  {f.status:<7}  {f.detail}")
        if f.fix and f.status != OK:
            print(f"{'':<{width}}  {'':<7}  fix: {f.fix}")
    return 1 if any(f.status == MISSING for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
