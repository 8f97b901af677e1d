"""The rarer cgroup limits on a real kernel: written where this host's layout has the
controller (read back from the cgroup files), refused before anything is made where it does
not (no directory left). The pure-v2 writers of these fields run on a fake tree in
tests/unit/test_resources_fields_unit.py; here each test follows the host's own layout, so
on a pure-v2 host the same tests check the v2 side (files or refusals).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pycontainers.cgroups import (
    CGroup,
    CgroupError,
    CgroupLayout,
    CgroupNotSupported,
    detect_layout,
    remove_parent,
)

pytestmark = pytest.mark.root

PARENT = f"pycontainers-res-{os.getpid()}"
MiB = 1 << 20


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


class Made:
    """Groups made under PARENT; all deleted at teardown, and PARENT with them."""

    def __init__(self, layout: CgroupLayout) -> None:
        self.layout = layout
        self.groups: list[CGroup] = []
        self.count = 0

    def name(self) -> str:
        self.count += 1
        return f"g{self.count}"

    def make(self, parent: str = PARENT, **limits: Any) -> CGroup:
        cg = CGroup.create(self.name(), parent=parent, layout=self.layout, **limits)
        self.groups.append(cg)
        return cg

    def refused(self, error: type[Exception], match: str, **limits: Any) -> None:
        """Creating a group with ``limits`` fails with ``match`` and leaves no directory."""
        name = self.name()
        with pytest.raises(error, match=match):
            CGroup.create(name, parent=PARENT, layout=self.layout, **limits)
        left = [d for d in _dirs(self.layout, f"{PARENT}/{name}") if os.path.exists(d)]
        assert not left, left


def _dirs(layout: CgroupLayout, path: str) -> list[str]:
    roots = list(layout.hierarchies.values()) + ([layout.unified] if layout.unified else [])
    return [os.path.join(root, path) for root in roots]


@pytest.fixture
def made() -> Iterator[Made]:
    m = Made(detect_layout())
    yield m
    for cg in reversed(m.groups):
        cg.delete(kill=True)
    remove_parent(PARENT, layout=m.layout)
    assert not any(os.path.exists(d) for d in _dirs(m.layout, PARENT))


def test_memory_swappiness_oom_killer_hierarchy_kernel_tcp(made: Made) -> None:
    limits: dict[str, Any] = dict(memory_swappiness=10, oom_kill_disable=True,
                                  memory_use_hierarchy=True, memory_kernel_tcp="8m")  # fmt: skip
    if "memory" not in made.layout.v1:  # pure v2: each is refused, naming the field
        made.refused(CgroupNotSupported, "memory_swappiness: cgroup v2", memory_max="64m", **limits)
        return
    cg = made.make(memory_max="64m", **limits)
    d = cg.paths["memory"]
    assert read(f"{d}/memory.swappiness") == "10"
    assert "oom_kill_disable 1" in read(f"{d}/memory.oom_control")
    assert read(f"{d}/memory.use_hierarchy") == "1"
    assert int(read(f"{d}/memory.kmem.tcp.limit_in_bytes")) == 8 * MiB
    cg.update(memory_swappiness=60, oom_kill_disable=False, memory_kernel_tcp=-1)
    assert read(f"{d}/memory.swappiness") == "60"
    assert "oom_kill_disable 0" in read(f"{d}/memory.oom_control")
    assert int(read(f"{d}/memory.kmem.tcp.limit_in_bytes")) > 1 << 62  # unlimited
    if read("/sys/fs/cgroup/memory/memory.use_hierarchy") == "1":  # current kernels: always on
        with pytest.raises(CgroupError, match="always accounts hierarchically"):
            cg.update(memory_use_hierarchy=False)
        made.refused(CgroupError, "always accounts hierarchically", memory_use_hierarchy=False)


def test_memory_check_before_update_refuses_a_limit_below_the_usage(made: Made) -> None:
    cg = made.make(memory_max="256m")
    hog = subprocess.Popen(
        [sys.executable, "-c", "import sys; b = bytearray(48 << 20); print(1, flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        cg.add(hog.pid)  # the bytes it touches from now on are charged here
        assert hog.stdout is not None and hog.stdout.readline().strip() == "1"
        usage = cg.stats().memory
        assert usage is not None
        low = (usage.usage // 2) & ~4095
        with pytest.raises(CgroupError, match=r"memory_max: rejecting a limit"):
            cg.update(memory_max=low, memory_check_before_update=True)
        assert cg.limits()["memory_max"] == "256MiB"  # nothing was written
        cg.update(memory_max="200m", memory_check_before_update=True)  # above: applied
        assert cg.limits()["memory_max"] == "200MiB"
    finally:
        hog.kill()
        hog.wait()


def test_cpu_idle_burst_and_realtime(made: Made) -> None:
    cg = made.make(cpu_quota=50000, cpu_burst=20000, cpu_idle=1)
    if "cpu" in made.layout.v1:
        d = cg.paths["cpu"]
        if not os.path.exists(f"{d}/cpu.idle"):
            pytest.skip("the kernel has no cpu.idle (5.15+)")
        assert (read(f"{d}/cpu.idle"), read(f"{d}/cpu.cfs_burst_us")) == ("1", "20000")
        with pytest.raises(CgroupError, match="must not exceed the quota"):
            cg.update(cpu_burst=60000)
        if not os.path.exists(f"{d}/cpu.rt_runtime_us"):
            made.refused(CgroupNotSupported, "CONFIG_RT_GROUP_SCHED", cpu_rt_runtime=1000)
            return
        # the parent (made with no RT time) leaves none: refused with the reason, nothing left
        made.refused(CgroupError, "what its parent group leaves", cpu_rt_runtime=1000)
        parent = CGroup.open(PARENT, layout=made.layout)
        parent.update(cpu_rt_runtime=500000)  # half of its 1 s period
        rt = made.make(cpu_rt_runtime=100000, cpu_rt_period=500000)
        r = rt.paths["cpu"]
        assert (read(f"{r}/cpu.rt_runtime_us"), read(f"{r}/cpu.rt_period_us")) == (
            "100000",
            "500000",
        )
        # a period below the old runtime: refused by the kernel unless the runtime goes first
        rt.update(cpu_rt_runtime=5000, cpu_rt_period=20000)
        assert (read(f"{r}/cpu.rt_runtime_us"), read(f"{r}/cpu.rt_period_us")) == ("5000", "20000")
    else:
        d = cg.paths["unified"]
        assert (read(f"{d}/cpu.idle"), read(f"{d}/cpu.max.burst")) == ("1", "20000")
        made.refused(CgroupNotSupported, "no real-time group bandwidth", cpu_rt_runtime=1000)


def test_unified_files_where_the_host_has_cgroup2(made: Made) -> None:
    layout = made.layout
    if layout.unified is None:
        made.refused(CgroupNotSupported, "no cgroup2", unified={"pids.max": "5"})
        return
    if layout.kind == "v2":
        cg = made.make(unified={"pids.max": "7", "memory.high": "64M"})
        d = cg.paths["unified"]
        assert (read(f"{d}/pids.max"), read(f"{d}/memory.high")) == ("7", str(64 * MiB))
        return
    # hybrid: the controllers of the unified tree (and its core files), not the v1 ones
    cg = made.make(unified={"cgroup.max.descendants": "7"})
    d = cg.paths["unified"]
    assert read(f"{d}/cgroup.max.descendants") == "7"
    cg.update(unified={"cgroup.max.descendants": "max"})
    assert read(f"{d}/cgroup.max.descendants") == "max"
    if "hugetlb" not in layout.v1 and os.path.exists(f"{d}/hugetlb.2MB.max"):
        cg.update(unified={"hugetlb.2MB.max": str(4 * MiB)})
        assert read(f"{d}/hugetlb.2MB.max") == str(4 * MiB)
    made.refused(CgroupNotSupported, "memory controller is a cgroup v1 hierarchy",
                 pids_max=10, unified={"memory.max": "64M"})  # fmt: skip
    v1_only = CgroupLayout("v1", layout.v1_hierarchies)
    with pytest.raises(CgroupNotSupported, match="no cgroup2"):
        CGroup.open(cg.path, layout=v1_only).update(unified={"pids.max": "5"})


def test_device_and_leaf_weights_follow_the_io_scheduler(made: Made) -> None:
    """This host's disks have no BFQ (no weight files): refused, naming BFQ; where weight
    files exist they are written."""
    if "blkio" not in made.layout.v1:
        pytest.skip("no v1 blkio hierarchy (the v2 writer runs on a fake tree)")
    probe = made.make()
    d = probe.paths["blkio"]
    weights = [n for n in ("blkio.weight_device", "blkio.bfq.weight_device")
               if os.path.exists(f"{d}/{n}")]  # fmt: skip
    if weights:
        probe.update(blkio_weight_device={"8:0": 300})
        assert "8:0 300" in read(f"{d}/{weights[0]}")
    else:
        made.refused(CgroupNotSupported, "blkio_weight_device: no blkio.weight_device.*BFQ",
                     blkio_weight_device={"8:0": 300})  # fmt: skip
    if not os.path.exists(f"{d}/blkio.leaf_weight"):
        made.refused(CgroupNotSupported, "blkio_leaf_weight: .*CFQ", blkio_leaf_weight=200)


def _proc_cgroups(controller: str) -> tuple[int, int]:
    """``(hierarchy id, number of groups)`` /proc/cgroups gives ``controller`` (id 0: not
    a v1 hierarchy)."""
    with open("/proc/cgroups") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == controller:
                return int(fields[1]), int(fields[2])
    return -1, 0


def _hierarchy_of(controller: str) -> int:
    return _proc_cgroups(controller)[0]


NET_MOUNT = ["mount", "-t", "cgroup", "-o", "net_cls,net_prio", "cgroup"]


@pytest.fixture
def net_hierarchy() -> Iterator[str]:
    """A v1 net_cls,net_prio hierarchy mounted for the test (this host mounts none), and
    gone again afterwards: a v1 hierarchy unmounted while a removed group is still dying
    stays behind, unmounted but listed in every process's /proc/PID/cgroup, so it is mounted
    and unmounted again until the kernel has destroyed it (a test fails if it will not go)."""
    if _hierarchy_of("net_cls") != 0 or _hierarchy_of("net_prio") != 0:
        pytest.skip("net_cls/net_prio are not free (a v1 hierarchy has them)")
    mountpoint = tempfile.mkdtemp(prefix="pc-netcls-")
    if subprocess.call([*NET_MOUNT, mountpoint]) != 0:
        os.rmdir(mountpoint)
        pytest.skip("cannot mount a net_cls,net_prio hierarchy")
    try:
        yield mountpoint
    finally:
        deadline = time.monotonic() + 60
        while True:
            # unmount only once the removed groups are freed (the root alone is counted)
            while _proc_cgroups("net_cls")[1] > 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            subprocess.check_call(["umount", mountpoint])
            time.sleep(0.1)
            if _hierarchy_of("net_cls") == 0 or time.monotonic() >= deadline:
                break
            subprocess.check_call([*NET_MOUNT, mountpoint])
        os.rmdir(mountpoint)
        assert _hierarchy_of("net_cls") == 0, "the test's net_cls,net_prio hierarchy stayed"


def test_net_cls_and_net_prio_on_a_real_v1_hierarchy(net_hierarchy: str) -> None:
    layout = CgroupLayout("v1", (("net_cls,net_prio", net_hierarchy),))
    cg = CGroup.create("web", parent=PARENT, layout=layout, net_cls_classid=0x100001,
                       net_prio_ifpriomap={"lo": 5})  # fmt: skip
    try:
        d = Path(net_hierarchy, PARENT, "web")
        assert read(f"{d}/net_cls.classid") == str(0x100001)
        assert "lo 5" in read(f"{d}/net_prio.ifpriomap").splitlines()
        cg.update(net_cls_classid=0x100002, net_prio_ifpriomap={"lo": 1})
        assert read(f"{d}/net_cls.classid") == str(0x100002)
        assert "lo 1" in read(f"{d}/net_prio.ifpriomap").splitlines()
        with pytest.raises(CgroupError, match=r"net_prio\.ifpriomap"):  # the kernel's check
            cg.update(net_prio_ifpriomap={"no-such-if0": 1})
    finally:
        cg.delete()
        remove_parent(PARENT, layout=layout)


def test_net_limits_and_rdma_are_refused_where_not_mounted(made: Made) -> None:
    if not {"net_cls", "net_prio"} & made.layout.v1_controllers:
        made.refused(CgroupNotSupported, "net_cls is a cgroup v1 controller", net_cls_classid=1)
        made.refused(CgroupNotSupported, "net_prio", net_prio_ifpriomap={"lo": 1})
    controllers = read(f"{made.layout.unified}/cgroup.controllers") if made.layout.unified else ""
    if "rdma" not in made.layout.v1_controllers and "rdma" not in controllers.split():
        made.refused(CgroupNotSupported, "rdma controller is not available",
                     rdma={"mlx5_0": {"hca_handles": 1}})  # fmt: skip
