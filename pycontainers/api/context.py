"""The daemon's shared state, reachable from every handler: the thread pool the blocking
library calls run in, the roots, the event bus and the exec sessions.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from pycontainers.api.errors import bad_request, not_found

if TYPE_CHECKING:
    from pycontainers.api.autoremove import Removals
    from pycontainers.api.events import EventBus
    from pycontainers.api.execs import ExecRegistry
    from pycontainers.runtime.container import Container

T = TypeVar("T")


class Daemon:
    """What the handlers share: ``state_root``/``data_root`` (None: the library's
    defaults), the pool of worker threads, the events and the exec sessions.
    """

    def __init__(self, *, state_root: str | None, data_root: str | None, workers: int = 64) -> None:
        from pycontainers.api.autoremove import Removals
        from pycontainers.api.events import EventBus
        from pycontainers.api.execs import ExecRegistry

        self.state_root = state_root
        self.data_root = data_root
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="api")
        self.events: EventBus = EventBus(state_root)
        self.execs: ExecRegistry = ExecRegistry()
        self.removals: Removals = Removals()

    async def call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run the blocking ``fn(*args, **kw)`` in the pool (the library's calls block)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kw))

    def start_long(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run ``fn(*args)`` in a thread of its own, for calls that last as long as a
        container or a client wants (wait, log follow, exec): a daemon thread, so a shutdown
        never waits for them (the containers go on without us).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(ok: bool, value: Any) -> None:
            if future.done():
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        def run() -> None:
            try:
                result: Any = (True, fn(*args))
            except BaseException as exc:
                result = (False, exc)
            try:
                loop.call_soon_threadsafe(settle, *result)
            except RuntimeError:  # the loop is closed: the daemon is shutting down
                pass

        threading.Thread(target=run, daemon=True, name="api-long").start()
        return future

    async def call_long(self, fn: Callable[..., T], *args: Any) -> T:
        """Await :meth:`start_long`."""
        return await self.start_long(fn, *args)

    def load(self, ref: str) -> Container:
        """The container ``ref`` (id, id prefix or name); 404 if none (blocking)."""
        from pycontainers.errors import ContainerError
        from pycontainers.runtime.container import Container

        try:
            return Container.load(ref.lstrip("/"), state_root=self.state_root)
        except ContainerError as exc:
            if "no such container" in str(exc) or "matches" in str(exc):
                raise not_found(f"No such container: {ref}") from None
            raise

    def store(self) -> Any:
        """The image store under the data root."""
        from pycontainers.images import default_store

        return default_store(self.data_root)

    def close(self) -> None:
        """Stop taking work; the calls under way finish first (long ones are abandoned)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.removals.join(10.0)


DAEMON = web.AppKey("daemon", Daemon)


def daemon(request: web.Request) -> Daemon:
    """The :class:`Daemon` of the app serving ``request``."""
    return request.app[DAEMON]


async def body_json(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object body; 400 if it is not JSON or not an object."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise bad_request("request body is empty: expected a JSON object")
        return {}
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"invalid JSON: {exc}") from None
    if doc is None and not required:
        return {}
    if not isinstance(doc, dict):
        raise bad_request(f"expected a JSON object, got {type(doc).__name__}")
    return doc


def qbool(request: web.Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter as Docker reads them (1/true/True; 0/false/empty)."""
    value = request.query.get(name)
    if value is None:
        return default
    low = value.strip().lower()
    if low in ("1", "true", "yes"):
        return True
    if low in ("0", "false", "no", ""):
        return False
    raise bad_request(f"invalid boolean value for {name}: {value!r}")


def qint(request: web.Request, name: str, default: int | None = None) -> int | None:
    """An integer query parameter; 400 if it is not one."""
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"invalid integer value for {name}: {value!r}") from None


def qfilters(request: web.Request) -> dict[str, list[str]]:
    """Docker's ``filters`` parameter (JSON ``{key: [values]}`` or ``{key: {value: true}}``)."""
    raw = request.query.get("filters")
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"invalid filters: {exc}") from None
    if not isinstance(doc, dict):
        raise bad_request("invalid filters: expected a JSON object")
    out: dict[str, list[str]] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out[key] = [k for k, v in value.items() if v]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        elif isinstance(value, str):
            out[key] = [value]
        else:
            raise bad_request(f"invalid filter {key!r}: expected a list of strings")
    return out


def json_response(doc: Any, status: int = 200) -> web.Response:
    """``doc`` as a JSON response."""
    return web.Response(
        status=status, body=json.dumps(doc).encode() + b"\n", content_type="application/json"
    )


def missing(kind: str, ref: str) -> Exception:
    """404 ``No such <kind>: <ref>``."""
    return not_found(f"No such {kind}: {ref}")


__all__ = [
    "DAEMON",
    "Daemon",
    "body_json",
    "daemon",
    "json_response",
    "missing",
    "qbool",
    "qfilters",
    "qint",
]
