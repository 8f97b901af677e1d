"""Bad input: each gets a clear error and leaves nothing behind (mount, process, fd, dir)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import pycontainers as pc

pytestmark = pytest.mark.root


def state_entries(state_root: Path) -> list[str]:
    """Container directories and network endpoint records (not the shared dirs)."""
    entries = sorted(
        p
        for p in os.listdir(state_root)
        if p not in (".mnt", "network", ".names.lock") and not p.startswith("events.jsonl")
    )
    endpoints = state_root / "network" / "endpoints"
    if endpoints.is_dir():
        entries += [f"endpoint {p}" for p in sorted(os.listdir(endpoints))]
    return entries


def test_missing_rootfs(tmp_path: Path, no_leaks: object, state_root: Path) -> None:
    with pytest.raises(pc.ImageNotFound, match="not a directory"):
        pc.run(str(tmp_path / "nope"), ["true"])
    with pytest.raises(pc.ImageNotFound):
        pc.Container.create(str(tmp_path / "nope"), ["true"])
    assert state_entries(state_root) == []


def test_missing_executable_is_127(
    busybox_rootfs: Path, no_leaks: object, state_root: Path
) -> None:
    with pytest.raises(pc.ContainerStartError, match="executable file not found") as info:
        pc.run(str(busybox_rootfs), ["no-such-command"])
    assert info.value.exit_code == 127 and info.value.stage == "exec"
    with pytest.raises(pc.ContainerStartError) as info:
        pc.run(str(busybox_rootfs), ["/bin/no-such-command"])
    assert info.value.exit_code == 127
    with pytest.raises(pc.ContainerStartError) as info:
        pc.Container.create(str(busybox_rootfs), ["no-such-command"])
    assert info.value.exit_code == 127
    assert state_entries(state_root) == []


def test_non_executable_is_126(busybox_rootfs: Path, no_leaks: object) -> None:
    with pytest.raises(pc.ContainerStartError, match="permission denied") as info:
        pc.run(str(busybox_rootfs), ["/etc/passwd"])
    assert info.value.exit_code == 126
    with pytest.raises(pc.ContainerStartError, match="is a directory") as info:
        pc.run(str(busybox_rootfs), ["/tmp"])
    assert info.value.exit_code == 126


@pytest.mark.parametrize("name", ["", "-bad", "a" * 65, "under_score", "sp ace", "a..b"])
def test_invalid_hostname_raises_at_construction(name: str) -> None:
    with pytest.raises(pc.SpecError) as info:
        pc.ContainerSpec(rootfs="host", process=pc.Process(["true"]), hostname=name)
    assert info.value.field == "hostname"


def test_hostname_without_uts_namespace() -> None:
    with pytest.raises(pc.SpecError, match="uts"):
        pc.ContainerSpec(
            rootfs="host", process=pc.Process(["true"]), hostname="x", namespaces={"mnt"}
        )


@pytest.mark.parametrize("target", ["relative/path", "data", "/a/../../etc", "/../etc", ""])
def test_bad_mount_target_raises_at_construction(target: str, tmp_path: Path) -> None:
    with pytest.raises(pc.SpecError) as info:
        pc.Mount(target, str(tmp_path))
    assert info.value.field == "Mount.target"


def test_invalid_specs_name_their_field() -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: pc.Process([]), "args"),
        (lambda: pc.Process("sh -c true"), "args"),
        (lambda: pc.Process(["true"], cwd="tmp"), "cwd"),
        (lambda: pc.Process(["true"], env=["NOEQUALS"]), "env"),
        (lambda: pc.Process(["true"], rlimits={"bogus": 1}), "rlimits"),
        (lambda: pc.Process(["true"], rlimits={"nofile": (10, 5)}), "rlimits"),
        (lambda: pc.Process(["true"], user="-1"), "user"),
        (lambda: pc.Mount("/x", "relative/src"), "Mount.source"),
        (lambda: pc.Mount("/x", type="nfs"), "Mount.type"),
        (lambda: pc.Mount("/x", "/tmp", options=("bogus",)), "Mount.options"),
        (lambda: pc.ContainerSpec("rel/root", pc.Process(["true"])), "rootfs"),
        (
            lambda: pc.ContainerSpec("host", pc.Process(["true"]), namespaces={"pid", "bogus"}),
            "namespaces",
        ),
        (lambda: pc.ContainerSpec("host", pc.Process(["true"]), namespaces={"pid"}), "namespaces"),
        (
            lambda: pc.ContainerSpec("host", pc.Process(["true"]), namespaces={"mnt", "user"}),
            "uid_mappings",
        ),
    ]
    for make, field in cases:
        with pytest.raises(pc.SpecError) as info:
            make()
        assert info.value.field == field, (field, str(info.value))


def test_proc_symlinked_to_host_root_fails(fresh_rootfs: Path, no_leaks: object) -> None:
    (fresh_rootfs / "proc").rmdir()
    (fresh_rootfs / "proc").symlink_to("/")
    with pytest.raises(pc.ContainerStartError, match="/proc") as info:
        pc.run(str(fresh_rootfs), ["true"])
    assert info.value.stage == "mount"


def test_relative_proc_symlink_also_fails(fresh_rootfs: Path, no_leaks: object) -> None:
    (fresh_rootfs / "proc").rmdir()
    (fresh_rootfs / "proc").symlink_to("tmp")  # stays inside, but proc must not be a symlink
    with pytest.raises(pc.ContainerStartError, match="symlink"):
        pc.run(str(fresh_rootfs), ["true"])


def test_bind_target_through_symlink_to_host_etc_fails(
    fresh_rootfs: Path, tmp_path: Path, no_leaks: object
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (fresh_rootfs / "evil").symlink_to("/etc")
    before = sorted(os.listdir("/etc"))
    with pytest.raises(pc.ContainerStartError, match="outside the container's rootfs") as info:
        pc.run(str(fresh_rootfs), ["true"], mounts=[pc.Mount("/evil/x", str(src))])
    assert info.value.stage == "mount"
    assert sorted(os.listdir("/etc")) == before


def test_bind_target_through_dotdot_symlink_fails(
    fresh_rootfs: Path, tmp_path: Path, no_leaks: object
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (fresh_rootfs / "up").symlink_to("../../../../../../../tmp")
    with pytest.raises(pc.ContainerStartError, match="outside the container's rootfs"):
        pc.run(str(fresh_rootfs), ["true"], mounts=[pc.Mount("/up/x", str(src))])
    assert not os.path.exists("/tmp/x")


def test_missing_bind_source(busybox_rootfs: Path, tmp_path: Path, no_leaks: object) -> None:
    # checked while the spec is built (or given): nothing is started
    with pytest.raises(pc.SpecError, match="bind source") as info:
        pc.run(str(busybox_rootfs), ["true"], mounts=[pc.Mount("/x", str(tmp_path / "missing"))])
    assert info.value.field == "Mount.source"
    spec = pc.ContainerSpec(
        rootfs=str(busybox_rootfs),
        process=pc.Process(args=("true",)),
        mounts=(pc.Mount("/x", str(tmp_path / "missing")),),
    )
    with pytest.raises(pc.SpecError, match="bind source"):
        pc.run(spec)


def test_missing_working_directory(busybox_rootfs: Path, no_leaks: object) -> None:
    with pytest.raises(pc.ContainerStartError, match="working directory /nonexistent") as info:
        pc.run(str(busybox_rootfs), ["true"], cwd="/nonexistent")
    assert info.value.stage == "cwd"


def test_failed_create_leaves_no_state(
    fresh_rootfs: Path, no_leaks: object, state_root: Path
) -> None:
    (fresh_rootfs / "proc").rmdir()
    (fresh_rootfs / "proc").symlink_to("/")
    with pytest.raises(pc.ContainerStartError):
        pc.Container.create(str(fresh_rootfs), ["true"], id="will-fail")
    assert state_entries(state_root) == []
