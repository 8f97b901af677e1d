"""Pushing an image from an :class:`~pycontainers.images.ImageStore` to a registry.

Each blob (config and layers) is checked with ``HEAD`` first and skipped if the repository
has it; otherwise it is mounted from another repository of the same registry when one is
known to hold it (``mount_from=``, and the image's other names on that registry), else
uploaded — in one ``PUT``, or in ``PATCH`` chunks with ``chunk_size=``. Blobs go up
concurrently; then the manifest is ``PUT`` once per tag, with its exact stored bytes (so the
digest stays the same).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import attrs

from pycontainers._log import get_logger
from pycontainers.images.descriptor import MEDIA_TYPE_MANIFEST, Descriptor
from pycontainers.images.digest import Digest
from pycontainers.images.reference import Reference
from pycontainers.images.registry.client import RegistryClient
from pycontainers.images.registry.progress import Progress, ProgressCallback
from pycontainers.images.registry.pulling import RegistryOptions

if TYPE_CHECKING:
    from pycontainers.images.image import Image, ImageStore

log = get_logger("pycontainers.registry")


@attrs.frozen
class PushResult:
    """What :func:`push` did: the manifest ``digest`` under ``references``, and per blob
    whether it was ``uploaded``, ``mounted`` or already there (``skipped``).
    """

    references: tuple[Reference, ...]
    digest: Digest
    uploaded: tuple[Digest, ...] = ()
    mounted: tuple[Digest, ...] = ()
    skipped: tuple[Digest, ...] = ()


class _Push:
    def __init__(
        self,
        store: ImageStore,
        client: RegistryClient,
        repo: str,
        sources: list[str],
        chunk_size: int | None,
        progress: ProgressCallback | None,
        config: Descriptor,
    ) -> None:
        self.store = store
        self.client = client
        self.repo = repo
        self.sources = sources
        self.chunk_size = chunk_size
        self.progress = progress
        self.config = config
        self.lock = threading.Lock()

    def emit(self, desc: Descriptor, done: int, state: str) -> None:
        if self.progress is not None:
            kind = "config" if desc.digest == self.config.digest else "layer"
            self.progress(Progress(desc.digest, desc.size, done, state, kind))

    def blob(self, desc: Descriptor) -> str:
        """Make sure the repository has ``desc``; returns "skipped", "mounted" or "uploaded"."""
        size = self.client.blob_size(self.repo, desc.digest)
        if size is not None and size in (desc.size, -1):
            self.emit(desc, desc.size, "exists")
            return "skipped"
        for src in self.sources:
            if self.client.mount_blob(self.repo, desc.digest, src):
                log.info("registry.blob_mounted", digest=str(desc.digest), source=src)
                self.emit(desc, desc.size, "mounted")
                return "mounted"
        path = self.store.content.blob_path(desc.digest)
        sent = [0]

        def on_bytes(n: int) -> None:
            sent[0] += n
            self.emit(desc, min(sent[0], desc.size), "uploading")

        self.emit(desc, 0, "uploading")
        try:
            self.client.upload_blob(
                self.repo,
                desc.digest,
                desc.size,
                lambda: open(path, "rb"),  # noqa: SIM115
                chunk_size=self.chunk_size,
                on_bytes=on_bytes,
            )
        except BaseException:
            self.emit(desc, sent[0], "failed")
            raise
        self.emit(desc, desc.size, "done")
        return "uploaded"


class PushOptions(RegistryOptions, total=False):
    """The keywords of :func:`push` (and :meth:`ImageStore.push`): ``tags``,
    ``mount_from``, ``chunk_size`` and :class:`~pycontainers.images.registry.pulling.RegistryOptions`.
    """

    tags: Iterable[str]
    mount_from: Iterable[str]
    chunk_size: int | None


def push(
    store: ImageStore,
    image: Image | str | Reference,
    destination: str | Reference | None = None,
    *,
    tags: Iterable[str] = (),
    mount_from: Iterable[str] = (),
    chunk_size: int | None = None,
    insecure_registries: Iterable[str] = (),
    docker_config: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    concurrency: int = 4,
    retries: int = 5,
    backoff: float = 0.25,
    timeout: float = 60.0,
    client: RegistryClient | None = None,
) -> PushResult:
    """Push ``image`` (an :class:`Image` or a name in ``store``) to ``destination``.

    ``destination`` defaults to the image's own name; ``tags`` adds more tags of the same
    repository. ``mount_from`` names repositories (paths on the destination registry) to
    mount blobs from instead of uploading them. ``chunk_size`` makes uploads chunked.
    The other options are :func:`pull`'s.
    """
    from pycontainers.images.image import Image

    img = image if isinstance(image, Image) else store.get(image)
    dest = Reference.parse(destination) if destination is not None else img.reference
    refs = [dest] if dest.tag or dest.digest is None else []
    refs += [dest.with_tag(t) for t in tags if t != dest.tag]
    data = store.content.read_bytes(img.digest)
    media_type = str(img.manifest.get("mediaType") or MEDIA_TYPE_MANIFEST)
    sources = [s for s in mount_from if s != dest.path]
    for other in store.references(img):
        if other.registry == dest.registry and other.path != dest.path:
            sources.append(other.path)
    sources = list(dict.fromkeys(sources))
    own = client is None
    reg = client or RegistryClient(
        dest.registry,
        docker_config=docker_config,
        insecure_registries=insecure_registries,
        retries=retries,
        backoff=backoff,
        timeout=timeout,
        max_connections=concurrency + 2,
    )
    try:
        job = _Push(store, reg, dest.path, sources, chunk_size, progress, img.config_descriptor)
        blobs = list({d.digest: d for d in (img.config_descriptor, *img.layers)}.values())
        with ThreadPoolExecutor(
            max_workers=max(1, min(concurrency, len(blobs))), thread_name_prefix="pc-push"
        ) as pool:
            outcomes = list(pool.map(job.blob, blobs))
        for r in refs or [dest]:
            reg.put_manifest(dest.path, r.tag or str(img.digest), data, media_type)
    finally:
        if own:
            reg.close()
    by = {
        k: tuple(b.digest for b, o in zip(blobs, outcomes, strict=True) if o == k)
        for k in ("uploaded", "mounted", "skipped")
    }
    log.info(
        "registry.pushed",
        reference=str(dest),
        digest=str(img.digest),
        uploaded=len(by["uploaded"]),
        mounted=len(by["mounted"]),
        skipped=len(by["skipped"]),
    )
    return PushResult(
        tuple(refs or [dest]), img.digest, by["uploaded"], by["mounted"], by["skipped"]
    )


__all__ = ["PushOptions", "PushResult", "push"]
