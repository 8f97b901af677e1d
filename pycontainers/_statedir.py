"""A container's state directory at the level of files, with the standard library only: its
lock and its removal. Shared by :mod:`pycontainers.runtime.state` and the OCI runtime's
quick path, which must not pay for the engine's imports.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator


@contextlib.contextmanager
def locked(state_dir: str, *, create: bool = True) -> Iterator[None]:
    """Hold the container's lock for a state transition. Without ``create`` a container
    whose state directory was removed meanwhile raises FileNotFoundError.
    """
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    fd = os.open(os.path.join(state_dir, "lock"), flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove_state_dir(path: str) -> None:
    """Remove a container's state directory and whatever it holds (gone already: fine).

    The state file goes first, under the container's lock: a process that saves the
    container's state at the same moment (the start of a command that exits at once, while
    its exit hook removes it) then finds it gone and does not bring it back.
    """
    try:
        with locked(path, create=False), contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(path, "state.json"))
    except FileNotFoundError:
        pass
    for name in ("state.json", "start.fifo", "lock"):
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
    for name in os.listdir(path) if os.path.isdir(path) else ():
        entry = os.path.join(path, name)
        try:
            os.unlink(entry)
        except FileNotFoundError:
            pass
        except IsADirectoryError:  # never ours: whatever was put there goes with the state
            import shutil

            shutil.rmtree(entry, ignore_errors=True)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
