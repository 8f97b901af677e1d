"""Reading a container's json-file log (written by its monitor): tail, since, follow.

Each line of ``ctr.log`` is Docker's ``{"log": "...", "stream": "stdout"|"stderr",
"time": "RFC 3339 with nanoseconds"}``; rotated files are ``ctr.log.1`` (newest) to
``ctr.log.N``. A torn last line (the monitor is writing it) is read again once complete.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import attrs

from pycontainers.errors import ContainerError

if TYPE_CHECKING:
    import datetime as dt

LOG_NAME = "ctr.log"


@attrs.frozen
class LogEntry:
    """One chunk of output: the bytes, which stream, and when the monitor read it."""

    data: bytes
    stream: str
    time: str

    @property
    def timestamp(self) -> dt.datetime:
        """``time`` as an aware datetime (nanoseconds cut to microseconds)."""
        return parse_time(self.time)


def parse_time(value: str) -> dt.datetime:
    """Parse an RFC 3339 time with up to nanosecond precision."""
    import datetime as dt

    text = value.rstrip("Z")
    frac = ""
    if "." in text:
        text, frac = text.split(".", 1)
    base = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    return base + dt.timedelta(microseconds=int((frac + "000000")[:6]) if frac else 0)


def _since(value: float | str | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    import datetime as dt

    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    try:
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except ValueError:
        return parse_time(value)


def _parse(line: bytes, path: str) -> LogEntry:
    try:
        raw = json.loads(line)
        return LogEntry(
            raw["log"].encode("utf-8", "surrogateescape"), str(raw["stream"]), str(raw["time"])
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ContainerError(
            f"corrupt log line in {path}: {exc}: {line[:80]!r}", path=path
        ) from None


def _files(state_dir: str) -> list[str]:
    """The log files, oldest first."""
    base = os.path.join(state_dir, LOG_NAME)
    rotated = []
    i = 1
    while os.path.exists(f"{base}.{i}"):
        rotated.append(f"{base}.{i}")
        i += 1
    return [*reversed(rotated), base]


def read_logs(
    state_dir: str,
    *,
    tail: int | None = None,
    since: float | str | dt.datetime | None = None,
    until: float | str | dt.datetime | None = None,
    stdout: bool = True,
    stderr: bool = True,
    follow: bool = False,
    running: Callable[[], bool] | None = None,
    poll: float = 0.05,
    wake: int | None = None,
) -> Iterator[LogEntry]:
    """Entries of a container's log, oldest first.

    ``tail`` keeps the last N entries; ``since``/``until`` filter by time (a Unix time, an
    RFC 3339 string or a datetime); with ``follow``, keep yielding new entries while
    ``running()`` is true (and what is left once it is not). The checks start a millisecond
    apart and back off to ``poll`` seconds while nothing new arrives, so a short-lived
    container's end is seen at once and a quiet one costs little. ``wake`` (a pidfd of the
    container's process) ends a wait as soon as it exits; the checks then start again a
    millisecond apart until ``running()`` turns false.
    """
    start, end = _since(since), _since(until)
    streams = {s for s, on in (("stdout", stdout), ("stderr", stderr)) if on}

    def wanted(e: LogEntry) -> bool:
        if e.stream not in streams:
            return False
        if start is None and end is None:
            return True
        t = e.timestamp
        return (start is None or t >= start) and (end is None or t <= end)

    entries: list[LogEntry] = []
    path = os.path.join(state_dir, LOG_NAME)
    offset = 0
    inode = None
    for name in _files(state_dir):
        try:
            with open(name, "rb") as f:
                data = f.read()
                if name == path:
                    inode = os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            continue
        complete = data[: data.rfind(b"\n") + 1]
        if name == path:
            offset = len(complete)
        entries += [e for e in (_parse(ln, name) for ln in complete.splitlines()) if wanted(e)]
    if tail is not None:
        entries = entries[-tail:] if tail > 0 else []
    yield from entries
    if not follow:
        return
    if wake is not None:
        from pycontainers.runtime.stdio import wait_readable
    delay = min(0.001, poll)
    while True:
        alive = running() if running is not None else True
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_ino != inode:  # rotated: the new file from its start
                    inode, offset = st.st_ino, 0
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        complete = data[: data.rfind(b"\n") + 1]
        offset += len(complete)
        for ln in complete.splitlines():
            e = _parse(ln, path)
            if wanted(e):
                yield e
        if not alive:
            return
        delay = min(0.001, poll) if complete else min(delay * 2, poll)
        if wake is None:
            time.sleep(delay)
        elif wait_readable(wake, delay):  # it exited: its monitor records that soon
            wake = None
            delay = min(0.001, poll) / 2


__all__ = ["LOG_NAME", "LogEntry", "parse_time", "read_logs"]
