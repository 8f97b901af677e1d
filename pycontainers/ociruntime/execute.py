"""``exec``: a further process in a running container, through the one entry path.

The process joins the container with :func:`~pycontainers.runtime.enter.open_entry` and
gets its security from :func:`~pycontainers.runtime.confine.confinement` of the stored
spec (:func:`~pycontainers.runtime.exec.exec_plan`), as every entering process does. An
OCI process (``--process``) or the flags override only what a process says — args, env,
cwd, user, terminal — and may narrow its capabilities, or widen them explicitly (``--cap``,
or capabilities the process JSON lists beyond the container's, as runc gives them); the
seccomp filter, no_new_privs (only ever turned on), rlimits, user mapping, cgroup and
namespaces stay the container's. With ``-d`` this process exits once the payload exec'd:
the caller's subreaper (conmon) reaps it, by the pid in ``--pid-file``.
"""

from __future__ import annotations

import json
import os
import signal
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers.errors import OciConfigError, OciRuntimeError

if TYPE_CHECKING:
    import argparse

    from pycontainers.ociruntime.report import Reporter


@attrs.frozen
class ExecProcess:
    """What an exec asks for (from ``--process`` and the flags)."""

    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str | None = None
    uid: int | None = None
    gid: int | None = None
    additional_gids: tuple[int, ...] = ()
    terminal: bool = False
    capabilities: dict[str, Any] | None = attrs.field(default=None, eq=False)
    """The process JSON's ``capabilities`` object (its five sets), or None: the
    container's. Given, they replace the container's sets for this process (narrower, or
    explicitly wider, as runc gives them), checked as ``create`` checks a config's."""
    no_new_privs: bool = False


def read_process(path: str) -> ExecProcess:
    """An OCI process JSON file (errors name the JSON path)."""
    try:
        with open(path, "rb") as f:
            doc: Any = json.loads(f.read())
    except FileNotFoundError:
        raise OciConfigError("$", f"--process: {path} does not exist", path=path) from None
    except ValueError as exc:
        raise OciConfigError(
            "$", f"--process: {path} is not valid JSON: {exc}", path=path
        ) from None
    if not isinstance(doc, dict):
        raise OciConfigError("$", "a process must be a JSON object", path=path)
    for key in ("apparmorProfile", "selinuxLabel"):
        if doc.get(key):
            raise OciConfigError(key, "not supported by pycontainers-runtime")
    args = doc.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise OciConfigError("args", f"expected a non-empty list of strings, got {args!r}")
    env = doc.get("env") or []
    if not isinstance(env, list) or not all(isinstance(e, str) and "=" in e for e in env):
        raise OciConfigError("env", "expected a list of NAME=value strings")
    cwd = doc.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or not cwd.startswith("/")):
        raise OciConfigError("cwd", f"expected an absolute path, got {cwd!r}")
    user = doc.get("user") or {}
    if not isinstance(user, dict):
        raise OciConfigError("user", "expected an object")
    ids = []
    for key in ("uid", "gid"):
        value = user.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise OciConfigError(f"user.{key}", f"expected an id, got {value!r}")
        ids.append(value)
    groups = user.get("additionalGids") or []
    if not isinstance(groups, list) or not all(isinstance(g, int) and g >= 0 for g in groups):
        raise OciConfigError("user.additionalGids", "expected a list of ids")
    caps = doc.get("capabilities")
    if caps is not None and not isinstance(caps, dict):
        raise OciConfigError("capabilities", "expected an object")
    nnp = doc.get("noNewPrivileges", False)
    terminal = doc.get("terminal", False)
    if not isinstance(nnp, bool) or not isinstance(terminal, bool):
        raise OciConfigError("noNewPrivileges", "noNewPrivileges and terminal are booleans")
    return ExecProcess(
        args=tuple(args), env=tuple(env), cwd=cwd, uid=ids[0], gid=ids[1],
        additional_gids=tuple(groups), terminal=terminal, capabilities=caps, no_new_privs=nnp,
    )  # fmt: skip


def from_flags(args: argparse.Namespace) -> ExecProcess:
    """The process given by ``--process`` and/or the command line and flags."""
    if args.apparmor or args.process_label:
        raise OciRuntimeError("--apparmor and --process-label are not supported")
    command = list(args.payload or [])
    if command[:1] == ["--"]:
        command = command[1:]
    if args.process:
        proc = read_process(args.process)
    elif command:
        proc = ExecProcess(args=tuple(command))
    else:
        raise OciRuntimeError("exec: give the command to run, or --process FILE")
    changes: dict[str, Any] = {}
    if args.env:
        changes["env"] = (*proc.env, *args.env)
    if args.cwd:
        changes["cwd"] = args.cwd
    if args.user:
        uid, _, gid = args.user.partition(":")
        try:
            changes["uid"] = int(uid)
            changes["gid"] = int(gid) if gid else None
        except ValueError:
            raise OciRuntimeError(f"--user: expected uid[:gid], got {args.user!r}") from None
    if args.additional_gids:
        changes["additional_gids"] = tuple(int(g) for g in args.additional_gids)
    if args.tty:
        changes["terminal"] = True
    if args.no_new_privs:
        changes["no_new_privs"] = True
    return attrs.evolve(proc, **changes)


def exec_command(args: argparse.Namespace, reporter: Reporter) -> int:
    """Run the exec; its exit status (0 at once with ``-d``)."""
    from pycontainers import _sys
    from pycontainers.ociruntime.create import OciStdio, connect_console
    from pycontainers.ociruntime.store import load
    from pycontainers.runtime._childsetup import start_error
    from pycontainers.runtime.enter import open_entry

    remote = _sys.remote_spawner()  # a warm worker's: the front end clones the process
    proc = from_flags(args)
    if proc.terminal and args.console_socket is None:
        raise OciRuntimeError("exec with a terminal needs --console-socket")
    if not proc.terminal and args.console_socket is not None:
        raise OciRuntimeError("--console-socket needs a terminal (-t, or terminal: true)")
    if proc.terminal and args.preserve_fds:
        raise OciRuntimeError("--preserve-fds cannot be combined with a terminal here")
    c = load(args.root, args.id)
    try:
        status = c.status
        if status != "running":
            raise OciRuntimeError(
                f"cannot exec in container {args.id}: it is {status}, not running"
            )
        entry = open_entry(c)
        console = None
        try:
            console = connect_console(args.console_socket) if proc.terminal else None
            stdio = OciStdio(args.preserve_fds, console)
            console = None  # stdio owns it
            try:
                plan = _plan(entry, proc, args.cap, stdio.fd_map(), stdio.console_fd is not None)
                spawned = remote.spawn(plan) if remote is not None else _sys.spawn(plan)
            finally:
                stdio.close_all()
        finally:
            if console is not None:
                os.close(console)
            entry.close()
    finally:
        c.close()
    try:
        try:
            report = _sys.recv_report(spawned.sock)
        finally:
            from pycontainers.cgroups import prime

            prime.stop()  # the process has joined the container's groups (or failed)
        if report is not None:
            _sys.pidfd_send_signal(spawned.pidfd, signal.SIGKILL)
            _ = remote.reap(spawned.pid) if remote is not None else _sys.reap(spawned.pidfd)
            raise start_error(report, plan.argv)
        if args.pid_file:
            from pycontainers._files import write_atomic

            write_atomic(os.path.abspath(args.pid_file), str(spawned.pid).encode(), 0o644)
        if args.detach:
            return 0  # the caller's subreaper reaps it
        return _wait(spawned.pidfd, spawned.pid, remote)
    finally:
        os.close(spawned.sock)
        os.close(spawned.pidfd)


def _plan(
    entry: Any,
    proc: ExecProcess,
    cap_flags: list[str],
    fds: tuple[tuple[int, int], ...],
    console: bool,
) -> Any:
    """The entry plan (:func:`exec_plan`: confinement of the stored spec) with what the
    process says applied: its capability sets in place of the container's (all five, checked
    and turned into masks as ``create`` does), ``--cap`` added, no_new_privs only ever turned
    on, a console made in the container's devpts.
    """
    from pycontainers.runtime.exec import exec_plan
    from pycontainers.runtime.plan import CONSOLE_FD
    from pycontainers.security.capabilities import normalize
    from pycontainers.spec import User

    extra = {normalize("--cap", c.removeprefix("CAP_")) for c in cap_flags}
    user = None
    if proc.uid is not None:
        user = User(uid=proc.uid, gid=proc.gid, additional_gids=proc.additional_gids)
    sets = None
    if proc.capabilities is not None:
        from pycontainers.oci.load import process_capabilities

        uid = proc.uid if proc.uid is not None else entry.spec.process.user.uid
        try:
            sets = process_capabilities(
                {"capabilities": proc.capabilities}, uid or 0, entry.spec.security
            )
        except OciConfigError as exc:  # the process file's own JSON path
            field = exc.field.removeprefix("process.")
            raise OciConfigError(field, str(exc).removeprefix(f"{exc.field}: ")) from None
    plan = exec_plan(
        entry, proc.args, env=list(proc.env), user=user, cwd=proc.cwd, fds=fds,
        cap_add=sorted(extra), capabilities=sets,
    )  # fmt: skip
    changes: dict[str, Any] = {}
    if sets is not None and entry.spec.security.privileged:
        # a privileged container's processes get every capability: the sets still narrow
        from pycontainers.security.capabilities import to_mask

        mask = to_mask(set(sets.capabilities()) | extra)
        assert plan.capabilities is not None
        changes["capabilities"] = tuple(m & mask for m in plan.capabilities)
    if proc.no_new_privs:
        changes["no_new_privs"] = True
    if console:
        changes["console_sock"] = CONSOLE_FD
        changes["new_session"] = 1
    return attrs.evolve(plan, **changes) if changes else plan


def _wait(pidfd: int, pid: int, remote: Any) -> int:
    """Wait for the exec'd process (signals to us go to it); its exit status. With
    ``remote`` (:func:`~pycontainers._sys.remote_spawner`), the front end of a warm exec
    reaps it (its child) and tells.
    """
    from pycontainers import _sys

    def forward(signum: int, _frame: Any) -> None:
        try:
            _sys.pidfd_send_signal(pidfd, signum)
        except OSError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                signal.SIGUSR2, signal.SIGWINCH):  # fmt: skip
        signal.signal(sig, forward)
    if remote is not None:
        return int(remote.reap(pid))
    return _sys.reap(pidfd)


__all__ = ["ExecProcess", "exec_command", "from_flags", "read_process"]
