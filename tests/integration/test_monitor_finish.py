"""The monitor finishes a detached container by itself: it records the exit (OOM included),
removes the container's cgroup, and runs the Python exit hook only when there is Python work
(a network endpoint, auto-remove) and no live client claimed the clean-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.runtime import state as st

pytestmark = pytest.mark.root


def _until(cond: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def _monitor_argv(c: pc.Container) -> list[str]:
    raw = Path(f"/proc/{c.record.monitor_pid}/cmdline").read_bytes()
    return [a.decode() for a in raw.split(b"\0")]


def _monitor_gone(c: pc.Container) -> bool:
    return not st.proc_alive(c.record.monitor_pid, 0)


def test_without_a_network_no_python_runs_on_the_exit_path(busybox_rootfs: Path) -> None:
    with pc.Container.create(
        str(busybox_rootfs), ["sleep", "0.3"], detach=True, network="none", memory="64m"
    ) as c:
        c.start()
        argv = _monitor_argv(c)
        assert "--exit-cmd" not in argv and "--claim-file" not in argv
        dirs = list(dict.fromkeys(c.cgroup.paths.values()))
        assert dirs and all(f"--cgroup\0{d}" in "\0".join(argv) for d in dirs)
        assert c.wait(timeout=20) == 0
        # the exit file is written after the cgroup is gone: a waiter never sees it
        assert not any(os.path.exists(d) for d in dirs)
        exit_info = json.loads((Path(c.state_dir) / "exit.json").read_text())
        assert exit_info["oom_killed"] is False and exit_info["exit_code"] == 0
        _until(lambda: _monitor_gone(c))
        assert not (Path(c.state_dir) / "hooks.log").exists()
        # no hook rewrote the state: another process still sees it stopped, with its status
        other = pc.Container.load(c.id)
        assert other.status == "stopped" and other.returncode == 0
        assert other.inspect()["State"]["OOMKilled"] is False
        other.close()


def test_the_monitor_records_an_oom_kill_before_removing_the_cgroup(busybox_rootfs: Path) -> None:
    hog = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo $x"
    with pc.Container.create(
        str(busybox_rootfs), ["sh", "-c", hog], detach=True, network="none", memory="32m"
    ) as c:
        c.start()
        assert c.wait(timeout=60) == 137
        assert json.loads((Path(c.state_dir) / "exit.json").read_text())["oom_killed"] is True
        assert pc.Container.load(c.id).inspect()["State"]["OOMKilled"] is True


def test_a_network_endpoint_is_given_back_by_the_exit_hook(busybox_rootfs: Path) -> None:
    endpoints = Path(st.default_state_root()) / "network" / "endpoints"
    with pc.Container.create(
        str(busybox_rootfs), ["sleep", "0.2"], detach=True, network="bridge"
    ) as c:
        c.start()
        assert "--exit-cmd" in _monitor_argv(c)
        assert (endpoints / f"{c.id}.json").exists()
        c.wait(timeout=20)
        _until(lambda: not (endpoints / f"{c.id}.json").exists())


def test_a_claiming_client_cleans_up_itself_and_a_dead_one_hands_it_back(
    busybox_rootfs: Path,
) -> None:
    endpoints = Path(st.default_state_root()) / "network" / "endpoints"
    # 1. the claim is held while the container exits: the monitor leaves without its hook
    with pc.Container.create(
        str(busybox_rootfs), ["sleep", "0.2"], detach=True, network="bridge"
    ) as c:
        c.claim_cleanup()
        c.start()
        c.wait(timeout=20)
        _until(lambda: _monitor_gone(c))
        assert (endpoints / f"{c.id}.json").exists()  # left for us
    assert not (endpoints / f"{c.id}.json").exists()  # and delete gave it back
    # 2. the claiming process dies first: the kernel drops its lock, the hook runs
    script = (
        "import os, pycontainers as pc\n"
        f"c = pc.Container.create({str(busybox_rootfs)!r}, ['sleep', '1'], detach=True, network='bridge')\n"
        "c.claim_cleanup(); c.start(); print(c.id, flush=True); os._exit(0)\n"
    )
    cid = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    c2 = pc.Container.load(cid)
    try:
        assert c2.wait(timeout=20) == 0
        _until(lambda: not (endpoints / f"{cid}.json").exists())
    finally:
        c2.delete()
