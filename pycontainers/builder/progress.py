"""Build progress as BuildKit prints it.

``plain``: ``#3 [build 2/5] RUN make``, the step's output as ``#3 0.412 ...`` lines, then
``#3 CACHED`` or ``#3 DONE 1.2s`` (steps of stages built at the same time interleave, each
line naming its step). ``tty``: finished steps scroll up as ``#3 [build 2/5] RUN make
DONE 1.2s``; below them a few lines are redrawn in place (ANSI cursor-up and erase): a
``[+] Building`` header and each running step with its time and the last line it printed.
``quiet`` prints nothing; ``auto`` is ``tty`` on a terminal, else ``plain``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from pycontainers._log import get_logger

__all__ = ["PROGRESS_MODES", "Progress", "Step"]

log = get_logger("pycontainers.build")

PROGRESS_MODES = ("auto", "plain", "tty", "quiet")
_UP_AND_ERASE = "\x1b[{n}F\x1b[J"  # to the start of the line n lines up, erase to the end
_TICK = 0.25


class Step:
    """One vertex of the progress: a number, a title, a start time."""

    def __init__(self, progress: Progress, number: int, title: str) -> None:
        self.progress = progress
        self.number = number
        self.title = title
        self.started = time.monotonic()
        self._partial = ""
        self.last_line = ""
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
        self.progress.finish(self, "CACHED")
        log.info("build.step_cached", step=self.number, title=self.title)

    def done(self) -> None:
        """The step finished."""
        self.flush()
        took = time.monotonic() - self.started
        self.progress.finish(self, f"DONE {took:.1f}s")
        log.info("build.step_done", step=self.number, title=self.title, seconds=round(took, 3))

    def error(self, message: str) -> None:
        """The step failed."""
        self.flush()
        self.progress.finish(self, f"ERROR: {message}")

    def canceled(self) -> None:
        """The step stopped because another stage failed."""
        self.flush()
        self.progress.finish(self, "CANCELED")


class Progress:
    """Where steps and their output go: ``plain`` lines, a ``tty`` view, or ``quiet``.

    Safe to use from the threads of concurrently built stages.
    """

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
        self.started = time.monotonic()
        self._lock = threading.RLock()
        self._active: dict[int, Step] = {}
        self._drawn = 0  # lines of the live view now on the terminal
        self._finished = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def step(self, title: str) -> Step:
        """Start step ``#N title``."""
        with self._lock:
            self.count += 1
            s = Step(self, self.count, title)
            if self.mode == "tty":
                self._active[s.number] = s
                self._redraw()
                self._start_ticker()
            else:
                self._write(f"#{s.number} {title}\n")
        log.info("build.step", step=s.number, title=title)
        return s

    def line(self, step: Step, text: str) -> None:
        """One line of a step's output."""
        if self.mode == "quiet":
            return
        with self._lock:
            if self.mode == "tty":
                step.last_line = text
                self._redraw()
            else:
                self._write(f"#{step.number} {time.monotonic() - step.started:.3f} {text}\n")

    def finish(self, step: Step, status: str) -> None:
        """End ``step`` with ``status`` (``CACHED``, ``DONE 1.2s``, ``ERROR: ...``)."""
        with self._lock:
            if step.finished:
                return
            step.finished = True
            self._finished += 1
            if self.mode == "tty":
                self._active.pop(step.number, None)
                self._redraw(f"#{step.number} {step.title} {status}\n")
            else:
                self._write(f"#{step.number} {status}\n")

    def emit(self, text: str) -> None:
        """Print one progress line."""
        with self._lock:
            if self.mode == "tty":
                self._redraw(text + "\n")
            else:
                self._write(text + "\n")

    def close(self) -> None:
        """Stop redrawing; leave the last view on the terminal."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            if self.mode == "tty":
                self._redraw()
                self._drawn = 0

    # -- output ---------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self.mode == "quiet":
            return
        self.stream.write(text)
        self.stream.flush()

    def _width(self) -> int:
        try:
            return max(20, os.get_terminal_size(self.stream.fileno()).columns)
        except (OSError, ValueError, AttributeError):
            return 80

    def _redraw(self, permanent: str = "") -> None:
        """Erase the live view, print ``permanent`` lines above it, draw it again."""
        width = self._width()
        now = time.monotonic()
        view = [f"[+] Building {now - self.started:.1f}s ({self._finished}/{self.count})"]
        for s in sorted(self._active.values(), key=lambda s: s.number):
            took = f" {now - s.started:.1f}s"
            view.append(f"{f'#{s.number} {s.title}'[: width - len(took) - 1]}{took}")
            if s.last_line:
                view.append(f" > {s.last_line}"[: width - 1])
        out = _UP_AND_ERASE.format(n=self._drawn) if self._drawn else ""
        self.stream.write(out + permanent + "\n".join(view) + "\n")
        self.stream.flush()
        self._drawn = len(view)

    def _start_ticker(self) -> None:
        if self._ticker is not None:
            return

        def tick() -> None:
            while not self._stop.wait(_TICK):
                with self._lock:
                    if self._active:
                        self._redraw()

        self._ticker = threading.Thread(target=tick, name="build-progress", daemon=True)
        self._ticker.start()
