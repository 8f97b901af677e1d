"""OCI descriptors, platforms and the image index, as frozen values with a JSON round trip.

``to_dict()`` gives the image-spec's JSON object (camelCase keys, empty fields left out) and
``from_dict()`` reads one back, validating as it goes: a bad field raises :class:`SpecError`
naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pycontainers.errors import SpecError
from pycontainers.images.digest import Digest

MEDIA_TYPE_OCTET_STREAM = "application/octet-stream"
MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TYPE_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TYPE_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_TYPE_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_TYPE_DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_TYPE_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

#: Media types whose blobs list further descriptors (followed by the store's garbage collector).
MANIFEST_MEDIA_TYPES = frozenset(
    {
        MEDIA_TYPE_INDEX,
        MEDIA_TYPE_MANIFEST,
        MEDIA_TYPE_DOCKER_MANIFEST,
        MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    }
)

# RFC 6838 restricted names, as the image-spec's media type grammar uses them.
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)

Annotations = tuple[tuple[str, str], ...]


def _media_type(value: str) -> str:
    if not isinstance(value, str) or not _MEDIA_TYPE.fullmatch(value):
        raise SpecError("mediaType", f"{value!r} is not a media type like 'type/subtype'")
    return value


def _annotations(value: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> Annotations:
    items = value.items() if isinstance(value, Mapping) else (value or ())
    out = []
    for key, val in items:
        if not isinstance(key, str) or not isinstance(val, str):
            raise SpecError("annotations", f"keys and values must be strings, got {key!r}: {val!r}")
        out.append((key, val))
    return tuple(sorted(out))


def _strings(field: str, value: Iterable[str] | None) -> tuple[str, ...]:
    if isinstance(value, str):
        raise SpecError(field, f"expected a list of strings, got {value!r}")
    out = tuple(value or ())
    if not all(isinstance(v, str) for v in out):
        raise SpecError(field, f"expected a list of strings, got {out!r}")
    return out


def _os_features(value: Iterable[str] | None) -> tuple[str, ...]:
    return _strings("os.features", value)


def _features(value: Iterable[str] | None) -> tuple[str, ...]:
    return _strings("features", value)


def _urls(value: Iterable[str] | None) -> tuple[str, ...]:
    return _strings("urls", value)


def _digest(value: Digest | str) -> Digest:
    return Digest.parse(value)


def _descriptors(value: Iterable[Descriptor]) -> tuple[Descriptor, ...]:
    out = tuple(value)
    for d in out:
        if not isinstance(d, Descriptor):
            raise SpecError("manifests", f"expected descriptors, got {d!r}")
    return out


def _size(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError("size", f"must be a non-negative integer, got {value!r}")
    return value


@attrs.frozen
class Platform:
    """The platform an image runs on (``architecture`` and ``os`` as Go names them)."""

    architecture: str
    os: str
    os_version: str = ""
    os_features: tuple[str, ...] = attrs.field(default=(), converter=_os_features)
    variant: str = ""
    features: tuple[str, ...] = attrs.field(default=(), converter=_features)

    def to_dict(self) -> dict[str, Any]:
        """The image-spec JSON object."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        if self.features:
            out["features"] = list(self.features)
        return out

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Platform:
        """Read the image-spec JSON object ``obj``."""
        _need_mapping("platform", obj)
        for key in ("architecture", "os"):
            if not isinstance(obj.get(key), str):
                raise SpecError(f"platform.{key}", f"must be a string, got {obj.get(key)!r}")
        return cls(
            architecture=obj["architecture"],
            os=obj["os"],
            os_version=str(obj.get("os.version", "")),
            os_features=obj.get("os.features", ()),
            variant=str(obj.get("variant", "")),
            features=obj.get("features", ()),
        )


@attrs.frozen
class Descriptor:
    """A typed reference to content: media type, digest and size (image-spec descriptor.md)."""

    media_type: str = attrs.field(converter=_media_type)
    digest: Digest = attrs.field(converter=_digest)
    size: int = attrs.field(converter=_size)
    annotations: Annotations = attrs.field(default=(), converter=_annotations)
    platform: Platform | None = None
    urls: tuple[str, ...] = attrs.field(default=(), converter=_urls)
    artifact_type: str = ""

    def annotation(self, key: str, default: str | None = None) -> str | None:
        """The annotation ``key``, or ``default``."""
        return dict(self.annotations).get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """The image-spec JSON object."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_dict()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Descriptor:
        """Read the image-spec JSON object ``obj``."""
        _need_mapping("descriptor", obj)
        for key in ("mediaType", "digest", "size"):
            if key not in obj:
                raise SpecError(key, "a descriptor needs mediaType, digest and size")
        platform = obj.get("platform")
        return cls(
            media_type=obj["mediaType"],
            digest=obj["digest"],
            size=obj["size"],
            annotations=_json_annotations(obj),
            platform=Platform.from_dict(platform) if platform is not None else None,
            urls=obj.get("urls", ()),
            artifact_type=str(obj.get("artifactType", "")),
        )


@attrs.frozen
class Index:
    """The image index (``index.json`` of an image layout): manifests it points to."""

    manifests: tuple[Descriptor, ...] = attrs.field(default=(), converter=_descriptors)
    annotations: Annotations = attrs.field(default=(), converter=_annotations)
    media_type: str = MEDIA_TYPE_INDEX

    def to_dict(self) -> dict[str, Any]:
        """The image-spec JSON object (``schemaVersion`` 2)."""
        out: dict[str, Any] = {"schemaVersion": 2}
        if self.media_type:
            out["mediaType"] = self.media_type
        out["manifests"] = [m.to_dict() for m in self.manifests]
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    def to_json(self) -> bytes:
        """The canonical bytes written to ``index.json``."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False).encode() + b"\n"

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Index:
        """Read the image-spec JSON object ``obj``."""
        _need_mapping("index", obj)
        if obj.get("schemaVersion") != 2:
            raise SpecError("schemaVersion", f"must be 2, got {obj.get('schemaVersion')!r}")
        manifests = obj.get("manifests", [])
        if not isinstance(manifests, list):
            raise SpecError("manifests", f"must be a list, got {manifests!r}")
        return cls(
            manifests=tuple(Descriptor.from_dict(m) for m in manifests),
            annotations=_json_annotations(obj),
            media_type=str(obj.get("mediaType", "")),
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Index:
        """Parse ``index.json`` bytes."""
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise SpecError("index", f"not valid JSON: {exc}") from None
        return cls.from_dict(obj)

    def with_manifest(self, descriptor: Descriptor, *, replace_annotation: str = "") -> Index:
        """A copy with ``descriptor`` added (an equal one is not added twice).

        With ``replace_annotation`` (for example ``org.opencontainers.image.ref.name``) an
        existing manifest carrying the same value of that annotation is replaced: that is how
        a tag moves to a new image.
        """
        key = descriptor.annotation(replace_annotation) if replace_annotation else None
        same = [
            m for m in self.manifests if key is not None and m.annotation(replace_annotation) == key
        ]
        if descriptor in self.manifests and all(m == descriptor for m in same):
            return self  # already there: the index (and its order) stays as it is
        kept = [
            m
            for m in self.manifests
            if m != descriptor and (key is None or m.annotation(replace_annotation) != key)
        ]
        return attrs.evolve(self, manifests=(*kept, descriptor))


def _need_mapping(field: str, obj: object) -> None:
    if not isinstance(obj, Mapping):
        raise SpecError(field, f"expected a JSON object, got {obj!r}")


def _json_annotations(obj: Mapping[str, Any]) -> Annotations:
    value = obj.get("annotations") or {}
    if not isinstance(value, Mapping):
        raise SpecError("annotations", f"expected a JSON object, got {value!r}")
    return _annotations(value)
