"""OCI images on disk: digests, the content store (an image layout), layers and snapshots.

>>> from pycontainers.images import ContentStore, SnapshotStore
>>> store = ContentStore("/var/lib/pycontainers/content")  # doctest: +SKIP
>>> desc = store.put(open("layer.tar.gz", "rb"), media_type=MEDIA_TYPE_LAYER_GZIP)  # doctest: +SKIP
>>> snap = SnapshotStore("/var/lib/pycontainers/snapshots").unpack(store.open(desc))  # doctest: +SKIP
"""

from __future__ import annotations

from pycontainers.images._errors import BlobNotFound, DigestMismatch, ImageError, LayerError
from pycontainers.images.archive import ANNOTATION_IMAGE_NAME, FORMATS, load, save
from pycontainers.images.config import ImageConfig
from pycontainers.images.descriptor import (
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_LAYER_ZSTD,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    Index,
    Platform,
)
from pycontainers.images.digest import Digest, chain_id
from pycontainers.images.image import ANNOTATION_REF_NAME, Image, ImageStore, Pruned, host_platform
from pycontainers.images.layers import AppliedLayer, apply_layer, detect_compression, flatten
from pycontainers.images.reference import Reference
from pycontainers.images.snapshots import Snapshot, SnapshotStore
from pycontainers.images.store import BlobReader, ContentStore

__all__ = [
    "ANNOTATION_IMAGE_NAME",
    "ANNOTATION_REF_NAME",
    "FORMATS",
    "MEDIA_TYPE_CONFIG",
    "MEDIA_TYPE_INDEX",
    "MEDIA_TYPE_LAYER",
    "MEDIA_TYPE_LAYER_GZIP",
    "MEDIA_TYPE_LAYER_ZSTD",
    "MEDIA_TYPE_MANIFEST",
    "AppliedLayer",
    "BlobNotFound",
    "BlobReader",
    "ContentStore",
    "Descriptor",
    "Digest",
    "DigestMismatch",
    "Image",
    "ImageConfig",
    "ImageError",
    "ImageStore",
    "Index",
    "LayerError",
    "Platform",
    "Pruned",
    "Reference",
    "Snapshot",
    "SnapshotStore",
    "apply_layer",
    "chain_id",
    "default_store",
    "detect_compression",
    "flatten",
    "host_platform",
    "load",
    "save",
]


def default_store(root: str | None = None) -> ImageStore:
    """The image store under the data root (``--root``, else ``$PYCONTAINERS_ROOT``, else
    /var/lib/pycontainers for root): ``<root>/images``.
    """
    import os

    from pycontainers.paths import default_data_root

    return ImageStore(os.path.join(root or default_data_root(), "images"))
