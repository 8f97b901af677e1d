"""``Container.update(restart=...)``: a detached container's restart policy changed while it
runs (its monitor reads the new one when the container exits) or while it is stopped (the
next start keeps it); bad policies and containers without a monitor are refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.runtime.specfile import load_spec

pytestmark = pytest.mark.root

# each run appends a line, then waits for the host to create /ctl/go, then exits 3
SCRIPT = "echo run >> /ctl/runs; while [ ! -e /ctl/go ]; do sleep 0.05; done; exit 3"


def until(cond: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def state(cid: str) -> tuple[str, int]:
    c = pc.Container.load(cid)
    try:
        return str(c.status), c.restart_count
    finally:
        c.close()


def runs(ctl: Path) -> int:
    path = ctl / "runs"
    return len(path.read_text().split()) if path.exists() else 0


def test_a_running_container_gets_a_restart_policy(fresh_rootfs: Path, tmp_path: Path) -> None:
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    with pc.Container.create(str(fresh_rootfs), ["sh", "-c", SCRIPT], detach=True,
                             mounts=[pc.Mount("/ctl", str(ctl))]) as c:  # fmt: skip
        c.start()
        until(lambda: runs(ctl) == 1)
        c.update(restart="on-failure:2")
        assert c.inspect()["HostConfig"]["RestartPolicy"] == {
            "Name": "on-failure",
            "MaximumRetryCount": 2,
        }
        _, options = load_spec(c.state_dir)
        assert options["detach"].restart == "on-failure:2"
        (ctl / "go").touch()  # exit 3 now: restarted twice, then it stays stopped
        until(lambda: state(c.id) == ("stopped", 2))
        time.sleep(1)  # a third restart would come within this
        assert runs(ctl) == 3 and state(c.id) == ("stopped", 2)


def test_always_changed_to_no_is_not_restarted(fresh_rootfs: Path, tmp_path: Path) -> None:
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    with pc.Container.create(str(fresh_rootfs), ["sh", "-c", SCRIPT], detach=True,
                             restart="always", mounts=[pc.Mount("/ctl", str(ctl))]) as c:  # fmt: skip
        c.start()
        until(lambda: runs(ctl) == 1)
        c.update(restart="no")
        (ctl / "go").touch()
        until(lambda: state(c.id)[0] == "stopped")
        time.sleep(1)
        assert runs(ctl) == 1 and state(c.id) == ("stopped", 0)
        # stopped: a new policy holds for the next start
        (ctl / "go").unlink()
        c.update(restart="on-failure:1")
        live = pc.Container.load(c.id)
        try:
            live.start()
            until(lambda: runs(ctl) == 2)
            (ctl / "go").touch()
            until(lambda: state(c.id) == ("stopped", 1))
            assert runs(ctl) == 3
        finally:
            live.close()


def test_bad_policies_and_containers_without_a_monitor(
    busybox_rootfs: Path, tmp_path: Path
) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], detach=True) as c:
        c.start()
        with pytest.raises(pc.SpecError, match="restart"):
            c.update(restart="sometimes")
        with pytest.raises(pc.SpecError, match="restart"):
            c.update(restart="on-failure:x")
        _, options = load_spec(c.state_dir)
        assert options["detach"].restart == "no"
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], detach=True,
                             auto_remove=True) as c:  # fmt: skip
        c.start()
        with pytest.raises(pc.SpecError, match="auto_remove"):
            c.update(restart="always")
        c.stop(timeout=1)
    with (
        pc.Container.create(str(busybox_rootfs), ["sleep", "30"]) as c,
        pytest.raises(pc.SpecError, match="not detached"),
    ):
        c.update(restart="always")


def test_an_update_refused_in_part_changes_nothing(fresh_rootfs: Path) -> None:
    """A refused limit leaves the restart policy as it was, and a refused policy writes no
    limit (one update, all or nothing)."""
    with pc.Container.create(str(fresh_rootfs), ["sleep", "30"], detach=True,
                             memory="64m") as c:  # fmt: skip
        c.start()
        with pytest.raises(pc.SpecError, match="memory"):
            c.update(restart="always", memory="1k", memory_swap="1k", memory_reservation="2k")
        _, options = load_spec(c.state_dir)
        assert options["detach"].restart == "no"
        with pytest.raises(pc.SpecError, match="restart"):
            c.update(restart="sometimes", memory="96m")
        spec, _ = load_spec(c.state_dir)
        assert spec.resources is not None and spec.resources.memory_max == 64 << 20
        c.stop(timeout=1)
        c.delete()
