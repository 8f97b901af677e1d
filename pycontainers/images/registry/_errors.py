"""The errors of the registry client (all derive from :class:`PyContainersError`).

A digest or size mismatch of fetched content raises the images package's
:class:`~pycontainers.images.DigestMismatch`, the same error a damaged archive raises.
"""

from __future__ import annotations

from pycontainers.errors import PyContainersError


class RegistryError(PyContainersError):
    """A registry refused or failed a request; ``status`` is the HTTP status (0 if none)."""

    def __init__(self, message: str, *, status: int = 0, url: str = "", code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.code = code


class Unauthorized(RegistryError):
    """401: credentials are missing or wrong (``pycontainers login`` stores them)."""


class Forbidden(RegistryError):
    """403: the credentials are valid but do not allow this operation."""


class RegistryNotFound(RegistryError, LookupError):
    """404: the repository or blob does not exist in the registry."""


class ManifestUnknown(RegistryNotFound):
    """The registry has no manifest for that tag or digest."""


class UnsupportedMediaType(RegistryError):
    """The manifest, config or a layer has a media type pycontainers cannot use."""


class NoMatchingPlatform(RegistryError, LookupError):
    """An image index has no manifest for the requested platform."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached or kept failing (5xx) after every retry."""


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
