"""Registries: pull and push images over the OCI distribution API, log in and out.

>>> from pycontainers.images.registry import pull, push, login
>>> img = pull(store, "127.0.0.1:5000/busybox:latest")  # doctest: +SKIP
>>> push(store, img, "127.0.0.1:5000/mirror/busybox:1", tags=["latest"])  # doctest: +SKIP

Modules: :mod:`.client` (one registry's API), :mod:`.auth` (``config.json``, Basic and
Bearer), :mod:`.manifests` (media types, platforms), :mod:`.pulling`, :mod:`.pushing` and
:mod:`.progress`. httpx is imported only when a registry is contacted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycontainers._lazy import lazy_exports
from pycontainers.images.registry._errors import (
    Forbidden,
    ManifestUnknown,
    NoMatchingPlatform,
    RegistryError,
    RegistryNotFound,
    RegistryUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from pycontainers.images.registry._http import is_insecure
from pycontainers.images.registry.auth import Credentials, load_credentials, login, logout
from pycontainers.images.registry.manifests import parse_platform
from pycontainers.images.registry.progress import (
    LineProgress,
    Progress,
    ProgressCallback,
    TerminalProgress,
    progress_for,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.12

    from pycontainers.images.image import Image, ImageStore
    from pycontainers.images.registry.client import RegistryClient
    from pycontainers.images.registry.pulling import PullOptions, pull
    from pycontainers.images.registry.pushing import PushResult, push

__all__ = [
    "Credentials",
    "Forbidden",
    "LineProgress",
    "ManifestUnknown",
    "NoMatchingPlatform",
    "Progress",
    "ProgressCallback",
    "PushResult",
    "RegistryClient",
    "RegistryError",
    "RegistryNotFound",
    "RegistryUnavailable",
    "TerminalProgress",
    "Unauthorized",
    "UnsupportedMediaType",
    "ensure_image",
    "is_insecure",
    "load_credentials",
    "login",
    "logout",
    "parse_platform",
    "progress_for",
    "pull",
    "push",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "RegistryClient": "pycontainers.images.registry.client",
        "pull": "pycontainers.images.registry.pulling",
        "push": "pycontainers.images.registry.pushing",
        "PushResult": "pycontainers.images.registry.pushing",
    },
)


def ensure_image(store: ImageStore, reference: str, **options: Unpack[PullOptions]) -> Image:
    """The image ``reference`` from ``store``, pulled first if the store lacks it.

    The keywords (:class:`~pycontainers.images.registry.pulling.PullOptions`) go to
    :func:`pull` when it pulls: ``platform``, ``insecure_registries``, ``docker_config``,
    ``progress``, ``concurrency``, ``retries``, ``backoff``, ``timeout`` and ``client``.
    """
    from pycontainers.errors import ImageNotFound
    from pycontainers.images.registry.pulling import pull

    try:
        return store.get(reference)
    except ImageNotFound:
        pass
    return pull(store, reference, **options)
