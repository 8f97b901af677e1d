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
