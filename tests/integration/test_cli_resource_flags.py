"""Docker's rarer limit flags on `run`: --memory-swappiness, --oom-kill-disable,
--cpu-rt-runtime/--cpu-rt-period, --blkio-weight-device — read back from inside the
container's own cgroup (v1 files; on a pure-v2 host they are refused)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_util import cli, ok

from pycontainers.cgroups import detect_layout

pytestmark = pytest.mark.root

V1 = detect_layout().v1_controllers


def test_memory_swappiness_and_oom_kill_disable(busybox_rootfs: Path) -> None:
    flags = ["--memory-swappiness", "20", "--oom-kill-disable", "-m", "64m"]
    if "memory" not in V1:
        r = cli("run", "--rm", "--network", "none", *flags, str(busybox_rootfs), "true")
        assert r.returncode == 125 and "cgroup v2 has no per-group swappiness" in r.stderr
        return
    out = ok(
        "run", "--rm", "--network", "none", *flags, str(busybox_rootfs), "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.swappiness; head -1 /sys/fs/cgroup/memory/memory.oom_control",
    ).splitlines()  # fmt: skip
    assert out == ["20", "oom_kill_disable 1"]
    default = ok("run", "--rm", "--network", "none", "--memory-swappiness", "-1", "-m", "64m",
                 str(busybox_rootfs), "cat", "/sys/fs/cgroup/memory/memory.swappiness")  # fmt: skip
    assert default.strip() == "60"  # -1: the kernel's default, as in Docker


def test_realtime_and_device_weights_refused_clearly_where_they_cannot_apply(
    busybox_rootfs: Path,
) -> None:
    r = cli("run", "--rm", "--network", "none", "--cpu-rt-runtime", "1000", str(busybox_rootfs),
            "true")  # fmt: skip
    # the container's group is below "pycontainers", which has no real-time time to give
    assert r.returncode == 125, r
    assert "cpu_rt_runtime" in r.stderr or "cpu.rt_runtime_us" in r.stderr
    r = cli("run", "--rm", "--network", "none", "--blkio-weight-device", "bogus",
            str(busybox_rootfs), "true")  # fmt: skip
    assert r.returncode == 125 and "blkio_weight_device" in r.stderr
    assert ok("ps", "-aq") == ""


@pytest.mark.skipif("memory" not in V1 or "cpu" not in V1, reason="memory and cpu are not v1")
def test_update_stores_limits_and_inspect_shows_them(busybox_rootfs: Path) -> None:
    """``update`` changes the container's stored spec, so ``inspect`` (another process) shows
    the new limits under Docker's names; a second update builds on the first; a refused one
    names its flag and changes nothing."""
    import json

    MiB = 1 << 20
    cid = ok("run", "-d", "--network", "none", "-m", "64m", "--memory-swappiness", "20",
             "--oom-kill-disable", "--cpu-quota", "50000", "--cpu-rt-period", "500000",
             str(busybox_rootfs), "sleep", "300").strip()  # fmt: skip
    try:

        def host() -> dict[str, object]:
            doc: dict[str, object] = json.loads(ok("inspect", cid))[0]["HostConfig"]
            return doc

        h = host()
        assert (h["Memory"], h["MemorySwappiness"], h["OomKillDisable"], h["CpuQuota"],
                h["CpuRealtimePeriod"], h["CpuRealtimeRuntime"], h["BlkioWeightDevice"]) == (
            64 * MiB, 20, True, 50000, 500000, 0, [])  # fmt: skip
        ok("update", "--memory-swap", "128m", "--cpus", "0.5", "--pids-limit", "40", cid)
        h = host()
        assert (h["Memory"], h["MemorySwap"], h["NanoCpus"], h["CpuQuota"], h["PidsLimit"]) == (
            64 * MiB, 128 * MiB, 500_000_000, 0, 40)  # fmt: skip
        ok("update", "--cpu-shares", "512", "--cpuset-mems", "0", cid)  # builds on the rest
        h = host()
        assert (h["CpuShares"], h["CpusetMems"], h["MemorySwap"], h["PidsLimit"]) == (
            512, "0", 128 * MiB, 40)  # fmt: skip
        before = host()
        r = cli("update", "--memory", "256m", cid)  # above the stored memory+swap
        assert r.returncode != 0
        assert "--memory: conflicts with the stored memory_swap" in r.stderr, r.stderr
        r = cli("update", "--cpu-rt-runtime", "1000", cid)  # the parent has no real-time time
        assert r.returncode != 0 and "rt_runtime" in r.stderr, r.stderr
        assert host() == before
        ok("restart", "-t", "0", cid)  # a new start takes its limits from the stored spec
        out = ok("exec", cid, "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max "
                 "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").split()  # fmt: skip
        assert out == ["40", str(128 * MiB)]
    finally:
        ok("rm", "-f", cid)
