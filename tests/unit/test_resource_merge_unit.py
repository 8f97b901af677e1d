"""An update on top of stored limits (``cgroups._merge``) and Docker's HostConfig resource
keys (``cgroups._dockerapi``): pure data, no cgroups touched."""

from __future__ import annotations

import attrs
import pytest

from pycontainers.cgroups import Resources
from pycontainers.cgroups._dockerapi import from_host_config, to_host_config
from pycontainers.cgroups._merge import merge_limits, merge_update
from pycontainers.cgroups._units import UNLIMITED, hugepage_sizes
from pycontainers.errors import SpecError

MiB = 1 << 20


def test_an_update_builds_on_the_stored_limits() -> None:
    base = Resources(memory_max="64m", memory_low="16m", cpu_shares=512, pids_max=20)
    merged, write = merge_update(base, {"memory_swap": "128m"})  # alone it would be refused
    assert (merged.memory_max, merged.memory_swap, merged.memory_low, merged.cpu_shares,
            merged.pids_max) == (64 * MiB, 128 * MiB, 16 * MiB, 512, 20)  # fmt: skip
    # written: the change and what the kernel needs with it (v2's swap.max = swap - memory)
    assert (write.memory_max, write.memory_swap, write.cpu_shares, write.pids_max) == (
        64 * MiB, 128 * MiB, None, None)  # fmt: skip
    merged, _ = merge_update(merged, {"pids_max": -1})
    assert (merged.pids_max, merged.memory_swap) == (UNLIMITED, 128 * MiB)


def test_alternatives_replace_each_other() -> None:
    base = Resources(cpu_quota=50000, cpu_period=200000, cpu_shares=512, blkio_weight=300)
    merged, write = merge_update(base, {"cpus": 0.5, "cpu_weight": 100, "io_weight": 50})
    assert (merged.cpus, merged.cpu_quota, merged.cpu_period) == (0.5, None, 200000)
    assert (merged.cpu_weight, merged.cpu_shares, merged.io_weight, merged.blkio_weight) == (
        100, None, 50, None)  # fmt: skip
    assert write.cpu_limit() == (100000, 200000)
    merged, _ = merge_update(merged, {"cpu_quota": 10000})
    assert (merged.cpus, merged.cpu_quota) == (None, 10000)


def test_per_key_fields_replace_the_keys_they_name() -> None:
    base = Resources(io_read_bps={"8:0": "1m", "8:16": "2m"}, unified={"memory.high": "1m"})
    merged, write = merge_update(base, {"io_read_bps": {"8:16": "3m", "8:32": "4m"},
                                        "unified": {"pids.max": "9"}})  # fmt: skip
    assert [(d.device, d.rate) for d in merged.io_read_bps] == [
        ("8:0", MiB), ("8:16", 3 * MiB), ("8:32", 4 * MiB)]  # fmt: skip
    assert merged.unified == (("memory.high", "1m"), ("pids.max", "9"))
    assert [d.device for d in write.io_read_bps] == ["8:16", "8:32"]  # only what changed
    assert write.unified == (("pids.max", "9"),)


def test_a_conflict_with_a_stored_limit_names_the_changed_field() -> None:
    base = Resources(memory_max="64m", memory_swap="128m", memory_low="32m")
    with pytest.raises(SpecError, match=r"^memory_max: conflicts with the stored memory_swap"):
        merge_update(base, {"memory_max": "256m"})
    with pytest.raises(SpecError, match=r"^memory_max: conflicts with the stored memory_low"):
        merge_update(base, {"memory_max": "16m", "memory_swap": "16m"})
    with pytest.raises(SpecError, match=r"^memory: conflicts with the stored memory_swap"):
        merge_limits(base, None, {"memory": "256m"})  # as written (docker-py's name)
    with pytest.raises(SpecError, match=r"^devices_allow: device rules cannot be updated"):
        merge_update(base, {"devices_allow": ["c 1:3 rwm"]})
    ruled = Resources(memory_max="64m", devices_allow=["c 1:3 rwm"])
    merged, written = merge_update(ruled, {"devices_allow": ["c 1:3 rwm"], "pids_max": 5})
    assert merged.devices_allow == ruled.devices_allow and merged.pids_max == 5
    assert written.devices_allow == () and written.pids_max == 5  # the same rules: no change
    with pytest.raises(SpecError, match=r"^resources: give a Resources object or keywords"):
        merge_limits(base, Resources(pids_max=3), {"memory": "1m"})


def test_a_resources_object_changes_only_its_set_fields() -> None:
    base = Resources(memory_max="64m", cpu_shares=512)
    merged, write = merge_limits(base, Resources(pids_max=7), {})
    assert (merged.memory_max, merged.cpu_shares, merged.pids_max) == (64 * MiB, 512, 7)
    assert write == Resources(pids_max=7)
    merged, _ = merge_limits(None, None, {"mem_limit": "8m", "nano_cpus": 500_000_000})
    assert (merged.memory_max, merged.cpus) == (8 * MiB, 0.5)


def test_hugetlb_converter_takes_its_own_output() -> None:
    if "2MB" not in hugepage_sizes():
        pytest.skip("no 2 MiB huge pages on this kernel")
    res = Resources(hugetlb={"2MB": "64m"}, pids_max=3)
    assert attrs.evolve(res, pids_max=4).hugetlb == (("2MB", 64 * MiB),)


def test_host_config_keys_both_ways() -> None:
    host = {"Memory": 64 * MiB, "MemorySwap": -1, "MemorySwappiness": 0, "OomKillDisable": True,
            "CPURealtimePeriod": 500000, "cpuquota": 50000, "NanoCpus": 0, "PidsLimit": -1,
            "BlkioWeight": 0, "MemoryReservation": None,
            "BlkioWeightDevice": [{"Path": "8:0", "Weight": 200}],
            "BlkioDeviceReadBps": [{"Path": "8:0", "Rate": 1024}]}  # fmt: skip
    fields = from_host_config(host)
    assert fields == {"memory_max": 64 * MiB, "memory_swap": UNLIMITED, "memory_swappiness": 0,
                      "oom_kill_disable": True, "cpu_rt_period": 500000, "cpu_quota": 50000,
                      "pids_max": UNLIMITED, "blkio_weight_device": {"8:0": 200},
                      "io_read_bps": {"8:0": 1024}}  # fmt: skip
    assert from_host_config({"MemorySwappiness": -1, "OomKillDisable": False}) == {}
    shown = to_host_config(Resources(**fields))
    assert (shown["Memory"], shown["MemorySwap"], shown["MemorySwappiness"],
            shown["OomKillDisable"], shown["CpuRealtimePeriod"], shown["CpuQuota"],
            shown["PidsLimit"], shown["BlkioWeightDevice"], shown["BlkioDeviceReadBps"],
            shown["NanoCpus"]) == (64 * MiB, -1, 0, True, 500000, 50000, -1,
                                   [{"Path": "8:0", "Weight": 200}],
                                   [{"Path": "8:0", "Rate": 1024}], 0)  # fmt: skip
    unset = to_host_config(None)
    assert (unset["Memory"], unset["MemorySwappiness"], unset["OomKillDisable"],
            unset["BlkioWeightDevice"], unset["CpusetMems"]) == (0, None, False, [], "")  # fmt: skip
    assert to_host_config(Resources(cpus=1.5))["NanoCpus"] == 1_500_000_000
    for bad, key in (({"Memory": "64m"}, "HostConfig.Memory"),
                     ({"OomKillDisable": 1}, "HostConfig.OomKillDisable"),
                     ({"CpuShares": True}, "HostConfig.CpuShares"),
                     ({"BlkioWeightDevice": ["8:0:100"]}, "HostConfig.BlkioWeightDevice"),
                     ({"NanoCpus": 1.5}, "HostConfig.NanoCpus")):  # fmt: skip
        with pytest.raises(SpecError, match=f"^{key}: "):
            from_host_config(bad)


def test_a_stored_check_before_update_guards_later_memory_updates() -> None:
    base = Resources(memory_max="64m", memory_check_before_update=True)
    assert merge_update(base, {"memory_max": "32m"})[1].memory_check_before_update
    assert not merge_update(base, {"pids_max": 3})[1].memory_check_before_update
