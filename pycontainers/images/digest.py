"""Content digests as the OCI image-spec defines them: ``<algorithm>:<hex>``.

>>> d = Digest.from_bytes(b"hello")
>>> str(d)
'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
>>> Digest.parse(str(d)) == d
True
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import attrs

from pycontainers.errors import SpecError

# Registered algorithms and the length of their lowercase hex encodings (image-spec
# descriptor.md); anything else is refused rather than guessed at.
_ALGORITHMS = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[0-9a-f]+")


def _check_encoded(instance: Digest, attribute: attrs.Attribute[str], value: str) -> None:
    length = _ALGORITHMS.get(instance.algorithm)
    if length is None:
        raise SpecError(
            "digest", f"unsupported algorithm {instance.algorithm!r} (use one of sha256, sha512)"
        )
    if len(value) != length or not _HEX.fullmatch(value):
        raise SpecError(
            "digest",
            f"{instance.algorithm} digest needs {length} lowercase hex digits, got {value!r}",
        )


@attrs.frozen(order=True)
class Digest:
    """A validated content digest, such as ``sha256:<64 lowercase hex digits>``."""

    algorithm: str
    encoded: str = attrs.field(validator=_check_encoded)

    @classmethod
    def parse(cls, value: str | Digest) -> Digest:
        """The digest written as ``value`` (``"sha256:..."``); :class:`SpecError` if invalid."""
        if isinstance(value, Digest):
            return value
        if not isinstance(value, str):
            raise SpecError("digest", f"expected a string like 'sha256:<hex>', got {value!r}")
        algorithm, sep, encoded = value.partition(":")
        if not sep:
            raise SpecError("digest", f"{value!r} has no algorithm prefix (like 'sha256:')")
        return cls(algorithm, encoded)

    @classmethod
    def from_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of ``data``."""
        h = new_hasher(algorithm)
        h.update(data)
        return cls(algorithm, h.hexdigest())

    @classmethod
    def from_hasher(cls, hasher: Any) -> Digest:
        """The digest a finished :func:`new_hasher` object holds."""
        return cls(hasher.name, hasher.hexdigest())

    @property
    def hex(self) -> str:
        """The encoded part (the hex digits), as used for blob file names."""
        return self.encoded

    def hasher(self) -> Any:
        """A fresh hashlib object of this digest's algorithm."""
        return new_hasher(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"


def new_hasher(algorithm: str = "sha256") -> Any:
    """A fresh hashlib object for a registered digest algorithm."""
    if algorithm not in _ALGORITHMS:
        raise SpecError("digest", f"unsupported algorithm {algorithm!r} (use sha256 or sha512)")
    return hashlib.new(algorithm)


def chain_id(diff_ids: list[Digest] | tuple[Digest, ...]) -> Digest:
    """The ChainID of a stack of layers given bottom first by their DiffIDs.

    ``ChainID(L0) = DiffID(L0)`` and ``ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))``
    (image-spec config.md).
    """
    if not diff_ids:
        raise SpecError("diff_ids", "a chain needs at least one layer")
    chain = Digest.parse(diff_ids[0])
    for diff_id in diff_ids[1:]:
        chain = Digest.from_bytes(f"{chain} {Digest.parse(diff_id)}".encode())
    return chain
