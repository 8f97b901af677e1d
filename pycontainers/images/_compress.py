"""Layer compression: detect gzip or zstd by magic bytes and stream the uncompressed tar.

Both decoders insist on a complete stream: a gzip member or zstd frame cut short raises
:class:`LayerError` rather than passing for a shorter layer. Output is bounded per step, so
a highly compressed layer cannot balloon memory.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Generator, Iterator
from typing import Any, Protocol

from pycontainers.images._errors import LayerError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
READ_SIZE = 1 << 20
_OUT_MAX = 4 << 20  # at most this many uncompressed bytes per step


class Readable(Protocol):
    """A binary stream: a file, a socket's makefile, a :class:`BlobReader`..."""

    def read(self, size: int = -1, /) -> bytes | None:
        """Up to ``size`` bytes; empty at the end."""


def detect_compression(head: bytes) -> str:
    """``"gzip"``, ``"zstd"`` or ``"none"`` for a stream starting with ``head``."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def _raw_chunks(stream: Readable, first: bytes) -> Iterator[bytes]:
    if first:
        yield first
    while chunk := stream.read(READ_SIZE):
        yield bytes(chunk)


def _gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    d = zlib.decompressobj(31)
    started = False
    for chunk in chunks:
        data = chunk
        while data:
            if d.eof:  # another member follows, or padding after the last one
                if not data.strip(b"\0"):
                    break
                d = zlib.decompressobj(31)
            try:
                out = d.decompress(data, _OUT_MAX)
            except zlib.error as exc:
                raise LayerError(f"corrupt gzip data: {exc}") from None
            started = True
            data = d.unused_data if d.eof else d.unconsumed_tail
            if out:
                yield out
    if started and not d.eof:
        raise LayerError("the layer is truncated: the gzip stream ends before its end marker")


def _unzstd(chunks: Iterator[bytes]) -> Iterator[bytes]:
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    d: Any = dctx.decompressobj()
    started = False
    # Input fed per call: small at first, since zstd has no output limit per call and one
    # 4-byte RLE block can stand for 128 KiB; it grows while the ratio is ordinary.
    step = 256
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            if d.eof:  # another frame follows, or padding after the last one
                if not bytes(view).strip(b"\0"):
                    break
                d = dctx.decompressobj()
            piece, view = view[:step], view[step:]
            try:
                out = d.decompress(piece)
            except zstandard.ZstdError as exc:
                raise LayerError(f"corrupt zstd data: {exc}") from None
            started = True
            if d.eof and d.unused_data:
                view = memoryview(d.unused_data + bytes(view))
            if len(out) > _OUT_MAX and step > 64:
                step = max(64, step // 4)
            elif len(out) < _OUT_MAX // 8 and step < READ_SIZE:
                step *= 2
            if out:
                yield out
    if started and not d.eof:
        raise LayerError("the layer is truncated: the zstd stream ends inside a frame")


def uncompressed_chunks(stream: Readable, hasher: Any = None) -> tuple[str, Iterator[bytes]]:
    """The compression of ``stream`` and an iterator of its uncompressed bytes.

    Every chunk is fed to ``hasher`` (a hashlib object) before it is yielded, so once the
    iterator is exhausted the hasher holds the layer's DiffID.
    """
    head = b""
    while len(head) < 4 and (more := stream.read(4 - len(head))):
        head += more
    kind = detect_compression(head)
    raw = _raw_chunks(stream, head)
    if kind == "gzip":
        chunks = _gunzip(raw)
    elif kind == "zstd":
        chunks = _unzstd(raw)
    else:
        chunks = raw
    if hasher is None:
        return kind, chunks
    return kind, _hashed(chunks, hasher)


def _hashed(chunks: Iterator[bytes], hasher: Any) -> Iterator[bytes]:
    update = hasher.update
    for chunk in chunks:
        update(chunk)
        yield chunk


_DONE = object()


def prefetched(chunks: Iterator[bytes], depth: int = 8) -> Generator[bytes, None, None]:
    """``chunks`` produced by a helper thread, ``depth`` chunks ahead of the consumer.

    zlib, zstd and hashlib release the GIL, so decompressing and hashing in the helper
    overlaps with the consumer's writes. Closing the returned generator early stops the
    helper; an exception in the helper is raised in the consumer.
    """
    import queue
    import threading

    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer
            put(exc)

    thread = threading.Thread(target=produce, name="pycontainers-layer-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
        thread.join()
