"""Manifest media types, parsing and platform selection for pulls.

The registry serves four kinds of manifests: the OCI image manifest and index, and Docker's
schema 2 manifest and manifest list (schema 1 is refused). :func:`parse_manifest` checks an
image manifest's config and layer media types; :func:`select_platform` picks the entry of an
index for a platform such as ``linux/arm64/v8`` (variants are normalized the way
containerd does: ``arm64`` means ``arm64/v8``, ``arm`` means ``arm/v7``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from pycontainers.errors import SpecError
from pycontainers.images.descriptor import (
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_DOCKER_LAYER,
    MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_LAYER_ZSTD,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    Platform,
)
from pycontainers.images.registry._errors import NoMatchingPlatform, UnsupportedMediaType

MEDIA_TYPE_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_TYPE_DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
MEDIA_TYPE_DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_MEDIA_TYPES = frozenset({MEDIA_TYPE_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_MEDIA_TYPES = frozenset({MEDIA_TYPE_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST})
CONFIG_MEDIA_TYPES = frozenset({MEDIA_TYPE_CONFIG, MEDIA_TYPE_DOCKER_CONFIG})
LAYER_MEDIA_TYPES = frozenset(
    {
        MEDIA_TYPE_LAYER,
        MEDIA_TYPE_LAYER_GZIP,
        MEDIA_TYPE_LAYER_ZSTD,
        MEDIA_TYPE_DOCKER_LAYER,
        MEDIA_TYPE_DOCKER_FOREIGN_LAYER,
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)
#: The ``Accept`` header of a manifest request, most wanted first.
ACCEPT = ", ".join(
    [
        MEDIA_TYPE_INDEX,
        MEDIA_TYPE_MANIFEST,
        MEDIA_TYPE_DOCKER_MANIFEST_LIST,
        MEDIA_TYPE_DOCKER_MANIFEST,
    ]
)
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm"}


def parse_platform(value: str | Platform) -> Platform:
    """Parse ``os/arch[/variant]`` (``linux/amd64``, ``linux/arm64/v8``) into a :class:`Platform`."""
    if isinstance(value, Platform):
        return value
    if not isinstance(value, str):
        raise SpecError("platform", f"expected 'os/arch[/variant]', got {value!r}")
    parts = value.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise SpecError("platform", f"expected 'os/arch[/variant]', got {value!r}")
    arch = _ARCH_ALIASES.get(parts[1], parts[1])
    return Platform(architecture=arch, os=parts[0], variant=parts[2] if len(parts) == 3 else "")


def format_platform(p: Platform) -> str:
    """``os/arch[/variant]``."""
    return "/".join(x for x in (p.os, p.architecture, p.variant) if x)


def _norm(p: Platform) -> tuple[str, str, str]:
    return (p.os, p.architecture, p.variant or _DEFAULT_VARIANT.get(p.architecture, ""))


def select_platform(index: Mapping[str, Any], platform: Platform) -> Descriptor:
    """The entry of ``index`` (a parsed index or manifest list) for ``platform``.

    An exact match (variants normalized) wins; without a requested variant the first entry of
    the same os and architecture does. :class:`NoMatchingPlatform` names what is available.
    """
    entries = []
    for raw in index.get("manifests") or ():
        try:
            desc = Descriptor.from_dict(raw)
        except SpecError:
            continue
        if desc.platform is not None and desc.media_type in IMAGE_MANIFEST_MEDIA_TYPES:
            entries.append(desc)
    want = _norm(platform)
    for d in entries:
        assert d.platform is not None
        if _norm(d.platform) == want:
            return d
    if not platform.variant:
        for d in entries:
            assert d.platform is not None
            if (d.platform.os, d.platform.architecture) == want[:2]:
                return d
    have = ", ".join(format_platform(d.platform) for d in entries if d.platform) or "none"
    raise NoMatchingPlatform(
        f"no manifest for {format_platform(platform)} in the image index (it has: {have})"
    )


def media_type_of(data: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """The media type and parsed JSON of a manifest, from its ``Content-Type`` or its body."""
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise UnsupportedMediaType(f"the manifest is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise UnsupportedMediaType("the manifest is not a JSON object")
    declared = obj.get("mediaType")
    ctype = content_type.split(";", 1)[0].strip()
    media = declared if isinstance(declared, str) and declared else ctype
    if media in (MEDIA_TYPE_DOCKER_SCHEMA1, MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED) or (
        obj.get("schemaVersion") == 1
    ):
        raise UnsupportedMediaType(
            "Docker schema 1 manifests are not supported (re-push the image with a current tool)"
        )
    if media not in INDEX_MEDIA_TYPES | IMAGE_MANIFEST_MEDIA_TYPES:
        if "manifests" in obj:
            media = MEDIA_TYPE_INDEX
        elif "config" in obj and "layers" in obj:
            media = MEDIA_TYPE_MANIFEST
        else:
            raise UnsupportedMediaType(f"unsupported manifest media type {media or ctype!r}")
    return media, obj


@attrs.frozen
class ImageManifest:
    """The parts of an image manifest a pull needs."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


def parse_manifest(obj: Mapping[str, Any], media_type: str) -> ImageManifest:
    """Check an image manifest's config and layer media types and return its descriptors."""
    try:
        config = Descriptor.from_dict(obj.get("config") or {})
        layers = tuple(Descriptor.from_dict(d) for d in obj.get("layers") or ())
    except SpecError as exc:
        raise UnsupportedMediaType(f"malformed manifest: {exc}") from None
    if config.media_type not in CONFIG_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"config media type {config.media_type!r} is not a container image config "
            "(an OCI artifact?)"
        )
    for layer in layers:
        if layer.media_type not in LAYER_MEDIA_TYPES:
            raise UnsupportedMediaType(f"layer {layer.digest} has media type {layer.media_type!r}")
    return ImageManifest(media_type, config, layers)


__all__ = [
    "ACCEPT",
    "CONFIG_MEDIA_TYPES",
    "IMAGE_MANIFEST_MEDIA_TYPES",
    "INDEX_MEDIA_TYPES",
    "LAYER_MEDIA_TYPES",
    "MEDIA_TYPE_DOCKER_CONFIG",
    "ImageManifest",
    "format_platform",
    "media_type_of",
    "parse_manifest",
    "parse_platform",
    "select_platform",
]
