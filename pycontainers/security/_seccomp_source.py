"""The text of Docker's default seccomp profile as packaged, read without importing the
compiler (a CLI start whose filter is cached never parses it).
"""

from __future__ import annotations

import functools
import os

DEFAULT_PROFILE = os.path.join(os.path.dirname(__file__), "seccomp_default.json")


@functools.cache
def default_source() -> bytes:
    """The bytes of ``seccomp_default.json`` beside this module (read once per process)."""
    with open(DEFAULT_PROFILE, "rb") as f:
        return f.read()


__all__ = ["DEFAULT_PROFILE", "default_source"]
