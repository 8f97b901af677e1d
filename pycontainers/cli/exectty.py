"""``exec -t``: run a command in a container on a pseudo-terminal of ours, relayed to our
terminal (raw mode while it runs) — the CLI side of Docker's ``exec -it``.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container


def _copy_size(src: int, dst: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def exec_tty(c: Container, cmd: list[str], *, interactive: bool, **kw: Any) -> int:
    """Run ``cmd`` in ``c`` with a pty as its stdio; relay it until the command exits.

    The pty is the command's controlling terminal (job control works); it comes from the
    host's devpts, so tty(1) inside cannot name it.
    """
    import termios
    import tty

    master, slave = os.openpty()
    stdin_tty = sys.stdin.isatty()
    if stdin_tty:
        _copy_size(0, slave)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["code"] = c.exec(
                cmd, stdin=slave, stdout=slave, stderr=slave, tty=True, **kw
            ).returncode
        except BaseException as exc:  # handed to the main thread
            result["error"] = exc
        finally:
            os.close(slave)

    thread = threading.Thread(target=run, daemon=True)
    saved = termios.tcgetattr(0) if stdin_tty and interactive else None
    if saved is not None:
        tty.setraw(0)
    try:
        thread.start()
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
