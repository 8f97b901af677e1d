"""``/events``: Docker's event stream, read from the event journal (:mod:`pycontainers.events`)
that the library writes for every lifecycle operation, so the stream shows what the CLI, other
programs and this daemon did alike, with Docker's filters.

The library records container create/start/die/stop/kill/destroy/pause/unpause/rename, image
pull/tag/untag/delete, network and volume create/destroy itself; the actions only the daemon
knows of (exec_create, exec_start, attach, restart, update, push, load...) are appended to the
journal by :meth:`EventBus.publish`. Publishing is thread-safe: the pool's threads publish too.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from pycontainers.api.context import daemon, qfilters

LIBRARY_RECORDED = {
    "container": {"create", "start", "die", "stop", "kill", "destroy", "pause", "unpause",
                  "rename"},
    "image": {"pull", "tag", "untag", "delete"},
    "network": {"create", "destroy"},
    "volume": {"create", "destroy"},
}  # fmt: skip
"""The events the library journals by itself (publishing them again would double them)."""

_POLL = 0.1  # seconds between looks at the journal while a client follows it


class EventBus:
    """Appends the daemon's own events to the journal of ``state_root``."""

    def __init__(self, state_root: str | None = None) -> None:
        self.state_root = state_root

    def publish(
        self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None
    ) -> None:
        """Journal one event (``kind`` container, image, network, volume), unless the
        library has journaled it already.
        """
        if action in LIBRARY_RECORDED.get(kind, ()):
            return
        from pycontainers.events import record

        record(kind, action, actor_id, attributes, state_root=self.state_root)


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


async def events(request: web.Request) -> web.StreamResponse:
    """GET /events: the journal's events since ``since`` (none of the past without it), then
    new ones until ``until`` or the client goes away.
    """
    from pycontainers.events import Journal, in_range, matches

    filters = qfilters(request)
    since = _time_arg(request.query.get("since"))
    until = _time_arg(request.query.get("until"))
    d = daemon(request)
    journal = Journal(d.events.state_root)
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})

    async def send(batch: list[dict[str, Any]]) -> None:
        for event in batch:
            if in_range(event, since, until) and matches(event, filters):
                await resp.write(json.dumps(event).encode() + b"\n")

    try:
        past = await d.call(journal.read)
        await resp.prepare(request)
        if since is not None:
            await send(past)
        while until is None or time.time() <= until:
            await send(await d.call(journal.poll))
            await asyncio.sleep(_POLL)
    finally:
        journal.close()
    return resp


__all__ = ["LIBRARY_RECORDED", "EventBus", "events"]
