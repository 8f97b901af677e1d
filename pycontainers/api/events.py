"""``/events``: what this daemon did (container, image, network, volume actions), streamed
as Docker's JSON messages with Docker's filters.

The daemon records the actions it performs itself (create, start, die, stop, kill, destroy,
pause, unpause, rename, exec_create, exec_start; pull, tag, untag, delete; network and
volume create and destroy). Publishing is thread-safe: the pool's threads publish too.
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
import time
from typing import Any

from aiohttp import web

from pycontainers.api.context import daemon, qfilters

_KEEP = 1000  # events kept for ``since``


class EventBus:
    """Recent events and the queues of the clients following them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=_KEEP)
        self._queues: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = []

    def publish(
        self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None
    ) -> None:
        """Record one event (``kind`` container, image, network, volume) and send it on."""
        now = time.time_ns()
        attrs = dict(attributes or {})
        event: dict[str, Any] = {
            "Type": kind,
            "Action": action,
            "Actor": {"ID": actor_id, "Attributes": attrs},
            "scope": "local",
            "time": now // 1_000_000_000,
            "timeNano": now,
        }
        if kind == "container":  # the pre-1.22 fields docker-compose v1 still reads
            event.update({"status": action, "id": actor_id, "from": attrs.get("image", "")})
        with self._lock:
            self._recent.append(event)
            queues = list(self._queues)
        for loop, queue in queues:
            loop.call_soon_threadsafe(queue.put_nowait, event)

    def subscribe(self) -> tuple[list[dict[str, Any]], asyncio.Queue[dict[str, Any]]]:
        """The events so far and a queue of the ones to come (call from the event loop)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        with self._lock:
            self._queues.append((asyncio.get_running_loop(), queue))
            return list(self._recent), queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop sending to ``queue``."""
        with self._lock:
            self._queues = [(lp, q) for lp, q in self._queues if q is not queue]


def _time_arg(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        import datetime as dt

        from pycontainers.cli.output import parse_time_arg

        parsed = parse_time_arg(value, "since")
        if isinstance(parsed, str):
            return dt.datetime.fromisoformat(parsed.replace("Z", "+00:00")).timestamp()
        return float(parsed)


def _matches(event: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    actor = event["Actor"]
    attrs = actor["Attributes"]
    for key, values in filters.items():
        if key == "type" and event["Type"] not in values:
            return False
        if key == "event" and event["Action"] not in values:
            return False
        if key in ("container", "image", "network", "volume"):
            if event["Type"] != key:
                return False
            ok = any(actor["ID"].startswith(v) or attrs.get("name") == v for v in values)
            if not ok:
                return False
        if key == "label":
            for want in values:
                k, sep, v = want.partition("=")
                if k not in attrs or (sep and attrs[k] != v):
                    return False
    return True


async def events(request: web.Request) -> web.StreamResponse:
    """GET /events: past events since ``since``, then new ones until ``until`` or the
    client goes away.
    """
    filters = qfilters(request)
    since = _time_arg(request.query.get("since"))
    until = _time_arg(request.query.get("until"))
    bus = daemon(request).events
    past, queue = bus.subscribe()
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    try:
        await resp.prepare(request)
        for event in past:
            t = event["timeNano"] / 1e9
            in_range = since is not None and t >= since and (until is None or t <= until)
            if in_range and _matches(event, filters):
                await resp.write(json.dumps(event).encode() + b"\n")
        while True:
            timeout = None if until is None else until - time.time()
            if timeout is not None and timeout <= 0:
                break
            try:
                event = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                break
            if _matches(event, filters):
                await resp.write(json.dumps(event).encode() + b"\n")
    finally:
        bus.unsubscribe(queue)
    return resp


__all__ = ["EventBus", "events"]
