"""Resolve a :class:`~pycontainers.spec.ContainerSpec` into the flat plan the C shim runs.

Two steps: :func:`gather` reads what the plan depends on (host files, the rootfs's users,
random host names, this process's capabilities), :func:`make_plan` computes the plan from
the spec and those inputs alone, so it is tested against golden files without root.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple

import attrs

from pycontainers import _plan
from pycontainers._plan import Op, Plan
from pycontainers.errors import ImageNotFound
from pycontainers.fs import rootfs as rootfs_plan
from pycontainers.fs.users import resolve_user
from pycontainers.runtime.confine import Confinement, confinement
from pycontainers.spec import ContainerSpec, OverlayRootfs

if TYPE_CHECKING:
    from pycontainers.cgroups import CgroupLayout

CLONE_FLAGS = {
    "time": 0x00000080,
    "mnt": 0x00020000,
    "cgroup": 0x02000000,
    "uts": 0x04000000,
    "ipc": 0x08000000,
    "user": 0x10000000,
    "pid": 0x20000000,
    "net": 0x40000000,
}
_PROPAGATION = {
    "rprivate": _plan.MS_PRIVATE | _plan.MS_REC,
    "private": _plan.MS_PRIVATE,
    "rslave": _plan.MS_SLAVE | _plan.MS_REC,
    "slave": _plan.MS_SLAVE,
    "rshared": _plan.MS_SHARED | _plan.MS_REC,
    "shared": _plan.MS_SHARED,
    "runbindable": _plan.MS_UNBINDABLE | _plan.MS_REC,
    "unbindable": _plan.MS_UNBINDABLE,
}


def _etc_from_layers(lowers: tuple[str, ...]) -> dict[str, str]:
    """/etc/passwd and /etc/group as the merged layers show them (the top-most layer that
    has the file wins), read beneath each layer without following symlinks out.
    """
    from pycontainers.fs.users import _read_beneath

    out: dict[str, str] = {}
    for name in ("/etc/passwd", "/etc/group"):
        for layer in lowers:
            text = _read_beneath(layer, name)
            if text:
                out[name] = text
                break
    return out


def rootfs_shift(spec: ContainerSpec) -> str:
    """How a directory rootfs is made the user-namespace root's own: idmap, copy or none."""
    if "user" not in spec.namespaces or not isinstance(spec.rootfs, str) or spec.rootfs == "host":
        return "none"  # no namespace; a tmpfs made inside it; image layers (not shifted yet)
    if os.geteuid() != 0:
        return "none"  # rootless: the user's own files are already container root's
    if spec.userns_rootfs != "auto":
        return spec.userns_rootfs
    from pycontainers.fs.shift import idmap_supported

    return "idmap" if idmap_supported(spec.rootfs) else "copy"


def clone_flags(kinds: frozenset[str]) -> int:
    """CLONE_NEW* flags for a set of namespace kinds."""
    flags = 0
    for kind in kinds:
        flags |= CLONE_FLAGS[kind]
    return flags


# setns order: user first (the rights to join the others are its root's), mnt last (the
# other paths were opened before it); pid binds children only
_JOIN_ORDER = ("user", "ipc", "uts", "net", "pid", "cgroup", "time", "mnt")


def _joins(join_fds: tuple[tuple[str, int], ...], netns_fd: int) -> tuple[tuple[int, int], ...]:
    """(fd, CLONE_NEW*) pairs of the namespaces to join, in setns order."""
    fds = dict(join_fds)
    if netns_fd >= 0:
        fds["net"] = netns_fd
    return tuple((fds[k], CLONE_FLAGS[k]) for k in _JOIN_ORDER if k in fds)


SECCOMP_NEW_LISTENER = 8  # SECCOMP_FILTER_FLAG_NEW_LISTENER

CONSOLE_FD = 3
"""The container fd on which a child with a console sends its pty master (then closes it)."""


class PlanInputs(NamedTuple):
    """What a plan needs from the world, gathered once by :func:`gather` (the impure step:
    host files, the rootfs's /etc, random host names, this process's capabilities and
    rlimits, the seccomp compiler); :func:`make_plan` then only computes.

    ``rootfs`` is the directory the child mounts or pivots into (None: a tmpfs or overlay
    at the mountpoint), ``host_ops`` the built-in host image's files, ``ids`` the resolved
    (uid, gid, supplementary gids).
    """

    hostname: str | None
    rootfs: str | None
    host_ops: tuple[Op, ...]
    ids: tuple[int, int, tuple[int, ...]]
    security: Confinement


def gather(spec: ContainerSpec) -> PlanInputs:
    """Read what :func:`make_plan` needs for ``spec`` (see :class:`PlanInputs`)."""
    hostname = spec.hostname
    if hostname is None and "uts" in spec.namespaces:
        hostname = os.urandom(6).hex()  # Docker names a container's host after its short id
    etc: dict[str, str] | None = None
    host_ops: list[Op] = []
    rootfs: str | None = None
    if isinstance(spec.rootfs, OverlayRootfs):
        etc = _etc_from_layers(spec.rootfs.lowers)
    elif spec.rootfs == "host":
        host_ops = rootfs_plan.host_image_ops(hostname or "localhost")
        etc = {op.target: str(op.data) for op in host_ops if op.kind == _plan.OP_WRITE}
    else:
        if not os.path.isdir(spec.rootfs):
            raise ImageNotFound(
                f"rootfs: {spec.rootfs!r} is not a directory (and not the 'host' image)"
            )
        rootfs = os.path.realpath(spec.rootfs)
        if rootfs_shift(spec) == "copy":
            from pycontainers.fs.shift import shifted_copy

            rootfs = shifted_copy(rootfs, spec.uid_mappings, spec.gid_mappings)
    ids = resolve_user(spec.process.user, rootfs if etc is None else None, etc)
    return PlanInputs(hostname, rootfs, tuple(host_ops), ids, confinement(spec))


def make_plan(
    spec: ContainerSpec,
    inputs: PlanInputs,
    *,
    fds: tuple[tuple[int, int], ...],
    host_mountpoint: str | None = None,
    start_fifo: str | None = None,
    start_fifo_fd: int = -1,
    cgroup_fds: tuple[int, ...] = (),
    cgroup_v2: tuple[int, int] = (-1, -1),
    cgroup_layout: CgroupLayout | None = None,
    cgroup_path: str | None = None,
    rootfs_tree_fd: int = -1,
    netns_fd: int = -1,
    join_fds: tuple[tuple[str, int], ...] = (),
    console: bool = False,
    console_size: tuple[int, int] | None = None,
    timens_offsets: str | None = None,
    seccomp_listener: bool = False,
    mount_trees: tuple[tuple[int, int], ...] = (),
    detached: bool = False,
) -> Plan:
    """The :class:`Plan` of ``spec`` with ``inputs``: pure (no files, no randomness), so
    the same arguments always give the same plan.

    ``fds`` lists (parent fd, container fd) pairs; ``host_mountpoint`` is an empty
    directory where the built-in host image's tmpfs root is mounted (inside the child's own
    mount namespace); ``start_fifo`` makes the child wait for a start signal before execve.
    ``cgroup_fds`` are open cgroup.procs files the child joins itself (``cgroup_v2``: the
    cgroup2 group's directory fd and the index of its file there, for a clone straight
    into that group, see :attr:`~pycontainers._plan.Plan.cgroup_v2_fd`); with a cgroup
    namespace it is then unshared, rooted at that group, and ``cgroup_layout`` says which
    cgroup filesystems to mount read-only at /sys/fs/cgroup; without a cgroup namespace,
    the container's own groups (``cgroup_path`` in each hierarchy) are bound read-only there.
    With a joined mount namespace the rootfs is set up in it (as runc does);
    with a joined user namespace every new namespace is made after joining it (owned by it).
    ``console_size`` is the terminal's (rows, columns); ``timens_offsets`` the new time
    namespace's clock offsets (the text of ``/proc/PID/timens_offsets``). With
    ``seccomp_listener`` the ready report (of a plan with ``start_fifo``) brings the seccomp
    notify fd. ``mount_trees`` are (index in ``spec.mounts``, fd) of the idmapped binds'
    detached mounts, which the child moves into place.
    """
    ops: list[Op] = []
    hostname = inputs.hostname
    rootfs: str
    fstype: str | None = None
    data: str | None = None
    if isinstance(spec.rootfs, OverlayRootfs):
        if host_mountpoint is None or rootfs_tree_fd < 0:
            raise ValueError("an overlay rootfs needs a mountpoint and its mount fd")
        rootfs = host_mountpoint
    elif spec.rootfs == "host":
        if host_mountpoint is None:
            raise ValueError("the host image needs a mountpoint")
        rootfs, fstype, data = host_mountpoint, "tmpfs", "mode=755,size=16m"
        ops += inputs.host_ops
    else:
        if inputs.rootfs is None:
            raise ValueError("a directory rootfs needs its resolved path in the inputs")
        rootfs = inputs.rootfs
    joined = {kind for kind, _ in spec.join}
    ops += rootfs_plan.default_ops(spec)
    flags = clone_flags(spec.namespaces)
    unshare = 0
    if timens_offsets is not None:
        if "time" not in spec.namespaces:
            raise ValueError("time offsets need a new time namespace")
        # made by the child after the clone: offsets are accepted only until a process
        # enters it, and a cloned child is in it at once
        flags &= ~CLONE_FLAGS["time"]
        unshare |= CLONE_FLAGS["time"]
    if "user" in joined:
        unshare |= flags  # after the setns into the user namespace: owned by it
        flags = 0
    if cgroup_fds and "cgroup" in spec.namespaces:
        # join the group first, then make the namespace: its root is the container's group
        flags &= ~CLONE_FLAGS["cgroup"]
        unshare |= CLONE_FLAGS["cgroup"]
        if cgroup_layout is not None:
            ops += rootfs_plan.cgroupfs_ops(cgroup_layout)
    elif cgroup_fds and cgroup_layout is not None and cgroup_path is not None:
        ops += rootfs_plan.cgroup_bind_ops(cgroup_layout, cgroup_path)
    trees = {index: k for k, (index, _) in enumerate(mount_trees)}
    for index, m in enumerate(spec.mounts):
        op = rootfs_plan.mount_to_op(m)
        if index in trees:
            op = attrs.evolve(op, options=op.options | _plan.OPT_TREE, mode=trees[index])
        elif m.uid_mappings:
            raise ValueError(f"the idmapped mount on {m.target} needs its detached mount")
        ops.append(op)
    ops += rootfs_plan.device_ops(spec)
    ops += rootfs_plan.sysctl_ops(spec.sysctls)
    ops += rootfs_plan.security_ops(spec.security)
    # a joined mount namespace gets the rootfs set up in it, as runc does (the runtime-spec's
    # linux_ns_path check): its rootfs path must be reachable there
    rootfs_root = rootfs
    proc = spec.process
    env = proc.environ()
    if hostname:
        env.setdefault("HOSTNAME", hostname)
    uid, gid, groups = inputs.ids
    security = inputs.security.plan_fields()
    if seccomp_listener:
        if start_fifo is None or not security.get("seccomp_bpf"):
            raise ValueError("a seccomp listener needs a start fifo and a seccomp filter")
        security["seccomp_flags"] = security.get("seccomp_flags", 0) | SECCOMP_NEW_LISTENER
    return Plan(
        argv=proc.args,
        env=tuple(f"{k}={v}" for k, v in env.items()),
        clone_flags=flags,
        cgroup_fds=cgroup_fds,
        cgroup_v2_fd=cgroup_v2[0],
        cgroup_v2_index=cgroup_v2[1],
        unshare_flags=unshare,
        rootfs=rootfs_root,
        rootfs_fstype=fstype,
        rootfs_source="rootfs" if fstype else None,
        rootfs_data=data,
        rootfs_propagation=_PROPAGATION[spec.rootfs_propagation],
        readonly_rootfs=spec.readonly_rootfs or spec.rootfs == "host",  # host: /tmp stays rw
        rootfs_flags=0 if spec.security.privileged else _plan.MS_NODEV,
        rootfs_tree_fd=rootfs_tree_fd,
        joins=_joins(join_fds, netns_fd),
        ops=tuple(ops),
        hostname=hostname,
        domainname=spec.domainname,
        ids=(uid, gid, groups),
        umask=proc.umask,
        cwd=proc.cwd,
        fds=fds,
        start_fifo=start_fifo,
        start_fifo_fd=start_fifo_fd,
        init=spec.init,
        new_session=1,
        console_sock=CONSOLE_FD if console else -1,
        console_size=console_size,
        timens_offsets=timens_offsets,
        seccomp_listener=seccomp_listener,
        mount_trees=tuple(fd for _, fd in mount_trees),
        # with nothing for the parent to write between clone and execve (id maps), the child
        # runs straight through, sharing memory with the suspended caller (vfork-style)
        no_sync="user" not in spec.namespaces and spec.network is None and not detached,
        # a process that must enter a pid namespace after the clone is cloned into it as the
        # caller's child (the state's pid is then in it, as runc's); a monitor keeps its own
        clone_parent=not detached and ("pid" in joined or bool(unshare & CLONE_FLAGS["pid"])),
        # capabilities, seccomp, no_new_privs, rlimits: the one function every entry uses
        **security,
    )
