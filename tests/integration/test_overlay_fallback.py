"""The overlay fallback for kernels without ``lowerdir+``: one ``lowerdir=`` string, and
short relative symlinks when that string does not fit a page. Forced here with
``PYCONTAINERS_OVERLAY_LOWERDIR_PLUS=0``, so it runs (on real mounts) on any kernel.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest

import pycontainers as pc
from pycontainers import _fsapi
from pycontainers.fs import overlay
from pycontainers.fs.overlay import OverlayFS, detached_overlay
from pycontainers.runtime import files
from pycontainers.spec import OverlayRootfs

pytestmark = pytest.mark.root

PAGE = os.sysconf("SC_PAGESIZE")
N_LAYERS = 40


@pytest.fixture
def fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(overlay.ENV_LOWERDIR_PLUS, "0")


def tmp_links() -> set[str]:
    """The fallback's temporary link directories left in the temp dir."""
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("pco-")}


def mount_options(target: Path) -> str:
    """The super options of the mount at ``target``, mountinfo's octal escapes undone."""
    with open("/proc/self/mountinfo") as f:
        (opts,) = [line.split()[-1] for line in f if line.split()[4] == str(target)]
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), opts)


def whiteout(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def many_layers(tmp_path: Path, busybox_rootfs: Path) -> list[Path]:
    """``N_LAYERS`` layer dirs with long names over busybox, **topmost first**: files from
    the bottom and top layers, a whiteout and an opaque directory in between.
    """
    base = tmp_path / ("long-" + "p" * 60)
    layers = []
    for i in range(N_LAYERS):
        d = base / f"layer-{i:03d}-with-a-name-long-enough-to-overflow-one-page-{'q' * 60}"
        (d / "m").mkdir(parents=True)
        (d / "m" / f"f{i}").write_text(f"{i}\n")
        layers.append(d)
    bottom, middle, top = layers[0], layers[N_LAYERS // 2], layers[-1]
    (bottom / "data" / "dir").mkdir(parents=True)
    (bottom / "data" / "bottom").write_text("from the bottom\n")
    (bottom / "data" / "shared").write_text("bottom version\n")
    (bottom / "data" / "gone").write_text("deleted above\n")
    (bottom / "data" / "dir" / "old").write_text("hidden by an opaque dir\n")
    (middle / "data" / "dir").mkdir(parents=True)
    whiteout(middle / "data" / "gone")
    os.setxattr(middle / "data" / "dir", "trusted.overlay.opaque", b"y")
    (middle / "data" / "dir" / "new").write_text("in the opaque dir\n")
    (top / "data").mkdir()
    (top / "data" / "top").write_text("from the top\n")
    (top / "data" / "shared").write_text("top version\n")
    return [*layers[::-1], busybox_rootfs]


SCRIPT = (
    "cat /data/bottom /data/top /data/shared; ls /data/gone 2>&1; ls /data/dir; ls /m | wc -l; "
    "grep -o 'lowerdir[^,]*' /proc/self/mountinfo | head -1 | cut -c1-20; echo w > /data/w"
)


def check_output(out: bytes) -> None:
    lines = out.decode().splitlines()
    assert lines[:3] == ["from the bottom", "from the top", "top version"]
    assert "No such file" in lines[3]  # the whiteout hides the bottom layer's file
    assert lines[4] == "new"  # the opaque dir hides the bottom layer's "old"
    assert lines[5].strip() == str(N_LAYERS)
    assert lines[6] == "lowerdir=l/0:l/1:l/2"  # one string, of short relative links


def test_container_from_many_layers_over_a_page(
    fallback: None, tmp_path: Path, busybox_rootfs: Path, no_leaks: Any
) -> None:
    lowers = many_layers(tmp_path, busybox_rootfs)
    assert sum(len(str(p)) + 1 for p in lowers) > PAGE  # the plain string cannot be used
    before = tmp_links()
    r = pc.run(OverlayRootfs(tuple(map(str, lowers))), ["sh", "-c", SCRIPT],
               capture_output=True, timeout=30)  # fmt: skip
    assert r.returncode == 0, r.stderr
    check_output(r.stdout)
    assert not (lowers[0] / "data" / "w").exists()  # writes went to the container's layer
    assert tmp_links() == before


def test_stopped_container_files_through_the_fallback(
    fallback: None, tmp_path: Path, busybox_rootfs: Path
) -> None:
    lowers = many_layers(tmp_path, busybox_rootfs)
    with pc.Container.create(OverlayRootfs(tuple(map(str, lowers))), ["sh", "-c", SCRIPT]) as c:
        c.start()
        assert c.wait(timeout=30) == 0
        # a stopped container's tree is a detached overlay of its layers, remade here
        data = b"".join(files.copy_from(c, "/data"))
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        names = set(t.getnames())
        assert {"data/bottom", "data/top", "data/w", "data/dir/new"} <= names
        assert not {"data/gone", "data/dir/old"} & names
        member = t.extractfile("data/shared")
        assert member is not None and member.read() == b"top version\n"


def test_detached_overlay_of_many_layers_leaves_nothing(
    fallback: None, tmp_path: Path, busybox_rootfs: Path, no_leaks: Any
) -> None:
    lowers = many_layers(tmp_path, busybox_rootfs)
    before = tmp_links()
    fd = detached_overlay(lowers)
    try:
        for name, want in (("data/bottom", b"from the bottom\n"), ("data/top", b"from the top\n")):
            f = _fsapi.openat2(fd, name, os.O_RDONLY, resolve=_fsapi.RESOLVE_IN_ROOT)
            try:
                assert os.read(f, 100) == want
            finally:
                os.close(f)
        with pytest.raises(FileNotFoundError):
            os.stat("data/gone", dir_fd=fd)
    finally:
        os.close(fd)
    assert tmp_links() == before  # and no_leaks: no mount in this namespace, no fd


def test_odd_paths_fit_one_escaped_string(fallback: None, tmp_path: Path, no_leaks: Any) -> None:
    layers = []
    for i in range(3):
        d = tmp_path / f"a:b,c\\d-{i}"
        d.mkdir()
        (d / "top").write_text(str(i))
        (d / f"f{i}").write_text(str(i))
        layers.append(d)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with OverlayFS.mount(mnt, layers[::-1]):
        assert (mnt / "top").read_text() == "2"
        assert sorted(os.listdir(mnt)) == ["f0", "f1", "f2", "top"]
        opts = mount_options(mnt)
    escaped = [str(p).replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,") for p in layers]
    assert f"lowerdir={':'.join(escaped[::-1])}," in opts  # one string, not links


def test_the_environment_chooses_and_the_probe_is_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    supported = overlay.lowerdir_plus_supported()
    assert overlay.lowerdir_plus_supported() is supported  # probed once per process
    layers = []
    for i in range(2):
        layers.append(tmp_path / f"l{i}")
        layers[-1].mkdir()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    for env, plus in (("0", False), ("auto", bool(supported)), ("1", True)):
        monkeypatch.setenv(overlay.ENV_LOWERDIR_PLUS, env)
        if plus and not supported:
            with pytest.raises(overlay.OverlayError, match="lowerdir"):
                OverlayFS.mount(mnt, layers)
            continue
        with OverlayFS.mount(mnt, layers):
            assert ("lowerdir+=" in mount_options(mnt)) == plus
