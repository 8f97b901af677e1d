"""How a container's processes join their cgroups, on the real kernel: cloned straight into
the cgroup2 group (clone3 ``CLONE_INTO_CGROUP``) with the v1 hierarchies joined by writes, or
(``PYCONTAINERS_CLONE_INTO_CGROUP=0``, as a kernel before 5.7) every hierarchy by a write —
either way each process of a run, a detached container, an exec and an OCI ``create`` is in
exactly its group in every hierarchy, and the cgroup namespace is rooted there. A group that
disappears under a start fails it with an error naming the group and leaves nothing; a
directory that is no cgroup2 group is refused (never a start outside the group). The
primer (:mod:`pycontainers.cgroups.prime`) never moves its process and stops.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from oci_runtime_util import Caller, Runtime, make_bundle, runtime_script

import pycontainers as pc
from pycontainers import _sys
from pycontainers._plan import Plan
from pycontainers.cgroups import CGroup, detect_layout, prime
from pycontainers.errors import ContainerStartError
from pycontainers.runtime import devpool

pytestmark = pytest.mark.root

MODES = ["into", "write"]


def hierarchy_roots() -> list[str]:
    """The mountpoint of every cgroup hierarchy of this host (v1 ones and cgroup2)."""
    layout = detect_layout()
    return [*dict(layout.v1_hierarchies).values(), *([layout.unified] if layout.unified else [])]


def group_dirs() -> set[str]:
    """Every group under pycontainers/ in every hierarchy."""
    found = set()
    for root in hierarchy_roots():
        base = os.path.join(root, "pycontainers")
        if os.path.isdir(base):
            found |= {os.path.join(base, d) for d in os.listdir(base)
                      if os.path.isdir(os.path.join(base, d))}  # fmt: skip
    return found


def assert_in_group(pid: int, rel: str) -> None:
    """``pid`` is in the group ``rel`` (not below it) in every hierarchy, as /proc/PID/cgroup
    says and as each hierarchy's cgroup.procs lists it.
    """
    lines = Path(f"/proc/{pid}/cgroup").read_text().split()
    assert {line.split(":", 2)[2] for line in lines} == {"/" + rel}, lines
    for root in hierarchy_roots():
        listed = Path(root, rel, "cgroup.procs").read_text().split()
        assert str(pid) in listed, (root, listed)


# inside the container: its cgroup namespace is rooted at its group, and the shell is in
# that root group in every hierarchy mounted at /sys/fs/cgroup
INSIDE = (
    "cat /proc/self/cgroup; for f in /sys/fs/cgroup/*/cgroup.procs; do "
    "if grep -qx $$ $f; then echo in $f; else echo OUT $f; fi; done"
)


def check_inside(output: str) -> None:
    lines = output.split("\n")
    cgroup_lines = [line for line in lines if line.count(":") >= 2]
    assert cgroup_lines and all(line.endswith(":/") for line in cgroup_lines), output
    joined = [line for line in lines if line.startswith(("in ", "OUT "))]
    assert len(joined) == len(hierarchy_roots()), output
    assert all(line.startswith("in ") for line in joined), output


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "write":
        monkeypatch.setenv("PYCONTAINERS_CLONE_INTO_CGROUP", "0")
    devpool.drain()  # device groups earlier tests' runs left in this process's pool
    before = group_dirs()
    yield str(request.param)
    devpool.drain()  # a foreground run's device group is kept for the next run
    assert group_dirs() == before


def test_detached_container_and_its_exec_are_in_their_groups(
    busybox_rootfs: Path, mode: str
) -> None:
    c = pc.Container.create(str(busybox_rootfs), ["sleep", "30"], memory="64m", detach=True)
    try:
        launch = c.supervisor.launch
        assert launch is not None and launch.into_cgroup == (mode == "into")
        c.start()
        assert_in_group(c.pid, f"pycontainers/{c.id}")
        r = c.exec(["sh", "-c", INSIDE], capture_output=True)
        assert r.returncode == 0, r
        check_inside(r.stdout.decode())
    finally:
        c.kill(9)
        c.wait(timeout=10)
        c.delete()


def test_attached_container_is_in_its_groups(busybox_rootfs: Path, mode: str) -> None:
    with pc.Container.create(
        str(busybox_rootfs), ["sh", "-c", INSIDE], memory="64m", pids_limit=64,
        stdout=pc.PIPE,
    ) as c:  # fmt: skip
        launch = c.supervisor.launch
        assert launch is not None and launch.into_cgroup == (mode == "into")
        assert_in_group(c.pid, f"pycontainers/{c.id}")  # waiting at its start signal
        c.start()
        assert c.stdout is not None
        out = b""
        while chunk := os.read(c.stdout, 65536):
            out += chunk
        assert c.wait(timeout=30) == 0
    check_inside(out.decode())


def test_foreground_run_without_limits_is_in_its_device_group(
    busybox_rootfs: Path, mode: str
) -> None:
    r = pc.run(str(busybox_rootfs), ["sh", "-c", INSIDE], capture_output=True, timeout=30)
    assert r.returncode == 0, r
    lines = r.stdout.decode().split("\n")
    assert all(line.endswith(":/") for line in lines if line.count(":") >= 2), lines


def test_oci_create_is_in_its_groups(busybox_rootfs: Path, tmp_path: Path, mode: str) -> None:
    rt = Runtime(runtime_script(tmp_path), tmp_path / "root")
    bundle = make_bundle(tmp_path / "bundle", busybox_rootfs, ["sleep", "30"])
    caller = Caller(rt, bundle, "join", tmp_path)
    try:
        lines = Path(f"/proc/{caller.pid}/cgroup").read_text().split()
        (rel,) = {line.split(":", 2)[2] for line in lines}
        assert rel.endswith("join"), lines
        assert_in_group(caller.pid, rel.lstrip("/"))
    finally:
        rt("delete", "--force", "join")
        caller.close()


def test_group_removed_under_a_start_fails_it_naming_the_group(
    busybox_rootfs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the race made certain: the cgroup2 group goes after its fd was opened for the clone
    opened = CGroup.clone_into
    removed: list[str] = []

    def clone_into_then_removed(self: CGroup) -> tuple[int, int]:
        fd, index = opened(self)
        directory = self.paths["unified"]
        os.rmdir(directory)
        removed.append(directory)
        return fd, index

    monkeypatch.setattr(CGroup, "clone_into", clone_into_then_removed)
    before = group_dirs()
    with pytest.raises(ContainerStartError) as info:
        pc.Container.create(str(busybox_rootfs), ["true"], memory="64m")
    assert removed and info.value.stage == "cgroup", info.value
    assert removed[0] in str(info.value) and info.value.path == removed[0], info.value
    assert group_dirs() == before
    assert not pc.Container.list()


def test_a_directory_that_is_no_cgroup2_group_is_refused(tmp_path: Path) -> None:
    # a v1 group given as the cgroup2 one: the kernel refuses the clone; no fallback to a
    # start outside the group, and the error names it
    layout = detect_layout()
    if not layout.v1_hierarchies:
        pytest.skip("no cgroup v1 hierarchy on this host to misuse")  # pure v2 host
    root = dict(layout.v1_hierarchies)[sorted(dict(layout.v1_hierarchies))[0]]
    group = os.path.join(root, f"pycontainers-join-test-{os.getpid()}")
    os.mkdir(group)
    procs = os.open(os.path.join(group, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
    directory = os.open(group, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        plan = Plan(argv=("/bin/true",), host_tool=True, fds=((-1, 0), (-1, 1), (-1, 2)),
                    cgroup_fds=(procs,), cgroup_v2_fd=directory, cgroup_v2_index=0)  # fmt: skip
        with pytest.raises(ContainerStartError) as info:
            _sys.spawn(plan)
        assert info.value.stage == "cgroup" and group in str(info.value), info.value
        assert Path(group, "cgroup.procs").read_text() == ""
    finally:
        os.close(procs)
        os.close(directory)
        os.rmdir(group)


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _wait_threads(count: int) -> None:
    deadline = time.monotonic() + 10
    while _threads() != count:
        assert time.monotonic() < deadline, "the primer did not stop"
        time.sleep(0.01)


def test_primer_never_moves_its_process_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    target = prime.target()
    assert target is not None and str(os.getpid()) in Path(target).read_text().split()
    prime.stop()  # a primer of a start of this process that failed
    before, threads = Path("/proc/self/cgroup").read_text(), _threads()
    time.sleep(prime.WARM)  # since the last start of this process: the rwsem may be idle
    assert prime.prime(5.0)
    assert _threads() == threads + 1
    assert prime.prime(5.0) and _threads() == threads + 1  # extends the running one
    time.sleep(0.05)  # some writes
    assert Path("/proc/self/cgroup").read_text() == before
    prime.stop()
    _wait_threads(threads)
    with monkeypatch.context() as m:
        m.setattr(prime, "WARM", 3600.0)  # "just after a start's joins", however slow we are
        assert not prime.prime(5.0)  # the rwsem is active still: nothing to start
        assert _threads() == threads
    time.sleep(prime.WARM)
    assert prime.prime(0.05)  # and it stops by its bound
    _wait_threads(threads)
    assert Path("/proc/self/cgroup").read_text() == before


def test_a_create_that_fails_leaves_no_primer(busybox_rootfs: Path) -> None:
    prime.stop()
    time.sleep(prime.WARM)  # since the last start of this process: create primes
    with pytest.raises(pc.SpecError, match="detach"):
        pc.Container.create(busybox_rootfs, ["true"], tty=True)  # -t needs detach=True
    assert not prime.running()
    time.sleep(prime.WARM)
    assert prime.prime(5.0) and prime.running()
    prime.stop()
    assert not prime.running()


def test_primer_is_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYCONTAINERS_CGROUP_PRIME", "0")
    threads = _threads()
    assert not prime.prime()
    assert _threads() == threads
