"""Our side of an interactive attach: raw mode, window size, SIGWINCH, stdin and output."""

from __future__ import annotations

import contextlib
import errno
import os
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

_CHUNK = 65536


def read_stdin(fd: int) -> bytes | None:
    """What stdin has (b"" at EOF, None if nothing after all)."""
    try:
        return os.read(fd, _CHUNK)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno == errno.EIO:  # a terminal whose other side is gone
            return b""
        raise


def writer(target: BinaryIO | int) -> Callable[[bytes], None]:
    """A function writing all of its bytes to ``target`` (a binary file or an fd)."""
    if isinstance(target, int):

        def write_fd(data: bytes) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(target, view) :]

        return write_fd

    def write_file(data: bytes) -> None:
        target.write(data)
        target.flush()

    return write_file


def fileno_of(obj: object) -> int:
    """The fd behind a file object, or -1."""
    try:
        fd = obj.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return -1
    return fd if isinstance(fd, int) else -1


def winsize(fd: int) -> tuple[int, int] | None:
    """(rows, cols) of the terminal on ``fd``; None if unknown."""
    import fcntl
    import termios

    try:
        raw = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows, cols = struct.unpack("HHHH", raw)[:2]
    return (rows, cols) if rows and cols else None


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """Put the terminal on ``fd`` in raw mode; restore its settings on the way out."""
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)  # TCSAFLUSH would drop what was typed already
    try:
        yield
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def sigwinch_pipe() -> Iterator[int]:
    """A pipe that gets a byte on SIGWINCH; -1 where no handler can be set (not the main
    thread): then the periodic size check alone notices resizes.
    """
    import signal

    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def on_winch(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):
            os.write(w, b"w")

    try:
        old = signal.signal(signal.SIGWINCH, on_winch)
    except ValueError:  # signal only works in the main thread
        os.close(r)
        os.close(w)
        yield -1
        return
    try:
        yield r
    finally:
        signal.signal(signal.SIGWINCH, old)
        os.close(r)
        os.close(w)


__all__ = ["fileno_of", "raw_mode", "read_stdin", "sigwinch_pipe", "winsize", "writer"]
