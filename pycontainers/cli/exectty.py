"""``exec -t``: run a command in a container on a pseudo-terminal of the container's own
devpts (so ``tty`` inside names it, as with Docker), relayed to our terminal (raw mode while
it runs) — the CLI side of Docker's ``exec -it``.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container


def _size(fd: int) -> tuple[int, int] | None:
    """The (rows, columns) of the terminal on ``fd``, or None."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


def _receive_master(ours: socket.socket) -> int | None:
    """The pty master the command's child sends (None: it ended or failed without one)."""
    try:
        _, fds, _, _ = socket.recv_fds(ours, 1, 1)
    except OSError:
        return None
    return fds[0] if fds else None


def exec_tty(c: Container, cmd: list[str], *, interactive: bool, **kw: Any) -> int:
    """Run ``cmd`` in ``c`` on a new pty of the container's devpts (its stdio and
    controlling terminal: job control works), sized as our terminal; relay it until the
    command exits. It enters through :func:`~pycontainers.runtime.exec.exec_in`, as every
    exec does.
    """
    import termios
    import tty

    from pycontainers.runtime.exec import exec_in

    stdin_tty = sys.stdin.isatty()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["code"] = exec_in(
                c, cmd, stdin=null, stdout=null, stderr=null, console_socket=theirs.fileno(),
                console_size=_size(0) if stdin_tty else None, **kw,
            ).returncode  # fmt: skip
        except BaseException as exc:  # handed to the main thread
            result["error"] = exc
        finally:
            theirs.close()  # the master's receiver sees EOF if none was sent
            os.close(null)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    master = _receive_master(ours)
    ours.close()
    if master is None:  # it failed before its terminal was made
        thread.join()
        if "error" in result:
            raise result["error"]
        return int(result["code"])
    saved = termios.tcgetattr(0) if stdin_tty and interactive else None
    if saved is not None:
        tty.setraw(0)
    try:
        watch = [master, 0] if interactive else [master]
        while True:
            ready, _, _ = select.select(watch, [], [], 0.1)
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every holder of the slave closed it
                    data = b""
                if not data:
                    break
                os.write(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if not data:
                    watch.remove(0)
                    os.write(master, b"\x04")  # EOF at the terminal's line discipline
                else:
                    os.write(master, data)
            if not thread.is_alive() and not select.select([master], [], [], 0)[0]:
                break
        thread.join()
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
    if "error" in result:
        raise result["error"]
    return int(result["code"])


__all__ = ["exec_tty"]
