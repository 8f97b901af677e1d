"""The content store: an OCI image layout on disk, safe to share between processes.

``root/oci-layout`` holds ``{"imageLayoutVersion": "1.0.0"}``, ``root/index.json`` the image
index and ``root/blobs/<algorithm>/<hex>`` each blob under its digest. Blobs are streamed into
``root/ingest/`` while they are hashed, checked, fsync'ed and renamed into place, so a blob
file that exists is whole; reading one verifies its digest again, so a blob damaged on disk
raises instead of returning bad data. Index writes and garbage collection take an
``fcntl.flock`` on ``root/.lock``.

>>> store = ContentStore("/tmp/layout")  # doctest: +SKIP
>>> desc = store.put(b"hello", media_type="text/plain")  # doctest: +SKIP
>>> store.read_bytes(desc.digest)  # doctest: +SKIP
b'hello'
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pycontainers._log import get_logger
from pycontainers.errors import SpecError
from pycontainers.images._errors import BlobNotFound, DigestMismatch, ImageError
from pycontainers.images.descriptor import (
    MANIFEST_MEDIA_TYPES,
    MEDIA_TYPE_OCTET_STREAM,
    Descriptor,
    Index,
)
from pycontainers.images.digest import Digest, new_hasher

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = get_logger("pycontainers.images")

LAYOUT_VERSION = "1.0.0"
CHUNK = 1 << 20

#: What :meth:`ContentStore.put` accepts: bytes, a binary file object, or an iterable of chunks.
BlobSource = bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _holds(path: Path, size: int, digest: Digest) -> bool:
    """Whether the blob at ``path`` exists with exactly this size and digest (reading it
    is cheaper than writing and syncing it again; a corrupted one is rewritten).
    """
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size != size:
                return False
            h = new_hasher(digest.algorithm)
            while chunk := f.read(CHUNK):
                h.update(chunk)
    except OSError:
        return False
    return Digest.from_hasher(h) == digest


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old or the new file, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _chunks(data: BlobSource) -> Iterator[bytes | memoryview]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        yield memoryview(data)
        return
    readinto = getattr(data, "readinto", None)
    if readinto is not None:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while True:
            n = readinto(view)
            if not n:
                return
            yield view[:n]
    read = getattr(data, "read", None)
    if read is not None:
        while chunk := read(CHUNK):
            yield chunk
        return
    yield from data


class BlobReader(io.RawIOBase):
    """A blob opened for reading that checks its digest (and size) as it is read.

    Reading past the last byte raises :class:`DigestMismatch` instead of signalling the end
    when the content read does not match, so a truncated or corrupted blob is never taken
    for a whole one. ``verified`` becomes true once the end was reached and matched.
    """

    def __init__(self, path: Path, digest: Digest, size: int | None = None) -> None:
        super().__init__()
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise BlobNotFound(digest, errno=exc.errno, path=str(path)) from None
        self.digest = digest
        self.size = size
        self.verified = False
        self._hasher = digest.hasher()
        self._count = 0
        self._path = path

    def readable(self) -> bool:
        """Always true."""
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Fill ``buffer`` with the next bytes of the blob; 0 only at a verified end."""
        view = memoryview(buffer).cast("B")
        if self.size is not None:
            view = view[: max(self.size - self._count, 0) or len(view)]
        n = os.readv(self._fd, [view])
        if n == 0:
            self._finish()
            return 0
        self._hasher.update(view[:n])
        self._count += n
        if self.size is not None and self._count > self.size:
            raise DigestMismatch(
                "size", self.size, f"more than {self.size}", source=str(self.digest)
            )
        return n

    def _finish(self) -> None:
        if self.verified:
            return
        if self.size is not None and self._count != self.size:
            raise DigestMismatch("size", self.size, self._count, source=str(self.digest))
        actual = Digest.from_hasher(self._hasher)
        if actual != self.digest:
            raise DigestMismatch("digest", self.digest, actual, source=str(self._path))
        self.verified = True

    def close(self) -> None:
        """Close the file (an unverified read is not an error: the caller stopped early)."""
        if not self.closed:
            os.close(self._fd)
        super().close()


class ContentStore:
    """An OCI image layout at ``root``, created if it does not exist yet."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self._lock = threading.RLock()
        self._lock_depth = 0
        self._lock_fd = -1
        self._init_layout()

    def __repr__(self) -> str:
        return f"ContentStore({str(self.root)!r})"

    # -- layout -----------------------------------------------------------------------------

    def _init_layout(self) -> None:
        for d in (self.root, self.root / "blobs" / "sha256", self.root / "ingest"):
            d.mkdir(parents=True, exist_ok=True)
        marker = self.root / "oci-layout"
        try:
            layout = json.loads(marker.read_bytes())
        except FileNotFoundError:
            with self.lock():
                if not marker.exists():
                    write_atomic(
                        marker, json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode()
                    )
            return
        except ValueError as exc:
            raise ImageError(f"{marker}: not valid JSON: {exc}") from None
        version = layout.get("imageLayoutVersion") if isinstance(layout, dict) else None
        if version != LAYOUT_VERSION:
            raise ImageError(f"{marker}: unsupported imageLayoutVersion {version!r}")

    def blob_path(self, digest: Digest | str) -> Path:
        """Where the blob of ``digest`` lives (whether or not it exists)."""
        d = Digest.parse(digest)
        return self.root / "blobs" / d.algorithm / d.encoded

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's exclusive lock (re-entrant within this object).

        Index updates and garbage collection take it themselves; hold it around a sequence
        of puts and an index update that must not interleave with another process's ``gc``.
        """
        with self._lock:
            if self._lock_depth == 0:
                fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._lock_fd = fd
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0:
                    os.close(self._lock_fd)  # closing the last fd drops the flock
                    self._lock_fd = -1

    # -- blobs ------------------------------------------------------------------------------

    def has(self, digest: Digest | str) -> bool:
        """Whether the blob of ``digest`` is in the store."""
        return self.blob_path(digest).is_file()

    def descriptor(
        self, digest: Digest | str, media_type: str = MEDIA_TYPE_OCTET_STREAM
    ) -> Descriptor:
        """A descriptor of a stored blob (its size from the file); :class:`BlobNotFound` if absent."""
        d = Digest.parse(digest)
        path = self.blob_path(d)
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(d, errno=exc.errno, path=str(path)) from None
        return Descriptor(media_type, d, size)

    def put(
        self,
        data: BlobSource,
        *,
        expected_digest: Digest | str | None = None,
        expected_size: int | None = None,
        media_type: str = MEDIA_TYPE_OCTET_STREAM,
        annotations: dict[str, str] | None = None,
    ) -> Descriptor:
        """Store ``data`` (bytes, a binary file object or an iterable of chunks).

        The content is hashed while it is written to a temporary file in the store, then
        checked against ``expected_digest`` and ``expected_size``: on a mismatch
        :class:`DigestMismatch` is raised and nothing is left behind. Reading stops as soon
        as the content runs past ``expected_size``.
        """
        expected = Digest.parse(expected_digest) if expected_digest is not None else None
        if expected_size is not None and (
            isinstance(expected_size, bool)
            or not isinstance(expected_size, int)
            or expected_size < 0
        ):
            raise SpecError(
                "expected_size", f"must be a non-negative integer, got {expected_size!r}"
            )
        hasher = new_hasher(expected.algorithm if expected else "sha256")
        ingest = self.root / "ingest"
        fd, tmp = tempfile.mkstemp(dir=ingest, prefix="put-")
        try:
            # Held until the temporary file is gone: gc() removes only unlocked leftovers.
            fcntl.flock(fd, fcntl.LOCK_SH)
            size = 0
            for chunk in _chunks(data):
                size += len(chunk)
                if expected_size is not None and size > expected_size:
                    raise DigestMismatch("size", expected_size, f"more than {expected_size}")
                hasher.update(chunk)
                _write_all(fd, chunk)
            if expected_size is not None and size != expected_size:
                raise DigestMismatch("size", expected_size, size)
            digest = Digest.from_hasher(hasher)
            if expected is not None and digest != expected:
                raise DigestMismatch("digest", expected, digest)
            target = self.blob_path(digest)
            if _holds(target, size, digest):  # stored and intact: nothing to write
                os.unlink(tmp)
                log.debug("blob.put", digest=str(digest), size=size, existed=True)
                return Descriptor(media_type, digest, size, annotations=annotations)
            os.fchmod(fd, 0o644)
            os.fsync(fd)
            with self.lock():
                target.parent.mkdir(exist_ok=True)
                os.rename(tmp, target)
            _fsync_dir(target.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        finally:
            os.close(fd)
        log.debug("blob.put", digest=str(digest), size=size)
        return Descriptor(media_type, digest, size, annotations=annotations)

    def open(self, blob: Digest | str | Descriptor) -> BlobReader:
        """Open a blob for reading; the reader verifies the digest (and a descriptor's size)."""
        if isinstance(blob, Descriptor):
            return BlobReader(self.blob_path(blob.digest), blob.digest, blob.size)
        d = Digest.parse(blob)
        return BlobReader(self.blob_path(d), d)

    def read_bytes(self, blob: Digest | str | Descriptor) -> bytes:
        """The whole content of a blob, verified before it is returned."""
        with self.open(blob) as reader:
            data = reader.read()
            reader.read()  # reach the verified end even when the size was known
        assert data is not None
        return data

    def verify(self, blob: Digest | str | Descriptor) -> None:
        """Read a blob through and raise :class:`DigestMismatch` if it is damaged."""
        with self.open(blob) as reader:
            buf = bytearray(CHUNK)
            while reader.readinto(buf):
                pass

    def delete(self, digest: Digest | str) -> bool:
        """Remove a blob; False if it was not there."""
        path = self.blob_path(digest)
        with self.lock():
            try:
                path.unlink()
            except FileNotFoundError:
                return False
        return True

    def blobs(self) -> Iterator[Digest]:
        """The digests of every stored blob (files with invalid names are skipped)."""
        for algo_dir in sorted((self.root / "blobs").iterdir()):
            if not algo_dir.is_dir():
                continue
            for entry in sorted(os.listdir(algo_dir)):
                try:
                    yield Digest(algo_dir.name, entry)
                except SpecError:
                    continue

    # -- index ------------------------------------------------------------------------------

    def read_index(self) -> Index:
        """The image index (an empty one if ``index.json`` does not exist yet)."""
        try:
            data = (self.root / "index.json").read_bytes()
        except FileNotFoundError:
            return Index()
        try:
            return Index.from_json(data)
        except SpecError as exc:
            raise ImageError(f"{self.root / 'index.json'}: {exc}") from None

    def write_index(self, index: Index) -> None:
        """Replace ``index.json`` atomically, under the store's lock."""
        with self.lock():
            write_atomic(self.root / "index.json", index.to_json())

    def update_index(self, change: Callable[[Index], Index]) -> Index:
        """Read, change and write the index under the lock, so concurrent updates all land."""
        with self.lock():
            try:
                data = (self.root / "index.json").read_bytes()
            except FileNotFoundError:
                data = b""
            try:
                current = Index.from_json(data) if data else Index()
            except SpecError as exc:
                raise ImageError(f"{self.root / 'index.json'}: {exc}") from None
            index = change(current)
            new = index.to_json()
            if new != data:  # an update that changes nothing writes nothing
                write_atomic(self.root / "index.json", new)
            return index

    # -- garbage collection -------------------------------------------------------------

    def reachable(self, roots: Iterable[Digest | Descriptor]) -> set[Digest]:
        """Digests reachable from ``roots`` through manifests and indexes."""
        seen: set[Digest] = set()
        todo: list[tuple[Digest, str]] = []
        for r in roots:
            if isinstance(r, Descriptor):
                todo.append((r.digest, r.media_type))
            else:
                todo.append((Digest.parse(r), ""))
        while todo:
            digest, media_type = todo.pop()
            if digest in seen:
                continue
            seen.add(digest)
            if not self.has(digest):
                continue
            for child in self._children(digest, media_type):
                todo.append((child.digest, child.media_type))
        return seen

    def _children(self, digest: Digest, media_type: str) -> list[Descriptor]:
        if media_type and media_type not in MANIFEST_MEDIA_TYPES:
            return []
        if self.blob_path(digest).stat().st_size > 4 << 20:  # manifests are small
            return []
        try:
            obj = json.loads(self.read_bytes(digest))
        except (ValueError, DigestMismatch):
            return []
        if not isinstance(obj, dict):
            return []
        out: list[Descriptor] = []
        refs: list[Any] = [*obj.get("manifests", []), obj.get("config"), *obj.get("layers", [])]
        refs.append(obj.get("subject"))
        for ref in refs:
            if ref is None:
                continue
            try:
                out.append(Descriptor.from_dict(ref))
            except SpecError:
                continue
        return out

    def gc(self, keep: Iterable[Digest | str | Descriptor] = ()) -> list[Digest]:
        """Delete every blob not in ``keep`` nor reachable from ``keep`` or ``index.json``.

        Also removes ingest files left by writers that died. Returns the digests removed.
        Runs under the store's lock, so an index update cannot interleave.
        """
        with self.lock():
            roots: list[Digest | Descriptor] = list(self.read_index().manifests)
            roots += [k if isinstance(k, Descriptor) else Digest.parse(k) for k in keep]
            live = self.reachable(roots)
            removed = []
            for digest in list(self.blobs()):
                if digest not in live:
                    with contextlib.suppress(FileNotFoundError):
                        self.blob_path(digest).unlink()
                    removed.append(digest)
            self._clean_ingest()
        log.info("store.gc", root=str(self.root), removed=len(removed))
        return removed

    def _clean_ingest(self) -> None:
        ingest = self.root / "ingest"
        for name in os.listdir(ingest):
            path = ingest / name
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            else:  # no live writer holds it
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            finally:
                os.close(fd)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
