"""SHA-256 for the start path, without OpenSSL's start-up.

``import hashlib`` loads and initialises libcrypto, ~3 ms of every container start, which
hashes a few kilobytes (the stored config's seal, the seccomp cache's key and check).
CPython's own SHA-256 (``_sha2`` from 3.12, ``_sha256`` before) gives the same digests; where
neither exists, :mod:`hashlib`'s is used.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing is not imported for this
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_impl: list[Callable[[bytes], Any]] = []


def _sha256() -> Callable[[bytes], Any]:
    if not _impl:
        for name in ("_sha2", "_sha256"):
            try:
                _impl.append(importlib.import_module(name).sha256)
                break
            except (ImportError, AttributeError):
                continue
        else:
            import hashlib

            _impl.append(hashlib.sha256)
    return _impl[0]


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data``, in hex (as ``hashlib.sha256(data).hexdigest()``)."""
    return str(_sha256()(data).hexdigest())


__all__ = ["sha256_hex"]
