"""A client for one registry's distribution API: manifests and blobs of its repositories.

>>> with RegistryClient("127.0.0.1:5000") as reg:  # doctest: +SKIP
...     data, media_type, digest = reg.get_manifest("library/busybox", "latest")

Credentials come from ``config.json`` (see :mod:`~pycontainers.images.registry.auth`)
unless given. Every method raises a :class:`RegistryError` subclass on failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from typing import IO, TYPE_CHECKING, Any

from pycontainers._log import get_logger
from pycontainers.images._errors import DigestMismatch
from pycontainers.images.digest import Digest
from pycontainers.images.registry._errors import RegistryError, Unauthorized
from pycontainers.images.registry._http import READ_SIZE, Transport, raise_for_status
from pycontainers.images.registry.auth import Authenticator, Credentials, load_credentials
from pycontainers.images.registry.manifests import ACCEPT

if TYPE_CHECKING:
    import httpx

log = get_logger("pycontainers.registry")

MAX_MANIFEST = 4 << 20


def pull_scope(repo: str) -> str:
    """The token scope for reading ``repo``."""
    return f"repository:{repo}:pull"


def push_scope(repo: str) -> str:
    """The token scope for writing ``repo``."""
    return f"repository:{repo}:pull,push"


def _read_limited(resp: httpx.Response, limit: int, what: str) -> bytes:
    out = bytearray()
    for chunk in resp.iter_bytes():
        out += chunk
        if len(out) > limit:
            raise RegistryError(f"{what} is larger than {limit} bytes")
    return bytes(out)


class RegistryClient:
    """Operations on the repositories of ``registry`` (``host[:port]`` or ``docker.io``).

    ``insecure_registries`` allows plain HTTP for those hosts (loopback always may);
    ``retries`` and ``backoff`` shape the retries of failed requests.
    """

    def __init__(
        self,
        registry: str,
        *,
        credentials: Credentials | None = None,
        docker_config: str | os.PathLike[str] | None = None,
        insecure_registries: Iterable[str] = (),
        retries: int = 5,
        backoff: float = 0.25,
        timeout: float = 60.0,
        max_connections: int = 16,
    ) -> None:
        self.registry = registry
        creds = (
            credentials if credentials is not None else load_credentials(registry, docker_config)
        )
        self.auth = Authenticator(creds)
        self.transport = Transport(
            registry,
            self.auth,
            insecure_registries=insecure_registries,
            retries=retries,
            backoff=backoff,
            timeout=timeout,
            max_connections=max_connections,
        )

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self.transport.close()

    def _req(self, method: str, url: str, scopes: Iterable[str], **kw: Any) -> httpx.Response:
        return self.transport.request(method, url, scopes=scopes, **kw)

    # -- login -------------------------------------------------------------------------------

    def check_login(self) -> None:
        """Check the credentials: :class:`Unauthorized` if the registry refuses them."""
        self.transport.base_url  # noqa: B018 - the ping learns the challenge
        if self.auth.scheme == "bearer":
            self.auth.header(self.transport.host, ())  # a token for no scope: docker login's check
            return
        resp = self._req("GET", "/v2/", ())
        with closing(resp):
            if resp.status_code == 401:
                raise Unauthorized(
                    f"login to {self.registry} failed: wrong user name or password",
                    status=401,
                    url=str(resp.request.url),
                )
            raise_for_status(resp, f"login to {self.registry}")

    # -- manifests ---------------------------------------------------------------------------

    def get_manifest(
        self, repo: str, reference: str, *, accept: str = ACCEPT
    ) -> tuple[bytes, str, Digest]:
        """The bytes, ``Content-Type`` and digest of the manifest ``repo:reference``.

        A digest ``reference`` is checked against the bytes (:class:`DigestMismatch`).
        """
        what = f"manifest {self.registry}/{repo}:{reference}"
        resp = self._req(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            [pull_scope(repo)],
            headers={"Accept": accept},
            stream=True,
        )
        with closing(resp):
            raise_for_status(resp, what)
            data = _read_limited(resp, MAX_MANIFEST, what)
            ctype = resp.headers.get("Content-Type", "")
            header = resp.headers.get("Docker-Content-Digest", "")
        if reference.startswith(("sha256:", "sha512:")):
            expected = Digest.parse(reference)
            actual = Digest.from_bytes(data, expected.algorithm)
            if actual != expected:
                raise DigestMismatch("digest", expected, actual, source=what)
            return data, ctype, actual
        digest = Digest.from_bytes(data)
        if header.startswith("sha256:") and Digest.parse(header) != digest:
            raise DigestMismatch("digest", header, digest, source=what)
        return data, ctype, digest

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> Digest:
        """Upload a manifest (or index) as ``repo:reference`` (a tag or its digest)."""
        resp = self._req(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            [push_scope(repo)],
            headers={"Content-Type": media_type},
            content=data,
        )
        with closing(resp):
            raise_for_status(resp, f"push of manifest {self.registry}/{repo}:{reference}")
        digest = Digest.from_bytes(data)
        log.info("registry.manifest_put", repo=repo, reference=reference, digest=str(digest))
        return digest

    # -- blobs -------------------------------------------------------------------------------

    def blob_size(self, repo: str, digest: Digest) -> int | None:
        """The size of blob ``digest`` in ``repo`` (``HEAD``), or ``None`` if it is absent."""
        resp = self._req("HEAD", f"/v2/{repo}/blobs/{digest}", [push_scope(repo)])
        with closing(resp):
            if resp.status_code == 404:
                return None
            raise_for_status(resp, f"blob {digest} in {repo}")
            return int(resp.headers.get("Content-Length", "-1"))

    def open_blob(self, repo: str, digest: Digest, offset: int = 0) -> httpx.Response:
        """A streamed ``GET`` of blob ``digest`` from byte ``offset`` (a ``Range`` request).

        The response may be 200 (the whole blob: the server ignored the range) or 206; the
        caller checks and closes it. Redirects (to a storage backend) are followed.
        """
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self._req(
            "GET",
            f"/v2/{repo}/blobs/{digest}",
            [pull_scope(repo)],
            headers=headers,
            stream=True,
            follow_redirects=True,
        )
        if resp.status_code not in (200, 206):
            with closing(resp):
                raise_for_status(resp, f"blob {digest} of {self.registry}/{repo}")
                raise RegistryError(f"blob {digest}: unexpected HTTP {resp.status_code}")
        return resp

    def mount_blob(self, repo: str, digest: Digest, from_repo: str) -> bool:
        """Ask the registry to link blob ``digest`` of ``from_repo`` into ``repo``; True if done."""
        resp = self._req(
            "POST",
            f"/v2/{repo}/blobs/uploads/",
            [push_scope(repo), pull_scope(from_repo)],
            params={"mount": str(digest), "from": from_repo},
        )
        with closing(resp):
            if resp.status_code == 201:
                return True
            if resp.status_code == 202:  # not mounted: an upload session we do not want
                loc = resp.headers.get("Location")
                if loc:
                    self._req("DELETE", self._abs(loc), [push_scope(repo)]).close()
                return False
            if resp.status_code in (401, 403, 404):
                return False
            raise_for_status(resp, f"mount of {digest} from {from_repo}")
        return False

    def _abs(self, location: str) -> str:
        if "://" in location:
            return location
        return self.transport.base_url + ("" if location.startswith("/") else "/") + location

    def upload_blob(
        self,
        repo: str,
        digest: Digest,
        size: int,
        opener: Callable[[], IO[bytes]],
        *,
        chunk_size: int | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Upload blob ``digest`` (``size`` bytes read from files ``opener()`` returns).

        One ``PUT`` (monolithic) unless ``chunk_size`` is given and smaller than the blob:
        then ``PATCH`` requests of ``chunk_size`` bytes and a closing ``PUT``.
        """
        scopes = [push_scope(repo)]
        resp = self._req("POST", f"/v2/{repo}/blobs/uploads/", scopes)
        with closing(resp):
            raise_for_status(resp, f"upload of {digest} to {repo}")
            location = self._abs(resp.headers["Location"])
        if chunk_size is None or chunk_size <= 0 or size <= chunk_size:
            resp = self._req(
                "PUT",
                location,
                scopes,
                params={"digest": str(digest)},
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                content=lambda: _stream(opener, 0, size, on_bytes),
            )
            with closing(resp):
                raise_for_status(resp, f"upload of {digest} to {repo}")
            return
        offset = 0
        while offset < size:
            n = min(chunk_size, size - offset)
            start = offset
            resp = self._req(
                "PATCH",
                location,
                scopes,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(n),
                    "Content-Range": f"{start}-{start + n - 1}",
                },
                content=lambda start=start, n=n: _stream(opener, start, n, on_bytes),
            )
            with closing(resp):
                raise_for_status(resp, f"chunk {start}-{start + n - 1} of {digest} to {repo}")
                location = self._abs(resp.headers.get("Location", location))
            offset += n
        resp = self._req(
            "PUT",
            location,
            scopes,
            params={"digest": str(digest)},
            headers={"Content-Length": "0"},
            content=b"",
        )
        with closing(resp):
            raise_for_status(resp, f"upload of {digest} to {repo}")


def _stream(
    opener: Callable[[], IO[bytes]], start: int, length: int, on_bytes: Callable[[int], None] | None
) -> Iterator[bytes]:
    with opener() as f:
        if start:
            f.seek(start)
        left = length
        while left > 0:
            chunk = f.read(min(READ_SIZE, left))
            if not chunk:
                raise RegistryError(f"blob source ended {left} bytes early")
            left -= len(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
            yield chunk


__all__ = ["RegistryClient", "pull_scope", "push_scope"]
