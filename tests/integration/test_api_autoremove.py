"""``docker run --rm`` (HostConfig.AutoRemove) through the daemon: the daemon claims the
container's clean-up before it starts and removes it at its exit (its monitor then skips the
exit hook); a container removed by hand meanwhile is no error; a daemon killed while it holds
claims leaves the clean-up to the monitors.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_util import IMAGE, Daemon, docker, ensure_busybox_image, start_daemon

pytestmark = [pytest.mark.root, pytest.mark.network]


@pytest.fixture
def daemon(tmp_path: Path, busybox_rootfs: Path) -> Iterator[Daemon]:
    ensure_busybox_image(busybox_rootfs)
    yield from start_daemon(tmp_path)


def _claim_file(cid: str) -> str:
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.detach import CLAIM_FILE

    c = Container.load(cid)
    try:
        return os.path.join(c.state_dir, CLAIM_FILE)
    finally:
        c.close()


def _claimed(path: str) -> bool:
    """Whether someone holds the clean-up claim on ``path`` (an exclusive try fails)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _gone(cid: str, timeout: float = 30.0) -> bool:
    from pycontainers.runtime.container import Container

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cid not in {c.id for c in Container.list()}:
            return True
        time.sleep(0.05)
    return False


def test_concurrent_run_rm_exit_codes_and_nothing_left(daemon: Daemon) -> None:
    def run(code: int) -> int:
        r = docker(daemon, "run", "--rm", IMAGE, "sh", "-c", f"echo {code}; exit {code}",
                   check=False)  # fmt: skip
        assert r.stdout == f"{code}\n", r
        return r.returncode

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert list(pool.map(run, range(6))) == list(range(6))
    assert docker(daemon, "ps", "-aq").stdout.strip() == ""
    assert "api.autoremove_failed" not in daemon.log()


def test_detached_rm_is_claimed_and_removed_at_exit(daemon: Daemon) -> None:
    cid = docker(daemon, "run", "-d", "--rm", IMAGE, "sleep", "300").stdout.strip()
    assert _claimed(_claim_file(cid))  # the daemon will remove it, not the exit hook
    docker(daemon, "stop", "-t", "1", cid)
    assert _gone(cid)
    # removed by hand while the daemon waits to remove it: no error, the daemon serves on
    cid = docker(daemon, "run", "-d", "--rm", IMAGE, "sleep", "300").stdout.strip()
    docker(daemon, "rm", "-f", cid)
    assert _gone(cid)
    assert docker(daemon, "run", "--rm", IMAGE, "true").returncode == 0
    assert "api.autoremove_failed" not in daemon.log()


def test_a_killed_daemon_leaves_the_removal_to_the_monitor(daemon: Daemon) -> None:
    cid = docker(daemon, "run", "-d", "--rm", IMAGE, "sh", "-c", "sleep 2; exit 3").stdout.strip()
    claim = _claim_file(cid)
    assert _claimed(claim)
    daemon.stop(signal.SIGKILL)  # its claim dies with it
    assert not _claimed(claim)
    assert _gone(cid)  # the monitor's exit hook removed it after its exit
