"""Exec into a running container: namespaces, cgroup, identity, env, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

import pycontainers as pc

pytestmark = pytest.mark.root


def test_exec_joins_the_containers_namespaces_and_cgroup(
    busybox_rootfs: Path, no_leaks: object
) -> None:
    with pc.Container.create(
        str(busybox_rootfs), ["sleep", "30"], hostname="box", pids_limit=50
    ) as c:
        c.start()
        r = c.exec(["sh", "-c", "hostname; ps -o pid,comm | grep -c sleep; ls /sys/class/net; "
                    "read m < /sys/fs/cgroup/pids/pids.max; echo $m; cut -d: -f3 /proc/self/cgroup | sort -u"],
                   capture_output=True, timeout=30)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().split() == ["box", "1", "lo", "50", "/"]
        assert c.cgroup.stats().pids is not None


def test_exec_exit_codes_env_user_and_cwd(busybox_rootfs: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], env={"FROM": "container"}) as c:
        c.start()
        assert c.exec(["sh", "-c", "exit 7"]).returncode == 7
        r = c.exec(["sh", "-c", "echo $FROM $EXTRA; id -u; id -g; pwd"], env={"EXTRA": "x"},
                   user="alice", cwd="/tmp", capture_output=True)  # fmt: skip
        assert r.stdout.decode().split() == ["container", "x", "1000", "1000", "/tmp"]
        r = c.exec(["cat"], input=b"through stdin", capture_output=True)
        assert r.stdout == b"through stdin"
        with pytest.raises(pc.ContainerStartError) as info:
            c.exec(["no-such-command"])
        assert info.value.exit_code == 127
        with pytest.raises(pc.ContainerTimeout):
            c.exec(["sleep", "10"], timeout=0.3)


def test_exec_into_a_stopped_or_created_container_is_a_clear_error(busybox_rootfs: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["true"]) as c:
        with pytest.raises(pc.ContainerError, match="is created; exec needs a running one"):
            c.exec(["true"])
        c.start()
        c.wait(timeout=10)
        with pytest.raises(pc.ContainerError, match="is stopped; exec needs a running one"):
            c.exec(["true"])


def test_exec_from_another_process(busybox_rootfs: Path, state_root: Path) -> None:
    import os
    import subprocess
    import sys

    with pc.Container.create(
        str(busybox_rootfs), ["sleep", "30"], id="exec-other", hostname="other"
    ) as c:
        c.start()
        code = (
            "import pycontainers as pc; c = pc.Container.load('exec-other'); "
            "r = c.exec(['hostname'], capture_output=True); print(r.stdout.decode().strip(), r.returncode)"
        )
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYCONTAINERS_STATE": str(state_root)})  # fmt: skip
        assert r.stdout.split() == ["other", "0"], r.stderr


def test_exec_into_a_paused_container_is_refused_not_frozen(busybox_rootfs: Path) -> None:
    """The new process would join a frozen cgroup and hang: refused, as Docker does."""
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], pids_limit=20) as c:
        c.start()
        c.pause()
        with pytest.raises(pc.ContainerError, match="is paused; exec needs a running one"):
            c.exec(["true"], timeout=5)
        c.resume()
        assert c.exec(["true"], timeout=10).returncode == 0
