"""pycontainers-runtime and every field of ``linux.resources``: applied at create (read back
from the cgroup files), kept in the stored spec, changed by ``update`` (``--resources`` and
runc's flags), and refused with the JSON path and nothing left behind where this host's
cgroups cannot honour them. The checks follow the host's layout (hybrid here: memory and
cpu are v1 hierarchies, the unified tree has hugetlb and its core files).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oci_runtime_util import (
    Runtime,
    cgroup_exists,
    edit_config,
    make_bundle,
    refused,
    runtime_script,
)

from pycontainers.cgroups import detect_layout
from pycontainers.oci.resources import oci_resources

pytestmark = pytest.mark.root

MiB = 1 << 20
LAYOUT = detect_layout()
V1 = LAYOUT.v1_controllers


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(runtime_script(tmp_path), tmp_path / "root")
    yield runtime
    for cid in runtime("list", "-q").stdout.split():
        runtime("delete", "--force", cid)


def group_file(controller: str, cid: str, name: str, parent: str = "pycontainers-runtime") -> str:
    root = LAYOUT.v1.get(controller, LAYOUT.unified)
    assert root is not None
    with open(os.path.join(root, parent, cid, name)) as f:
        return f.read().strip()


def with_resources(bundle: Path, resources: dict[str, Any], **linux: Any) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["linux"]["resources"].update(resources)
        doc["linux"].update(linux)

    edit_config(bundle, change)


@pytest.mark.skipif("memory" not in V1 or "cpu" not in V1, reason="memory and cpu are not v1")
def test_v1_memory_and_cpu_fields_applied_stored_and_updated(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "100"])
    memory = {"limit": 48 * MiB, "reservation": 32 * MiB, "kernel": 48 * MiB,
              "kernelTCP": 16 * MiB, "swappiness": 10, "disableOOMKiller": True,
              "useHierarchy": True}  # fmt: skip
    cpu = {"shares": 512, "quota": 50000, "period": 100000, "idle": 1, "burst": 10000}
    unified = {"cgroup.max.descendants": "9"} if LAYOUT.unified else {}
    with_resources(
        bundle, {"memory": memory, "cpu": cpu, **({"unified": unified} if unified else {})}
    )
    rt.run_detached(bundle, "res", tmp_path / "out")
    assert "linux.resources.memory.kernel" in (tmp_path / "out").read_text()  # the warning
    m = {n: group_file("memory", "res", n) for n in ("memory.swappiness", "memory.oom_control",
         "memory.kmem.tcp.limit_in_bytes", "memory.limit_in_bytes", "memory.use_hierarchy")}  # fmt: skip
    assert m["memory.swappiness"] == "10" and "oom_kill_disable 1" in m["memory.oom_control"]
    assert int(m["memory.kmem.tcp.limit_in_bytes"]) == 16 * MiB
    assert int(m["memory.limit_in_bytes"]) == 48 * MiB and m["memory.use_hierarchy"] == "1"
    assert (group_file("cpu", "res", "cpu.idle"), group_file("cpu", "res", "cpu.cfs_burst_us")) == (
        "1",
        "10000",
    )
    if unified:
        assert group_file("unified", "res", "cgroup.max.descendants") == "9"
    # the stored spec holds every field (the deprecated kernel limit is not one)
    from pycontainers.runtime.specfile import load_spec

    spec, _ = load_spec(str(rt.root / "res"))
    doc = json.loads((bundle / "config.json").read_text())["linux"]["resources"]
    expected = oci_resources(doc)
    assert spec.resources is not None
    assert spec.resources.memory_swappiness == 10 and spec.resources.cpu_burst == 10000
    assert (spec.resources.memory_swappiness, spec.resources.oom_kill_disable,
            spec.resources.memory_kernel_tcp, spec.resources.cpu_idle,
            spec.resources.unified) == (expected.memory_swappiness, expected.oom_kill_disable,
                                        expected.memory_kernel_tcp, expected.cpu_idle,
                                        expected.unified)  # fmt: skip
    # update: a linux.resources file, then runc's flags
    update = tmp_path / "update.json"
    update.write_text(json.dumps({"memory": {"swappiness": 30, "disableOOMKiller": False},
                                  "cpu": {"idle": 0, "burst": 20000}}))  # fmt: skip
    rt("update", "--resources", str(update), "res")
    assert group_file("memory", "res", "memory.swappiness") == "30"
    assert "oom_kill_disable 0" in group_file("memory", "res", "memory.oom_control")
    assert (group_file("cpu", "res", "cpu.idle"), group_file("cpu", "res", "cpu.cfs_burst_us")) == (
        "0",
        "20000",
    )
    r = rt("update", "--cpu-idle", "0", "--cpu-burst", "5000", "--cpu-share", "256",
           "--kernel-memory", "1m", "--kernel-memory-tcp", "8m", "res")  # fmt: skip
    assert "--kernel-memory" in r.stderr and "deprecated" in r.stderr  # ignored, as runc does
    assert group_file("cpu", "res", "cpu.idle") == "0"
    assert group_file("cpu", "res", "cpu.cfs_burst_us") == "5000"
    assert group_file("cpu", "res", "cpu.shares") == "256"
    assert int(group_file("memory", "res", "memory.kmem.tcp.limit_in_bytes")) == 8 * MiB
    # checkBeforeUpdate: a limit at or below what the container uses is refused, unchanged
    update.write_text(json.dumps({"memory": {"limit": 4096, "reservation": 4096,
                                             "checkBeforeUpdate": True}}))  # fmt: skip
    bad = rt("update", "--resources", str(update), "res", check=False)
    assert bad.returncode == 1 and "rejecting a limit of 4096" in bad.stderr
    # checked with the stored limits: a limit below the stored reservation (32m) is refused
    bad = rt("update", "--memory", "16m", "res", check=False)
    assert bad.returncode == 1
    assert "--memory: conflicts with the stored memory_low: must not be above" in bad.stderr
    assert int(group_file("memory", "res", "memory.limit_in_bytes")) == 48 * MiB
    bad = rt("update", "--cpu-rt-runtime", "1000", "res", check=False)  # the parent has none
    assert bad.returncode == 1 and "cpu.rt_runtime_us" in bad.stderr
    bad = rt("update", "--l3-cache-schema", "L3:0=f", "res", check=False)
    assert bad.returncode == 1 and "Intel RDT" in bad.stderr
    rt("delete", "--force", "res")
    assert not cgroup_exists("pycontainers-runtime", "res")


@pytest.mark.skipif("cpu" not in V1, reason="the cpu controller is not v1 (no RT bandwidth on v2)")
def test_realtime_cpu_at_a_top_level_cgroups_path(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """As runtime-tools does: real-time time for a group right below the root (a group
    below another needs its parent to have some, as runc's users know)."""
    if not os.path.exists(os.path.join(LAYOUT.v1["cpu"], "cpu.rt_runtime_us")):
        pytest.skip("the kernel has no real-time group scheduling")
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "100"])
    path = f"/pycontainers-rt-{os.getpid()}"
    with_resources(bundle, {"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000}},
                   cgroupsPath=path)  # fmt: skip
    rt.run_detached(bundle, "rt", tmp_path / "out")
    d = LAYOUT.v1["cpu"] + path
    with open(f"{d}/cpu.rt_runtime_us") as f:
        assert f.read().strip() == "10000"
    rt("update", "--cpu-rt-runtime", "20000", "rt")
    with open(f"{d}/cpu.rt_runtime_us") as f:
        assert f.read().strip() == "20000"
    rt("delete", "--force", "rt")
    assert not os.path.exists(d)


def test_what_this_host_cannot_honour_is_refused_with_the_json_path(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    good = (bundle / "config.json").read_text()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"unified": {"cgroup.procs": "1"}}, "linux.resources.unified: cgroup.procs is managed"),
        ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness: must be between 0 and 100"),
        ({"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}},
         "linux.resources.blockIO.weightDevice[0]: needs a weight or a leafWeight"),
    ]  # fmt: skip
    if not {"net_cls", "net_prio"} & V1:
        cases.append(({"network": {"classID": 1048577}},
                      "linux.resources.network.classID: not supported here: net_cls is a cgroup v1"))  # fmt: skip
    if LAYOUT.kind == "hybrid" and "memory" in V1:
        cases.append(({"unified": {"memory.high": "64M"}},
                      "linux.resources.unified: not supported here: memory.high: the memory controller is a cgroup v1"))  # fmt: skip
    if "memory" not in V1:
        cases.append(({"memory": {"swappiness": 10}},
                      "linux.resources.memory.swappiness: not supported here: cgroup v2 has no"))  # fmt: skip
    if "cpu" in V1 and os.path.exists(os.path.join(LAYOUT.v1["cpu"], "cpu.rt_runtime_us")):
        # below pycontainers-runtime/, which has no real-time time to give: the kernel's EINVAL
        cases.append(({"cpu": {"realtimeRuntime": 1000}}, "what its parent group leaves"))
    if "blkio" in V1 and not os.path.exists(os.path.join(LAYOUT.v1["blkio"], "blkio.leaf_weight")):
        cases.append(({"blockIO": {"leafWeight": 300}},
                      "linux.resources.blockIO.leafWeight: not supported here: no blkio.leaf_weight"))  # fmt: skip
    if "blkio" in V1 and not any(
        os.path.exists(os.path.join(LAYOUT.v1["blkio"], f))
        for f in ("blkio.weight", "blkio.bfq.weight")
    ):
        cases.append(({"blockIO": {"weight": 300}},
                      "linux.resources.blockIO.weight: not supported here: no blkio.weight nor"))  # fmt: skip
    for i, (resources, message) in enumerate(cases):
        (bundle / "config.json").write_text(good)
        with_resources(bundle, resources)
        assert message in refused(rt, bundle, f"bad{i}"), resources


@pytest.mark.skipif("memory" not in V1 or "cpu" not in V1, reason="memory and cpu are not v1")
def test_update_stores_the_merged_limits_and_a_refused_one_nothing(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """As runc rewrites its state: after ``update`` the stored spec (what a later update,
    ``state`` and a restart read) holds the merged limits; a second update builds on the
    first; a refused one (by the merge, the kernel or checkBeforeUpdate) changes nothing."""
    from pycontainers.runtime.specfile import SPEC_NAME, load_spec

    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "100"])
    with_resources(bundle, {"memory": {"limit": 48 * MiB}, "cpu": {"shares": 512},
                            "pids": {"limit": 50}})  # fmt: skip
    rt.run_detached(bundle, "st", tmp_path / "out")
    state_dir = str(rt.root / "st")

    def stored() -> Any:
        res = load_spec(state_dir)[0].resources  # read back here, not in the runtime
        assert res is not None
        return res

    rt("update", "--memory", str(64 * MiB), "--pids-limit", "70", "st")
    res = stored()
    assert (res.memory_max, res.pids_max, res.cpu_shares) == (64 * MiB, 70, 512)
    # alone, a memory+swap limit needs a memory limit: the stored one counts
    rt("update", "--memory-swap", str(128 * MiB), "--cpu-quota", "50000", "st")
    res = stored()
    assert (res.memory_max, res.memory_swap, res.cpu_quota, res.pids_max) == (
        64 * MiB, 128 * MiB, 50000, 70)  # fmt: skip
    assert int(group_file("memory", "st", "memory.memsw.limit_in_bytes")) == 128 * MiB
    update = tmp_path / "update.json"
    update.write_text(json.dumps({"memory": {"swappiness": 20}, "cpu": {"period": 200000}}))
    rt("update", "--resources", str(update), "st")
    res = stored()
    assert (res.memory_swappiness, res.cpu_quota, res.cpu_period) == (20, 50000, 200000)
    assert group_file("cpu", "st", "cpu.cfs_quota_us") == "50000"
    # refused: by the merge (names the flag), by the kernel, by checkBeforeUpdate
    before = (rt.root / "st" / SPEC_NAME).read_bytes()
    bad = rt("update", "--memory", str(256 * MiB), "st", check=False)
    assert bad.returncode == 1 and "--memory: conflicts with the stored memory_swap" in bad.stderr
    bad = rt("update", "--cpu-rt-runtime", "1000", "st", check=False)  # the parent has none
    assert bad.returncode == 1
    update.write_text(json.dumps({"memory": {"limit": 4096, "checkBeforeUpdate": True}}))
    bad = rt("update", "--resources", str(update), "st", check=False)
    assert bad.returncode == 1 and "resources.memory.limit: rejecting a limit of 4096" in bad.stderr
    assert (rt.root / "st" / SPEC_NAME).read_bytes() == before
    assert int(group_file("memory", "st", "memory.limit_in_bytes")) == 64 * MiB


def test_update_with_the_whole_resources_keeps_the_device_rules(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """containerd sends a container's whole ``linux.resources`` to ``update``, device rules
    included: rules equal to the stored ones are no change (the rest applies); other rules are
    refused naming ``resources.devices`` and change nothing (runc ignores them)."""
    from pycontainers.runtime.specfile import SPEC_NAME, load_spec

    devices = [{"allow": False, "access": "rwm"},
               {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]  # fmt: skip
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "100"])
    with_resources(bundle, {"memory": {"limit": 48 * MiB}, "devices": devices})
    rt.run_detached(bundle, "dv", tmp_path / "out")
    state_dir = str(rt.root / "dv")
    rules = load_spec(state_dir)[0].resources
    assert rules is not None
    update = tmp_path / "update.json"
    update.write_text(json.dumps({"memory": {"limit": 64 * MiB}, "devices": devices}))
    rt("update", "--resources", str(update), "dv")
    res = load_spec(state_dir)[0].resources
    assert res is not None and res.memory_max == 64 * MiB
    assert (res.devices_deny, res.devices_allow) == (rules.devices_deny, rules.devices_allow)
    before = (rt.root / "dv" / SPEC_NAME).read_bytes()
    other = [*devices, {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"}]
    update.write_text(json.dumps({"memory": {"limit": 80 * MiB}, "devices": other}))
    bad = rt("update", "--resources", str(update), "dv", check=False)
    assert bad.returncode == 1
    assert "resources.devices: device rules cannot be updated" in bad.stderr, bad.stderr
    assert (rt.root / "dv" / SPEC_NAME).read_bytes() == before
    assert int(group_file("memory", "dv", "memory.limit_in_bytes")) == 64 * MiB
