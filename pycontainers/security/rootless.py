"""Rootless mode: an unprivileged user runs containers in a user namespace of its own.

Container root is the user's own uid (a single-id mapping the user may write itself), or,
when ``newuidmap``/``newgidmap`` are installed and /etc/subuid and /etc/subgid give the user
a range, the user's uid plus that range (written by those setuid helpers, the only way an
unprivileged user can map more than its own id).

What works rootless: every namespace, the rootfs and bind mounts of what the user can
read, proc/sysfs/devpts/mqueue/tmpfs mounts, capabilities inside the namespace, seccomp,
no_new_privs, hostname, rlimits up to the user's own hard limits. What does not: cgroup
limits (v1 and hybrid hosts have no delegation; a delegated v2 subtree is not supported
yet), device nodes other than binds of the host's, ids outside the mapping, and
idmapped mounts (they need privileges in the initial user namespace).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess

from pycontainers.errors import ContainerStartError
from pycontainers.security.userns import read_ranges
from pycontainers.spec import IdMapping


def is_rootless() -> bool:
    """Whether this process runs without root's privileges."""
    return os.geteuid() != 0


def rootless_mappings() -> tuple[tuple[IdMapping, ...], tuple[IdMapping, ...]]:
    """The mappings for a rootless container: the user's own ids at 0, plus its
    subordinate ranges from 1 on when the newuidmap/newgidmap helpers can write them.
    """
    uid, gid = os.geteuid(), os.getegid()
    uids: tuple[IdMapping, ...] = (IdMapping(0, uid, 1),)
    gids: tuple[IdMapping, ...] = (IdMapping(0, gid, 1),)
    if shutil.which("newuidmap") and shutil.which("newgidmap"):
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            return uids, gids
        subu, subg = read_ranges("/etc/subuid", name), read_ranges("/etc/subgid", name)
        if subu and subg:
            uids += (IdMapping(1, subu[0].start, subu[0].count),)
            gids += (IdMapping(1, subg[0].start, subg[0].count),)
    return uids, gids


def is_own_single(maps: tuple[IdMapping, ...], own: int) -> bool:
    """Whether ``maps`` is just the caller's own id, which it may write itself."""
    return len(maps) == 1 and maps[0].host_id == own and maps[0].size == 1


def write_maps(pid: int, uids: tuple[IdMapping, ...], gids: tuple[IdMapping, ...]) -> None:
    """Write a child's id maps as an unprivileged user: directly for its own single ids
    (denying setgroups first, as the kernel requires), else through newuidmap/newgidmap.
    """
    for maps, own, helper, name in (
        (uids, os.geteuid(), "newuidmap", "uid_map"),
        (gids, os.getegid(), "newgidmap", "gid_map"),
    ):
        if is_own_single(maps, own):
            if name == "gid_map":
                with open(f"/proc/{pid}/setgroups", "w") as f:
                    f.write("deny")
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(f"{maps[0].container_id} {maps[0].host_id} 1\n")
            continue
        path = shutil.which(helper)
        if path is None:
            raise ContainerStartError(
                "user",
                1,
                f"user: mapping more than your own id needs {helper} (apt-get install uidmap)",
            )
        args = [path, str(pid)]
        for m in maps:
            args += [str(m.container_id), str(m.host_id), str(m.size)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise ContainerStartError(
                "user",
                1,
                f"user: {helper} failed: {done.stderr.strip()} (check /etc/sub{name[0]}id)",
            )
