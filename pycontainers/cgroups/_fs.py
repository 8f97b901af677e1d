"""cgroupfs file I/O: every read, write, mkdir and rmdir of the package goes through here and
fails as :class:`CgroupError` naming the path.
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Callable, Mapping

from pycontainers.cgroups._errors import CgroupError

# v1 reports "no limit" as PAGE_COUNTER_MAX * PAGE_SIZE (9223372036854771712 on 4k pages)
_V1_UNLIMITED_FROM = 1 << 62


def flat_keyed(text: str) -> dict[str, int]:
    """Parse ``key value`` lines (memory.events, cpu.stat, memory.oom_control...)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def limit_value(text: str) -> int | None:
    """Parse a limit file: ``max`` (v2), ``-1`` or a near-2**63 value (v1) mean no limit."""
    text = text.strip()
    if text in ("max", "-1", ""):
        return None
    value = int(text)
    return None if value >= _V1_UNLIMITED_FROM else value


def read(path: str) -> str:
    """Return the text of a cgroup file."""
    try:
        with open(path) as f:
            return f.read()
    except OSError as exc:
        raise CgroupError(
            f"cannot read {path}: {exc.strerror}", path=path, errno=exc.errno
        ) from exc


def read_optional(path: str) -> str | None:
    """Return the text of a cgroup file, or ``None`` if there is no such file."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CgroupError(
            f"cannot read {path}: {exc.strerror}", path=path, errno=exc.errno
        ) from exc


def write(path: str, value: str, *, hints: Mapping[int, str] | None = None) -> None:
    """Write ``value`` to a cgroup file in one write(2); the file must exist (no O_CREAT).

    O_TRUNC as runc does: cgroupfs ignores it, and a plain file (a fake tree) then holds
    just the value.

    ``hints`` maps an errno to advice added to the error message.
    """
    data = value.encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as exc:
        raise CgroupError(
            f"cannot open {path} for writing: {exc.strerror}", path=path, errno=exc.errno
        ) from exc
    try:
        os.write(fd, data)
    except OSError as exc:
        code = exc.errno
        hint = (hints or {}).get(code) if code is not None else None
        extra = f" ({hint})" if hint else ""
        raise CgroupError(
            f"cannot write {value!r} to {path}: {exc.strerror}{extra}", path=path, errno=code
        ) from exc
    finally:
        os.close(fd)


def mkdir(path: str) -> bool:
    """Create one cgroup directory; return False if it existed already."""
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        return False
    except OSError as exc:
        raise CgroupError(
            f"cannot create the cgroup {path}: {exc.strerror}", path=path, errno=exc.errno
        ) from exc
    return True


def rmdir_tree(path: str, timeout: float) -> None:
    """Remove the cgroup ``path`` and any groups below it, deepest first.

    A group whose last process just exited may stay busy for a moment: EBUSY is retried
    until ``timeout`` seconds have passed. A missing group is not an error.
    """
    if not os.path.isdir(path):
        return
    subdirs = [root for root, _, _ in os.walk(path, topdown=False)]
    deadline = time.monotonic() + timeout
    for directory in subdirs:
        delay = 0.001
        while True:
            try:
                os.rmdir(directory)
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if exc.errno == errno.EBUSY and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
                    continue
                why = (
                    " (it still has processes: kill them first)" if exc.errno == errno.EBUSY else ""
                )
                raise CgroupError(
                    f"cannot remove the cgroup {directory}: {exc.strerror}{why}",
                    path=directory,
                    errno=exc.errno,
                ) from exc


def wait_until(test: Callable[[], bool], timeout: float, what: str, path: str) -> None:
    """Poll ``test`` with a growing sleep until it is true; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while not test():
        if time.monotonic() >= deadline:
            raise CgroupError(f"timed out after {timeout}s waiting for {what}", path=path)
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def wait_keyed(path: str, key: str, value: int, timeout: float, what: str) -> None:
    """Wait until the flat-keyed file ``path`` (``cgroup.events``) has ``key value``.

    The kernel wakes pollers of such files with POLLPRI when they change; the file is
    re-read at least every 50 ms as well, so a missed wake-up only costs time.
    """
    wanted = f"{key} {value}"
    deadline = time.monotonic() + timeout
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise CgroupError(
            f"cannot open {path}: {exc.strerror}", path=path, errno=exc.errno
        ) from exc
    try:
        poller = select.poll()
        poller.register(fd, select.POLLPRI | select.POLLERR)
        while True:
            try:
                text = os.pread(fd, 4096, 0).decode()
            except OSError as exc:  # ENODEV: the group was removed meanwhile
                raise CgroupError(
                    f"cannot read {path}: {exc.strerror}", path=path, errno=exc.errno
                ) from exc
            if wanted in text.splitlines():
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise CgroupError(f"timed out after {timeout}s waiting for {what}", path=path)
            poller.poll(min(left, 0.05) * 1000)
    finally:
        os.close(fd)
