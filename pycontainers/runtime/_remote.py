"""The warm OCI ``create``'s and ``exec``'s spawn split: the container's (or the exec'd)
process is cloned by the C front end (``pycontainers-runtime-front``), not by this process.

A shim (conmon, containerd-shim) runs ``pycontainers-runtime create`` and must be an
ancestor of the container's process: it is a subreaper and reaps it. A warm start worker
(:mod:`pycontainers.warmstart`) is its server's child, so it computes the plan as always and
hands it, packed (``pc_plan_pack``, ``_native/plan_wire.c``) with the fds it names, to the
front end, which runs ``pc_spawn`` on it -- the very C a cold create runs -- and sends back
the pid, a pidfd and the child's sync socket. From there the worker goes on as after its own
spawn (id maps, release, the ready report, state). The front end also reaps for the worker
what it cannot (the intermediate of a pid namespace handoff, a child killed by an abort).

The channel (a stream socket the front end made, passed with the request): each message is
an 8-byte header -- ``PCS`` and a kind letter, the payload's length (u32, native) -- sent
with its fds (SCM_RIGHTS), then the payload.

- ``S`` + the packed plan, with the plan's fds -> ``R`` + ``{rc, pid, into_cgroup}``
  (three i32; ``rc`` 0 or -errno, as ``pc_spawn``) with the pidfd and the sync socket.
- ``W`` + ``{pid}`` -> ``w`` + ``{err, status}``: ``waitpid(pid)`` in the front end (its
  child), ``err`` 0 or an errno, ``status`` the raw wait status. The answer comes once the
  child has ended (a foreground ``exec`` waits so): meanwhile the front end goes on relaying
  signals to the worker, which forwards them to the process (its pidfd).

When the command fails (a status other than 0), the front end kills and reaps every child
it spawned that was not waited for.
"""

from __future__ import annotations

import array
import errno as _errno
import os
import socket
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pycontainers._plan import Plan
    from pycontainers._sys import Spawned

_MAX_FDS = 253
_channel: socket.socket | None = None


def install(fd: int) -> None:
    """Use the spawn channel ``fd`` (a warm worker of the OCI runtime, once per process)."""
    global _channel
    _channel = socket.socket(fileno=fd)
    _channel.setblocking(True)


def active() -> bool:
    """Whether a container's process is cloned by the front end here."""
    return _channel is not None


def _send(kind: bytes, payload: bytes, fds: list[int]) -> None:
    assert _channel is not None
    head = b"PCS" + kind + struct.pack("=I", len(payload))
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    sent = _channel.sendmsg([head], anc)
    if sent != len(head):
        raise OSError(_errno.EPIPE, "spawn channel: short write")
    _channel.sendall(payload)


def _recv(kind: bytes, size: int, max_fds: int) -> tuple[bytes, list[int]]:
    assert _channel is not None
    head, anc, flags, _ = _channel.recvmsg(
        8, socket.CMSG_SPACE(4 * max_fds), socket.MSG_CMSG_CLOEXEC
    )
    fds: list[int] = []
    for level, ctype, data in anc:
        if level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS:
            fds += array.array("i", data[: len(data) - len(data) % 4]).tolist()
    try:
        if flags & socket.MSG_CTRUNC:
            raise OSError(_errno.EPROTO, "spawn channel: fds truncated")
        while len(head) < 8:
            more = _channel.recv(8 - len(head))
            if not more:
                break
            head += more
        if len(head) != 8 or head[:4] != b"PCS" + kind:
            raise OSError(_errno.EPROTO, "spawn channel: the front end answered out of turn")
        (length,) = struct.unpack("=I", head[4:])
        if length != size:
            raise OSError(_errno.EPROTO, "spawn channel: an answer of the wrong size")
        body = b""
        while len(body) < length:
            more = _channel.recv(length - len(body))
            if not more:
                raise OSError(_errno.EPROTO, "spawn channel: the answer is cut")
            body += more
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return body, fds


def spawn(plan: Plan) -> Spawned:
    """:func:`pycontainers._sys.spawn`, the clone done by the front end (see the module)."""
    from pycontainers import _sys

    packed, fds = _sys.pack_plan(plan)  # refuses an unconfined plan, as spawn does
    if len(fds) > _MAX_FDS:
        raise _sys.SyscallError(_errno.E2BIG, "spawn: the plan names too many fds")
    _send(b"S", packed, fds)
    body, got = _recv(b"R", 12, 2)
    rc, pid, into = struct.unpack("=3i", body)
    if rc == 0 and len(got) != 2:
        for fd in got:
            os.close(fd)
        raise _sys.SyscallError(_errno.EPROTO, "spawn: the front end sent no pidfd")
    if rc < 0 and into < 0:
        _sys._into_failed(-rc, plan)
    if rc < 0:
        raise _sys.SyscallError(-rc, f"clone3 (in the front end): {os.strerror(-rc)}")
    return _sys.Spawned(pid=pid, pidfd=got[0], sock=got[1], into_cgroup=into > 0)


def wait(pid: int) -> tuple[bool, int] | None:
    """:func:`pycontainers._sys.wait_exit` for a child of the front end, by pid: (exited
    normally, status or signal number), or None if it is not the front end's to reap.
    """
    _send(b"W", struct.pack("=i", pid), [])
    body, _ = _recv(b"w", 8, 0)
    err, status = struct.unpack("=2i", body)
    if err:
        return None
    if os.WIFEXITED(status):
        return True, os.WEXITSTATUS(status)
    return False, os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0


def reap(pid: int) -> int:
    """:func:`pycontainers._sys.reap` by pid, through the front end."""
    from pycontainers import _sys

    return _sys.exit_code(wait(pid))


__all__ = ["active", "install", "reap", "spawn", "wait"]
