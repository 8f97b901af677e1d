"""``pycontainers system warm``: this user's warm start servers, and stopping them."""

from __future__ import annotations

import os
import signal
import time

from pycontainers.warmstart import socket_dir


def servers() -> list[tuple[str, int | None, float]]:
    """Each server socket of the directory: (its path, the server's pid (None when no server
    holds it), its age in seconds).
    """
    base = socket_dir()
    if base is None:
        return []
    try:
        names = sorted(n for n in os.listdir(base) if n.endswith(".sock"))
    except OSError:
        return []
    out: list[tuple[str, int | None, float]] = []
    for name in names:
        path = os.path.join(base, name)
        try:
            age = time.time() - os.lstat(path).st_mtime
        except OSError:
            continue
        out.append((path, _pid(path), age))
    return out


def _pid(path: str) -> int | None:
    """The pid the lock file names, if that process is a live server holding the lock."""
    try:
        with open(path + ".lock", encoding="ascii") as f:
            pid = int(f.read().strip() or "0")
            inode = os.fstat(f.fileno()).st_ino
        with open("/proc/locks", encoding="ascii") as f:
            locks = [line.split() for line in f if " FLOCK " in line]
    except (OSError, ValueError):
        return None
    held = any(len(w) > 5 and w[4] == str(pid) and w[5].endswith(f":{inode}") for w in locks)
    return pid if pid > 0 and held else None


def stop(wait: float = 10.0) -> list[int]:
    """SIGTERM every server (each stops serving, lets its running commands finish and
    exits); wait for them up to ``wait`` seconds; their pids.
    """
    pids = [pid for _path, pid, _age in servers() if pid is not None]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in pids):
        time.sleep(0.02)
    return pids
