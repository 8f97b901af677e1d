"""Run a further process inside a running container, as ``docker exec`` / ``runc exec`` do.

The C child joins the container's cgroup, then its namespaces (user first), and forks once
more so that the payload lands inside the container's pid namespace; it takes the
capabilities, seccomp filter, no_new_privs and rlimits that
:func:`~pycontainers.runtime.confine.confinement` derives from the container's stored spec,
exactly as the container's first process did. It makes itself non-dumpable
before joining anything, so a process inside cannot reach this interpreter's binary or
memory through /proc/PID/exe or /proc/PID/mem (CVE-2019-5736).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pycontainers._plan import Plan
from pycontainers.errors import ContainerTimeout
from pycontainers.fs.users import resolve_user
from pycontainers.runtime._childsetup import await_report
from pycontainers.runtime.confine import confinement
from pycontainers.runtime.enter import Entry, open_entry
from pycontainers.runtime.lifecycle import require
from pycontainers.runtime.stdio import PIPE, Stdio, StdioArg, communicate
from pycontainers.spec import DEFAULT_PATH, Process, SecurityOptions, User

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.run import CompletedContainer


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
    privileged: bool = False,
    cap_add: Iterable[str] = (),
    console_socket: int | None = None,
    console_size: tuple[int, int] | None = None,
) -> CompletedContainer:
    """Run ``args`` inside ``container`` and wait for it (see :meth:`Container.exec`).

    ``tty``: ``stdin`` is a terminal (the slave of a pty the caller relays) that becomes
    the command's controlling terminal, so a shell has job control. ``console_socket``
    instead (an AF_UNIX socket, as an OCI console socket): the command gets a new pty of the
    container's own devpts (so ``tty`` inside can name it, as with ``docker exec -t``) as its
    stdio and controlling terminal, sized ``console_size`` (rows, columns), and its master
    is sent on the socket (SCM_RIGHTS); ``stdin``/``stdout``/``stderr`` are then unused. ``privileged`` and
    ``cap_add`` widen this process's capabilities only (Docker's ``exec --privileged``);
    the container's seccomp filter, no_new_privs, rlimits, user mapping, cgroup and
    namespaces apply regardless. Everything comes from the container's stored spec
    (:func:`~pycontainers.runtime.enter.open_entry`): a missing or corrupt one refuses.
    """
    from pycontainers import _sys
    from pycontainers.runtime._childsetup import start_error
    from pycontainers.runtime.run import CompletedContainer

    require("exec", container.status, container.id)
    if isinstance(cap_add, str):
        cap_add = (cap_add,)
    if capture_output:
        stdout = stderr = PIPE
    if input is not None:
        stdin = PIPE
    entry = open_entry(container)
    stdio: Stdio | None = None
    try:
        stdio = Stdio(stdin, stdout, stderr)
        fds = stdio.fd_map()
        if console_socket is not None:
            from pycontainers.runtime.plan import CONSOLE_FD

            fds = (*fds, (console_socket, CONSOLE_FD))
        plan = exec_plan(
            entry, args, env=env, user=user, cwd=cwd, fds=fds, tty=tty,
            privileged=privileged, cap_add=cap_add, console=console_socket is not None,
            console_size=console_size,
        )  # fmt: skip
        assert plan.argv is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        spawned = _sys.spawn(plan)
    except BaseException:
        if stdio is not None:
            stdio.close_all()
        raise
    finally:
        entry.close()
    stdio.close_child_ends()
    try:
        try:
            report = await_report(spawned.sock, spawned.pid)
        except BaseException:  # stuck in its setup: it never runs the command
            _sys.pidfd_send_signal(spawned.pidfd, 9)
            _sys.reap(spawned.pidfd)
            raise
        if report is not None:
            _sys.pidfd_send_signal(spawned.pidfd, 9)
            _sys.reap(spawned.pidfd)
            raise start_error(report, plan.argv)
        out, err, timed_out = communicate(stdio, spawned.pidfd, input, deadline)
        if timed_out:
            _sys.pidfd_send_signal(spawned.pidfd, 9)
            _sys.reap(spawned.pidfd)
            assert timeout is not None
            raise ContainerTimeout(list(plan.argv), timeout, out, err)
        code = _sys.reap(spawned.pidfd)
    finally:
        os.close(spawned.sock)
        os.close(spawned.pidfd)
        stdio.close_all()
    return CompletedContainer(plan.argv, code, out or b"", err or b"")


def exec_plan(
    entry: Entry,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | Iterable[str] | None = None,
    user: str | int | User | None = None,
    cwd: str | None = None,
    fds: tuple[tuple[int, int], ...] = ((-1, 0), (-1, 1), (-1, 2)),
    tty: bool = False,
    privileged: bool = False,
    cap_add: Iterable[str] = (),
    console: bool = False,
    console_size: tuple[int, int] | None = None,
    capabilities: SecurityOptions | None = None,
) -> Plan:
    """The plan of a process entering the container of ``entry`` (``exec`` and health checks).
    ``console``: the child makes a pty of the container's devpts its stdio and sends the
    master on container fd :data:`~pycontainers.runtime.plan.CONSOLE_FD`.

    Its security comes from :func:`~pycontainers.runtime.confine.confinement` of the
    entry's stored spec; user, working directory and environment default to the
    container's own process's, the user resolved in the container's root. ``capabilities``:
    the capability sets of these options (an OCI exec's ``process.capabilities``) replace
    the stored spec's for this process, and go through the same function; nothing else of
    them is used (seccomp, no_new_privs, rlimits stay the container's).
    """
    from pycontainers.runtime.plan import CONSOLE_FD

    spec = entry.spec
    if capabilities is not None:
        c = capabilities
        own = attrs.evolve(spec.security, cap_drop=c.cap_drop, cap_add=c.cap_add,
                           cap_effective=c.cap_effective, cap_permitted=c.cap_permitted,
                           cap_inheritable=c.cap_inheritable, cap_ambient=c.cap_ambient)  # fmt: skip
        spec = attrs.evolve(spec, security=own)
    security = confinement(spec, privileged=privileged, cap_add=cap_add)
    proc = Process(
        args=tuple(args),
        env=env,
        cwd=cwd or spec.process.cwd,
        user=user if user is not None else spec.process.user,
    )
    base = spec.process.environ()
    base.update(dict(proc.env))
    base.setdefault("PATH", DEFAULT_PATH)
    uid, gid, groups = resolve_user(proc.user, f"/proc/{entry.pid}/root")
    fields = security.plan_fields()
    fields["no_setgroups"] = fields["no_setgroups"] or entry.setgroups_denied
    return Plan(
        argv=proc.args,
        env=tuple(f"{k}={v}" for k, v in base.items()),
        joins=entry.joins,
        cgroup_fds=entry.cgroup_fds,
        cgroup_v2_fd=entry.cgroup_v2[0],
        cgroup_v2_index=entry.cgroup_v2[1],
        ids=(uid, gid, groups),
        cwd=proc.cwd,
        umask=proc.umask,
        fds=fds,
        new_session=2 if tty and not console else 1,
        console_sock=CONSOLE_FD if console else -1,
        console_size=console_size if console else None,
        no_sync=True,
        **fields,
    )
