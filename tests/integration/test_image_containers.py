"""Containers from images: config defaults, commit, save/load round trips, the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.images import ImageConfig, default_store

pytestmark = pytest.mark.root


@pytest.fixture
def image(busybox_rootfs: Path) -> pc.Image:
    config = ImageConfig(
        env=("GREETING=hello", "PATH=/bin"),
        entrypoint=("sh", "-c"),
        cmd=("echo $GREETING from $(pwd) as $(id -u):$(id -g) $(id -G)",),
        working_dir="/tmp",
        user="alice",
    )
    return default_store().import_rootfs(busybox_rootfs, "localhost/bb:test", config=config)


def cli(*args: str, root: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"PYCONTAINERS_ROOT": root} if root else {})}
    return subprocess.run([sys.executable, "-m", "pycontainers", *args], capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip


def test_image_config_supplies_the_defaults(image: pc.Image, no_leaks: object) -> None:
    r = pc.run("localhost/bb:test", capture_output=True, timeout=30)
    # user alice from the image's /etc/passwd, with her supplementary group from /etc/group
    assert r.stdout.decode().strip() == "hello from /tmp as 1000:1000 1000 50"
    r = pc.run(image, ["echo $GREETING-$X"], env={"X": "given"}, capture_output=True, timeout=30)
    assert r.stdout == b"hello-given\n"  # args replace Cmd, the entrypoint stays
    r = pc.run(image, ["-c", "pwd"], entrypoint=["/bin/sh"], cwd="/", user="0", capture_output=True)
    assert r.stdout == b"/\n"


def test_commit_save_load_into_a_fresh_store_and_run(image: pc.Image, tmp_path: Path) -> None:
    with pc.Container.create("localhost/bb:test", ["echo changed > /etc/marker; rm /bin/ls"],
                             user="0") as c:  # fmt: skip
        c.start()
        assert c.wait(timeout=30) == 0
        committed = c.commit("localhost/bb:committed", message="test commit")
    assert len(committed.diff_ids) == 2 and committed.config.working_dir == "/tmp"
    archive = tmp_path / "out.tar"
    default_store().save(["localhost/bb:committed"], archive, format="docker-archive")
    fresh = tmp_path / "fresh"
    loaded = pc.ImageStore(fresh / "images").load(archive)
    assert [str(i.reference) for i in loaded] == ["localhost/bb:committed"]
    r = pc.run("localhost/bb:committed", ["cat /etc/marker; ls /bin/ls 2>&1"], user="0",
               image_root=str(fresh), capture_output=True, timeout=30)  # fmt: skip
    assert r.stdout.decode().splitlines() == ["changed", "ls: /bin/ls: No such file or directory"]


@pytest.mark.skipif(
    shutil.which("umoci") is None, reason="umoci is not installed (.ci/run installs it)"
)
def test_an_image_made_by_umoci_runs_with_its_config(tmp_path: Path, busybox_rootfs: Path) -> None:
    layout, bundle = tmp_path / "layout", tmp_path / "bundle"
    subprocess.run(["umoci", "init", "--layout", str(layout)], check=True)
    subprocess.run(["umoci", "new", "--image", f"{layout}:t"], check=True)
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:t", str(bundle)], check=True)
    shutil.copytree(busybox_rootfs, bundle / "rootfs", dirs_exist_ok=True, symlinks=True)
    (bundle / "rootfs" / "srv").mkdir(exist_ok=True)
    (bundle / "rootfs" / "srv" / "hello").write_text("from umoci\n")
    subprocess.run(["umoci", "repack", "--image", f"{layout}:t", str(bundle)], check=True)
    subprocess.run(["umoci", "config", "--image", f"{layout}:t", "--config.env", "FROM=umoci",
                    "--config.workingdir", "/srv", "--config.cmd", "sh", "--config.cmd", "-c",
                    "--config.cmd", "cat hello; echo $FROM; pwd"], check=True)  # fmt: skip
    images = default_store().load(layout, repository="localhost/umoci")
    r = pc.run(images[0], capture_output=True, timeout=30)
    assert r.stdout.decode().split("\n")[:3] == ["from umoci", "umoci", "/srv"], r.stderr


def test_cli_image_commands(image: pc.Image, tmp_path: Path, state_root: Path) -> None:
    r = cli("images")
    assert r.returncode == 0 and "localhost/bb" in r.stdout and "test" in r.stdout
    assert cli("tag", "localhost/bb:test", "localhost/bb:other").returncode == 0
    ids = cli("images", "-q").stdout.split()
    assert len(ids) >= 2 and len(set(ids)) < len(ids)  # two names, one image
    inspect = cli("image", "inspect", "localhost/bb:other")
    assert inspect.returncode == 0 and "localhost/bb:other" in inspect.stdout
    assert cli("rmi", "localhost/bb:other").returncode == 0
    assert "localhost/bb:other" not in cli("images").stdout
    archive = tmp_path / "bb.tar"
    assert cli("save", "-o", str(archive), "localhost/bb:test").returncode == 0
    other_root = str(tmp_path / "root2")
    r = cli("--root", other_root, "load", "-i", str(archive))
    assert r.returncode == 0 and "Loaded image: localhost/bb:test" in r.stdout, r.stderr
    r = cli("--root", other_root, "run", "--rm", "localhost/bb:test")
    assert r.returncode == 0 and r.stdout.startswith("hello from /tmp"), r.stderr
    r = cli("run", "--rm", "-e", "GREETING=bye", "-w", "/", "localhost/bb:test")
    assert r.stdout.strip().startswith("bye from /"), r.stderr
    assert cli("--root", other_root, "image", "prune").returncode == 0
    r = cli("run", "localhost/missing:image")
    assert r.returncode == 125 and "Unable to find image" in r.stderr, r.stderr


def test_cli_commit_of_a_container_made_elsewhere(image: pc.Image) -> None:
    with pc.Container.create("localhost/bb:test", ["echo cli > /etc/by-cli"], user="0",
                             id="to-commit") as c:  # fmt: skip
        c.start()
        c.wait(timeout=30)
        r = cli("commit", "-m", "by the cli", "to-commit", "localhost/bb:cli")
        assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    ran = pc.run("localhost/bb:cli", ["cat /etc/by-cli"], user="0", capture_output=True, timeout=30)
    assert ran.stdout == b"cli\n"


@pytest.mark.skipif(
    shutil.which("skopeo") is None, reason="skopeo is not installed (.ci/run installs it)"
)
def test_an_image_written_by_skopeo_runs(image: pc.Image, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    default_store().save(["localhost/bb:test"], layout, format="oci-dir")
    archive = tmp_path / "by-skopeo.tar"
    subprocess.run(["skopeo", "copy", f"oci:{layout}:test", f"docker-archive:{archive}:localhost/sk:1"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    fresh = tmp_path / "fresh"
    loaded = pc.ImageStore(fresh / "images").load(archive)
    assert [str(i.reference) for i in loaded] == ["localhost/sk:1"]
    r = pc.run("localhost/sk:1", image_root=str(fresh), capture_output=True, timeout=30)
    assert r.stdout.decode().strip() == "hello from /tmp as 1000:1000 1000 50", r.stderr


LOAD_REMOVE = r"""
import sys
from pycontainers.images import ImageStore
store, archive, name, rounds = ImageStore(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
for i in range(rounds):
    for image in store.load(archive, repository=name):
        store.tag(image, f"{name}:r{i}")
    store.remove(f"{name}:r{i}")
    if i % 5 == 4:
        store.prune()
print("done")
"""


def test_two_processes_loading_and_removing_in_one_store(image: pc.Image, tmp_path: Path) -> None:
    archive = tmp_path / "img.tar"
    default_store().save(["localhost/bb:test"], archive, format="oci-archive")
    root = tmp_path / "shared"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOAD_REMOVE, str(root), str(archive), f"localhost/p{n}", "15"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and out.strip() == "done", err
    store = pc.ImageStore(root)
    names = sorted(str(i.reference) for i in store.list())
    assert names == ["localhost/bb:test"]  # the loaded name survives; every r<i> tag went
    for img in store.list():
        for desc in (img.config_descriptor, *img.layers):
            store.content.verify(desc.digest)
    assert store.snapshots_for(img)  # layers still unpack and verify


def test_an_images_volumes_are_anonymous_volumes_populated_from_it(
    busybox_rootfs: Path, tmp_path: Path
) -> None:
    """Each of the image's ``Volumes`` gets an anonymous volume (as Docker), filled from the
    image's files there; a container's writes land in the volume, not in its layer, and
    ``rm -v`` removes it."""
    from pycontainers.runtime.volumes import Volume

    rootfs = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    (rootfs / "data").mkdir(exist_ok=True)  # the shared rootfs may have one from a test
    (rootfs / "data" / "seed").write_text("from-the-image\n")
    config = ImageConfig(env=("PATH=/bin",), volumes=("/data",))
    default_store().import_rootfs(rootfs, "localhost/bb:vol", config=config)
    before = {v.name for v in Volume.list()}
    r = cli("run", "-d", "--network", "none", "localhost/bb:vol",
            "sh", "-c", "cat /data/seed; echo written > /data/new")  # fmt: skip
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert cli("wait", cid).stdout.strip() == "0"
    assert cli("logs", cid).stdout == "from-the-image\n"
    (made,) = [v for v in Volume.list() if v.name not in before]
    assert made.anonymous
    assert Path(made.mountpoint, "new").read_text() == "written\n"
    assert Path(made.mountpoint, "seed").read_text() == "from-the-image\n"
    assert cli("rm", "-v", cid).returncode == 0
    assert {v.name for v in Volume.list()} == before
    default_store().remove("localhost/bb:vol")
