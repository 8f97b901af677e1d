"""Image IDs wherever an image name is accepted, as in Docker: the full config digest, a
short prefix, with or without ``sha256:``; an ambiguous prefix is a clear error; ``rmi`` of
an ID with several names needs ``-f``."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cli_util import cli, ok

from pycontainers.errors import ImageNotFound
from pycontainers.images import ImageConfig, ImageError, ImageStore

pytestmark = pytest.mark.root

WHEN = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


def _import(store: ImageStore, rootfs: Path, name: str, cmd: str) -> str:
    config = ImageConfig(env=("PATH=/bin",), cmd=("sh", "-c", cmd))
    return str(store.import_rootfs(rootfs, name, config=config, created=WHEN).id)


def test_ids_resolve_full_short_and_prefixed(store: ImageStore, busybox_rootfs: Path) -> None:
    full = _import(store, busybox_rootfs, "idtest", "echo one")
    hexid = full.split(":")[1]
    for spelling in (full, hexid, hexid[:12], "sha256:" + hexid[:12], hexid[:4]):
        image = store.get(spelling)
        assert str(image.id) == full and image.reference.familiar == "idtest:latest"
        assert store.inspect(spelling)["Id"] == full
    with pytest.raises(ImageNotFound, match="no image with ID"):
        store.get("0" * 12 if not hexid.startswith("0") else "f" * 12)
    assert store.tag(hexid[:12], "other:v1").id == store.get("idtest").id


def test_an_ambiguous_prefix_names_the_candidates(store: ImageStore, busybox_rootfs: Path) -> None:
    ids = {_import(store, busybox_rootfs, f"amb{i}", f"echo {i}").split(":")[1] for i in range(40)}
    assert len(ids) == 40
    # among 40 IDs, two share their first hex digit (pigeonhole: 16 digits)
    first = [i[0] for i in sorted(ids)]
    shared = next(d for d in first if first.count(d) > 1)
    with pytest.raises(ImageError, match=f"image ID prefix {shared} is ambiguous: it matches"):
        store.get(shared)


def test_rmi_by_id_needs_force_for_several_names(store: ImageStore, busybox_rootfs: Path) -> None:
    hexid = _import(store, busybox_rootfs, "one", "echo x").split(":")[1]
    assert [r.familiar for r in store.remove(hexid[:12])] == ["one:latest"]
    with pytest.raises(ImageNotFound):
        store.get("one")
    _import(store, busybox_rootfs, "one", "echo x")
    store.tag("one", "two:latest")
    with pytest.raises(ImageError, match="must be forced"):
        store.remove(hexid[:12])
    assert store.get("one") and store.get("two")  # nothing removed
    names = store.remove(hexid[:12], force=True)
    assert sorted(r.familiar for r in names) == ["one:latest", "two:latest"]
    assert store.list() == []


def test_cli_runs_inspects_and_removes_by_id(tmp_path: Path, busybox_rootfs: Path) -> None:
    root = tmp_path / "data"
    store = ImageStore(root / "images")
    _import(store, busybox_rootfs, "clid", "echo from-the-image")
    short = ok("--root", str(root), "images", "-q").split()[0]
    assert len(short) == 12
    out = ok("--root", str(root), "run", "--rm", "--network", "none", short)
    assert out == "from-the-image\n"
    assert "sha256:" + short in ok("--root", str(root), "image", "inspect", short)
    ok("--root", str(root), "tag", short, "clid:second")
    r = cli("--root", str(root), "rmi", short)
    assert r.returncode != 0 and "must be forced" in r.stderr
    out = ok("--root", str(root), "rmi", "-f", short)
    assert sorted(out.split("\n")[:2]) == ["Untagged: clid:latest", "Untagged: clid:second"]
    assert ok("--root", str(root), "images", "-q") == ""
