"""Docker's run/create flags beyond the basics: --ulimit, --shm-size, --memory-reservation,
--cpu-quota/--cpu-period, --cgroup-parent, --pid/--ipc/--uts host, --domainname,
--label-file, --cidfile, -P/--expose, --pull, and the refusal of --gpus (--device:
test_devices.py)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from cli_util import cli, ok

pytestmark = pytest.mark.root


def test_limits_and_files(busybox_rootfs: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.write_text("# comment\nteam=a\nrole=web\n")
    cidfile = tmp_path / "cid"
    out = ok(
        "run", "--rm", "--network", "none", "--ulimit", "nofile=1000:2000",
        "--shm-size", "128m", "--domainname", "example.org", str(busybox_rootfs),
        "sh", "-c", "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1; cat /proc/sys/kernel/domainname",
    ).split()  # fmt: skip
    assert out[:2] == ["1000", "2000"]
    assert "131072" in out  # 128 MiB of /dev/shm in 1k blocks
    assert out[-1] == "example.org"
    cid = ok(
        "create", "--network", "none", "--memory-reservation", "32m", "--cpu-quota", "50000",
        "--cpu-period", "100000", "--cgroup-parent", "pcx-test", "--label-file", str(labels),
        "--label", "role=db", "--cidfile", str(cidfile), str(busybox_rootfs), "true",
    ).strip()  # fmt: skip
    try:
        assert cidfile.read_text() == cid
        (doc,) = json.loads(ok("inspect", cid))
        host = doc["HostConfig"]
        assert host["MemoryReservation"] == 32 * 1024 * 1024
        assert (host["CpuQuota"], host["CpuPeriod"]) == (50000, 100000)
        assert host["CgroupParent"] == "pcx-test"
        assert doc["Config"]["Labels"] == {"team": "a", "role": "db"}  # --label wins
        r = cli(
            "create", "--network", "none", "--cidfile", str(cidfile), str(busybox_rootfs), "true"
        )
        assert r.returncode == 125 and "container ID file" in r.stderr
        assert ok("ps", "-aq", "--no-trunc").split() == [cid]  # the refused one left nothing
    finally:
        ok("rm", "-f", cid)


def test_host_namespaces(busybox_rootfs: Path) -> None:
    out = ok(
        "run", "--rm", "--network", "none", "--pid", "host", "--uts", "host", "--ipc", "host",
        str(busybox_rootfs), "sh", "-c", "echo $$; hostname; readlink /proc/self/ns/ipc",
    ).split()  # fmt: skip
    assert out[0] != "1"  # the host's pid namespace: the shell is not pid 1
    assert out[1] == socket.gethostname()
    assert out[2] == os.readlink("/proc/self/ns/ipc")
    r = cli("run", "--rm", "--pid", "container:x", str(busybox_rootfs), "true")
    assert r.returncode == 125 and "only 'host' or 'private'" in r.stderr


def test_publish_all_exposed_ports(busybox_rootfs: Path) -> None:
    cid = ok("run", "-d", "-P", "--expose", "80", "--expose", "81/udp", str(busybox_rootfs),
             "sleep", "60").strip()  # fmt: skip
    try:
        lines = ok("port", cid).splitlines()
        assert [line.split(" -> ")[0] for line in lines] == ["80/tcp", "81/udp"]
        assert all(int(line.rsplit(":", 1)[1]) > 0 for line in lines)
    finally:
        ok("rm", "-f", cid)


def test_pull_never_and_refusals(busybox_rootfs: Path) -> None:
    r = cli("run", "--rm", "--pull", "never", "localhost/not-here:1", "true")
    assert r.returncode == 125 and "no image" in r.stderr
    r = cli("run", "--rm", "--gpus", "all", str(busybox_rootfs), "true")
    assert r.returncode == 125 and "GPUs are not supported" in r.stderr
    assert ok("ps", "-aq") == ""


def test_update_and_attach_commands(busybox_rootfs: Path) -> None:
    import pycontainers as pc

    script = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"
    cid = ok("run", "-d", "--network", "none", "--memory", "64m", str(busybox_rootfs),
             "sh", "-c", script).strip()  # fmt: skip
    try:
        assert ok("update", "--memory", "128m", "--pids-limit", "20", cid).strip() == cid
        c = pc.Container.load(cid)
        try:
            limits = c.cgroup.limits()
            assert limits["memory_max"] == "128MiB" and limits["pids_max"] == "20"
        finally:
            c.close()
        r = cli("update", cid)
        assert r.returncode == 125 and "at least one limit" in r.stderr
        # attach without stdin, in a pipe: follows the output until the container is killed
        import subprocess
        import sys
        import time

        proc = subprocess.Popen([sys.executable, "-m", "pycontainers", "attach", "--no-stdin", cid],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("tick ")  # live output reaches us
        time.sleep(0.1)
        ok("kill", cid)
        assert proc.wait(timeout=30) == 137  # the container's status: SIGKILL
    finally:
        ok("rm", "-f", cid)
    r = cli("attach", cid)
    assert r.returncode == 125
