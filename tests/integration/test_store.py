"""The content store on a real filesystem: put/open/verify, mismatches leave nothing,
damaged blobs are caught on read, index updates and puts from two processes, gc."""

from __future__ import annotations

import fcntl
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pycontainers.errors import SpecError
from pycontainers.images import (
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_MANIFEST,
    BlobNotFound,
    ContentStore,
    Descriptor,
    Digest,
    DigestMismatch,
    Index,
)

pytestmark = pytest.mark.root


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "layout")


def ingest_files(store: ContentStore) -> list[str]:
    return os.listdir(store.root / "ingest")


def test_a_new_store_is_an_oci_layout(store: ContentStore) -> None:
    assert json.loads((store.root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert (store.root / "blobs" / "sha256").is_dir()
    assert store.read_index() == Index()
    again = ContentStore(store.root)  # opening an existing layout changes nothing
    assert again.read_index() == Index()


def test_an_unknown_layout_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "9.9"}')
    with pytest.raises(Exception, match="unsupported imageLayoutVersion"):
        ContentStore(tmp_path)


@pytest.mark.parametrize("kind", ["bytes", "file", "chunks"])
def test_put_and_read(store: ContentStore, kind: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    source: object = {
        "bytes": data,
        "file": io.BytesIO(data),
        "chunks": (data[i : i + 65536] for i in range(0, len(data), 65536)),
    }[kind]
    desc = store.put(source, media_type=MEDIA_TYPE_LAYER_GZIP)  # type: ignore[arg-type]
    digest = Digest.from_bytes(data)
    assert desc == Descriptor(MEDIA_TYPE_LAYER_GZIP, digest, len(data))
    assert store.has(digest) and store.has(str(digest))
    path = store.blob_path(digest)
    assert path == store.root / "blobs" / "sha256" / digest.encoded
    assert path.stat().st_mode & 0o777 == 0o644
    assert store.read_bytes(digest) == data
    with store.open(desc) as reader:
        parts = []
        while chunk := reader.read(100_000):
            parts.append(chunk)
        assert reader.verified
    assert b"".join(parts) == data
    assert store.descriptor(digest).size == len(data)
    assert ingest_files(store) == []
    assert list(store.blobs()) == [digest]


def test_put_checks_the_expected_digest_and_size(store: ContentStore, no_leaks: Any) -> None:
    data = b"hello world"
    good = Digest.from_bytes(data)
    assert store.put(data, expected_digest=good, expected_size=len(data)).digest == good
    store.delete(good)
    wrong = Digest.from_bytes(b"other")
    with pytest.raises(DigestMismatch) as info:
        store.put(data, expected_digest=wrong)
    assert info.value.expected == wrong and info.value.actual == good
    with pytest.raises(DigestMismatch, match="size"):
        store.put(data, expected_size=len(data) + 1)
    with pytest.raises(DigestMismatch, match="size"):
        store.put(data, expected_size=len(data) - 1)
    with pytest.raises(SpecError):
        store.put(data, expected_size=-1)
    # nothing was left behind by the failed puts
    assert list(store.blobs()) == []
    assert ingest_files(store) == []


def test_put_stops_reading_past_the_expected_size(store: ContentStore) -> None:
    read = 0

    def endless() -> object:
        nonlocal read
        while True:
            read += 1 << 20
            yield bytes(1 << 20)

    with pytest.raises(DigestMismatch, match="size"):
        store.put(endless(), expected_size=3 << 20)  # type: ignore[arg-type]
    assert read <= 4 << 20
    assert ingest_files(store) == []


def test_a_failing_source_leaves_nothing(store: ContentStore) -> None:
    def broken() -> object:
        yield b"partial"
        raise ConnectionError("network down")

    with pytest.raises(ConnectionError):
        store.put(broken())  # type: ignore[arg-type]
    assert list(store.blobs()) == [] and ingest_files(store) == []


def test_a_truncated_blob_is_caught_on_read(store: ContentStore, no_leaks: Any) -> None:
    data = os.urandom(500_000)
    desc = store.put(data)
    path = store.blob_path(desc.digest)
    os.truncate(path, 250_000)
    with pytest.raises(DigestMismatch):
        store.read_bytes(desc.digest)
    with pytest.raises(DigestMismatch, match="size"):
        store.read_bytes(desc)  # with a descriptor the size is known, too
    with store.open(desc.digest) as reader, pytest.raises(DigestMismatch):
        while reader.read(65536):
            pass
    with pytest.raises(DigestMismatch):
        store.verify(desc.digest)


def test_a_corrupted_blob_is_caught_on_read(store: ContentStore) -> None:
    data = os.urandom(100_000)
    desc = store.put(data)
    path = store.blob_path(desc.digest)
    with open(path, "r+b") as f:
        f.seek(50_000)
        f.write(b"\x00" * 10)
    with pytest.raises(DigestMismatch):
        store.read_bytes(desc)
    # a put of the right content repairs it
    store.put(data)
    assert store.read_bytes(desc) == data


def test_a_grown_blob_is_caught_when_its_size_is_known(store: ContentStore) -> None:
    desc = store.put(b"x" * 1000)
    with open(store.blob_path(desc.digest), "ab") as f:
        f.write(b"extra")
    with store.open(desc) as reader, pytest.raises(DigestMismatch, match="size"):
        reader.read()


def test_missing_and_deleted_blobs(store: ContentStore) -> None:
    d = Digest.from_bytes(b"nothing")
    assert not store.has(d)
    with pytest.raises(BlobNotFound):
        store.open(d)
    with pytest.raises(BlobNotFound):
        store.descriptor(d)
    assert not store.delete(d)
    desc = store.put(b"something")
    assert store.delete(desc.digest) and not store.has(desc.digest)


def test_index_round_trip(store: ContentStore) -> None:
    m = store.put(b'{"schemaVersion": 2}', media_type=MEDIA_TYPE_MANIFEST)
    tagged = Descriptor(
        MEDIA_TYPE_MANIFEST, m.digest, m.size, {"org.opencontainers.image.ref.name": "v1"}
    )
    store.write_index(Index(manifests=(tagged,)))
    raw = json.loads((store.root / "index.json").read_text())
    assert raw["schemaVersion"] == 2 and raw["manifests"][0]["digest"] == str(m.digest)
    assert store.read_index().manifests == (tagged,)
    moved = store.update_index(
        lambda ix: ix.with_manifest(
            Descriptor(
                MEDIA_TYPE_MANIFEST,
                Digest.from_bytes(b"other"),
                5,
                {"org.opencontainers.image.ref.name": "v1"},
            ),
            replace_annotation="org.opencontainers.image.ref.name",
        )
    )
    assert len(moved.manifests) == 1 and moved.manifests[0].digest != m.digest
    leftovers = [n for n in os.listdir(store.root) if n.startswith(".index.json")]
    assert leftovers == []


WORKER = """
import sys
from pycontainers.images import MEDIA_TYPE_MANIFEST, ContentStore, Descriptor

root, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = ContentStore(root)
for i in range(count):
    shared = store.put(b"shared blob " * 1000)  # both processes put the same content
    own = store.put(f"blob {worker}-{i}".encode() * 500)
    desc = Descriptor(
        MEDIA_TYPE_MANIFEST,
        own.digest,
        own.size,
        {"org.opencontainers.image.ref.name": f"w{worker}-{i}", "shared": str(shared.digest)},
    )
    store.update_index(lambda ix: ix.with_manifest(desc))
"""


def test_two_processes_share_one_store(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    ContentStore(root)
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(root), str(w), "40"]) for w in range(2)
    ]
    for p in procs:
        assert p.wait(120) == 0
    store = ContentStore(root)
    index = store.read_index()
    names = sorted(m.annotation("org.opencontainers.image.ref.name") or "" for m in index.manifests)
    assert names == sorted(f"w{w}-{i}" for w in range(2) for i in range(40))
    for digest in store.blobs():
        store.verify(digest)
    assert len(list(store.blobs())) == 81
    assert ingest_files(store) == []


def test_gc_keeps_what_the_index_reaches(store: ContentStore) -> None:
    layer = store.put(b"layer bytes", media_type=MEDIA_TYPE_LAYER_GZIP)
    config = store.put(b'{"rootfs": {}}', media_type=MEDIA_TYPE_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": config.to_dict(),
        "layers": [layer.to_dict()],
    }
    m = store.put(json.dumps(manifest).encode(), media_type=MEDIA_TYPE_MANIFEST)
    store.write_index(Index(manifests=(m,)))
    garbage = store.put(b"garbage")
    kept = store.put(b"kept explicitly")
    # an ingest file whose writer died, and one a live writer still holds
    (store.root / "ingest" / "put-dead").write_bytes(b"partial")
    live = store.root / "ingest" / "put-live"
    live.write_bytes(b"in progress")
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        removed = store.gc(keep={kept.digest})
        assert ingest_files(store) == ["put-live"]
    finally:
        os.close(fd)
    assert removed == [garbage.digest]
    assert {d for d in store.blobs()} == {layer.digest, config.digest, m.digest, kept.digest}
    store.write_index(Index())
    assert set(store.gc()) == {layer.digest, config.digest, m.digest, kept.digest}
    assert list(store.blobs()) == []
