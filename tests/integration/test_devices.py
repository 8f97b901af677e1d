"""Docker's ``--device`` and docker-py's ``devices=`` on real containers: the host node
appears at its path, the device cgroup (v1 ``devices.allow``, and the device program on
the cgroup2 group) grants its permissions and nothing more, a device not listed stays denied, and bad specs fail before anything is made.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_util import cli, ok

import pycontainers as pc
from pycontainers.errors import SpecError

pytestmark = pytest.mark.root

# writes to the given null device, reads the read-only zero device and tries to write it
_PROBE = (
    "echo hi > /dev/mynull && echo wrote-null; "
    "head -c 3 /dev/z | od -An -tx1; "
    "(echo x > /dev/z) 2>/dev/null && echo wrote-zero || echo zero-denied"
)


def test_cli_device_paths_and_permissions(busybox_rootfs: Path) -> None:
    out = ok(
        "run", "--rm", "--network", "none", "--device", "/dev/null:/dev/mynull",
        "--device", "/dev/zero:/dev/z:r", str(busybox_rootfs), "sh", "-c", _PROBE,
    ).split()  # fmt: skip
    assert out[0] == "wrote-null"
    assert out[1:4] == ["00", "00", "00"]
    assert out[4] == "zero-denied"


@pytest.mark.skipif(not os.path.exists("/dev/loop-control"), reason="no /dev/loop-control")
def test_a_device_not_listed_stays_denied_by_the_cgroup(busybox_rootfs: Path) -> None:
    # a bind of the host node keeps the host /dev's dev flag: only the cgroup stands between
    # the container and the device, and it says EPERM unless --device lists it
    probe = "exec 3<>/dev/lc && echo opened"
    r = cli("run", "--rm", "--network", "none", "-v", "/dev/loop-control:/dev/lc",
            str(busybox_rootfs), "sh", "-c", probe)  # fmt: skip
    assert r.returncode != 0 and "Operation not permitted" in r.stderr, r.stderr
    assert "opened" not in r.stdout
    out = ok("run", "--rm", "--network", "none", "--device", "/dev/loop-control:/dev/lc",
             str(busybox_rootfs), "sh", "-c", probe)  # fmt: skip
    assert out.strip() == "opened"
    # a node the container makes itself: its /dev is nodev, and mknod'd nodes do not open
    r = cli("run", "--rm", "--network", "none", "--device", "/dev/null:/dev/mynull",
            str(busybox_rootfs), "sh", "-c", "mknod /dev/lc2 c 10 237 && exec 3<>/dev/lc2")  # fmt: skip
    assert r.returncode != 0 and "Permission denied" in r.stderr, r.stderr


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("/dev/not-a-device-here", "no device /dev/not-a-device-here"),
        ("/etc/hostname:/dev/h", "not a device node"),
        ("/dev:/dev/d", "is a directory"),
        ("/dev/null:/dev/n:x", "permissions are some of r, w and m"),
        ("/dev/null:dev/n:rw", "absolute path"),
    ],
)
def test_cli_bad_devices_are_refused_and_leave_nothing(
    busybox_rootfs: Path, device: str, words: str
) -> None:
    for command in ("run", "create"):
        r = cli(command, "--network", "none", "--name", "devtest", "--device", device,
                str(busybox_rootfs), "true")  # fmt: skip
        assert r.returncode == 125 and words in r.stderr and "device" in r.stderr, r.stderr
    assert ok("ps", "-aq") == ""


def test_docker_py_devices_from_python(busybox_rootfs: Path) -> None:
    r = pc.run(
        str(busybox_rootfs), ["sh", "-c", _PROBE], network="none", capture_output=True,
        devices=["/dev/null:/dev/mynull:rwm", "/dev/zero:/dev/z:r"],
    )  # fmt: skip
    out = r.stdout.decode().split()
    assert r.returncode == 0 and out[0] == "wrote-null" and out[1:4] == ["00", "00", "00"]
    assert out[4] == "zero-denied"
    with pc.Container.create(
        str(busybox_rootfs), ["sh", "-c", _PROBE], detach=True, network="none",
        devices=[pc.DeviceMapping.parse("devices", "/dev/null:/dev/mynull"), "/dev/zero:/dev/z:r"],
    ) as c:  # fmt: skip
        for _ in range(2):  # the second start reads the stored spec back
            c.start()
            assert c.wait(timeout=60) == 0
        logs = b"".join(e.data for e in c.logs()).decode().split()
        assert logs.count("wrote-null") == 2
        devices = pc.Container.load(c.id).inspect()["HostConfig"]["Devices"]
        assert devices == [
            {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rwm"},
            {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/z", "CgroupPermissions": "r"},
        ]  # fmt: skip


def test_python_bad_devices_name_the_field(busybox_rootfs: Path) -> None:
    with pytest.raises(SpecError, match=r"^devices: .*no device /dev/nope"):
        pc.run(str(busybox_rootfs), ["true"], devices=["/dev/nope"])
    with pytest.raises(SpecError, match=r"^devices: .*not a device node"):
        pc.Container.create(str(busybox_rootfs), ["true"], devices=["/etc/hostname"])
    with pytest.raises(SpecError, match=r"^devices: two devices at /dev/n"):
        pc.run(str(busybox_rootfs), ["true"], devices=["/dev/null:/dev/n", "/dev/zero:/dev/n"])
    assert pc.Container.list() == []
