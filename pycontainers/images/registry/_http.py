"""The HTTP side of the registry client: endpoints, TLS rules, retries and error mapping.

One :class:`Transport` talks to one registry host through an ``httpx.Client`` (imported
lazily). It finds the scheme (HTTPS; plain HTTP only for insecure registries, which are
the ``insecure_registries`` given plus every loopback address, as in Docker), pings
``/v2/`` once to learn how the registry authenticates, sends every request with the
authorization the :class:`~pycontainers.images.registry.auth.Authenticator` gives for its
scopes, and retries with exponential backoff on connection errors, 429 and 5xx.
"""

from __future__ import annotations

import ipaddress
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pycontainers._log import get_logger
from pycontainers.images.registry._errors import (
    Forbidden,
    ManifestUnknown,
    RegistryError,
    RegistryNotFound,
    RegistryUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)

if TYPE_CHECKING:
    import httpx

    from pycontainers.images.registry.auth import Authenticator

log = get_logger("pycontainers.registry")

DOCKER_HUB = "docker.io"
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Bytes asked of the socket per read when streaming blobs.
READ_SIZE = 1 << 20


def endpoint_host(registry: str) -> str:
    """The host (and port) to connect to for ``registry`` (Docker Hub's API host for docker.io)."""
    return DOCKER_HUB_ENDPOINT if registry in (DOCKER_HUB, "index.docker.io") else registry


def _split_host(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_insecure(registry: str, insecure_registries: Iterable[str] = ()) -> bool:
    """Whether plain HTTP (or HTTPS without verification) may be used for ``registry``.

    True for a loopback host (``localhost``, 127.0.0.0/8, ::1) and for registries listed in
    ``insecure_registries`` by ``host``, ``host:port`` or CIDR network.
    """
    hostname = _split_host(registry)
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        addr: Any = ipaddress.ip_address(hostname)
    except ValueError:
        addr = None
    if addr is not None and addr.is_loopback:
        return True
    for entry in insecure_registries:
        entry = entry.strip().removeprefix("http://").removeprefix("https://").rstrip("/")
        if entry in (registry, hostname):
            return True
        if addr is not None and "/" in entry:
            try:
                if addr in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def backoff_delay(attempt: int, base: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): exponential, jittered, ≤ 10 s."""
    return float(min(10.0, base * (2**attempt)) * (0.5 + random.random() / 2))


def _registry_errors(resp: httpx.Response) -> tuple[str, str]:
    """The first error code and message of a registry's JSON error body."""
    try:
        body = json.loads(resp.read()[:65536])
        err = (body.get("errors") or [{}])[0]
        return str(err.get("code", "")), str(err.get("message", ""))
    except (ValueError, AttributeError, IndexError, TypeError):
        return "", ""
    except Exception:  # a broken stream while reading an error body
        return "", ""


def raise_for_status(resp: httpx.Response, what: str) -> None:
    """Raise the :class:`RegistryError` subclass matching a failed response about ``what``."""
    status = resp.status_code
    if status < 400:
        return
    code, message = _registry_errors(resp)
    detail = f": {message}" if message else ""
    url = str(resp.request.url)
    kw: dict[str, Any] = {"status": status, "url": url, "code": code}
    if status == 401:
        raise Unauthorized(
            f"{what}: authentication required{detail} "
            f"(log in with 'pycontainers login {resp.request.url.netloc.decode()}')",
            **kw,
        )
    if status == 403:
        raise Forbidden(f"{what}: access denied{detail}", **kw)
    if status == 404 and code == "MANIFEST_UNKNOWN":
        raise ManifestUnknown(f"{what}: manifest unknown{detail}", **kw)
    if status == 404:
        raise RegistryNotFound(f"{what}: not found{detail}", **kw)
    if status == 415 or (code == "MANIFEST_INVALID" and "media" in message.lower()):
        raise UnsupportedMediaType(f"{what}: unsupported media type{detail}", **kw)
    if status >= 500:
        raise RegistryUnavailable(f"{what}: registry error {status}{detail}", **kw)
    raise RegistryError(f"{what}: HTTP {status}{detail}", **kw)


class Transport:
    """Requests to one registry host, with scheme discovery, auth and retries."""

    def __init__(
        self,
        registry: str,
        auth: Authenticator,
        *,
        insecure_registries: Iterable[str] = (),
        retries: int = 5,
        backoff: float = 0.25,
        timeout: float = 60.0,
        max_connections: int = 16,
    ) -> None:
        self.registry = registry
        self.host = endpoint_host(registry)
        self.insecure = is_insecure(self.host, insecure_registries) or is_insecure(
            registry, insecure_registries
        )
        self.auth = auth
        self.retries = max(0, retries)
        self.backoff = backoff
        self._timeout = timeout
        self._max_connections = max_connections
        self._client: httpx.Client | None = None
        self._base = ""
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Transport({self.registry!r}, insecure={self.insecure})"

    def close(self) -> None:
        """Close the connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _new_client(self, verify: bool) -> httpx.Client:
        import httpx

        return httpx.Client(
            verify=verify,
            timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 15.0)),
            limits=httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
            ),
            headers={"User-Agent": "pycontainers"},
            follow_redirects=False,
        )

    def _connect(self) -> tuple[httpx.Client, str]:
        """Pick the scheme with a ``GET /v2/`` ping and let the authenticator see its answer."""
        with self._lock:
            if self._client is not None:
                return self._client, self._base
            import httpx

            schemes = ("https", "http") if self.insecure else ("https",)
            last: Exception | None = None
            for scheme in schemes:
                client = self._new_client(verify=not self.insecure)
                base = f"{scheme}://{self.host}"
                for attempt in range(self.retries + 1):
                    try:
                        resp = client.get(f"{base}/v2/")
                    except httpx.TransportError as exc:
                        last = exc
                        if isinstance(exc, httpx.ConnectError) and scheme == "https":
                            break  # maybe plain HTTP: try the next scheme at once
                        if attempt < self.retries:
                            time.sleep(backoff_delay(attempt, self.backoff))
                            continue
                        break
                    if resp.status_code in RETRY_STATUSES and attempt < self.retries:
                        time.sleep(backoff_delay(attempt, self.backoff))
                        continue
                    if resp.status_code == 401:
                        self.auth.learn(resp)
                    elif resp.status_code == 404:
                        client.close()
                        raise RegistryError(
                            f"{base} does not speak the registry API v2", status=404, url=base
                        )
                    log.debug("registry.ping", url=base, status=resp.status_code)
                    self._client, self._base = client, base
                    return client, base
                client.close()
            raise RegistryUnavailable(f"cannot reach registry {self.registry}: {last}") from last

    @property
    def base_url(self) -> str:
        """``scheme://host`` of the registry (connecting first if needed)."""
        return self._connect()[1]

    def request(
        self,
        method: str,
        url: str,
        *,
        scopes: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        content: Callable[[], Any] | bytes | None = None,
        params: Mapping[str, str] | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """Send one request (``url`` absolute or a path under the registry) and return the
        response; retries transport errors, 429 and 5xx, and answers one 401 challenge.

        ``content`` is bytes or a callable returning a fresh body per attempt. The caller
        checks the status (:func:`raise_for_status`); a streamed response must be closed.
        """
        import httpx

        client, base = self._connect()
        full: Any = url if "://" in url else base + url
        if params:  # merged: an upload Location carries its own query (``_state=...``)
            full = httpx.URL(full).copy_merge_params(dict(params))
        scopes = tuple(scopes)
        answered = False
        attempt = 0
        while True:
            hdrs = dict(headers or {})
            authz = self.auth.header(self.host, scopes)
            if authz:
                hdrs["Authorization"] = authz
            body = content() if callable(content) else content
            req = client.build_request(method, full, headers=hdrs, content=body)
            try:
                resp = client.send(req, stream=stream, follow_redirects=follow_redirects)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise RegistryUnavailable(
                        f"{method} {full}: {exc.__class__.__name__}: {exc}", url=full
                    ) from exc
                log.info("registry.retry", method=method, url=full, error=str(exc))
                time.sleep(backoff_delay(attempt, self.backoff))
                attempt += 1
                continue
            if resp.status_code == 401 and not answered and self.auth.learn(resp, scopes):
                resp.close()
                answered = True
                continue
            if resp.status_code in RETRY_STATUSES and attempt < self.retries:
                resp.close()
                log.info("registry.retry", method=method, url=full, status=resp.status_code)
                time.sleep(backoff_delay(attempt, self.backoff))
                attempt += 1
                continue
            return resp
