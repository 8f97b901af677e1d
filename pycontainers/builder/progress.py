"""Build progress as BuildKit prints it: ``#3 [build 2/5] RUN make``, the step's output as
``#3 0.412 ...`` lines, then ``#3 CACHED`` or ``#3 DONE 1.2s``; on a terminal (``tty``)
the output of a running step stays on one line that is rewritten in place.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from pycontainers._log import get_logger

__all__ = ["PROGRESS_MODES", "Progress", "Step"]

log = get_logger("pycontainers.build")

PROGRESS_MODES = ("auto", "plain", "tty", "quiet")


class Step:
    """One vertex of the progress: a number, a title, a start time."""

    def __init__(self, progress: Progress, number: int, title: str) -> None:
        self.progress = progress
        self.number = number
        self.title = title
        self.started = time.monotonic()
        self._partial = ""
        self.finished = False

    def output(self, data: bytes) -> None:
        """Lines the step printed (the last one may be unfinished)."""
        text = self._partial + data.decode("utf-8", "replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            self.progress.line(self, line.rstrip("\r"))

    def flush(self) -> None:
        """Print an unfinished last line."""
        if self._partial:
            self.progress.line(self, self._partial)
            self._partial = ""

    def cached(self) -> None:
        """The step's result came from the cache."""
        self.finished = True
        self.progress.emit(f"#{self.number} CACHED")
        log.info("build.step_cached", step=self.number, title=self.title)

    def done(self) -> None:
        """The step finished."""
        self.flush()
        self.finished = True
        took = time.monotonic() - self.started
        self.progress.finish_line()
        self.progress.emit(f"#{self.number} DONE {took:.1f}s")
        log.info("build.step_done", step=self.number, title=self.title, seconds=round(took, 3))

    def error(self, message: str) -> None:
        """The step failed."""
        self.flush()
        self.finished = True
        self.progress.finish_line()
        self.progress.emit(f"#{self.number} ERROR: {message}")


class Progress:
    """Where steps and their output go: ``plain`` lines, a ``tty`` view, or ``quiet``."""

    def __init__(self, mode: str = "auto", stream: TextIO | None = None) -> None:
        if mode not in PROGRESS_MODES:
            from pycontainers.errors import SpecError

            raise SpecError(
                "progress", f"expected one of {', '.join(PROGRESS_MODES)}, got {mode!r}"
            )
        self.stream = stream if stream is not None else sys.stderr
        if mode == "auto":
            mode = "tty" if self.stream.isatty() else "plain"
        self.mode = mode
        self.count = 0
        self._open_line = False
        self.started = time.monotonic()

    def step(self, title: str) -> Step:
        """Start step ``#N title``."""
        self.count += 1
        s = Step(self, self.count, title)
        self.emit(f"#{s.number} {title}")
        log.info("build.step", step=s.number, title=title)
        return s

    def line(self, step: Step, text: str) -> None:
        """One line of a step's output."""
        if self.mode == "quiet":
            return
        stamp = f"{time.monotonic() - step.started:.3f}"
        if self.mode == "tty":
            width = 120
            shown = f"#{step.number} {stamp} {text}"[:width]
            self.stream.write(f"\r\x1b[K{shown}")
            self._open_line = True
        else:
            self.stream.write(f"#{step.number} {stamp} {text}\n")
        self.stream.flush()

    def finish_line(self) -> None:
        """End a line the tty view is rewriting."""
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False

    def emit(self, text: str) -> None:
        """Print one progress line."""
        if self.mode == "quiet":
            return
        self.finish_line()
        self.stream.write(text + "\n")
        self.stream.flush()
