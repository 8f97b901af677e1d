"""The run/create options of issue 19 that had a CLI test only, through Python:
``domainname``, ``memory_reservation``, ``cpu_quota``/``cpu_period``, ``cgroup_parent`` and
the host's uts/ipc namespaces (``namespaces`` without them, as ``--uts/--ipc host``)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.spec import DEFAULT_NAMESPACES

pytestmark = pytest.mark.root


def test_limits_domainname_and_cgroup_parent(busybox_rootfs: Path) -> None:
    with pc.Container.create(
        str(busybox_rootfs), ["cat", "/proc/sys/kernel/domainname"], detach=True,
        network="none", domainname="example.org", memory_reservation="32m",
        cpu_quota=50000, cpu_period=100000, cgroup_parent="pcx-python",
    ) as c:  # fmt: skip
        host = c.inspect()["HostConfig"]
        assert host["MemoryReservation"] == 32 * 1024 * 1024
        assert (host["CpuQuota"], host["CpuPeriod"]) == (50000, 100000)
        assert host["CgroupParent"] == "pcx-python"
        c.start()
        assert c.wait(timeout=60) == 0
        assert b"".join(e.data for e in c.logs()).decode().strip() == "example.org"


def test_host_uts_and_ipc_namespaces() -> None:
    r = pc.run(
        "host", ["sh", "-c", "hostname; readlink /proc/self/ns/ipc"], capture_output=True,
        namespaces=DEFAULT_NAMESPACES - {"uts", "ipc"}, network="none",
    )  # fmt: skip
    assert r.stdout.decode().split() == [socket.gethostname(), os.readlink("/proc/self/ns/ipc")]
