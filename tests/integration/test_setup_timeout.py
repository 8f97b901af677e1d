"""A container child stuck in its setup (here: frozen by a frozen parent cgroup, a real
kernel state) is killed after ``SETUP_TIMEOUT`` with an error that says where it waited, and
nothing is left behind: its creator, and every create queued behind it, never hang."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.errors import ContainerStartError
from pycontainers.runtime import _childsetup

pytestmark = pytest.mark.root


def _cgroup2_root() -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    return None


@pytest.mark.parametrize("detach", [True, False])
def test_a_child_stuck_in_its_setup_is_killed_and_leaves_nothing(
    busybox_rootfs: Path, monkeypatch: pytest.MonkeyPatch, detach: bool
) -> None:
    root = _cgroup2_root()
    if root is None or not os.path.exists(os.path.join(root, "cgroup.subtree_control")):
        pytest.skip("no cgroup2 tree with a freezer here (needs cgroup.freeze, Linux 5.2)")
    parent = f"pctest-frozen-{os.getpid()}-{int(detach)}"
    path = os.path.join(root, parent)
    os.mkdir(path)
    with open(os.path.join(path, "cgroup.freeze"), "w") as f:
        f.write("1")  # a group made under it starts frozen: the child freezes on joining
    monkeypatch.setattr(_childsetup, "SETUP_TIMEOUT", 2.0)
    try:
        with pytest.raises(ContainerStartError) as info:
            pc.Container.create(
                str(busybox_rootfs), ["true"], cgroup_parent=parent, network="none", detach=detach
            )
        assert info.value.stage == "setup"
        assert info.value.errno == errno.ETIMEDOUT
        assert "did not finish its setup within 2 s (it waits in " in str(info.value)
    finally:
        if os.path.isdir(path):  # the container's removal may have removed its parent
            with open(os.path.join(path, "cgroup.freeze"), "w") as f:
                f.write("0")
    assert pc.Container.list() == []
    left = [d for d, _, _ in os.walk("/sys/fs/cgroup") if parent in d]
    for d in sorted(left, reverse=True):
        os.rmdir(d)  # only empty groups can be here: the assertion below says if any
    assert left in ([], [path])  # at most the parent the test made, never a container's
