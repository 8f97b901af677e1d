"""Images without root: digests, chain IDs, descriptors' JSON, the tar reader, decompression."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator

import pytest
import zstandard

from pycontainers.errors import PyContainersError, SpecError
from pycontainers.images import (
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    Digest,
    DigestMismatch,
    ImageError,
    Index,
    LayerError,
    Platform,
    chain_id,
    detect_compression,
)
from pycontainers.images._compress import prefetched, uncompressed_chunks
from pycontainers.images._tar import TarEntry, TarReader
from pycontainers.images._unpack import _clean

HEX = "a" * 64


# -- digests ---------------------------------------------------------------------------------


def test_digest_parse_and_format() -> None:
    d = Digest.parse(f"sha256:{HEX}")
    assert (d.algorithm, d.encoded, d.hex, str(d)) == ("sha256", HEX, HEX, f"sha256:{HEX}")
    assert Digest.parse(d) is d
    assert Digest.from_bytes(b"") == Digest.parse(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert Digest.from_bytes(b"x", "sha512").encoded == hashlib.sha512(b"x").hexdigest()
    assert {d, Digest.parse(f"sha256:{HEX}")} == {d}  # hashable, equal by value


@pytest.mark.parametrize(
    "bad",
    [
        HEX,  # no algorithm
        f"sha256:{HEX[:-1]}",  # too short
        f"sha256:{HEX}0",  # too long
        f"sha256:{'A' * 64}",  # uppercase
        f"sha256:{'g' * 64}",  # not hex
        f"md5:{'a' * 32}",  # not a registered algorithm
        f"sha512:{HEX}",  # sha512 needs 128 digits
        "",
    ],
)
def test_invalid_digests_are_spec_errors(bad: str) -> None:
    with pytest.raises(SpecError) as info:
        Digest.parse(bad)
    assert info.value.field == "digest"


def test_chain_id_follows_the_image_spec() -> None:
    d = [Digest.from_bytes(bytes([i])) for i in range(3)]
    assert chain_id([d[0]]) == d[0]
    c1 = hashlib.sha256(f"{d[0]} {d[1]}".encode()).hexdigest()
    c2 = hashlib.sha256(f"sha256:{c1} {d[2]}".encode()).hexdigest()
    assert chain_id(d[:2]) == Digest("sha256", c1)
    assert chain_id(d) == Digest("sha256", c2)
    with pytest.raises(SpecError):
        chain_id([])


# -- descriptors and the index -----------------------------------------------------------------


def test_descriptor_json_round_trip() -> None:
    obj = {
        "mediaType": MEDIA_TYPE_MANIFEST,
        "digest": f"sha256:{HEX}",
        "size": 7682,
        "urls": ["https://example.invalid/blob"],
        "annotations": {"org.opencontainers.image.ref.name": "v1", "a": "b"},
        "platform": {
            "architecture": "arm64",
            "os": "linux",
            "variant": "v8",
            "os.version": "1",
            "os.features": ["f"],
        },
        "artifactType": "application/x-thing",
    }
    d = Descriptor.from_dict(obj)
    assert d.platform == Platform("arm64", "linux", "1", ("f",), "v8")
    assert d.annotation("a") == "b" and d.annotation("missing") is None
    assert d.to_dict() == obj
    assert Descriptor.from_dict(json.loads(json.dumps(d.to_dict()))) == d
    minimal = Descriptor(MEDIA_TYPE_LAYER_GZIP, f"sha256:{HEX}", 0)
    assert minimal.to_dict() == {
        "mediaType": MEDIA_TYPE_LAYER_GZIP,
        "digest": f"sha256:{HEX}",
        "size": 0,
    }
    hash(minimal)


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"mediaType": "x", "digest": f"sha256:{HEX}", "size": 1}, "mediaType"),
        ({"mediaType": "a/b", "digest": "sha256:zz", "size": 1}, "digest"),
        ({"mediaType": "a/b", "digest": f"sha256:{HEX}", "size": -1}, "size"),
        ({"mediaType": "a/b", "digest": f"sha256:{HEX}", "size": True}, "size"),
        ({"mediaType": "a/b", "digest": f"sha256:{HEX}"}, "size"),
        (
            {"mediaType": "a/b", "digest": f"sha256:{HEX}", "size": 1, "annotations": {"a": 1}},
            "annotations",
        ),
        (
            {"mediaType": "a/b", "digest": f"sha256:{HEX}", "size": 1, "platform": {"os": "linux"}},
            "platform.architecture",
        ),
    ],
)
def test_invalid_descriptors(obj: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as info:
        Descriptor.from_dict(obj)
    assert info.value.field == field


def test_index_json_round_trip_and_tags() -> None:
    m1 = Descriptor(
        MEDIA_TYPE_MANIFEST, f"sha256:{HEX}", 10, {"org.opencontainers.image.ref.name": "v1"}
    )
    m2 = Descriptor(
        MEDIA_TYPE_MANIFEST, f"sha256:{'b' * 64}", 11, {"org.opencontainers.image.ref.name": "v1"}
    )
    index = Index(manifests=(m1,), annotations={"k": "v"})
    data = index.to_json()
    assert json.loads(data)["schemaVersion"] == 2
    assert json.loads(data)["mediaType"] == MEDIA_TYPE_INDEX
    assert Index.from_json(data) == index
    assert index.with_manifest(m1) == index  # no duplicates
    moved = index.with_manifest(m2, replace_annotation="org.opencontainers.image.ref.name")
    assert moved.manifests == (m2,)
    assert index.with_manifest(m2).manifests == (m1, m2)
    with pytest.raises(SpecError):
        Index.from_json(b"{not json")
    with pytest.raises(SpecError, match="schemaVersion"):
        Index.from_json(b'{"schemaVersion": 1, "manifests": []}')


def test_errors_derive_from_the_library_base() -> None:
    for exc in (ImageError, LayerError, DigestMismatch):
        assert issubclass(exc, PyContainersError)
    e = DigestMismatch("digest", "a", "b", source="x")
    assert "expected a" in str(e) and "got b" in str(e)


# -- the tar reader ----------------------------------------------------------------------------


def _archive(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        d = tarfile.TarInfo("dir/")
        d.type = tarfile.DIRTYPE
        d.mode = 0o1755
        tf.addfile(d)
        for name, data in (
            ("dir/a", b"hello"),
            ("p" * 90 + "/" + "q" * 90, b"prefix"),
            ("n" * 300, b""),
        ):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o4755
            ti.uid, ti.gid, ti.mtime = 1000, 1001, 1_700_000_000
            tf.addfile(ti, io.BytesIO(data))
        big = tarfile.TarInfo("big-ids")
        big.uid = big.gid = 3_000_000  # needs base-256 (GNU) or PAX
        tf.addfile(big, io.BytesIO(b""))
        ln = tarfile.TarInfo("link")
        ln.type = tarfile.SYMTYPE
        ln.linkname = "t" * 200
        tf.addfile(ln)
        dev = tarfile.TarInfo("dev/null")
        dev.type = tarfile.CHRTYPE
        dev.devmajor, dev.devminor = 1, 3
        tf.addfile(dev)
    return buf.getvalue()


def _read(data: bytes, chunk: int = 7) -> list[tuple[TarEntry, bytes]]:
    chunks = iter([data[i : i + chunk] for i in range(0, len(data), chunk)])
    reader = TarReader(chunks)
    out = []
    for entry in reader:
        out.append((entry, reader.read_data(entry.name)))
    return out


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_tar_reader_matches_tarfile(fmt: int) -> None:
    data = _archive(fmt)
    ours = _read(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        theirs = tf.getmembers()
        contents = [tf.extractfile(m).read() if m.isreg() else b"" for m in theirs]  # type: ignore[union-attr]
    assert [e.name.rstrip("/") for e, _ in ours] == [m.name for m in theirs]
    for (entry, body), member, content in zip(ours, theirs, contents, strict=True):
        assert entry.name.rstrip("/") == member.name
        assert entry.type == member.type
        assert (entry.mode, entry.uid, entry.gid) == (member.mode, member.uid, member.gid)
        assert entry.mtime_ns == int(member.mtime) * 1_000_000_000
        assert entry.linkname == member.linkname
        assert (entry.devmajor, entry.devminor) == (member.devmajor, member.devminor)
        assert body == content


def test_tar_reader_ustar_prefix_and_pax_xattrs() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        ti = tarfile.TarInfo("p" * 120 + "/file")
        tf.addfile(ti)
    ((entry, _),) = _read(buf.getvalue())
    assert entry.name == "p" * 120 + "/file"

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("x")
        ti.pax_headers = {
            "SCHILY.xattr.user.bin": b"\x00\xff\xfe".decode("utf-8", "surrogateescape"),
            "SCHILY.xattr.security.capability": "caps",
            "mtime": "1700000000.123456789",
        }
        tf.addfile(ti)
    ((entry, _),) = _read(buf.getvalue())
    assert entry.xattrs == {"user.bin": b"\x00\xff\xfe", "security.capability": b"caps"}
    assert entry.mtime_ns == 1_700_000_000_123_456_789


def test_tar_reader_refuses_damage() -> None:
    data = _archive(tarfile.PAX_FORMAT)
    with pytest.raises(LayerError, match="truncated"):
        _read(data[:700])  # inside the first file's data... or header
    end = data.rfind(b"dev/null")
    with pytest.raises(LayerError, match="no end-of-archive marker"):
        _read(data[: (end // 512 + 1) * 512])  # ends right after the last header
    broken = bytearray(data)
    broken[0] ^= 0x01  # the first name byte: the checksum no longer matches
    with pytest.raises(LayerError, match="checksum"):
        _read(bytes(broken))
    with pytest.raises(LayerError, match="no end-of-archive marker"):
        _read(b"")
    sparse = io.BytesIO()
    with tarfile.open(fileobj=sparse, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("s")
        ti.pax_headers = {"GNU.sparse.major": "1"}
        tf.addfile(ti)
    with pytest.raises(LayerError, match="sparse"):
        _read(sparse.getvalue())


@pytest.mark.parametrize(
    ("name", "clean"),
    [("a/b", "a/b"), ("./a//b/", "a/b"), ("./", ""), ("a/./b", "a/b"), ("..a/b..", "..a/b..")],
)
def test_clean_names(name: str, clean: str) -> None:
    assert _clean(name) == clean


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "a/..", "//x"])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(LayerError):
        _clean(name)


# -- compression -------------------------------------------------------------------------------


def test_detect_compression() -> None:
    assert detect_compression(gzip.compress(b"x")) == "gzip"
    assert detect_compression(zstandard.ZstdCompressor().compress(b"x")) == "zstd"
    assert detect_compression(b"ustar") == "none"
    assert detect_compression(b"") == "none"


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_decompression_is_hashed_and_bounded(kind: str) -> None:
    raw = bytes(64 << 20)  # compresses to almost nothing: output must still come in pieces
    packed = gzip.compress(raw, 1) if kind == "gzip" else zstandard.ZstdCompressor().compress(raw)
    h = hashlib.sha256()
    found, chunks = uncompressed_chunks(io.BytesIO(packed), h)
    assert found == kind
    sizes = [len(c) for c in chunks]
    assert sum(sizes) == len(raw) and max(sizes) <= 32 << 20
    assert h.hexdigest() == hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_truncated_streams_raise(kind: str) -> None:
    raw = bytes(range(256)) * 4000
    packed = gzip.compress(raw) if kind == "gzip" else zstandard.ZstdCompressor().compress(raw)
    _, chunks = uncompressed_chunks(io.BytesIO(packed[:-8]))
    with pytest.raises(LayerError, match="truncated"):
        b"".join(chunks)


def test_prefetched_passes_chunks_and_errors() -> None:
    assert list(prefetched(iter([b"a", b"b"]))) == [b"a", b"b"]

    def failing() -> Iterator[bytes]:
        yield b"a"
        raise LayerError("boom")

    with pytest.raises(LayerError, match="boom"):
        list(prefetched(failing()))
    gen = prefetched(iter([b"x"] * 1000), depth=2)
    assert next(gen) == b"x"
    gen.close()  # stops the helper thread without draining
