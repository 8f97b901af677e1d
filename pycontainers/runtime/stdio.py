"""Standard streams of a container, shaped like :mod:`subprocess`'s.

``None`` inherits the caller's stream, :data:`PIPE` makes a pipe, :data:`DEVNULL` uses
/dev/null, :data:`STDOUT` (for stderr) shares stdout; an int or an object with ``fileno()``
is used as is.
"""

from __future__ import annotations

import os
import select
import time
from typing import IO, Any

# subprocess's own values (``subprocess.PIPE`` works here too), without importing it and
# its threading and selectors on every container start
PIPE = -1
STDOUT = -2
DEVNULL = -3

StdioArg = int | IO[Any] | None


class Stdio:
    """The three streams for one container: child ends to pass, parent ends to keep."""

    def __init__(self, stdin: StdioArg, stdout: StdioArg, stderr: StdioArg) -> None:
        self.child: list[int] = []
        self._to_close: list[int] = []
        self.stdin: int | None = None
        self.stdout: int | None = None
        self.stderr: int | None = None
        try:
            self.child.append(self._one(stdin, 0))
            self.child.append(self._one(stdout, 1))
            if stderr == STDOUT:
                self.child.append(self.child[1])
            else:
                self.child.append(self._one(stderr, 2))
        except BaseException:
            self.close_all()
            raise

    def _one(self, arg: StdioArg, num: int) -> int:
        if arg is None:
            return num
        if arg == DEVNULL:
            return -1
        if arg == PIPE:
            r, w = os.pipe2(os.O_CLOEXEC)
            child, mine = (r, w) if num == 0 else (w, r)
            self._to_close.append(child)
            setattr(self, ("stdin", "stdout", "stderr")[num], mine)
            return child
        if isinstance(arg, int):
            if arg < 0:
                raise ValueError(f"invalid file descriptor {arg} for fd {num}")
            return arg
        return arg.fileno()

    def fd_map(self) -> tuple[tuple[int, int], ...]:
        """(parent fd, container fd) pairs for the plan."""
        return tuple((src, dst) for dst, src in enumerate(self.child))

    def close_child_ends(self) -> None:
        """Close the pipe ends handed to the child (after spawn)."""
        for fd in self._to_close:
            os.close(fd)
        self._to_close.clear()

    def close_all(self) -> None:
        """Close every pipe end this object made."""
        self.close_child_ends()
        for name in ("stdin", "stdout", "stderr"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)


_POLL_MAX_MS = 2**31 - 1


def wait_readable(fd: int, timeout: float | None) -> bool:
    """Whether ``fd`` (a pidfd: the process exited) becomes readable within ``timeout`` s
    (None: wait as long as it takes).
    """
    p = select.poll()
    p.register(fd, select.POLLIN)
    if timeout is None:
        return bool(p.poll())
    return bool(p.poll(min(max(timeout, 0) * 1000, _POLL_MAX_MS)))


def communicate(
    stdio: Stdio, pidfd: int, data: bytes | None, deadline: float | None
) -> tuple[bytes | None, bytes | None, bool]:
    """Feed ``data`` to stdin and collect stdout/stderr until the child exits and the pipes
    reach EOF. Returns (stdout, stderr, timed_out).
    """
    import selectors

    out: dict[int, list[bytes]] = {}
    sel = selectors.DefaultSelector()
    pending = data or b""
    try:
        if stdio.stdin is not None:
            if pending:
                os.set_blocking(stdio.stdin, False)
                sel.register(stdio.stdin, selectors.EVENT_WRITE)
            else:
                os.close(stdio.stdin)
                stdio.stdin = None
        for fd in (stdio.stdout, stdio.stderr):
            if fd is not None:
                out[fd] = []
                sel.register(fd, selectors.EVENT_READ)
        exited = False
        if out or pending:
            sel.register(pidfd, selectors.EVENT_READ)
        while len(sel.get_map()) > (0 if exited else 1):
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            events = sel.select(timeout)
            if not events and deadline is not None and time.monotonic() >= deadline:
                return _joined(out, stdio), _joined(out, stdio, err=True), True
            for key, _ in events:
                fd = int(key.fd)
                if fd == pidfd:
                    exited = True
                    sel.unregister(fd)
                    # the payload is gone; pipes still open elsewhere must not hang us
                    for rfd in list(out):
                        if rfd in sel.get_map():
                            os.set_blocking(rfd, False)
                elif fd == stdio.stdin:
                    try:
                        n = os.write(fd, pending[:65536])
                        pending = pending[n:]
                    except (BrokenPipeError, BlockingIOError) as exc:
                        if isinstance(exc, BrokenPipeError):
                            pending = b""
                    if not pending:
                        sel.unregister(fd)
                        os.close(fd)
                        stdio.stdin = None
                else:
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        sel.unregister(fd)
                        continue
                    if chunk:
                        out[fd].append(chunk)
                    else:
                        sel.unregister(fd)
        # streams done (or none to watch): the deadline still holds for the process
        if (
            not exited
            and deadline is not None
            and not wait_readable(pidfd, max(0.0, deadline - time.monotonic()))
        ):
            return _joined(out, stdio), _joined(out, stdio, err=True), True
        return _joined(out, stdio), _joined(out, stdio, err=True), False
    finally:
        sel.close()


def _joined(out: dict[int, list[bytes]], stdio: Stdio, err: bool = False) -> bytes | None:
    fd = stdio.stderr if err else stdio.stdout
    if fd is None:
        return None
    return b"".join(out.get(fd, []))
