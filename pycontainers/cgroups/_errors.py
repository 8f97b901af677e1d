"""The errors of the cgroups package, defined with the rest of the tree in :mod:`pycontainers.errors`."""

from __future__ import annotations

from pycontainers.errors import CgroupError, CgroupNotSupported

__all__ = ["CgroupError", "CgroupNotSupported"]
