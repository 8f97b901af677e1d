"""The errors of the registry client, defined with the rest of the tree in :mod:`pycontainers.errors`.

A digest or size mismatch of fetched content raises the images package's
:class:`~pycontainers.images.DigestMismatch`, the same error a damaged archive raises.
"""

from __future__ import annotations

from pycontainers.errors import (
    Forbidden,
    ManifestUnknown,
    NoMatchingPlatform,
    RegistryError,
    RegistryNotFound,
    RegistryUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)

__all__ = [
    "Forbidden",
    "ManifestUnknown",
    "NoMatchingPlatform",
    "RegistryError",
    "RegistryNotFound",
    "RegistryUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
]
