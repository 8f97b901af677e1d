"""Attaching to a detached container through its monitor's attach socket, and the OCI
console socket.

The monitor serves ``<state dir>/attach.sock`` (SOCK_STREAM). Frames both ways are
``[type:u8, 0, 0, 0, length:u32 BE] payload``: from the monitor 1 stdout, 2 stderr (with a
tty everything is 1), 5 exit (i32 BE exit code, then it closes); to the monitor 0 stdin
data, 3 resize (rows u16 BE, cols u16 BE), 4 close stdin. Output is live: nothing written
before a client connected is replayed (attach before :meth:`Container.start` to see it all).

:class:`AttachSession` is the programmatic client; :func:`attach` is the interactive one the
CLI's ``run -it``, ``attach`` and ``start -a`` use (raw terminal, window size, detach keys).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import sys
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from pycontainers import _log
from pycontainers.errors import ContainerError, SpecError
from pycontainers.runtime import _term
from pycontainers.supervision import DEFAULT_DETACH_KEYS as DEFAULT_DETACH_KEYS  # re-export

if TYPE_CHECKING:
    from types import TracebackType

    from pycontainers.runtime.container import Container

log = _log.get_logger("pycontainers.runtime")

STDIN, STDOUT, STDERR, RESIZE, CLOSE_STDIN, EXIT = 0, 1, 2, 3, 4, 5
_HEADER = struct.Struct(">B3xI")
_CHUNK = 65536
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes with the NUL


class Frame(NamedTuple):
    """One output frame: ``stream`` 1 (stdout) or 2 (stderr) and its bytes."""

    stream: int
    data: bytes


# -- the session ----------------------------------------------------------------------


class AttachSession:
    """A connection to a detached container's monitor: send stdin, resize, read output.

    Obtained from :func:`connect`. Iterating (or :meth:`frames`) yields output
    :class:`Frame` objects until the container exits (then :attr:`exit_code` is set) or the
    monitor closes the connection. Closing the session leaves the container running.
    """

    def __init__(self, sock: socket.socket, container_id: str = "", tty: bool = False) -> None:
        sock.setblocking(False)
        self._sock = sock
        self.container_id = container_id
        self.tty = tty
        """Whether the container has a terminal (then all its output is stream 1)."""
        self.exit_code: int | None = None
        """The container's exit code, once its exit frame arrived."""
        self._in = bytearray()
        self._out = bytearray()
        self._frames: deque[Frame] = deque()
        self._eof = False
        self._hung_up = False  # the monitor stopped reading: what we send is dropped

    # plumbing
    def fileno(self) -> int:
        """The socket's fd, for select/poll."""
        return self._sock.fileno()

    @property
    def ended(self) -> bool:
        """True once the exit frame arrived or the monitor closed the connection."""
        return self._eof and not self._frames

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._sock.fileno() < 0

    # client -> monitor
    def send(self, data: bytes, timeout: float | None = 10.0) -> None:
        """Write ``data`` to the container's stdin (dropped by the monitor without one)."""
        view = memoryview(data)
        for i in range(0, len(view), _CHUNK):
            self._queue(STDIN, view[i : i + _CHUNK])
        self.flush(timeout)

    def resize(self, rows: int, cols: int, timeout: float | None = 10.0) -> None:
        """Set the container's terminal size (ignored without a tty)."""
        if not (0 < rows < 65536 and 0 < cols < 65536):
            raise SpecError("size", f"rows and cols must be 1..65535, got {rows}x{cols}")
        self._queue(RESIZE, struct.pack(">HH", rows, cols))
        self.flush(timeout)

    def close_stdin(self, timeout: float | None = 10.0) -> None:
        """Close the container's stdin once what was sent is written (EOF; with a tty the
        EOF character).
        """
        self._queue(CLOSE_STDIN, b"")
        self.flush(timeout)

    def _queue(self, kind: int, payload: bytes | memoryview) -> None:
        if self.closed:
            raise ContainerError("the attach session is closed")
        if self._eof:
            raise ContainerError(f"container {self.container_id[:12]} is gone: cannot send")
        if self._hung_up:
            return
        self._out += _HEADER.pack(kind, len(payload))
        self._out += payload

    @property
    def want_write(self) -> bool:
        """Whether queued frames wait for the socket to become writable."""
        return bool(self._out)

    def try_flush(self) -> bool:
        """Send what the socket takes now; True when nothing is left queued."""
        while self._out:
            try:
                # MSG_NOSIGNAL: the CLI restores SIGPIPE's default (for `ps | head`), and a
                # monitor that closed the connection must be an error here, not our death
                n = self._sock.send(self._out, socket.MSG_NOSIGNAL)
            except BlockingIOError:
                return False
            except (BrokenPipeError, ConnectionResetError):
                # The monitor finished (the container exited) or dropped us: nothing more
                # can reach it, but what it sent before (output, the exit frame) is still to
                # be read, so the connection stays open for reading.
                self._out.clear()
                self._hung_up = True
                return True
            except OSError as exc:
                self._out.clear()
                self._eof = True
                raise ContainerError(
                    f"lost the attach connection to container {self.container_id[:12]}: "
                    f"{exc.strerror}",
                    errno=exc.errno,
                ) from None
            del self._out[:n]
        return True

    def flush(self, timeout: float | None = 10.0) -> None:
        """Send every queued frame (reading output meanwhile, so the monitor never blocks)."""
        while not self.try_flush():
            ready = _poll([(self.fileno(), select.POLLIN | select.POLLOUT)], timeout, "sending to")
            if ready & select.POLLIN:
                self._recv()  # kept for read()

    # monitor -> client
    def read_available(self) -> list[Frame]:
        """Read what has arrived without blocking; the complete output frames in it."""
        self._recv()
        out = list(self._frames)
        self._frames.clear()
        return out

    def _recv(self) -> None:
        """Move what the socket has into the frame queue (non-blocking)."""
        while not self._eof:
            try:
                data = self._sock.recv(_CHUNK)
            except BlockingIOError:
                return
            except ConnectionResetError:
                data = b""
            if not data:
                self._eof = True
                return
            self._in += data
            self._parse()
            if len(data) < _CHUNK:
                return

    def _parse(self) -> None:
        buf = self._in
        while len(buf) >= _HEADER.size:
            kind, n = _HEADER.unpack_from(buf)
            if len(buf) < _HEADER.size + n:
                return
            payload = bytes(buf[_HEADER.size : _HEADER.size + n])
            del buf[: _HEADER.size + n]
            if kind == EXIT and n == 4:
                self.exit_code = struct.unpack(">i", payload)[0]
                self._eof = True
                buf.clear()
                return
            if kind in (STDOUT, STDERR):
                self._frames.append(Frame(kind, payload))

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next output frame; None at the end (exit frame or connection closed).
        Raises TimeoutError if nothing arrives within ``timeout`` seconds.
        """
        while not self._frames and not self._eof:
            if self.want_write:
                self.flush(timeout)
                continue
            _poll([(self.fileno(), select.POLLIN)], timeout, "reading from")
            self._recv()
        return self._frames.popleft() if self._frames else None

    def frames(self, timeout: float | None = None) -> Iterator[Frame]:
        """Output frames until the end; ``timeout`` bounds each wait for the next one."""
        while (f := self.read(timeout)) is not None:
            yield f

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def output(self, timeout: float | None = None) -> tuple[bytes, bytes]:
        """Read to the end: all of stdout and all of stderr."""
        out, err = bytearray(), bytearray()
        for f in self.frames(timeout):
            (out if f.stream == STDOUT else err).extend(f.data)
        return bytes(out), bytes(err)

    def close(self) -> None:
        """Disconnect (the container keeps running)."""
        self._sock.close()
        self._eof = True

    def __enter__(self) -> AttachSession:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "ended" if self._eof else "open"
        return f"<AttachSession {self.container_id[:12]} {state} exit_code={self.exit_code}>"


def _poll(fds: list[tuple[int, int]], timeout: float | None, what: str) -> int:
    """Wait for events on the fds; the first fd's events. TimeoutError after ``timeout``."""
    p = select.poll()
    for fd, ev in fds:
        p.register(fd, ev)
    ready = p.poll(None if timeout is None else max(0, int(timeout * 1000)))
    if not ready:
        raise TimeoutError(f"timed out {what} the container's monitor after {timeout} s")
    return next((ev for fd, ev in ready if fd == fds[0][0]), 0)


def attach_socket_path(container: Container) -> str:
    """Where the container's monitor listens."""
    return os.path.join(container.state_dir, "attach.sock")


def _connect_unix(path: str, timeout: float) -> socket.socket:
    """Connect to ``path``, through /proc/self/fd when it is too long for sun_path."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    dirfd = -1
    try:
        target = path
        if len(os.fsencode(path)) > _SUN_PATH_MAX:
            dirfd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            target = f"/proc/self/fd/{dirfd}/{os.path.basename(path)}"
        sock.connect(target)
    except BaseException:
        sock.close()
        raise
    finally:
        if dirfd >= 0:
            os.close(dirfd)
    return sock


def connect(container: Container, *, timeout: float = 10.0) -> AttachSession:
    """Attach to a created or running detached container's monitor.

    Raises :class:`ContainerError` when the container is not detached, not created or
    running, or its monitor does not accept the connection.
    """
    short = container.id[:12]
    if not container.detached:
        raise ContainerError(
            f"container {short} is not detached: no monitor to attach to "
            "(its stdio belongs to the process that created it)"
        )
    status = container.status
    if status not in ("created", "running"):
        raise ContainerError(
            f"cannot attach to container {short}: it is {status}, "
            "not created or running"
        )  # fmt: skip
    path = attach_socket_path(container)
    try:
        sock = _connect_unix(path, timeout)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ContainerError(
            f"cannot attach to container {short}: its monitor's socket {path} is "
            f"{'missing' if isinstance(exc, FileNotFoundError) else 'not accepting'} "
            "(the container exited or its monitor is gone)",
            errno=exc.errno,
            path=path,
        ) from None
    except OSError as exc:
        raise ContainerError(
            f"cannot attach to container {short}: {path}: {exc}", errno=exc.errno, path=path
        ) from None
    tty, console = _terminal(container)
    if console is not None:
        sock.close()
        raise ContainerError(
            f"cannot attach to container {short}: its terminal was handed over through the "
            f"console socket {console}"
        )
    log.debug("attach.connected", id=container.id)
    return AttachSession(sock, container.id, tty)


def _terminal(container: Container) -> tuple[bool, str | None]:
    """Whether the container has a terminal, and its console socket (from its saved spec)."""
    from pycontainers.runtime.specfile import load_spec

    try:
        _, options = load_spec(container.state_dir)
    except ContainerError:
        return False, None
    detach = options.get("detach")
    return bool(getattr(detach, "tty", False)), getattr(detach, "console_socket", None)


# -- detach keys ----------------------------------------------------------------------

_CTRL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(keys: str | None) -> bytes:
    r"""Docker's detach key format: comma-separated ``ctrl-<x>`` (x in a-z @ [ \\ ] ^ _) or
    single characters. ``""`` or None: no detach keys.
    """
    if not keys:
        return b""
    out = bytearray()
    for part in keys.split(","):
        low = part.lower()
        if len(part) == 1:
            out.append(ord(part))
        elif low.startswith("ctrl-") and len(low) == 6 and ("a" <= low[5] <= "z"):
            out.append(ord(low[5]) - ord("a") + 1)
        elif low.startswith("ctrl-") and len(low) == 6 and low[5] in _CTRL:
            out.append(_CTRL[low[5]])
        else:
            raise SpecError(
                "detach_keys",
                f"invalid key {part!r} in {keys!r}: expected ctrl-<a-z@[\\]^_> or one character",
            )
        if out[-1] > 127:
            raise SpecError("detach_keys", f"{part!r} is not an ASCII character")
    return bytes(out)


class DetachMatcher:
    """Watches stdin for the detach sequence: bytes that might start it are held back
    until they match (detach) or stop matching (then they are forwarded).
    """

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """The bytes to forward, and whether the detach sequence is complete."""
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            if b == self.keys[self._held]:
                self._held += 1
                if self._held == len(self.keys):
                    self._held = 0
                    return bytes(out), True
                continue
            out += self.keys[: self._held]
            self._held = 0
            if b == self.keys[0]:
                self._held = 1
                if len(self.keys) == 1:
                    self._held = 0
                    return bytes(out), True
            else:
                out.append(b)
        return bytes(out), False

    def held(self) -> bytes:
        """The bytes held back as a possible start of the sequence (and forget them)."""
        held, self._held = self.keys[: self._held], 0
        return held


# -- the interactive client -----------------------------------------------------------

_STDIN_BACKLOG = 1 << 20  # stop reading our stdin while this much waits to be sent
_SIZE_POLL_MS = 500  # the window size is also re-checked this often (SIGWINCH may miss us)
_DETACHED = -(1 << 40)  # _pump's result for "detached" (exit codes are i32)


def attach(
    container: Container,
    *,
    stdin: bool = True,
    tty: bool | None = None,
    detach_keys: str | None = DEFAULT_DETACH_KEYS,
    stdin_fd: int = 0,
    stdout: BinaryIO | int | None = None,
    stderr: BinaryIO | int | None = None,
    session: AttachSession | None = None,
) -> int | None:
    """Attach our terminal to a detached container, like ``docker attach``.

    Forwards ``stdin_fd`` to the container (unless ``stdin`` is false) and its output to
    ``stdout``/``stderr`` (binary files or fds; default ``sys.stdout.buffer`` and
    ``sys.stderr.buffer``). With ``tty`` (default: whether the container has one) and a
    terminal on ``stdin_fd``, that terminal is put in raw mode (restored on every way out)
    and its window size is sent at once and whenever it changes (SIGWINCH in the main
    thread, else a periodic check). Typing ``detach_keys`` (Docker's format, default
    ctrl-p,ctrl-q; ``""`` for none; only from a terminal) detaches: returns None and the
    container keeps running. A stdin that is not a terminal is forwarded until EOF, then
    the container's stdin is closed. Returns the container's exit code when it exits.
    ``session`` is a connection made earlier (e.g. before :meth:`Container.start`, so no
    output is missed); it is closed on return.
    """
    keys = parse_detach_keys(detach_keys)
    out_w = _term.writer(sys.stdout.buffer if stdout is None else stdout)
    err_w = _term.writer(sys.stderr.buffer if stderr is None else stderr)
    sess = session if session is not None else connect(container)
    with contextlib.ExitStack() as stack:
        stack.callback(sess.close)
        use_tty = sess.tty if tty is None else tty
        in_fd = stdin_fd if stdin else -1
        in_is_tty = in_fd >= 0 and os.isatty(in_fd)
        size_fd = -1
        if use_tty:
            out_fd = stdout if isinstance(stdout, int) else _term.fileno_of(stdout or sys.stdout)
            size_fd = next((fd for fd in (in_fd, out_fd) if fd >= 0 and os.isatty(fd)), -1)
        if use_tty and in_is_tty:
            stack.enter_context(_term.raw_mode(in_fd))
        winch = stack.enter_context(_term.sigwinch_pipe()) if size_fd >= 0 else -1
        matcher = DetachMatcher(keys if in_is_tty else b"")
        if _pump(sess, in_fd, matcher, out_w, err_w, size_fd, winch) == _DETACHED:
            log.debug("attach.detached", id=container.id)
            return None
    if sess.exit_code is not None:
        return sess.exit_code
    try:  # the connection ended without an exit frame: the monitor may have recorded it
        return container.wait(timeout=5)
    except (TimeoutError, ContainerError):
        raise ContainerError(
            f"lost the attach connection to container {container.id[:12]} "
            "before it reported an exit status"
        ) from None


def _pump(
    sess: AttachSession,
    in_fd: int,
    matcher: DetachMatcher,
    out_w: Callable[[bytes], None],
    err_w: Callable[[bytes], None],
    size_fd: int,
    winch: int,
) -> int:
    """The attach loop: output to our streams, stdin and window size to the container.
    Returns _DETACHED, or 0 once the monitor ended the connection.
    """
    last: tuple[int, int] | None = None
    stdin_open = in_fd >= 0
    sock = sess.fileno()
    while True:
        if size_fd >= 0:  # at the start, on SIGWINCH, and every _SIZE_POLL_MS
            size = _term.winsize(size_fd)
            if size is not None and size != last and not sess._eof:
                sess._queue(RESIZE, struct.pack(">HH", *size))
                last = size
        try:
            sess.try_flush()
        except ContainerError:  # the monitor went away: read what is left, then stop
            stdin_open = False
        p = select.poll()
        p.register(sock, select.POLLIN | (select.POLLOUT if sess.want_write else 0))
        if stdin_open and len(sess._out) < _STDIN_BACKLOG:
            p.register(in_fd, select.POLLIN)
        if winch >= 0:
            p.register(winch, select.POLLIN)
        ready = dict(p.poll(_SIZE_POLL_MS if size_fd >= 0 else None))
        if winch in ready:
            with contextlib.suppress(OSError):
                os.read(winch, 512)
        if sock in ready:
            for f in sess.read_available():
                (out_w if f.stream == STDOUT else err_w)(f.data)
            if sess._eof:
                return 0
        if stdin_open and in_fd in ready:
            data = _term.read_stdin(in_fd)
            if data is None:
                continue
            if not data:  # EOF: what was held back, then close the container's stdin
                stdin_open = False
                sess._queue(STDIN, matcher.held())
                sess._queue(CLOSE_STDIN, b"")
                continue
            data, detach = matcher.feed(data)
            if data:
                sess._queue(STDIN, data)
            if detach:
                with contextlib.suppress(ContainerError, TimeoutError):
                    sess.flush(timeout=2)
                return _DETACHED


# -- the console socket ---------------------------------------------------------------


def listen_console(path: str) -> socket.socket:
    """A listening unix socket at ``path`` (mode 0600) to pass as ``console_socket``."""
    if len(os.fsencode(os.path.abspath(path))) > _SUN_PATH_MAX:
        raise SpecError("console_socket", f"path longer than {_SUN_PATH_MAX} bytes: {path}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        old = os.umask(0o177)
        try:
            sock.bind(os.path.abspath(path))
        finally:
            os.umask(old)
        sock.listen(4)
    except BaseException:
        sock.close()
        raise
    return sock


def recv_console(listening: socket.socket, timeout: float | None = 30.0) -> tuple[int, str]:
    """Accept one console-socket connection: the pty master fd (ours to close) and the
    name of the terminal the runtime sent with it (like ``/dev/pts/3``).
    """
    listening.settimeout(timeout)
    try:
        conn, _ = listening.accept()
    except TimeoutError:
        raise TimeoutError(f"no console received within {timeout} s") from None
    with conn:
        conn.settimeout(timeout)
        space = socket.CMSG_SPACE(4 * struct.calcsize("i"))
        msg, ancdata, _, _ = conn.recvmsg(4096, space, socket.MSG_CMSG_CLOEXEC)
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(data) - len(data) % struct.calcsize("i")
            fds += struct.unpack(f"{usable // 4}i", data[:usable])
    if not fds:
        raise ContainerError("the console socket's peer sent no file descriptor")
    for extra in fds[1:]:
        os.close(extra)
    return fds[0], msg.decode(errors="replace")


__all__ = [
    "DEFAULT_DETACH_KEYS",
    "AttachSession",
    "DetachMatcher",
    "Frame",
    "attach",
    "attach_socket_path",
    "connect",
    "listen_console",
    "parse_detach_keys",
    "recv_console",
]
