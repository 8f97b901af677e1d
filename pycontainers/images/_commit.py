"""Writing images into an :class:`~pycontainers.images.image.ImageStore`: a config and
manifest over stored layers (:meth:`ImageStore.commit`), a directory as a new gzip layer
(:meth:`ImageStore.commit_directory`), and the canonical JSON and reproducible gzip they use.
"""

from __future__ import annotations

import datetime
import json
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import SpecError
from pycontainers.images.config import ImageConfig
from pycontainers.images.descriptor import (
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
)
from pycontainers.images.digest import Digest, new_hasher
from pycontainers.images.image import host_platform
from pycontainers.images.reference import Reference

if TYPE_CHECKING:
    from pycontainers.images.image import Image, ImageStore

log = get_logger("pycontainers.images")


def commit(
    store: ImageStore,
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
    """See :meth:`ImageStore.commit`."""
    ref = Reference.parse(reference)
    when = (created or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    stamp = when.isoformat().replace("+00:00", "Z")
    plat = base.platform if base is not None else host_platform()
    history = list(base.raw_config.get("history") or []) if base is not None else []
    entry = {"created": stamp, "created_by": created_by}
    entry.update({k: v for k, v in (("author", author), ("comment", comment)) if v})
    history += [dict(entry) for _ in layers]
    diff_ids = [*(base.diff_ids if base else ()), *(d for _, d in layers)]
    raw: dict[str, Any] = {"created": stamp, "architecture": plat.architecture, "os": plat.os}
    if plat.variant:
        raw["variant"] = plat.variant
    if author:
        raw["author"] = author
    if isinstance(config, Mapping):
        raw["config"] = dict(config)
    elif config is not None:
        raw["config"] = config.to_oci()
    elif base is not None:  # all of it (Healthcheck, OnBuild... too)
        raw["config"] = dict(base.raw_config.get("config") or {})
    else:
        raw["config"] = ImageConfig().to_oci()
    raw["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in diff_ids]}
    raw["history"] = history
    with store.content.lock():
        cfg_desc = store.content.put(canonical(raw), media_type=MEDIA_TYPE_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_MANIFEST,
            "config": cfg_desc.to_dict(),
            "layers": [
                *(b.to_dict() for b in (base.layers if base else ())),
                *(d.to_dict() for d, _ in layers),
            ],
        }
        man_desc = store.content.put(canonical(manifest), media_type=MEDIA_TYPE_MANIFEST)
        store.name_descriptor(attrs.evolve(man_desc, platform=plat), ref)
    log.info("image.committed", reference=str(ref), digest=str(man_desc.digest))
    return store.get(ref)


def commit_directory(
    store: ImageStore,
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
    """See :meth:`ImageStore.commit_directory`."""
    from pycontainers.fs.overlay import upper_diff

    src = Path(directory)
    if not src.is_dir():
        raise SpecError("directory", f"{src} is not a directory")
    diff = new_hasher()
    with store.content.lock():  # no gc between the layer's put and the index update
        layer = store.content.put(
            gzip_layer(upper_diff(src, userxattr=False), diff), media_type=MEDIA_TYPE_LAYER_GZIP
        )
        return commit(
            store,
            reference,
            [(layer, Digest.from_hasher(diff))],
            config=config,
            base=base,
            created=created,
            created_by=created_by,
            author=author,
            comment=comment,
        )


def canonical(obj: Any) -> bytes:
    """``obj`` as compact JSON with sorted keys (what digests of configs and manifests are of)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def gzip_layer(chunks: Iterable[bytes], diff_hasher: Any) -> Iterator[bytes]:
    """Gzip ``chunks`` reproducibly (mtime 0), feeding the uncompressed bytes to ``diff_hasher``."""
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip framing, mtime 0: reproducible
    for chunk in chunks:
        diff_hasher.update(chunk)
        out = comp.compress(chunk)
        if out:
            yield out
    yield comp.flush()
