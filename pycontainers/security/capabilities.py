"""Linux capabilities: names, Docker's default set, and cap_add / cap_drop resolution."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from pycontainers.errors import SpecError

# Index = capability number (linux/capability.h).
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON",
    "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip
CAP_NUMBERS = {name: i for i, name in enumerate(CAPABILITIES)}

# What Docker gives a container by default: exactly these 14.
DEFAULT_CAPABILITIES = frozenset(
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    }
)  # fmt: skip


@functools.cache
def cap_last() -> int:
    """The highest capability number this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAPABILITIES) - 1


def all_capabilities() -> frozenset[str]:
    """Every capability this kernel (and this table) knows."""
    return frozenset(CAPABILITIES[: cap_last() + 1])


def normalize(field: str, name: str) -> str:
    """``chown``, ``CHOWN`` or ``CAP_CHOWN`` → ``CAP_CHOWN``; ``all`` → ``ALL``."""
    if not isinstance(name, str):
        raise SpecError(field, f"capability names are strings, got {name!r}")
    upper = name.upper()
    if upper == "ALL":
        return "ALL"
    full = upper if upper.startswith("CAP_") else f"CAP_{upper}"
    if full not in CAP_NUMBERS:
        raise SpecError(field, f"unknown capability {name!r}")
    return full


def resolve(
    cap_add: Iterable[str], cap_drop: Iterable[str], privileged: bool = False
) -> frozenset[str]:
    """The capability set of a container, as Docker computes it from its flags."""
    if privileged:
        return all_capabilities()
    add = {normalize("cap_add", c) for c in cap_add}
    drop = {normalize("cap_drop", c) for c in cap_drop}
    caps = set() if "ALL" in drop else set(DEFAULT_CAPABILITIES) - drop
    caps |= all_capabilities() if "ALL" in add else add - {"ALL"}
    return frozenset(caps & all_capabilities())


def to_mask(caps: Iterable[str]) -> int:
    """A 64-bit mask of capability numbers."""
    mask = 0
    for name in caps:
        mask |= 1 << CAP_NUMBERS[name]
    return mask
