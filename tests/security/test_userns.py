"""User namespaces: container root is an unprivileged id on the host."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.security.userns import auto_mappings

RootfsFactory = Callable[[Path], Path]

pytestmark = [pytest.mark.root, pytest.mark.userns]

MAP = (pc.IdMapping(0, 100000, 65536),)
KINDS = ("pid", "mnt", "uts", "ipc", "net", "user", "cgroup")


@pytest.fixture
def reachable(tmp_path: Path) -> Iterator[Path]:
    """A directory the mapped root can reach: pytest's own tmp dirs sit under 0700 parents,
    which a user namespace's root (an unprivileged uid on the host) cannot search."""
    path = Path(tempfile.mkdtemp(prefix="pycontainers-userns-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_unreachable_rootfs_is_a_clear_error(fresh_rootfs: Path) -> None:
    with pytest.raises(pc.ContainerStartError, match="reachable by the mapped root"):
        pc.run(str(fresh_rootfs), ["true"], namespaces=KINDS, uid_mappings=MAP, gid_mappings=MAP)


def test_container_root_is_an_unprivileged_uid_on_the_host(
    reachable: Path, rootfs_factory: RootfsFactory
) -> None:
    rootfs = rootfs_factory(reachable / "rootfs")
    vol = reachable / "vol"
    vol.mkdir()
    vol.chmod(0o777)
    with pc.Container.create(str(rootfs), ["sh", "-c", "touch /vol/made-inside; id -u; sleep 30"],
                             namespaces=KINDS, uid_mappings=MAP, gid_mappings=MAP, stdout=pc.PIPE,
                             mounts=[pc.Mount("/vol", str(vol))]) as c:  # fmt: skip
        c.start()
        assert c.stdout is not None
        assert os.read(c.stdout, 100).strip() == b"0"  # root inside
        with open(f"/proc/{c.pid}/status") as f:
            uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
        assert uids == ["100000"] * 4  # an unprivileged uid outside
    st = (vol / "made-inside").stat()
    assert (st.st_uid, st.st_gid) == (100000, 100000)


def test_idmapped_rootfs_belongs_to_container_root(
    reachable: Path, rootfs_factory: RootfsFactory
) -> None:
    fresh_rootfs = rootfs_factory(reachable / "rootfs")
    r = pc.run(str(fresh_rootfs), ["sh", "-c", "stat -c %u:%g /bin/busybox; echo x > /tmp/w && stat -c %u /tmp/w"],
               namespaces=KINDS, uid_mappings=MAP, gid_mappings=MAP, capture_output=True, timeout=30)  # fmt: skip
    assert r.stdout.split() == [b"0:0", b"0"], r.stderr
    # written through the idmapped mount: owned by the host's root, as the rest of the tree
    assert (fresh_rootfs / "tmp" / "w").stat().st_uid == 0


def test_without_idmapping_the_rootfs_is_owned_by_nobody(
    reachable: Path, rootfs_factory: RootfsFactory
) -> None:
    rootfs = rootfs_factory(reachable / "rootfs")
    spec = pc.ContainerSpec(rootfs.as_posix(), pc.Process(["stat", "-c", "%u", "/bin/busybox"]),
                            namespaces=frozenset(KINDS), uid_mappings=MAP, gid_mappings=MAP,
                            userns_rootfs="none")  # fmt: skip
    r = pc.run(spec, capture_output=True, timeout=30)
    assert r.stdout.strip() == b"65534"


def test_capabilities_are_those_of_the_user_namespace(
    reachable: Path, rootfs_factory: RootfsFactory
) -> None:
    rootfs = rootfs_factory(reachable / "rootfs")
    r = pc.run(str(rootfs), ["sh", "-c", "grep CapEff /proc/self/status; hostname inside && hostname"],
               namespaces=KINDS, uid_mappings=MAP, gid_mappings=MAP, capture_output=True, timeout=30)  # fmt: skip
    assert r.stdout.split()[1] == b"00000000a80425fb"


def test_userns_auto_reads_subordinate_ranges(tmp_path: Path) -> None:
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("alice:100000:65536\npycontainers:200000:65536\n")
    subgid.write_text("pycontainers:300000:1000\n")
    uids, gids = auto_mappings(subuid=str(subuid), subgid=str(subgid))
    assert uids == (pc.IdMapping(0, 200000, 65536),)
    assert gids == (pc.IdMapping(0, 300000, 1000),)
    with pytest.raises(pc.SpecError, match="usermod --add-subuids") as info:
        auto_mappings(user="nobody-here", subuid=str(subuid), subgid=str(subgid))
    assert info.value.field == "userns"


def test_userns_value_is_checked() -> None:
    with pytest.raises(pc.SpecError) as info:
        pc.run("host", ["true"], userns="remap")
    assert info.value.field == "userns"


def test_shifted_copy_when_idmapping_is_not_wanted(
    reachable: Path, rootfs_factory: RootfsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback for kernels or filesystems without idmapped mounts: a copy whose owners
    are moved into the mapping, made once per (rootfs, mapping)."""
    rootfs = rootfs_factory(reachable / "rootfs")
    (rootfs / "etc" / "owned").write_text("x")
    os.chown(rootfs / "etc" / "owned", 1000, 50)
    (rootfs / "bin" / "busybox").chmod(0o4755)  # setuid survives the chown
    monkeypatch.setenv("PYCONTAINERS_ROOT", str(reachable / "data"))
    for _ in range(2):
        spec = pc.ContainerSpec(rootfs.as_posix(), pc.Process(["sh", "-c",
                                "stat -c %u:%g:%a /bin/busybox /etc/owned; echo w > /tmp/w"]),
                                namespaces=frozenset(KINDS), uid_mappings=MAP, gid_mappings=MAP,
                                userns_rootfs="copy")  # fmt: skip
        r = pc.run(spec, capture_output=True, timeout=60)
        assert r.stdout.split() == [b"0:0:4755", b"1000:50:644"], r.stderr
    copies = os.listdir(reachable / "data" / "shifted")
    assert len(copies) == 1  # made once
    copy = reachable / "data" / "shifted" / copies[0]
    assert (copy / "etc" / "owned").stat().st_uid == 101000
    assert (copy / "tmp" / "w").stat().st_uid == 100000
    assert not (rootfs / "tmp" / "w").exists()  # the source is untouched


def test_userns_rootfs_value_is_checked(busybox_rootfs: Path) -> None:
    with pytest.raises(pc.SpecError) as info:
        pc.ContainerSpec(str(busybox_rootfs), pc.Process(["true"]), userns_rootfs="shift")
    assert info.value.field == "userns_rootfs"


def test_devices_in_a_user_namespace(reachable: Path, rootfs_factory: RootfsFactory) -> None:
    """``--device`` binds the host node (mknod is refused in a user namespace), and the
    device cgroup still limits it: /dev/z is read-only."""
    rootfs = rootfs_factory(reachable / "rootfs")
    probe = ("echo hi > /dev/mynull && echo wrote-null; "
             "(echo x > /dev/z) 2>/dev/null && echo wrote-zero || echo zero-denied")  # fmt: skip
    r = pc.run(str(rootfs), ["sh", "-c", probe], namespaces=KINDS, uid_mappings=MAP,
               gid_mappings=MAP, capture_output=True,
               devices=["/dev/null:/dev/mynull", "/dev/zero:/dev/z:r"])  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == ["wrote-null", "zero-denied"]  # v1 devices controller
