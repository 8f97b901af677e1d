"""Disk usage of images, containers and volumes (Docker's ``system df``).

Images count their layer blobs once however many images share them; an image is *active*
when a container was made from it, and what only inactive images hold is reclaimable. A
container's size is its writable layer; a volume's, its files.
"""

from __future__ import annotations

import os
from typing import Any

import attrs


def du(path: str) -> int:
    """Bytes of the regular files under ``path`` (0 if it is gone)."""
    total = 0
    for top, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                continue
    return total


@attrs.frozen
class DiskUsage:
    """Rows per kind: ``images`` (``reference``, ``id``, ``created``, ``size``,
    ``shared_size``, ``unique_size``, ``containers``), ``containers`` (``id``, ``name``,
    ``image``, ``command``, ``size``, ``created``, ``status``, ``volumes``), ``volumes``
    (``name``, ``links``, ``size``); ``layers_size`` is the images' distinct blobs.
    """

    images: tuple[dict[str, Any], ...]
    containers: tuple[dict[str, Any], ...]
    volumes: tuple[dict[str, Any], ...]
    layers_size: int
    reclaimable_images: int

    def summary(self) -> list[tuple[str, int, int, int, int]]:
        """(type, total, active, size, reclaimable) rows, as ``system df`` prints them."""
        running = [c for c in self.containers if c["status"] in ("running", "paused")]
        used = [v for v in self.volumes if v["links"]]
        return [
            ("Images", len(self.images), sum(1 for i in self.images if i["containers"]),
             self.layers_size, self.reclaimable_images),
            ("Containers", len(self.containers), len(running),
             sum(c["size"] for c in self.containers),
             sum(c["size"] for c in self.containers if c not in running)),
            ("Local Volumes", len(self.volumes), len(used), sum(v["size"] for v in self.volumes),
             sum(v["size"] for v in self.volumes if not v["links"])),
            ("Build Cache", 0, 0, 0, 0),
        ]  # fmt: skip


def disk_usage(*, state_root: str | None = None, data_root: str | None = None) -> DiskUsage:
    """What images, containers and volumes take on disk now."""
    from pycontainers.fs.shift import default_data_root
    from pycontainers.images import default_store
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.volumes import Volume

    containers = []
    by_image: dict[str, int] = {}
    layer_root = os.path.join(data_root or default_data_root(), "containers")
    for c in Container.list(state_root=state_root):
        try:
            image = c.image
            by_image[image] = by_image.get(image, 0) + 1
            spec = c.spec
            containers.append({
                "id": c.id, "name": c.name, "image": image or c.record.rootfs,
                "command": " ".join(c.record.args), "created": c.record.created,
                "status": str(c.status), "size": du(os.path.join(layer_root, c.id, "upper")),
                "volumes": sum(1 for m in (spec.mounts if spec else ()) if m.type == "volume"),
            })  # fmt: skip
        finally:
            c.close()
    store = default_store(data_root)
    blob_users: dict[str, int] = {}
    blob_size: dict[str, int] = {}
    listed = store.list()
    for img in listed:
        for blob in (img.config_descriptor, *img.layers):
            blob_users[str(blob.digest)] = blob_users.get(str(blob.digest), 0) + 1
            blob_size[str(blob.digest)] = blob.size
    images = []
    active_blobs: set[str] = set()
    for img in listed:
        blobs = [str(b.digest) for b in (img.config_descriptor, *img.layers)]
        users = sum(n for ref, n in by_image.items() if ref and _same(ref, img))
        if users:
            active_blobs.update(blobs)
        unique = sum(blob_size[b] for b in blobs if blob_users[b] == 1)
        images.append({
            "reference": str(img.reference), "id": str(img.id), "created": img.created,
            "size": img.size, "shared_size": img.size - unique, "unique_size": unique,
            "containers": users,
        })  # fmt: skip
    volumes = []
    for v in Volume.list(data_root=data_root):
        volumes.append({"name": v.name, "links": len(v.users(state_root=state_root)),
                        "size": du(v.mountpoint)})  # fmt: skip
    return DiskUsage(
        images=tuple(images),
        containers=tuple(containers),
        volumes=tuple(volumes),
        layers_size=sum(blob_size.values()),
        reclaimable_images=sum(s for b, s in blob_size.items() if b not in active_blobs),
    )


def _same(ref: str, image: Any) -> bool:
    from pycontainers.images.reference import Reference

    try:
        return Reference.parse(ref) == Reference.parse(str(image.reference))
    except Exception:
        return ref == str(image.reference)


__all__ = ["DiskUsage", "disk_usage", "du"]
