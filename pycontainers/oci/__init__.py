"""The OCI runtime-spec (v1.2) model: ``config.json`` <-> :class:`~pycontainers.ContainerSpec`.

Every container's stored spec is its ``config.json`` (in its state directory, sealed with a
digest); any OCI tool can read it, and a bundle we write runs under ``runc run``.

>>> from pycontainers.oci import to_config, from_config
>>> doc = to_config(spec)  # doctest: +SKIP
>>> from_config(doc).spec == spec  # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycontainers._lazy import lazy_exports

_EXPORTS = {
    "OCI_VERSION": "pycontainers.oci.config",
    "to_config": "pycontainers.oci.config",
    "seal": "pycontainers.oci.config",
    "OciConfig": "pycontainers.oci.load",
    "OciConfigError": "pycontainers.oci.load",
    "from_config": "pycontainers.oci.load",
    "read_config": "pycontainers.oci.load",
}

if TYPE_CHECKING:
    from pycontainers.oci.config import OCI_VERSION, seal, to_config
    from pycontainers.oci.load import OciConfig, OciConfigError, from_config, read_config

__all__ = [
    "OCI_VERSION",
    "OciConfig",
    "OciConfigError",
    "from_config",
    "read_config",
    "seal",
    "to_config",
]

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
