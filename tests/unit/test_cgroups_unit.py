"""cgroups without root: sizes, conversions, layout detection from text, Resources validation,
stats parsers, and the backends on fake cgroupfs trees for what this host's kernel cannot show
(pure-v2 controller files, co-mounted v1 hierarchies)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pycontainers.cgroups import (
    CGroup,
    CgroupError,
    CgroupLayout,
    CgroupNotSupported,
    DeviceRule,
    Resources,
    blkio_weight_to_io_weight,
    cpu_shares_to_weight,
    cpu_weight_to_shares,
    io_weight_to_blkio_weight,
    parse_bytes,
    parse_layout,
)
from pycontainers.cgroups._base import check_path
from pycontainers.cgroups._stats import flat_keyed, io_stat_v1, io_stat_v2, limit_value
from pycontainers.cgroups._units import (
    format_bytes,
    format_cpu_list,
    hugepage_name,
    hugepage_sizes,
    parse_cpu_list,
)
from pycontainers.errors import SpecError

MiB = 1 << 20

# -- sizes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64m", 64 * MiB),
        ("64M", 64 * MiB),
        ("64mb", 64 * MiB),
        ("64MiB", 64 * MiB),
        ("1g", 1 << 30),
        ("512k", 512 << 10),
        ("100b", 100),
        ("100", 100),
        ("1.5g", 3 << 29),
        (4096, 4096),
        ("max", -1),
        (-1, -1),
    ],
)
def test_parse_bytes_follows_docker(text: object, expected: int) -> None:
    assert parse_bytes("memory", text) == expected


@pytest.mark.parametrize("bad", ["64x", "", "m", "-5", "1e6", "64 mm", True, 1.5, None, -2])
def test_parse_bytes_rejects_with_field_name(bad: object) -> None:
    with pytest.raises(SpecError) as info:
        parse_bytes("memory_max", bad)
    assert info.value.field == "memory_max"


def test_parse_bytes_unlimited_only_where_allowed() -> None:
    with pytest.raises(SpecError):
        parse_bytes("hugetlb", "max", allow_unlimited=False)


def test_format_bytes() -> None:
    assert format_bytes(32 * MiB) == "32MiB"
    assert format_bytes(1536) == "1.5KiB"
    assert format_bytes(None) == format_bytes(-1) == "max"
    assert format_bytes(10) == "10B"


# -- conversions -------------------------------------------------------------------------------


def test_cpu_shares_to_weight_matches_the_runtimes() -> None:
    # fixed points of the quadratic (crun #1767, opencontainers/cgroups), and 256 shares → 35
    # as Kubernetes' e2e tests expect from runc 1.3.2+
    assert cpu_shares_to_weight(2) == 1
    assert cpu_shares_to_weight(1024) == 100
    assert cpu_shares_to_weight(262144) == 10000
    assert cpu_shares_to_weight(256) == 35
    assert cpu_shares_to_weight(1) == 1
    assert cpu_shares_to_weight(10**6) == 10000


def test_cpu_weight_to_shares_inverts() -> None:
    assert cpu_weight_to_shares(100) == 1024
    assert cpu_weight_to_shares(1) == 2
    assert cpu_weight_to_shares(10000) == 262144
    for shares in (2, 3, 100, 512, 1024, 4096, 100000, 262144):
        assert (
            abs(
                cpu_shares_to_weight(cpu_weight_to_shares(cpu_shares_to_weight(shares)))
                - cpu_shares_to_weight(shares)
            )
            <= 1
        )


def test_blkio_io_weight() -> None:
    assert blkio_weight_to_io_weight(10) == 1
    assert blkio_weight_to_io_weight(1000) == 10000
    assert blkio_weight_to_io_weight(500) == 1 + 490 * 9999 // 990
    assert io_weight_to_blkio_weight(1) == 10
    assert io_weight_to_blkio_weight(10000) == 1000
    assert io_weight_to_blkio_weight(blkio_weight_to_io_weight(500)) == 500


def test_cpu_lists() -> None:
    assert parse_cpu_list("cpuset_cpus", "0-2,5") == {0, 1, 2, 5}
    assert parse_cpu_list("cpuset_cpus", 3) == {3}
    assert format_cpu_list({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    for bad in ("a", "3-1", "", "1-", "1,,x"):
        with pytest.raises(SpecError):
            parse_cpu_list("cpuset_cpus", bad)


def test_hugepage_names() -> None:
    assert hugepage_name(2 * MiB) == "2MB"
    assert hugepage_name(1 << 30) == "1GB"
    assert hugepage_name(64 << 10) == "64KB"
    for name, size in hugepage_sizes().items():
        assert hugepage_name(size) == name


# -- layout ---------------------------------------------------------------------------------------

HYBRID_MOUNTINFO = """\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
HYBRID_CGROUP = "9:name=systemd:/\n4:memory:/a/b\n2:cpuacct:/\n1:cpu:/\n0::/\n"


def test_parse_layout_hybrid() -> None:
    layout = parse_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP)
    assert layout.kind == "hybrid"
    assert layout.unified == "/sys/fs/cgroup/unified"
    assert layout.hierarchies == {
        "cpu": "/sys/fs/cgroup/cpu",
        "cpuacct": "/sys/fs/cgroup/cpuacct",
        "memory": "/sys/fs/cgroup/memory",
        "name=systemd": "/sys/fs/cgroup/systemd",
    }
    assert layout.v1_controllers == {"cpu", "cpuacct", "memory"}


def test_parse_layout_comounted_v1_reads_super_options() -> None:
    mountinfo = (
        "25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup "
        "rw,cpu,cpuacct\n"
        "26 24 0:23 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
        "27 24 0:24 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset,clone_children\n"
    )
    proc = "3:cpuset:/\n2:net_cls,net_prio:/\n1:cpu,cpuacct:/\n0::/\n"
    layout = parse_layout(mountinfo, proc)
    assert layout.kind == "v1"
    assert layout.v1["cpu"] == layout.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert set(layout.hierarchies) == {"cpu,cpuacct", "net_cls,net_prio", "cpuset"}
    # clone_children is an option, not a controller: /proc/self/cgroup tells them apart
    assert layout.v1["cpuset"] == "/sys/fs/cgroup/cpuset"
    assert ("/sys/fs/cgroup/cpu", "cpu,cpuacct") in layout.container_symlinks()
    targets = [m.target for m in layout.container_mounts()]
    assert targets[0] == "/sys/fs/cgroup"
    assert "/sys/fs/cgroup/cpu,cpuacct" in targets


def test_parse_layout_pure_v2_and_mount_preference() -> None:
    mountinfo = (
        "40 30 0:38 /inner /mnt/x rw - cgroup2 cgroup2 rw\n"
        "41 30 0:38 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    )
    layout = parse_layout(mountinfo, "0::/user.slice\n")
    assert layout == CgroupLayout("v2", unified="/sys/fs/cgroup")
    mounts = layout.container_mounts()
    assert [(m.target, m.fstype) for m in mounts] == [("/sys/fs/cgroup", "cgroup2")]


def test_parse_layout_escaped_mountpoint() -> None:
    mountinfo = "41 30 0:38 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n"
    assert parse_layout(mountinfo, "0::/\n").unified == "/mnt/cg two"


def test_parse_layout_without_cgroups() -> None:
    with pytest.raises(CgroupNotSupported):
        parse_layout("22 1 254:0 / / rw - ext4 /dev/vda rw\n", "0::/\n")


def test_layout_validation() -> None:
    with pytest.raises(SpecError) as info:
        CgroupLayout("v3")  # type: ignore[arg-type]
    assert info.value.field == "kind"
    with pytest.raises(SpecError):
        CgroupLayout("v2")
    with pytest.raises(SpecError):
        CgroupLayout("v1", {"memory": "/m"}, "/u")
    with pytest.raises(SpecError):
        CgroupLayout("hybrid", {}, "/u")


def test_this_host_layout_is_read_not_guessed() -> None:
    try:
        from pycontainers.cgroups import detect_layout

        layout = detect_layout(refresh=True)
    except CgroupNotSupported:
        pytest.skip("no cgroup filesystem mounted")
    with open("/proc/self/mountinfo") as f:
        kinds = {line.split(" - ")[1].split()[0] for line in f if " - cgroup" in line}
    assert (layout.unified is not None) == ("cgroup2" in kinds)
    assert bool(layout.v1_hierarchies) == ("cgroup" in kinds)


# -- names ------------------------------------------------------------------------------------------


def test_check_path() -> None:
    assert check_path("name", "/a/b/") == "a/b"
    assert check_path("parent", "", allow_empty=True) == ""
    for bad in ("", "..", "a/../b", "a b", "cgroup.procs", "x\x00"):
        with pytest.raises(SpecError) as info:
            check_path("name", bad)
        assert info.value.field == "name"


# -- Resources --------------------------------------------------------------------------------------


def _block_device() -> str:
    for name in sorted(os.listdir("/dev")):
        path = f"/dev/{name}"
        try:
            if stat.S_ISBLK(os.stat(path).st_mode):
                return path
        except OSError:
            continue
    pytest.skip("no block device node in /dev")


def test_resources_from_docker_keywords() -> None:
    dev = _block_device()
    res = Resources.from_docker(
        memory="64m",
        cpus=0.5,
        pids_limit=32,
        cpuset_cpus="0",
        blkio_weight=500,
        device_read_bps={dev: "1m"},
        memswap_limit="128m",
        mem_reservation="32m",
    )
    assert res.memory_max == 64 * MiB
    assert res.memory_swap == 128 * MiB
    assert res.memory_low == 32 * MiB
    assert res.cpus == 0.5
    assert res.cpu_limit() == (50000, 100000)
    assert res.pids_max == 32
    assert res.cpuset_cpus == "0"
    assert res.io_weight_value() == blkio_weight_to_io_weight(500)
    st = os.stat(dev)
    assert [(d.path, d.major, d.minor, d.rate) for d in res.io_read_bps] == [
        (dev, os.major(st.st_rdev), os.minor(st.st_rdev), MiB)
    ]
    assert res.controllers() == {"memory", "cpu", "cpuset", "pids", "io"}
    assert "memory_max=64MiB" in repr(res)


def test_resources_docker_aliases() -> None:
    assert Resources.from_docker(mem_limit="1g").memory_max == 1 << 30
    assert Resources.from_docker(nano_cpus=1_500_000_000).cpu_limit() == (150000, 100000)
    assert Resources.from_docker(pids_limit=0).pids_max == -1
    assert Resources.from_docker(pids_limit=-1).pids_max == -1
    assert Resources.from_docker(device_cgroup_rules=["c 1:3 rwm"]).devices_allow == (
        DeviceRule("c", 1, 3, "rwm"),
    )
    assert Resources.from_docker(memory_max="2m", memory=None).memory_max == 2 * MiB


def test_docker_errors_name_the_keyword_written() -> None:
    with pytest.raises(SpecError) as info:
        Resources.from_docker(mem_limit="64x")
    assert info.value.field == "mem_limit"
    with pytest.raises(SpecError) as info:
        Resources.from_docker(no_such_limit=1)
    assert info.value.field == "no_such_limit"
    with pytest.raises(SpecError) as info:
        Resources.from_docker(memory="1m", mem_limit="2m")
    assert info.value.field == "mem_limit"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"memory_max": "64x"}, "memory_max"),
        ({"memory_max": -5}, "memory_max"),
        ({"memory_max": 0}, "memory_max"),
        ({"memory_low": "1q"}, "memory_low"),
        ({"memory_max": "64m", "memory_swap": "32m"}, "memory_swap"),
        ({"memory_swap": "32m"}, "memory_swap"),
        ({"memory_max": "64m", "memory_low": "128m"}, "memory_low"),
        ({"cpus": 0}, "cpus"),
        ({"cpus": -1}, "cpus"),
        ({"cpus": (os.cpu_count() or 1) + 1}, "cpus"),
        ({"cpus": "lots"}, "cpus"),
        ({"cpus": 0.001}, "cpus"),
        ({"cpus": 1, "cpu_quota": 50000}, "cpus"),
        ({"cpu_shares": 1}, "cpu_shares"),
        ({"cpu_shares": 300000}, "cpu_shares"),
        ({"cpu_weight": 0}, "cpu_weight"),
        ({"cpu_shares": 512, "cpu_weight": 50}, "cpu_weight"),
        ({"cpu_quota": 10}, "cpu_quota"),
        ({"cpu_period": 100}, "cpu_period"),
        ({"cpuset_cpus": "4096"}, "cpuset_cpus"),
        ({"cpuset_cpus": "0-x"}, "cpuset_cpus"),
        ({"cpuset_mems": "999"}, "cpuset_mems"),
        ({"pids_max": 0}, "pids_max"),
        ({"pids_max": -7}, "pids_max"),
        ({"pids_max": "lots"}, "pids_max"),
        ({"blkio_weight": 5}, "blkio_weight"),
        ({"io_weight": 20000}, "io_weight"),
        ({"io_read_bps": {"/dev/does-not-exist": "1m"}}, "io_read_bps"),
        ({"io_write_iops": {"/dev/null": 100}}, "io_write_iops"),
        ({"io_read_bps": "/dev/vda"}, "io_read_bps"),
        ({"hugetlb": {"3MB": "4m"}}, "hugetlb"),
        ({"devices_allow": ["x 1:3 rwm"]}, "devices_allow"),
        ({"devices_deny": ["c 1:3 rwq"]}, "devices_deny"),
        ({"devices_deny": ["c 1:3 rrw"]}, "devices_deny"),
    ],
)
def test_invalid_values_raise_at_construction_with_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(SpecError) as info:
        Resources(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_io_limits_accept_docker_lists_and_major_minor() -> None:
    dev = _block_device()
    res = Resources(
        io_write_bps=[{"Path": dev, "Rate": 1048576}],
        io_read_iops=[("8:0", 100)],
    )
    assert res.io_write_bps[0].rate == MiB
    assert res.io_read_iops[0].device == "8:0"
    with pytest.raises(SpecError) as info:
        Resources(io_read_iops=[("8:0", 100), ("8:0", 200)])
    assert info.value.field == "io_read_iops"


def test_cpu_conversions_in_resources() -> None:
    assert Resources(cpu_shares=1024).cpu_weight_value() == 100
    assert Resources(cpu_weight=100).cpu_shares_value() == 1024
    assert Resources(cpus=1.5, cpu_period=50000).cpu_limit() == (75000, 50000)
    assert Resources(cpu_quota="max").cpu_limit() == (-1, 100000)
    assert Resources(cpu_period=20000).cpu_limit() == (None, 20000)
    assert Resources().cpu_limit() is None
    assert Resources().controllers() == frozenset()


def test_hugetlb_sizes_normalized() -> None:
    sizes = hugepage_sizes()
    if "2MB" not in sizes:
        pytest.skip("no 2 MiB huge pages on this kernel")
    for key in ("2MB", "2M", "2048kB", 2 * MiB):
        assert Resources(hugetlb={key: "4m"}).hugetlb == (("2MB", 4 * MiB),)


def test_device_rules() -> None:
    assert str(DeviceRule.parse("d", "a")) == "a *:* rwm"
    assert str(DeviceRule.parse("d", "c 1:3 mr")) == "c 1:3 rm"
    assert str(DeviceRule.parse("d", "b 8:* r")) == "b 8:* r"
    assert str(DeviceRule.parse("d", "c 136:*")) == "c 136:* rwm"


# -- stats parsers ------------------------------------------------------------------------------------


def test_stat_parsers() -> None:
    assert flat_keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")["oom_kill"] == 3
    assert limit_value("max\n") is None
    assert limit_value("9223372036854771712\n") is None
    assert limit_value("33554432\n") == 32 * MiB
    v2 = io_stat_v2("254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n")
    assert v2.devices["254:0"].read_bytes == 4096
    assert v2.write_bytes == 8192
    v1 = io_stat_v1(
        "254:0 Read 4096\n254:0 Write 0\n254:0 Sync 0\n254:0 Total 4096\nTotal 4096\n",
        "254:0 Read 1\n254:0 Write 0\nTotal 1\n",
    )
    assert v1.devices["254:0"].read_bytes == 4096
    assert v1.devices["254:0"].read_ops == 1
    assert v1.read_bytes == 4096


# -- pure-v2 controller files, on a fake tree --------------------------------------------------------

FAKE_GROUP_FILES = {
    "cgroup.procs": "",
    "cgroup.controllers": "cpuset cpu io memory hugetlb pids",
    "cgroup.subtree_control": "",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.freeze": "0\n",
    "memory.max": "max\n",
    "memory.low": "0\n",
    "memory.swap.max": "max\n",
    "memory.current": "1234567\n",
    "memory.peak": "2345678\n",
    "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
    "cpu.max": "max 100000\n",
    "cpu.weight": "100\n",
    "cpu.stat": "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\n"
    "nr_periods 10\nnr_throttled 4\nthrottled_usec 700\n",
    "cpuset.cpus": "\n",
    "cpuset.mems": "\n",
    "pids.max": "max\n",
    "pids.current": "3\n",
    "pids.peak": "5\n",
    "io.max": "",
    "io.weight": "default 100\n",
    "io.stat": "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
    "hugetlb.2MB.max": "max\n",
}


def fake_v2_tree(root: Path, group: str) -> CgroupLayout:
    """A directory laid out like a pure-v2 cgroupfs, with ``group`` and its files made."""
    (root / "cgroup.controllers").write_text(FAKE_GROUP_FILES["cgroup.controllers"])
    (root / "cgroup.subtree_control").write_text("")
    (root / group).mkdir(parents=True)
    for name, text in FAKE_GROUP_FILES.items():
        (root / group / name).write_text(text)
    return CgroupLayout("v2", unified=str(root))


def test_v2_memory_files_on_fake_cgroupfs_tree(tmp_path: Path) -> None:
    """pure-v2 controller files cannot be reached on this hybrid host: memory.max, memory.low
    and memory.swap.max (Docker's memory+swap converted to swap alone) on a fake tree."""
    layout = fake_v2_tree(tmp_path, "pycontainers/web")
    cg = CGroup.create("web", layout=layout, memory_max="64m", memory_low="16m", memory_swap="96m")
    d = tmp_path / "pycontainers" / "web"
    assert (d / "memory.max").read_text() == str(64 * MiB)
    assert (d / "memory.low").read_text() == str(16 * MiB)
    assert (d / "memory.swap.max").read_text() == str(32 * MiB)
    assert (tmp_path / "cgroup.subtree_control").read_text().startswith("+")
    memory = cg.stats().memory
    assert memory is not None
    assert (memory.usage, memory.peak, memory.oom, memory.oom_kill, memory.failcnt) == (
        1234567,
        2345678,
        1,
        1,
        3,
    )
    assert cg.oom_killed()
    cg.update(memory_max=-1, memory_swap=-1)
    assert (d / "memory.max").read_text() == "max"
    assert (d / "memory.swap.max").read_text() == "max"


def test_v2_cpu_pids_io_hugetlb_files_on_fake_cgroupfs_tree(tmp_path: Path) -> None:
    """pure-v2 controller files cannot be reached on this hybrid host: cpu.max, cpu.weight,
    cpuset.*, pids.max, io.max, io.weight and hugetlb.*.max on a fake tree."""
    layout = fake_v2_tree(tmp_path, "pycontainers/web")
    d = tmp_path / "pycontainers" / "web"
    cg = CGroup.create("web", layout=layout, cpus=1.5, cpu_shares=512, pids_max=32)
    assert (d / "cpu.max").read_text() == "150000 100000"
    assert (d / "cpu.weight").read_text() == str(cpu_shares_to_weight(512))
    assert (d / "pids.max").read_text() == "32"
    cg.update(cpu_period=50000)  # only the period: the quota stays
    assert (d / "cpu.max").read_text() == "150000 50000"
    cg.update(cpuset_cpus="0", cpuset_mems="0", blkio_weight=500)
    assert (d / "cpuset.cpus").read_text() == "0"
    assert (d / "io.weight").read_text() == "default 4950"
    cg.update(io_read_bps={"254:0": "1m"}, io_write_iops={"254:0": 300})
    assert (d / "io.max").read_text() == "254:0 rbps=1048576 wiops=300"
    from pycontainers.cgroups._units import hugepage_sizes

    if "2MB" in hugepage_sizes():
        cg.update(hugetlb={"2MB": "8m"})
        assert (d / "hugetlb.2MB.max").read_text() == str(8 * MiB)
    stats = cg.stats()
    assert stats.cpu is not None
    assert (stats.cpu.usage, stats.cpu.user, stats.cpu.nr_throttled, stats.cpu.throttled) == (
        5_000_000,
        3_000_000,
        4,
        700_000,
    )
    assert stats.pids is not None and (stats.pids.current, stats.pids.peak) == (3, 5)
    assert stats.io is not None and stats.io.devices["254:0"].write_ops == 2
    # device rules are a BPF program on the group: a plain directory cannot hold one
    with pytest.raises(CgroupError, match=r"BPF_PROG_QUERY.*not a cgroup2 directory"):
        cg.update(devices_allow=["c 1:3 rwm"])


def test_v2_oom_watcher_on_fake_cgroupfs_tree(tmp_path: Path) -> None:
    """pure-v2 controller files cannot be reached on this hybrid host: the memory.events
    watcher wakes when the oom/oom_kill counts grow (re-read; a plain file sends no POLLPRI)."""
    layout = fake_v2_tree(tmp_path, "pycontainers/web")
    cg = CGroup.open("pycontainers/web", layout=layout)
    events = tmp_path / "pycontainers" / "web" / "memory.events"
    with cg.oom_events() as watcher:
        assert not watcher.wait(timeout=0.05)
        events.write_text("max 9\noom 2\noom_kill 2\n")
        assert watcher.wait(timeout=5)
        assert not watcher.wait(timeout=0.05)
    assert cg.oom_kill_count() == 2


# -- v1 layouts this host does not have, on a fake tree ------------------------------------------


def test_v1_comounted_cpu_cpuacct_and_hugetlb_on_fake_cgroupfs_tree(tmp_path: Path) -> None:
    """Co-mounted cpu,cpuacct and a v1 hugetlb hierarchy cannot be mounted on this hybrid host
    (its cpu and cpuacct are separate, hugetlb is bound to cgroup2): a fake tree instead."""
    cpu = tmp_path / "cpu,cpuacct"
    huge = tmp_path / "hugetlb"
    files = {
        cpu: {
            "cgroup.procs": "",
            "cpu.shares": "1024\n",
            "cpu.cfs_period_us": "100000\n",
            "cpu.cfs_quota_us": "-1\n",
            "cpu.stat": "nr_periods 7\nnr_throttled 2\nthrottled_time 900\n",
            "cpuacct.usage": "123456789\n",
            "cpuacct.stat": "user 3\nsystem 2\n",
        },
        huge: {"cgroup.procs": "", "hugetlb.2MB.limit_in_bytes": "9223372036854771712\n"},
    }
    for root, names in files.items():
        (root / "pycontainers" / "web").mkdir(parents=True)
        for name, text in names.items():
            (root / "pycontainers" / "web" / name).write_text(text)
    layout = CgroupLayout("v1", {"cpu,cpuacct": str(cpu), "hugetlb": str(huge)})
    cg = CGroup.create("web", layout=layout, cpus=0.5, cpu_weight=200)
    assert set(cg.paths) == {"cpu,cpuacct", "hugetlb"}
    assert len(cg.procs_paths()) == 2
    d = cpu / "pycontainers" / "web"
    assert (d / "cpu.cfs_quota_us").read_text() == "50000"
    assert (d / "cpu.cfs_period_us").read_text() == "100000"
    assert (d / "cpu.shares").read_text() == str(cpu_weight_to_shares(200))
    stats = cg.stats().cpu
    assert stats is not None
    tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")  # cpuacct.stat counts USER_HZ ticks
    assert (stats.usage, stats.user, stats.system) == (123456789, 3 * tick, 2 * tick)
    assert (stats.nr_periods, stats.nr_throttled, stats.throttled) == (7, 2, 900)
    assert cg.limits()["cpus"] == "0.5"
    if "2MB" in hugepage_sizes():
        cg.update(hugetlb={"2MB": "4m"})
        assert (huge / "pycontainers" / "web" / "hugetlb.2MB.limit_in_bytes").read_text() == str(
            4 * MiB
        )
        assert cg.limits()["hugetlb.2MB"] == "4MiB"
    assert cg.stats().memory is None  # no memory hierarchy in this layout
    with pytest.raises(CgroupNotSupported, match="memory"):
        cg.update(memory_max="32m")
