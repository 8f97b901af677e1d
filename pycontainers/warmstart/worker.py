"""A warm start server's standby and worker: accept one request, check it, become the
client's process (fds, cwd, umask, signals, environment, argv, stdio) and run the command as
the cold launcher does. Nothing of the request runs before every check passed; a refusal
(``refuse REASON``) sends the client down the cold path.

The request (``_native/warm_client.c``): ``PCW1``, the body's length (u32, native), sent with
SCM_RIGHTS of the client's open fds and, last, an O_PATH fd of its cwd; then the body: NUL-
terminated items, each a kind letter and a value: ``b`` the context, ``a`` an argument,
``e`` an environment entry, ``f`` the number of the next passed fd, ``s`` (the OCI runtime's
front end only) the fd passed just before the cwd is its spawn channel
(:mod:`pycontainers.runtime._remote`).
"""

from __future__ import annotations

import io
import os
import select
import signal
import socket
import struct
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from pycontainers.warmstart import RUNTIME_TARGET, command_of
from pycontainers.warmstart.preload import changed

if TYPE_CHECKING:
    from pycontainers.warmstart.server import Server

_MAX_BODY = 16 << 20
_MAX_FDS = 253
# the variables the client's key holds: the server's must be the client's
_KEYED = ("LANG", "LANGUAGE", "HOME", "XDG_CACHE_HOME")


class _Refused(Exception):
    """A request this worker does not run (the reason goes back to the client)."""


def _keyed(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(("PYTHON", "LC_")) or k in _KEYED}


def context() -> bytes:
    """The ``pc_warm_context`` text of this process (``_native/warm_context.c``)."""
    from pycontainers._native import ffi, lib

    buf = ffi.new("char[]", 1 << 17)
    n = lib.pc_warm_context(buf, 1 << 17)
    if n < 0:
        raise _Refused("context")
    return bytes(ffi.buffer(buf, n))


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = conn.recv(min(n, 1 << 16))
        if not chunk:
            raise _Refused("short request")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class Request:
    """A client's request as received (the fds are open in this process)."""

    def __init__(self, conn: socket.socket) -> None:
        self.fds: list[int] = []  # received, in order; the cwd's last
        msg, anc, flags, _ = conn.recvmsg(8, socket.CMSG_SPACE(4 * (_MAX_FDS + 1)))
        for level, ctype, data in anc:
            if level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS:
                n = len(data) // 4
                self.fds += list(struct.unpack(f"{n}i", data[: 4 * n]))
        if flags & socket.MSG_CTRUNC:
            raise _Refused("fds truncated")
        if len(msg) < 8:
            msg += _recv_exact(conn, 8 - len(msg))
        if msg[:4] != b"PCW1":
            raise _Refused("bad request")
        (length,) = struct.unpack("=I", msg[4:])
        if length > _MAX_BODY:
            raise _Refused("request too large")
        body = _recv_exact(conn, length)
        self.blob = b""
        self.argv: list[str] = []
        self.env: dict[str, str] = {}
        self.numbers: list[int] = []
        self.spawn = False  # the fd before the cwd is the front end's spawn channel
        for item in body.split(b"\0")[:-1]:
            kind, value = item[:1], item[1:]
            if kind == b"b":
                self.blob = value
            elif kind == b"a":
                self.argv.append(os.fsdecode(value))
            elif kind == b"e":
                name, eq, val = os.fsdecode(value).partition("=")
                if eq and name not in self.env:  # getenv takes the first
                    self.env[name] = val
            elif kind == b"f":
                self.numbers.append(int(value))
            elif kind == b"s" and value == b"1":
                self.spawn = True
            else:
                raise _Refused("bad request")
        if len(self.numbers) + 1 + self.spawn != len(self.fds):
            raise _Refused("fds do not match")


def _status_fields(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
        return dict(line.rstrip("\n").partition(":\t")[::2] for line in f)


def _sigset(mask: str) -> set[int]:
    bits = int(mask, 16)
    return {s for s in range(1, signal.NSIG) if bits >> (s - 1) & 1}


def check(server: Server, conn: socket.socket, req: Request) -> tuple[int, dict[str, str]]:
    """Every check before anything runs: the client's pid and its /proc status."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    if uid != os.geteuid():
        raise _Refused("peer uid")
    if command_of(server.target, req.argv) not in server.commands:
        raise _Refused("not a warm command")
    if req.spawn != (server.target == RUNTIME_TARGET):  # the runtime's container needs it
        raise _Refused("spawn channel")
    if req.blob != context():
        raise _Refused("context")
    if _keyed(req.env) != _keyed(server.environ):
        raise _Refused("environment")
    stale = changed(server.snap)
    if stale is not None:
        raise _Refused("stale")
    status = _status_fields(pid)
    if not all(k in status for k in ("Umask", "SigIgn", "SigBlk")):
        raise _Refused("peer status")
    return pid, status


def _take_fds(req: Request, keep: int) -> tuple[int, int]:
    """dup2 each passed fd to its number, fchdir to the cwd, close every other fd but the
    connection ``keep`` and the spawn channel (both moved above all of them, close-on-exec);
    the connection's and the spawn channel's new fds (-1: none).
    """
    top = max([*req.numbers, 2]) + 1
    moved = [fcntl_dup(fd, top) for fd in req.fds]
    conn = fcntl_dup(keep, top)
    for fd in (*req.fds, keep):
        os.close(fd)
    cwd = moved.pop()
    os.fchdir(cwd)
    spawn = moved.pop() if req.spawn else -1
    for number, fd in zip(req.numbers, moved, strict=True):
        os.dup2(fd, number, inheritable=True)
    wanted = {*req.numbers, conn, spawn}
    for fd in _open_fds():
        if fd not in wanted:
            try:
                os.close(fd)
            except OSError:
                pass
    return conn, spawn


def fcntl_dup(fd: int, low: int) -> int:
    """A close-on-exec dup of ``fd`` at ``low`` or above."""
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)


def _open_fds() -> list[int]:
    return [int(n) for n in os.listdir("/proc/self/fd")]  # (the listing's own fd is gone)


def _signals(status: dict[str, str]) -> None:
    """The client's ignored signals and mask; the rest as a fresh interpreter has them."""
    ignored = _sigset(status["SigIgn"])
    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP) or sig in range(32, 35):
            continue
        if sig in ignored or sig in (signal.SIGPIPE, signal.SIGXFSZ):
            want: Any = signal.SIG_IGN
        elif sig == signal.SIGINT:
            want = signal.default_int_handler
        else:
            want = signal.SIG_DFL
        try:
            signal.signal(sig, want)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, _sigset(status["SigBlk"]))


def _stdio() -> None:
    """sys.stdin/stdout/stderr for the new fds 0-2, as the interpreter makes them."""
    old = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
    # -u / PYTHONUNBUFFERED (in the key: the server's streams were made the same way)
    buffered = not getattr(sys.__stdout__, "write_through", False)
    made: list[Any] = []
    for fd, stream in enumerate(old):
        encoding = getattr(stream, "encoding", None) or "utf-8"
        errors = getattr(stream, "errors", None) or ("backslashreplace" if fd == 2 else "strict")
        try:
            os.fstat(fd)
        except OSError:
            made.append(None)
            continue
        mode = "rb" if fd == 0 else "wb"
        buffering = -1 if buffered or fd == 0 else 0
        raw: Any = open(fd, mode, buffering=buffering, closefd=False)  # noqa: SIM115
        tty = os.isatty(fd)
        text = io.TextIOWrapper(
            raw, encoding=encoding, errors=errors, newline="\n",
            line_buffering=buffered and fd != 0 and (tty or fd == 2),
            write_through=not buffered and fd != 0,
        )  # fmt: skip
        text.mode = "r" if fd == 0 else "w"  # type: ignore[misc]
        made.append(text)
    for name, stream in zip(("stdin", "stdout", "stderr"), made, strict=True):
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _run(server: Server) -> NoReturn:
    """The launcher's TARGET, as ``_launcher.launch`` runs it after ``site``."""
    launcher = server.launcher
    if os.environ.get("PYCONTAINERS_LAUNCH_DEBUG") and "_report" in launcher:
        import atexit

        atexit.register(launcher["_report"], server.fast)
    target: str = launcher["TARGET"]
    module, _, function = target.partition(":")
    status: Any
    try:
        entry = getattr(__import__(module, fromlist=[function]), function)
        status = entry()
    except SystemExit as exc:
        status = exc.code
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        _flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        status = 130
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    try:
        launcher["finish"](status)
        code: Any = 0
    except SystemExit as exc:  # finish's sys.exit: the interpreter's own way out, less teardown
        code = exc.code
    _exit_like_python(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _exit_like_python(code: Any) -> NoReturn:
    threading = sys.modules.get("threading")
    if threading is not None:
        shutdown = getattr(threading, "_shutdown", None)
        if shutdown is not None:
            shutdown()
    import atexit

    atexit._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code & 0xFF
    else:
        try:
            print(code, file=sys.stderr)
        except (OSError, ValueError):
            pass
        status = 1
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        status = 120
    _flush()
    os._exit(status)


def standby(server: Server, chan: socket.socket) -> NoReturn:
    """The forked standby: wait for a connection (or the server's end), run it, exit."""
    try:
        from pycontainers._native import lib

        # dies with the server: a worker whose server is gone would go on with the
        # client's fds while the client has already left (exit 125, "server went away")
        if lib.pc_warm_bind_to_parent(server.pid) != 0:
            os._exit(70)
        signal.set_wakeup_fd(-1)  # the server's: a signal here is no news to it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for s in server.sockets():  # other clients' connections: the server's alone (so
            if s is not server.listener:  # that a dead server is EOF for its clients)
                os.close(s.detach())
        _standby(server, chan)
    except BaseException:  # nothing may unwind into the server's code in a child (before
        os._exit(70)  # `started`, the client then runs cold: nothing of the request ran)
    os._exit(0)


def _standby(server: Server, chan: socket.socket) -> None:
    assert server.listener is not None
    listener = server.listener
    poller = select.poll()
    poller.register(listener.fileno(), select.POLLIN)
    poller.register(chan.fileno(), select.POLLIN)
    while True:
        events = poller.poll()
        if any(fd == chan.fileno() for fd, _ in events):
            return  # the server is gone (or done)
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            continue
        break
    socket.send_fds(chan, [b"a"], [conn.fileno()])
    conn.setblocking(True)
    keep_chan = chan.detach()
    keep_conn = conn.detach()
    for s in server.sockets():  # the server's sockets are not this process's to close
        s.detach()
    if server.lock_fd >= 0:
        os.close(server.lock_fd)
    _serve_one(server, keep_conn, keep_chan)


def _serve_one(server: Server, conn_fd: int, chan_fd: int) -> NoReturn:
    conn = socket.socket(fileno=conn_fd)
    try:
        req = Request(conn)
        _pid, status = check(server, conn, req)
    except (_Refused, OSError, ValueError) as exc:
        reason = str(exc) if isinstance(exc, _Refused) else f"bad request: {exc!r}"[:200]
        try:
            conn.send(f"refuse {reason}\n".encode(), socket.MSG_NOSIGNAL)
            if reason == "stale":
                os.write(chan_fd, b"s")
        except OSError:
            pass
        os._exit(0)
    os.write(chan_fd, b"r")  # the server reads the connection from now on (sig N, EOF)
    os.close(chan_fd)
    fd = conn.detach()
    fd, spawn = _take_fds(req, fd)
    if spawn >= 0:  # the container's process is cloned by the front end, the caller's child
        from pycontainers.runtime import _remote

        _remote.install(spawn)
    conn = socket.socket(fileno=fd)
    os.umask(int(status["Umask"], 8))
    _signals(status)
    os.environ.clear()
    os.environ.update(req.env)
    os.environ.update(server.coerced)  # (the same context: a cold process coerces the same)
    sys.argv[1:] = req.argv
    _stdio()
    conn.send(f"started {os.getpid()}\n".encode(), socket.MSG_NOSIGNAL)
    conn.detach()  # stays open (close-on-exec) until the worker exits: the server watches it
    _run(server)
