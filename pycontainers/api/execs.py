"""Exec endpoints: create, start (hijacked, tty or not), inspect, resize.

Every exec runs through :meth:`Container.exec` — the library's one entry path, which takes
the process's capabilities, seccomp filter, no_new_privs, user mapping, cgroup and
namespaces from the container's stored spec and refuses without it. The daemon only relays
the bytes: pipes (or a pty of ours, for ``Tty``) between the process and the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import socket
import struct
import termios
import threading
from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web

from pycontainers.api.context import Daemon, body_json, daemon, json_response, qint
from pycontainers.api.errors import bad_request, conflict, not_found
from pycontainers.api.streams import STDERR, STDOUT, Hijacked, finished, frame, hijack, read_fd

if TYPE_CHECKING:
    from pycontainers.api.server import Routes


@attrs.define
class ExecSession:
    """One exec: its request, and once started its state."""

    id: str
    container_id: str
    cmd: list[str]
    env: list[str]
    user: str | None
    workdir: str | None
    tty: bool
    stdin: bool
    stdout: bool
    stderr: bool
    privileged: bool
    console_size: tuple[int, int] | None = None
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    master: int = -1  # our end of its pty, while it runs

    def inspect(self) -> dict[str, Any]:
        """Docker's ``ExecInspect`` document."""
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": {
                "tty": self.tty,
                "entrypoint": self.cmd[0],
                "arguments": self.cmd[1:],
                "privileged": self.privileged,
                "user": self.user or "",
            },
            "OpenStdin": self.stdin,
            "OpenStderr": self.stderr,
            "OpenStdout": self.stdout,
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": "",
            "Pid": 0,
        }


class ExecRegistry:
    """The exec sessions of this daemon, by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, ExecSession] = {}

    def add(self, session: ExecSession) -> None:
        """Remember ``session``."""
        with self._lock:
            self._sessions[session.id] = session

    def get(self, exec_id: str) -> ExecSession:
        """The session ``exec_id``; 404 if none."""
        with self._lock:
            session = self._sessions.get(exec_id)
        if session is None:
            raise not_found(f"No such exec instance: {exec_id}")
        return session


def _strings(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{key} must be a list of strings")
    return list(value)


def _console_size(value: Any) -> tuple[int, int] | None:
    """``ConsoleSize`` ``[height, width]`` (API 1.42+); None when absent or zero."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        raise bad_request("ConsoleSize must be [height, width], two non-negative integers")
    return (value[0], value[1]) if value[0] and value[1] else None


async def create(request: web.Request) -> web.Response:
    """POST /containers/{id}/exec: 201 ``{"Id"}``; 409 if the container is not running."""
    d = daemon(request)
    body = await body_json(request)
    cmd = _strings(body, "Cmd")
    if not cmd:
        raise bad_request("No exec command specified")
    for key in ("Tty", "AttachStdin", "AttachStdout", "AttachStderr", "Privileged"):
        if body.get(key) is not None and not isinstance(body[key], bool):
            raise bad_request(f"{key} must be a boolean")

    def check() -> Any:
        c = d.load(request.match_info["id"])
        try:
            status = c.status
            if status == "paused":
                raise conflict(f"Container {c.id} is paused, unpause the container before exec")
            if status != "running":
                raise conflict(f"Container {c.id} is not running")
            return c.id, c.labels, c.name
        finally:
            c.close()

    cid, labels, name = await d.call(check)
    session = ExecSession(
        id=secrets.token_hex(32),
        container_id=cid,
        cmd=cmd,
        env=_strings(body, "Env"),
        user=body.get("User") or None,
        workdir=body.get("WorkingDir") or None,
        tty=bool(body.get("Tty")),
        stdin=bool(body.get("AttachStdin")),
        stdout=bool(body.get("AttachStdout")),
        stderr=bool(body.get("AttachStderr")),
        privileged=bool(body.get("Privileged")),
        console_size=_console_size(body.get("ConsoleSize")),
    )
    d.execs.add(session)
    d.events.publish(
        "container",
        "exec_create: " + " ".join(cmd),
        cid,
        {**labels, "name": name, "execID": session.id},
    )
    return json_response({"Id": session.id}, 201)


def _run(d: Daemon, s: ExecSession, fds: tuple[int, int, int], console: int | None) -> int:
    """Run the exec's command through the library's one entry path (``exec_in``, which
    :meth:`Container.exec` calls) with ``fds`` as its stdio, or with a pty of the container's
    own devpts whose master is sent on the ``console`` socket.
    """
    from pycontainers.runtime.exec import exec_in

    c = d.load(s.container_id)
    try:
        env = dict(e.partition("=")[::2] for e in s.env)
        result = exec_in(
            c,
            s.cmd,
            env=env,
            user=s.user,
            cwd=s.workdir,
            stdin=fds[0],
            stdout=fds[1],
            stderr=fds[2],
            privileged=s.privileged,
            console_socket=console,
            console_size=s.console_size,
        )
        return result.returncode
    finally:
        c.close()


def _nonblock(fd: int) -> None:
    os.set_blocking(fd, False)


async def _relay(d: Daemon, s: ExecSession, conn: Hijacked | None) -> None:
    """Start the command and relay its stdio to ``conn`` (None: detached, no stdio)."""
    mine: list[int] = []  # our ends
    theirs: list[int] = []  # the command's ends (closed once it is done)
    outs: list[tuple[int, int]] = []  # (our read end, stream)
    stdin_w = -1
    console = None  # our end of the socket the command's pty master comes on
    try:
        if conn is None:
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            theirs.append(null)
            fds = (null, null, null)
        elif s.tty:
            # the pty is made inside, in the container's devpts (tty(1) names it there)
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            console, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            theirs += [null, child_end.detach()]
            fds = (null, null, null)
        else:
            if s.stdin:
                r, w = os.pipe2(os.O_CLOEXEC)
                theirs.append(r)
                mine.append(w)
                stdin_w = w
                fd_in = r
            else:
                fd_in = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
                theirs.append(fd_in)
            r1, w1 = os.pipe2(os.O_CLOEXEC)
            r2, w2 = os.pipe2(os.O_CLOEXEC)
            mine += [r1, r2]
            theirs += [w1, w2]
            outs += [(r1, STDOUT), (r2, STDERR)]
            fds = (fd_in, w1, w2)
        for fd in mine:
            _nonblock(fd)
        s.running = s.started = True
        job = d.start_long(_run, d, s, fds, theirs[-1] if console is not None else None)
        job.add_done_callback(lambda f: _done(s, f, theirs))
        if conn is None:
            return
        if console is not None:
            master = await _receive_master(console, job)
            if master is None:  # it failed before its terminal was made: the error follows
                await job
                return
            mine.append(master)
            _nonblock(master)
            s.master = master
            if s.console_size is not None:  # a resize that came while it was starting
                _set_size(master, *s.console_size)
            outs.append((master, STDOUT))
            stdin_w = master if s.stdin else -1
        await _pump_exec(conn, s, job, outs, stdin_w)
    finally:
        if console is not None:
            console.close()
        if conn is not None:
            for fd in mine:
                with contextlib.suppress(OSError):
                    os.close(fd)
            s.master = -1


def _settle(done: asyncio.Future[Any]) -> None:
    if not done.done():
        done.set_result(None)


async def _receive_master(console: socket.socket, job: asyncio.Future[int]) -> int | None:
    """The pty master the command's child sends on ``console``; None if the command ended
    (or failed to start) without sending one.
    """
    loop = asyncio.get_running_loop()
    got: asyncio.Future[Any] = loop.create_future()
    loop.add_reader(console.fileno(), _settle, got)
    try:
        waiting: set[asyncio.Future[Any]] = {got, job}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_reader(console.fileno())
    console.setblocking(False)  # a quick command may be done before its message is seen
    try:
        _, fds, _, _ = socket.recv_fds(console, 1, 1)
    except BlockingIOError:
        return None
    return fds[0] if fds else None


def _done(s: ExecSession, job: asyncio.Future[int], theirs: list[int]) -> None:
    s.running = False
    s.exit_code = job.result() if not job.cancelled() and job.exception() is None else 126
    for fd in theirs:
        with contextlib.suppress(OSError):
            os.close(fd)
    theirs.clear()


async def _pump_exec(
    conn: Hijacked,
    s: ExecSession,
    job: asyncio.Future[int],
    outs: list[tuple[int, int]],
    stdin_w: int,
) -> None:
    async def stdin_pump() -> None:
        while True:
            data = await conn.read()
            if data is None:
                if stdin_w >= 0 and not s.tty and not conn.lost.is_set():
                    with contextlib.suppress(OSError):
                        os.close(stdin_w)
                return
            if stdin_w >= 0:
                from pycontainers.api.streams import write_fd

                with contextlib.suppress(OSError):
                    await write_fd(stdin_w, data)

    async def out_pump(fd: int, stream: int) -> None:
        want = s.stdout if stream == STDOUT else s.stderr
        while True:
            data = await read_fd(fd)
            if not data:
                return
            if want:
                await conn.write(data if s.tty else frame(stream, data))

    upstream = asyncio.ensure_future(stdin_pump())
    readers = [asyncio.ensure_future(out_pump(fd, stream)) for fd, stream in outs]
    lost = asyncio.ensure_future(conn.lost.wait())
    try:
        # the command's end: its exit; then what it wrote is read to the end (our copies
        # of its ends are closed, so the pipes reach EOF once nobody else holds them)
        first: list[asyncio.Future[Any]] = [job, lost]
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        if job.done():
            s.exit_code = job.result() if job.exception() is None else 126
            s.running = False
            await asyncio.wait({*readers, lost}, timeout=2.0, return_when=asyncio.ALL_COMPLETED)
        else:  # the client left: the command keeps its stdio until it ends on its own
            job.add_done_callback(lambda f: setattr(s, "running", False))
    finally:
        upstream.cancel()
        lost.cancel()
        for task in readers:
            task.cancel()
        if job.done() and job.exception() is not None:
            raise job.exception()  # type: ignore[misc]


async def start(request: web.Request) -> web.StreamResponse:
    """POST /exec/{id}/start ``{"Detach", "Tty"}``: hijacked stdio, or 200 when detached."""
    d = daemon(request)
    s = d.execs.get(request.match_info["id"])
    body = await body_json(request, required=False)
    if s.started:
        raise conflict(f"exec {s.id} has already started")
    if body.get("Detach"):
        await _relay(d, s, None)
        return web.Response(status=200)
    conn = await hijack(request, tty=s.tty)
    try:
        await _relay_closing(d, s, conn)
    finally:
        conn.close()
    return finished()


async def _relay_closing(d: Daemon, s: ExecSession, conn: Hijacked) -> None:
    from pycontainers.errors import ContainerStartError

    try:
        await _relay(d, s, conn)
    except ContainerStartError as exc:  # the command could not be run: say so in the stream
        s.exit_code = exc.exit_code
        s.running = False
        with contextlib.suppress(ConnectionResetError):
            msg = f"pycontainers: {exc}\n".encode()
            await conn.write(msg if s.tty else frame(STDERR, msg))
    except ConnectionResetError:
        pass


async def inspect(request: web.Request) -> web.Response:
    """GET /exec/{id}/json."""
    return json_response(daemon(request).execs.get(request.match_info["id"]).inspect())


def _set_size(master: int, rows: int, cols: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


async def resize(request: web.Request) -> web.Response:
    """POST /exec/{id}/resize?h=&w=: the size of the exec's terminal (kept for it if its
    terminal is not made yet).
    """
    s = daemon(request).execs.get(request.match_info["id"])
    h, w = qint(request, "h", 0) or 0, qint(request, "w", 0) or 0
    if not s.tty:
        return web.Response(status=200)
    if h > 0 and w > 0:
        s.console_size = (h, w)
        if s.master >= 0:
            _set_size(s.master, h, w)
    return web.Response(status=201)


def add_routes(r: Routes) -> None:
    """Register the exec endpoints."""
    r.add("POST", "/containers/{id}/exec", create)
    r.add("POST", "/exec/{id}/start", start)
    r.add("GET", "/exec/{id}/json", inspect)
    r.add("POST", "/exec/{id}/resize", resize)


__all__ = ["ExecRegistry", "ExecSession", "add_routes"]
