"""Composable wait strategies, as testcontainers users know them: build one from
:class:`LogMessage`, :class:`PortOpen`, :class:`HttpOk` and :class:`Healthy`, combine them
with :func:`all_of` / :func:`any_of`, and run it with :func:`wait_until` (or a strategy's
:meth:`~WaitStrategy.wait`). Each waits at most ``timeout`` seconds in all and raises
:class:`~pycontainers.errors.WaitTimeout` saying what it waited for.

>>> wait_until(c, all_of(LogMessage("ready"), PortOpen(80)), timeout=30)  # doctest: +SKIP
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from pycontainers.errors import WaitTimeout

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

_SLICE = 0.5  # any_of tries each strategy this long in turn


class WaitStrategy(Protocol):
    """Something :func:`wait_until` can wait for."""

    def wait(self, container: Container, timeout: float) -> None:
        """Return once the condition holds; :class:`WaitTimeout` after ``timeout`` s."""


@attrs.frozen
class LogMessage:
    """A log line (stdout or stderr) matching ``pattern`` (a regular expression)."""

    pattern: str | re.Pattern[str]

    def wait(self, container: Container, timeout: float) -> None:
        """See :class:`WaitStrategy`."""
        from pycontainers.testing.waits import wait_for_log

        wait_for_log(container, self.pattern, timeout)


@attrs.frozen
class PortOpen:
    """A TCP connection to container ``port`` succeeds: through its published host port if
    it has one, else to the container's own address.
    """

    port: int

    def wait(self, container: Container, timeout: float) -> None:
        """See :class:`WaitStrategy`."""
        from pycontainers.testing.waits import wait_for_port

        published = container.ports.get(f"{self.port}/tcp")
        if published:
            wait_for_port(container.host_ip, published[0][1], timeout)
        else:
            wait_for_port(container, self.port, timeout)


@attrs.frozen
class HttpOk:
    """``GET http://<host>:<published port><path>`` answers ``status``."""

    port: int
    path: str = "/"
    status: int = 200

    def wait(self, container: Container, timeout: float) -> None:
        """See :class:`WaitStrategy`."""
        from pycontainers.testing.waits import wait_for_http

        host_port = container.get_host_port(self.port)
        url = f"http://{container.host_ip}:{host_port}/{self.path.lstrip('/')}"
        wait_for_http(url, self.status, timeout)


@attrs.frozen
class Healthy:
    """The container's health check says ``healthy``."""

    def wait(self, container: Container, timeout: float) -> None:
        """See :class:`WaitStrategy`."""
        from pycontainers.testing.waits import wait_for_health

        wait_for_health(container, timeout)


@attrs.frozen
class AllOf:
    """Every strategy, one after the other, within one ``timeout``."""

    strategies: tuple[WaitStrategy, ...]

    def wait(self, container: Container, timeout: float) -> None:
        """See :class:`WaitStrategy`."""
        deadline = time.monotonic() + timeout
        for strategy in self.strategies:
            strategy.wait(container, max(deadline - time.monotonic(), 0.0))


@attrs.frozen
class AnyOf:
    """The first strategy that holds (each tried for a short slice in turn)."""

    strategies: tuple[WaitStrategy, ...]

    def wait(self, container: Container, timeout: float) -> None:
        """See :class:`WaitStrategy`."""
        deadline = time.monotonic() + timeout
        errors: list[str] = []
        while True:
            errors = []
            for strategy in self.strategies:
                left = deadline - time.monotonic()
                try:
                    strategy.wait(container, max(min(_SLICE, left), 0.0))
                    return
                except WaitTimeout as exc:
                    errors.append(str(exc))
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"none of {len(self.strategies)} conditions held within {timeout} s:\n"
                    + "\n".join(f"- {e}" for e in errors)
                )


def all_of(*strategies: WaitStrategy) -> AllOf:
    """A strategy that holds when every one of ``strategies`` has."""
    return AllOf(_check(strategies))


def any_of(*strategies: WaitStrategy) -> AnyOf:
    """A strategy that holds as soon as one of ``strategies`` does."""
    return AnyOf(_check(strategies))


def _check(strategies: Sequence[WaitStrategy]) -> tuple[WaitStrategy, ...]:
    if not strategies:
        raise TypeError("give at least one strategy")
    for s in strategies:
        if not callable(getattr(s, "wait", None)):
            raise TypeError(f"not a wait strategy: {s!r}")
    return tuple(strategies)


def wait_until(container: Container, strategy: WaitStrategy, timeout: float = 60.0) -> None:
    """Wait until ``strategy`` holds for ``container`` (at most ``timeout`` seconds)."""
    strategy.wait(container, timeout)


__all__ = [
    "AllOf",
    "AnyOf",
    "Healthy",
    "HttpOk",
    "LogMessage",
    "PortOpen",
    "WaitStrategy",
    "all_of",
    "any_of",
    "wait_until",
]
