"""Errors and debug events of one runtime command: to stderr and to ``--log``.

With ``--log-format json`` every line of the log is an object with ``level``, ``msg`` and
``time`` (RFC 3339), the format runc writes and conmon / containerd-shim read back to show
why a command failed.
"""

from __future__ import annotations

import json
import os
import sys


class Reporter:
    """Where one command reports: stderr always, the log file when given."""

    def __init__(self, log: str, log_format: str, debug: bool) -> None:
        self.log = log
        self.json = log_format == "json"
        self.debug_on = debug

    def _write(self, level: str, msg: str) -> None:
        if not self.log:
            return
        import datetime as dt

        now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        if self.json:
            line = json.dumps({"level": level, "msg": msg, "time": now})
        else:
            line = f"time={json.dumps(now)} level={level} msg={json.dumps(msg)}"
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def error(self, exc: BaseException) -> None:
        """Report a failed command."""
        from pycontainers.errors import PyContainersError

        msg = str(exc) if isinstance(exc, PyContainersError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, OSError) and not isinstance(exc, PyContainersError) and exc.filename:
            msg = f"{exc.strerror}: {exc.filename}"
        if self.debug_on:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        print(f"pycontainers-runtime: {msg}", file=sys.stderr)
        try:
            self._write("error", msg)
        except OSError as log_exc:  # the error itself is on stderr already
            print(f"pycontainers-runtime: cannot write the log {self.log}: {log_exc}",
                  file=sys.stderr)  # fmt: skip

    def warning(self, msg: str) -> None:
        """A problem that does not fail the command (a poststop hook that failed)."""
        print(f"pycontainers-runtime: warning: {msg}", file=sys.stderr)
        self._write("warning", msg)

    def debug(self, msg: str) -> None:
        """A debug event (only with ``--debug``)."""
        if self.debug_on:
            self._write("debug", msg)


__all__ = ["Reporter"]
