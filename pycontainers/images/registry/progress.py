"""Progress of pulls, pushes, loads and saves: one event per change of a blob, and two renderers.

The library calls a :class:`ProgressCallback` with a :class:`Progress` event whenever a blob
(config or layer) changes state or moves forward; events come from worker threads, so a
callback must be thread-safe (both renderers here are). :class:`TerminalProgress` draws one
bar per layer and redraws in place (for a terminal); :class:`LineProgress` prints one line
per state change (for logs and pipes). :func:`progress_for` picks one for a stream.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, TextIO

import attrs

from pycontainers.images.digest import Digest

#: Event states: "waiting", "exists" (already there), "mounted" (cross-repository mount),
#: "downloading"/"uploading"/"loading"/"saving" (``done`` bytes of ``total``; the last two
#: for ``load`` and ``save``), "done" and "failed".
STATES = ("waiting", "exists", "mounted", "downloading", "uploading", "loading", "saving",
          "done", "failed")  # fmt: skip
_MOVING = frozenset({"downloading", "uploading", "loading", "saving"})
_FINAL = frozenset({"exists", "mounted", "done", "failed"})


@attrs.frozen
class Progress:
    """One blob's progress: ``done`` of ``total`` bytes, in ``state`` (see :data:`STATES`)."""

    digest: Digest
    total: int
    done: int
    state: str
    kind: str = "layer"  # "layer" or "config"

    @property
    def short_id(self) -> str:
        """The first 12 hex digits of the digest, as Docker shows layers."""
        return self.digest.encoded[:12]


class ProgressCallback(Protocol):
    """Receives :class:`Progress` events (from several threads at once)."""

    def __call__(self, event: Progress, /) -> None:
        """Handle one event."""


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}MB" if n >= 1e5 else f"{n / 1e3:.1f}kB"


_LABELS = {
    "waiting": "Waiting",
    "exists": "Already exists",
    "mounted": "Mounted from another repository",
    "downloading": "Downloading",
    "uploading": "Pushing",
    "loading": "Loading layer",
    "saving": "Saving layer",
    "done": "Complete",
    "failed": "Failed",
}


class LineProgress:
    """Prints a line when a blob starts moving and when it reaches a final state."""

    def __init__(self, stream: TextIO, verb: str = "Pull") -> None:
        self.stream = stream
        self.verb = verb
        self._lock = threading.Lock()
        self._started: set[Digest] = set()

    def __call__(self, event: Progress) -> None:
        """Print the event if it is a start or an end."""
        with self._lock:
            if event.state in _MOVING:
                if event.digest in self._started:
                    return
                self._started.add(event.digest)
                line = f"{event.short_id}: {_LABELS[event.state]} {_mb(event.total)}"
            elif event.state == "done":
                line = f"{event.short_id}: {self.verb} complete"
            elif event.state in _FINAL:
                line = f"{event.short_id}: {_LABELS[event.state]}"
            else:
                return
            print(line, file=self.stream, flush=True)


class TerminalProgress:
    """One bar per blob, redrawn in place with ANSI cursor movement (at most 10 times/s)."""

    def __init__(self, stream: TextIO, width: int = 30, interval: float = 0.1) -> None:
        self.stream = stream
        self.width = width
        self.interval = interval
        self._lock = threading.Lock()
        self._events: dict[Digest, Progress] = {}
        self._drawn = 0
        self._last = 0.0

    def line(self, event: Progress) -> str:
        """The text of one blob's line."""
        label = _LABELS.get(event.state, event.state)
        if event.state in _MOVING and event.total > 0:
            filled = min(self.width, self.width * event.done // event.total)
            bar = "=" * max(filled - 1, 0) + (">" if filled else "") + " " * (self.width - filled)
            return f"{event.short_id}: {label:<12} [{bar}] {_mb(event.done)}/{_mb(event.total)}"
        return f"{event.short_id}: {label}"

    def __call__(self, event: Progress) -> None:
        """Record the event and redraw (state changes at once, byte counts throttled)."""
        with self._lock:
            old = self._events.get(event.digest)
            self._events[event.digest] = event
            now = time.monotonic()
            if old is not None and old.state == event.state and now - self._last < self.interval:
                return
            self._last = now
            self._draw()

    def _draw(self) -> None:
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}A")
        for ev in self._events.values():
            out.append(f"\r\x1b[2K{self.line(ev)}\n")
        self._drawn = len(self._events)
        self.stream.write("".join(out))
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state once more."""
        with self._lock:
            if self._events:
                self._draw()


def progress_for(stream: TextIO, verb: str = "Pull") -> LineProgress | TerminalProgress:
    """Bars for a terminal, plain lines otherwise."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return TerminalProgress(stream)
    return LineProgress(stream, verb)


__all__ = [
    "STATES",
    "LineProgress",
    "Progress",
    "ProgressCallback",
    "TerminalProgress",
    "progress_for",
]
