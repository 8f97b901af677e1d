"""Container lifecycle: create/start split across processes, wait, kill, delete, state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pycontainers as pc

pytestmark = pytest.mark.root


def test_create_start_wait_in_one_process(busybox_rootfs: Path, no_leaks: object) -> None:
    with pc.Container.create(
        str(busybox_rootfs), ["sh", "-c", "echo started; exit 3"], stdout=pc.PIPE
    ) as c:
        assert c.status == "created"
        assert c.stdout is not None
        os.set_blocking(c.stdout, False)
        with pytest.raises(BlockingIOError):
            os.read(c.stdout, 100)  # nothing ran yet: the child waits before execve
        c.start()
        assert c.wait(timeout=10) == 3
        assert c.status == "stopped"
        os.set_blocking(c.stdout, True)
        assert os.read(c.stdout, 100) == b"started\n"
    assert c.status == "deleted"
    assert not os.path.exists(c.state_dir)


def test_create_here_start_from_another_process_wait_here(
    busybox_rootfs: Path, state_root: Path, no_leaks: object
) -> None:
    with pc.Container.create(
        str(busybox_rootfs), ["sh", "-c", "sleep 1; exit 42"], id="cross-proc"
    ) as c:
        code = (
            "import pycontainers as pc; c = pc.Container.load('cross-proc'); "
            "assert c.status == 'created', c.status; c.start(); print(c.status)"
        )
        r = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYCONTAINERS_STATE": str(state_root)},
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "running"
        assert c.wait(timeout=10) == 42


def test_another_process_can_kill_and_cannot_wait(busybox_rootfs: Path, state_root: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], id="killme") as c:
        c.start()
        other = pc.Container.load("killme")
        assert other.status == "running"
        with pytest.raises(pc.ContainerError, match="only the process that created"):
            other.wait()
        other.kill(9)
        assert c.wait(timeout=10) == 137
        other.close()


def test_start_twice_is_a_clear_error(busybox_rootfs: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["true"]) as c:
        c.start()
        c.wait(timeout=10)
        with pytest.raises(pc.ContainerError, match="start needs a created one"):
            c.start()


def test_delete_a_created_container_that_never_started(
    busybox_rootfs: Path, no_leaks: object
) -> None:
    c = pc.Container.create(str(busybox_rootfs), ["true"])
    pid = c.pid
    c.delete()
    assert not os.path.exists(f"/proc/{pid}")
    c.delete()  # idempotent


def test_duplicate_id_is_refused(busybox_rootfs: Path) -> None:
    with (
        pc.Container.create(str(busybox_rootfs), ["true"], id="dup"),
        pytest.raises(pc.ContainerError, match="already exists"),
    ):
        pc.Container.create(str(busybox_rootfs), ["true"], id="dup")


def test_invalid_id_is_refused(busybox_rootfs: Path) -> None:
    with pytest.raises(pc.ContainerError, match="invalid container id"):
        pc.Container.create(str(busybox_rootfs), ["true"], id="../escape")


def test_corrupt_state_file_is_detected(busybox_rootfs: Path, state_root: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["true"], id="corrupt") as c:
        path = Path(c.state_dir) / "state.json"
        good = path.read_text()
        path.write_text(good[: len(good) // 2])  # truncated
        with pytest.raises(pc.ContainerError, match="corrupt container state"):
            pc.Container.load("corrupt")
        path.write_text(good)
        assert pc.Container.load("corrupt").status == "created"


def test_wait_timeout(busybox_rootfs: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"]) as c:
        c.start()
        with pytest.raises(TimeoutError):
            c.wait(timeout=0.2)


def test_context_manager_cleans_up_on_error(busybox_rootfs: Path, no_leaks: object) -> None:
    with (
        pytest.raises(RuntimeError),
        pc.Container.create(str(busybox_rootfs), ["sleep", "30"]) as c,
    ):
        c.start()
        raise RuntimeError("boom")
    assert c.status == "deleted"
