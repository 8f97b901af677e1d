"""Docker's ``import``: a filesystem tarball becomes a one-layer image."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pycontainers.images._compress import Readable
    from pycontainers.images.config import ImageConfig
    from pycontainers.images.image import Image, ImageStore
    from pycontainers.images.reference import Reference


def import_tar(
    store: ImageStore,
    stream: Readable,
    reference: str | Reference,
    config: ImageConfig | Mapping[str, Any] | None,
    comment: str,
    created_by: str,
) -> Image:
    """See :meth:`ImageStore.import_tar`."""
    from pycontainers.images._commit import gzip_layer
    from pycontainers.images._compress import uncompressed_chunks
    from pycontainers.images.descriptor import MEDIA_TYPE_LAYER_GZIP
    from pycontainers.images.digest import Digest, new_hasher

    diff = new_hasher()
    _, chunks = uncompressed_chunks(stream)
    with store.content.lock():  # no gc between the layer's put and the index update
        layer = store.content.put(
            gzip_layer(_checked_tar(chunks), diff), media_type=MEDIA_TYPE_LAYER_GZIP
        )
        image = store.commit(
            reference, [(layer, Digest.from_hasher(diff))], config=config,
            created_by=created_by or "pycontainers import", comment=comment,
        )  # fmt: skip
    from pycontainers.events import record

    record("image", "import", str(image.id), {"name": str(image.reference)})
    return image


def _checked_tar(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks``, once their first 512-byte block has been seen to be a tar header (or
    the zero block of an empty archive).
    """
    import tarfile

    from pycontainers.images._errors import LayerError

    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 512:
            break
    block = head[:512]
    if block.strip(b"\0"):
        try:
            tarfile.TarInfo.frombuf(block.ljust(512, b"\0"), "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            raise LayerError("the data to import is not a tar archive") from None
    if head:
        yield head
    yield from chunks


__all__ = ["import_tar"]
