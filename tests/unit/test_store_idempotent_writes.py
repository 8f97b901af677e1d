"""Writes to the content store that change nothing do nothing (what makes a warm rebuild
cheap): a blob already stored is not written again, an index update that changes nothing
leaves ``index.json`` untouched, and adding a manifest already in the index keeps it as is.
"""

from __future__ import annotations

import os
from pathlib import Path

from pycontainers.images import ContentStore, Descriptor, Digest
from pycontainers.images.descriptor import MEDIA_TYPE_MANIFEST, Index


def _ident(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def test_put_of_a_stored_blob_does_not_rewrite_it(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "store")
    first = store.put(b"same bytes", media_type=MEDIA_TYPE_MANIFEST)
    path = store.blob_path(first.digest)
    before = _ident(path)
    again = store.put(b"same bytes", media_type=MEDIA_TYPE_MANIFEST)
    assert again == first and _ident(path) == before
    assert store.read_bytes(again) == b"same bytes"
    assert os.listdir(tmp_path / "store" / "ingest") == []  # no temporary file left
    with open(path, "r+b") as f:  # a corrupted copy is rewritten, not trusted
        f.write(b"SAME")
    store.put(b"same bytes")
    assert store.read_bytes(first) == b"same bytes"
    other = store.put(b"other bytes")
    assert other.digest != first.digest and store.read_bytes(other) == b"other bytes"


def test_an_index_update_that_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "store")
    desc = store.put(b"{}", media_type=MEDIA_TYPE_MANIFEST)
    named = Descriptor(desc.media_type, desc.digest, desc.size,
                       annotations={"org.opencontainers.image.ref.name": "a"})  # fmt: skip
    store.update_index(
        lambda i: i.with_manifest(named, replace_annotation="org.opencontainers.image.ref.name")
    )
    before = _ident(tmp_path / "store" / "index.json")
    index = store.update_index(
        lambda i: i.with_manifest(named, replace_annotation="org.opencontainers.image.ref.name")
    )
    assert _ident(tmp_path / "store" / "index.json") == before
    assert index.manifests == (named,)
    # a real change is written
    moved = Descriptor(desc.media_type, Digest.parse("sha256:" + "0" * 64), 2,
                       annotations={"org.opencontainers.image.ref.name": "a"})  # fmt: skip
    store.update_index(
        lambda i: i.with_manifest(moved, replace_annotation="org.opencontainers.image.ref.name")
    )
    assert store.read_index().manifests == (moved,)


def test_with_manifest_keeps_an_index_that_has_it() -> None:
    a = Descriptor(MEDIA_TYPE_MANIFEST, Digest.parse("sha256:" + "a" * 64), 1,
                   annotations={"k": "1"})  # fmt: skip
    b = Descriptor(MEDIA_TYPE_MANIFEST, Digest.parse("sha256:" + "b" * 64), 1,
                   annotations={"k": "2"})  # fmt: skip
    index = Index(manifests=(a, b))
    assert index.with_manifest(a, replace_annotation="k") is index
    assert index.with_manifest(a) is index
    # the same value on another manifest still moves: a replaces b's claim to k=2
    a2 = Descriptor(a.media_type, a.digest, 1, annotations={"k": "2"})
    assert index.with_manifest(a2, replace_annotation="k").manifests == (a, a2)
