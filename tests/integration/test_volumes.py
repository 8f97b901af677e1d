"""Named and anonymous volumes, bind mount checks, propagation and tmpfs options."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers import _sys
from pycontainers.images import default_store
from pycontainers.runtime.volumes import Volume, VolumeError, volumes_root

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image of two layers: /data holds seed (uid 1000:50, 0640) and, in the lower layer
    only, gone (whited out by the upper one)."""
    from conftest import make_busybox_rootfs  # not the shared one: tests mount into that

    rootfs = make_busybox_rootfs(tmp_path_factory.mktemp("volimg") / "rootfs")
    data = rootfs / "data"
    data.mkdir(mode=0o750)
    (data / "seed").write_text("seed\n")
    (data / "gone").write_text("gone\n")
    os.chown(data / "seed", 1000, 50)
    os.chmod(data / "seed", 0o640)
    os.chown(data, 1000, 1000)
    default_store().import_rootfs(rootfs, "localhost/vol:base")
    with pc.Container.create("localhost/vol:base", ["rm", "/data/gone"]) as c:
        c.start()
        assert c.wait(timeout=30) == 0
        c.commit("localhost/vol:test")
    return "localhost/vol:test"


def sh(image: str, script: str, **kw: object) -> pc.CompletedContainer:
    return pc.run(image, ["sh", "-c", script], capture_output=True, timeout=30, **kw)  # type: ignore[arg-type]


def vol(name: str | None, target: str = "/data", **kw: object) -> pc.Mount:
    return pc.Mount(target, name, type="volume", **kw)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_volumes_left() -> object:
    yield
    for v in Volume.list():
        v.remove(force=True)


def test_named_volume_created_on_first_use_and_shared(image: str, no_leaks: object) -> None:
    with pytest.raises(VolumeError, match="no such volume"):
        Volume.get("shared")
    r = sh(image, "echo from-first > /data/note", mounts=[vol("shared")])
    assert r.returncode == 0, r.stderr
    v = Volume.get("shared")
    info = v.inspect()
    assert info["Name"] == "shared" and info["Driver"] == "local"
    assert info["Mountpoint"] == v.mountpoint == os.path.join(volumes_root(), "shared", "_data")
    assert re.match(r"\d{4}-\d\d-\d\dT", info["CreatedAt"]) and info["Labels"] == {}
    r = sh(image, "cat /data/note", mounts=[vol("shared", "/elsewhere/x")])  # another path
    assert r.stdout == b"", r.stderr  # /data is the image's; the volume is at /elsewhere/x
    r = sh(image, "cat /elsewhere/x/note", mounts=[vol("shared", "/elsewhere/x")])
    assert r.stdout == b"from-first\n"
    assert [x.name for x in Volume.list()] == ["shared"]


def test_two_running_containers_share_a_volume(image: str) -> None:
    with pc.Container.create(image, ["sh", "-c", "sleep 0.3; echo hi > /data/ping; sleep 30"],
                             mounts=[vol("pair")]) as a:  # fmt: skip
        a.start()
        deadline = time.monotonic() + 10
        while True:
            r = sh(image, "cat /data/ping", mounts=[vol("pair")])
            if r.stdout == b"hi\n" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert r.stdout == b"hi\n"


def test_image_content_copied_on_first_use_only(image: str) -> None:
    r = sh(image, "ls -ln /data; stat -c '%a %u:%g' /data /data/seed", mounts=[vol("seeded")])
    out = r.stdout.decode()
    assert "seed" in out and "gone" not in out, out  # the upper layer's whiteout counts
    assert out.splitlines()[-2:] == ["750 1000:1000", "640 1000:50"]
    assert sh(image, "rm /data/seed", mounts=[vol("seeded")]).returncode == 0
    r = sh(image, "ls /data", mounts=[vol("seeded")])
    assert r.stdout == b""  # emptied by a container: not filled again
    r = sh(image, "ls /data", mounts=[vol("plain", options=("nocopy",))])
    assert r.stdout == b""
    assert os.listdir(Volume.get("plain").mountpoint) == []


def test_remove_refused_while_in_use_then_prune(image: str) -> None:
    with pc.Container.create(image, ["sleep", "30"], mounts=[vol("busy")]) as c:
        c.start()
        v = Volume.get("busy")
        assert v.users() == [c.id]
        with pytest.raises(VolumeError, match=f"in use by container.*{c.id[:12]}"):
            v.remove()
        assert Volume.prune(all=True) == []
    assert v.users() == []
    Volume.create("idle", labels={"team": "a"})
    sh(image, "true", mounts=[vol(None, "/anon")])
    anon = [x for x in Volume.list() if x.anonymous]
    assert len(anon) == 1 and re.fullmatch(r"[0-9a-f]{64}", anon[0].name)
    assert [x.name for x in Volume.list(labels={"team": "a"})] == ["idle"]
    assert Volume.prune() == [anon[0].name]  # only anonymous volumes by default
    assert sorted(Volume.prune(all=True)) == ["busy", "idle"]
    assert Volume.list() == [] and os.listdir(volumes_root()) == [".lock"]


def test_read_only_volume(image: str) -> None:
    r = sh(image, "cat /data/seed; echo x > /data/new", mounts=[vol("ro", read_only=True)])
    assert r.stdout == b"seed\n" and b"Read-only file system" in r.stderr
    assert r.returncode != 0


def test_corrupt_metadata_is_a_clear_error() -> None:
    v = Volume.create("broken")
    Path(v.mountpoint).parent.joinpath("volume.json").write_text("{not json")
    with pytest.raises(VolumeError, match="corrupt metadata of volume broken"):
        Volume.get("broken")
    assert Volume.list() == []  # left out (and logged), not fatal
    with pytest.raises(pc.SpecError, match=r"Mount\.source"):
        vol("../etc")
    with pytest.raises(VolumeError, match="already exists"):
        Volume.create("broken")
    shutil.rmtree(Path(v.mountpoint).parent)


def test_missing_bind_source_is_a_spec_error_leaving_nothing(
    busybox_rootfs: Path, tmp_path: Path, no_leaks: object
) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(pc.SpecError) as info:
        pc.run(str(busybox_rootfs), ["true"],
               mounts=[vol("never", "/v"), pc.Mount("/x", str(missing))])  # fmt: skip
    assert info.value.field == "Mount.source" and "create=True" in str(info.value)
    assert not missing.exists() and not os.path.exists(os.path.join(volumes_root(), "never"))
    with pytest.raises(pc.SpecError, match=r"Mount\.create"):
        pc.Mount("/t", type="tmpfs", create=True)
    made = tmp_path / "made" / "deep"
    r = pc.run(str(busybox_rootfs), ["sh", "-c", "echo ok > /x/f"], timeout=30,
               mounts=[pc.Mount("/x", str(made), create=True)])  # fmt: skip
    assert r.returncode == 0 and (made / "f").read_text() == "ok\n"


def test_tmpfs_size_and_mode(busybox_rootfs: Path) -> None:
    r = pc.run(str(busybox_rootfs), ["sh", "-c", "stat -c %a /t; grep ' /t ' /proc/mounts"],
               mounts=[pc.Mount("/t", type="tmpfs", options="size=1m,mode=1770")],
               capture_output=True, timeout=30)  # fmt: skip
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "1770", r.stderr
    assert "size=1024k" in lines[1] and "mode=1770" in lines[1]


def test_rslave_bind_receives_host_mounts(busybox_rootfs: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _sys.mount("tmpfs", str(src), "tmpfs", 0, "size=1m")
    try:
        _sys.mount(None, str(src), None, _sys.MS_SHARED)
        (src / "sub").mkdir()
        spec_mount = pc.Mount("/b", str(src), options="rslave")
        with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], mounts=[spec_mount]) as c:
            c.start()
            assert c.spec is not None and c.spec.rootfs_propagation == "rslave"
            _sys.mount("tmpfs", str(src / "sub"), "tmpfs", 0, "size=1m")
            try:
                (src / "sub" / "late").write_text("x")
                r = c.exec(["ls", "/b/sub"], capture_output=True)
                assert r.stdout == b"late\n", r.stderr  # mounted on the host after the start
            finally:
                _sys.umount2(str(src / "sub"), _sys.MNT_DETACH)
    finally:
        _sys.umount2(str(src), _sys.MNT_DETACH)


def test_volume_metadata_file(image: str) -> None:
    Volume.create("meta", labels={"a": "1"})
    raw = json.loads(Path(volumes_root(), "meta", "volume.json").read_text())
    assert raw["Labels"] == {"a": "1"} and raw["Driver"] == "local"
    assert raw["Mountpoint"].endswith("/volumes/meta/_data")
