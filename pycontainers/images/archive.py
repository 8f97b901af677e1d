"""Loading and saving images: OCI layout directories, OCI archives and ``docker save`` tars.

:func:`load` detects the format: a directory or tar holding ``oci-layout`` and
``index.json`` is read as an OCI image layout (Docker 25+ archives are too); one holding
``manifest.json`` as a docker-archive (legacy ``<id>/layer.tar`` and ``<hex>.json`` names
and the newer ``blobs/sha256/<hex>`` ones alike). Every blob is checked against its digest
and size as it is copied in, under the content store's lock; if anything is wrong, the blobs
copied so far are deleted and the index is left alone, so a bad archive changes nothing.

Names: an entry's ``io.containerd.image.name`` annotation, else its
``org.opencontainers.image.ref.name`` (a full reference, or a bare tag that gets the
``repository`` argument — ``localhost/<file name>`` by default); docker-archive
``RepoTags``. An image without any name is stored as ``<repository>@<digest>``.

:func:`save` writes the same formats; OCI outputs carry both annotations, with
``org.opencontainers.image.ref.name`` the bare tag (as ``skopeo``, ``umoci`` and
``ctr export`` expect) unless two saved images share a tag, then the full reference.
Outputs are written next to ``path`` and renamed into place when complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pycontainers._log import get_logger
from pycontainers.errors import SpecError
from pycontainers.images._archive_write import (
    ANNOTATION_IMAGE_NAME,
    CHUNK,
    DirSink,
    Reported,
    TarSink,
    resolve,
    write_docker,
    write_oci,
)
from pycontainers.images._commit import canonical
from pycontainers.images._compress import detect_compression
from pycontainers.images._errors import DigestMismatch, ImageError
from pycontainers.images.descriptor import (
    MANIFEST_MEDIA_TYPES,
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_LAYER_ZSTD,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    Index,
)
from pycontainers.images.digest import Digest
from pycontainers.images.image import ANNOTATION_REF_NAME, Image, ImageStore
from pycontainers.images.reference import Reference

__all__ = ["ANNOTATION_IMAGE_NAME", "FORMATS", "load", "save"]

log = get_logger("pycontainers.images")

if TYPE_CHECKING:
    from pycontainers.images.registry.progress import ProgressCallback

#: The formats :func:`save` writes.
FORMATS = ("oci-archive", "oci-dir", "docker-archive")
_INDEX_TYPES = frozenset({MEDIA_TYPE_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST})
_DIGEST_NAME = re.compile(r"(?:.*/)?(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json|\.tar)?")


# -- sources ----------------------------------------------------------------------------------


def _clean(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ImageError(f"archive member {name!r} leaves the archive")
    return "/".join(parts)


class _Source:
    """Random access to the files of a layout directory or an archive."""

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ImageError(f"{name} is larger than {limit} bytes")
        return data

    def close(self) -> None:
        pass


class _DirSource(_Source):
    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self, name: str) -> bool:
        return (self.root / _clean(name)).is_file()

    def size(self, name: str) -> int:
        return (self.root / _clean(name)).stat().st_size

    def open(self, name: str) -> IO[bytes]:
        path = self.root / _clean(name)
        if path.is_symlink() and not path.resolve().is_relative_to(self.root.resolve()):
            raise ImageError(f"{name} links outside {self.root}")
        try:
            return open(path, "rb")
        except FileNotFoundError as exc:
            raise ImageError(
                f"{self.root} has no {name}", errno=exc.errno, path=str(path)
            ) from None


class _TarSource(_Source):
    def __init__(self, path: Path) -> None:
        try:
            self.tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by close()
            self.members = {_clean(m.name): m for m in self.tar.getmembers()}
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ImageError(
                f"{path}: not a readable tar archive: {exc}",
                errno=exc.errno if isinstance(exc, OSError) else None,
                path=str(path),
            ) from None
        self.path = path

    def exists(self, name: str) -> bool:
        m = self.members.get(_clean(name))
        return m is not None and not m.isdir()

    def size(self, name: str) -> int:
        m = self.members.get(_clean(name))
        return m.size if m is not None else 0

    def open(self, name: str) -> IO[bytes]:
        m = self.members.get(_clean(name))
        f = None
        if m is not None:
            try:
                f = self.tar.extractfile(m)
            except (tarfile.TarError, KeyError) as exc:
                raise ImageError(f"{self.path}: cannot read {name}: {exc}") from None
        if f is None:
            raise ImageError(f"{self.path} has no file {name}")
        return f

    def close(self) -> None:
        self.tar.close()


def _open_source(path: Path) -> _Source:
    if path.is_dir():
        return _DirSource(path)
    if path.is_file():
        return _TarSource(path)
    raise SpecError("path", f"{path} is neither a directory nor a file")


# -- load -------------------------------------------------------------------------------------


def _default_repository(path: Path) -> str:
    stem = path.name.split(".")[0].lower() or "image"
    stem = re.sub(r"[^a-z0-9]+", "-", stem).strip("-") or "image"
    return f"localhost/{stem}"


class _Loader:
    def __init__(
        self,
        store: ImageStore,
        src: _Source,
        repository: str,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.store = store
        self.content = store.content
        self.src = src
        self.repository = Reference.parse(repository)
        self.added: list[Digest] = []
        self.progress = progress

    def _put(
        self,
        source: IO[bytes] | bytes,
        media_type: str,
        digest: Digest | None,
        size: int | None,
        layer: tuple[Digest, int] | None = None,
    ) -> Descriptor:
        """Store one blob; ``layer`` (the id and size shown) reports a layer's progress."""
        reported = None
        if layer is not None and self.progress is not None and not isinstance(source, bytes):
            source = reported = Reported(source, *layer, "loading", self.progress)  # type: ignore[assignment]
        if digest is not None and self.content.has(digest):
            _check(source, digest, size)  # the archive must be whole even where not needed
            if reported is not None:
                reported.finish("exists")
            return self.content.descriptor(digest, media_type)
        desc = self.content.put(
            source, expected_digest=digest, expected_size=size, media_type=media_type
        )
        self.added.append(desc.digest)
        if reported is not None:
            reported.finish()
        return desc

    def blob(self, desc: Descriptor) -> Descriptor:
        """Copy the blob of ``desc`` from the source into the store (checked)."""
        is_layer = ".layer." in desc.media_type or ".rootfs." in desc.media_type
        layer = (desc.digest, desc.size) if is_layer else None
        with self.src.open(f"blobs/{desc.digest.algorithm}/{desc.digest.encoded}") as f:
            return self._put(f, desc.media_type, desc.digest, desc.size, layer)

    def rollback(self) -> None:
        for digest in self.added:
            self.content.delete(digest)

    def name(self, value: str | None, digest: Digest) -> Reference:
        if not value:
            return self.repository.with_digest(digest)
        if "/" in value or ":" in value or "@" in value:
            return Reference.parse(value)
        return self.repository.with_tag(value)

    # OCI layouts

    def oci(self) -> list[tuple[Reference, Descriptor]]:
        try:
            index = Index.from_json(self.src.read("index.json"))
        except SpecError as exc:
            raise ImageError(f"index.json: {exc}") from None
        out = []
        for desc in index.manifests:
            self._tree(desc)
            name = desc.annotation(ANNOTATION_IMAGE_NAME) or desc.annotation(ANNOTATION_REF_NAME)
            plain = Descriptor(desc.media_type, desc.digest, desc.size, platform=desc.platform)
            out.append((self.name(name, desc.digest), plain))
        return out

    def _tree(self, desc: Descriptor) -> None:
        if desc.media_type not in MANIFEST_MEDIA_TYPES:
            raise ImageError(f"index entry {desc.digest} has media type {desc.media_type}")
        self.blob(desc)
        obj = _json(self.content.read_bytes(desc), f"manifest {desc.digest}")
        if desc.media_type in _INDEX_TYPES:
            children = [Descriptor.from_dict(m) for m in obj.get("manifests") or ()]
            present = [
                c
                for c in children
                if self.content.has(c.digest)
                or self.src.exists(f"blobs/{c.digest.algorithm}/{c.digest.encoded}")
            ]
            if not present:
                raise ImageError(f"index {desc.digest}: none of its manifests is in the archive")
            for child in present:
                self._tree(child)
            return
        for d in [obj.get("config"), *(obj.get("layers") or ())]:
            sub = Descriptor.from_dict(d or {})
            if sub.urls and not self.src.exists(f"blobs/sha256/{sub.digest.encoded}"):
                continue  # a foreign layer, fetched from its URLs
            self.blob(sub)

    # docker-archive

    def docker(self) -> list[tuple[Reference, Descriptor]]:
        entries = json.loads(self.src.read("manifest.json"))
        if not isinstance(entries, list):
            raise ImageError("manifest.json is not a list")
        out = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
                raise ImageError(f"manifest.json: bad entry {entry!r}")
            config = self._named(entry["Config"], MEDIA_TYPE_CONFIG)
            raw = _json(self.content.read_bytes(config), f"config {entry['Config']}")
            diff_ids = [Digest.parse(d) for d in (raw.get("rootfs") or {}).get("diff_ids") or ()]
            names = entry.get("Layers") or []
            if len(names) != len(diff_ids):
                raise ImageError(
                    f"{entry['Config']}: {len(diff_ids)} diff_ids for {len(names)} layers"
                )
            layers = [self._layer(n, d) for n, d in zip(names, diff_ids, strict=True)]
            manifest = {
                "schemaVersion": 2,
                "mediaType": MEDIA_TYPE_MANIFEST,
                "config": config.to_dict(),
                "layers": [layer.to_dict() for layer in layers],
            }
            man = self._put(canonical(manifest), MEDIA_TYPE_MANIFEST, None, None)
            tags = entry.get("RepoTags") or []
            refs = [Reference.parse(t) for t in tags] or [self.name(None, man.digest)]
            out += [(r, man) for r in refs]
        return out

    def _named(
        self, name: str, media_type: str, layer: tuple[Digest, int] | None = None
    ) -> Descriptor:
        m = _DIGEST_NAME.fullmatch(_clean(name))
        digest = Digest("sha256", m.group(1)) if m else None
        with self.src.open(name) as f:
            return self._put(f, media_type, digest, None, layer)

    def _layer(self, name: str, diff_id: Digest) -> Descriptor:
        with self.src.open(name) as f:
            kind = detect_compression(f.read(4))
        shown = (diff_id, self.src.size(name)) if self.progress is not None else None
        if kind == "none":  # a plain tar: its digest is the DiffID
            with self.src.open(name) as f:
                return self._put(f, MEDIA_TYPE_LAYER, diff_id, None, shown)
        media = MEDIA_TYPE_LAYER_GZIP if kind == "gzip" else MEDIA_TYPE_LAYER_ZSTD
        return self._named(name, media, shown)  # DiffID checked when unpacked


def _check(source: IO[bytes] | bytes, digest: Digest, size: int | None) -> None:
    hasher = digest.hasher()
    count = 0
    if isinstance(source, bytes):
        hasher.update(source)
        count = len(source)
    else:
        while chunk := source.read(CHUNK):
            hasher.update(chunk)
            count += len(chunk)
    if size is not None and count != size:
        raise DigestMismatch("size", size, count, source=str(digest))
    if Digest.from_hasher(hasher) != digest:
        raise DigestMismatch("digest", digest, Digest.from_hasher(hasher), source="archive")


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise ImageError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ImageError(f"{what} is not a JSON object")
    return obj


def load(
    store: ImageStore,
    path: str | os.PathLike[str],
    *,
    repository: str | None = None,
    progress: ProgressCallback | None = None,
) -> list[Image]:
    """Import every image of the layout, OCI archive or docker-archive at ``path``.

    Returns the images named by it. Raises :class:`ImageError` (or :class:`DigestMismatch`)
    and leaves ``store`` unchanged when the archive is malformed, truncated or does not
    match its digests. ``progress`` gets a :class:`~pycontainers.images.registry.progress.
    Progress` event (state ``"loading"``, then ``"done"`` or ``"exists"``) as each layer's
    bytes are read.
    """
    p = Path(path)
    src = _open_source(p)
    try:
        loader = _Loader(store, src, repository or _default_repository(p), progress)
        with store.content.lock():
            try:
                if src.exists("oci-layout") and src.exists("index.json"):
                    kind, named = "oci", loader.oci()
                elif src.exists("manifest.json"):
                    kind, named = "docker-archive", loader.docker()
                else:
                    raise ImageError(f"{p}: neither an OCI image layout nor a docker-archive")
                images = [store.image_at(ref, desc) for ref, desc in named]  # validates
            except BaseException:
                loader.rollback()
                raise

            def add(index: Index) -> Index:
                for ref, desc in named:
                    entry = Descriptor(
                        desc.media_type,
                        desc.digest,
                        desc.size,
                        platform=desc.platform,
                        annotations={ANNOTATION_REF_NAME: str(ref)},
                    )
                    index = index.with_manifest(entry, replace_annotation=ANNOTATION_REF_NAME)
                return index

            store.content.update_index(add)
    finally:
        src.close()
    log.info("images.loaded", path=str(p), format=kind, images=len(images))
    return images


# -- save -------------------------------------------------------------------------------------


def save(
    store: ImageStore,
    refs: str | Reference | Image | Iterable[str | Reference | Image],
    path: str | os.PathLike[str],
    *,
    format: str = "oci-archive",
    progress: ProgressCallback | None = None,
) -> None:
    """Write the images ``refs`` to ``path`` as ``oci-archive``, ``oci-dir`` or ``docker-archive``.

    ``path`` is replaced when it is a file, and must be absent or an empty directory for
    ``oci-dir``. Nothing appears at ``path`` unless the whole output was written.
    ``progress`` gets a ``"saving"`` then ``"done"`` event per layer as it is written.
    """
    if format not in FORMATS:
        raise SpecError("format", f"{format!r} is not one of {', '.join(FORMATS)}")
    images = resolve(store, refs)
    target = Path(path).absolute()
    if format == "oci-dir" and target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise SpecError("path", f"{target} exists and is not an empty directory")
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        with store.content.lock():  # no prune while blobs are copied out
            if format == "oci-dir":
                write_oci(store, images, DirSink(tmp), progress)
                out = tmp
            else:
                out = tmp / "archive.tar"
                with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
                    sink = TarSink(tar)
                    if format == "oci-archive":
                        write_oci(store, images, sink, progress)
                    else:
                        write_docker(store, images, sink, progress)
                with open(out, "rb") as f:
                    os.fsync(f.fileno())
        if format == "oci-dir":
            tmp.chmod(0o755)
            with contextlib.suppress(FileNotFoundError):
                target.rmdir()
            os.rename(tmp, target)
        else:
            os.replace(out, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("images.saved", path=str(target), format=format, images=len(images))
