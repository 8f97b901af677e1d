"""OverlayFS on a real kernel: mounts with many lowers, whiteouts, opaque dirs, diff()."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pycontainers.errors import SpecError
from pycontainers.fs.overlay import OverlayError, OverlayFS, upper_diff
from pycontainers.images import apply_layer

pytestmark = pytest.mark.root


def mount_options(target: Path) -> str | None:
    """The super options of the mount at ``target`` in /proc/self/mountinfo."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(target):
                return fields[-1]
    return None


def make_layers(tmp_path: Path, n: int, *, prefix: str = "layer") -> list[Path]:
    """``n`` lower dirs, bottom first; each has its own file and writes ``top``."""
    out = []
    for i in range(n):
        d = tmp_path / f"{prefix}{i}"
        d.mkdir(parents=True)
        (d / f"f{i}").write_text(str(i))
        (d / "top").write_text(str(i))
        out.append(d)
    return out


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("upper", "work", "mnt"):
        out[name] = tmp_path / name
        out[name].mkdir()
    return out


def test_mount_several_lowers_with_upper(
    tmp_path: Path, dirs: dict[str, Path], no_leaks: Any
) -> None:
    bottom, middle, top = make_layers(tmp_path, 3)
    (bottom / "shadowed").write_text("bottom")
    (top / "shadowed").write_text("top")
    (middle / "d").mkdir()
    (middle / "d" / "from-middle").write_text("m")
    (bottom / "d").mkdir()
    (bottom / "d" / "from-bottom").write_text("b")
    mnt = dirs["mnt"]
    with OverlayFS.mount(mnt, [top, middle, bottom], upper=dirs["upper"], work=dirs["work"]) as ov:
        assert ov.mounted
        assert mount_options(mnt) is not None
        assert sorted(os.listdir(mnt)) == ["d", "f0", "f1", "f2", "shadowed", "top"]
        assert (mnt / "top").read_text() == "2"  # the first lower is the topmost
        assert (mnt / "shadowed").read_text() == "top"
        assert sorted(os.listdir(mnt / "d")) == ["from-bottom", "from-middle"]  # merged
        (mnt / "top").write_text("upper")  # copy-up
        assert (mnt / "top").read_text() == "upper"
        assert (dirs["upper"] / "top").read_text() == "upper"
        assert (top / "top").read_text() == "2"  # lowers are never written
        assert "redirect_dir=nofollow" in ov.options and "index=off" in ov.options
    assert not ov.mounted
    assert mount_options(mnt) is None
    ov.unmount()  # a second unmount is a no-op


def test_upper_shadows_lowers(tmp_path: Path, dirs: dict[str, Path], no_leaks: Any) -> None:
    lower_a, lower_b = make_layers(tmp_path, 2)
    (dirs["upper"] / "top").write_text("from upper")
    with OverlayFS.mount(dirs["mnt"], [lower_b, lower_a], upper=dirs["upper"], work=dirs["work"]):
        assert (dirs["mnt"] / "top").read_text() == "from upper"


def test_delete_makes_a_whiteout_and_rmdir_mkdir_an_opaque_dir(
    tmp_path: Path, dirs: dict[str, Path], no_leaks: Any
) -> None:
    (lower,) = make_layers(tmp_path, 1)
    (lower / "dir").mkdir()
    (lower / "dir" / "old").write_text("old")
    mnt, upper = dirs["mnt"], dirs["upper"]
    with OverlayFS.mount(mnt, [lower], upper=upper, work=dirs["work"]):
        os.unlink(mnt / "f0")
        shutil.rmtree(mnt / "dir")
        (mnt / "dir").mkdir()
        (mnt / "dir" / "new").write_text("new")
        assert not (mnt / "f0").exists()
        assert os.listdir(mnt / "dir") == ["new"]
    wh = os.lstat(upper / "f0")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == os.makedev(0, 0)
    assert os.getxattr(upper / "dir", "trusted.overlay.opaque") == b"y"
    assert (lower / "f0").exists()


def _members(stream: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(stream)) as tf:
        return {m.name.rstrip("/"): m for m in tf}


def test_diff_is_an_oci_layer(tmp_path: Path, dirs: dict[str, Path], no_leaks: Any) -> None:
    (lower,) = make_layers(tmp_path, 1)
    (lower / "dir").mkdir()
    (lower / "dir" / "old").write_text("old")
    (lower / "keep").mkdir()
    (lower / "keep" / "gone").write_text("g")
    mnt, upper = dirs["mnt"], dirs["upper"]
    with OverlayFS.mount(mnt, [lower], upper=upper, work=dirs["work"]) as ov:
        os.unlink(mnt / "f0")
        os.unlink(mnt / "keep" / "gone")
        shutil.rmtree(mnt / "dir")
        (mnt / "dir").mkdir()
        (mnt / "dir" / "new").write_text("new")
        (mnt / "big").write_bytes(os.urandom(100_001))
        os.link(mnt / "big", mnt / "big-link")
        os.symlink("big", mnt / "sym")
        os.mkfifo(mnt / "fifo")
        os.mknod(mnt / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.chown(mnt / "big", 12, 34)
        os.chmod(mnt / "big", 0o4750)
        os.setxattr(mnt / "big", "user.k", b"\x00\xffbinary")
        data = b"".join(ov.diff())
    m = _members(data)
    assert m[".wh.f0"].isreg() and m[".wh.f0"].size == 0
    assert m["keep/.wh.gone"].isreg()
    assert m["keep"].isdir()
    assert m["dir"].isdir() and m["dir/.wh..wh..opq"].isreg() and m["dir/new"].isreg()
    big = m["big"]
    assert big.size == 100_001 and big.mode == 0o4750 and (big.uid, big.gid) == (12, 34)
    assert big.pax_headers["SCHILY.xattr.user.k"].encode("utf-8", "surrogateescape") == (
        b"\x00\xffbinary"
    )
    assert m["big-link"].islnk() and m["big-link"].linkname == "big"
    assert m["sym"].issym() and m["sym"].linkname == "big"
    assert m["fifo"].isfifo()
    assert m["null"].ischr() and (m["null"].devmajor, m["null"].devminor) == (1, 3)
    assert not any("overlay" in k for info in m.values() for k in info.pax_headers)
    # the same tree gives the same bytes, and the diff of a mounted or unmounted overlay agree
    assert b"".join(upper_diff(upper)) == data


def test_diff_applied_to_the_lowers_gives_the_merged_tree(
    tmp_path: Path, dirs: dict[str, Path], no_leaks: Any
) -> None:
    (lower,) = make_layers(tmp_path, 1)
    (lower / "dir").mkdir()
    (lower / "dir" / "old").write_text("old")
    (lower / "other").mkdir()
    (lower / "other" / "x").write_text("x")
    mnt = dirs["mnt"]
    with OverlayFS.mount(mnt, [lower], upper=dirs["upper"], work=dirs["work"]) as ov:
        os.unlink(mnt / "f0")
        shutil.rmtree(mnt / "dir")
        (mnt / "dir").mkdir()
        (mnt / "dir" / "new").write_text("new")
        (mnt / "other" / "y").write_text("y")
        (mnt / "top").write_text("changed")
        merged = _listing(mnt)
        layer = tmp_path / "diff.tar"
        layer.write_bytes(b"".join(ov.diff()))
    applied_root = tmp_path / "applied"
    shutil.copytree(lower, applied_root, symlinks=True)
    apply_layer(applied_root, layer)
    assert _listing(applied_root) == merged


def _listing(root: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = Path(path).read_bytes()
    return out


def test_read_only_overlay_of_two_lowers(
    tmp_path: Path, dirs: dict[str, Path], no_leaks: Any
) -> None:
    a, b = make_layers(tmp_path, 2)
    with OverlayFS.mount(dirs["mnt"], [b, a]) as ov:
        assert (dirs["mnt"] / "top").read_text() == "1"
        with pytest.raises(OSError):
            (dirs["mnt"] / "new").write_text("x")
        with pytest.raises(OverlayError, match="no diff"):
            ov.diff()


@pytest.mark.parametrize("method", ["fsconfig", "legacy"])
def test_two_hundred_lowers_with_long_paths(tmp_path: Path, method: str, no_leaks: Any) -> None:
    base = tmp_path / ("x" * 100)
    lowers = make_layers(base, 200, prefix="layer-with-a-rather-long-name-" + "y" * 60 + "-")
    assert sum(len(str(p)) + 1 for p in lowers) > 4 * os.sysconf("SC_PAGESIZE")
    upper, work, mnt = tmp_path / "u", tmp_path / "w", tmp_path / "m"
    for d in (upper, work, mnt):
        d.mkdir()
    with OverlayFS.mount(mnt, lowers[::-1], upper=upper, work=work, method=method):
        names = os.listdir(mnt)
        assert len(names) == 201
        assert (mnt / "top").read_text() == "199"
        assert (mnt / "f0").read_text() == "0"
    # read-only, too
    with OverlayFS.mount(mnt, lowers[::-1], method=method):
        assert (mnt / "f150").read_text() == "150"


def test_a_lower_path_longer_than_fsconfig_takes(tmp_path: Path, dirs: dict[str, Path]) -> None:
    deep = tmp_path / ("a" * 200) / ("b" * 200)
    deep.mkdir(parents=True)
    (deep / "deep").write_text("d")
    (other,) = make_layers(tmp_path, 1)
    with OverlayFS.mount(dirs["mnt"], [deep, other]):
        assert (dirs["mnt"] / "deep").read_text() == "d"


def test_options(tmp_path: Path, dirs: dict[str, Path], no_leaks: Any) -> None:
    (lower,) = make_layers(tmp_path, 1)
    with OverlayFS.mount(
        dirs["mnt"],
        [lower],
        upper=dirs["upper"],
        work=dirs["work"],
        volatile=True,
        userxattr=True,
        nosuid=True,
    ) as ov:
        opts = mount_options(dirs["mnt"])
        assert opts is not None and "volatile" in opts and "userxattr" in opts
        os.unlink(dirs["mnt"] / "f0")
    assert "volatile" in ov.options
    assert list(_members(b"".join(ov.diff()))) == [".wh.f0"]


def test_redirect_dir_renames_cannot_be_diffed(tmp_path: Path, dirs: dict[str, Path]) -> None:
    (lower,) = make_layers(tmp_path, 1)
    (lower / "d").mkdir()
    (lower / "d" / "x").write_text("x")
    with OverlayFS.mount(
        dirs["mnt"], [lower], upper=dirs["upper"], work=dirs["work"], redirect_dir=True
    ) as ov:
        os.rename(dirs["mnt"] / "d", dirs["mnt"] / "e")
        with pytest.raises(OverlayError, match="renamed"):
            b"".join(ov.diff())


def test_unmounts_when_the_block_raises(tmp_path: Path, dirs: dict[str, Path]) -> None:
    a, b = make_layers(tmp_path, 2)
    with pytest.raises(RuntimeError), OverlayFS.mount(dirs["mnt"], [b, a]):
        raise RuntimeError("boom")
    assert mount_options(dirs["mnt"]) is None


def test_errors(tmp_path: Path, dirs: dict[str, Path], no_leaks: Any) -> None:
    a, b = make_layers(tmp_path, 2)
    with pytest.raises(OverlayError, match=r"lower layer .*missing does not exist") as info:
        OverlayFS.mount(dirs["mnt"], [a, tmp_path / "missing"])
    assert info.value.path == str(tmp_path / "missing")
    with pytest.raises(OverlayError, match="is not a directory"):
        OverlayFS.mount(dirs["mnt"], [a, a / "f0"])
    with pytest.raises(SpecError, match="at least two lowers"):
        OverlayFS.mount(dirs["mnt"], [a])
    with pytest.raises(SpecError, match="give both or neither"):
        OverlayFS.mount(dirs["mnt"], [a], upper=dirs["upper"])
    with pytest.raises(SpecError, match="at least one lower"):
        OverlayFS.mount(dirs["mnt"], [], upper=dirs["upper"], work=dirs["work"])
    with pytest.raises(SpecError):
        OverlayFS.mount(dirs["mnt"], [a, b], method="magic")
    # a work dir on another filesystem than upper: the kernel refuses, we say where
    shm = Path("/dev/shm") / f"pc-test-work-{os.getpid()}"
    shm.mkdir()
    try:
        with pytest.raises(OverlayError, match=r"overlay mount at .* failed") as err:
            OverlayFS.mount(dirs["mnt"], [a], upper=dirs["upper"], work=shm)
        assert err.value.errno != 0
    finally:
        shm.rmdir()
    assert mount_options(dirs["mnt"]) is None
