"""A creator killed with SIGKILL at each point of a container's creation: ``rm -f``
(``Container.delete``) or ``system prune`` (``pc.gc(prune=True)``) leaves nothing behind —
no cgroup, veth, lease, rule, endpoint, layer, process or state file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.network import link_names
from pycontainers.network.endpoint import Endpoints
from pycontainers.network.nft import Netfilter
from pycontainers.runtime._crash import POINTS

pytestmark = [pytest.mark.root, pytest.mark.network]


def _cgroups(cid: str) -> list[str]:
    return [
        p for p in (f"/sys/fs/cgroup/{h}/pycontainers/{cid}" for h in os.listdir("/sys/fs/cgroup"))
        if os.path.isdir(p)
    ]  # fmt: skip


def _processes_in(cid: str) -> list[int]:
    """Host processes whose cgroup path names the container."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                if cid in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def _snapshot() -> tuple[list[str], set[str], set[str]]:
    return link_names(), Netfilter().owners(), Endpoints().owners()


@pytest.mark.parametrize("detach", [False, True], ids=["attached", "detached"])
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("how", ["rm -f", "system prune"])
def test_creator_killed_then_recovered(
    busybox_rootfs: Path, state_root: Path, point: str, detach: bool, how: str
) -> None:
    # the default network exists first, so the snapshot's links include its bridge
    pc.Network.get("bridge").ensure_up()
    before = _snapshot()
    cid = os.urandom(32).hex()
    script = (
        "import pycontainers as pc\n"
        f"c = pc.Container.create({str(busybox_rootfs)!r}, ['sleep', '60'], id={cid!r}, "
        f"detach={detach}, ports=['127.0.0.1::80'])\n"
        "c.start()\n"
    )
    env = {**os.environ, "PYCONTAINERS_CRASH_AT": point}
    # no pipes: a container made before the crash inherits (and would hold) them
    err = state_root.parent / f"creator-{cid[:8]}.err"
    with open(err, "wb") as f:
        proc = subprocess.run(
            [sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=f,
            timeout=60,
        )  # fmt: skip
    assert proc.returncode == -9, err.read_text()
    assert (state_root / cid).is_dir()
    if how == "rm -f":
        pc.Container.load(cid).delete()
    else:
        deadline = time.monotonic() + 10  # a detached one's monitor may still be finishing
        while (state_root / cid).is_dir() and time.monotonic() < deadline:
            pc.gc(prune=True)
            time.sleep(0.1)
    assert not (state_root / cid).exists()
    assert _cgroups(cid) == []
    deadline = time.monotonic() + 5  # killed ones may wait a moment for init to reap them
    while _processes_in(cid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_in(cid) == []
    leases = pc.Network.get("bridge").containers()
    assert cid not in leases
    assert _snapshot() == before
    from pycontainers.fs.shift import default_data_root

    assert not os.path.exists(os.path.join(default_data_root(), "containers", cid))


def test_gc_removes_empty_stray_groups_but_not_busy_ones() -> None:
    """A removal cut short can leave a container's group in some hierarchies only: gc takes
    it away. A group with a process may be a container of another state root: kept."""
    from pycontainers.cgroups import CGroup, detect_layout
    from pycontainers.cgroups._factory import backend

    layout = detect_layout()
    empty, busy = os.urandom(32).hex(), os.urandom(32).hex()
    some = list(backend(f"pycontainers/{empty}", layout).paths.values())[:2]
    keeper = CGroup.create(busy, parent="pycontainers")
    proc = subprocess.Popen(["sleep", "30"])
    try:
        keeper.add(proc.pid)
        for d in some:
            os.makedirs(d)
        found = pc.gc()
        assert empty in found.cgroups and busy not in found.cgroups
        assert not any(os.path.isdir(d) for d in some)
        assert keeper.exists() and keeper.path == f"pycontainers/{busy}"
    finally:
        proc.kill()
        proc.wait()
        keeper.delete(kill=True)
        from pycontainers.cgroups import remove_parent

        remove_parent("pycontainers", layout=layout)


def test_gc_kills_a_container_whose_state_root_is_gone(
    busybox_rootfs: Path, state_root: Path, tmp_path: Path
) -> None:
    """A detached container whose state directory was deleted while it ran cannot be found
    by id any more; its monitor names the lost directory, so gc (of any root) kills it and
    removes its groups. A live container of another state root stays untouched."""
    from pycontainers.images import default_store

    image = "localhost/gc:lost"  # an image: each container gets a writable layer
    default_store().import_rootfs(busybox_rootfs, image)
    lost_root, other_root = tmp_path / "lost", tmp_path / "other"
    lost = pc.Container.create(image, ["sleep", "600"], detach=True, state_root=str(lost_root))
    lost.start()
    kept = pc.Container.create(image, ["sleep", "600"], detach=True, state_root=str(other_root))
    kept.start()
    moved = tmp_path / "moved"
    try:
        assert _cgroups(lost.id) and _processes_in(lost.id)
        os.rename(lost_root, moved)  # as if someone deleted the state root
        found = pc.gc()
        assert lost.id in found.cgroups and kept.id not in found.cgroups
        deadline = time.monotonic() + 10
        while (_processes_in(lost.id) or _cgroups(lost.id)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_in(lost.id) == [] and _cgroups(lost.id) == []
        assert kept.status == "running" and _processes_in(kept.id)
        assert os.path.isdir(os.path.join(os.environ["PYCONTAINERS_ROOT"], "containers", kept.id))
        assert pc.gc().cgroups == ()  # nothing more to find
    finally:
        kept.delete()
        if moved.exists():
            os.rename(moved, lost_root)
        lost.delete()
