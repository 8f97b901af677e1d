"""The daemon: an aiohttp application on unix sockets and TLS-verified TCP.

:func:`make_app` builds the routes (each also under ``/v1.xx``) with the error, version and
request-log middlewares; :func:`serve` listens, runs until SIGTERM/SIGINT and shuts down
gracefully (streams end, worker threads finish their call; containers run on under their
monitors, and the next daemon finds them in the same state root).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from pycontainers import _log
from pycontainers.api import API_VERSION, MIN_API_VERSION
from pycontainers.api.context import DAEMON, Daemon
from pycontainers.api.errors import ApiError, status_of

if TYPE_CHECKING:
    import ssl

    from pycontainers.api.listen import Listener

log = _log.get_logger("pycontainers.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_VERSION = re.compile(r"^/v([0-9]+)\.([0-9]+)(/.*)$")


def _error(status: int, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode() + b"\n",
        content_type="application/json",
    )


def _version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor)


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Version check, Docker-shaped errors, one structured log line per request."""
    t0 = time.monotonic()
    status = 500
    try:
        match = _VERSION.match(request.path)
        if match:
            asked = (int(match.group(1)), int(match.group(2)))
            if asked > _version_tuple(API_VERSION):
                raise ApiError(
                    400,
                    f"client version {asked[0]}.{asked[1]} is too new. "
                    f"Maximum supported API version is {API_VERSION}",
                )
            if asked < _version_tuple(MIN_API_VERSION):
                raise ApiError(
                    400,
                    f"client version {asked[0]}.{asked[1]} is too old. "
                    f"Minimum supported API version is {MIN_API_VERSION}, "
                    "please upgrade your client to a newer version",
                )
        resp = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as exc:
        status = exc.status
        if exc.status == 404:
            return _error(404, f"page not found: {request.method} {request.path}")
        if exc.status == 405:
            return _error(405, f"method {request.method} not allowed on {request.path}")
        return _error(exc.status, exc.reason)
    except ConnectionResetError:  # the client went away mid-stream: nobody to answer
        status = 499
        return web.Response(status=499)  # aiohttp drops it on the closed connection
    except asyncio.CancelledError:
        status = 499
        raise
    except Exception as exc:
        status = status_of(exc)
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        if status >= 500 and not isinstance(exc, ApiError):
            log.warning(
                "api.failed",
                method=request.method,
                path=request.path,
                error=repr(exc),
                exc_info=exc,
            )
        return _error(status, message)
    finally:
        log.info(
            "api.request",
            method=request.method,
            path=request.path,
            status=status,
            ms=round((time.monotonic() - t0) * 1000, 1),
        )


def _headers_hook(app: web.Application) -> None:
    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("Api-Version", API_VERSION)
        response.headers.setdefault("Docker-Experimental", "false")
        response.headers.setdefault("Ostype", "linux")
        response.headers.setdefault("Server", "pycontainers")

    app.on_response_prepare.append(on_prepare)


class Routes:
    """Adds each route twice: as given and under Docker's ``/v{major}.{minor}`` prefix."""

    def __init__(self, app: web.Application) -> None:
        self._router = app.router

    def add(self, method: str, path: str, handler: Handler) -> None:
        """Route ``method path`` (and ``/v1.xx/path``) to ``handler``."""
        self._router.add_route(method, path, handler)
        self._router.add_route(method, r"/v{_version:[0-9]+\.[0-9]+}" + path, handler)


def make_app(d: Daemon) -> web.Application:
    """The application: every endpoint, sharing ``d``."""
    from pycontainers.api import containers, execs, files, images, networks, system, volumes
    from pycontainers.api import events as events_mod

    app = web.Application(middlewares=[_middleware], client_max_size=1024**4)
    app[DAEMON] = d
    _headers_hook(app)
    r = Routes(app)
    system.add_routes(r)
    r.add("GET", "/events", events_mod.events)
    containers.add_routes(r)
    files.add_routes(r)
    execs.add_routes(r)
    images.add_routes(r)
    networks.add_routes(r)
    volumes.add_routes(r)
    return app


async def run(
    listeners: Sequence[Listener],
    *,
    state_root: str | None = None,
    data_root: str | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """Serve on ``listeners`` until SIGTERM or SIGINT, then shut down gracefully."""
    d = Daemon(state_root=state_root, data_root=data_root)
    app = make_app(d)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        for listener in listeners:
            site = listener.site(runner)
            await site.start()
            log.info("api.listening", address=listener.address)
        if ready is not None:
            ready()
        await stop.wait()
        log.info("api.stopping")
    finally:
        await runner.cleanup()
        for listener in listeners:
            listener.close()
        d.close()
        log.info("api.stopped")


def serve(
    hosts: Sequence[str],
    *,
    group: str | None = None,
    tls: ssl.SSLContext | None = None,
    plain_tcp: bool = False,
    state_root: str | None = None,
    data_root: str | None = None,
) -> None:
    """Listen on ``hosts`` (``unix://PATH``, ``tcp://HOST:PORT``, ``fd://`` not supported)
    and serve until a signal. TCP needs ``tls`` (with client verification) unless
    ``plain_tcp``.
    """
    import faulthandler
    import sys

    from pycontainers.api.listen import open_listener

    # ``kill -USR1 <daemon>`` writes every thread's stack to stderr: how a stuck request is
    # diagnosed on a live daemon without stopping it
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    listeners = [open_listener(h, group=group, tls=tls, plain_tcp=plain_tcp) for h in hosts]
    asyncio.run(run(listeners, state_root=state_root, data_root=data_root))


__all__ = ["Routes", "make_app", "run", "serve"]
