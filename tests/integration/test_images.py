"""The image store on a real filesystem: import a rootfs, mount its snapshots, tags and prune,
save/load in three formats, interop with umoci and skopeo, corrupt archives refused."""

from __future__ import annotations

import datetime
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pycontainers.errors import ImageNotFound, PyContainersError
from pycontainers.fs.overlay import OverlayFS
from pycontainers.images import (
    ANNOTATION_REF_NAME,
    MEDIA_TYPE_LAYER_GZIP,
    Digest,
    DigestMismatch,
    Image,
    ImageError,
    ImageStore,
    Reference,
    chain_id,
)
from pycontainers.images.config import ImageConfig

pytestmark = pytest.mark.root

CONFIG = ImageConfig(env=("PATH=/bin", "A=1"), cmd=("sh", "-c", "echo hi"), working_dir="/tmp")
WHEN = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt-get install -y {tool})")


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


@pytest.fixture
def image(store: ImageStore, busybox_rootfs: Path) -> Image:
    return store.import_rootfs(busybox_rootfs, "busybox", config=CONFIG, created=WHEN)


def state(store: ImageStore) -> tuple[bytes, set[Digest], list[str]]:
    """Everything a failed load must leave as it was."""
    index = store.content.root / "index.json"
    return (
        index.read_bytes() if index.exists() else b"",
        set(store.content.blobs()),
        sorted(os.listdir(store.snapshots.root)),
    )


def test_import_rootfs(store: ImageStore, image: Image) -> None:
    assert str(image.reference) == "docker.io/library/busybox:latest"
    assert store.get("busybox") == image
    assert store.get("docker.io/library/busybox:latest").digest == image.digest
    assert image.config == CONFIG
    raw = image.raw_config
    assert raw["os"] == "linux" and raw["architecture"] in ("amd64", "arm64", "arm", "386")
    assert raw["rootfs"] == {"type": "layers", "diff_ids": [str(d) for d in image.diff_ids]}
    assert raw["created"] == "2024-01-02T03:04:05Z"
    assert len(raw["history"]) == 1
    assert [layer.media_type for layer in image.layers] == [MEDIA_TYPE_LAYER_GZIP]
    assert image.size == image.config_descriptor.size + image.layers[0].size
    assert image.manifest["config"]["digest"] == str(image.id)
    entry = store.content.read_index().manifests[0]
    assert entry.annotation(ANNOTATION_REF_NAME) == "docker.io/library/busybox:latest"
    assert entry.digest == image.digest
    assert "busybox:latest" in repr(image) and "1 layers" in repr(image)
    assert "<table>" in image._repr_html_() and "echo hi" in image._repr_html_()


def test_import_is_reproducible(store: ImageStore, image: Image, busybox_rootfs: Path) -> None:
    again = store.import_rootfs(busybox_rootfs, "busybox:again", config=CONFIG, created=WHEN)
    assert again.digest == image.digest


def test_snapshots_mount_as_overlay(
    store: ImageStore, image: Image, tmp_path: Path, no_leaks: object
) -> None:
    lowers = store.snapshots_for(image)
    assert len(lowers) == 1
    assert Path(lowers[0]).parent.name == chain_id(image.diff_ids).encoded
    assert store.snapshots_for("busybox") == lowers  # already unpacked: reused
    for d in ("upper", "work", "merged"):
        (tmp_path / d).mkdir()
    with OverlayFS.mount(
        tmp_path / "merged", lowers, upper=tmp_path / "upper", work=tmp_path / "work"
    ) as ovl:
        assert (ovl.target / "bin" / "busybox").is_file()
        assert os.readlink(ovl.target / "bin" / "sh") == "busybox"
        assert "alice" in (ovl.target / "etc" / "passwd").read_text()


def test_tag_untag_list_remove_prune(store: ImageStore, image: Image, busybox_rootfs: Path) -> None:
    store.snapshots_for(image)
    tagged = store.tag(image, "localhost:5000/tools/bb:v1")
    assert tagged.digest == image.digest
    assert str(tagged.reference) == "localhost:5000/tools/bb:v1"
    assert [str(i.reference) for i in store.list()] == [
        "docker.io/library/busybox:latest",
        "localhost:5000/tools/bb:v1",
    ]
    info = store.inspect("busybox")
    assert info["Id"] == str(image.id)
    assert sorted(info["RepoTags"]) == ["busybox:latest", "localhost:5000/tools/bb:v1"]
    assert info["Config"]["Cmd"] == ["sh", "-c", "echo hi"]
    assert info["RootFS"]["Layers"] == [str(d) for d in image.diff_ids]
    assert store.get(f"localhost:5000/tools/bb@{image.digest}").digest == image.digest

    # a tag moves to the new image
    other = store.import_rootfs(busybox_rootfs, "localhost:5000/tools/bb:v1", config=ImageConfig())
    assert other.digest != image.digest
    assert len(store.list()) == 2

    store.untag("busybox")
    with pytest.raises(ImageNotFound):
        store.get("busybox")
    with pytest.raises(ImageNotFound):
        store.untag("busybox")
    assert store.prune().snapshots == ()  # `other` shares the layer, so its snapshot stays
    assert not store.content.has(image.digest)  # the old manifest and config went
    assert store.content.has(other.layers[0].digest)

    store.remove(f"localhost:5000/tools/bb@{other.digest}")
    assert store.list() == []
    pruned = store.prune()
    assert set(pruned.blobs) >= {other.digest, other.id, other.layers[0].digest}
    assert pruned.snapshots == (chain_id(other.diff_ids),)
    assert list(store.content.blobs()) == []
    assert list(store.snapshots.snapshots()) == []


@pytest.mark.parametrize(
    ("fmt", "name"), [("oci-archive", "x.tar"), ("oci-dir", "x"), ("docker-archive", "x.tar")]
)
def test_save_load_round_trip(
    store: ImageStore, image: Image, tmp_path: Path, fmt: str, name: str
) -> None:
    store.tag(image, "example.com/team/app:1.0")
    out = tmp_path / "out" / name
    out.parent.mkdir()
    store.save(["busybox", "example.com/team/app:1.0"], out, format=fmt)
    assert sorted(os.listdir(out.parent)) == [name]  # no temporaries left next to it
    fresh = ImageStore(tmp_path / "fresh")
    loaded = fresh.load(out)
    assert {str(i.reference) for i in loaded} == {
        "docker.io/library/busybox:latest",
        "example.com/team/app:1.0",
    }
    for img in loaded:
        assert img.config == CONFIG
        assert img.diff_ids == image.diff_ids
        assert img.id == image.id  # the config blob travels unchanged
        if fmt != "docker-archive":
            assert img.digest == image.digest
    lowers = fresh.snapshots_for("busybox")
    assert (Path(lowers[0]) / "bin" / "busybox").is_file()
    # loading again changes nothing
    before = state(fresh)
    fresh.load(out)
    assert state(fresh) == before


def test_save_refuses_bad_arguments(store: ImageStore, image: Image, tmp_path: Path) -> None:
    with pytest.raises(PyContainersError, match="format"):
        store.save("busybox", tmp_path / "x", format="zip")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    with pytest.raises(PyContainersError, match="empty"):
        store.save("busybox", tmp_path / "full", format="oci-dir")
    with pytest.raises(ImageNotFound):
        store.save("nothere", tmp_path / "y.tar")


def test_umoci_image_loads(store: ImageStore, tmp_path: Path) -> None:
    needs("umoci")
    layout, bundle = tmp_path / "L", tmp_path / "bundle"

    def umoci(*args: str) -> None:
        subprocess.run(["umoci", *args], check=True, capture_output=True)

    umoci("init", "--layout", str(layout))
    umoci("new", "--image", f"{layout}:t")
    umoci("unpack", "--image", f"{layout}:t", str(bundle))
    (bundle / "rootfs" / "hello").write_text("from umoci\n")
    umoci("repack", "--image", f"{layout}:t", str(bundle))
    umoci(
        "config", "--image", f"{layout}:t", "--config.env", "A=1", "--config.cmd", "/bin/sh",
        "--config.workingdir", "/srv",
    )  # fmt: skip
    (img,) = store.load(layout, repository="localhost/made-by-umoci")
    assert str(img.reference) == "localhost/made-by-umoci:t"
    assert "A=1" in img.config.env
    assert img.config.cmd == ("/bin/sh",)
    assert img.config.working_dir == "/srv"
    top = Path(store.snapshots_for(img)[0])
    assert (top / "hello").read_text() == "from umoci\n"
    # without a repository, the directory's name is used
    other = ImageStore(tmp_path / "other")
    assert str(other.load(layout)[0].reference) == "localhost/l:t"


def test_umoci_and_skopeo_read_what_we_save(
    store: ImageStore, image: Image, tmp_path: Path
) -> None:
    needs("umoci")
    needs("skopeo")
    layout = tmp_path / "layout"
    store.save(image, layout, format="oci-dir")
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:latest", str(bundle)],
        check=True,
        capture_output=True,
    )
    assert (bundle / "rootfs" / "bin" / "busybox").is_file()
    runtime = json.loads((bundle / "config.json").read_text())
    assert runtime["process"]["args"] == ["sh", "-c", "echo hi"]
    assert "A=1" in runtime["process"]["env"]

    out = subprocess.run(
        ["skopeo", "inspect", f"oci:{layout}:latest"], check=True, capture_output=True, text=True
    )
    info = json.loads(out.stdout)
    assert info["Digest"] == str(image.digest)
    assert info["Env"] == ["PATH=/bin", "A=1"]

    archive = tmp_path / "docker.tar"
    subprocess.run(
        ["skopeo", "copy", f"oci:{layout}:latest", f"docker-archive:{archive}:skopeo/made:v2"],
        check=True,
        capture_output=True,
    )
    fresh = ImageStore(tmp_path / "fresh")
    (loaded,) = fresh.load(archive)
    assert str(loaded.reference) == "docker.io/skopeo/made:v2"
    assert loaded.config == CONFIG
    assert loaded.diff_ids == image.diff_ids
    assert (Path(fresh.snapshots_for(loaded)[0]) / "bin" / "busybox").is_file()


def _rewrite_tar(src: Path, dst: Path, change: Callable[[str, bytes], bytes]) -> None:
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin.getmembers():
            f = tin.extractfile(m)
            if f is None:
                tout.addfile(m)
                continue
            data = change(m.name, f.read())
            m.size = len(data)
            tout.addfile(m, io.BytesIO(data))


def _flip_layer(name: str, data: bytes) -> bytes:
    if len(data) > 100_000:  # the layer
        return data[:5000] + bytes([data[5000] ^ 0xFF]) + data[5001:]
    return data


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_corrupt_archives_leave_the_store_unchanged(
    store: ImageStore, image: Image, tmp_path: Path, busybox_rootfs: Path, fmt: str
) -> None:
    good = tmp_path / "good.tar"
    store.save(image, good, format=fmt)
    target = ImageStore(tmp_path / "target")
    target.import_rootfs(busybox_rootfs, "local/base", config=ImageConfig(cmd=("true",)))
    before = state(target)

    truncated = tmp_path / "truncated.tar"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImageError):
        target.load(truncated)
    assert state(target) == before

    flipped = tmp_path / "flipped.tar"
    _rewrite_tar(good, flipped, _flip_layer)
    with pytest.raises(DigestMismatch):
        target.load(flipped)
    assert state(target) == before
    assert os.listdir(target.content.root / "ingest") == []

    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ImageError):
        target.load(garbage)
    assert state(target) == before
    assert [str(i.reference) for i in target.list()] == ["docker.io/local/base:latest"]


def test_corrupt_layout_directory(store: ImageStore, image: Image, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    store.save(image, layout, format="oci-dir")
    blob = layout / "blobs" / "sha256" / image.layers[0].digest.encoded
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    fresh = ImageStore(tmp_path / "fresh")
    before = state(fresh)
    with pytest.raises(DigestMismatch):
        fresh.load(layout)
    assert state(fresh) == before
    blob.unlink()
    with pytest.raises(ImageError):
        fresh.load(layout)
    assert state(fresh) == before


def test_snapshot_refuses_wrong_diff_id(store: ImageStore, busybox_rootfs: Path) -> None:
    img = store.import_rootfs(busybox_rootfs, "busybox")
    raw = dict(img.raw_config)
    raw["rootfs"] = {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}
    cfg = store.content.put(
        json.dumps(raw).encode(), media_type="application/vnd.oci.image.config.v1+json"
    )
    manifest = dict(img.manifest, config=cfg.to_dict())
    man = store.content.put(json.dumps(manifest).encode(), media_type=img.manifest["mediaType"])
    store.name_descriptor(man, Reference.parse("bad"))
    with pytest.raises(DigestMismatch):
        store.snapshots_for("bad")
    assert list(store.snapshots.snapshots()) == []


def test_docker_archive_with_blobs_layout(store: ImageStore, image: Image, tmp_path: Path) -> None:
    """The newer ``docker save`` shape: config and layers named ``blobs/sha256/<hex>``."""
    legacy = tmp_path / "legacy.tar"
    store.save(image, legacy, format="docker-archive")
    newer = tmp_path / "newer.tar"
    with tarfile.open(legacy) as tin, tarfile.open(newer, "w") as tout:
        (entry,) = json.loads(tin.extractfile("manifest.json").read())  # type: ignore[union-attr]
        names = {entry["Config"]: f"blobs/sha256/{image.id.encoded}"}
        for layer, diff_id in zip(entry["Layers"], image.diff_ids, strict=True):
            names[layer] = f"blobs/sha256/{diff_id.encoded}"
        for old, new in names.items():
            data = tin.extractfile(old).read()  # type: ignore[union-attr]
            info = tarfile.TarInfo(new)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
        entry = {
            "Config": names[entry["Config"]],
            "RepoTags": ["newer:1"],
            "Layers": [names[n] for n in entry["Layers"]],
        }
        data = json.dumps([entry]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tout.addfile(info, io.BytesIO(data))
    fresh = ImageStore(tmp_path / "fresh")
    (img,) = fresh.load(newer)
    assert str(img.reference) == "docker.io/library/newer:1"
    assert img.id == image.id and img.diff_ids == image.diff_ids
    assert (Path(fresh.snapshots_for(img)[0]) / "bin" / "busybox").is_file()
