"""Helpers of the Engine API tests: a ``pycontainers serve`` daemon on a temporary unix
socket (a separate process, in the session's network namespace and state roots), the docker
CLI pointed at it, and the busybox test image in the store.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

DOCKER = shutil.which("docker")
IMAGE = "busybox:latest"


class Daemon:
    """A ``pycontainers serve`` process listening on ``socket``."""

    def __init__(self, sock: Path, log: Path, extra: Sequence[str] = ()) -> None:
        self.socket = sock
        self.log_path = log
        self.url = f"unix://{sock}"
        self._log = open(log, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pycontainers", "serve", "-H", self.url, *extra],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited: {self.log()}")
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(sock))
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the daemon did not listen: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stacks(self) -> str:
        """The daemon's thread stacks (SIGUSR1: faulthandler) and where every process of a
        pycontainers cgroup waits in the kernel: what a hung request report needs.
        """
        if self.alive():
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1)
        lines = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cgroup") as f:
                    if "pycontainers" not in f.read():
                        continue
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:100]
                with open(f"/proc/{pid}/stack") as f:
                    stack = " < ".join(f.read().split()[1::2][:6])
            except OSError:
                continue
            lines.append(f"{pid} {cmd!r}: {stack}")
        return "\n".join([self.log()[-8000:], "processes:", *lines])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self._log.close()
        return code


def docker(
    d: Daemon, *args: str, input: str | None = None, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI against ``d``."""
    if DOCKER is None:
        pytest.skip("no docker CLI installed")
    env = {**os.environ, "DOCKER_HOST": d.url}
    env.pop("DOCKER_CONTEXT", None)
    try:
        r = subprocess.run(
            [DOCKER, *args], capture_output=True, text=True, input=input, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"docker {list(args)} hung for {timeout} s:\n{d.stacks()}") from None
    if check:
        assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr, d.log()[-3000:])
    return r


def ensure_busybox_image(rootfs: Path) -> None:
    """Tag the session's busybox rootfs as ``busybox:latest`` in the default store."""
    from pycontainers.errors import ImageNotFound
    from pycontainers.images import default_store

    store = default_store()
    try:
        store.get(IMAGE)
    except ImageNotFound:
        store.import_rootfs(str(rootfs), IMAGE)


def remove_everything(d: Daemon) -> None:
    """Remove every container, user network and volume through the daemon."""
    ids = docker(d, "ps", "-aq", check=False).stdout.split()
    if ids:
        docker(d, "rm", "-f", "-v", *ids, check=False)
    for name in docker(d, "network", "ls", "--format", "{{.Name}}", check=False).stdout.split():
        if name not in ("bridge", "host", "none"):
            docker(d, "network", "rm", name, check=False)
    vols = docker(d, "volume", "ls", "-q", check=False).stdout.split()
    if vols:
        docker(d, "volume", "rm", "-f", *vols, check=False)


def start_daemon(tmp: Path, name: str = "d") -> Iterator[Daemon]:
    """A daemon for a test or module; everything it made removed at the end."""
    d = Daemon(tmp / f"{name}.sock", tmp / f"{name}.log")
    try:
        yield d
    finally:
        if d.alive():
            remove_everything(d)
        d.stop()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
