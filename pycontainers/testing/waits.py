"""Wait strategies in the spirit of testcontainers: a log line, a TCP port, an HTTP status,
a health check. Each polls until its condition holds or ``timeout`` seconds pass, then
raises :class:`WaitTimeout` saying what it waited for and the last thing it saw. A
container that stops while being waited for ends the wait at once.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from pycontainers.errors import WaitTimeout as WaitTimeout

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

T = TypeVar("T")
_INTERVAL = 0.1
_TAIL_LINES = 10


def _describe(c: Container) -> str:
    name = f" ({c.name})" if c.name else ""
    return f"container {c.id[:12]}{name}"


def _state(c: Container) -> str:
    status = c.status
    if status == "stopped":
        try:
            code: int | None = c.wait(timeout=2.0)
        except Exception:  # no exit status to be had (not ours, not detached)
            code = c.returncode
        if code is not None:
            return f"stopped with exit code {code}"
    return status


def _running(c: Container) -> bool:
    return c.status in ("running", "created")


def _poll(
    attempt: Callable[[], tuple[bool, T]],
    timeout: float,
    gone: Callable[[], bool] = lambda: False,
) -> tuple[bool, T]:
    """Call ``attempt`` until it succeeds, ``gone()`` is true or the time is up; return its
    last ``(ok, value)``.
    """
    deadline = time.monotonic() + timeout
    while True:
        ended = gone()  # read before the attempt: a last look after it stopped
        ok, value = attempt()
        if ok or ended or time.monotonic() >= deadline:
            return ok, value
        time.sleep(_INTERVAL)


def _log_text(c: Container) -> str:
    return b"".join(e.data for e in c.logs()).decode(errors="replace")


def _tail(text: str) -> str:
    lines = text.rstrip("\n").splitlines()[-_TAIL_LINES:]
    return "\n".join(f"    {line}" for line in lines) if lines else "    (no output)"


def wait_for_log(
    container: Container, pattern: str | re.Pattern[str], timeout: float = 30.0
) -> str:
    """Wait until the container's log (stdout and stderr) has a line matching ``pattern``
    (a regular expression, searched); return that line.
    """
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern

    def attempt() -> tuple[bool, str]:
        text = _log_text(container)
        for line in text.splitlines():
            if regex.search(line):
                return True, line
        return False, text

    ok, seen = _poll(attempt, timeout, lambda: not _running(container))
    if ok:
        return seen
    when = f"within {timeout} s" if _running(container) else "before it stopped"
    raise WaitTimeout(
        f"{_describe(container)}: no log line matched {regex.pattern!r} {when}; "
        f"it is {_state(container)}; its last log lines:\n{_tail(seen)}"
    )


@contextlib.contextmanager
def _in_netns(container: Container) -> Iterator[None]:
    from pycontainers.namespaces import Namespace

    with Namespace.of_pid(container.pid, "net").enter():
        yield


def _connect(host: str, port: int, netns: Container | None) -> str | None:
    """Try one TCP connection; None if it worked, else the error."""
    ctx = _in_netns(netns) if netns is not None else contextlib.nullcontext()
    try:
        with ctx, socket.create_connection((host, port), timeout=1.0):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def _address(container: Container) -> str | None:
    networks = container.inspect().get("NetworkSettings", {}).get("Networks", {})
    for net in networks.values():
        if net.get("IPAddress"):
            return str(net["IPAddress"])
    return None


def wait_for_port(target: Container | str, port: int, timeout: float = 30.0) -> str:
    """Wait until a TCP connection to ``port`` succeeds; return the address used.

    ``target`` is a host name or address, or a container: its address on its network, or
    (without one, e.g. ``network="none"``) its own ``127.0.0.1`` inside its namespace.
    """
    if isinstance(target, str):
        host, netns, what, gone = target, None, f"{target}:{port}", lambda: False
    else:
        c = target
        address = _address(c)
        host, netns = (address, None) if address else ("127.0.0.1", c)
        what = f"port {port} of {_describe(c)} ({host}{'' if address else ' in its netns'})"

        def gone() -> bool:
            return c.status not in ("running", "created")

    def attempt() -> tuple[bool, str | None]:
        error = _connect(host, port, netns)
        return error is None, error

    ok, error = _poll(attempt, timeout, gone)
    if ok:
        return host
    state = "" if isinstance(target, str) else f"; the container is {_state(target)}"
    raise WaitTimeout(
        f"{what} did not accept a TCP connection within {timeout} s{state}; last error: {error}"
    )


def wait_for_http(url: str, status: int = 200, timeout: float = 30.0) -> bytes:
    """Wait until ``GET url`` answers with ``status``; return the body. No proxy is used."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def attempt() -> tuple[bool, tuple[str, bytes]]:
        try:
            with opener.open(url, timeout=2.0) as resp:
                body = resp.read()
                return resp.status == status, (f"status {resp.status}", body)
        except urllib.error.HTTPError as exc:
            return exc.code == status, (f"status {exc.code}", exc.read() or b"")
        except (OSError, ValueError) as exc:
            return False, (f"{type(exc).__name__}: {exc}", b"")

    ok, (seen, body) = _poll(attempt, timeout)
    if ok:
        return body
    raise WaitTimeout(
        f"GET {url} did not answer with status {status} within {timeout} s; last answer: {seen}"
    )


def wait_for_health(container: Container, timeout: float = 60.0) -> None:
    """Wait until the container's health check (``healthcheck=`` at creation) says
    ``healthy``.
    """
    from pycontainers.runtime.detach import read_health

    def attempt() -> tuple[bool, str | None]:
        health = container.health
        return health == "healthy", health

    ok, health = _poll(attempt, timeout, lambda: container.status != "running")
    if ok:
        return
    last = (read_health(container.state_dir) or {}).get("log") or []
    probe = last[-1] if last else {}
    if health is None:
        detail = " (no health reported: was it created with healthcheck=...?)"
    elif probe:
        detail = (
            f"; last check exited {probe.get('exit_code')} with output {probe.get('output', '')!r}"
        )
    else:
        detail = ""
    raise WaitTimeout(
        f"{_describe(container)} was not healthy within {timeout} s: health {health}, "
        f"container {_state(container)}{detail}"
    )
