"""The flat, fully resolved plan that crosses into the C shim.

A plan holds only absolute paths, integers and strings: every decision was taken in Python
before the clone. ``pycontainers._sys.spawn`` copies it into the C ``struct pc_plan``.
The constants mirror ``_native/shim.h`` (a test keeps them equal).
"""

from __future__ import annotations

import attrs

# mount(2) flags (linux/mount.h), shared by the planners and _sys
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 1 << 10
MS_BIND = 0x1000
MS_REC = 0x4000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

OP_MOUNT = 1
OP_BIND = 2
OP_MKNOD = 3
OP_SYMLINK = 4
OP_MKDIR = 5
OP_WRITE = 6
OP_BIND_DEV = 7
OP_MASK = 8
OP_READONLY = 9
OP_DEVICE = 10  # flags: the node's uid, propagation: its gid (see _native/shim.h)

OPT_FILE = 1
OPT_STRICT = 2
OPT_RECURSIVE = 4
OPT_OPTIONAL = 8
OPT_RRO = 16
OPT_TREE = 32
OPT_HOSTNODE = 64

STAGES = {
    0: "ready",
    1: "sync",
    2: "setsid",
    3: "user",
    4: "join",
    5: "propagation",
    6: "rootfs",
    7: "mount",
    8: "pivot_root",
    9: "hostname",
    10: "rlimit",
    11: "ids",
    12: "cwd",
    13: "stdio",
    14: "exec",
    15: "start",
    16: "exec",
    17: "init",
    18: "fds",
    19: "readonly",
    20: "cgroup",
    21: "capabilities",
    22: "seccomp",
    23: "handoff",
}
STAGE_READY = 0


@attrs.frozen
class Op:
    """One setup step inside the new mount namespace, before pivot_root."""

    kind: int
    target: str
    source: str | None = None
    fstype: str | None = None
    data: str | bytes | None = None
    flags: int = 0
    propagation: int = 0
    mode: int = 0
    dev: int = 0
    options: int = 0


@attrs.frozen
class Plan:
    """Everything the child does between clone() and execve(), resolved."""

    argv: tuple[str, ...] | None
    env: tuple[str, ...] = ()
    path: str | None = None
    clone_flags: int = 0
    joins: tuple[tuple[int, int], ...] = ()
    rootfs: str | None = None
    rootfs_fstype: str | None = None
    rootfs_source: str | None = None
    rootfs_data: str | None = None
    rootfs_propagation: int = 0
    readonly_rootfs: bool = False
    rootfs_flags: int = 0
    rootfs_tree_fd: int = -1
    ops: tuple[Op, ...] = ()
    hostname: str | None = None
    domainname: str | None = None
    rlimits: tuple[tuple[int, int, int], ...] = ()
    ids: tuple[int, int, tuple[int, ...]] | None = None
    no_setgroups: bool = False
    umask: int = 0o022
    cwd: str | None = None
    fds: tuple[tuple[int, int], ...] = ()
    start_fifo: str | None = None
    start_fifo_fd: int = -1
    init: bool = False
    new_session: int = 1
    console_sock: int = -1
    """>= 0: the child makes a pty of the container's devpts its terminal and sends the
    master on this (container) fd number; -1: none."""
    """1: setsid(); 2: also make the tty on fd 0 the controlling terminal; 0: neither."""
    no_new_privs: bool = False
    pdeathsig: int = 0
    no_sync: bool = False
    cgroup_fds: tuple[int, ...] = ()
    cgroup_v2_fd: int = -1
    """An ``O_PATH|O_DIRECTORY`` fd of the container's cgroup2 group, whose ``cgroup.procs``
    is ``cgroup_fds[cgroup_v2_index]``: the child is cloned straight into it
    (``CLONE_INTO_CGROUP``, no ``cgroup.procs`` write); a kernel without that joins by the
    write. -1: none."""
    cgroup_v2_index: int = -1
    unshare_flags: int = 0
    capabilities: tuple[int, int, int, int, int] | None = None
    """(bounding, effective, permitted, inheritable, ambient) masks; None: leave as is, which
    :func:`pycontainers._sys.spawn` allows only for a plan that says ``host_tool``."""
    cap_last: int = 40
    seccomp_bpf: bytes | None = None
    seccomp_flags: int = 0
    console_size: tuple[int, int] | None = None
    """With ``console_sock``: the terminal's (rows, columns), set before the payload runs."""
    mount_trees: tuple[int, ...] = ()
    """Detached mounts (idmapped binds) that ops with ``OPT_TREE`` move into place: the
    op's ``mode`` is the index here."""
    seccomp_listener: bool = False
    """With ``start_fifo``: load the filter (its flags asking for a listener) before the
    start wait and send the notify fd with the ready report."""
    timens_offsets: str | None = None
    """The text for ``/proc/self/timens_offsets`` (``"monotonic S NS\nboottime S NS\n"``),
    written right after ``unshare_flags`` (which must then have CLONE_NEWTIME) are unshared."""
    clone_parent: bool = False
    """With a rootfs and a pid namespace joined (or unshared after a joined user namespace):
    the container's process is cloned into it as the caller's own child and reported with a
    ``handoff`` report (its pid, its pidfd), after which the first child exits; False: that
    child stays outside the namespace as the process's forwarder."""
    host_tool: bool = False
    """The host's own helper (a namespace holder, ``Namespace.run``), not a container process:
    the only plan that may run a program with its capabilities left as they are. Container
    processes get theirs from :func:`pycontainers.runtime.confine.confinement`."""
