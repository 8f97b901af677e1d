"""Layers on a real kernel: every tar entry type, whiteouts, both target modes, compression,
atomic rejection of bad layers, path-traversal refusals, and interop with umoci."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from pycontainers.fs.overlay import OverlayFS
from pycontainers.images import (
    ContentStore,
    Digest,
    DigestMismatch,
    LayerError,
    SnapshotStore,
    apply_layer,
    chain_id,
    flatten,
)

pytestmark = pytest.mark.root

MTIME = 1_600_000_000

# -- building layers with Python's tarfile ----------------------------------------------------

Entry = tuple[tarfile.TarInfo, bytes | None]


def _info(name: str, typ: bytes, mode: int, uid: int, gid: int, mtime: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.mode = mode
    ti.uid = uid
    ti.gid = gid
    ti.mtime = mtime
    return ti


def reg(
    name: str,
    data: bytes = b"",
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    mtime: int = MTIME,
    xattrs: dict[str, bytes] | None = None,
) -> Entry:
    ti = _info(name, tarfile.REGTYPE, mode, uid, gid, mtime)
    ti.size = len(data)
    if xattrs:
        ti.pax_headers = {
            f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()
        }
    return ti, data


def dir_(
    name: str,
    mode: int = 0o755,
    uid: int = 0,
    gid: int = 0,
    mtime: int = MTIME,
    xattrs: dict[str, bytes] | None = None,
) -> Entry:
    ti = _info(name, tarfile.DIRTYPE, mode, uid, gid, mtime)
    if xattrs:
        ti.pax_headers = {
            f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()
        }
    return ti, None


def sym(name: str, target: str, uid: int = 0, gid: int = 0) -> Entry:
    ti = _info(name, tarfile.SYMTYPE, 0o777, uid, gid, MTIME)
    ti.linkname = target
    return ti, None


def hard(name: str, target: str) -> Entry:
    ti = _info(name, tarfile.LNKTYPE, 0o644, 0, 0, MTIME)
    ti.linkname = target
    return ti, None


def dev(name: str, kind: bytes, major: int, minor: int, mode: int = 0o666) -> Entry:
    ti = _info(name, kind, mode, 0, 0, MTIME)
    ti.devmajor, ti.devminor = major, minor
    return ti, None


def fifo(name: str, mode: int = 0o640) -> Entry:
    return _info(name, tarfile.FIFOTYPE, mode, 0, 0, MTIME), None


def whiteout(path: str) -> Entry:
    parent, _, base = path.rpartition("/")
    return reg(f"{parent}/.wh.{base}" if parent else f".wh.{base}", mode=0)


def opaque(directory: str) -> Entry:
    return reg(f"{directory.rstrip('/')}/.wh..wh..opq", mode=0)


def tar_bytes(entries: Iterable[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def write_layer(path: Path, entries: Iterable[Entry], compression: str = "none") -> Path:
    raw = tar_bytes(entries)
    if compression == "gzip":
        raw = gzip.compress(raw)
    elif compression == "zstd":
        raw = zstandard.ZstdCompressor().compress(raw)
    path.write_bytes(raw)
    return path


# -- comparing trees ----------------------------------------------------------------------


def tree(root: Path, *, dir_times: bool = False, xattrs: bool = True) -> dict[str, Any]:
    """Every path below ``root`` with its type, mode, owner, target/content and times."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            kind = stat.S_IFMT(st.st_mode)
            info: dict[str, Any] = {
                "type": stat.filemode(st.st_mode)[0],
                "mode": oct(stat.S_IMODE(st.st_mode)),
                "owner": (st.st_uid, st.st_gid),
            }
            if kind == stat.S_IFREG:
                info["sha256"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
            elif kind == stat.S_IFLNK:
                info["target"] = os.readlink(path)
                del info["mode"]
            elif kind in (stat.S_IFCHR, stat.S_IFBLK):
                info["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            if kind != stat.S_IFDIR or dir_times:
                info["mtime"] = int(st.st_mtime)
            if xattrs and kind != stat.S_IFLNK:
                names = sorted(
                    n for n in os.listxattr(path, follow_symlinks=False) if "overlay" not in n
                )
                if names:
                    info["xattrs"] = {n: os.getxattr(path, n, follow_symlinks=False) for n in names}
            out[rel] = info
    return out


def link_groups(root: Path) -> set[frozenset[str]]:
    by_inode: dict[int, set[str]] = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                by_inode.setdefault(st.st_ino, set()).add(os.path.relpath(path, root))
    return {frozenset(v) for v in by_inode.values() if len(v) > 1}


# -- every entry type -------------------------------------------------------------------------

LONG_DIR = "deep/" + "/".join(["d" * 60] * 3)
LONG_FILE = f"{LONG_DIR}/{'f' * 120}"

BASE_LAYER = [
    dir_("etc/"),
    reg("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
    dir_("usr/"),
    dir_("usr/bin/", 0o755),
    reg("usr/bin/tool", b"#!tool\n" * 100, 0o4755),
    reg("usr/bin/sg", b"sg", 0o2711, gid=50),
    hard("usr/bin/tool-link", "usr/bin/tool"),
    sym("bin", "usr/bin"),
    sym("etc/dangling", "/nonexistent/target"),
    dir_("tmp/", 0o1777),
    dir_("home/alice/", 0o700, uid=1000, gid=1000, xattrs={"user.dir": b"d"}),
    reg("home/alice/notes", b"hi", 0o600, uid=1000, gid=1000, mtime=1_234_567_890),
    reg(
        "home/alice/bin",
        b"\x00\xff" * 1000,
        0o750,
        xattrs={"user.x": b"1", "trusted.t": b"\xff\x00"},
    ),
    dev("dev/null", tarfile.CHRTYPE, 1, 3),
    dev("dev/loop9", tarfile.BLKTYPE, 7, 9, 0o660),
    fifo("run/fifo"),
    reg("empty"),
    reg(LONG_FILE, b"long"),
    dir_("var/lib/", 0o755),
    reg("var/lib/a", b"a"),
    dir_("var/cache/"),
    reg("var/cache/c1", b"c1"),
    dir_("var/cache/sub/"),
    reg("var/cache/sub/c2", b"c2"),
]


def test_every_entry_type_flattened(tmp_path: Path, no_leaks: Any) -> None:
    layer = write_layer(tmp_path / "l0.tar", BASE_LAYER)
    dest = tmp_path / "root"
    (applied,) = flatten([layer], dest)
    assert applied.diff_id == Digest.from_bytes(layer.read_bytes())
    assert applied.compression == "none"
    assert applied.entries == len(BASE_LAYER)
    t = tree(dest)
    assert t["etc/passwd"] == {
        "type": "-",
        "mode": "0o644",
        "owner": (0, 0),
        "sha256": hashlib.sha256(b"root:x:0:0::/root:/bin/sh\n").hexdigest()[:16],
        "mtime": MTIME,
    }
    assert t["usr/bin/tool"]["mode"] == "0o4755"
    assert t["usr/bin/sg"]["mode"] == "0o2711" and t["usr/bin/sg"]["owner"] == (0, 50)
    assert t["tmp"]["mode"] == "0o1777" and t["tmp"]["type"] == "d"
    assert t["bin"] == {"type": "l", "owner": (0, 0), "target": "usr/bin", "mtime": MTIME}
    assert t["etc/dangling"]["target"] == "/nonexistent/target"
    assert t["home/alice"]["owner"] == (1000, 1000) and t["home/alice"]["mode"] == "0o700"
    assert t["home/alice"]["xattrs"] == {"user.dir": b"d"}
    assert t["home/alice/notes"]["mtime"] == 1_234_567_890
    assert t["home/alice/bin"]["xattrs"] == {"trusted.t": b"\xff\x00", "user.x": b"1"}
    assert t["dev/null"]["type"] == "c" and t["dev/null"]["rdev"] == (1, 3)
    assert t["dev/null"]["mode"] == "0o666"
    assert t["dev/loop9"]["type"] == "b" and t["dev/loop9"]["rdev"] == (7, 9)
    assert t["run/fifo"]["type"] == "p" and t["run/fifo"]["mode"] == "0o640"
    assert t["empty"]["sha256"] == hashlib.sha256(b"").hexdigest()[:16]
    assert t[LONG_FILE]["sha256"] == hashlib.sha256(b"long").hexdigest()[:16]
    # directories the tar does not list are made 0755 root
    assert t["dev"]["mode"] == "0o755" and t["deep"]["owner"] == (0, 0)
    # explicit directories keep their times (set after their content was written)
    assert os.stat(dest / "usr" / "bin").st_mtime == MTIME
    assert link_groups(dest) == {frozenset({"usr/bin/tool", "usr/bin/tool-link"})}


def test_the_same_tree_from_gnu_and_pax_archives(tmp_path: Path) -> None:
    entries = [e for e in BASE_LAYER if not e[0].pax_headers]
    gnu = tmp_path / "gnu.tar"
    gnu.write_bytes(tar_bytes(entries, tarfile.GNU_FORMAT))
    pax = tmp_path / "pax.tar"
    pax.write_bytes(tar_bytes(entries, tarfile.PAX_FORMAT))
    flatten([gnu], tmp_path / "a")
    flatten([pax], tmp_path / "b")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert LONG_FILE in tree(tmp_path / "a")


# -- whiteouts, flattened --------------------------------------------------------------------


def test_whiteouts_and_opaque_directories_flattened(tmp_path: Path) -> None:
    l0 = write_layer(tmp_path / "l0.tar", BASE_LAYER)
    l1 = write_layer(
        tmp_path / "l1.tar",
        [
            whiteout("etc/passwd"),
            whiteout("var/lib"),  # a whole directory
            dir_("var/cache/"),
            opaque("var/cache"),
            reg("var/cache/new", b"new"),
            whiteout("nothing/there"),  # whiting out what is not there is fine
            reg("etc/passwd2", b"p2"),
        ],
    )
    dest = tmp_path / "root"
    flatten([l0, l1], dest)
    t = tree(dest)
    assert "etc/passwd" not in t and "etc/passwd2" in t
    assert "var/lib" not in t and "var/lib/a" not in t
    assert sorted(p for p in t if p.startswith("var/cache/")) == ["var/cache/new"]
    assert not any(".wh." in p for p in t)
    assert "nothing" not in t


def test_a_layer_never_whites_out_its_own_entries(tmp_path: Path) -> None:
    l0 = write_layer(tmp_path / "l0.tar", [dir_("d/"), reg("d/lower", b"l"), reg("f", b"lower")])
    l1 = write_layer(
        tmp_path / "l1.tar",
        [
            dir_("d/"),
            reg("d/mine", b"m"),  # written before the opaque marker: kept
            opaque("d"),
            reg("d/after", b"a"),
            reg("f", b"mine"),
            whiteout("f"),  # the layer's own f stays
            dir_("x/"),
            reg("x/y", b"y"),
            whiteout("x"),  # a whiteout of a directory this layer fills keeps its content
        ],
    )
    dest = tmp_path / "root"
    flatten([l0, l1], dest)
    t = tree(dest)
    assert sorted(p for p in t if p.startswith("d/")) == ["d/after", "d/mine"]
    assert (dest / "f").read_bytes() == b"mine"
    assert (dest / "x" / "y").read_bytes() == b"y"


def test_replacing_entries_across_layers(tmp_path: Path) -> None:
    l0 = write_layer(
        tmp_path / "l0.tar",
        [dir_("a/"), reg("a/f", b"1"), reg("b", b"file"), sym("c", "b"), dir_("d/"), reg("d/x")],
    )
    l1 = write_layer(
        tmp_path / "l1.tar",
        [
            reg("a", b"now a file"),  # directory -> file
            dir_("b/"),  # file -> directory
            reg("b/inside", b"i"),
            reg("c", b"no longer a link"),  # symlink -> file (the link is replaced, not followed)
            sym("d", "b"),  # directory -> symlink
        ],
    )
    dest = tmp_path / "root"
    flatten([l0, l1], dest)
    t = tree(dest)
    assert t["a"]["type"] == "-" and (dest / "a").read_bytes() == b"now a file"
    assert t["b"]["type"] == "d" and "b/inside" in t
    assert t["c"]["type"] == "-" and (dest / "c").read_bytes() == b"no longer a link"
    assert t["d"] == {"type": "l", "owner": (0, 0), "target": "b", "mtime": MTIME}
    assert "d/x" not in t


def test_hard_links_to_lower_layers(tmp_path: Path) -> None:
    l0 = write_layer(tmp_path / "l0.tar", [dir_("usr/"), reg("usr/orig", b"shared", 0o755)])
    l1 = write_layer(tmp_path / "l1.tar", [dir_("opt/"), hard("opt/link", "usr/orig")])
    dest = tmp_path / "root"
    flatten([l0, l1], dest)
    assert link_groups(dest) == {frozenset({"usr/orig", "opt/link"})}

    snaps = SnapshotStore(tmp_path / "snaps")
    s0 = snaps.unpack(l0)
    s1 = snaps.unpack(l1, parent=s0)
    # the target was copied up into the new snapshot, then linked
    assert (s1.path / "opt" / "link").read_bytes() == b"shared"
    assert os.stat(s1.path / "usr" / "orig").st_ino == os.stat(s1.path / "opt" / "link").st_ino
    assert stat.S_IMODE(os.stat(s1.path / "usr" / "orig").st_mode) == 0o755
    assert (s0.path / "usr" / "orig").stat().st_nlink == 1  # the lower one is untouched


def test_hard_links_to_hidden_files_are_refused(tmp_path: Path) -> None:
    l0 = write_layer(tmp_path / "l0.tar", [dir_("d/"), reg("d/x", b"x"), reg("gone", b"g")])
    l1 = write_layer(tmp_path / "l1.tar", [dir_("d/"), opaque("d"), whiteout("gone")])
    l2 = write_layer(tmp_path / "l2.tar", [hard("y", "d/x")])
    l3 = write_layer(tmp_path / "l3.tar", [hard("z", "gone")])
    for top in (l2, l3):
        with pytest.raises(LayerError, match="does not exist"):
            flatten([l0, l1, top], tmp_path / "flat")
        snaps = SnapshotStore(tmp_path / "snaps")
        s1 = snaps.unpack(l1, parent=snaps.unpack(l0))
        with pytest.raises(LayerError, match="does not exist"):
            snaps.unpack(top, parent=s1)


# -- overlay snapshots ------------------------------------------------------------------------

STACK = [
    BASE_LAYER,
    [
        whiteout("etc/passwd"),
        whiteout("var/lib"),
        dir_("var/cache/"),
        opaque("var/cache"),
        reg("var/cache/new", b"new"),
        hard("var/cache/tool-again", "usr/bin/tool"),  # to a file of a lower layer
        reg("usr/bin/tool2", b"2", 0o755),
        reg("implicit/parent/file", b"p"),
    ],
    [
        reg("etc/passwd", b"back again\n"),
        whiteout("usr/bin/sg"),
        dir_("home/", 0o751),
        opaque("var"),
        reg("var/only", b"only"),
        reg("usr/bin/new-in-existing-dir", b"n"),
    ],
    [
        whiteout("home"),  # a whiteout, then the same layer fills the name again
        reg("home/new", b"n"),
        reg("var/only2/deep", b"d"),  # content, then a whiteout of its directory
        whiteout("var/only2"),
        whiteout("tmp"),
        dir_("tmp/", 0o1777),
        reg("tmp/fresh", b"f"),
        opaque("brand/new"),  # an opaque marker in a directory the tar does not list
        opaque("empty"),  # ... where a lower layer has a file
    ],
]


def test_overlay_snapshots_stack_to_the_flattened_tree(tmp_path: Path, no_leaks: Any) -> None:
    layers = [write_layer(tmp_path / f"l{i}.tar", e) for i, e in enumerate(STACK)]
    flat = tmp_path / "flat"
    applied = flatten(layers, flat)
    diff_ids = [a.diff_id for a in applied]

    snaps = SnapshotStore(tmp_path / "snaps")
    parent = None
    for layer, diff_id in zip(layers, diff_ids, strict=True):
        snap = snaps.unpack(layer, parent=parent, expected_diff_id=diff_id)
        parent = snap.chain_id
    assert parent == chain_id(diff_ids)
    top = snaps.get(parent)
    assert snaps.lowers(parent)[0] == top.path and len(snaps.lowers(parent)) == 4
    # whiteouts became overlayfs whiteouts, opaque markers the xattr
    wh = os.lstat(snaps.get(chain_id(diff_ids[:2])).path / "etc" / "passwd")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    third = snaps.get(chain_id(diff_ids[:3])).path
    assert os.getxattr(third / "var", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(top.path / "home", "trusted.overlay.opaque") == b"y"
    # a directory the tar did not list copies the lower layer's metadata
    assert stat.S_IMODE(os.stat(third / "usr" / "bin").st_mode) == 0o755

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with OverlayFS.mount(mnt, snaps.lowers(parent)):
        merged = tree(mnt)
    expected = tree(flat)
    assert merged.keys() == expected.keys()
    for path, info in expected.items():
        if info["type"] == "d":  # merged directories show the topmost layer's times
            continue
        assert merged[path] == info, path


def test_snapshots_are_reused_and_removed(tmp_path: Path) -> None:
    l0 = write_layer(tmp_path / "l0.tar", [reg("a", b"a")])
    snaps = SnapshotStore(tmp_path / "snaps")
    s0 = snaps.unpack(l0)
    assert snaps.has(s0.chain_id) and s0.parent is None and s0.chain_id == s0.diff_id
    again = snaps.unpack(l0, expected_diff_id=s0.diff_id)
    assert again == s0
    assert [s.chain_id for s in snaps.snapshots()] == [s0.chain_id]
    assert snaps.remove(s0.chain_id) and not snaps.has(s0.chain_id)
    assert not snaps.remove(s0.chain_id)
    assert os.listdir(snaps.root) == []


def test_opaque_with_userxattr(tmp_path: Path) -> None:
    l0 = write_layer(tmp_path / "l0.tar", [dir_("d/"), opaque("d")])
    snap = SnapshotStore(tmp_path / "snaps", userxattr=True).unpack(l0)
    assert os.getxattr(snap.path / "d", "user.overlay.opaque") == b"y"


def test_overlay_xattrs_in_a_layer_are_not_applied(tmp_path: Path) -> None:
    l0 = write_layer(
        tmp_path / "l0.tar",
        [dir_("d/", xattrs={"trusted.overlay.redirect": b"/etc", "user.ok": b"1"})],
    )
    snap = SnapshotStore(tmp_path / "snaps").unpack(l0)
    assert os.listxattr(snap.path / "d") == ["user.ok"]


# -- compression ----------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_compressed_layers(tmp_path: Path, compression: str, no_leaks: Any) -> None:
    raw = tar_bytes(BASE_LAYER)
    layer = write_layer(tmp_path / "layer", BASE_LAYER, compression)
    with open(layer, "rb") as f:
        applied = apply_layer(_mkdir(tmp_path / "root"), f)
    assert applied.compression == compression
    assert applied.diff_id == Digest.from_bytes(raw)
    assert applied.size == len(raw)
    flatten([write_layer(tmp_path / "plain.tar", BASE_LAYER)], tmp_path / "ref")
    assert tree(tmp_path / "root") == tree(tmp_path / "ref")


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def test_multi_member_gzip_and_multi_frame_zstd(tmp_path: Path) -> None:
    raw = tar_bytes(BASE_LAYER)
    half = len(raw) // 2
    gz = tmp_path / "multi.gz"
    gz.write_bytes(gzip.compress(raw[:half]) + gzip.compress(raw[half:]))
    zst = tmp_path / "multi.zst"
    c = zstandard.ZstdCompressor()
    zst.write_bytes(c.compress(raw[:half]) + c.compress(raw[half:]))
    for layer in (gz, zst):
        (applied,) = flatten([layer], tmp_path / f"out-{layer.name}")
        assert applied.diff_id == Digest.from_bytes(raw)


# -- bad layers are rejected and leave nothing ---------------------------------------------


def _bad_layers(tmp_path: Path) -> dict[str, tuple[Path, type[Exception]]]:
    big = [reg("big", os.urandom(300_000)), reg("after", b"x")]
    raw = tar_bytes(big)
    gz = gzip.compress(raw)
    zst = zstandard.ZstdCompressor().compress(raw)
    corrupt = bytearray(gz)
    corrupt[len(corrupt) // 2] ^= 0xFF
    cases = {
        "truncated-gzip": (gz[: len(gz) // 2], LayerError),
        "truncated-gzip-tail": (gz[:-4], LayerError),  # the CRC and size are missing
        "corrupt-gzip": (bytes(corrupt), LayerError),
        "truncated-zstd": (zst[: len(zst) - 100], LayerError),
        "truncated-tar-in-data": (raw[:100_000], LayerError),
        "tar-without-end-marker": (raw[: 512 + 300_032], LayerError),
        "bad-header-checksum": (raw[:148] + b"9999999\0" + raw[156:], LayerError),
        "empty": (b"", LayerError),
    }
    out: dict[str, tuple[Path, type[Exception]]] = {}
    for name, (data, exc) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        out[name] = (path, exc)
    return out


BAD = [
    "truncated-gzip",
    "truncated-gzip-tail",
    "corrupt-gzip",
    "truncated-zstd",
    "truncated-tar-in-data",
    "tar-without-end-marker",
    "bad-header-checksum",
    "empty",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_layers_leave_nothing(tmp_path: Path, case: str, no_leaks: Any) -> None:
    layers = tmp_path / "layers"
    layers.mkdir()
    path, exc = _bad_layers(layers)[case]
    box = tmp_path / "box"
    box.mkdir()
    good = write_layer(layers / "good.tar", [reg("base", b"b")])
    with pytest.raises(exc):
        flatten([good, path], box / "root")
    assert os.listdir(box) == []
    snaps = SnapshotStore(tmp_path / "snaps")
    with pytest.raises(exc):
        snaps.unpack(path)
    assert os.listdir(snaps.root) == []


def test_wrong_diff_id_is_rejected_and_leaves_nothing(tmp_path: Path) -> None:
    layer = write_layer(tmp_path / "l.tar.gz", [reg("a", b"a")], "gzip")
    wrong = Digest.from_bytes(b"something else")
    box = tmp_path / "box"
    box.mkdir()
    with pytest.raises(DigestMismatch) as info:
        flatten([layer], box / "root", expected_diff_ids=[wrong])
    assert info.value.expected == wrong
    assert os.listdir(box) == []
    snaps = SnapshotStore(tmp_path / "snaps")
    with pytest.raises(DigestMismatch):
        snaps.unpack(layer, expected_diff_id=wrong)
    assert os.listdir(snaps.root) == []


# -- path traversal ---------------------------------------------------------------------------

CANARY = "pycontainers-test-canary"


def _traversal_cases(sentinel: Path) -> dict[str, list[list[Entry]]]:
    s = str(sentinel)
    return {
        "dotdot": [[reg("../evil", b"x")]],
        "dotdot-deep": [[reg("a/../../../sentinel/evil", b"x")]],
        "absolute": [[reg(f"{s}/evil", b"x")]],
        "absolute-etc": [[reg(f"/etc/{CANARY}", b"x")]],
        "symlink-to-etc-then-file": [[sym("a", "/etc"), reg(f"a/{CANARY}", b"x")]],
        "symlink-to-etc-then-passwd": [[sym("a", "/etc"), reg("a/passwd", b"evil")]],
        "symlink-abs-then-file": [[sym("a", s), reg("a/evil", b"x")]],
        "symlink-relative-escape": [[sym("a", "../../.."), reg("a/evil", b"x")]],
        "symlink-then-dir": [[sym("a", s), dir_("a/sub/")]],
        "symlink-layer1-file-layer2": [[sym("a", s)], [reg("a/evil", b"x")]],
        "symlink-relative-layer1-file-layer2": [
            [sym("a", "../../../sentinel")],
            [reg("a/evil", b"x")],
        ],
        "symlink-chain": [[sym("b", s), sym("a", "b"), reg("a/evil", b"x")]],
        "hardlink-dotdot": [[hard("link", "../../etc/shadow")]],
        "hardlink-absolute": [[hard("link", f"{s}/keep")]],
        "hardlink-through-symlink": [[sym("a", s), hard("link", "a/keep")]],
        "whiteout-through-symlink": [[sym("a", s)], [whiteout("a/keep")]],
        "opaque-through-symlink": [[sym("a", s)], [opaque("a/x")]],
        "long-name-dotdot": [[reg("ok/" * 60 + "../" * 70 + "evil", b"x")]],
    }


TRAVERSALS = sorted(_traversal_cases(Path("/x")))


@pytest.mark.parametrize("case", TRAVERSALS)
def test_path_traversal_is_refused(tmp_path: Path, case: str, no_leaks: Any) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep").write_bytes(b"keep")
    box = tmp_path / "box"
    box.mkdir()
    passwd = Path("/etc/passwd").read_bytes()
    stack = _traversal_cases(sentinel)[case]
    layers = [write_layer(tmp_path / f"{i}.tar", e) for i, e in enumerate(stack)]

    def untouched() -> None:
        assert sorted(os.listdir(tmp_path)) == sorted(
            ["sentinel", "box", "snaps", *(p.name for p in layers)]
        )
        assert os.listdir(sentinel) == ["keep"] and (sentinel / "keep").read_bytes() == b"keep"
        assert not Path(f"/etc/{CANARY}").exists()
        assert Path("/etc/passwd").read_bytes() == passwd

    snaps = SnapshotStore(tmp_path / "snaps")
    with pytest.raises(LayerError) as info:
        flatten(layers, box / "root")
    assert info.value.member, "the error names the tar entry at fault"
    assert os.listdir(box) == []
    untouched()

    # Overlay snapshots: each layer has a tree of its own, so a symlink of a lower layer is
    # never followed (the upper entry shadows it); what cannot be expressed is refused.
    parent = None
    try:
        for layer in layers:
            parent = snaps.unpack(layer, parent=parent).chain_id
    except LayerError:
        pass
    untouched()
    assert not [n for n in os.listdir(snaps.root) if n.startswith(".tmp")]


def test_an_opaque_marker_on_a_symlink_replaces_the_link(tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep").write_bytes(b"keep")
    l0 = write_layer(tmp_path / "l0.tar", [sym("a", str(sentinel))])
    l1 = write_layer(tmp_path / "l1.tar", [opaque("a"), whiteout("b")])
    flatten([l0, l1], tmp_path / "root")
    assert (tmp_path / "root" / "a").is_dir() and not (tmp_path / "root" / "a").is_symlink()
    assert os.listdir(sentinel) == ["keep"]


def test_in_tree_symlinks_are_followed(tmp_path: Path) -> None:
    layer = write_layer(
        tmp_path / "l.tar",
        [dir_("usr/lib/"), sym("lib", "usr/lib"), reg("lib/libc.so", b"c"), sym("up", "usr/..")],
    )
    dest = tmp_path / "root"
    flatten([layer], dest)
    assert (dest / "usr" / "lib" / "libc.so").read_bytes() == b"c"
    assert os.readlink(dest / "up") == "usr/.."


# -- interop: umoci --------------------------------------------------------------------------

UMOCI = shutil.which("umoci")


def _umoci(*args: str) -> None:
    assert UMOCI is not None
    subprocess.run([UMOCI, *args], check=True, capture_output=True)


@pytest.mark.skipif(UMOCI is None, reason="umoci is not installed (apt-get install umoci)")
def test_flattened_unpack_matches_umoci(tmp_path: Path) -> None:
    image = tmp_path / "image"
    bundle = tmp_path / "bundle"
    _umoci("init", "--layout", str(image))
    _umoci("new", "--image", f"{image}:latest")
    _umoci("unpack", "--image", f"{image}:latest", str(bundle))
    rootfs = bundle / "rootfs"
    # layer 1: a small tree of every common kind
    for d in ("etc", "usr/bin", "var/cache/apt", "home/alice", "tmp"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (rootfs / "usr" / "bin" / "tool").write_bytes(b"tool" * 1000)
    os.chmod(rootfs / "usr" / "bin" / "tool", 0o4755)
    os.link(rootfs / "usr" / "bin" / "tool", rootfs / "usr" / "bin" / "tool-link")
    os.symlink("usr/bin", rootfs / "bin")
    (rootfs / "var" / "cache" / "apt" / "pkgcache.bin").write_bytes(os.urandom(10000))
    (rootfs / "home" / "alice" / "notes").write_text("notes")
    os.chown(rootfs / "home" / "alice", 1000, 1000)
    os.chown(rootfs / "home" / "alice" / "notes", 1000, 1000)
    os.chmod(rootfs / "tmp", 0o1777)
    os.mkfifo(rootfs / "tmp" / "fifo")
    os.mknod(rootfs / "tmp" / "null", 0o20666, os.makedev(1, 3))  # a device node
    os.setxattr(rootfs / "etc" / "passwd", "user.note", b"v")
    _umoci("repack", "--refresh-bundle", "--image", f"{image}:latest", str(bundle))
    # layer 2: deletions (whiteouts), replacements, new files
    os.unlink(rootfs / "etc" / "passwd")
    shutil.rmtree(rootfs / "var" / "cache")
    (rootfs / "var" / "cache").mkdir()
    (rootfs / "var" / "cache" / "fresh").write_text("fresh")
    os.unlink(rootfs / "bin")
    (rootfs / "bin").mkdir()
    (rootfs / "bin" / "sh").write_text("#!sh")
    _umoci("repack", "--refresh-bundle", "--image", f"{image}:latest", str(bundle))
    # layer 3: more changes on top
    (rootfs / "etc" / "passwd").write_text("back\n")
    os.unlink(rootfs / "usr" / "bin" / "tool-link")
    os.chmod(rootfs / "home" / "alice", 0o700)
    _umoci("repack", "--refresh-bundle", "--image", f"{image}:latest", str(bundle))

    reference = tmp_path / "reference"
    _umoci("raw", "unpack", "--image", f"{image}:latest", str(reference))

    store = ContentStore(image)
    index = store.read_index()
    manifest = json.loads(store.read_bytes(index.manifests[0]))
    config = json.loads(store.read_bytes(manifest["config"]["digest"]))
    layer_descs = manifest["layers"]
    assert len(layer_descs) == 3
    diff_ids = config["rootfs"]["diff_ids"]
    ours = tmp_path / "ours"
    flatten(
        [store.open(Digest.parse(d["digest"])) for d in layer_descs],
        ours,
        expected_diff_ids=diff_ids,
    )
    assert tree(ours) == tree(reference)
    assert link_groups(ours) == link_groups(reference)

    snaps = SnapshotStore(tmp_path / "snaps")
    parent = None
    for d, diff_id in zip(layer_descs, diff_ids, strict=True):
        with store.open(Digest.parse(d["digest"])) as blob:
            parent = snaps.unpack(blob, parent=parent, expected_diff_id=diff_id).chain_id
    assert parent == chain_id([Digest.parse(x) for x in diff_ids])
