"""Pulling an image from a registry into an :class:`~pycontainers.images.ImageStore`.

The tag resolves to a manifest (an index or manifest list picks the platform's entry); the
config and layers are fetched concurrently by threads, each streamed into the content
store's ``ingest/`` area while its digest and size are checked. Nothing enters the store
until every blob is there and verified: then, under the store's lock, the blobs are
renamed into place, the manifest is stored and the image is named — a failed pull leaves
``blobs/`` and ``index.json`` as they were.

A blob already in the store is not fetched. A blob whose download broke off stays in
``ingest/pull-<algorithm>-<hex>`` (a corrupt one is deleted): the next pull re-reads what
is there and asks the registry for the rest with a ``Range`` request, and a blob that was
complete is not fetched again. Connection errors, 429 and 5xx are retried with backoff.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import attrs

from pycontainers._log import get_logger
from pycontainers.images._errors import DigestMismatch, ImageError
from pycontainers.images.descriptor import Descriptor, Platform
from pycontainers.images.digest import Digest
from pycontainers.images.reference import Reference
from pycontainers.images.registry._errors import RegistryError, RegistryUnavailable
from pycontainers.images.registry._http import READ_SIZE, backoff_delay
from pycontainers.images.registry.client import RegistryClient
from pycontainers.images.registry.manifests import (
    INDEX_MEDIA_TYPES,
    media_type_of,
    parse_manifest,
    parse_platform,
    select_platform,
)
from pycontainers.images.registry.progress import Progress, ProgressCallback

if TYPE_CHECKING:
    from pycontainers.images.image import Image, ImageStore
    from pycontainers.images.store import ContentStore

log = get_logger("pycontainers.registry")

_REPORT_EVERY = 1 << 20  # bytes between progress events of one blob


class _Aborted(Exception):
    """Another blob of the same pull failed: stop, keep what was fetched."""


class _Staged:
    """A blob being fetched into the store's ingest area (locked while this pull uses it)."""

    def __init__(self, path: Path, fd: int, desc: Descriptor) -> None:
        self.path = path
        self.fd = fd
        self.desc = desc
        self.hasher = desc.digest.hasher()
        self.size = 0

    @classmethod
    def open(cls, ingest: Path, desc: Descriptor) -> _Staged:
        """Open (and lock) ``ingest/pull-<alg>-<hex>``; a private file if another pull has it."""
        name = f"pull-{desc.digest.algorithm}-{desc.digest.encoded}"
        path = ingest / name
        for _ in range(10):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                fd, tmp = tempfile.mkstemp(dir=ingest, prefix=name + ".")
                fcntl.flock(fd, fcntl.LOCK_EX)
                return cls(Path(tmp), fd, desc)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not removed by a gc between open and flock
                return cls(path, fd, desc)
            os.close(fd)
        raise ImageError(f"cannot lock an ingest file for {desc.digest}")

    def rehash(self) -> int:
        """Hash what an earlier, broken-off pull left; returns the bytes kept."""
        self.hasher = self.desc.digest.hasher()
        self.size = 0
        if os.fstat(self.fd).st_size > self.desc.size:
            os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        while chunk := os.read(self.fd, READ_SIZE):
            self.hasher.update(chunk)
            self.size += len(chunk)
        return self.size

    def reset(self) -> None:
        """Start over from an empty file."""
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.hasher = self.desc.digest.hasher()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Append and hash ``chunk``; :class:`DigestMismatch` if the blob grows too big."""
        if self.size + len(chunk) > self.desc.size:
            raise DigestMismatch(
                "size", self.desc.size, f"more than {self.desc.size}", source=str(self.desc.digest)
            )
        self.hasher.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(self.fd, view) :]
        self.size += len(chunk)

    def finish(self) -> None:
        """Check size and digest, then fsync; :class:`DigestMismatch` on a mismatch."""
        if self.size != self.desc.size:
            raise DigestMismatch("size", self.desc.size, self.size, source=str(self.desc.digest))
        actual = Digest.from_hasher(self.hasher)
        if actual != self.desc.digest:
            raise DigestMismatch("digest", self.desc.digest, actual, source="registry")
        os.fsync(self.fd)

    @property
    def complete(self) -> bool:
        """Whether the file holds the whole blob with the right digest."""
        return (
            self.size == self.desc.size
            and Digest.from_hasher(self.hasher.copy()) == self.desc.digest
        )

    def commit(self, content: ContentStore) -> None:
        """Rename the verified file into the store (call with the store's lock held)."""
        target = content.blob_path(self.desc.digest)
        target.parent.mkdir(exist_ok=True)
        os.rename(self.path, target)

    def discard(self) -> None:
        """Delete the file (its content is wrong) and close it."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self.close()

    def close(self) -> None:
        """Close (and unlock) the file; it stays in ingest for a later pull."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@attrs.frozen
class _Resolved:
    """The manifest a pull resolved to."""

    data: bytes
    media_type: str
    digest: Digest
    blobs: tuple[Descriptor, ...]
    config: Descriptor
    platform: Platform | None


class _Pull:
    def __init__(
        self,
        store: ImageStore,
        client: RegistryClient,
        ref: Reference,
        platform: Platform,
        progress: ProgressCallback | None,
        concurrency: int,
    ) -> None:
        self.store = store
        self.content = store.content
        self.client = client
        self.ref = ref
        self.platform = platform
        self.progress = progress
        self.concurrency = max(1, concurrency)
        self.fetched = 0  # bytes received from the registry

    def _emit(self, desc: Descriptor, done: int, state: str, config: Descriptor) -> None:
        if self.progress is not None:
            kind = "config" if desc.digest == config.digest else "layer"
            self.progress(Progress(desc.digest, desc.size, done, state, kind))

    def resolve(self) -> _Resolved:
        repo = self.ref.path
        data, ctype, digest = self.client.get_manifest(
            repo, str(self.ref.digest) if self.ref.digest else self.ref.tag
        )
        media, obj = media_type_of(data, ctype)
        entry_platform = None
        if media in INDEX_MEDIA_TYPES:
            chosen = select_platform(obj, self.platform)
            data, ctype, digest = self.client.get_manifest(repo, str(chosen.digest))
            if len(data) != chosen.size:
                raise DigestMismatch("size", chosen.size, len(data), source=str(chosen.digest))
            media, obj = media_type_of(data, ctype)
            if media in INDEX_MEDIA_TYPES:
                raise RegistryError(f"index entry {chosen.digest} is an index again")
            entry_platform = chosen.platform
        manifest = parse_manifest(obj, media)
        seen: dict[Digest, Descriptor] = {}
        for d in (manifest.config, *manifest.layers):
            seen.setdefault(d.digest, d)
        return _Resolved(data, media, digest, tuple(seen.values()), manifest.config, entry_platform)

    def fetch_all(self, blobs: Iterable[Descriptor], config: Descriptor) -> list[_Staged]:
        """Fetch the blobs the store lacks into ingest; all or nothing (on error, raise)."""
        todo = list(blobs)
        staged: list[_Staged] = []
        if not todo:
            return staged
        abort = threading.Event()
        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(todo)), thread_name_prefix="pc-pull"
        )
        futures: list[Future[_Staged | None]] = []
        try:
            futures = [pool.submit(self._fetch, d, abort, config) for d in todo]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                abort.set()  # the others stop at their next chunk
            wait(futures)
        except BaseException:
            abort.set()
            raise
        finally:
            pool.shutdown(wait=True)
            errors = [e for f in futures if (e := f.exception()) is not None]
            staged = [s for f in futures if f.exception() is None and (s := f.result())]
            if errors or sys.exc_info()[0] is not None:
                for s in staged:
                    s.close()
        if errors:
            real = [e for e in errors if not isinstance(e, _Aborted)]
            raise (real or errors)[0]
        return staged

    def _fetch(
        self, desc: Descriptor, abort: threading.Event, config: Descriptor
    ) -> _Staged | None:
        import httpx

        if self.content.has(desc.digest):
            self._emit(desc, desc.size, "exists", config)
            return None
        self._emit(desc, 0, "waiting", config)
        staged = _Staged.open(self.content.root / "ingest", desc)
        try:
            have = staged.rehash()
            if have == desc.size and staged.complete:
                log.info("registry.blob_reused", digest=str(desc.digest))
                self._emit(desc, desc.size, "done", config)
                return staged
            if have == desc.size:
                have = 0
                staged.reset()
            attempt = 0
            while True:
                try:
                    self._download(staged, abort, config)
                    break
                except httpx.TransportError as exc:
                    if attempt >= self.client.transport.retries:
                        raise RegistryUnavailable(
                            f"blob {desc.digest}: {exc.__class__.__name__}: {exc}"
                        ) from exc
                    log.info(
                        "registry.blob_resume",
                        digest=str(desc.digest),
                        at=staged.size,
                        error=str(exc),
                    )
                    time.sleep(backoff_delay(attempt, self.client.transport.backoff))
                    attempt += 1
                except RegistryError as exc:
                    if exc.status != 416 or attempt >= self.client.transport.retries:
                        raise
                    staged.reset()  # the range was refused: start over
                    attempt += 1
            staged.finish()
        except DigestMismatch:
            staged.discard()
            self._emit(desc, staged.size, "failed", config)
            raise
        except _Aborted:
            staged.close()
            raise
        except BaseException:
            staged.close()
            self._emit(desc, staged.size, "failed", config)
            raise
        self._emit(desc, desc.size, "done", config)
        return staged

    def _download(self, staged: _Staged, abort: threading.Event, config: Descriptor) -> None:
        desc = staged.desc
        resp = self.client.open_blob(self.ref.path, desc.digest, staged.size)
        with contextlib.closing(resp):
            if resp.status_code == 206:
                start = resp.headers.get("Content-Range", "").removeprefix("bytes ").split("-")[0]
                if start != str(staged.size):
                    staged.reset()
                    raise RegistryError(f"blob {desc.digest}: bad Content-Range", status=416)
            elif staged.size:
                staged.reset()  # the server sent the whole blob
            reported = staged.size
            self._emit(desc, staged.size, "downloading", config)
            for chunk in resp.iter_raw():
                if abort.is_set():
                    raise _Aborted()
                staged.write(chunk)
                self.fetched += len(chunk)
                if staged.size - reported >= _REPORT_EVERY:
                    reported = staged.size
                    self._emit(desc, staged.size, "downloading", config)

    def commit(self, resolved: _Resolved, staged: list[_Staged]) -> Image | list[Descriptor]:
        """Move the blobs in and name the image; the blobs a gc removed meanwhile if any."""
        from pycontainers.images.store import _fsync_dir

        content = self.content
        added: list[Digest] = []
        with content.lock():
            try:
                for s in staged:
                    if not content.has(s.desc.digest):
                        s.commit(content)
                        added.append(s.desc.digest)
                if staged:
                    _fsync_dir(content.root / "blobs" / "sha256")
                missing = [b for b in resolved.blobs if not content.has(b.digest)]
                if missing:  # a gc ran between the fetch and now
                    return missing
                if not content.has(resolved.digest):
                    added.append(resolved.digest)
                man = content.put(
                    resolved.data, expected_digest=resolved.digest, media_type=resolved.media_type
                )
                image = self.store.image_at(self.ref, man)  # validates config and layers
                desc = attrs.evolve(man, platform=resolved.platform or image.platform)
                self.store.name_descriptor(desc, self.ref)
            except BaseException:
                for d in added:
                    content.delete(d)
                raise
            finally:
                for s in staged:
                    s.close()
        return self.store.image_at(self.ref, desc)

    def run(self) -> Image:
        resolved = self.resolve()
        log.info(
            "registry.pulling",
            reference=str(self.ref),
            digest=str(resolved.digest),
            blobs=len(resolved.blobs),
        )
        todo: list[Descriptor] = list(resolved.blobs)
        for _ in range(3):
            staged = self.fetch_all(todo, resolved.config)
            result = self.commit(resolved, staged)
            if not isinstance(result, list):
                log.info("registry.pulled", reference=str(self.ref), fetched=self.fetched)
                return result
            todo = result
        raise ImageError(f"pull of {self.ref}: blobs keep disappearing (a concurrent prune?)")


class RegistryOptions(TypedDict, total=False):
    """How :func:`pull` and :func:`~pycontainers.images.registry.pushing.push` talk to a registry.

    ``insecure_registries`` (plain HTTP besides loopback), ``docker_config`` (the
    ``config.json`` with credentials), ``progress`` (a :class:`Progress` callback),
    ``concurrency`` (blobs at once), ``retries``, ``backoff`` (seconds), ``timeout``
    (seconds per request), ``client`` (a :class:`RegistryClient` to reuse).
    """

    insecure_registries: Iterable[str]
    docker_config: str | os.PathLike[str] | None
    progress: ProgressCallback | None
    concurrency: int
    retries: int
    backoff: float
    timeout: float
    client: RegistryClient | None


class PullOptions(RegistryOptions, total=False):
    """The keywords of :func:`pull` (and :meth:`Image.pull`, :meth:`ImageStore.pull`):
    ``platform`` (``"linux/arm64/v8"`` or a :class:`Platform`) and :class:`RegistryOptions`.
    """

    platform: str | Platform | None


def pull(
    store: ImageStore,
    reference: str | Reference,
    *,
    platform: str | Platform | None = None,
    insecure_registries: Iterable[str] = (),
    docker_config: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    concurrency: int = 6,
    retries: int = 5,
    backoff: float = 0.25,
    timeout: float = 60.0,
    client: RegistryClient | None = None,
) -> Image:
    """Pull ``reference`` (``host[:port]/repo:tag`` or ``repo@sha256:...``) into ``store``.

    ``platform`` (``"linux/arm64/v8"``) picks the entry of an image index; by default the
    host's (linux/amd64 on x86-64). Up to ``concurrency`` blobs download at once; each is
    checked against its digest and size as it streams (:class:`DigestMismatch`). HTTP
    needs the registry to be insecure: loopback or listed in ``insecure_registries``.
    ``progress`` receives :class:`Progress` events from the worker threads; credentials
    come from ``docker_config`` (default: Docker's ``config.json``); each request has
    ``timeout`` seconds and ``retries`` with ``backoff``; ``client`` reuses a
    :class:`RegistryClient`. Errors:
    :class:`Unauthorized` (401), :class:`Forbidden` (403), :class:`ManifestUnknown` and
    :class:`RegistryNotFound` (404), :class:`UnsupportedMediaType`,
    :class:`NoMatchingPlatform`, :class:`RegistryUnavailable` (after the retries).
    """
    from pycontainers.images.image import host_platform

    ref = Reference.parse(reference)
    plat = parse_platform(platform) if platform is not None else host_platform()
    own = client is None
    reg = client or RegistryClient(
        ref.registry,
        docker_config=docker_config,
        insecure_registries=insecure_registries,
        retries=retries,
        backoff=backoff,
        timeout=timeout,
        max_connections=concurrency + 2,
    )
    try:
        return _Pull(store, reg, ref, plat, progress, concurrency).run()
    finally:
        if own:
            reg.close()


__all__ = ["PullOptions", "RegistryOptions", "pull"]
