"""Run a further process inside a running container, as ``docker exec`` / ``runc exec`` do.

The C child joins the container's cgroup, then its namespaces (user first), and forks once
more so that the payload lands inside the container's pid namespace; it takes the
container's capabilities, seccomp filter and no_new_privs. It makes itself non-dumpable
before joining anything, so a process inside cannot reach this interpreter's binary or
memory through /proc/PID/exe or /proc/PID/mem (CVE-2019-5736).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from pycontainers._plan import Plan
from pycontainers.errors import ContainerError, ContainerTimeout
from pycontainers.fs.users import resolve_user
from pycontainers.runtime.plan import CLONE_FLAGS, _capabilities, _seccomp
from pycontainers.runtime.stdio import PIPE, Stdio, StdioArg, communicate
from pycontainers.security.capabilities import cap_last
from pycontainers.spec import DEFAULT_PATH, Process, User

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.run import CompletedContainer

# setns order: the user namespace first (it grants the rights for the others), pid last
_JOIN_ORDER = ("user", "cgroup", "ipc", "uts", "net", "time", "mnt", "pid")


def _container_env(pid: int) -> list[tuple[str, str]]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        raw = f.read()
    out = []
    for entry in raw.split(b"\0"):
        key, sep, value = entry.decode(errors="replace").partition("=")
        if sep:
            out.append((key, value))
    return out


def _setgroups_denied(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/setgroups") as f:
            return f.read().strip() == "deny"
    except OSError:
        return False


def exec_in(
    container: Container,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | Iterable[str] | None = None,
    user: str | int | User | None = None,
    cwd: str | None = None,
    capture_output: bool = False,
    input: bytes | None = None,
    stdin: StdioArg = None,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    timeout: float | None = None,
    tty: bool = False,
) -> CompletedContainer:
    """Run ``args`` inside ``container`` and wait for it (see :meth:`Container.exec`).

    ``tty``: ``stdin`` is a terminal (the slave of a pty the caller relays) that becomes
    the command's controlling terminal, so a shell has job control.
    """
    from pycontainers import _sys
    from pycontainers.runtime.launch import start_error
    from pycontainers.runtime.run import CompletedContainer

    if container.status not in ("running", "paused"):
        raise ContainerError(
            f"container {container.id[:12]} is {container.status}; exec needs a running one"
        )
    spec = container.spec
    pid = container.pid
    proc = Process(
        args=tuple(args), env=env, cwd=cwd or (spec.process.cwd if spec else "/"), user=user
    )
    base = dict(spec.process.environ()) if spec else dict(_container_env(pid))
    base.update(dict(proc.env))
    base.setdefault("PATH", DEFAULT_PATH)
    kinds = spec.namespaces if spec else frozenset(CLONE_FLAGS)
    joins: list[tuple[int, int]] = []
    cgroup_fds: list[int] = []
    if capture_output:
        stdout = stderr = PIPE
    if input is not None:
        stdin = PIPE
    stdio = Stdio(stdin, stdout, stderr)
    try:
        for kind in _JOIN_ORDER:
            if kind not in kinds:
                continue
            if os.stat(f"/proc/{pid}/ns/{kind}").st_ino == os.stat(f"/proc/self/ns/{kind}").st_ino:
                continue  # shared with us: nothing to join
            joins.append(
                (os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC), CLONE_FLAGS[kind])
            )
        if container._cgroup is not None:
            cgroup_fds = [
                os.open(p, os.O_WRONLY | os.O_CLOEXEC) for p in container._cgroup.procs_paths()
            ]
        uid, gid, groups = resolve_user(proc.user, f"/proc/{pid}/root")
        plan = Plan(
            argv=proc.args,
            env=tuple(f"{k}={v}" for k, v in base.items()),
            joins=tuple(joins),
            cgroup_fds=tuple(cgroup_fds),
            ids=(uid, gid, groups),
            no_setgroups=_setgroups_denied(pid),
            cwd=proc.cwd,
            umask=proc.umask,
            fds=stdio.fd_map(),
            new_session=2 if tty else 1,
            no_new_privs=spec.process.no_new_privs if spec else True,
            capabilities=_capabilities(spec) if spec else None,
            cap_last=cap_last(),
            seccomp_bpf=_seccomp(spec)[0] if spec else None,
            seccomp_flags=_seccomp(spec)[1] if spec else 0,
            no_sync=True,
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        spawned = _sys.spawn(plan)
    except BaseException:
        stdio.close_all()
        raise
    finally:
        for fd, _ in joins:
            os.close(fd)
        for fd in cgroup_fds:
            os.close(fd)
    stdio.close_child_ends()
    try:
        report = _sys.recv_report(spawned.sock)
        if report is not None:
            _sys.pidfd_send_signal(spawned.pidfd, 9)
            _sys.reap(spawned.pidfd)
            raise start_error(report, proc.args)
        out, err, timed_out = communicate(stdio, spawned.pidfd, input, deadline)
        if timed_out:
            _sys.pidfd_send_signal(spawned.pidfd, 9)
            _sys.reap(spawned.pidfd)
            assert timeout is not None
            raise ContainerTimeout(list(proc.args), timeout, out, err)
        code = _sys.reap(spawned.pidfd)
    finally:
        os.close(spawned.sock)
        os.close(spawned.pidfd)
        stdio.close_all()
    return CompletedContainer(proc.args, code, out or b"", err or b"")
