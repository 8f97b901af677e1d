"""Container output: ``logs`` (follow, since, until, tail, timestamps) and ``attach`` (a
hijacked connection to the container's monitor: stdin in, stdout/stderr out), ``resize``.

Output is Docker's multiplexed stream without a tty, raw with one. A client that goes away
mid-stream ends only its own stream: the log reader's thread stops at its next check, the
monitor connection is closed, the container runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pycontainers.api.context import Daemon, daemon, qbool, qint
from pycontainers.api.errors import bad_request
from pycontainers.api.streams import (
    MULTIPLEXED,
    RAW,
    STDERR,
    STDOUT,
    Hijacked,
    finished,
    frame,
    hijack,
)

if TYPE_CHECKING:
    from pycontainers.api.server import Routes
    from pycontainers.runtime.container import Container


def has_tty(c: Container) -> bool:
    """Whether ``c`` runs on a terminal (then its output is one raw stream)."""
    from pycontainers.api.inspect import saved_request

    saved = saved_request(c)
    if "Tty" in saved:
        return bool(saved["Tty"])
    return bool(c.inspect().get("Config", {}).get("Tty"))


async def iterate_in_thread(d: Daemon, make: Callable[[threading.Event], Iterator[Any]]) -> Any:
    """Run the blocking iterator ``make(stop)`` in the pool, yielding its items here; when
    the consumer stops early, ``stop`` is set so the iterator can end at its next check.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=256)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in make(stop):
                if stop.is_set():
                    return
                asyncio.run_coroutine_threadsafe(queue.put(("item", item)), loop).result()
        except BaseException as exc:
            if not stop.is_set():
                asyncio.run_coroutine_threadsafe(queue.put(("error", exc)), loop).result()
            return
        if not stop.is_set():
            asyncio.run_coroutine_threadsafe(queue.put(("end", None)), loop).result()

    future = d.start_long(produce)
    try:
        while True:
            kind, item = await queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while not queue.empty():  # unblock a producer waiting to put
            queue.get_nowait()
        future.cancel()


def _entry_bytes(entry: Any, tty: bool, timestamps: bool, out: bool, err: bool) -> bytes:
    stream = STDERR if entry.stream == "stderr" else STDOUT
    if (stream == STDOUT and not out) or (stream == STDERR and not err):
        return b""
    data = entry.data
    if timestamps:
        data = entry.time.encode() + b" " + data
    return data if tty else frame(stream, data)


async def logs(request: web.Request) -> web.StreamResponse:
    """GET /containers/{id}/logs?follow=&stdout=&stderr=&since=&until=&tail=&timestamps=."""
    from pycontainers.runtime.logs import read_logs

    d = daemon(request)
    out, err = qbool(request, "stdout"), qbool(request, "stderr")
    if not out and not err:
        raise bad_request("you must choose at least one stream (stdout=1 or stderr=1)")
    follow, timestamps = qbool(request, "follow"), qbool(request, "timestamps")
    tail_arg = request.query.get("tail", "all")
    tail = None if tail_arg in ("all", "", "-1") else qint(request, "tail")
    since = _time(request, "since")
    until = _time(request, "until")
    c = await d.call(d.load, request.match_info["id"])
    try:
        tty = await d.call(has_tty, c)
        if not c.detached:
            raise bad_request(f"container {c.id[:12]} is not detached: it has no log")
        resp = web.StreamResponse(headers={"Content-Type": RAW if tty else MULTIPLEXED})
        await resp.prepare(request)

        def entries(stop: threading.Event) -> Iterator[Any]:
            def running() -> bool:
                return not stop.is_set() and c.status == "running"

            return read_logs(
                c.state_dir, follow=follow, running=running, tail=tail, since=since, until=until
            )

        async for entry in iterate_in_thread(d, entries):
            data = _entry_bytes(entry, tty, timestamps, out, err)
            if data:
                await resp.write(data)
        return resp
    finally:
        c.close()


def _time(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if not value or value == "0":
        return None
    try:
        return float(value)
    except ValueError:
        raise bad_request(f"invalid {name}: {value!r} (a Unix time)") from None


async def _pump_attach(
    conn: Hijacked, session: Any, *, tty: bool, stdin: bool, out: bool, err: bool
) -> None:
    """Relay between the client and the monitor until the container exits or the client
    leaves.
    """
    loop = asyncio.get_running_loop()
    frames: asyncio.Queue[list[Any] | None] = asyncio.Queue()

    def readable() -> None:
        try:
            got = session.read_available()
        except Exception:
            got = []
            frames.put_nowait(None)
        if got:
            frames.put_nowait(got)
        if session.ended:
            frames.put_nowait(None)
            loop.remove_reader(session.fileno())

    async def client_to_monitor() -> None:
        while True:
            data = await conn.read()
            if data is None:
                if stdin and not conn.lost.is_set():
                    with contextlib.suppress(Exception):
                        session.close_stdin()
                return
            if stdin:
                session.send(data)

    loop.add_reader(session.fileno(), readable)
    upstream = asyncio.ensure_future(client_to_monitor())
    lost = asyncio.ensure_future(conn.lost.wait())
    try:
        while True:
            get = asyncio.ensure_future(frames.get())
            done, _ = await asyncio.wait({get, lost}, return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                return
            batch = get.result()
            if batch is None:
                return
            for f in batch:
                if (f.stream == STDOUT and out) or (f.stream == STDERR and err):
                    await conn.write(f.data if tty else frame(f.stream, f.data))
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(session.fileno())
        upstream.cancel()
        lost.cancel()


async def attach(request: web.Request) -> web.StreamResponse:
    """POST /containers/{id}/attach?stream=&stdin=&stdout=&stderr=&logs=: hijacked."""
    from pycontainers.runtime.attach import connect
    from pycontainers.runtime.logs import read_logs

    d = daemon(request)
    stream, logs_ = qbool(request, "stream"), qbool(request, "logs")
    stdin, out, err = qbool(request, "stdin"), qbool(request, "stdout"), qbool(request, "stderr")
    c = await d.call(d.load, request.match_info["id"])
    session = None
    try:
        tty = await d.call(has_tty, c)
        if stream and c.status in ("created", "running"):
            session = await d.call(connect, c)
        conn = await hijack(request, tty=tty)
        try:
            if logs_:
                past = await d.call(lambda: list(read_logs(c.state_dir)))
                for entry in past:
                    data = _entry_bytes(entry, tty, False, out, err)
                    if data:
                        await conn.write(data)
            if session is not None:
                from pycontainers.api.containers import publish

                publish(d, c, "attach")
                await _pump_attach(conn, session, tty=tty, stdin=stdin, out=out, err=err)
        except ConnectionResetError:
            pass
        finally:
            conn.close()
        return finished()
    finally:
        if session is not None:
            session.close()
        c.close()


async def resize(request: web.Request) -> web.Response:
    """POST /containers/{id}/resize?h=&w=: the container's terminal size."""
    from pycontainers.runtime.attach import connect

    d = daemon(request)
    h, w = qint(request, "h", 0) or 0, qint(request, "w", 0) or 0

    def run(c: Container) -> None:
        if not h or not w:
            return
        with connect(c) as session:
            session.resize(h, w)

    c = await d.call(d.load, request.match_info["id"])
    try:
        await d.call(run, c)
    finally:
        c.close()
    return web.Response(status=200)


def add_routes(r: Routes) -> None:
    """Register logs, attach and resize."""
    r.add("GET", "/containers/{id}/logs", logs)
    r.add("POST", "/containers/{id}/attach", attach)
    r.add("POST", "/containers/{id}/resize", resize)


__all__ = ["add_routes", "attach", "has_tty", "iterate_in_thread", "logs", "resize"]
