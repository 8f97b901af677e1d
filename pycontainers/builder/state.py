"""A stage's state while it is built — its image config, layers, history, build args and
cache key — and how states become images and cache entries in the image store.

Only steps that make a layer (RUN, COPY, ADD, a WORKDIR that creates its directory) are
cached: each is one small manifest in the store's ``index.json``, without a name, carrying
the step's key in the annotation :data:`CACHE_KEY`, so the store's garbage collector keeps
its layer. Metadata steps are recomputed (they cost nothing); a stage's final image is
written once, with the keys of its layer steps in the annotation :data:`CACHE_KEYS` so
that ``--cache-from`` that image can reuse them.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pycontainers.images import Image, ImageStore, Reference
from pycontainers.images.descriptor import (
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    Platform,
)
from pycontainers.images.digest import Digest, chain_id

__all__ = ["CACHE_KEY", "CACHE_KEYS", "CacheEntry", "CacheIndex", "StageState", "step_key"]

CACHE_KEY = "io.pycontainers.build.cache-key"
CACHE_KEYS = "io.pycontainers.build.cache-keys"
_CREATED = "io.pycontainers.build.created"
_EMPTY_CONFIG = b"{}"
_MEDIA_TYPE_EMPTY = "application/vnd.oci.empty.v1+json"


def step_key(parent: str, *parts: object) -> str:
    """A step's cache key: its parent's key and what the step depends on."""
    h = hashlib.sha256(parent.encode())
    h.update(json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode())
    return "sha256:" + h.hexdigest()


def now_stamp(epoch: int | None) -> str:
    """RFC 3339 time of ``epoch`` (``SOURCE_DATE_EPOCH``) or of now."""
    when = (
        datetime.datetime.fromtimestamp(epoch, datetime.UTC)
        if epoch is not None
        else datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    )
    return when.isoformat().replace("+00:00", "Z")


@attrs.define
class StageState:
    """The image a stage has built so far, and what its later steps see."""

    raw: dict[str, Any]
    layers: list[tuple[Descriptor, Digest]]
    key: str
    args: dict[str, str] = attrs.field(factory=dict)
    created: str = ""
    layer_keys: list[tuple[str, int]] = attrs.field(factory=list)
    cmd_set: bool = False

    @classmethod
    def scratch(cls, platform: Platform, key: str) -> StageState:
        """The empty state of ``FROM scratch``."""
        raw: dict[str, Any] = {"architecture": platform.architecture, "os": platform.os}
        if platform.variant:
            raw["variant"] = platform.variant
        raw["config"] = {}
        raw["rootfs"] = {"type": "layers", "diff_ids": []}
        raw["history"] = []
        return cls(raw=raw, layers=[], key=key)

    @classmethod
    def of_image(cls, image: Image, key: str) -> StageState:
        """The state of ``FROM image``: its config, history and layers."""
        raw = copy.deepcopy(dict(image.raw_config))
        raw.setdefault("config", {})
        raw["config"] = dict(raw["config"] or {})
        raw.setdefault("history", [])
        raw.setdefault("rootfs", {"type": "layers", "diff_ids": [str(d) for d in image.diff_ids]})
        raw.pop(CACHE_KEYS, None)
        state = cls(raw=raw, layers=list(zip(image.layers, image.diff_ids, strict=True)), key=key)
        state.created = str(raw.get("created") or "")
        keys = _image_keys(image)
        state.layer_keys = [(k, i) for k, i in keys if i < len(state.layers)]
        return state

    @property
    def config(self) -> dict[str, Any]:
        """The runtime config (``Env``, ``Cmd``, ``WorkingDir``... ``Healthcheck``, ``Shell``)."""
        cfg: dict[str, Any] = self.raw["config"]
        return cfg

    @property
    def env(self) -> dict[str, str]:
        """The config's ``Env`` as a dict."""
        return dict(e.partition("=")[::2] for e in self.config.get("Env") or [])

    def set_env(self, name: str, value: str) -> None:
        """Set one variable of ``Env`` (in place, keeping the order)."""
        env = list(self.config.get("Env") or [])
        for i, e in enumerate(env):
            if e.partition("=")[0] == name:
                env[i] = f"{name}={value}"
                break
        else:
            env.append(f"{name}={value}")
        self.config["Env"] = env

    def expansion_env(self) -> dict[str, str]:
        """What ``$VAR`` sees: the build args in scope, overridden by ``Env``."""
        return {**self.args, **self.env}

    @property
    def platform(self) -> Platform:
        """The image's os/architecture."""
        return Platform(
            architecture=str(self.raw.get("architecture", "")),
            os=str(self.raw.get("os", "")),
            variant=str(self.raw.get("variant", "")),
        )

    def add_history(self, created_by: str, *, empty_layer: bool, created: str) -> None:
        """Record one step in the config's history (Docker's ``created_by``)."""
        entry: dict[str, Any] = {"created": created, "created_by": created_by,
                                 "comment": "buildkit.dockerfile.v0"}  # fmt: skip
        if empty_layer:
            entry["empty_layer"] = True
        self.raw["history"].append(entry)
        self.created = created

    def add_layer(self, layer: tuple[Descriptor, Digest], key: str) -> None:
        """Put a layer on top (its key remembered for ``--cache-from``)."""
        self.layers.append(layer)
        self.raw["rootfs"]["diff_ids"].append(str(layer[1]))
        self.layer_keys.append((key, len(self.layers) - 1))

    def chain_ids(self) -> list[Digest]:
        """The chain ID of each layer stack, bottom first."""
        diffs = [d for _, d in self.layers]
        return [chain_id(diffs[: i + 1]) for i in range(len(diffs))]

    def write(self, store: ImageStore, *, annotations: Mapping[str, str] | None = None,
              labels: Mapping[str, str] | None = None) -> Descriptor:  # fmt: skip
        """Write config and manifest blobs; the manifest's descriptor (not named)."""
        raw = copy.deepcopy(self.raw)
        if labels:
            raw["config"]["Labels"] = {**(raw["config"].get("Labels") or {}), **labels}
        raw["created"] = self.created or raw.get("created") or now_stamp(None)
        raw["config"] = {k: v for k, v in raw["config"].items() if v not in (None, [], {}, "")}
        cfg_desc = store.content.put(_canonical(raw), media_type=MEDIA_TYPE_CONFIG)
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_MANIFEST,
            "config": cfg_desc.to_dict(),
            "layers": [d.to_dict() for d, _ in self.layers],
        }
        notes = {CACHE_KEYS: json.dumps(self.layer_keys, separators=(",", ":"))}
        notes.update(annotations or {})
        manifest["annotations"] = notes
        desc = store.content.put(_canonical(manifest), media_type=MEDIA_TYPE_MANIFEST)
        return attrs.evolve(desc, platform=self.platform)


@attrs.frozen
class CacheEntry:
    """A cached layer step: its layer, DiffID and the time its history says."""

    layer: Descriptor
    diff_id: Digest
    created: str


class CacheIndex:
    """The layer steps cached in a store (and in ``--cache-from`` images), by key.

    Only the store's index is read up front; an entry's manifest is read when its key is
    looked up (a warm build reads as many as it has layer steps, however big the cache).
    """

    def __init__(self, store: ImageStore, entries: dict[str, CacheEntry],
                 keyed: dict[str, Descriptor] | None = None) -> None:  # fmt: skip
        self.store = store
        self.entries = entries
        self._keyed = keyed or {}

    @classmethod
    def load(cls, store: ImageStore, cache_from: Iterable[Image] = ()) -> CacheIndex:
        """The cache of ``store``: its keyed entries, then those of ``cache_from`` images."""
        keyed: dict[str, Descriptor] = {}
        for desc in store.content.read_index().manifests:
            key = desc.annotation(CACHE_KEY)
            if key and not desc.annotation("org.opencontainers.image.ref.name"):
                keyed[key] = desc
        entries: dict[str, CacheEntry] = {}
        for image in cache_from:
            history = [h for h in image.raw_config.get("history") or [] if not h.get("empty_layer")]
            for key, index in _image_keys(image):
                if key not in keyed and key not in entries and index < len(image.layers):
                    when = str(history[index].get("created", "")) if index < len(history) else ""
                    entries[key] = CacheEntry(image.layers[index], image.diff_ids[index], when)
        return cls(store, entries, keyed)

    def _read(self, desc: Descriptor) -> CacheEntry | None:
        try:
            manifest = json.loads(self.store.content.read_bytes(desc))
            layer = Descriptor.from_dict(manifest["layers"][0])
            notes = manifest.get("annotations") or {}
            diff = Digest.parse(notes["io.pycontainers.build.diff-id"])
        except Exception:  # a broken entry is a miss, never an error
            return None
        return CacheEntry(layer, diff, str(notes.get(_CREATED, "")))

    def get(self, key: str) -> CacheEntry | None:
        """The entry of ``key`` whose layer blob is still stored, or None."""
        entry = self.entries.get(key)
        if entry is None:
            desc = self._keyed.get(key)
            entry = self._read(desc) if desc is not None else None
            if entry is not None:
                self.entries[key] = entry
        if entry is None or not self.store.content.has(entry.layer.digest):
            return None
        return entry

    def put(self, key: str, layer: Descriptor, diff_id: Digest, created: str) -> None:
        """Record a layer step (call under the content lock, with the layer stored)."""
        empty = self.store.content.put(_EMPTY_CONFIG, media_type=_MEDIA_TYPE_EMPTY)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_MANIFEST,
            "config": empty.to_dict(),
            "layers": [layer.to_dict()],
            "annotations": {"io.pycontainers.build.diff-id": str(diff_id), _CREATED: created},
        }
        desc = self.store.content.put(_canonical(manifest), media_type=MEDIA_TYPE_MANIFEST)
        keyed = attrs.evolve(desc, annotations={CACHE_KEY: key})
        self.store.content.update_index(
            lambda index: index.with_manifest(keyed, replace_annotation=CACHE_KEY)
        )
        self.entries[key] = CacheEntry(layer, diff_id, created)


def _image_keys(image: Image) -> list[tuple[str, int]]:
    raw = (image.manifest.get("annotations") or {}).get(CACHE_KEYS)
    if not raw:
        return []
    try:
        return [(str(k), int(i)) for k, i in json.loads(raw)]
    except (ValueError, TypeError):
        return []


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def image_at(store: ImageStore, desc: Descriptor, name: str) -> Image:
    """The image of a manifest we wrote, under the in-memory name ``name``."""
    return store.image_at(Reference.parse(name), desc)
