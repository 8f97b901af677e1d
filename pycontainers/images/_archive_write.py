"""Writing images out for :func:`pycontainers.images.archive.save`: the sinks (a directory, a
tar) and the two layouts (an OCI image layout, a ``docker save`` archive), and the stream
wrapper that reports a layer's progress (loading uses it too).
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from pycontainers.errors import SpecError
from pycontainers.images._compress import uncompressed_chunks
from pycontainers.images._errors import DigestMismatch
from pycontainers.images.descriptor import Descriptor, Index
from pycontainers.images.digest import Digest, new_hasher
from pycontainers.images.image import ANNOTATION_REF_NAME, Image, ImageStore
from pycontainers.images.reference import Reference

if TYPE_CHECKING:
    from pycontainers.images.registry.progress import ProgressCallback

#: containerd's annotation for the full reference of an exported image.
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
CHUNK = 1 << 20
"""The copy buffer of blobs, in bytes."""


class Reported:
    """A layer's stream that reports the bytes read so far to a progress callback (only
    made when there is one: the plain path reads the file itself).
    """

    def __init__(
        self, f: IO[bytes], digest: Digest, total: int, state: str, report: ProgressCallback
    ) -> None:
        from pycontainers.images.registry.progress import Progress

        self._f, self._digest, self._total, self._state = f, digest, total, state
        self._report, self._event, self.done = report, Progress, 0
        report(Progress(digest, total, 0, state))

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.done += len(data)
        if data:
            self._report(self._event(self._digest, self._total, self.done, self._state))
        return data

    def finish(self, state: str = "done") -> None:
        """Report the layer complete (``"done"``) or already there (``"exists"``)."""
        self._report(self._event(self._digest, self._total, self._total, state))


class Sink:
    def add(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def add_stream(self, name: str, size: int, stream: IO[bytes]) -> None:
        raise NotImplementedError


class DirSink(Sink):
    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def add_stream(self, name: str, size: int, stream: IO[bytes]) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            shutil.copyfileobj(stream, out, CHUNK)


class TarSink(Sink):
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.dirs: set[str] = set()

    def _parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                info = tarfile.TarInfo(d)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                self.tar.addfile(info)

    def add(self, name: str, data: bytes) -> None:
        import io

        self.add_stream(name, len(data), io.BytesIO(data))

    def add_stream(self, name: str, size: int, stream: IO[bytes]) -> None:
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.size, info.mode = size, 0o644
        self.tar.addfile(info, stream)


def resolve(
    store: ImageStore, refs: str | Reference | Image | Iterable[str | Reference | Image]
) -> list[Image]:
    items = [refs] if isinstance(refs, (str, Reference, Image)) else list(refs)
    if not items:
        raise SpecError("refs", "name at least one image to save")
    return [i if isinstance(i, Image) else store.get(i) for i in items]


def write_oci(
    store: ImageStore,
    images: list[Image],
    sink: Sink,
    progress: ProgressCallback | None = None,
) -> None:
    layers = {layer.digest for img in images for layer in img.layers}
    tags = [img.reference.tag for img in images if img.reference.tag]
    written: set[Digest] = set()
    entries = []
    for img in images:
        desc = store.descriptor(img.reference)
        for digest in sorted(store.content.reachable([desc])):
            if digest in written or not store.content.has(digest):
                continue
            written.add(digest)
            with store.content.open(digest) as f:
                size = store.content.blob_path(digest).stat().st_size
                name = f"blobs/{digest.algorithm}/{digest.encoded}"
                if progress is None or digest not in layers:
                    sink.add_stream(name, size, f)  # type: ignore[arg-type]
                    continue
                reported = Reported(f, digest, size, "saving", progress)  # type: ignore[arg-type]
                sink.add_stream(name, size, reported)  # type: ignore[arg-type]
                reported.finish()
        ref = img.reference
        short = ref.tag if ref.tag and tags.count(ref.tag) == 1 else str(ref)
        entries.append(
            Descriptor(
                desc.media_type,
                desc.digest,
                desc.size,
                platform=desc.platform,
                annotations={ANNOTATION_REF_NAME: short, ANNOTATION_IMAGE_NAME: str(ref)},
            )
        )
    sink.add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    sink.add("index.json", Index(manifests=tuple(entries)).to_json())


def write_docker(
    store: ImageStore,
    images: list[Image],
    sink: Sink,
    progress: ProgressCallback | None = None,
) -> None:
    by_digest: dict[Digest, list[Image]] = {}
    for img in images:
        by_digest.setdefault(img.digest, []).append(img)
    entries = []
    written: set[str] = set()
    for group in by_digest.values():
        img = group[0]
        config_name = f"{img.id.encoded}.json"
        if config_name not in written:
            sink.add(config_name, store.content.read_bytes(img.config_descriptor))
            written.add(config_name)
        names = []
        for layer, diff_id in zip(img.layers, img.diff_ids, strict=True):
            name = f"{diff_id.encoded}/layer.tar"
            names.append(name)
            if name not in written:
                docker_layer(store, layer, diff_id, name, sink, progress)
                written.add(name)
        entries.append(
            {
                "Config": config_name,
                "RepoTags": [i.reference.familiar for i in group if i.reference.tag],
                "Layers": names,
            }
        )
    sink.add("manifest.json", json.dumps(entries).encode())


def docker_layer(
    store: ImageStore,
    layer: Descriptor,
    diff_id: Digest,
    name: str,
    sink: Sink,
    progress: ProgressCallback | None = None,
) -> None:
    """Write ``layer`` uncompressed (docker-archive layers are plain tars), checking its DiffID."""
    with store.content.open(layer) as reader, tempfile.TemporaryFile() as tmp:
        hasher = new_hasher(diff_id.algorithm)
        _, chunks = uncompressed_chunks(reader, hasher)
        for chunk in chunks:
            tmp.write(chunk)
        if Digest.from_hasher(hasher) != diff_id:
            raise DigestMismatch(
                "diff_id", diff_id, Digest.from_hasher(hasher), source=str(layer.digest)
            )
        size = tmp.tell()
        tmp.seek(0)
        if progress is None:
            sink.add_stream(name, size, tmp)
            return
        reported = Reported(tmp, diff_id, size, "saving", progress)
        sink.add_stream(name, size, reported)  # type: ignore[arg-type]
        reported.finish()
