"""How a detached container is supervised, as values: :class:`DetachOptions` (log size,
restart policy, terminal, console socket) and :class:`HealthCheck`. They belong with the
specs (the stored ``config.json`` keeps them as annotations); the monitor that acts on them
is :mod:`pycontainers.runtime.detach`.
"""

from __future__ import annotations

import os
import re
from typing import Any

import attrs

from pycontainers.errors import SpecError

_RESTART = r"^(no|always|unless-stopped|on-failure(:[0-9]+)?)$"  # compiled on first use


DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
"""The keys that detach ``attach`` from a container, leaving it running (Docker's)."""


def _duration_ms(value: float | int | str | None, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?", value.strip())
        if not m:
            raise SpecError(field, f"expected a duration such as 500ms, 30s or 1m, got {value!r}")
        scale = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, None: 1000}[m.group(2)]
        ms = float(m.group(1)) * scale
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ms = float(value) * 1000  # seconds
    else:
        raise SpecError(field, f"expected seconds or a duration string, got {value!r}")
    if ms <= 0:
        raise SpecError(field, f"must be positive, got {value!r}")
    return int(ms)


def _test(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return ("/bin/sh", "-c", value) if isinstance(value, str) else tuple(value)


def _ms(value: float | str, field: str, zero: int | None = None) -> int:
    if zero is not None and value in (0, "0"):
        return zero
    ms = _duration_ms(value, field)
    assert ms is not None
    return ms


def _interval(value: float | str) -> int:
    return _ms(value, "interval")


def _timeout(value: float | str) -> int:
    return _ms(value, "timeout")


def _start_period(value: float | str) -> int:
    return _ms(value, "start_period", 0)


@attrs.frozen
class HealthCheck:
    """A health check: ``test`` run inside the container every ``interval``.

    ``test`` is an argv, or a string run by ``/bin/sh -c`` (Docker's CMD-SHELL). Durations
    are in seconds or strings (``"500ms"``, ``"30s"``); kept in milliseconds. The container is ``unhealthy`` after
    ``retries`` failures in a row; failures within ``start_period`` do not count.
    """

    test: tuple[str, ...] = attrs.field(converter=_test)
    interval: int = attrs.field(default=30, converter=_interval)
    timeout: int = attrs.field(default=30, converter=_timeout)
    retries: int = 3
    start_period: int = attrs.field(default=0, converter=_start_period)

    def __attrs_post_init__(self) -> None:
        if not self.test or not all(isinstance(a, str) and a for a in self.test):
            raise SpecError("healthcheck", "test must be a non-empty command")
        if not isinstance(self.retries, int) or self.retries < 1:
            raise SpecError("retries", f"must be a positive integer, got {self.retries!r}")

    @classmethod
    def from_image(cls, config: Any) -> HealthCheck | None:
        """The check of an image config's ``Healthcheck`` (a Dockerfile's ``HEALTHCHECK``;
        ``config`` is the image configuration's ``config`` object), or None (none set, or
        ``NONE``). Its nanosecond durations keep millisecond precision.
        """
        check = (config or {}).get("Healthcheck") if isinstance(config, dict) else None
        test = list((check or {}).get("Test") or [])
        if not test or test[0] == "NONE":
            return None

        def ms(key: str, default: int) -> str | int:
            ns = (check or {}).get(key) or 0
            return f"{max(1, int(ns) // 1_000_000)}ms" if ns else default

        return cls(
            test=test[1] if test[0] == "CMD-SHELL" else tuple(test[1:]),
            interval=ms("Interval", 30),
            timeout=ms("Timeout", 30),
            retries=int((check or {}).get("Retries") or 3),
            start_period=ms("StartPeriod", 0),
        )


def check_restart(policy: str) -> str:
    """Return ``policy`` if it is Docker's: no, always, unless-stopped, on-failure[:N]."""
    if policy in ("no", "always", "unless-stopped"):  # no pattern to compile for these
        return policy
    if not isinstance(policy, str) or not re.match(_RESTART, policy):
        raise SpecError(
            "restart", f"expected no, always, unless-stopped or on-failure[:N], got {policy!r}"
        )
    return policy


def _console_socket(value: str | None) -> str | None:
    """An absolute path short enough for a unix socket address, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise SpecError("console_socket", f"expected a socket path, got {value!r}")
    path = os.path.abspath(value)
    if len(os.fsencode(path)) > 107:
        raise SpecError("console_socket", f"path longer than 107 bytes: {path}")
    return path


LOG_DRIVERS = ("json-file", "local", "none")
"""The logging drivers a detached container may have."""


@attrs.frozen
class DetachOptions:
    """How a detached container is watched: log size, restart policy, health, tty.

    ``console_socket`` (with ``tty``): the monitor sends the pty master over this unix
    socket (OCI's console socket) instead of keeping it; no log, no attach output.
    """

    tty: bool = False
    interactive: bool = False
    restart: str = attrs.field(default="no", converter=check_restart)
    restart_count: int = 0
    restart_backoff_ms: int = 100
    healthcheck: HealthCheck | None = None
    log_max_size: int = 0
    log_max_files: int = 1
    auto_remove: bool = False
    console_socket: str | None = attrs.field(default=None, converter=_console_socket)
    stop_timeout: int | None = attrs.field(default=None, metadata={"omit_default": True})
    """Seconds :meth:`Container.stop` waits before SIGKILL when given none (Docker's
    ``--stop-timeout``; None: 10)."""
    oom_score_adj: int | None = attrs.field(default=None, metadata={"omit_default": True})
    """The container process's ``oom_score_adj`` (-1000..1000; lowering it needs
    CAP_SYS_RESOURCE), set before it runs."""
    log_driver: str = attrs.field(default="json-file", metadata={"omit_default": True})
    """``json-file`` (or Docker's ``local``, the same file here) or ``none`` (no log kept:
    ``logs`` refuses, attach still works)."""

    def __attrs_post_init__(self) -> None:
        if self.log_driver not in LOG_DRIVERS:
            raise SpecError(
                "log_driver", f"unsupported logging driver {self.log_driver!r}: "
                "json-file, local or none",
            )  # fmt: skip
        if self.stop_timeout is not None and (
            not isinstance(self.stop_timeout, int) or self.stop_timeout < -1
        ):
            raise SpecError("stop_timeout", f"expected seconds (-1: wait forever), got "
                            f"{self.stop_timeout!r}")  # fmt: skip
        if self.oom_score_adj is not None and (
            not isinstance(self.oom_score_adj, int) or not -1000 <= self.oom_score_adj <= 1000
        ):
            raise SpecError(
                "oom_score_adj", f"must be between -1000 and 1000, got {self.oom_score_adj!r}"
            )
        if self.console_socket is not None and not self.tty:
            raise SpecError("console_socket", "needs tty=True (it receives the pty master)")


__all__ = ["DEFAULT_DETACH_KEYS", "LOG_DRIVERS", "DetachOptions", "HealthCheck", "check_restart"]
