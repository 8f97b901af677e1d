"""The errors of the images package, defined with the rest of the tree in :mod:`pycontainers.errors`."""

from __future__ import annotations

from pycontainers.errors import BlobNotFound, DigestMismatch, ImageError, LayerError

__all__ = ["BlobNotFound", "DigestMismatch", "ImageError", "LayerError"]
