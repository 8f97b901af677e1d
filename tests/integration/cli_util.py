"""Helpers of the CLI tests: run ``python -m pycontainers`` as a separate process."""

from __future__ import annotations

import subprocess
import sys
import time


def cli(
    *args: str, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m pycontainers ARGS`` (it inherits the session's netns and state roots)."""
    return subprocess.run([sys.executable, "-m", "pycontainers", *args], capture_output=True,
                          text=True, timeout=timeout, input=input)  # fmt: skip


def ok(*args: str, input: str | None = None) -> str:
    r = cli(*args, input=input)
    assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
    return r.stdout


def until(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def read_pty(master: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> bytes:
    """What ``proc`` writes to the terminal whose master is ``master``, until the terminal
    closes (EIO) or ``proc`` ends with nothing more to read.
    """
    import os
    import select

    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out
