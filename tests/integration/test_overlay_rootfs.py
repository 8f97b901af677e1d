"""Containers on a rootfs of read-only layers plus a writable layer of their own."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.fs.overlay import upper_diff
from pycontainers.spec import OverlayRootfs

pytestmark = pytest.mark.root


@pytest.fixture
def top_layer(tmp_path: Path) -> Path:
    layer = tmp_path / "top"
    (layer / "data").mkdir(parents=True)
    (layer / "data" / "f").write_text("from the top layer\n")
    return layer


def layer_dirs(data_root: Path) -> list[str]:
    path = data_root / "containers"
    return sorted(os.listdir(path)) if path.exists() else []


def test_writes_go_to_the_containers_own_layer(
    busybox_rootfs: Path, top_layer: Path, no_leaks: object
) -> None:
    data_root = Path(os.environ["PYCONTAINERS_ROOT"])
    before = sorted(os.listdir(busybox_rootfs / "bin"))
    r = pc.run(OverlayRootfs((str(top_layer), str(busybox_rootfs))),
               ["sh", "-c", "cat /data/f; echo new > /data/g; rm /bin/true; ls /bin/true 2>&1; "
                "head -1 /proc/self/mountinfo | cut -d' ' -f5,8,9"],
               capture_output=True, timeout=30)  # fmt: skip
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "from the top layer" and "No such file" in lines[1]
    assert lines[2] == "/ overlay none"  # mount point, fstype, source
    # the layers are untouched, and the container's own layer is gone with it
    assert sorted(os.listdir(busybox_rootfs / "bin")) == before
    assert os.listdir(top_layer / "data") == ["f"]
    assert layer_dirs(data_root) == []


def test_container_changes_become_a_layer_with_whiteouts(
    busybox_rootfs: Path, top_layer: Path
) -> None:
    script = "echo changed > /data/f; rm /bin/ls; mkdir /new; echo n > /new/file"
    with pc.Container.create(OverlayRootfs((str(top_layer), str(busybox_rootfs))),
                             ["sh", "-c", script]) as c:  # fmt: skip
        c.start()
        assert c.wait(timeout=30) == 0
        assert c.upper_dir is not None
        upper = c.upper_dir
        with tarfile.open(fileobj=io.BytesIO(b"".join(upper_diff(upper)))) as layer:
            assert {"bin/.wh.ls", "data/f", "new/file"} <= set(layer.getnames())
            member = layer.extractfile("data/f")
            assert member is not None and member.read() == b"changed\n"
    assert not os.path.exists(upper)


def test_failed_start_leaves_no_layer(
    busybox_rootfs: Path, top_layer: Path, no_leaks: object
) -> None:
    data_root = Path(os.environ["PYCONTAINERS_ROOT"])
    with pytest.raises(pc.ContainerStartError):
        pc.run(OverlayRootfs((str(top_layer), str(busybox_rootfs))), ["no-such-command"])
    assert layer_dirs(data_root) == []


def test_given_upper_and_work_are_kept(busybox_rootfs: Path, tmp_path: Path) -> None:
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    pc.run(
        OverlayRootfs((str(busybox_rootfs),), str(upper), str(work)), ["sh", "-c", "echo k > /kept"]
    )
    assert (upper / "kept").read_text() == "k\n"


def test_invalid_overlay_rootfs_names_its_field() -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: OverlayRootfs(()), "OverlayRootfs.lowers"),
        (lambda: OverlayRootfs(("relative",)), "OverlayRootfs.lowers"),
        (lambda: OverlayRootfs(("/a",), upper="/u"), "OverlayRootfs.work"),
    ]
    for make, field in cases:
        with pytest.raises(pc.SpecError) as info:
            make()
        assert info.value.field == field
    with pytest.raises(pc.PyContainersError, match="not a directory"):
        pc.run(OverlayRootfs(("/nonexistent/layer",)), ["true"])
