"""The attach client without a container: detach-key parsing and matching, the frame codec
against a socketpair standing in for the monitor, and the terminal handling of attach()
on a pseudo-terminal (raw mode restored, resize without SIGWINCH)."""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from pycontainers.errors import ContainerError, SpecError
from pycontainers.runtime.attach import (
    AttachSession,
    DetachMatcher,
    Frame,
    attach,
    parse_detach_keys,
)

WAIT = 10.0


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">B3xI", kind, len(payload)) + payload


def recv_frame(s: socket.socket) -> tuple[int, bytes]:
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            assert chunk, "peer closed"
            buf += chunk
        return buf

    kind, n = struct.unpack(">B3xI", exact(8))
    return kind, exact(n)


@pytest.fixture
def pair() -> Iterator[tuple[AttachSession, socket.socket]]:
    ours, monitor = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    monitor.settimeout(WAIT)
    sess = AttachSession(ours, "f" * 64, tty=True)
    yield sess, monitor
    sess.close()
    monitor.close()


def test_detach_keys_in_dockers_format() -> None:
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_") == bytes(
        [0, 27, 28, 29, 30, 31]
    )
    assert parse_detach_keys("a,CTRL-A") == b"a\x01"
    assert parse_detach_keys("x,ctrl-Z") == b"x\x1a"
    assert parse_detach_keys("") == b"" and parse_detach_keys(None) == b""
    for bad in ("ctrl-1", "ctrl-", "ab", "ctrl-pp", "é", "a,,b"):
        with pytest.raises(SpecError, match="detach_keys"):
            parse_detach_keys(bad)


def test_detach_matcher_holds_a_prefix_and_forwards_it_when_it_breaks() -> None:
    m = DetachMatcher(b"\x10\x11")
    assert m.feed(b"ab\x10") == (b"ab", False)  # held: may be the start
    assert m.feed(b"c") == (b"\x10c", False)  # not the sequence: forwarded in order
    assert m.feed(b"\x10\x10") == (b"\x10", False)  # the second one starts it again
    assert m.feed(b"\x11rest") == (b"", True)  # split across reads: still detaches
    assert m.feed(b"x\x10") == (b"x", False) and m.held() == b"\x10" and m.held() == b""
    assert DetachMatcher(b"").feed(b"\x10\x11") == (b"\x10\x11", False)
    assert DetachMatcher(b"q").feed(b"abqz") == (b"ab", True)


def test_session_decodes_split_frames_and_the_exit_code(
    pair: tuple[AttachSession, socket.socket],
) -> None:
    sess, monitor = pair
    wire = frame(1, b"out") + frame(2, b"err") + frame(1, b"") + frame(5, struct.pack(">i", -3))
    for i in range(len(wire)):  # one byte at a time: headers and payloads split anywhere
        monitor.sendall(wire[i : i + 1])
    monitor.shutdown(socket.SHUT_WR)
    assert list(sess.frames(timeout=WAIT)) == [Frame(1, b"out"), Frame(2, b"err"), Frame(1, b"")]
    assert sess.exit_code == -3 and sess.ended
    with pytest.raises(ContainerError, match="gone"):
        sess.send(b"late")


def test_session_encodes_stdin_resize_and_close(pair: tuple[AttachSession, socket.socket]) -> None:
    sess, monitor = pair
    big = os.urandom(200_000)  # more than one frame, more than a socket buffer
    t = threading.Thread(target=sess.send, args=(big,))
    t.start()
    got = b""
    while len(got) < len(big):
        kind, payload = recv_frame(monitor)
        assert kind == 0 and 0 < len(payload) <= 65536
        got += payload
    t.join(WAIT)
    assert got == big
    sess.resize(50, 132)
    sess.close_stdin()
    assert recv_frame(monitor) == (3, struct.pack(">HH", 50, 132))
    assert recv_frame(monitor) == (4, b"")
    with pytest.raises(SpecError):
        sess.resize(0, 80)
    with pytest.raises(TimeoutError):
        sess.read(timeout=0.05)
    monitor.close()  # the monitor gone without an exit frame: the end, no exit code
    assert sess.read(timeout=WAIT) is None and sess.exit_code is None


def test_output_read_while_sending_is_kept(pair: tuple[AttachSession, socket.socket]) -> None:
    sess, monitor = pair
    monitor.sendall(frame(1, b"early"))
    big = b"x" * 1_000_000  # blocks in flush until the monitor reads: output arrives then
    t = threading.Thread(target=sess.send, args=(big,))
    t.start()
    got = 0
    while got < len(big):
        _kind, payload = recv_frame(monitor)
        got += len(payload)
    t.join(WAIT)
    assert sess.read(timeout=WAIT) == Frame(1, b"early")


def _fake_container() -> Any:
    """attach() with a session given only needs the container's id (and wait for a
    connection that ended without an exit frame)."""
    return SimpleNamespace(id="e" * 64, wait=lambda timeout=None: 77)


def test_raw_mode_is_restored_on_keyboard_interrupt(
    pair: tuple[AttachSession, socket.socket],
) -> None:
    sess, monitor = pair
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)

        class Interrupting:
            def write(self, data: bytes) -> int:
                assert not termios.tcgetattr(slave)[3] & termios.ICANON  # raw meanwhile
                raise KeyboardInterrupt

            def flush(self) -> None:
                pass

        monitor.sendall(frame(1, b"x"))
        with pytest.raises(KeyboardInterrupt):
            attach(_fake_container(), stdin_fd=slave, stdout=Interrupting(), session=sess)  # type: ignore[arg-type]
        assert termios.tcgetattr(slave) == before
        assert sess.closed
    finally:
        os.close(master)
        os.close(slave)


def test_resize_is_noticed_without_sigwinch_outside_the_main_thread(
    pair: tuple[AttachSession, socket.socket],
) -> None:
    sess, monitor = pair
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 20, 70, 0, 0))
    result: list[int | None] = []
    t = threading.Thread(
        target=lambda: result.append(
            attach(_fake_container(), stdin_fd=slave, stdout=slave, session=sess)
        )
    )
    t.start()
    try:
        assert recv_frame(monitor) == (3, struct.pack(">HH", 20, 70))  # the size at start
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 90, 0, 0))
        assert recv_frame(monitor) == (3, struct.pack(">HH", 30, 90))  # no SIGWINCH here
        os.write(master, b"hi")
        assert recv_frame(monitor) == (0, b"hi")
        monitor.sendall(frame(1, b"shown") + frame(5, struct.pack(">i", 9)))
        monitor.shutdown(socket.SHUT_WR)
        t.join(WAIT)
        assert result == [9]
        assert os.read(master, 100) == b"shown"
    finally:
        monitor.close()
        t.join(WAIT)
        os.close(master)
        os.close(slave)


def test_connection_lost_without_exit_frame_falls_back_to_the_recorded_status(
    pair: tuple[AttachSession, socket.socket],
) -> None:
    sess, monitor = pair
    r, w = os.pipe()
    try:
        monitor.close()
        assert attach(_fake_container(), stdin=False, stdout=w, session=sess) == 77
    finally:
        os.close(r)
        os.close(w)
