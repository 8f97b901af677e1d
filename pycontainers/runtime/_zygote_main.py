"""The zygote's own program: it runs inside the zygote's container, never in the caller.

Started by :class:`pycontainers.runtime.zygote.Zygote` as ``python -c "...; main()"`` with
its control socket (``SOCK_SEQPACKET``) on fd 0. The first message is its configuration:
the call plan (built by the caller from the sandbox's spec with
:func:`~pycontainers.runtime.confine.confinement`) and the modules to preload. It imports
them, answers ``R`` (or ``E`` and the traceback), and then serves.

The zygote stays single-threaded and keeps one *standby* ready: a fork made as pid 1 of a
new pid namespace that has already made its own mnt, uts, ipc and net namespaces, a fresh
/proc and /tmp (:func:`pycontainers._sys.sandbox_prepare`) and waits. Each request carries
the fds of one call (its call socket, stdout and stderr pipes, status socket and the
``cgroup.procs`` files of its cgroup); the zygote hands them to the standby, tells the
caller the standby's pidfd (``P``) and, once reaped, its wait status (``X``) on the status
socket, and forks the next standby. With the call's fds the standby confines itself
(:func:`pycontainers._sys.sandbox_confine`: cgroup, capabilities, no_new_privs, seccomp)
before it reads anything of the call, then unpickles, calls, answers and exits. A standby
never serves a second call.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import pickle
import selectors
import socket
import struct
import sys
import traceback
from typing import Any

import attrs

from pycontainers import _sys
from pycontainers._plan import Plan

try:  # every call answers with it: imported once, here, not in each call
    import cloudpickle  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the sandbox's callers have it
    cloudpickle = None

CTL_FD = 0
MAX_MESSAGE = 1 << 20
MAX_FDS = 4 + 32  # call, out, err, status + one cgroup.procs per hierarchy
# where a call's fds land in its process (0: /dev/null)
OUT_FD, ERR_FD, CALL_FD, STATUS_FD = 1, 2, 3, 4
STANDBY_FD = 3  # the standby's socket to the zygote until its call comes
CGROUP_FD0 = 4  # the standby's cgroup.procs fds while it prepares


@attrs.define
class _Standby:
    pid: int
    pidfd: int
    sock: socket.socket


@attrs.define
class _Zygote:
    ctl: socket.socket
    plan: Plan
    own_pidns: int
    sel: selectors.BaseSelector
    next_group: list[int] = attrs.field(factory=list)  # cgroup.procs fds for the next standby
    standby: _Standby | None = None
    failed: bytes | None = None  # the report of a standby that died before its call


def main() -> None:
    """Read the configuration, preload, serve until the control socket closes."""
    ctl = socket.socket(fileno=CTL_FD)
    msg, group, _, _ = socket.recv_fds(ctl, MAX_MESSAGE, MAX_FDS)
    if not msg:
        return
    config = pickle.loads(msg)
    try:
        for name in config["preload"]:
            importlib.import_module(name)
        _single_threaded()
    except BaseException:
        ctl.send(b"E" + traceback.format_exc().encode(errors="replace"))
        return
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    z = _Zygote(ctl, config["plan"], own_pidns, selectors.DefaultSelector(), list(group))
    z.sel.register(ctl, selectors.EVENT_READ, None)
    _new_standby(z)
    ctl.send(b"R")
    _serve(z)


def _single_threaded() -> None:
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        raise RuntimeError(
            f"the zygote has {threads} threads; it must be single-threaded to fork (a "
            "preloaded module started threads)"
        )


def _serve(z: _Zygote) -> None:
    while True:
        for key, _ in z.sel.select():
            if key.data is None:
                try:
                    msg, fds, _, _ = socket.recv_fds(z.ctl, MAX_MESSAGE, MAX_FDS)
                except OSError:
                    return
                if not msg:
                    return  # the caller closed the sandbox (or died): all calls die with us
                _start(z, msg, list(fds))
            elif key.data == "standby":
                _standby_died(z)
            else:
                pid, status, standby_sock = key.data
                z.sel.unregister(key.fd)
                os.close(key.fd)
                _, wstatus = os.waitpid(pid, 0)
                report = _pending_report(standby_sock)
                standby_sock.close()
                try:
                    if report:
                        status.send(report)
                    status.send(b"X" + struct.pack("i", wstatus))
                except OSError:
                    pass  # the caller gave up on this call
                status.close()


def _pending_report(sock: socket.socket) -> bytes | None:
    """A report the standby sent while preparing (its setup failed), if any."""
    try:
        data = sock.recv(_sys.REPORT_SIZE + 1, socket.MSG_DONTWAIT)
    except OSError:
        return None
    return data if len(data) == _sys.REPORT_SIZE else None


def _standby_died(z: _Zygote) -> None:
    """The standby exited before it got a call: keep its report for the next request."""
    s = z.standby
    assert s is not None
    z.sel.unregister(s.pidfd)
    os.close(s.pidfd)
    os.waitpid(s.pid, 0)
    z.failed = _pending_report(s.sock) or b"E" + b"the call's process died while preparing"
    s.sock.close()
    z.standby = None


def _new_standby(z: _Zygote) -> None:
    """Fork the next standby as pid 1 of a new pid namespace, in the caller's next group."""
    group, z.next_group = z.next_group, []
    try:
        _single_threaded()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        _sys.unshare(_sys.CLONE_NEWPID)  # our next child is pid 1 of a new pid namespace
        try:
            pid = os.fork()
            if pid == 0:
                _standby_main(theirs.fileno(), group, z.plan)  # never returns
        finally:
            _sys.setns(z.own_pidns, _sys.CLONE_NEWPID)  # and so is the one after it
    finally:
        for fd in group:
            os.close(fd)
    theirs.close()
    z.standby = _Standby(pid, os.pidfd_open(pid), ours)
    z.sel.register(z.standby.pidfd, selectors.EVENT_READ, "standby")


def _start(z: _Zygote, msg: bytes, fds: list[int]) -> None:
    """Hand one call to the standby, tell the caller, make the next standby."""
    if len(fds) < 4:
        for fd in fds:
            os.close(fd)
        return
    status = socket.socket(fileno=fds[3])
    others = fds[:3]
    try:
        if z.standby is None and z.failed is None:
            _new_standby(z)
        s = z.standby
        if s is not None:
            try:
                socket.send_fds(s.sock, [msg], fds[:4])
            except OSError:  # it died preparing, and we had not noticed yet
                _standby_died(z)
                s = None
        if s is None:
            failed, z.failed = z.failed or b"E(no standby)", None
            status.send(failed)
            status.send(b"X" + struct.pack("i", 125 << 8))
            raise _Handled
        z.sel.unregister(s.pidfd)
        z.standby = None
        socket.send_fds(status, [b"P"], [s.pidfd])
        z.sel.register(s.pidfd, selectors.EVENT_READ, (s.pid, status, s.sock))
    except _Handled:
        status.close()
    except BaseException:
        try:
            status.send(b"E" + traceback.format_exc().encode(errors="replace"))
        except OSError:
            pass
        status.close()
    finally:
        for fd in others:
            os.close(fd)
    for fd in z.next_group:  # not used: no standby was made with it
        os.close(fd)
    z.next_group = fds[4:]
    request = pickle.loads(msg)
    for name in request.get("modules", ()):  # for the next standbys
        try:
            importlib.import_module(name)
        except Exception:
            pass  # the call imports it again and reports the error itself
    try:
        _new_standby(z)
    except Exception:
        z.failed = b"E" + traceback.format_exc().encode(errors="replace")


class _Handled(Exception):
    pass


def _standby_main(sock_fd: int, group: list[int], plan: Plan) -> None:
    """The standby: join its group and prepare, wait for a call, confine, run it, answer,
    exit (never returns).
    """
    code = 70
    try:
        top = CGROUP_FD0 + len(group)
        lifted = [_dup_above(fd, 64) for fd in (sock_fd, *group)]
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        for src, dst in zip(lifted, (STANDBY_FD, *range(CGROUP_FD0, top)), strict=True):
            os.dup2(src, dst)
        os.closerange(top, 1 << 20)  # nothing of the zygote or its calls stays
        prepared = attrs.evolve(
            plan, cgroup_fds=tuple(range(CGROUP_FD0, top)), hostname=os.urandom(6).hex()
        )
        _sys.sandbox_prepare(prepared, STANDBY_FD)
        os.closerange(CGROUP_FD0, top)
        sock = socket.socket(fileno=STANDBY_FD)
        msg, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 4)
        if not msg or len(fds) != 4:
            code = 0
            return
        request = pickle.loads(msg)
        lifted = [_dup_above(fd, 64) for fd in fds]
        sock.detach()
        sources = [lifted[1], lifted[2], lifted[0], lifted[3]]
        for src, dst in zip(sources, (OUT_FD, ERR_FD, CALL_FD, STATUS_FD), strict=True):
            os.dup2(src, dst)
        os.closerange(STATUS_FD + 1, 1 << 20)  # the received copies
        _sys.sandbox_confine(attrs.evolve(plan, cgroup_fds=()), STATUS_FD)  # fully confined
        os.close(STATUS_FD)
        code = run_call(request, CALL_FD)
        for fd in (CALL_FD, OUT_FD, ERR_FD):  # the caller has it all now, before our exit
            os.close(fd)
    except BaseException:
        try:
            sys.stderr.write(traceback.format_exc())
            sys.stderr.flush()
        except BaseException:
            pass
    finally:
        os._exit(code)


def _dup_above(fd: int, floor: int) -> int:
    """A duplicate of ``fd`` numbered ``floor`` or above."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD, floor)


def run_call(request: dict[str, Any], call_fd: int) -> int:
    """Read the pickled call from ``call_fd``, run it, write the framed answer back:
    ``<16 hex digits: length><answer>``; the answer as the cold sandbox frames its own.
    """
    os.environ.clear()
    os.environ.update(request.get("env", {}))
    chunks = []
    while True:
        chunk = os.read(call_fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    dumps = cloudpickle.dumps if cloudpickle is not None else pickle.dumps
    try:
        fn, args, kwargs = pickle.loads(b"".join(chunks))
        value = fn(*args, **kwargs)
        try:
            blob = dumps(("ok", value))
        except Exception as exc:
            text = "".join(traceback.format_exception(exc))
            why = f"the result of {fn!r} cannot be pickled: {exc!r}"
            blob = pickle.dumps(("unpicklable", why, text))
    except BaseException as exc:
        text = "".join(traceback.format_exception(exc))
        raw: bytes | None
        try:
            raw = dumps(exc)
            pickle.loads(raw)
        except Exception:
            raw = None
        blob = pickle.dumps(("error", raw, repr(exc), text))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    data = memoryview(b"%016x" % len(blob) + blob)
    while data:
        data = data[os.write(call_fd, data) :]
    return 0
