"""pycontainers-monitor: the attach socket (live output, stdin, resize, exit frame), ptys, the
console socket, and --adopt mode (the container process handed over by an intermediate that
execs the monitor, as the shim does). No root needed."""

from __future__ import annotations

import os
import socket
import struct
import sys
from pathlib import Path

from monitor_util import (
    WAIT,
    Monitor,
    adopter,
    attach,
    read_until,
    recv_frame,
    send_frame,
    wait_for,
)

PY = sys.executable
BUSYBOX = "/bin/busybox"


def wait_size(rows: int, cols: int) -> str:
    """A script that waits until the pty has this size, then prints it."""
    want = f"{rows} {cols}"
    return (  # busybox stty prefers $LINES/$COLUMNS (pytest sets them) to the real size
        f"unset LINES COLUMNS; "
        f'until [ "$({BUSYBOX} stty size 2>/dev/null)" = "{want}" ]; do sleep 0.02; done; '
        f'echo "size:$({BUSYBOX} stty size)"'
    )


def exit_frame(s: socket.socket) -> int:
    """Skip output frames; the exit frame's code; then the monitor closes the connection."""
    while True:
        kind, payload = recv_frame(s)
        if kind == 5:
            assert s.recv(1) == b""
            code: int = struct.unpack(">i", payload)[0]
            return code
        assert kind in (1, 2)


def sockets(pid: int) -> int:
    """How many sockets a process holds."""
    fds = os.listdir(f"/proc/{pid}/fd")
    return sum(os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:") for fd in fds)


def test_stdin_frames_reach_cat_and_output_comes_back(tmp_path: Path) -> None:
    with Monitor(tmp_path, "--interactive", argv=["cat"]) as m, attach(tmp_path) as s:
        send_frame(s, 0, b"hello ")
        send_frame(s, 0, b"world\n")
        assert read_until(s, b"hello world\n") == b"hello world\n"
        send_frame(s, 4)  # close stdin: cat sees EOF and exits
        assert exit_frame(s) == 0
        assert m.exit_info()["exit_code"] == 0
        assert [e["log"] for e in m.log()] == ["hello world\n"]


def test_streams_and_exit_code_in_frames(tmp_path: Path) -> None:
    script = "read x; echo out:$x; echo err:$x >&2; exit 5"
    with Monitor(tmp_path, "--interactive", argv=["sh", "-c", script]), attach(tmp_path) as s:
        send_frame(s, 0, b"v\n")
        frames = []
        while True:
            kind, payload = recv_frame(s)
            if kind == 5:
                break
            frames.append((kind, payload))
        assert struct.unpack(">i", payload) == (5,)
        assert b"".join(p for k, p in frames if k == 1) == b"out:v\n"
        assert b"".join(p for k, p in frames if k == 2) == b"err:v\n"


def test_a_client_that_does_not_read_is_dropped(tmp_path: Path) -> None:
    go = tmp_path / "go"
    size = 8 << 20
    code = (
        "import os, sys, time\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
        f"sys.stdout.buffer.write(b'y' * {size})\n"
    )
    with Monitor(tmp_path, argv=[PY, "-c", code]) as m:
        before = sockets(m.pid)
        s = attach(tmp_path)  # and never read while the container writes
        wait_for(lambda: sockets(m.pid) > before, "the accept")
        go.touch()
        assert m.wait() == 0  # the monitor did not block on the client
        assert sum(len(e["log"]) for e in m.log()) == size
        got = 0
        try:
            while True:
                kind, payload = recv_frame(s)
                assert kind == 1  # never reaches the exit frame: dropped before
                got += len(payload)
        except EOFError:
            pass
        finally:
            s.close()
        assert got < size


def test_resize_frame_sets_the_pty_size(tmp_path: Path) -> None:
    argv = [BUSYBOX, "sh", "-c", wait_size(40, 100)]
    with Monitor(tmp_path, "--tty", "--interactive", argv=argv) as m, attach(tmp_path) as s:
        send_frame(s, 3, struct.pack(">HH", 40, 100))
        assert b"size:40 100" in read_until(s, b"size:40 100")
        assert exit_frame(s) == 0
        logged = "".join(e["log"] for e in m.log())
        assert "40 100" in logged and {e["stream"] for e in m.log()} == {"stdout"}


def test_adopt_with_pipes(tmp_path: Path) -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    spec = {
        "argv": ["sh", "-c", "read x; echo out:$x; echo err:$x >&2; exit 4"],
        "stdio": [in_r, out_w, err_w],
        "close": [in_r, out_w, err_w],
    }
    fds = (in_r, in_w, out_r, out_w, err_r, err_w)
    args = ["--stdin-fd", str(in_w), "--stdout-fd", str(out_r), "--stderr-fd", str(err_r)]
    try:
        m = Monitor(tmp_path, *args, pass_fds=fds, launcher=adopter(spec))
    finally:
        for fd in fds:
            os.close(fd)
    with m, attach(tmp_path) as s:
        send_frame(s, 0, b"v\n")
        assert exit_frame(s) == 4
        info = m.exit_info()
        assert info["exit_code"] == 4 and info["signal"] is None
        assert sorted((e["stream"], e["log"]) for e in m.log()) == [
            ("stderr", "err:v\n"),
            ("stdout", "out:v\n"),
        ]


def test_adopt_with_a_pty_fd(tmp_path: Path) -> None:
    master, slave = os.openpty()
    spec = {
        "argv": [BUSYBOX, "sh", "-c", wait_size(33, 77) + "; read line; echo got:$line"],
        "slave": slave,
        "close": [slave],
    }
    try:
        m = Monitor(
            tmp_path, "--pty-fd", str(master), pass_fds=(master, slave), launcher=adopter(spec)
        )
    finally:
        os.close(master)
        os.close(slave)
    with m, attach(tmp_path) as s:
        send_frame(s, 3, struct.pack(">HH", 33, 77))
        read_until(s, b"size:33 77")
        send_frame(s, 0, b"abc\n")
        read_until(s, b"got:abc")
        assert exit_frame(s) == 0
        assert m.exit_info()["exit_code"] == 0


def test_adopt_a_process_that_already_exited(tmp_path: Path) -> None:
    spec = {"argv": ["sh", "-c", "exit 6"], "stdio": [-1, -1, -1], "close": []}
    m = Monitor(tmp_path, launcher=adopter(spec))
    assert m.exit_info()["exit_code"] == 6


def _console(tmp_path: Path) -> socket.socket:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(tmp_path / "console.sock"))
    srv.listen(1)
    srv.settimeout(WAIT)
    return srv


def _receive_pty(srv: socket.socket) -> tuple[str, int]:
    conn, _ = srv.accept()
    with conn:
        msg, fds, _, _ = socket.recv_fds(conn, 256, 1)
    assert len(fds) == 1
    return msg.decode(), fds[0]


def _read_pty(fd: int, needle: bytes) -> bytes:
    got = b""
    while needle not in got:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is gone
            break
        if not chunk:
            break
        got += chunk
    return got


def test_console_socket_receives_the_pty_master(tmp_path: Path) -> None:
    state = tmp_path / "st"
    srv = _console(tmp_path)
    sock = str(tmp_path / "console.sock")
    script = "echo hi-from-pty; read x; echo got:$x"
    with Monitor(state, "--tty", "--console-socket", sock, argv=["sh", "-c", script]) as m:
        name, fd = _receive_pty(srv)
        try:
            assert name.startswith("/dev/pts/") and os.isatty(fd)
            assert b"hi-from-pty" in _read_pty(fd, b"hi-from-pty")
            os.write(fd, b"typed\n")
            assert b"got:typed" in _read_pty(fd, b"got:typed")
            _read_pty(fd, b"\0")  # to EIO: the container has exited (no SIGHUP by our close)
        finally:
            os.close(fd)
        assert m.exit_info()["exit_code"] == 0
        assert m.log() == []  # the receiver owns the output
    srv.close()


def test_console_socket_with_an_adopted_pty(tmp_path: Path) -> None:
    state = tmp_path / "st"
    srv = _console(tmp_path)
    master, slave = os.openpty()
    spec = {"argv": ["sh", "-c", "read x; echo got:$x"], "slave": slave, "close": [slave]}
    args = ["--pty-fd", str(master), "--console-socket", str(tmp_path / "console.sock")]
    try:
        m = Monitor(state, *args, pass_fds=(master, slave), launcher=adopter(spec))
    finally:
        os.close(master)
        os.close(slave)
    with m:
        _, fd = _receive_pty(srv)
        try:
            assert not any(
                os.readlink(f"/proc/{m.pid}/fd/{n}") == "/dev/ptmx"
                for n in os.listdir(f"/proc/{m.pid}/fd")
            )  # the monitor gave its copy away
            os.write(fd, b"x\n")
            assert b"got:x" in _read_pty(fd, b"got:x")
            _read_pty(fd, b"\0")  # to EIO: the container has exited
        finally:
            os.close(fd)
        assert m.exit_info()["exit_code"] == 0
    srv.close()
