"""A zygote: a confined Python process that has done its imports and forks each call.

The caller never forks itself. :class:`Zygote` starts a separate, exec'd interpreter (the
program in :mod:`pycontainers.runtime._zygote_main`) as the first process of a container
made by the engine (:class:`~pycontainers.runtime.launch.Launch`, so its own
namespaces, cgroup, capabilities and seccomp filter come from its spec like any
container's). It preloads modules and keeps a *standby* ready: a fork, pid 1 of a fresh
pid namespace, that has joined the cgroup the caller gave it and made fresh cgroup, mnt,
uts, ipc and net namespaces with its own /proc and /tmp. A call takes the standby: the
caller sets the call's limits on that cgroup, and the standby takes the capabilities,
no_new_privs and seccomp filter of :func:`call_plan` — computed here, in the caller, by
:func:`~pycontainers.runtime.confine.confinement` from the sandbox's spec — before it
reads anything of the call. Then the zygote forks the next standby.

The zygote's container holds two capabilities more than its calls (``SYS_ADMIN`` and
``NET_ADMIN``: it must make namespaces and mount in them); the calls drop them. Its
seccomp filter is Docker's default for that set; a call's filter stacks on top of it.
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pycontainers import _log, _plan
from pycontainers._plan import Op, Plan
from pycontainers.errors import SandboxError
from pycontainers.spec import ContainerSpec

if TYPE_CHECKING:
    from pycontainers._sys import ChildReport
    from pycontainers.cgroups import Resources
    from pycontainers.runtime.call_cgroups import CallGroup, CallGroups
    from pycontainers.runtime.launch import Launch

log = _log.get_logger("pycontainers.runtime")

BOOT = "from pycontainers.runtime._zygote_main import main; main()"
"""The zygote's program, run as ``python -c BOOT`` (pycontainers on its ``PYTHONPATH``)."""
ZYGOTE_CAPS = ("SYS_ADMIN", "NET_ADMIN")
"""What the zygote holds beyond its calls' set: to make namespaces, mount, bring lo up."""
CALL_NAMESPACES = ("mnt", "uts", "ipc", "net", "cgroup")
"""What a call unshares itself; its pid namespace the zygote makes before the fork."""
STASH = "/run/pycontainers-sandbox"
"""Where the zygote's container also shows the spec's binds below /tmp: a call mounts a
fresh /tmp over them and binds them again from here."""
START_TIMEOUT = 120.0
KILL_GRACE = 10.0
_TAIL = 4000


def call_plan(spec: ContainerSpec, *, writable_shm: bool = False) -> Plan:
    """The plan every call of a zygote confines itself with, from the sandbox's ``spec``.

    Capabilities, seccomp filter, no_new_privs, rlimits and user come from
    :func:`~pycontainers.runtime.plan.gather` (that is, from
    :func:`~pycontainers.runtime.confine.confinement`), as for a container made from
    ``spec``; the mounts are a fresh /proc (for the call's own pid namespace), a fresh
    /tmp (and /dev/shm with ``writable_shm``), then the spec's masked and read-only paths
    again over them.
    """
    from pycontainers.fs.rootfs import mount_to_op, security_ops
    from pycontainers.runtime.plan import CLONE_FLAGS, gather

    inputs = gather(spec)
    quiet = _plan.MS_NOSUID | _plan.MS_NODEV
    strict = _plan.OPT_STRICT
    ops = [
        Op(_plan.OP_MOUNT, "/proc", "proc", "proc", None, quiet | _plan.MS_NOEXEC, options=strict),
        Op(_plan.OP_MOUNT, "/tmp", "tmpfs", "tmpfs", "mode=1777", quiet, options=strict),
    ]
    for i, m in enumerate(spec.mounts):  # the spec's mounts below /tmp, again over the new one
        if m.normalized_target.startswith("/tmp/"):
            op = mount_to_op(m)
            ops.append(attrs.evolve(op, source=f"{STASH}/{i}") if op.kind == _plan.OP_BIND else op)
    if writable_shm:
        ops.append(
            Op(_plan.OP_MOUNT, "/dev/shm", "tmpfs", "tmpfs", "mode=1777", quiet, options=strict)
        )
    ops += security_ops(spec.security)
    flags = 0
    for kind in CALL_NAMESPACES:
        flags |= CLONE_FLAGS[kind]
    return Plan(
        argv=None,
        unshare_flags=flags,
        ops=tuple(ops),
        ids=inputs.ids,
        umask=spec.process.umask,
        cwd=spec.process.cwd or "/tmp",
        new_session=0,
        **inputs.security.plan_fields(),
    )


def zygote_spec(spec: ContainerSpec, python: str, env: Mapping[str, str]) -> ContainerSpec:
    """The zygote's own container: ``spec`` running ``python -c BOOT`` with ``env``, with
    :data:`ZYGOTE_CAPS` added (and Docker's seccomp filter for that set), and the spec's
    binds below /tmp shown again under :data:`STASH` for :func:`call_plan`.
    """
    from pycontainers.spec import Mount

    security = attrs.evolve(spec.security, cap_add=(*spec.security.cap_add, *ZYGOTE_CAPS))
    process = attrs.evolve(
        spec.process,
        args=(python, "-c", BOOT),
        env=tuple(f"{k}={v}" for k, v in env.items()),
    )
    stash = [
        Mount(target=f"{STASH}/{i}", source=m.source, options=("rbind",), read_only=m.read_only)
        for i, m in enumerate(spec.mounts)
        if m.type == "bind" and m.source and m.normalized_target.startswith("/tmp/")
    ]
    return attrs.evolve(spec, security=security, process=process, mounts=(*spec.mounts, *stash))


@attrs.frozen
class CallOutcome:
    """How one call ended, as the caller saw it.

    ``returncode``: the exit status of the call's pid 1 (128+N if signal N killed it; -1:
    unknown, the zygote died). ``answer``: the framed answer the call wrote, None if it
    wrote none (or only part of one). ``report``: the confinement step that failed, if one
    did. ``zygote_error``: the zygote could not start the call (its traceback).
    ``oom_killed``, ``pids_capped``: the OOM killer killed a process of the call's
    cgroup, its pids cap refused a fork (looked at only when there is no answer).
    """

    returncode: int
    answer: bytes | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    report: ChildReport | None = None
    zygote_error: str | None = None
    zygote_died: bool = False
    oom_killed: bool = False
    pids_capped: bool = False


class Zygote:
    """A running zygote (see the module docstring); :meth:`call` is thread-safe."""

    def __init__(
        self,
        spec: ContainerSpec,
        plan: Plan,
        preload: Sequence[str] = (),
        *,
        groups: CallGroups,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        from pycontainers.runtime.launch import Launch
        from pycontainers.runtime.resolve import host_mountpoint, needs_mountpoint
        from pycontainers.runtime.stdio import DEVNULL, Stdio

        self._closed = False
        self._groups = groups
        self._send = threading.Lock()
        self._standby_group: CallGroup | None = None  # joined by the zygote's standby
        self._unsettled: list[_Unsettled] = []
        self._log = os.memfd_create("pycontainers-zygote", os.MFD_CLOEXEC)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._ctl = ours
        try:
            stdio = Stdio(theirs.fileno(), DEVNULL, self._log)
            mnt = host_mountpoint() if needs_mountpoint(spec) else None
            self._launch: Launch = Launch(
                spec, stdio, host_mountpoint=mnt, start_fifo=None, cgroup_name=os.urandom(8).hex()
            )
        except BaseException:
            ours.close()
            os.close(self._log)
            raise
        finally:
            theirs.close()
        self.pid = self._launch.pid
        self.pidfd = self._launch.pidfd
        try:
            self._standby_group = groups.take()
            config = pickle.dumps({"plan": plan, "preload": list(preload)})
            socket.send_fds(self._ctl, [config], self._standby_group.fds)
            self._await_ready(start_timeout)
        except BaseException:
            self.close()
            raise
        log.debug("zygote.started", pid=self.pid, preload=list(preload))

    def _await_ready(self, timeout: float) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._ctl, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise SandboxError(f"the sandbox's zygote did not start within {timeout} s")
        reply = self._ctl.recv(1 << 20)
        if reply == b"R":
            return
        if reply[:1] == b"E":
            detail = reply[1:].decode(errors="replace")[-_TAIL:]
            raise SandboxError(f"the sandbox's zygote failed to preload:\n{detail}")
        raise SandboxError(
            f"the sandbox's zygote exited at start; its stderr ends with:\n{self.log_tail()}"
        )

    def alive(self) -> bool:
        """Whether the zygote still runs and serves calls."""
        from pycontainers.runtime.stdio import wait_readable

        return not self._closed and not wait_readable(self.pidfd, 0)

    def log_tail(self) -> str:
        """The end of what the zygote itself wrote on its stderr."""
        size = os.fstat(self._log).st_size
        return os.pread(self._log, _TAIL, max(0, size - _TAIL)).decode(errors="replace")

    def call(
        self,
        payload: bytes,
        *,
        env: Mapping[str, str],
        limits: Resources,
        timeout: float | None,
        modules: Sequence[str] = (),
    ) -> CallOutcome:
        """Run one call: ``payload`` is its pickled ``(fn, args, kwargs)``; ``env`` its
        whole environment; ``limits`` its cgroup's (see
        :func:`~pycontainers.runtime.call_cgroups.call_limits`); ``modules`` are imported
        by the zygote after it (for the next calls).
        """
        self.settle(0)  # the groups of calls that ended since: back to the pool
        call, call_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        status, status_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        request = pickle.dumps({"env": dict(env), "modules": list(modules)})
        group: CallGroup | None = None
        sent = False
        try:
            with self._send:  # the zygote takes requests in order: standby k runs call k
                group, nxt = self._standby_group, self._groups.take()
                try:
                    if group is None:
                        raise SandboxError("the sandbox's zygote has no standby cgroup")
                    self._groups.limit(group, limits)
                    fds = [call_child.fileno(), out_w, err_w, status_child.fileno(), *nxt.fds]
                    socket.send_fds(self._ctl, [request], fds)
                    sent = True
                except OSError:
                    pass  # the zygote is gone
                finally:
                    self._standby_group = nxt
        finally:
            call_child.close()
            status_child.close()
            os.close(out_w)
            os.close(err_w)
        exchange: _Exchange | None = None
        try:
            if not sent:
                outcome = CallOutcome(-1, None, b"", b"", zygote_died=True)
            else:
                exchange = _Exchange(call, status, out_r, err_r, payload, timeout)
                outcome = exchange.run()
        finally:
            call.close()
            os.close(out_r)
            os.close(err_r)
            if exchange is None or not exchange.unsettled:
                status.close()
        assert group is not None
        if exchange is not None and exchange.unsettled:
            with self._send:
                self._unsettled.append(_Unsettled(status, exchange.pidfd, group))
            return outcome
        if outcome.answer is None and outcome.returncode >= 0:
            outcome = attrs.evolve(
                outcome, oom_killed=group.oom_killed(), pids_capped=group.pids_capped()
            )
        self._groups.give_back(group, empty=outcome.returncode >= 0)
        return outcome

    def settle(self, wait: float) -> None:
        """Take back the cgroups of answered calls whose pid 1 was reaped since, waiting up
        to ``wait`` seconds for those still exiting (their cgroups are removed after that).
        """
        from pycontainers.runtime.stdio import wait_readable

        with self._send:
            items, self._unsettled = self._unsettled, []
        deadline = time.monotonic() + wait
        keep: list[_Unsettled] = []
        for item in items:
            ended = False
            while wait_readable(item.status.fileno(), max(0.0, deadline - time.monotonic())):
                try:
                    data = item.status.recv(1 << 16, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    ended = True
                    break
                item.reaped = item.reaped or data[:1] == b"X"
            if ended or wait > 0:
                item.status.close()
                os.close(item.pidfd)
                self._groups.give_back(item.group, empty=item.reaped)
            else:
                keep.append(item)
        with self._send:
            self._unsettled[:0] = keep

    def close(self) -> None:
        """Stop the zygote (its running calls die with it) and remove its container."""
        if self._closed:
            return
        self._closed = True
        from pycontainers import _sys
        from pycontainers.runtime.stdio import wait_readable

        self.settle(KILL_GRACE)

        self._ctl.close()  # the zygote leaves when its control socket closes
        if not wait_readable(self.pidfd, 5.0):
            try:
                _sys.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass
        try:
            _sys.reap(self.pidfd)
        finally:
            self._launch.remove_cgroup()
            self._launch.close()
            os.close(self._log)
            if self._standby_group is not None:
                self._groups.drop(self._standby_group)
                self._standby_group = None
            self._groups.close()
        log.debug("zygote.stopped", pid=self.pid)


@attrs.define
class _Unsettled:
    """An answered call not reaped yet: its status socket, pidfd and cgroup."""

    status: socket.socket
    pidfd: int
    group: CallGroup
    reaped: bool = False


class _Exchange:
    """The caller's side of one call: feed the payload, collect output, answer and status;
    kill the call at its deadline.
    """

    def __init__(
        self,
        call: socket.socket,
        status: socket.socket,
        out: int,
        err: int,
        payload: bytes,
        timeout: float | None,
    ) -> None:
        self.call, self.status = call, status
        self.bufs: dict[int, list[bytes]] = {call.fileno(): [], out: [], err: []}
        self.out, self.err = out, err
        self.pending = memoryview(payload)
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.pidfd = -1
        self.wstatus: int | None = None
        self.report: ChildReport | None = None
        self.zygote_error: str | None = None
        self.status_done = False
        self.timed_out = False
        self.kill_deadline: float | None = None
        self.answer: bytes | None = None
        self.answered = False

    @property
    def unsettled(self) -> bool:
        """It answered before it was reaped: the status socket and pidfd stay open."""
        return self.answered and not self.status_done

    def run(self) -> CallOutcome:

        self.call.setblocking(False)
        sel = selectors.DefaultSelector()
        try:
            sel.register(self.call, selectors.EVENT_READ | selectors.EVENT_WRITE)
            sel.register(self.out, selectors.EVENT_READ)
            sel.register(self.err, selectors.EVENT_READ)
            sel.register(self.status, selectors.EVENT_READ)
            streams = {self.call.fileno(), self.out, self.err}
            # done when the call's streams ended and, unless it answered, it was reaped: an
            # answered call's exit (namespaces torn down) is waited for off its path
            while (not self.status_done and not self.answered) or streams:
                if self.kill_deadline is not None and time.monotonic() > self.kill_deadline:
                    break  # the zygote did not report the killed call: give up on it
                for key, events in sel.select(self._wait()):
                    if key.fileobj is self.status:
                        if self._status():
                            sel.unregister(self.status)
                    elif (
                        key.fileobj is self.call and events & selectors.EVENT_WRITE and self._feed()
                    ):
                        sel.modify(self.call, selectors.EVENT_READ)
                    if key.fileobj is not self.status and events & selectors.EVENT_READ:
                        fd = key.fd
                        chunk = _read(fd)
                        if chunk is None:
                            continue
                        if chunk:
                            self.bufs[fd].append(chunk)
                        else:
                            sel.unregister(key.fileobj)
                            streams.discard(fd)
                            if fd == self.call.fileno():
                                self.answer = _unframe(b"".join(self.bufs[fd]))
                                self.answered = self.answer is not None and self.pidfd >= 0
                self._check_deadline()
        finally:
            sel.close()
            if self.pidfd >= 0 and not self.unsettled:
                os.close(self.pidfd)
        code = -1
        if self.wstatus is not None:
            code = os.waitstatus_to_exitcode(self.wstatus)
            code = 128 - code if code < 0 else code
        elif self.unsettled:
            code = 0  # it answered, and the runner then exits 0
        return CallOutcome(
            code,
            self.answer,
            b"".join(self.bufs[self.out]),
            b"".join(self.bufs[self.err]),
            timed_out=self.timed_out,
            report=self.report,
            zygote_error=self.zygote_error,
            zygote_died=self.status_done
            and self.wstatus is None
            and self.zygote_error is None
            and self.report is None,
        )

    def _wait(self) -> float | None:
        limit = self.kill_deadline if self.timed_out else self.deadline
        return None if limit is None else max(0.0, limit - time.monotonic())

    def _check_deadline(self) -> None:
        if self.timed_out or self.deadline is None or time.monotonic() < self.deadline:
            return
        self.timed_out = True
        self.kill_deadline = time.monotonic() + KILL_GRACE
        self._kill()

    def _kill(self) -> None:
        from pycontainers import _sys

        if self.pidfd >= 0 and self.wstatus is None:
            try:  # pid 1 of the call's pid namespace: the kernel kills the rest
                _sys.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass

    def _status(self) -> bool:
        """Take one status message; True at its end (EOF)."""
        from pycontainers import _sys

        try:
            data, fds, _, _ = socket.recv_fds(self.status, 1 << 16, 1)
        except OSError:
            data, fds = b"", []
        for fd in fds:
            if self.pidfd < 0:
                self.pidfd = fd
                if self.timed_out:
                    self._kill()
            else:
                os.close(fd)
        if not data:
            self.status_done = True
            return True
        if data[:1] == b"X" and len(data) == 5:
            (self.wstatus,) = struct.unpack("i", data[1:])
        elif data[:1] == b"E":
            self.zygote_error = data[1:].decode(errors="replace")
        elif len(data) == _sys.REPORT_SIZE:
            self.report = _sys.parse_report(data)
        return False

    def _feed(self) -> bool:
        """Send more of the payload; True once all is sent (or the call stopped reading)."""
        try:
            while self.pending:
                n = self.call.send(self.pending)
                self.pending = self.pending[n:]
        except BlockingIOError:
            return False
        except OSError:
            self.pending = memoryview(b"")
        try:
            self.call.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return True


def _read(fd: int) -> bytes | None:
    """A chunk, b"" at EOF, None when nothing is there yet (a spurious wake-up)."""
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _unframe(data: bytes) -> bytes | None:
    """The answer in ``<16 hex digits: length><answer>``; None if incomplete."""
    if len(data) < 16:
        return None
    try:
        size = int(data[:16], 16)
    except ValueError:
        return None
    return data[16:] if len(data) - 16 == size else None


__all__ = [
    "BOOT",
    "CALL_NAMESPACES",
    "ZYGOTE_CAPS",
    "CallOutcome",
    "Zygote",
    "call_plan",
    "zygote_spec",
]
