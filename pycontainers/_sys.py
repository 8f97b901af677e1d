"""Typed wrappers over the native shim: the only module that imports ``pycontainers._native``.

Every failing call raises :class:`SyscallError`, an ``OSError`` whose message names the call
and the path it was given.
"""

from __future__ import annotations

import errno as _errno
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, NoReturn

from pycontainers import _plan
from pycontainers._plan import (
    STAGE_READY,
    STAGES,
    Op,
    Plan,
)
from pycontainers.errors import SyscallError as SyscallError

_native: Any = importlib.import_module("pycontainers._native")
ffi: Any = _native.ffi
lib: Any = _native.lib

# MS_* for callers of _sys.mount
MS_BIND: int = _plan.MS_BIND
MS_NODEV: int = _plan.MS_NODEV
MS_NOEXEC: int = _plan.MS_NOEXEC
MS_NOSUID: int = _plan.MS_NOSUID
MS_PRIVATE: int = _plan.MS_PRIVATE
MS_RDONLY: int = _plan.MS_RDONLY
MS_REC: int = _plan.MS_REC
MS_RELATIME: int = _plan.MS_RELATIME
MS_REMOUNT: int = _plan.MS_REMOUNT
MS_SHARED: int = _plan.MS_SHARED
MS_SLAVE: int = _plan.MS_SLAVE
MS_STRICTATIME: int = _plan.MS_STRICTATIME
MS_UNBINDABLE: int = _plan.MS_UNBINDABLE

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MNT_DETACH = 0x2


def _check(rc: int, call: str, arg: str | None = None, *, path: str | None = None) -> int:
    """``rc``, or raise :class:`SyscallError` naming ``call`` and ``arg`` (default: ``path``,
    the file argument, which the error carries as its ``path``).
    """
    if rc < 0:
        code = -rc
        shown = arg if arg is not None else path
        what = f"{call}({shown})" if shown is not None else call
        raise SyscallError(code, f"{what}: {os.strerror(code)}", path=path)
    return rc


def _c(s: str | None) -> Any:
    return ffi.NULL if s is None else s.encode()


def setns(fd: int, nstype: int = 0) -> None:
    """Move the calling thread into the namespace open at ``fd``."""
    _check(lib.pc_setns(fd, nstype), "setns", f"fd {fd}")


def unshare(flags: int) -> None:
    """Move the calling thread into new namespaces of ``flags``."""
    _check(lib.pc_unshare(flags), "unshare", hex(flags))


def mount(
    source: str | None,
    target: str,
    fstype: str | None = None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    """mount(2)."""
    _check(
        lib.pc_mount(_c(source), target.encode(), _c(fstype), flags, _c(data)), "mount", path=target
    )


def umount2(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    _check(lib.pc_umount2(target.encode(), flags), "umount2", path=target)


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2)."""
    _check(lib.pc_pivot_root(new_root.encode(), put_old.encode()), "pivot_root", path=new_root)


def pidfd_open(pid: int, flags: int = 0) -> int:
    """Return a pidfd for ``pid``."""
    return _check(lib.pc_pidfd_open(pid, flags), "pidfd_open", str(pid))


def pidfd_send_signal(pidfd: int, sig: int, flags: int = 0) -> None:
    """Send ``sig`` to the process behind ``pidfd``."""
    _check(lib.pc_pidfd_send_signal(pidfd, sig, flags), "pidfd_send_signal", f"pidfd {pidfd}")


def close_range(first: int, last: int, flags: int = 0) -> None:
    """close_range(2)."""
    _check(lib.pc_close_range(first, last, flags), "close_range", f"{first}..{last}")


def sethostname(name: str) -> None:
    """Set the hostname of the calling thread's UTS namespace."""
    raw = name.encode()
    _check(lib.pc_sethostname(raw, len(raw)), "sethostname", name)


def open_beneath(dirfd: int, path: str, flags: int = os.O_PATH) -> int:
    """Open ``path`` below ``dirfd`` without leaving it (no ``..`` or symlink escape)."""
    return _check(lib.pc_openat2_beneath(dirfd, path.encode(), flags, 0), "openat2", path=path)


_BPF_STEPS = {1: "BPF_PROG_LOAD", 2: "BPF_PROG_QUERY", 3: "BPF_PROG_ATTACH", 4: "BPF_PROG_DETACH"}


def bpf_device_attach(cgroup_fd: int, insns: bytes, where: str) -> None:
    """Load the cgroup device program ``insns`` (``struct bpf_insn``s), attach it to the
    cgroup2 directory open at ``cgroup_fd`` (``where`` names it) with ``BPF_F_ALLOW_MULTI``,
    then detach the device programs attached there before. The error names the step that
    failed (and carries the verifier's log for a refused program).
    """
    log = ffi.new("char[]", 65536)
    step = ffi.new("int *")
    rc = lib.pc_bpf_device_attach(cgroup_fd, insns, len(insns) // 8, log, len(log), step)
    if rc < 0:
        call = _BPF_STEPS.get(step[0], "bpf")
        verifier = ffi.string(log).decode(errors="replace").strip() if step[0] == 1 else ""
        detail = f" (verifier: {verifier[-500:]})" if verifier else ""
        raise SyscallError(-rc, f"{call}({where}): {os.strerror(-rc)}{detail}", path=where)


def bpf_device_programs(cgroup_fd: int, where: str) -> tuple[tuple[int, ...], int]:
    """The ids of the device programs attached to the cgroup2 directory open at
    ``cgroup_fd``, and its attach flags (``BPF_F_ALLOW_MULTI`` is 2).
    """
    ids = ffi.new("unsigned int[]", 64)
    flags = ffi.new("unsigned int *")
    count = _check(lib.pc_bpf_device_query(cgroup_fd, ids, 64, flags), "BPF_PROG_QUERY", where)
    return tuple(ids[i] for i in range(count)), int(flags[0])


class Spawned(NamedTuple):
    """A cloned child waiting at its first sync point: release it with :func:`release`.

    A typed tuple, as :class:`ChildReport` is: cheaper to define than an attrs class.
    """

    pid: int
    pidfd: int
    sock: int
    into_cgroup: bool = False
    """Cloned straight into the plan's cgroup2 group (``CLONE_INTO_CGROUP``)."""


class ChildReport(NamedTuple):
    """What the child said on its error socket: a failure, or that it is ready."""

    stage: str
    errno: int
    exit_code: int
    message: str
    ready: bool
    fd: int = -1
    """An fd that came with the report (the seccomp notify fd with ``ready``, the pidfd
    with ``handoff``), or -1: the caller owns it."""
    pid: int = 0
    """With ``handoff``: the container's process, now the caller's child in place of the
    one that was spawned (see :attr:`~pycontainers._plan.Plan.clone_parent`)."""


_OP_CACHE: dict[Op, tuple[Any, list[Any]]] = {}
_OP_CACHE_MAX = 4096


def _c_op(op: Op) -> tuple[Any, list[Any]]:
    """The C struct of ``op`` with the buffers it points to, memoized: most ops (default
    mounts, devices, masked paths) repeat for every container. A plan keeps the entries it
    copied from alive for as long as it lives, whatever happens to the cache.
    """
    cached = _OP_CACHE.get(op)
    if cached is not None:
        return cached
    keep = _Builder()
    c = ffi.new("struct pc_op *")
    c.kind = op.kind
    c.options = op.options
    c.source = keep.s(op.source)
    c.target = keep.s(op.target)
    c.fstype = keep.s(op.fstype)
    data = op.data.encode() if isinstance(op.data, str) else op.data
    c.data = keep.s(data)
    c.data_len = len(data) if data is not None else 0
    c.flags = op.flags
    c.propagation = op.propagation
    c.mode = op.mode
    c.dev = op.dev
    if len(_OP_CACHE) >= _OP_CACHE_MAX:
        _OP_CACHE.clear()
    entry = _OP_CACHE[op] = (c, keep.keep)
    return entry


class _Builder:
    """Copies a :class:`Plan` into C structs, keeping every buffer alive."""

    def __init__(self) -> None:
        self.keep: list[Any] = []

    def s(self, value: str | bytes | None) -> Any:
        if value is None:
            return ffi.NULL
        buf = ffi.new("char[]", value if isinstance(value, bytes) else value.encode())
        self.keep.append(buf)
        return buf

    def strv(self, values: Sequence[str] | None) -> Any:
        if values is None:
            return ffi.NULL
        arr = ffi.new("char *[]", len(values) + 1)
        for i, v in enumerate(values):
            arr[i] = self.s(v)
        arr[len(values)] = ffi.NULL
        self.keep.append(arr)
        return arr

    def array(self, ctype: str, n: int) -> Any:
        if n == 0:
            return ffi.NULL
        arr = ffi.new(f"{ctype}[]", n)
        self.keep.append(arr)
        return arr

    def plan(self, plan: Plan) -> Any:
        p = ffi.new("struct pc_plan *")
        self.keep.append(p)
        p.clone_flags = plan.clone_flags
        p.joins = self.array("struct pc_join", len(plan.joins))
        for i, (fd, nstype) in enumerate(plan.joins):
            p.joins[i].fd = fd
            p.joins[i].nstype = nstype
        p.n_joins = len(plan.joins)
        p.rootfs = self.s(plan.rootfs)
        p.rootfs_fstype = self.s(plan.rootfs_fstype)
        p.rootfs_source = self.s(plan.rootfs_source)
        p.rootfs_data = self.s(plan.rootfs_data)
        p.rootfs_propagation = plan.rootfs_propagation
        p.readonly_rootfs = int(plan.readonly_rootfs)
        p.rootfs_flags = plan.rootfs_flags
        p.rootfs_tree_fd = plan.rootfs_tree_fd
        p.ops = self.array("struct pc_op", len(plan.ops))
        size = ffi.sizeof("struct pc_op")
        for i, op in enumerate(plan.ops):
            entry = _c_op(op)
            self.keep.append(entry)
            ffi.memmove(p.ops + i, entry[0], size)
        p.n_ops = len(plan.ops)
        p.hostname = self.s(plan.hostname)
        p.domainname = self.s(plan.domainname)
        p.rlimits = self.array("struct pc_rlimit", len(plan.rlimits))
        for i, (res, soft, hard) in enumerate(plan.rlimits):
            p.rlimits[i].resource = res
            p.rlimits[i].soft = soft
            p.rlimits[i].hard = hard
        p.n_rlimits = len(plan.rlimits)
        if plan.ids is not None:
            uid, gid, groups = plan.ids
            p.set_ids = 1
            p.uid = uid
            p.gid = gid
            p.groups = self.array("unsigned int", len(groups))
            for i, g in enumerate(groups):
                p.groups[i] = g
            p.n_groups = -1 if plan.no_setgroups else len(groups)
        p.umask = plan.umask
        p.cwd = self.s(plan.cwd)
        p.path = self.s(plan.path)
        p.argv = self.strv(plan.argv)
        p.envp = self.strv(plan.env)
        p.fds = self.array("struct pc_fdmap", len(plan.fds))
        for i, (src, dst) in enumerate(plan.fds):
            p.fds[i].src = src
            p.fds[i].dst = dst
        p.n_fds = len(plan.fds)
        p.start_fifo = self.s(plan.start_fifo)
        p.start_fifo_fd = plan.start_fifo_fd
        p.init = int(plan.init)
        p.new_session = int(plan.new_session)
        p.console_sock = plan.console_sock
        p.no_new_privs = int(plan.no_new_privs)
        p.pdeathsig = plan.pdeathsig
        p.no_sync = int(plan.no_sync)
        p.cgroup_fds = self.array("int", len(plan.cgroup_fds))
        for i, fd in enumerate(plan.cgroup_fds):
            p.cgroup_fds[i] = fd
        p.n_cgroup_fds = len(plan.cgroup_fds)
        if plan.cgroup_v2_fd >= 0:
            if not 0 <= plan.cgroup_v2_index < len(plan.cgroup_fds):
                raise ValueError("cgroup_v2_index must name the group's cgroup.procs in cgroup_fds")
            p.cgroup_v2_fd = plan.cgroup_v2_fd
            p.cgroup_v2_slot = plan.cgroup_v2_index + 1
        p.unshare_flags = plan.unshare_flags
        if plan.console_size is not None:
            p.console_rows, p.console_cols = plan.console_size
        p.timens_offsets = self.s(plan.timens_offsets)
        p.seccomp_listener = int(plan.seccomp_listener)
        p.clone_parent = int(plan.clone_parent)
        p.mount_trees = self.array("int", len(plan.mount_trees))
        for i, fd in enumerate(plan.mount_trees):
            p.mount_trees[i] = fd
        p.n_mount_trees = len(plan.mount_trees)
        if plan.capabilities is not None:
            p.set_caps = 1
            p.cap_last = plan.cap_last
            (p.cap_bounding, p.cap_effective, p.cap_permitted, p.cap_inheritable, p.cap_ambient) = (
                plan.capabilities
            )
        if plan.seccomp_bpf:
            buf = ffi.from_buffer("unsigned char[]", plan.seccomp_bpf)
            self.keep.append(buf)
            p.seccomp_bpf = buf
            p.seccomp_len = len(plan.seccomp_bpf)
            p.seccomp_flags = plan.seccomp_flags
        return p


def _check_confined(plan: Plan) -> None:
    """Refuse a plan that would run a program with unknown security (fail closed)."""
    if plan.argv is not None and plan.capabilities is None and not plan.host_tool:
        raise ValueError(
            "a plan that runs a program needs its capabilities (from confinement()), or "
            "host_tool=True for the host's own helpers"
        )


def spawn(plan: Plan) -> Spawned:
    """Clone the child described by ``plan``; it waits until :func:`release`."""
    _check_confined(plan)
    builder = _Builder()
    cplan = builder.plan(plan)
    res = ffi.new("struct pc_spawn_result *")
    rc = lib.pc_spawn(cplan, res)
    if rc < 0 and res.into_cgroup < 0:
        _into_failed(-rc, plan)
    _check(rc, "clone3")
    return Spawned(pid=res.pid, pidfd=res.pidfd, sock=res.sock, into_cgroup=res.into_cgroup > 0)


PACK_MAX_FDS = 253
"""The most fds a packed plan may name: what one SCM_RIGHTS message carries (SCM_MAX_FD)."""


def pack_plan(plan: Plan) -> tuple[bytes, list[int]]:
    """``plan`` packed for another process (``pc_plan_unpack`` in C, ``_native/plan_wire.c``):
    the bytes, and the fds its fd fields now index, to be sent beside them (SCM_RIGHTS).
    """
    _check_confined(plan)
    builder = _Builder()  # keeps the plan's buffers alive until the pack copied them
    cplan = builder.plan(plan)
    out = ffi.new("unsigned char **")
    size = ffi.new("size_t *")
    fds = ffi.new("int[]", PACK_MAX_FDS)
    count = ffi.new("int *")
    _check(lib.pc_plan_pack(cplan, out, size, fds, PACK_MAX_FDS, count), "pack plan")
    try:
        return bytes(ffi.buffer(out[0], size[0])), list(fds[0 : count[0]])
    finally:
        lib.pc_plan_free(out[0])


def _into_failed(code: int, plan: Plan) -> NoReturn:
    """clone3 into the plan's cgroup2 group failed (not for want of kernel support): the
    error names the group; nothing was started (never outside the group).
    """
    try:
        group = os.readlink(f"/proc/self/fd/{plan.cgroup_v2_fd}")
    except OSError:
        group = f"fd {plan.cgroup_v2_fd}"
    from pycontainers.errors import ContainerStartError

    gone = group.endswith(" (deleted)")
    group = group.removesuffix(" (deleted)")
    why = "it was removed" if gone else os.strerror(code)
    raise ContainerStartError(
        "cgroup", code, f"cgroup: cannot start in the cgroup {group}: {why}", path=group
    )


def sandbox_prepare(plan: Plan, report_sock: int) -> None:
    """A warm sandbox's standby makes its own namespaces and mounts, as ``plan`` says.

    For a single-threaded process just forked by its zygote as pid 1 of a new pid
    namespace: joins ``plan.cgroup_fds``, unshares ``plan.unshare_flags``, brings lo up,
    runs ``plan.ops`` beneath / and sets the host name. On a failure the C side reports
    ``(stage, errno, message)`` on ``report_sock`` and exits with status 125.
    """
    builder = _Builder()
    _check(lib.pc_sandbox_prepare(builder.plan(plan), report_sock), "sandbox_prepare")


def sandbox_confine(plan: Plan, report_sock: int) -> None:
    """Confine the calling standby for its call, as ``plan`` says (after
    :func:`sandbox_prepare`): the plan's rlimits, ids, capabilities, no_new_privs and
    seccomp filter.
    Returns only when all of it is done (a failure reports on ``report_sock`` and exits
    with status 125). A plan without capabilities (not from
    :func:`~pycontainers.runtime.confine.confinement`) is refused.
    """
    if plan.capabilities is None:
        raise ValueError("a sandbox call needs its capabilities (from confinement())")
    builder = _Builder()
    _check(lib.pc_sandbox_confine(builder.plan(plan), report_sock), "sandbox_confine")


def spawn_monitored(
    plan: Plan, monitor: str, argv: Sequence[str], env: Sequence[str], fds: Sequence[int]
) -> tuple[Spawned, int, int]:
    """Clone the child of ``plan`` as the child of a detached monitor program.

    The monitor (``argv`` run from ``monitor`` with ``env``) gets a control socket as fd 3
    and ``fds`` as 4, 5, ...; it is re-parented to init (or the nearest subreaper) at once.
    Returns the child (pid, a pidfd that can poll and signal but not reap, the release
    socket), our end of the control socket and the monitor's pid.
    """
    _check_confined(plan)
    builder = _Builder()
    cplan = builder.plan(plan)
    mon = ffi.new("struct pc_monitor *")
    mon.path = builder.s(monitor)
    mon.argv = builder.strv(list(argv))
    mon.envp = builder.strv(list(env))
    mon.fds = builder.array("int", len(fds))
    for i, fd in enumerate(fds):
        mon.fds[i] = fd
    mon.n_fds = len(fds)
    res = ffi.new("struct pc_spawn_result *")
    ctl = ffi.new("int *")
    mpid = ffi.new("int *")
    rc = lib.pc_spawn_monitored(cplan, mon, res, ctl, mpid)
    if rc > 0 and res.into_cgroup < 0:
        _into_failed(rc, plan)
    if rc > 0:
        raise SyscallError(rc, f"clone3(container under its monitor): {os.strerror(rc)}")
    _check(rc, "clone", "monitor")
    spawned = Spawned(pid=res.pid, pidfd=res.pidfd, sock=res.sock, into_cgroup=res.into_cgroup > 0)
    return spawned, int(ctl[0]), int(mpid[0])


def _report(rc: int, err: Any) -> ChildReport | None:
    if rc <= 0 and err.fd >= 0:
        os.close(err.fd)
    _check(rc, "recv", "child error socket")
    if rc == 0:
        return None
    stage = int(err.stage)
    return ChildReport(
        stage=STAGES.get(stage, str(stage)),
        errno=int(err.err),
        exit_code=int(err.exit_code),
        message=ffi.string(err.message).decode(errors="replace"),
        ready=stage == STAGE_READY,
        fd=int(err.fd),
        pid=int(err.pid),
    )


def release(sock: int) -> ChildReport | None:
    """Let the child go on; return its failure or readiness report, or None once it exec'd."""
    err = ffi.new("struct pc_error *")
    return _report(lib.pc_release(sock, err), err)


def release_with_fd(sock: int, fd: int) -> ChildReport | None:
    """Like :func:`release`, handing the child ``fd`` (SCM_RIGHTS) with the release byte."""
    err = ffi.new("struct pc_error *")
    return _report(lib.pc_release_fd(sock, fd, err), err)


REPORT_SIZE: int = ffi.sizeof("struct pc_error")
"""The size of one (stage, errno, message) report a child sends on failure."""


def parse_report(data: bytes) -> ChildReport:
    """The report in ``data``, the :data:`REPORT_SIZE` bytes of one child's message."""
    if len(data) != REPORT_SIZE:
        raise ValueError(f"a child report has {REPORT_SIZE} bytes, not {len(data)}")
    err = ffi.new("struct pc_error *")
    ffi.memmove(err, data, REPORT_SIZE)
    report = _report(1, err)
    assert report is not None
    return report


def recv_report(sock: int) -> ChildReport | None:
    """Wait for the child's next report (None: it exec'd or exited without a word)."""
    err = ffi.new("struct pc_error *")
    return _report(lib.pc_recv_error(sock, err), err)


def wait_exit(pidfd: int) -> tuple[bool, int] | None:
    """Wait for the child behind ``pidfd``: (exited normally, status or signal number), or
    None if it is not ours to reap (already reaped, or not our child).
    """
    while True:
        try:
            info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
        except InterruptedError:
            continue
        except ChildProcessError:
            return None
        if info is not None:
            return info.si_code == os.CLD_EXITED, info.si_status


def exit_code(ended: tuple[bool, int] | None) -> int:
    """:func:`wait_exit`'s answer as an exit status (128+N if killed, -1: not ours)."""
    if ended is None:
        return -1
    exited, status = ended
    return status if exited else 128 + status


def reap(pidfd: int) -> int:
    """Wait for the child behind ``pidfd`` and return its exit status (128+N if killed)."""
    return exit_code(wait_exit(pidfd))


def remote_spawner() -> Any:
    """A warm OCI runtime worker's spawn channel (:mod:`pycontainers.runtime._remote`,
    whose ``spawn``/``reap`` stand for ours) when installed, else None. Looked up, never
    imported: a cold process has none.
    """
    remote = sys.modules.get("pycontainers.runtime._remote")
    return remote if remote is not None and remote.active() else None


def _abort(spawned: Spawned) -> None:
    """Kill and reap a child that never reached execve, closing its fds."""
    try:
        pidfd_send_signal(spawned.pidfd, 9)
    except SyscallError as exc:
        if exc.errno != _errno.ESRCH:
            raise
    reap(spawned.pidfd)
    os.close(spawned.sock)
    os.close(spawned.pidfd)


def _holder_failed(spawned: Spawned, report: ChildReport | None, what: str) -> SyscallError:
    _abort(spawned)
    if report is None:
        return SyscallError(_errno.ECHILD, f"{what}: the child exited before it was ready")
    return SyscallError(
        report.errno or _errno.EIO, f"{what}: {report.message}: {os.strerror(report.errno)}"
    )


def spawn_hold(clone_flags: int) -> tuple[int, int]:
    """Start a child in new namespaces of ``clone_flags`` that waits until killed.

    Returns ``(pid, pidfd)``; the caller kills it with :func:`pidfd_send_signal` and reaps it
    with ``os.waitid(os.P_PIDFD, pidfd, os.WEXITED)``.
    """
    spawned = spawn(Plan(argv=None, clone_flags=clone_flags, fds=((-1, 0), (-1, 1), (-1, 2))))
    if clone_flags & CLONE_NEWUSER:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{spawned.pid}/{name}", "w") as f:
                f.write("0 0 4294967295\n")
    report = release(spawned.sock)
    if report is None or not report.ready:
        raise _holder_failed(spawned, report, "spawn_hold")
    os.close(spawned.sock)
    return spawned.pid, spawned.pidfd


def spawn_joined(
    argv: Sequence[str],
    *,
    joins: Sequence[tuple[int, int]],
    env: Mapping[str, str] | None = None,
    fds: Mapping[int, int] | None = None,
) -> tuple[int, int]:
    """Run ``argv`` (``argv[0]`` absolute) after setns() into each ``(fd, nstype)`` of ``joins``.

    ``fds`` maps container fd numbers to the parent's fds; every other fd is closed.
    Returns ``(pid, pidfd)`` once the command is running.
    """
    environ = os.environ if env is None else env
    fdmap = {0: -1, 1: -1, 2: -1} if fds is None else dict(fds)
    plan = Plan(
        argv=tuple(argv),
        path=argv[0],
        env=tuple(f"{k}={v}" for k, v in environ.items()),
        joins=tuple(joins),
        fds=tuple((src, dst) for dst, src in sorted(fdmap.items())),
        new_session=False,
        cwd="/",
        host_tool=True,  # Namespace.run: the caller's own program, with the caller's rights
    )
    spawned = spawn(plan)
    report = release(spawned.sock)
    if report is not None:
        raise _holder_failed(spawned, report, f"spawn_joined {argv[0]}")
    os.close(spawned.sock)
    return spawned.pid, spawned.pidfd
