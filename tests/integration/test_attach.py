"""Attach to detached containers: the session API over the monitor's socket, the interactive
client driven through a pseudo-terminal the test owns, detach keys, and the console socket."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import struct
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.errors import ContainerError
from pycontainers.runtime.attach import AttachSession, attach, connect, listen_console, recv_console

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

WAIT = 20.0  # seconds: generous bound for things that take milliseconds


def wait_size(rows: int, cols: int) -> str:
    """Shell that waits (bounded) until its terminal is rows x cols, then prints the size."""
    want = f"{rows} {cols}"
    return (  # busybox stty prefers $LINES/$COLUMNS to the real size
        "unset LINES COLUMNS; i=0; "
        f'until [ "$(stty size)" = "{want}" ] || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done; '
        'echo "size:$(stty size)"'
    )


def read_until(sess: AttachSession, needle: bytes, timeout: float = WAIT) -> bytes:
    """Output (both streams) until ``needle`` appears."""
    got = b""
    deadline = time.monotonic() + timeout
    while needle not in got:
        f = sess.read(timeout=max(0.0, deadline - time.monotonic()))
        if f is None:
            raise AssertionError(f"output ended before {needle!r}: {got!r}")
        got += f.data
    return got


@pytest.fixture
def make(fresh_rootfs: Path) -> Iterator[Callable[..., pc.Container]]:
    """Create detached containers in the test's rootfs; every one is deleted afterwards."""
    made: list[pc.Container] = []

    def create(args: list[str], **kw: object) -> pc.Container:
        c = pc.Container.create(str(fresh_rootfs), args, detach=True, **kw)  # type: ignore[arg-type]
        made.append(c)
        return c

    yield create
    for c in made:
        c.delete()


class Pty:
    """A pseudo-terminal pair owned by the test: attach() gets the slave, we type on the
    master and read what attach() wrote to its "screen"."""

    def __init__(self, rows: int = 24, cols: int = 80) -> None:
        self.master, self.slave = os.openpty()
        self.set_size(rows, cols)
        self.screen = b""
        self._lock = threading.Lock()
        self._stop = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:  # keep the master drained, so attach() never blocks writing
        import select

        while not self._stop:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if r:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    return
                with self._lock:
                    self.screen += data

    def set_size(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait_for(self, needle: bytes, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if needle in self.screen:
                    return
            time.sleep(0.02)
        raise AssertionError(f"{needle!r} not on the screen: {self.screen!r}")

    def wait_raw(self, timeout: float = WAIT) -> None:
        """Until attach() has put the slave in raw mode (it is connected by then)."""
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.slave)[3] & termios.ICANON:
            if time.monotonic() > deadline:
                raise AssertionError("attach() never set the terminal to raw mode")
            time.sleep(0.01)

    def close(self) -> None:
        self._stop = True
        self._reader.join(5)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty() -> Iterator[Pty]:
    p = Pty()
    yield p
    p.close()


def typist(pty: Pty, c: pc.Container, steps: Callable[[], None]) -> threading.Thread:
    """Run ``steps`` (typing on the master) beside attach(); on any failure kill the
    container so attach() returns instead of hanging the test."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            pty.wait_raw()
            steps()
        except BaseException as exc:
            failure.append(exc)
            c.kill()

    t = threading.Thread(target=run, daemon=True)
    t.failure = failure  # type: ignore[attr-defined]
    t.start()
    return t


def finish(t: threading.Thread) -> None:
    t.join(WAIT)
    assert not t.is_alive()
    if t.failure:  # type: ignore[attr-defined]
        raise t.failure[0]  # type: ignore[attr-defined]


# -- the session ----------------------------------------------------------------------


def test_session_echoes_through_cat_and_reports_the_exit_code(
    make: Callable[..., pc.Container],
) -> None:
    c = make(["sh", "-c", "cat; echo bye >&2; exit 3"], interactive=True)
    with connect(c) as s:  # before start: no output is missed
        assert not s.tty and s.exit_code is None
        c.start()
        s.send(b"hello ")
        s.send(b"world\n")
        assert read_until(s, b"hello world\n") == b"hello world\n"
        s.close_stdin()
        out, err = s.output(timeout=WAIT)
        assert (out, err) == (b"", b"bye\n")
        assert s.exit_code == 3 and s.ended
    assert c.wait(timeout=WAIT) == 3


def test_resize_at_attach_reaches_stty_and_tty_output_comes_through(
    make: Callable[..., pc.Container],
) -> None:
    c = make(["sh", "-c", wait_size(33, 77) + "; tty; [ -t 0 ] && echo isatty"], tty=True)
    with connect(c) as s:
        assert s.tty
        s.resize(33, 77)
        c.start()
        out, err = s.output(timeout=WAIT)
    assert err == b""  # a tty merges everything into stream 1
    lines = out.decode().splitlines()
    assert lines[0] == "size:33 77"
    assert len(lines) == 3 and lines[1] and lines[2] == "isatty"  # `tty`'s answer, then -t
    assert s.exit_code == 0


def test_tty_names_a_terminal_inside_the_container(make: Callable[..., pc.Container]) -> None:
    """The pty comes from the container's own devpts: tty(1) names it, it is the
    controlling terminal, and no other fd (the hand-over socket) is left open."""
    c = make(["sh", "-c", "tty; ls /proc/self/fd; cat /proc/self/stat | cut -d' ' -f7"], tty=True)
    with connect(c) as s:
        c.start()
        out, _ = s.output(timeout=WAIT)
    lines = out.decode().split()
    assert lines[0].startswith("/dev/pts/"), out
    assert sorted(lines[1:-1]) == ["0", "1", "2", "3"], out  # 3: ls's own directory fd
    assert lines[-1] != "0", out  # tty_nr: a controlling terminal


def test_connect_refuses_clearly(make: Callable[..., pc.Container], fresh_rootfs: Path) -> None:
    c = make(["true"])
    c.start()
    assert c.wait(timeout=WAIT) == 0
    with pytest.raises(ContainerError, match="stopped"):
        connect(c)
    plain = pc.Container.create(str(fresh_rootfs), ["true"])
    try:
        with pytest.raises(ContainerError, match="not detached"):
            connect(plain)
    finally:
        plain.start()
        plain.wait(timeout=WAIT)
        plain.delete()
    gone = make(["sleep", "30"])
    os.unlink(os.path.join(gone.state_dir, "attach.sock"))
    with pytest.raises(ContainerError, match="missing"):
        connect(gone)


# -- the interactive client -----------------------------------------------------------


def test_interactive_attach_types_resizes_detaches_and_returns_the_exit_code(
    make: Callable[..., pc.Container], pty: Pty
) -> None:
    c = make(["sh"], tty=True, interactive=True)
    c.start()

    def first() -> None:
        pty.type(b"echo hel''lo\r")  # the echo shows hel''lo: hello proves it ran
        pty.wait_for(b"hello\r\n")
        pty.set_size(40, 100)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGWINCH)
        pty.type(wait_size(40, 100).encode() + b"\r")
        pty.wait_for(b"size:40 100")
        pty.type(b"\x10\x11")  # ctrl-p ctrl-q

    t = typist(pty, c, first)
    assert attach(c, stdin_fd=pty.slave, stdout=pty.slave, stderr=pty.slave) is None
    finish(t)
    assert termios.tcgetattr(pty.slave)[3] & termios.ICANON  # the terminal is restored
    assert c.status == "running"

    def second() -> None:
        pty.type(b"echo again''2\r")
        pty.wait_for(b"again2\r\n")
        pty.type(b"exit 5\r")

    t = typist(pty, c, second)
    assert attach(c, stdin_fd=pty.slave, stdout=pty.slave, stderr=pty.slave) == 5
    finish(t)
    assert c.wait(timeout=WAIT) == 5


def test_custom_detach_keys_and_a_lone_prefix_is_forwarded(
    make: Callable[..., pc.Container], pty: Pty
) -> None:
    c = make(["sh"], tty=True, interactive=True)
    c.start()

    def steps() -> None:
        pty.type(b"\x10")  # ctrl-p alone is not the sequence here: sh gets it (^P echoed)
        pty.type(b"\x15echo x''y\r")  # ctrl-u clears the line
        pty.wait_for(b"xy\r\n")
        pty.type(b"\x01d")  # ctrl-a d

    t = typist(pty, c, steps)
    r = attach(c, stdin_fd=pty.slave, stdout=pty.slave, detach_keys="ctrl-a,d")
    finish(t)
    assert r is None and c.status == "running"
    c.kill()
    assert c.wait(timeout=WAIT) == 137


def test_attach_forwards_a_pipe_until_eof(
    make: Callable[..., pc.Container], tmp_path: Path
) -> None:
    c = make(["sh", "-c", "tr a-z A-Z; echo done >&2"], interactive=True)
    c.start()
    r, w = os.pipe()
    os.write(w, b"piped \x10\x11input\n")  # detach keys mean nothing without a terminal
    os.close(w)
    out = (tmp_path / "out").open("w+b")
    err = (tmp_path / "err").open("w+b")
    try:
        assert attach(c, stdin_fd=r, stdout=out, stderr=err) == 0
    finally:
        os.close(r)
    out.seek(0)
    err.seek(0)
    assert out.read() == b"PIPED \x10\x11INPUT\n" and err.read() == b"done\n"


def test_attach_without_stdin_only_watches(make: Callable[..., pc.Container]) -> None:
    c = make(["sh", "-c", "sleep 0.5; echo late; exit 4"], interactive=True)
    c.start()
    r, w = os.pipe()
    try:
        assert attach(c, stdin=False, stdout=w, stderr=w) == 4
        assert os.read(r, 100) == b"late\n"
    finally:
        os.close(r)
        os.close(w)


# -- the console socket ---------------------------------------------------------------


def test_console_socket_receives_a_usable_pty_master(make: Callable[..., pc.Container]) -> None:
    with tempfile.TemporaryDirectory(prefix="pc-console-") as d:  # short: sun_path limit
        path = os.path.join(d, "console.sock")
        listener = listen_console(path)
        got: list[tuple[int, str] | BaseException] = []

        def receive() -> None:
            try:
                got.append(recv_console(listener, timeout=WAIT))
            except BaseException as exc:  # reported by the assertion below
                got.append(exc)

        t = threading.Thread(target=receive)
        t.start()
        try:
            c = make(["sh"], tty=True, interactive=True, console_socket=path)
        except BaseException:
            with socket.socket(socket.AF_UNIX) as wake:  # the receiver gets an empty call
                wake.connect(path)
            raise
        finally:
            t.join(WAIT)
            listener.close()
        assert got and isinstance(got[0], tuple), f"no console received: {got}"
        master, name = got[0]
        try:
            assert name.startswith("/dev/pts/")
            assert os.get_inheritable(master) is False
            c.start()
            os.write(master, b"echo h''i\n")
            screen = b""
            deadline = time.monotonic() + WAIT
            while b"hi\r\n" not in screen and time.monotonic() < deadline:
                import select

                if select.select([master], [], [], 0.2)[0]:
                    screen += os.read(master, 4096)
            assert b"hi\r\n" in screen, screen
            with pytest.raises(ContainerError, match="console socket"):
                connect(c)  # the monitor kept no pty: nothing to attach to
            os.write(master, b"exit 6\n")
            assert c.wait(timeout=WAIT) == 6
        finally:
            os.close(master)


def test_console_socket_needs_a_tty() -> None:
    from pycontainers.runtime.detach import DetachOptions

    with pytest.raises(pc.SpecError, match="console_socket"):
        DetachOptions(console_socket="/tmp/x.sock")
    with pytest.raises(pc.SpecError, match="107"):
        DetachOptions(tty=True, console_socket="/" + "x" * 200)
    assert DetachOptions(tty=True, console_socket="rel.sock").console_socket == os.path.abspath(
        "rel.sock"
    )


def _cli_in_pty(argv: list[str], rows: int, cols: int) -> tuple[int, bytes]:
    """Run the CLI with a fresh pty of ``rows`` x ``cols`` as its terminal (as under
    ``script``); (exit status, everything it printed)."""
    import pty as ptymod
    import select
    import sys

    pid, fd = ptymod.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execv(sys.executable, [sys.executable, "-m", "pycontainers", *argv])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the CLI and everything on its terminal are gone
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return status, out


def test_cli_run_it_sets_term_and_size_and_loses_no_output(fresh_rootfs: Path) -> None:
    """``run --rm -it`` of a command that ends at once, in a real terminal: TERM=xterm (as
    Docker), the terminal's size before the first process runs (stty size), and all of its
    output, every time — the monitor may be gone before the CLI sends anything."""
    for _ in range(8):
        status, out = _cli_in_pty(
            ["run", "--rm", "-it", "--network", "none", str(fresh_rootfs),
             "sh", "-c", "echo TERM=$TERM; stty size"],
            33, 101,
        )  # fmt: skip
        assert os.waitstatus_to_exitcode(status) == 0, out
        assert out.replace(b"\r", b"").splitlines()[-2:] == [b"TERM=xterm", b"33 101"], out
