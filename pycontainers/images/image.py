"""Images: OCI manifests named in the content store's ``index.json``, and their snapshots.

An :class:`ImageStore` keeps an OCI image layout at ``root/content`` and unpacked layers at
``root/snapshots``. Each tag is one ``index.json`` entry whose
``org.opencontainers.image.ref.name`` annotation is the full reference
(``docker.io/library/busybox:latest``). Removing a tag leaves the blobs and snapshots until
:meth:`ImageStore.prune`.

>>> store = ImageStore("/var/lib/pycontainers/images")  # doctest: +SKIP
>>> img = store.import_rootfs("rootfs/", "busybox", config=ImageConfig(cmd=("sh",)))  # doctest: +SKIP
>>> OverlayFS.mount(target, store.snapshots_for(img), upper=..., work=...)  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import datetime
import json
import os
import platform as _platform
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import ImageNotFound, SpecError
from pycontainers.images._errors import BlobNotFound, ImageError
from pycontainers.images.config import ImageConfig
from pycontainers.images.descriptor import (
    MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    Index,
    Platform,
)
from pycontainers.images.digest import Digest, chain_id
from pycontainers.images.naming import ANNOTATION_REF_NAME, ID, Naming
from pycontainers.images.reference import Reference
from pycontainers.images.snapshots import SnapshotStore
from pycontainers.images.store import ContentStore

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pycontainers.images._compress import Readable
    from pycontainers.images.registry.progress import ProgressCallback
    from pycontainers.images.registry.pulling import PullOptions
    from pycontainers.images.registry.pushing import PushOptions, PushResult

__all__ = ["ANNOTATION_REF_NAME", "Image", "ImageStore", "Pruned", "host_platform"]

log = get_logger("pycontainers.images")

_INDEX_TYPES = frozenset({MEDIA_TYPE_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST})
_MANIFEST_TYPES = frozenset({MEDIA_TYPE_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST})

# platform.machine() -> (GOARCH, variant)
_GOARCH = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
    "mips64": ("mips64", ""),
    "loongarch64": ("loong64", ""),
}


def host_platform() -> Platform:
    """The platform of this machine, with Go's architecture names (``linux``/``amd64``...)."""
    machine = _platform.machine()
    arch, variant = _GOARCH.get(machine, (machine, ""))
    return Platform(architecture=arch, os="linux", variant=variant)


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise ImageError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ImageError(f"{what} is not a JSON object")
    return obj


@attrs.frozen(eq=False)
class Image:
    """An image in an :class:`ImageStore`: a manifest, its config and its layers.

    Equal images have the same reference and manifest digest. ``size`` is the stored
    (compressed) size of the config and the layers.
    """

    reference: Reference
    digest: Digest
    manifest: Mapping[str, Any] = attrs.field(repr=False)
    raw_config: Mapping[str, Any] = attrs.field(repr=False)
    config_descriptor: Descriptor = attrs.field(repr=False)
    layers: tuple[Descriptor, ...] = attrs.field(repr=False)
    diff_ids: tuple[Digest, ...] = attrs.field(repr=False)
    config: ImageConfig = attrs.field(repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Image):
            return NotImplemented
        return (self.reference, self.digest) == (other.reference, other.digest)

    def __hash__(self) -> int:
        return hash((self.reference, self.digest))

    @classmethod
    def from_rootfs(
        cls,
        directory: str | os.PathLike[str],
        reference: str | None = None,
        *,
        config: ImageConfig | None = None,
        store: ImageStore | None = None,
    ) -> Image:
        """Make a one-layer image of ``directory`` in ``store`` (the default store under the
        data root if not given), named ``reference`` (default ``localhost/<dir name>``).
        """
        from pycontainers.images import default_store

        name = reference or f"localhost/{Path(directory).resolve().name.lower()}:latest"
        return (store or default_store()).import_rootfs(directory, name, config=config)

    @classmethod
    def build(
        cls,
        context: str | os.PathLike[str],
        *,
        tag: str | Sequence[str] | None = None,
        dockerfile: str | os.PathLike[str] | None = None,
        build_args: Mapping[str, str] | None = None,
        target: str | None = None,
        no_cache: bool = False,
        secrets: Mapping[str, str] | None = None,
        progress: str = "quiet",
        store: ImageStore | None = None,
    ) -> Image:
        """Build the Dockerfile of ``context`` into ``store`` (see :func:`pycontainers.build`)."""
        from pycontainers.builder import build

        return build(
            context, tag=tag, dockerfile=dockerfile, build_args=build_args, target=target,
            no_cache=no_cache, secrets=secrets, progress=progress, store=store,
        )  # fmt: skip

    @classmethod
    def pull(
        cls, reference: str, *, store: ImageStore | None = None, **options: Unpack[PullOptions]
    ) -> Image:
        """Pull ``reference`` into ``store`` (default: the data root's), as :meth:`ImageStore.pull`:
        ``platform``, ``insecure_registries``, ``docker_config``, ``progress``,
        ``concurrency``, ``retries``, ``backoff``, ``timeout``, ``client``.
        """
        from pycontainers.images import default_store

        return (store or default_store()).pull(reference, **options)

    @property
    def id(self) -> Digest:
        """The config digest (Docker's image ID)."""
        return self.config_descriptor.digest

    @property
    def size(self) -> int:
        """Bytes of the config and layer blobs."""
        return self.config_descriptor.size + sum(layer.size for layer in self.layers)

    @property
    def platform(self) -> Platform:
        """The config's ``os``/``architecture`` (and ``variant``)."""
        return Platform(
            architecture=str(self.raw_config.get("architecture", "")),
            os=str(self.raw_config.get("os", "")),
            variant=str(self.raw_config.get("variant", "")),
        )

    @property
    def chain_ids(self) -> tuple[Digest, ...]:
        """The chain ID of each layer stack, bottom first (snapshot keys)."""
        return tuple(chain_id(self.diff_ids[: i + 1]) for i in range(len(self.diff_ids)))

    @property
    def created(self) -> str:
        """The config's ``created`` timestamp (RFC 3339), or ``""``."""
        return str(self.raw_config.get("created") or "")

    def __repr__(self) -> str:
        return (
            f"<Image {self.reference.familiar} {self.digest.encoded[:12]} "
            f"{self.platform.os}/{self.platform.architecture}, {len(self.layers)} layers, "
            f"{_human(self.size)}>"
        )

    def _repr_html_(self) -> str:
        """Reference, config and layers as HTML (for notebooks)."""
        from pycontainers._views import repr_html

        return repr_html(self)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


@attrs.frozen
class Pruned:
    """What :meth:`ImageStore.prune` removed."""

    blobs: tuple[Digest, ...]
    snapshots: tuple[Digest, ...]


class ImageStore(Naming):
    """Images under ``root``: a content store (``content/``) and snapshots (``snapshots/``)."""

    def __init__(self, root: str | os.PathLike[str], *, userxattr: bool = False) -> None:
        self.root = Path(root).absolute()
        self.content = ContentStore(self.root / "content")
        self.snapshots = SnapshotStore(self.root / "snapshots", userxattr=userxattr)

    def __repr__(self) -> str:
        return f"ImageStore({str(self.root)!r})"

    # -- reading ----------------------------------------------------------------------------

    def _entries(self) -> Iterator[tuple[Reference, Descriptor]]:
        for desc in self.content.read_index().manifests:
            name = desc.annotation(ANNOTATION_REF_NAME)
            if not name:
                continue
            try:
                yield Reference.parse(name), desc
            except SpecError:
                log.warning("image.bad_ref_name", ref_name=name)

    def descriptor(self, ref: Reference) -> Descriptor:
        """The descriptor (manifest or index) the store names ``ref``; :class:`ImageNotFound`
        if none (``repo@digest`` also matches any tag of that repository pinned to it).
        """
        for r, desc in self._entries():
            if r == ref:
                return desc
        if ref.digest is not None:  # repo@digest: any tag of that repository pinned to it
            for r, desc in self._entries():
                if r.repository == ref.repository and desc.digest == ref.digest:
                    return desc
        raise ImageNotFound(
            f"no image {ref} in {self.root} (load one with 'pycontainers load -i FILE')"
        )

    def get(self, ref: str | Reference) -> Image:
        """The image named ``ref``, or else (as Docker) the one whose ID is ``ref``: a full or
        short image ID, with or without ``sha256:`` (see :meth:`by_id`); :class:`ImageNotFound`
        if the store has neither.
        """
        try:
            r = Reference.parse(ref)
        except SpecError:
            if isinstance(ref, str) and ID.match(ref):
                return self.by_id(ref)
            raise
        try:
            return self.image_at(r, self.descriptor(r))
        except ImageNotFound:
            if isinstance(ref, str) and ID.match(ref):
                return self.by_id(ref)
            raise

    def image_at(self, ref: Reference, desc: Descriptor) -> Image:
        """The image ``desc`` describes (this platform's, for an index), named ``ref``; its
        manifest and config are read and validated.
        """
        if desc.media_type in _INDEX_TYPES:
            desc = self._pick_platform(desc)
        raw = self.content.read_bytes(desc)
        manifest = _json_object(raw, f"manifest {desc.digest}")
        try:
            config_desc = Descriptor.from_dict(manifest.get("config") or {})
            layers = tuple(Descriptor.from_dict(d) for d in manifest.get("layers") or ())
        except SpecError as exc:
            raise ImageError(f"manifest {desc.digest}: {exc}") from None
        raw_config = _json_object(
            self.content.read_bytes(config_desc), f"config {config_desc.digest}"
        )
        rootfs = raw_config.get("rootfs") or {}
        try:
            diff_ids = tuple(Digest.parse(d) for d in rootfs.get("diff_ids") or ())
            config = ImageConfig.from_oci(raw_config.get("config"))
        except SpecError as exc:
            raise ImageError(f"config {config_desc.digest}: {exc}") from None
        if len(diff_ids) != len(layers):
            raise ImageError(
                f"config {config_desc.digest} lists {len(diff_ids)} diff_ids "
                f"for {len(layers)} layers"
            )
        return Image(
            reference=ref,
            digest=desc.digest,
            manifest=manifest,
            raw_config=raw_config,
            config_descriptor=config_desc,
            layers=layers,
            diff_ids=diff_ids,
            config=config,
        )

    def _pick_platform(self, desc: Descriptor) -> Descriptor:
        index = Index.from_json(self.content.read_bytes(desc))
        host = host_platform()
        candidates = [
            m
            for m in index.manifests
            if m.media_type in _MANIFEST_TYPES and self.content.has(m.digest)
        ]
        for m in candidates:
            p = m.platform
            if (
                p is not None
                and (p.os, p.architecture) == (host.os, host.architecture)
                and (not host.variant or not p.variant or p.variant == host.variant)
            ):
                return m
        if len(candidates) == 1 and candidates[0].platform is None:
            return candidates[0]
        raise ImageNotFound(
            f"index {desc.digest} has no manifest for {host.os}/{host.architecture}"
        )

    def list(self) -> builtins.list[Image]:
        """Every tagged image, sorted by reference (entries whose blobs are missing skipped)."""
        out = []
        for ref, desc in self._entries():
            try:
                out.append(self.image_at(ref, desc))
            except (BlobNotFound, ImageNotFound, ImageError) as exc:
                log.warning("image.unreadable", reference=str(ref), error=str(exc))
        return sorted(out, key=lambda i: str(i.reference))

    def inspect(self, ref: str | Reference) -> dict[str, Any]:
        """A ``docker image inspect``-like dict of the image named ``ref``."""
        img = self.get(ref)
        refs = self.references(img)
        return {
            "Id": str(img.id),
            "RepoTags": [r.familiar for r in refs if r.tag],
            "RepoDigests": sorted({f"{r.familiar_repository}@{img.digest}" for r in refs}),
            "Reference": str(img.reference),
            "Digest": str(img.digest),
            "Created": img.created,
            "Architecture": img.platform.architecture,
            "Os": img.platform.os,
            "Variant": img.platform.variant,
            "Config": dict(img.raw_config.get("config") or {}),
            "RootFS": {"Type": "layers", "Layers": [str(d) for d in img.diff_ids]},
            "Layers": [layer.to_dict() for layer in img.layers],
            "History": list(img.raw_config.get("history") or []),
            "Size": img.size,
        }

    def prune(self, keep: Iterable[Digest | str] = ()) -> Pruned:
        """Delete blobs no tagged image reaches and snapshots no tagged image uses.

        ``keep`` names extra chain IDs (snapshots in use by containers) and blob digests.
        """
        extra = [Digest.parse(k) for k in keep]
        with self.content.lock():
            live_chains = set(extra)
            for img in self.list():
                live_chains.update(img.chain_ids)
            blobs = self.content.gc(keep=[d for d in extra if self.content.has(d)])
            removed = []
            for snap in list(self.snapshots.snapshots()):
                if snap.chain_id not in live_chains and self.snapshots.remove(snap.chain_id):
                    removed.append(snap.chain_id)
            self.snapshots.clean()
        log.info("images.pruned", blobs=len(blobs), snapshots=len(removed))
        return Pruned(tuple(blobs), tuple(removed))

    # -- snapshots --------------------------------------------------------------------------

    def snapshots_for(self, image: Image | str | Reference) -> builtins.list[str]:
        """Unpack the layers of ``image`` that are not snapshots yet (checking each DiffID)
        and return the snapshot trees topmost first, as :meth:`OverlayFS.mount` wants lowers.
        """
        img = image if isinstance(image, Image) else self.get(image)
        if not img.layers:
            return []
        with self.content.lock():  # prune cannot run in between
            parent: Digest | None = None
            for layer, diff_id in zip(img.layers, img.diff_ids, strict=True):
                with self.content.open(layer) as reader:
                    snap = self.snapshots.unpack(reader, parent=parent, expected_diff_id=diff_id)
                parent = snap.chain_id
            assert parent is not None
            return [str(p) for p in self.snapshots.lowers(parent)]

    # -- writing ----------------------------------------------------------------------------

    def commit(
        self,
        reference: str | Reference,
        layers: Sequence[tuple[Descriptor, Digest]],
        *,
        config: ImageConfig | Mapping[str, Any] | None = None,
        base: Image | None = None,
        created: datetime.datetime | None = None,
        created_by: str = "",
        author: str = "",
        comment: str = "",
    ) -> Image:
        """Write a config and manifest for ``layers`` (stored blobs and their DiffIDs).

        The new layers go on top of ``base`` (its whole config too, unless ``config`` is
        given: an :class:`ImageConfig` or the raw ``config`` object, kept as is); the image
        is tagged ``reference``; ``author`` and ``comment`` as ``docker commit -a/-m``
        record them. Hold ``self.content.lock()`` around the puts of the layers and this
        call so that a concurrent prune cannot drop them.
        """
        from pycontainers.images._commit import commit

        return commit(
            self,
            reference,
            layers,
            config=config,
            base=base,
            created=created,
            created_by=created_by,
            author=author,
            comment=comment,
        )

    def import_rootfs(
        self,
        directory: str | os.PathLike[str],
        reference: str | Reference,
        *,
        config: ImageConfig | None = None,
        created: datetime.datetime | None = None,
    ) -> Image:
        """Make a one-layer image (tar+gzip) of ``directory`` and tag it ``reference``."""
        return self.commit_directory(
            directory,
            reference,
            config=config,
            created=created,
            created_by=f"pycontainers import_rootfs {Path(directory).name}",
        )

    def commit_directory(
        self,
        directory: str | os.PathLike[str],
        reference: str | Reference,
        *,
        base: Image | None = None,
        config: ImageConfig | Mapping[str, Any] | None = None,
        created: datetime.datetime | None = None,
        created_by: str = "",
        author: str = "",
        comment: str = "",
    ) -> Image:
        """Add ``directory`` as one layer (tar+gzip) on top of ``base`` and tag the result
        (``config``, ``author``, ``comment``: as :meth:`commit` takes them).

        The directory may be an overlay upper dir: its whiteouts (0/0 character devices) and
        opaque directories become OCI whiteouts, so a container's changes commit as is.
        """
        from pycontainers.images._commit import commit_directory

        return commit_directory(
            self,
            directory,
            reference,
            base=base,
            config=config,
            created=created,
            created_by=created_by,
            author=author,
            comment=comment,
        )

    def import_tar(
        self,
        stream: Readable,
        reference: str | Reference,
        *,
        config: ImageConfig | Mapping[str, Any] | None = None,
        comment: str = "",
        created_by: str = "",
    ) -> Image:
        """Make a one-layer image of a filesystem tarball (Docker's ``import``): a binary
        ``stream`` of the tar, plain or compressed (gzip, zstd: detected), tagged
        ``reference``; ``config`` and ``comment`` as :meth:`commit` takes them. Data that is
        not a tar archive is a :class:`LayerError`.
        """
        from pycontainers.images.importing import import_tar

        return import_tar(self, stream, reference, config, comment, created_by)

    def pull(self, reference: str | Reference, **options: Unpack[PullOptions]) -> Image:
        """Pull from a registry (:func:`~pycontainers.images.registry.pulling.pull`): ``platform``,
        ``insecure_registries``, ``docker_config``, ``progress``, ``concurrency``,
        ``retries``, ``backoff``, ``timeout``, ``client``.
        """
        from pycontainers.events import record
        from pycontainers.images.registry.pulling import pull

        image = pull(self, reference, **options)
        record("image", "pull", str(image.reference), {"name": str(image.reference)})
        return image

    def push(
        self,
        image: Image | str | Reference,
        destination: str | None = None,
        **options: Unpack[PushOptions],
    ) -> PushResult:
        """Push to a registry (:func:`~pycontainers.images.registry.pushing.push`): ``tags``,
        ``mount_from``, ``chunk_size``, ``insecure_registries``, ``docker_config``,
        ``progress``, ``concurrency``, ``retries``, ``backoff``, ``timeout``, ``client``.
        """
        from pycontainers.images.registry.pushing import push

        return push(self, image, destination, **options)

    # -- archives ---------------------------------------------------------------------------

    def load(
        self,
        path: str | os.PathLike[str],
        *,
        repository: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> builtins.list[Image]:
        """Import an OCI layout directory, an OCI archive or a ``docker save`` archive
        (``progress``: per-layer events, as :meth:`pull` gives).

        See :func:`pycontainers.images.archive.load`.
        """
        from pycontainers.images.archive import load

        return load(self, path, repository=repository, progress=progress)

    def save(
        self,
        refs: str | Reference | Image | Iterable[str | Reference | Image],
        path: str | os.PathLike[str],
        *,
        format: str = "oci-archive",
        progress: ProgressCallback | None = None,
    ) -> None:
        """Export images as ``oci-archive``, ``oci-dir`` or ``docker-archive``
        (``progress``: per-layer events).

        See :func:`pycontainers.images.archive.save`.
        """
        from pycontainers.images.archive import save

        save(self, refs, path, format=format, progress=progress)
