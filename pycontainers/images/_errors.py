"""The errors of the images package (all derive from :class:`PyContainersError`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycontainers.errors import PyContainersError

if TYPE_CHECKING:
    from pycontainers.images.digest import Digest


class ImageError(PyContainersError):
    """An image, blob or layer could not be stored, read or unpacked."""


class BlobNotFound(ImageError, LookupError):
    """The content store holds no blob of that digest."""

    def __init__(self, digest: Digest) -> None:
        super().__init__(f"blob {digest} is not in the content store")
        self.digest = digest


class DigestMismatch(ImageError):
    """Content does not match the digest or size it was announced with.

    ``expected`` and ``actual`` are digests (or byte counts when ``what`` is ``"size"``).
    """

    def __init__(self, what: str, expected: object, actual: object, *, source: str = "") -> None:
        where = f" of {source}" if source else ""
        super().__init__(f"{what}{where} mismatch: expected {expected}, got {actual}")
        self.what = what
        self.expected = expected
        self.actual = actual


class LayerError(ImageError):
    """A layer tar is malformed, truncated or unsafe (path traversal) and was refused.

    ``member`` names the tar entry at fault (empty if the fault is not one entry's).
    """

    def __init__(self, message: str, *, member: str = "") -> None:
        super().__init__(f"{member}: {message}" if member else message)
        self.member = member
