"""``pc.Client``: a typed client of a Docker Engine API daemon (``pycontainers serve``, or
dockerd) at ``unix://``, ``tcp://`` (TLS) or ``ssh://`` addresses, over httpx.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from pycontainers.client.streams import Hijacked, hijack
from pycontainers.client.transport import DEFAULT_HOST, Host, SocketTransport, Tls
from pycontainers.errors import ApiError, DaemonUnreachable

API_VERSION = "1.43"
"""The newest API version the client speaks (it negotiates down with an older daemon)."""


def default_host() -> str:
    """``$PYCONTAINERS_HOST``, else ``$DOCKER_HOST``, else the local daemon's socket."""
    return os.environ.get("PYCONTAINERS_HOST") or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def _older(a: str, b: str) -> str:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".") if p.isdigit())

    return a if key(a) <= key(b) else b


class Client:
    """A client of the daemon at ``base_url`` (default: :func:`default_host`).

    ``client.containers``, ``client.images``, ``client.volumes`` and ``client.networks``
    return objects shaped like the library's (``RemoteContainer.logs`` yields
    :class:`~pycontainers.runtime.logs.LogEntry`, ``exec`` returns a
    :class:`~pycontainers.CompletedContainer`). Errors are :class:`~pycontainers.errors.ApiError`
    with the daemon's status and message; :class:`~pycontainers.errors.DaemonUnreachable`
    when nothing answers. Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self, base_url: str | None = None, *, tls: Tls | None = None, timeout: float = 60.0
    ) -> None:
        from pycontainers.client.objects import Containers, Images, Networks, Volumes

        self.host = Host.parse(base_url or default_host(), tls)
        self.base_url = self.host.url
        self._timeout = timeout
        self._http = httpx.Client(
            transport=SocketTransport(self.host),
            base_url="http://docker",
            timeout=httpx.Timeout(timeout, connect=30.0),
        )
        self._version: str | None = None
        self.containers = Containers(self)
        self.images = Images(self)
        self.volumes = Volumes(self)
        self.networks = Networks(self)

    # -- plumbing --------------------------------------------------------------------------

    @property
    def api_version(self) -> str:
        """The API version both sides speak (asked of the daemon's ``/_ping`` once)."""
        if self._version is None:
            r = self.send("GET", "/_ping", versioned=False)
            self._version = _older(API_VERSION, r.headers.get("Api-Version", API_VERSION))
        return self._version

    def _url(self, path: str, versioned: bool = True) -> str:
        return f"/v{self.api_version}{path}" if versioned else path

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        versioned: bool = True,
        timeout: float | bool | None = True,
    ) -> httpx.Response:
        """One request to the daemon (``body`` as JSON, or raw ``content``); ``stream``
        leaves the body unread; an error status raises :class:`ApiError` with its message.
        """
        url = self._url(path, versioned)
        q = {k: _query(v) for k, v in (params or {}).items() if v is not None}
        kw: dict[str, Any] = {"params": q, "headers": dict(headers or {})}
        if body is not None:
            kw["json"] = body
        elif content is not None:
            kw["content"] = content
        if timeout is not True:
            kw["timeout"] = httpx.Timeout(timeout, connect=30.0)
        try:
            request = self._http.build_request(method, url, **kw)
            r = self._http.send(request, stream=stream)
        except DaemonUnreachable:
            raise
        except httpx.TimeoutException as exc:
            raise ApiError(504, f"the daemon at {self.base_url} did not answer: {exc}") from None
        except httpx.HTTPError as exc:
            raise DaemonUnreachable(self.base_url, str(exc) or type(exc).__name__) from None
        if r.status_code >= 400:
            if stream:
                r.read()
                r.close()
            raise ApiError(r.status_code, _message(r))
        return r

    def request(self, method: str, path: str, **kw: Any) -> Any:
        """One request on the versioned API; the decoded JSON answer (None when empty)."""
        r = self.send(method, path, **kw)
        return r.json() if r.content else None

    def stream(self, method: str, path: str, **kw: Any) -> Iterator[bytes]:
        """The body of a streamed answer, as it comes (no read timeout)."""
        r = self.send(method, path, stream=True, timeout=None, **kw)
        try:
            yield from r.iter_bytes()
        except httpx.HTTPError:
            return  # the daemon ended the stream (or went away): the iteration ends
        finally:
            r.close()

    def json_stream(self, method: str, path: str, **kw: Any) -> Iterator[dict[str, Any]]:
        """The JSON messages of a progress stream (pull, push, build), one per line; an
        ``error`` message raises ApiError.
        """
        buf = b""
        for chunk in self.stream(method, path, **kw):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    yield _progress(json.loads(line))
        if buf.strip():
            yield _progress(json.loads(buf))

    def hijack(
        self, path: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> Hijacked:
        """POST ``path`` and take over its connection (attach, exec start)."""
        query = httpx.QueryParams(
            {k: _query(v) for k, v in (params or {}).items() if v is not None}
        )
        target = self._url(path) + (f"?{query}" if query else "")
        return hijack(self.host, target, body)

    # -- system ----------------------------------------------------------------------------

    def ping(self) -> bool:
        """Whether the daemon answers ``/_ping`` with OK."""
        return self.send("GET", "/_ping", versioned=False).text == "OK"

    def version(self) -> dict[str, Any]:
        """The daemon's ``/version``."""
        answer: dict[str, Any] = self.request("GET", "/version")
        return answer

    def info(self) -> dict[str, Any]:
        """The daemon's ``/info``."""
        answer: dict[str, Any] = self.request("GET", "/info")
        return answer

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"


def _query(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _message(r: httpx.Response) -> str:
    try:
        return str(r.json()["message"])
    except (ValueError, KeyError, TypeError):
        return r.text.strip() or f"HTTP {r.status_code}"


def _progress(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("error") or message.get("errorDetail"):
        detail = message.get("errorDetail") or {}
        raise ApiError(500, str(message.get("error") or detail.get("message")))
    return message


__all__ = ["API_VERSION", "Client", "default_host"]
