"""cgroups on a real kernel: limits that bite, freeze, kill, stats, OOM events, cleanup.

Each backend runs for real where this host has it: the host's own layout (hybrid here), its
v1 hierarchies alone (the v1 backend) and its unified tree alone (the v2 backend, with the
core files cgroup2 always has). Controller files only a pure-v2 host has are exercised on a
fake cgroupfs tree in tests/unit/test_cgroups_unit.py, whose test names say so.
"""

from __future__ import annotations

import errno
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pycontainers.cgroups import (
    CGroup,
    CgroupError,
    CgroupLayout,
    CgroupNotSupported,
    HybridCGroup,
    Resources,
    detect_layout,
    open_cgroup,
    remove_parent,
)
from pycontainers.cgroups._factory import backend
from pycontainers.errors import SpecError

pytestmark = pytest.mark.root

MiB = 1 << 20
PARENT = f"pycontainers-test-{os.getpid()}"
PY = sys.executable


def host_layout() -> CgroupLayout:
    try:
        return detect_layout()
    except CgroupNotSupported:
        pytest.skip("no cgroup filesystem is mounted")


def layout_of(kind: str) -> CgroupLayout:
    """The host's layout, or one side of it: "v1" = its v1 hierarchies, "v2" = its unified tree."""
    host = host_layout()
    if kind == "hybrid":
        if host.kind != "hybrid":
            pytest.skip(f"this host's cgroups are {host.kind}, not hybrid")
        return host
    if kind == "v1":
        if not host.v1_hierarchies:
            pytest.skip("no cgroup v1 hierarchy is mounted")
        return CgroupLayout("v1", host.v1_hierarchies)
    if not host.unified:
        pytest.skip("no cgroup2 hierarchy is mounted")
    return CgroupLayout("v2", unified=host.unified)


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def wait_for(test: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def pycontainers_dirs(layout: CgroupLayout) -> set[str]:
    roots = set(layout.hierarchies.values()) | ({layout.unified} if layout.unified else set())
    return {
        os.path.join(root, name)
        for root in roots
        for name in os.listdir(root)
        # not the engine's own parent "pycontainers": containers of other modules come and
        # go below it (their monitors' exit hooks may still be finishing); the session-end
        # check in tests/conftest.py makes sure nothing is left there at the end
        if name.startswith(("pycontainers-", "pytest-")) and os.path.isdir(os.path.join(root, name))
    }


@pytest.fixture(scope="module", autouse=True)
def no_cgroups_left() -> Iterator[None]:
    """At the end: no test cgroup (or new pycontainers* group) in any hierarchy; the unified
    root's subtree_control as it was."""
    try:
        layout = detect_layout()
    except CgroupNotSupported:
        yield
        return
    before = pycontainers_dirs(layout)
    control = f"{layout.unified}/cgroup.subtree_control" if layout.unified else None
    enabled_before = set(read(control).split()) if control else set()
    yield
    parent = backend(PARENT, layout)
    leftovers = [
        root
        for d in parent.paths.values()
        if os.path.isdir(d)
        for root, _, _ in os.walk(d)
        if root != d
    ]
    if leftovers:
        parent.delete(kill=True)
    remove_parent(PARENT, layout=layout)
    if control:  # the tests enabled controllers at the root: give the host back as it was
        for controller in set(read(control).split()) - enabled_before:
            try:
                with open(control, "w") as f:
                    f.write(f"-{controller}")
            except OSError:
                pass
    assert not leftovers, f"test cgroups left behind: {leftovers}"
    assert pycontainers_dirs(layout) <= before, "cgroup directories left behind"


class Groups:
    """Creates groups with unique names under the test parent; deletes them all at teardown."""

    def __init__(self) -> None:
        self.made: list[CGroup] = []

    def make(
        self, layout: CgroupLayout | None = None, resources: Resources | None = None, **limits: Any
    ) -> CGroup:
        name = f"pytest-{os.getpid()}-{len(self.made) + 1}"
        cg = CGroup.create(name, resources, parent=PARENT, layout=layout, **limits)
        self.made.append(cg)
        return cg

    def cleanup(self) -> None:
        errors = []
        for cg in reversed(self.made):
            try:
                cg.delete(kill=True)
            except CgroupError as exc:
                errors.append(str(exc))
        assert not errors, errors
        for cg in self.made:
            assert not any(os.path.exists(d) for d in cg.paths.values()), cg.paths


@pytest.fixture
def groups() -> Iterator[Groups]:
    made = Groups()
    yield made
    made.cleanup()


class Procs:
    """Starts processes for the tests; kills and reaps them at teardown."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def start(self, args: list[str], cg: CGroup | None = None) -> subprocess.Popen[str]:
        p = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, close_fds=True
        )
        self.started.append(p)
        if cg is not None:
            cg.add(p.pid)
        return p

    def python(self, code: str, cg: CGroup, *args: str) -> subprocess.Popen[str]:
        """Run ``code`` in the group: it starts outside, is moved in, then told to go."""
        p = self.start([PY, "-c", "import sys; sys.stdin.readline()\n" + code, *args], cg)
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
        return p

    def cleanup(self) -> None:
        for p in self.started:
            if p.poll() is None:
                p.kill()
            p.communicate()


@pytest.fixture
def procs(no_leaks: Any) -> Iterator[Procs]:
    started = Procs()
    yield started
    started.cleanup()


def line(p: subprocess.Popen[str]) -> str:
    assert p.stdout is not None
    return p.stdout.readline().strip()


def go(p: subprocess.Popen[str]) -> None:
    assert p.stdin is not None
    p.stdin.write("go\n")
    p.stdin.flush()


# -- creation, identity, joining -----------------------------------------------------------------


def test_detected_backend_fits_the_host(groups: Groups) -> None:
    layout = host_layout()
    cg = groups.make()
    assert cg.kind == layout.kind
    keys = set(layout.hierarchies) | ({"unified"} if layout.unified else set())
    assert set(cg.paths) == keys
    for key, directory in cg.paths.items():
        assert os.path.isdir(directory), key
        assert directory.endswith(f"/{PARENT}/{cg.name}")
    assert cg.path == f"{PARENT}/{cg.name}"
    assert cg.unified_path == (cg.paths.get("unified"))


def test_create_is_idempotent_and_open_finds_it(groups: Groups) -> None:
    cg = groups.make(pids_max=10)
    again = CGroup.create(cg.name, parent=PARENT, pids_max=20)
    assert again == cg
    assert open_cgroup(cg.path) == cg
    assert "pids_max=20" in repr(cg)
    with pytest.raises(CgroupError) as info:
        open_cgroup(f"{PARENT}/does-not-exist")
    assert info.value.errno == errno.ENOENT


def test_default_parent_is_pycontainers() -> None:
    layout = host_layout()
    existed = os.path.isdir(next(iter(backend("pycontainers", layout).paths.values())))
    cg = CGroup.create(f"pytest-default-{os.getpid()}")
    try:
        assert cg.path == f"pycontainers/pytest-default-{os.getpid()}"
    finally:
        cg.delete()
        if not existed:
            remove_parent()  # the module's final check fails if it stayed


def test_procs_paths_let_a_process_join_itself(groups: Groups, procs: Procs) -> None:
    """What the container's C child does: write "0" to every cgroup.procs before execve."""
    cg = groups.make()
    code = (
        "import sys\n"
        "for path in sys.argv[1:]:\n"
        "    with open(path, 'w') as f: f.write('0')\n"
        "print(open('/proc/self/cgroup').read().replace('\\n', ';'), flush=True)\n"
    )
    p = procs.start([PY, "-c", code, *cg.procs_paths()])
    entries = dict(entry.split(":", 2)[1:] for entry in line(p).split(";") if entry)
    p.wait()
    assert len(cg.procs_paths()) == len(cg.paths)
    for key in cg.paths:
        assert entries["" if key == "unified" else key] == f"/{cg.path}", key


def test_add_and_procs_in_every_hierarchy(groups: Groups, procs: Procs) -> None:
    cg = groups.make()
    p = procs.start(["sleep", "60"], cg)
    assert cg.procs() == [p.pid]
    for path in cg.procs_paths():
        assert read(path).split() == [str(p.pid)], path


def test_invalid_values_raise_at_construction_with_the_field() -> None:
    for kwargs, field in (
        ({"memory_max": "64x"}, "memory_max"),
        ({"pids_max": -3}, "pids_max"),
        ({"cpus": (os.cpu_count() or 1) + 1}, "cpus"),
        ({"cpuset_cpus": str(os.cpu_count() or 1)}, "cpuset_cpus"),
        ({"io_read_bps": {"/dev/nope": "1m"}}, "io_read_bps"),
    ):
        with pytest.raises(SpecError) as info:
            CGroup.create("never-made", parent=PARENT, **kwargs)
        assert info.value.field == field
    with pytest.raises(SpecError) as info:
        CGroup.create("never-made", parent=PARENT, memory="1g", mem_limit="2g")
    assert info.value.field == "mem_limit"
    with pytest.raises(SpecError) as info:
        CGroup.create("../escape", parent=PARENT)
    assert info.value.field == "name"
    assert not os.path.exists(next(iter(backend(f"{PARENT}/never-made").paths.values())))


# -- limits that bite ----------------------------------------------------------------------------

ALLOCATE = "x = b'\\x01' * (96 << 20)\nprint('survived', flush=True)\n"


def test_oom_kill_is_counted_and_reported(groups: Groups, procs: Procs) -> None:
    cg = groups.make(memory_max="32m")
    if "memory" not in cg.controllers:
        pytest.skip("no memory controller on this host")
    with cg.oom_events() as events:
        assert not cg.oom_killed()
        p = procs.python(ALLOCATE, cg)
        assert p.wait(timeout=60) == -9
        assert events.wait(timeout=10)
    assert cg.oom_killed()
    assert cg.oom_kill_count() >= 1
    memory = cg.stats().memory
    assert memory is not None
    assert memory.oom_kill >= 1
    assert memory.limit == 32 * MiB
    assert memory.failcnt
    assert "oom_kill=" in repr(cg)


def test_fork_bomb_stops_at_pids_max(groups: Groups, procs: Procs) -> None:
    cg = groups.make(pids_max=32)
    if "pids" not in cg.controllers:
        pytest.skip("no pids controller on this host")
    bomb = (
        "import os, time\n"
        "forked = failed = 0\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except BlockingIOError:\n"  # EAGAIN: pids.max reached
        "        failed += 1\n"
        "        continue\n"
        "    if pid == 0:\n"
        "        time.sleep(120)\n"
        "        os._exit(0)\n"
        "    forked += 1\n"
        "print(forked, failed, flush=True)\n"
        "sys.stdin.readline()\n"
    )
    p = procs.python(bomb, cg)
    assert p.stdout is not None
    seen = []
    while not select.select([p.stdout], [], [], 0.001)[0]:  # sample while it forks
        sample = cg.stats().pids
        assert sample is not None
        seen.append(sample.current)
    forked, failed = (int(n) for n in line(p).split())
    pids = cg.stats().pids
    assert pids is not None
    seen.append(pids.current)
    assert forked == 31  # 32 tasks: the bomb and 31 children
    assert failed == 200 - 31
    assert pids.current == 32
    assert pids.max == 32
    assert pids.peak is None or pids.peak <= 32
    assert max(seen) <= 32
    cg.kill()
    assert p.wait(timeout=10) == -9
    assert cg.procs() == []


def test_cpus_keeps_a_busy_loop_near_its_share(groups: Groups, procs: Procs) -> None:
    cg = groups.make(cpus=0.2)
    if "cpu" not in cg.controllers:
        pytest.skip("no cpu controller on this host")
    procs.start(["sh", "-c", "while :; do :; done"], cg)
    first = cg.stats().cpu
    start = time.monotonic()
    time.sleep(1.0)
    last = cg.stats().cpu
    wall = time.monotonic() - start
    assert first is not None and last is not None
    share = (last.usage - first.usage) / (wall * 1e9)
    assert 0.10 <= share <= 0.35, f"{share:.2f} of a CPU"
    assert last.nr_throttled is not None and last.nr_throttled > 0
    assert cg.limits()["cpus"] == "0.2"


def test_cpuset_pins_the_process(groups: Groups, procs: Procs) -> None:
    cg = groups.make(cpuset_cpus="0")
    p = procs.start(["sleep", "60"], cg)
    assert os.sched_getaffinity(p.pid) == {0}


def test_device_rules_v1_are_enforced(groups: Groups, procs: Procs) -> None:
    layout = host_layout()
    if "devices" not in layout.v1:
        pytest.skip("no v1 devices hierarchy")
    cg = groups.make(devices_deny=["a"], devices_allow=["c 1:3 rwm"])
    assert read(f"{cg.paths['devices']}/devices.list").split("\n")[0] == "c 1:3 rwm"
    code = (
        "import os\n"
        "for path in ('/dev/null', '/dev/zero'):\n"
        "    try:\n"
        "        os.close(os.open(path, os.O_RDONLY)); print(path, 'ok', flush=True)\n"
        "    except OSError as exc:\n"
        "        print(path, exc.errno, flush=True)\n"
    )
    p = procs.python(code, cg)
    assert line(p) == "/dev/null ok"
    assert line(p) == f"/dev/zero {errno.EPERM}"


def _root_disk() -> tuple[str, str]:
    """The whole-disk block device under / and its major:minor (skip if there is none)."""
    st = os.stat("/")
    sys_dir = os.path.realpath(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    if not os.path.isdir(sys_dir):
        pytest.skip("/ is not on a block device")
    if os.path.exists(f"{sys_dir}/partition"):
        sys_dir = os.path.dirname(sys_dir)
    name = os.path.basename(sys_dir)
    number = read(f"{sys_dir}/dev").strip()
    if not os.path.exists(f"/dev/{name}"):
        pytest.skip(f"no /dev/{name}")
    return f"/dev/{name}", number


def test_blkio_limits_are_written(groups: Groups) -> None:
    layout = host_layout()
    if "blkio" not in layout.v1:
        pytest.skip("no v1 blkio hierarchy")
    disk, number = _root_disk()
    cg = groups.make(device_read_bps={disk: "1m"}, device_write_iops={disk: 100})
    d = cg.paths["blkio"]
    assert read(f"{d}/blkio.throttle.read_bps_device").split() == [number, str(MiB)]
    assert read(f"{d}/blkio.throttle.write_iops_device").split() == [number, "100"]
    if any(os.path.exists(f"{d}/{f}") for f in ("blkio.weight", "blkio.bfq.weight")):
        cg.update(blkio_weight=500)
        weights = [f for f in ("blkio.weight", "blkio.bfq.weight") if os.path.exists(f"{d}/{f}")]
        assert "500" in read(f"{d}/{weights[0]}").split()
    cg.update(device_read_bps={disk: -1})  # lifts the limit
    assert read(f"{d}/blkio.throttle.read_bps_device").strip() == ""


def test_hugetlb_limit_lands_where_the_controller_is(groups: Groups) -> None:
    from pycontainers.cgroups._units import hugepage_sizes

    if "2MB" not in hugepage_sizes():
        pytest.skip("no 2 MiB huge pages")
    probe = groups.make()
    if "hugetlb" not in probe.controllers:
        pytest.skip("no hugetlb controller")
    cg = groups.make(hugetlb={"2MB": "4m"})
    files = [
        f"{d}/{name}"
        for d in cg.paths.values()
        for name in ("hugetlb.2MB.max", "hugetlb.2MB.limit_in_bytes")
        if os.path.exists(f"{d}/{name}")
    ]
    assert files
    assert read(files[0]).strip() == str(4 * MiB)
    assert cg.limits()["hugetlb.2MB"] == "4MiB"


# -- freeze and kill, per backend ------------------------------------------------------------------

COUNTER = (
    "import os, time\n"
    "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)\n"
    "n = 0\n"
    "while True:\n"
    "    n += 1\n"
    "    os.pwrite(fd, b'%012d' % n, 0)\n"
    "    time.sleep(0.002)\n"
)


def counter(path: Path) -> int:
    text = path.read_text()
    return int(text) if text else 0


@pytest.mark.parametrize("kind", ["v1", "v2", "hybrid", "hybrid-unified"])
def test_freeze_stops_progress_and_thaw_resumes(
    kind: str, groups: Groups, procs: Procs, tmp_path: Path
) -> None:
    layout = layout_of(kind.split("-")[0])
    cg = groups.make(layout=layout)
    freezer: CGroup = cg
    if kind == "hybrid-unified":
        assert isinstance(cg, HybridCGroup)
        freezer = cg.v2  # the unified tree's cgroup.freeze instead of the v1 freezer
    count = tmp_path / "count"
    count.write_text("")
    procs.python(COUNTER, cg, str(count))
    wait_for(lambda: counter(count) > 3, "the counter to run")
    freezer.freeze()
    assert freezer.is_frozen()
    frozen_at = counter(count)
    time.sleep(0.3)
    assert counter(count) == frozen_at
    freezer.thaw()
    assert not freezer.is_frozen()
    wait_for(lambda: counter(count) > frozen_at, "the counter to move again")


@pytest.mark.parametrize("kind", ["v1", "v2", "hybrid"])
def test_kill_empties_the_group(kind: str, groups: Groups, procs: Procs) -> None:
    """v1: SIGKILL rounds under the freezer; v2 and hybrid: cgroup.kill."""
    cg = groups.make(layout=layout_of(kind))
    sleepers = [procs.start(["sleep", "60"], cg) for _ in range(3)]
    shell = procs.start(["sh", "-c", "read go; sleep 60 & sleep 60 & wait"], cg)
    go(shell)
    wait_for(lambda: len(cg.procs()) == 6, "the shell's children")
    cg.kill()
    assert cg.procs() == []
    for p in [*sleepers, shell]:
        assert p.wait(timeout=10) == -9
    cg.delete()
    assert not cg.exists()


def test_stats_move_with_the_workload(groups: Groups, procs: Procs, tmp_path: Path) -> None:
    cg = groups.make()
    before = cg.stats()
    work = (
        "import mmap, os\n"
        "x = b'\\x01' * (24 << 20)\n"
        "t = 0\n"
        "for i in range(3_000_000): t += i\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)\n"
        "print(os.readv(fd, [mmap.mmap(-1, 1 << 20)]), flush=True)\n"
        "sys.stdin.readline()\n"
    )
    data = tmp_path / "data"
    data.write_bytes(os.urandom(MiB))
    with open(data, "rb+") as f:
        os.fsync(f.fileno())
    p = procs.python(work, cg, str(data))
    assert line(p) == str(MiB)
    after = cg.stats()
    if after.memory is not None and before.memory is not None:
        assert after.memory.usage >= before.memory.usage + 20 * MiB
        assert after.memory.peak is None or after.memory.peak >= after.memory.usage
    assert after.cpu is not None and before.cpu is not None
    assert after.cpu.usage > before.cpu.usage + 10_000_000  # 10 ms of counting, at least
    assert after.cpu.user is not None and after.cpu.user > 0
    if after.pids is not None:
        assert after.pids.current == 1
    st = os.stat(data)
    device = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    if after.io is not None and os.major(st.st_dev) != 0:
        assert after.io.devices[device].read_bytes >= MiB
        assert after.io.devices[device].read_ops >= 1
    go(p)
    p.wait()


def test_update_memory_limit_on_a_live_group(groups: Groups, procs: Procs) -> None:
    cg = groups.make(memory_max="64m")
    if "memory" not in cg.controllers:
        pytest.skip("no memory controller on this host")
    hold = "x = b'\\x01' * (40 << 20)\nprint('holding', flush=True)\nsys.stdin.readline()\n"
    p = procs.python(hold, cg)
    assert line(p) == "holding"
    cg.update(memory_max="48m", cpus=0.5, pids_max=8)
    limits = cg.limits()
    assert limits["memory_max"] == "48MiB"
    assert limits["cpus"] == "0.5"
    assert limits["pids_max"] == "8"
    memory = cg.stats().memory
    assert memory is not None and memory.limit == 48 * MiB
    owner = cg.v1 if isinstance(cg, HybridCGroup) else cg
    if owner.kind == "v1":
        with open("/proc/meminfo") as f:
            swap = next(int(x.split()[1]) for x in f if x.startswith("SwapTotal:"))
        if swap:
            pytest.skip("with swap the kernel can reclaim the 40 MiB instead")
        # v1 refuses a limit below what it cannot reclaim: EBUSY, and the old limit stays
        with pytest.raises(CgroupError) as info:
            cg.update(memory_max="16m")
        assert info.value.errno == errno.EBUSY
        assert cg.limits()["memory_max"] == "48MiB"
        assert p.poll() is None
    else:  # v2 takes the limit and the OOM killer makes it true
        cg.update(memory_max="16m")
        assert p.wait(timeout=10) == -9


def test_memory_and_swap_raised_together(groups: Groups) -> None:
    """v1 needs memsw >= limit at each step: raising both writes memsw first."""
    layout = host_layout()
    memory_dir = layout.v1.get("memory")
    if not memory_dir or not os.path.exists(f"{memory_dir}/memory.memsw.limit_in_bytes"):
        pytest.skip("no v1 memory controller with swap accounting")
    cg = groups.make(memory_max="32m", memory_swap="64m")
    cg.update(memory_max="128m", memory_swap="256m")
    d = cg.paths["memory"]
    assert int(read(f"{d}/memory.limit_in_bytes")) == 128 * MiB
    assert int(read(f"{d}/memory.memsw.limit_in_bytes")) == 256 * MiB
    cg.update(memory_max="16m", memory_swap="32m")
    assert int(read(f"{d}/memory.memsw.limit_in_bytes")) == 32 * MiB


def test_repr_and_html_show_limits_and_stats(groups: Groups, procs: Procs) -> None:
    cg = groups.make(memory_max="32m", pids_max=16)
    procs.start(["sleep", "60"], cg)
    text = repr(cg)
    assert text.startswith(f"<CGroup {cg.kind} {cg.path}")
    assert "pids_max=16" in text
    assert "pids=1" in text
    html = cg._repr_html_()
    assert "<table>" in html
    assert "pids_max" in html


def test_200_cycles_leave_no_cgroup_behind() -> None:
    layout = host_layout()
    parent = f"{PARENT}/cycles"
    for i in range(200):
        cg = CGroup.create(f"c{i}", parent=parent, layout=layout)
        p = subprocess.Popen(["sleep", "60"])
        try:
            cg.add(p.pid)
            assert cg.procs() == [p.pid]
            cg.kill()
        finally:
            p.kill()
            p.wait()
        cg.delete()
    for directory in backend(parent, layout).paths.values():
        left = [root for root, _, _ in os.walk(directory) if root != directory]
        assert not left, left
    assert remove_parent(parent, layout=layout)


# -- the v2 backend on this host's unified tree ----------------------------------------------------


def test_v2_unified_tree_nesting_and_subtree_control(groups: Groups, procs: Procs) -> None:
    layout = layout_of("v2")
    outer = groups.make(layout=layout)
    inner = outer.child("inner")
    assert inner.path == f"{outer.path}/inner"
    assert outer.children() == ["inner"]
    assert outer.unified_path is not None and inner.unified_path is not None
    offered = set(read(f"{outer.unified_path}/cgroup.controllers").split())
    enabled = set(read(f"{outer.unified_path}/cgroup.subtree_control").split())
    assert offered <= enabled  # every controller the parent has is passed down
    assert set(read(f"{inner.unified_path}/cgroup.controllers").split()) == enabled
    p = procs.start(["sleep", "60"], inner)
    assert inner.procs() == [p.pid]
    assert outer.procs() == []
    events = f"{outer.unified_path}/cgroup.events"
    assert "populated 1" in read(events)
    if enabled:  # "no internal processes": a group that passes controllers down has none
        q = procs.start(["sleep", "60"])
        with pytest.raises(CgroupError) as info:
            outer.add(q.pid)
        assert info.value.errno == errno.EBUSY
    outer.kill()  # cgroup.kill takes the whole subtree
    assert p.wait(timeout=10) == -9
    assert "populated 0" in read(events)
    outer.delete()
    assert not os.path.exists(inner.unified_path)
    assert not os.path.exists(outer.unified_path)


def test_v2_freeze_reports_through_cgroup_events(groups: Groups, procs: Procs) -> None:
    cg = groups.make(layout=layout_of("v2"))
    procs.start(["sleep", "60"], cg)
    assert cg.unified_path is not None
    cg.freeze()
    assert "frozen 1" in read(f"{cg.unified_path}/cgroup.events")
    assert read(f"{cg.unified_path}/cgroup.freeze").strip() == "1"
    cg.thaw()
    assert "frozen 0" in read(f"{cg.unified_path}/cgroup.events")


def test_v1_backend_has_no_unified_side(groups: Groups) -> None:
    cg = groups.make(layout=layout_of("v1"))
    assert cg.unified_path is None
    assert "unified" not in cg.paths
    assert cg.exists()
    from pycontainers.cgroups._units import hugepage_sizes

    if "hugetlb" not in cg.layout.v1 and "2MB" in hugepage_sizes():
        with pytest.raises(CgroupNotSupported, match="hugetlb"):
            cg.update(hugetlb={"2MB": "2m"})
