"""The rarer ``Resources`` fields (swappiness, OOM killer, RT, idle, burst, device and leaf
weights, net_cls/net_prio, rdma, ``unified``): validation naming the field, the stored-spec
round trip, config.json both ways, which layouts refuse what, and the v2 and v1 writers on
fake cgroupfs trees for the controller files this hybrid host cannot show (pure-v2
``cpu.idle``/``cpu.max.burst``/``io.weight``/``rdma.max``/``unified`` files, a v1 rdma
hierarchy, CFQ's leaf weights).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_cgroups_unit import FAKE_GROUP_FILES, fake_v2_tree

from pycontainers.cgroups import CGroup, CgroupLayout, CgroupNotSupported, Resources
from pycontainers.cgroups._resfields import refusal
from pycontainers.errors import OciConfigError, SpecError
from pycontainers.oci import _codec
from pycontainers.oci.config import resources as to_oci
from pycontainers.oci.resources import oci_resources
from pycontainers.spec import ContainerSpec, Process

HYBRID = CgroupLayout(
    "hybrid", (("memory", "/m"), ("cpu", "/c"), ("blkio", "/b")), unified="/u"
)  # fmt: skip
V1 = CgroupLayout("v1", (("memory", "/m"), ("cpu", "/c"), ("net_cls,net_prio", "/n")))
V2 = CgroupLayout("v2", unified="/nonexistent-cgroup2")

FULL = {
    "memory": {"limit": 50593792, "reservation": 50593792, "swap": 50593792,
               "kernelTCP": 50593792, "swappiness": 10, "disableOOMKiller": True,
               "useHierarchy": True, "checkBeforeUpdate": True},
    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "realtimeRuntime": 950000,
            "realtimePeriod": 1000000, "idle": 0, "burst": 1000},
    "blockIO": {"weight": 300, "leafWeight": 200,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300},
                                 {"major": 8, "minor": 16, "weight": 20}]},
    "network": {"classID": 0x100001, "priorities": [{"name": "eth0", "priority": 5}]},
    "rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 10000}},
    "unified": {"memory.high": "max", "io.latency": "8:0 target=10\n8:16 target=20"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"memory_swappiness": 101}, "memory_swappiness"),
        ({"memory_swappiness": "lots"}, "memory_swappiness"),
        ({"memory_kernel_tcp": 0}, "memory_kernel_tcp"),
        ({"oom_kill_disable": "yes"}, "oom_kill_disable"),
        ({"memory_use_hierarchy": 1}, "memory_use_hierarchy"),
        ({"memory_check_before_update": "no"}, "memory_check_before_update"),
        ({"cpu_rt_runtime": -2}, "cpu_rt_runtime"),
        ({"cpu_rt_period": 0}, "cpu_rt_period"),
        ({"cpu_rt_runtime": 2000, "cpu_rt_period": 1000}, "cpu_rt_runtime"),
        ({"cpu_idle": 2}, "cpu_idle"),
        ({"cpu_burst": -1}, "cpu_burst"),
        ({"blkio_leaf_weight": 5}, "blkio_leaf_weight"),
        ({"blkio_weight_device": {"8:0": 1001}}, "blkio_weight_device"),
        ({"blkio_leaf_weight_device": {"8:0": 9}}, "blkio_leaf_weight_device"),
        ({"net_cls_classid": 0}, "net_cls_classid"),
        ({"net_cls_classid": 1 << 32}, "net_cls_classid"),
        ({"net_prio_ifpriomap": {"eth 0": 1}}, "net_prio_ifpriomap"),
        ({"net_prio_ifpriomap": {"eth0": -1}}, "net_prio_ifpriomap"),
        ({"rdma": {"mlx5_0": {}}}, "rdma"),
        ({"rdma": {"mlx5_0": {"hca_handles": 1, "other": 2}}}, "rdma"),
        ({"unified": {"memory/max": "1"}}, "unified"),
        ({"unified": {"cgroup.procs": "1"}}, "unified"),
        ({"unified": {"memory": "1"}}, "unified"),
        ({"unified": {"memory.high": 5}}, "unified"),
    ],
)
def test_bad_values_raise_at_construction_naming_the_field(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as info:
        Resources(**kwargs)
    assert info.value.field == field


def test_docker_names_and_forms() -> None:
    res = Resources.from_docker(
        mem_swappiness=30,
        oom_kill_disable=True,
        cpu_rt_runtime=1000,
        cpu_rt_period=100000,
        blkio_weight_device=[{"Path": "8:0", "Weight": 400}],
    )
    assert (res.memory_swappiness, res.oom_kill_disable, res.cpu_rt_runtime) == (30, True, 1000)
    assert [(d.device, d.rate) for d in res.blkio_weight_device] == [("8:0", 400)]
    assert Resources.from_docker(mem_swappiness=-1).memory_swappiness is None  # docker's unset
    assert res.controllers() == {"memory", "cpu", "io"}
    described = dict(res.describe())
    assert described["memory_swappiness"] == "30" and described["blkio_weight_device"] == "8:0=400"
    assert "memory_check_before_update" not in described  # at its default


def test_stored_spec_round_trip_and_old_specs_unchanged() -> None:
    res = oci_resources(FULL, check_host=False)
    encoded = json.loads(json.dumps(_codec.encode(res)))
    assert _codec.decode(encoded, "resources") == res
    plain = Resources(memory_max="64m", pids_max=10)
    encoded = _codec.encode(plain)
    new_fields = {a.name for a in attrs.fields(Resources) if a.metadata.get("omit_default")}
    assert len(new_fields) == 16 and not new_fields & set(encoded)  # older readers see nothing new
    assert _codec.decode(encoded, "resources") == plain


def test_config_json_both_ways() -> None:
    res = oci_resources(FULL, check_host=False)
    assert res.unified == (("io.latency", "8:0 target=10\n8:16 target=20"), ("memory.high", "max"))
    assert [(d.device, d.rate) for d in res.blkio_leaf_weight_device] == [("8:0", 300)]
    assert res.rdma == (("mlx5_0", 3, 10000),)
    doc = to_oci(ContainerSpec(rootfs="/", process=Process(args=("true",)), resources=res))
    assert oci_resources(doc, check_host=False) == res
    assert doc["blockIO"]["weightDevice"][0] == {"major": 8, "minor": 0, "weight": 500,
                                                 "leafWeight": 300}  # fmt: skip
    assert doc["network"] == FULL["network"] and doc["unified"] == FULL["unified"]


def test_kernel_memory_is_ignored_with_a_warning_as_runc_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="pycontainers.oci"):
        res = oci_resources({"memory": {"limit": 1 << 26, "kernel": 1 << 26}}, check_host=False)
    assert res == Resources(memory_max=1 << 26)
    assert "linux.resources.memory.kernel" in caplog.text and "deprecated" in caplog.text
    for unset in (-1, (1 << 64) - 1):  # a Go client's -1 as uint64 too
        assert oci_resources({"memory": {"swappiness": unset}}, check_host=False) == Resources()


@pytest.mark.parametrize(
    ("layout", "kwargs", "field", "why"),
    [
        (V2, {"memory_swappiness": 10}, "memory_swappiness", "no per-group swappiness"),
        (V2, {"oom_kill_disable": True}, "oom_kill_disable", "cannot disable the OOM killer"),
        (V2, {"memory_use_hierarchy": False}, "memory_use_hierarchy", "always"),
        (V2, {"memory_kernel_tcp": "1m"}, "memory_kernel_tcp", "kernel TCP"),
        (V2, {"cpu_rt_runtime": 1000}, "cpu_rt_runtime", "real-time"),
        (V2, {"blkio_leaf_weight": 100}, "blkio_leaf_weight", "leaf weights"),
        (V2, {"net_cls_classid": 1}, "net_cls_classid", "v1 controller"),
        (HYBRID, {"net_prio_ifpriomap": {"lo": 1}}, "net_prio_ifpriomap", "not mounted"),
        (HYBRID, {"rdma": {"mlx5_0": {"hca_handles": 1}}}, "rdma", "not available"),
        (HYBRID, {"unified": {"memory.high": "1m"}}, "unified", "memory.high: the memory"),
        (HYBRID, {"unified": {"io.max": "8:0 rbps=1"}}, "unified", "the io controller"),
        (V1, {"unified": {"pids.max": "5"}}, "unified", "no cgroup2"),
    ],
)  # fmt: skip
def test_layouts_refuse_what_they_cannot_honour(
    layout: CgroupLayout, kwargs: dict[str, Any], field: str, why: str
) -> None:
    found = refusal(Resources(**kwargs), layout)
    assert found is not None and found[0] == field and why in found[1], found


def test_layouts_accept_what_they_can() -> None:
    assert refusal(Resources(oom_kill_disable=False, memory_use_hierarchy=True), V2) is None
    assert (
        refusal(Resources(cpu_idle=1, cpu_burst=10, blkio_weight_device={"8:0": 100}), V2) is None
    )
    assert (
        refusal(Resources(unified={"hugetlb.2MB.max": "0", "cgroup.max.depth": "3"}), HYBRID)
        is None
    )
    assert refusal(Resources(net_cls_classid=1, memory_swappiness=1, cpu_rt_period=10), V1) is None


def test_v2_refusal_at_create_leaves_nothing_on_fake_cgroupfs_tree(tmp_path: Path) -> None:
    """pure-v2 controller files cannot be reached on this hybrid host: a fake tree. A v1-only
    limit is refused before a directory is made or a file written."""
    layout = fake_v2_tree(tmp_path, "pycontainers/web")
    with pytest.raises(CgroupNotSupported, match=r"memory_swappiness: cgroup v2 has no"):
        CGroup.create("other", layout=layout, memory_max="64m", memory_swappiness=10)
    assert not (tmp_path / "pycontainers" / "other").exists()
    cg = CGroup.open("pycontainers/web", layout=layout)
    with pytest.raises(CgroupNotSupported, match=r"net_cls_classid"):
        cg.update(memory_max="64m", net_cls_classid=5)
    assert (tmp_path / "pycontainers" / "web" / "memory.max").read_text() == "max\n"


def test_v2_idle_burst_weights_rdma_unified_on_fake_cgroupfs_tree(tmp_path: Path) -> None:
    """pure-v2 controller files cannot be reached on this hybrid host: cpu.idle,
    cpu.max.burst, per-device io.weight / io.bfq.weight, rdma.max and unified files on a
    fake tree."""
    layout = fake_v2_tree(tmp_path, "pycontainers/web")
    d = tmp_path / "pycontainers" / "web"
    for name, text in {"cpu.idle": "0\n", "cpu.max.burst": "0\n", "rdma.max": "",
                       "memory.high": "max\n", "io.latency": ""}.items():  # fmt: skip
        (d / name).write_text(text)
    (d / "cgroup.controllers").write_text(FAKE_GROUP_FILES["cgroup.controllers"] + " rdma")
    (tmp_path / "cgroup.controllers").write_text(FAKE_GROUP_FILES["cgroup.controllers"] + " rdma")
    cg = CGroup.open("pycontainers/web", layout=layout)
    cg.update(cpu_idle=1, cpu_burst=5000, cpu_quota=50000)
    assert (d / "cpu.idle").read_text() == "1"
    assert (d / "cpu.max.burst").read_text() == "5000"
    cg.update(blkio_weight_device={"8:16": 10})
    assert (d / "io.weight").read_text() == "8:16 1"  # v1's 10 is v2's 1
    (d / "io.bfq.weight").write_text("default 100\n")
    cg.update(blkio_weight_device={"8:16": 500})
    assert (d / "io.bfq.weight").read_text() == "8:16 500"  # BFQ: v1's units
    cg.update(rdma={"mlx5_0": {"hca_handles": 2}})
    assert (d / "rdma.max").read_text() == "mlx5_0 hca_handle=2 hca_object=max"
    cg.update(unified={"memory.high": "64M", "io.latency": "8:0 target=10\n8:16 target=20"})
    assert (d / "memory.high").read_text() == "64M"
    assert (d / "io.latency").read_text() == "8:16 target=20"  # line by line: the last one
    with pytest.raises(CgroupNotSupported, match=r"unified: pids.peak2: no such file.*enabled"):
        cg.update(unified={"pids.peak2": "1"})


def test_v1_rdma_and_cfq_leaf_weights_on_fake_cgroupfs_tree(tmp_path: Path) -> None:
    """A v1 rdma hierarchy and CFQ's leaf weights (gone since Linux 5.0) are not on this
    host: a fake v1 tree."""
    for hierarchy, files in (("rdma", {"rdma.max": ""}),
                             ("blkio", {"blkio.weight": "", "blkio.leaf_weight": "",
                                        "blkio.weight_device": "",
                                        "blkio.leaf_weight_device": ""})):  # fmt: skip
        d = tmp_path / hierarchy / "web"
        d.mkdir(parents=True)
        for name, text in files.items():
            (d / name).write_text(text)
            (d.parent / name).write_text(text)  # the root has the scheduler's files too
    layout = CgroupLayout(
        "v1", (("rdma", str(tmp_path / "rdma")), ("blkio", str(tmp_path / "blkio")))
    )
    cg = CGroup.open("web", layout=layout)
    cg.update(rdma={"mlx4_0": {"hca_handles": 1, "hca_objects": 2}}, blkio_leaf_weight=200,
              blkio_weight_device={"8:0": 300}, blkio_leaf_weight_device={"8:0": 400})  # fmt: skip
    b = tmp_path / "blkio" / "web"
    assert (tmp_path / "rdma/web/rdma.max").read_text() == "mlx4_0 hca_handle=1 hca_object=2"
    assert (b / "blkio.leaf_weight").read_text() == "200"
    assert (b / "blkio.weight_device").read_text() == "8:0 300"
    assert (b / "blkio.leaf_weight_device").read_text() == "8:0 400"
    (b / "blkio.leaf_weight").unlink()
    with pytest.raises(CgroupNotSupported, match=r"blkio_leaf_weight: no blkio.leaf_weight.*CFQ"):
        cg.update(blkio_leaf_weight=200)  # the group's file is gone: the writer says so
    (b.parent / "blkio.leaf_weight").unlink()
    with pytest.raises(CgroupNotSupported, match=r"blkio_leaf_weight: no blkio.leaf_weight in"):
        cg.update(blkio_leaf_weight=200)  # the hierarchy has none: refused before any write


def test_oci_json_paths_of_host_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    from pycontainers.cgroups import _layout

    monkeypatch.setitem(_layout._cache, "self", HYBRID)  # a layout, not a kernel: no fake I/O
    with pytest.raises(OciConfigError) as info:
        oci_resources({"network": {"classID": 5}})
    assert info.value.field == "linux.resources.network.classID"
    assert "net_cls is a cgroup v1 controller" in str(info.value)
    with pytest.raises(OciConfigError) as info:
        oci_resources({"unified": {"memory.max": "5"}}, "resources")
    assert info.value.field == "resources.unified" and "memory controller" in str(info.value)
