"""Naming images in a store: tags, removal by name or ID, and looking an image up by its
ID as Docker does (a full or short hex ID, ``sha256:`` optional). :class:`ImageStore`
has these methods through :class:`Naming`.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import ImageNotFound, SpecError
from pycontainers.images._errors import ImageError
from pycontainers.images.descriptor import Descriptor, Index
from pycontainers.images.digest import Digest
from pycontainers.images.reference import Reference
from pycontainers.images.store import ContentStore

if TYPE_CHECKING:
    from pycontainers.images.image import Image

log = get_logger("pycontainers.images")

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
# An image ID as Docker takes it: hex digits of the config digest, ``sha256:`` optional.
ID = re.compile(r"^(?:sha256:)?([0-9a-f]{1,64})$")


class Naming:
    """The naming half of :class:`~pycontainers.images.image.ImageStore`."""

    root: Path
    content: ContentStore

    if TYPE_CHECKING:

        def _entries(self) -> Iterator[tuple[Reference, Descriptor]]: ...
        def descriptor(self, ref: Reference) -> Descriptor: ...  # noqa: D102
        def get(self, ref: str | Reference) -> Image: ...  # noqa: D102
        def list(self) -> builtins.list[Image]: ...  # noqa: D102

    def by_id(self, image_id: str) -> Image:
        """The image whose ID (its config's digest) is ``image_id`` or starts with it
        (``sha256:`` optional); named by its first reference. :class:`ImageNotFound` if no
        image matches, :class:`ImageError` naming the candidates if several do.
        """
        match = ID.match(image_id)
        if match is None:
            raise ImageNotFound(f"{image_id!r} is not an image ID (hex digits, sha256: optional)")
        prefix = "sha256:" + match.group(1)
        found: dict[Digest, Image] = {}
        for image in self.list():  # sorted by reference: the first name of each ID wins
            if str(image.id).startswith(prefix):
                found.setdefault(image.id, image)
        if not found:
            raise ImageNotFound(f"no image with ID {image_id} in {self.root}")
        if len(found) > 1:
            ids = ", ".join(sorted(str(d)[7:19] for d in found))
            raise ImageError(f"image ID prefix {image_id} is ambiguous: it matches {ids}")
        return next(iter(found.values()))

    def references(self, image: Image | Digest | str) -> builtins.list[Reference]:
        """Every reference in the store naming the manifest of ``image`` (a digest or image)."""
        from pycontainers.images.image import Image

        digest = image.digest if isinstance(image, Image) else Digest.parse(image)
        return sorted((r for r, d in self._entries() if d.digest == digest), key=str)

    def name_descriptor(self, desc: Descriptor, ref: Reference) -> None:
        """Name ``desc`` ``ref`` in the store's index (moving that name if it was taken)."""
        named = attrs.evolve(
            desc, annotations={**dict(desc.annotations), ANNOTATION_REF_NAME: str(ref)}
        )
        self.content.update_index(
            lambda index: index.with_manifest(named, replace_annotation=ANNOTATION_REF_NAME)
        )

    def tag(self, image: Image | str | Reference, new_ref: str | Reference) -> Image:
        """Name the image ``image`` (or the image named so) also ``new_ref``; moves that tag."""
        target = Reference.parse(new_ref)
        with self.content.lock():
            from pycontainers.images.image import Image

            src = image if isinstance(image, Image) else self.get(image)
            desc = self.descriptor(src.reference)
            self.name_descriptor(
                Descriptor(desc.media_type, desc.digest, desc.size, platform=desc.platform), target
            )
        log.info("image.tagged", reference=str(target), digest=str(src.digest))
        from pycontainers.events import record

        record("image", "tag", str(src.id), {"name": target.familiar})
        return self.get(target)

    def untag(self, ref: str | Reference) -> None:
        """Remove the name ``ref``; :class:`ImageNotFound` if no image has it."""
        r = Reference.parse(ref)

        def drop(index: Index) -> Index:
            kept = tuple(m for m in index.manifests if m.annotation(ANNOTATION_REF_NAME) != str(r))
            if len(kept) == len(index.manifests):
                raise ImageNotFound(f"no image {r} in {self.root}")
            return attrs.evolve(index, manifests=kept)

        self.content.update_index(drop)
        log.info("image.untagged", reference=str(r))
        from pycontainers.events import record

        record("image", "untag", str(r), {"name": r.familiar})

    def remove(self, ref: str | Reference, *, force: bool = False) -> builtins.list[Reference]:
        """Remove the image named ``ref`` (its name; content stays until :meth:`prune`);
        returns the names removed.

        A ``repo@digest`` reference without a tag removes every name of that repository
        pinned to the digest. An image ID (see :meth:`get`) removes the image's only name;
        an image with several names needs ``force`` (then every name goes), as in Docker.
        """
        if isinstance(ref, str) and ID.match(ref):
            try:
                self.descriptor(Reference.parse(ref))
            except (ImageNotFound, SpecError):  # not a name: an ID
                image = self.by_id(ref)
                named = self.references(image)
                if len(named) > 1 and not force:
                    raise ImageError(
                        f"unable to delete {str(image.id)[7:19]} (must be forced): the image "
                        f"is named {', '.join(n.familiar for n in named)}"
                    ) from None
                for name in named:
                    self.untag(name)
                _deleted(str(image.id), named)
                return named
        r = Reference.parse(ref)
        if r.tag or r.digest is None:
            self.untag(r)
            _deleted(str(r), [r])
            return [r]
        names = [
            str(n)
            for n, d in self._entries()
            if n.repository == r.repository and d.digest == r.digest
        ]
        if not names:
            raise ImageNotFound(f"no image {r} in {self.root}")
        self.content.update_index(
            lambda index: attrs.evolve(
                index,
                manifests=tuple(
                    m for m in index.manifests if m.annotation(ANNOTATION_REF_NAME) not in names
                ),
            )
        )
        _deleted(str(r), [Reference.parse(n) for n in names])
        return [Reference.parse(n) for n in names]


def _deleted(actor: str, names: builtins.list[Reference]) -> None:
    """The journal's ``delete`` event of an image removed under ``names``."""
    from pycontainers.events import record

    record("image", "delete", actor, {"name": ", ".join(n.familiar for n in names)})


__all__ = ["ANNOTATION_REF_NAME", "ID", "Naming"]
