"""The pool of foreground runs' device groups (pycontainers.runtime.devpool), on the real
kernel: a run takes the group the last run with the same device policy emptied; a group
whose rules, policy record or program was changed, that holds a process, a group below it
or is frozen is removed and a fresh one made; a process a run leaves behind is killed with
its group; the pool is removed at exit, by ``gc`` once its owner was killed, and is not
shared with a forked child; threads running containers at once each get a group.

The runs leave the cgroup namespace out, so /proc/self/cgroup in the container names its
group as the host sees it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers import _sys
from pycontainers.cgroups import detect_layout
from pycontainers.cgroups._devbpf import POLICY_XATTR, DevicePolicy, compile_policy
from pycontainers.runtime import devpool
from pycontainers.runtime.devrules import devices_layout

pytestmark = pytest.mark.root

NS = ("pid", "mnt", "uts", "ipc", "net")  # no cgroup namespace: the host's paths show


@pytest.fixture(autouse=True)
def empty_pool() -> Iterator[None]:
    """Each test starts and ends with this process's pool empty."""
    devpool.drain()
    yield
    devpool.drain()


def group_of(output: str) -> str:
    """The one group (``pycontainers/run-...``) /proc/self/cgroup shows in the device
    hierarchies (the same path in each).
    """
    layout = devices_layout()
    keys = {k for k, _ in layout.v1_hierarchies} | ({""} if layout.unified else set())
    paths = {
        path.lstrip("/")
        for _, key, path in (line.split(":", 2) for line in output.split())
        if key in keys
    }
    assert len(paths) == 1, output
    (path,) = paths
    assert path.startswith("pycontainers/run-"), path
    return path


def dirs(path: str) -> list[str]:
    """The group's directory in every device hierarchy."""
    layout = devices_layout()
    roots = [m for _, m in layout.v1_hierarchies] + ([layout.unified] if layout.unified else [])
    return [os.path.join(root, path) for root in roots]


def unified(path: str) -> str:
    root = devices_layout().unified
    assert root is not None
    return os.path.join(root, path)


def v1_devices(path: str) -> str | None:
    mount = detect_layout().v1.get("devices")
    return None if mount is None else os.path.join(mount, path)


def run_group(rootfs: Path, script: str = "cat /proc/self/cgroup", **kw: object) -> str:
    r = pc.run(str(rootfs), ["sh", "-c", script], namespaces=NS, network="none",
               capture_output=True, timeout=60, **kw)  # type: ignore[arg-type]  # fmt: skip
    assert r.returncode == 0, r.stderr
    return group_of(r.stdout.decode())


def gone(path: str) -> bool:
    return not any(os.path.isdir(d) for d in dirs(path))


def test_a_run_takes_the_group_the_last_run_emptied(busybox_rootfs: Path) -> None:
    first = run_group(busybox_rootfs)
    assert first.startswith(f"pycontainers/run-{os.getpid()}-")  # its owner, by name
    assert not gone(first)  # kept for the next run
    assert run_group(busybox_rootfs) == first
    assert run_group(busybox_rootfs) == first
    assert devpool.drain() == [first]
    assert gone(first)


def _v1_rule(path: str) -> None:
    directory = v1_devices(path)
    if directory is None:
        pytest.skip("no v1 devices controller on this host")
    with open(f"{directory}/devices.allow", "w") as f:
        f.write("c 10:237 rwm")  # loop-control, on top of Docker's list


def _v1_lifted(path: str) -> None:
    directory = v1_devices(path)
    if directory is None:
        pytest.skip("no v1 devices controller on this host")
    with open(f"{directory}/devices.allow", "w") as f:
        f.write("a")


def _record(path: str) -> None:
    os.setxattr(unified(path), POLICY_XATTR, b'{"allow": true, "exceptions": []}')


def _no_record(path: str) -> None:
    os.removexattr(unified(path), POLICY_XATTR)


def _program(path: str) -> None:
    """Another program in place of ours (allow-all), the record left as it was."""
    fd = os.open(unified(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        _sys.bpf_device_attach(fd, compile_policy(DevicePolicy(allow=True)), unified(path))
    finally:
        os.close(fd)


def _child_group(path: str) -> None:
    os.mkdir(os.path.join(unified(path), "below"))


def _frozen(path: str) -> None:
    with open(os.path.join(unified(path), "cgroup.freeze"), "w") as f:
        f.write("1")


TAMPER: dict[str, Callable[[str], None]] = {
    "v1-rule-added": _v1_rule,
    "v1-rules-lifted": _v1_lifted,
    "record-changed": _record,
    "record-removed": _no_record,
    "program-replaced": _program,
    "group-below": _child_group,
    "frozen": _frozen,
}


@pytest.mark.parametrize("how", sorted(TAMPER))
def test_a_changed_idle_group_is_removed_not_reused(busybox_rootfs: Path, how: str) -> None:
    first = run_group(busybox_rootfs)
    TAMPER[how](first)
    second = run_group(busybox_rootfs)
    assert second != first
    assert gone(first)  # removed when the check refused it (a group below it too)
    assert run_group(busybox_rootfs) == second  # the fresh one is kept and reused


@pytest.mark.parametrize("where", ["v1", "unified"])
def test_an_idle_group_with_a_process_in_it_is_not_reused(busybox_rootfs: Path, where: str) -> None:
    first = run_group(busybox_rootfs)
    directory = v1_devices(first) if where == "v1" else unified(first)
    if directory is None:
        pytest.skip("no v1 devices controller on this host")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        with open(f"{directory}/cgroup.procs", "w") as f:
            f.write(str(sleeper.pid))
        second = run_group(busybox_rootfs)
        assert second != first
        assert sleeper.wait(timeout=10) == -signal.SIGKILL  # killed with the group
        assert gone(first)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_process_a_run_leaves_behind_is_killed_with_its_group(busybox_rootfs: Path) -> None:
    """Without a pid namespace a background process outlives the container's pid 1; the
    run's end kills it and removes the group instead of keeping it.
    """
    r = pc.run(str(busybox_rootfs), ["sh", "-c", "cat /proc/self/cgroup; sleep 60 >/dev/null 2>&1 & echo $!"],
               namespaces=("mnt", "uts", "ipc", "net"), network="none", capture_output=True,
               timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    *lines, pid = r.stdout.decode().split()
    path = group_of("\n".join(lines))
    assert gone(path)
    deadline = time.monotonic() + 10
    while _alive(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(int(pid))
    assert run_group(busybox_rootfs) != path


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


CHILD = """
import sys, time
import pycontainers as pc
ns = ("pid", "mnt", "uts", "ipc", "net")
r = pc.run(sys.argv[1], ["cat", "/proc/self/cgroup"], namespaces=ns, network="none",
           capture_output=True, timeout=60)
print(r.stdout.decode(), flush=True)
print("done", flush=True)
if sys.argv[2] == "wait":
    time.sleep(120)
elif sys.argv[2] == "in-run":
    pc.run(sys.argv[1], ["sh", "-c", "cat /proc/self/cgroup; echo done; exec sleep 120"],
           namespaces=ns, network="none", timeout=120)
"""


def _child(rootfs: Path, mode: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(Path(pc.__file__).parent.parent)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(rootfs), mode],
                            stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        if line.strip() == "done":
            break
        lines.append(line)
    return proc, group_of("".join(lines))


def test_the_pool_is_removed_at_exit(busybox_rootfs: Path) -> None:
    proc, path = _child(busybox_rootfs, "exit")
    assert proc.stdout is not None
    proc.stdout.close()
    assert proc.wait(timeout=30) == 0
    assert path.startswith(f"pycontainers/run-{proc.pid}-")
    assert gone(path)


@pytest.mark.parametrize("when", ["idle", "in-run"])
def test_gc_removes_the_groups_of_a_killed_process(
    busybox_rootfs: Path, state_root: Path, when: str
) -> None:
    """kill -9 of the owner, its group idle in the pool or holding a running container:
    ``gc`` removes it (killing the container: no one is left to wait for it).
    """
    proc, path = _child(busybox_rootfs, "wait" if when == "idle" else "in-run")
    assert proc.stdout is not None
    try:
        if when == "in-run":  # the second run's group: the idle one, taken again
            lines = []
            for line in proc.stdout:
                if line.strip() == "done":
                    break
                lines.append(line)
            assert group_of("".join(lines)) == path
        left = [int(p) for p in Path(unified(path), "cgroup.procs").read_text().split()]
        assert bool(left) == (when == "in-run")
        name = path.split("/", 1)[1]
        assert name not in pc.gc().cgroups  # the owner lives: its groups stay
        assert not gone(path)
        proc.kill()
        proc.wait(timeout=30)
        found = pc.gc()
        assert name in found.cgroups
        assert gone(path)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in left) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not any(_alive(pid) for pid in left)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_threads_running_at_once_each_get_a_group(busybox_rootfs: Path) -> None:
    n = devpool.KEEP + 2
    barrier = threading.Barrier(n)
    paths: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait(timeout=30)
            # a second each: all run at once, each in its group
            paths.append(run_group(busybox_rootfs, "cat /proc/self/cgroup; sleep 1"))
        except BaseException as exc:
            errors.append(exc)

    for _ in range(2):  # the second round takes the groups the first kept
        paths.clear()
        threads = [threading.Thread(target=one) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        assert len(set(paths)) == n  # at once: one group each
        mine = f"run-{os.getpid()}-"
        kept = [e for e in os.listdir(os.path.dirname(dirs(paths[0])[0])) if e.startswith(mine)]
        assert len(kept) == devpool.KEEP  # bounded: the others were removed
    assert len(devpool.drain()) == devpool.KEEP


def test_a_forked_child_does_not_take_its_parents_pool(busybox_rootfs: Path) -> None:
    mine = run_group(busybox_rootfs)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one run, its own pool emptied, then out
        code = 1
        try:
            os.close(read)
            path = run_group(busybox_rootfs)
            os.write(write, path.encode())
            devpool.drain()
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as f:
        theirs = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert theirs.startswith(f"pycontainers/run-{pid}-"), theirs
    assert gone(theirs) and not gone(mine)  # the child removed its own, not ours
    assert run_group(busybox_rootfs) == mine


def test_a_group_under_another_parent_is_made_and_removed_per_run(busybox_rootfs: Path) -> None:
    """Only the default parent's groups are pooled (gc looks there): another parent's
    group is removed with its run, and the parent with it.
    """
    parent = f"pctest-devpool-{os.getpid()}"
    r = pc.run(str(busybox_rootfs), ["cat", "/proc/self/cgroup"], namespaces=NS,
               network="none", capture_output=True, timeout=60, cgroup_parent=parent)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f":/{parent}/" in r.stdout.decode()
    assert not any(os.path.isdir(os.path.dirname(d)) for d in dirs(f"{parent}/x"))
    assert devpool.drain() == []


def test_owner_gone_reads_the_owner_from_the_name() -> None:
    start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    me = os.getpid()
    assert not devpool.owner_gone(f"run-{me}-{start}-7")
    assert devpool.owner_gone(f"run-{me}-{start + 1}-7")  # another process had that pid
    assert not devpool.owner_gone("0123456789abcdef")  # not a pooled group's name
    assert not devpool.owner_gone(f"run-{me}-{start}")
