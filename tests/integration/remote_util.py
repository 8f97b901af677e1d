"""Helpers of the client-side tests: a ``pycontainers serve`` daemon with state and data
roots of its own (so nothing the CLI does through it can land in the CLI's default roots),
and our CLI run as a client of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from api_util import IMAGE, Daemon, remove_everything

ROOT_VARS = ("PYCONTAINERS_STATE", "PYCONTAINERS_ROOT")


class RootedDaemon(Daemon):
    """A daemon whose state root and image store are ``state`` and ``data`` (with busybox)."""

    def __init__(self, tmp: Path, name: str, rootfs: Path, extra: tuple[str, ...] = ()) -> None:
        from pycontainers.images import default_store

        self.state = tmp / f"{name}-state"
        self.data = tmp / f"{name}-data"
        self.state.mkdir(parents=True, exist_ok=True)
        default_store(str(self.data)).import_rootfs(str(rootfs), IMAGE)
        old = {k: os.environ.get(k) for k in ROOT_VARS}
        os.environ["PYCONTAINERS_STATE"] = str(self.state)
        os.environ["PYCONTAINERS_ROOT"] = str(self.data)
        try:  # the daemon process inherits these; this process keeps its own
            super().__init__(tmp / f"{name}.sock", tmp / f"{name}.log", extra)
        finally:
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def containers(self) -> list[str]:
        """The ids of the containers in this daemon's state root (read from disk)."""
        return sorted(p.name for p in self.state.iterdir() if len(p.name) == 64 and p.is_dir())


def rooted_daemon(tmp: Path, name: str, rootfs: Path) -> Iterator[RootedDaemon]:
    """A RootedDaemon for a module or test; everything it made removed at the end."""
    d = RootedDaemon(tmp, name, rootfs)
    try:
        yield d
    finally:
        if d.alive():
            remove_everything(d)
        d.stop()


def cli(
    *args: str,
    host: str | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``pycontainers [--host HOST] ARGS`` in a child, with no DOCKER_HOST/PYCONTAINERS_HOST
    from this process (only what ``env`` adds).
    """
    base = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "PYCONTAINERS_HOST")}
    argv = [sys.executable, "-m", "pycontainers", *(["--host", host] if host else []), *args]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env={**base, **(env or {})},
    )


def local_containers() -> list[str]:
    """The containers in the CLI's own (the session's) state root."""
    from pycontainers.runtime.container import Container

    found = []
    for c in Container.list():
        found.append(c.id)
        c.close()
    return found
