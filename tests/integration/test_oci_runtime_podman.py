"""podman (the Debian package) with ``--runtime pycontainers-runtime``: conmon is the
subreaper that reaps our containers' init, reads its exit status and keeps the logs."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from oci_runtime_util import Runtime, runtime_script

pytestmark = pytest.mark.root

PODMAN = shutil.which("podman")
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


class Podman:
    """``podman`` with our runtime; ``rt`` is that runtime (same root) for our own view."""

    def __init__(self, base: list[str], rootfs: Path, rt: Runtime) -> None:
        self.base, self.rootfs, self.rt = base, rootfs, rt

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=timeout, **kw
        )
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def run(self, *options: str, cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        """``podman run`` of ``cmd`` in the test's busybox rootfs."""
        return self("run", *ULIMITS, *options, "--rootfs", str(self.rootfs), *cmd, **kw)


@pytest.fixture
def podman(rootfs_factory: Callable[[Path], Path]) -> Iterator[Podman]:
    """``podman`` with our runtime, its storage and our runtime's root in a short private
    directory (podman's runroot must stay under 50 characters); at the end every container
    is removed and the runtime's root must be empty."""
    if PODMAN is None:
        pytest.skip("podman is not installed (apt-get install podman)")
    tmp = Path(tempfile.mkdtemp(prefix="pcpm-"))
    rt_root = tmp / "rt"
    exe = runtime_script(tmp, rt_root)
    rootfs = rootfs_factory(tmp / "rootfs")
    base = [PODMAN, "--root", str(tmp / "root"), "--runroot", str(tmp / "run"),
            "--runtime", str(exe), "--cgroup-manager", "cgroupfs", "--storage-driver", "vfs",
            "--events-backend", "none"]  # fmt: skip
    links = _links()
    try:
        yield Podman(base, rootfs, Runtime(exe, rt_root))
    finally:
        subprocess.run([*base, "rm", "-f", "--all"], capture_output=True, timeout=120)
        left = (
            sorted(p.name for p in rt_root.iterdir() if p.name != ".names.lock")
            if rt_root.is_dir()
            else []
        )
        for link in _links() - links:  # podman's default bridge, in the session's netns
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
        assert not left, f"runtime state left behind: {left}"


def _links() -> set[str]:
    from pycontainers.network import link_names

    return set(link_names())


def test_podman_run_rm_passes_output_and_exit_status(podman: Podman) -> None:
    r = podman.run("--rm", "--network", "none", cmd=["sh", "-c", "echo hi; hostname; exit 3"],
                   check=False)  # fmt: skip
    assert r.returncode == 3, r.stderr
    assert r.stdout.split()[0] == "hi"
    shm = podman.run("--rm", "--network", "none", "--shm-size", "1m", cmd=["df", "-k", "/dev/shm"])
    assert shm.stdout.splitlines()[1].split()[1] == "1024"  # podman's own shm, bound
    missing = podman.run("--rm", "--network", "none", cmd=["/nonexistent"], check=False)
    assert missing.returncode == 127 and "/nonexistent" in missing.stderr


def test_podman_detached_exec_logs_stop_rm_and_its_view(podman: Podman) -> None:
    cid = podman.run("-d", "--name", "pcd", "--network", "none", "--memory", "64m",
                     "--cap-drop", "ALL", "--cap-add", "KILL", cmd=["sh", "-c",
                     "echo first-line; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done"],
                     ).stdout.strip()  # fmt: skip
    inspect = json.loads(podman("inspect", "pcd").stdout)[0]
    assert inspect["State"]["Status"] == "running" and inspect["Id"] == cid
    pid = inspect["State"]["Pid"]
    ours = podman.rt.state(cid)  # our runtime's own view agrees
    assert ours["pid"] == pid and ours["status"] == "running"
    assert "Up " in podman("ps", "--filter", "name=pcd").stdout
    # the limits and capabilities podman asked for, seen from the host and from inside
    memory = next(line.split(":", 2)[2] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
                  if line.split(":")[1] == "memory")  # fmt: skip
    limit = Path(f"/sys/fs/cgroup/memory{memory}/memory.limit_in_bytes").read_text()
    assert int(limit) == 64 * 1024 * 1024
    r = podman("exec", "pcd", "sh", "-c", "grep CapEff /proc/self/status; "
               "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; exit 4", check=False)  # fmt: skip
    assert r.returncode == 4 and r.stdout.split() == [
        "CapEff:",
        "0000000000000020",
        limit.strip(),
    ], r
    assert podman("exec", "-e", "X=y", "pcd", "sh", "-c", "echo $X").stdout == "y\n"
    assert podman("logs", "pcd").stdout.splitlines() == ["first-line"]
    podman("stop", "-t", "10", "pcd")
    inspect = json.loads(podman("inspect", "pcd").stdout)[0]
    assert (inspect["State"]["Status"], inspect["State"]["ExitCode"]) == ("exited", 0)
    assert podman("logs", "pcd").stdout.splitlines() == ["first-line", "bye"]
    assert "Exited (0)" in podman("ps", "-a", "--filter", "name=pcd").stdout
    podman("rm", "pcd")
    assert podman("ps", "-aq").stdout == ""


def test_podman_tty_run_and_exec(podman: Podman) -> None:
    r = podman.run("--rm", "-t", "--network", "none", cmd=["sh", "-c", "tty; echo $TERM"],
                   stdin=subprocess.DEVNULL)  # fmt: skip
    assert r.stdout.replace("\r", "").split() == ["/dev/pts/0", "xterm"]
    podman.run("-d", "--name", "pct", "--network", "none", cmd=["sleep", "100"])
    r = podman("exec", "-t", "pct", "sh", "-c", "tty; echo ok", stdin=subprocess.DEVNULL)
    words = r.stdout.replace("\r", "").split()
    assert words[0].startswith("/dev/pts/") and words[1] == "ok", words
    podman("rm", "-f", "-t", "0", "pct")


def test_podman_default_network(podman: Podman) -> None:
    r = podman.run("--rm", cmd=["sh", "-c",
                   "ip -o -4 addr show eth0; cat /proc/sys/net/ipv4/ping_group_range"])  # fmt: skip
    words = r.stdout.split()
    assert words[1] == "eth0" and words[3].startswith("10.88."), r.stdout
    assert words[-2:] == ["0", "0"]  # podman's default sysctl, set in the container's netns
