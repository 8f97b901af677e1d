"""The zygote's own program: it runs inside the zygote's container, never in the caller.

Started by :class:`pycontainers.runtime.zygote.Zygote` as ``python -c "...; main()"`` with
its control socket (``SOCK_SEQPACKET``) on fd 0. The first message is its configuration:
the call plan (built by the caller from the sandbox's spec with
:func:`~pycontainers.runtime.confine.confinement`) and the modules to preload. It imports
them, answers ``R`` (or ``E`` and the traceback), and then serves: each request carries the
fds of one call (its call socket, stdout and stderr pipes, status socket and the
``cgroup.procs`` files of its cgroup). For each the zygote, single-threaded, makes a new
pid namespace for its next child, forks the call as that namespace's pid 1, and tells the
caller the child's pidfd (``P``) and, once reaped, its wait status (``X``) on the status
socket. The child confines itself with :func:`pycontainers._sys.enter_sandbox` before it
reads anything of the call, then unpickles, calls, answers and exits.
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

try:  # every call answers with it: imported once, here, not in each call
    import cloudpickle  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the sandbox's callers have it
    cloudpickle = None

from pycontainers import _sys
from pycontainers._plan import Plan

CTL_FD = 0
MAX_MESSAGE = 1 << 20
MAX_FDS = 4 + 32  # call, out, err, status + one cgroup.procs per hierarchy
# where the call's fds land in the child (0: /dev/null)
OUT_FD, ERR_FD, CALL_FD, STATUS_FD, CGROUP_FD0 = 1, 2, 3, 4, 5


def main() -> None:
    """Read the configuration, preload, serve until the control socket closes."""
    ctl = socket.socket(fileno=CTL_FD)
    msg, _, _, _ = socket.recv_fds(ctl, MAX_MESSAGE, 0)
    if not msg:
        return
    config = pickle.loads(msg)
    plan: Plan = config["plan"]
    try:
        for name in config["preload"]:
            importlib.import_module(name)
        threads = _threads()
        if threads != 1:
            raise RuntimeError(
                f"the zygote has {threads} threads after the preload imports; it must be "
                "single-threaded to fork (a preloaded module started threads)"
            )
    except BaseException:
        ctl.send(b"E" + traceback.format_exc().encode(errors="replace"))
        return
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    ctl.send(b"R")
    _serve(ctl, plan, own_pidns)


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _serve(ctl: socket.socket, plan: Plan, own_pidns: int) -> None:
    sel = selectors.DefaultSelector()
    sel.register(ctl, selectors.EVENT_READ, None)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    msg, fds, _, _ = socket.recv_fds(ctl, MAX_MESSAGE, MAX_FDS)
                except OSError:
                    return
                if not msg:
                    return  # the caller closed the sandbox (or died): all calls die with us
                _start(sel, msg, list(fds), plan, own_pidns)
            else:
                pid, status = key.data
                sel.unregister(key.fd)
                os.close(key.fd)
                _, wstatus = os.waitpid(pid, 0)
                try:
                    status.send(b"X" + struct.pack("i", wstatus))
                except OSError:
                    pass  # the caller gave up on this call
                status.close()


def _start(
    sel: selectors.BaseSelector, msg: bytes, fds: list[int], plan: Plan, own_pidns: int
) -> None:
    """Fork one call as pid 1 of a new pid namespace."""
    if len(fds) < 4:
        for fd in fds:
            os.close(fd)
        return
    status = socket.socket(fileno=fds[3])
    try:
        request = pickle.loads(msg)
        for name in request.get("modules", ()):
            try:
                importlib.import_module(name)
            except Exception:
                pass  # the call imports it again and reports the error itself
        threads = _threads()
        if threads != 1:
            raise RuntimeError(f"the zygote has {threads} threads; refusing to fork")
        _sys.unshare(_sys.CLONE_NEWPID)  # our next child is pid 1 of a new pid namespace
        try:
            pid = os.fork()
            if pid == 0:
                _child(fds, request, plan)  # never returns
        finally:
            _sys.setns(own_pidns, _sys.CLONE_NEWPID)  # and so is the one after it
    except BaseException:
        try:
            status.send(b"E" + traceback.format_exc().encode(errors="replace"))
        except OSError:
            pass
        status.close()
        for fd in fds[:3] + fds[4:]:
            os.close(fd)
        return
    for fd in fds[:3] + fds[4:]:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    try:
        socket.send_fds(status, [b"P"], [pidfd])
    except OSError:
        pass
    sel.register(pidfd, selectors.EVENT_READ, (pid, status))


def _child(fds: list[int], request: dict[str, Any], plan: Plan) -> None:
    """The call: place its fds, confine itself, run, answer, exit (never returns)."""
    code = 70
    try:
        ncg = len(fds) - 4
        # lift every fd above the targets first, so no dup2 overwrites one still needed
        top = CGROUP_FD0 + ncg
        lifted = [_dup_above(fd, top) for fd in fds]
        os.dup2(_dup_above(os.open("/dev/null", os.O_RDWR), top), 0)
        sources = [lifted[1], lifted[2], lifted[0], lifted[3], *lifted[4:]]
        targets = [OUT_FD, ERR_FD, CALL_FD, STATUS_FD, *range(CGROUP_FD0, top)]
        for src, dst in zip(sources, targets, strict=True):
            os.dup2(src, dst)
        os.closerange(top, 1 << 20)  # the zygote's fds, other calls' fds: none stays
        call_plan = attrs.evolve(
            plan,
            cgroup_fds=tuple(range(CGROUP_FD0, top)),
            hostname=request.get("hostname") or os.urandom(6).hex(),
        )
        _sys.enter_sandbox(call_plan, STATUS_FD)  # returns only when fully confined
        for fd in range(CGROUP_FD0, top):
            os.close(fd)
        os.close(STATUS_FD)
        code = run_call(request, CALL_FD)
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
