"""``linux.devices`` (runtime-tools' linux_devices): each node MUST be made available with
its type, numbers, mode and owner, also one the host does not have; the container's /dev
stays nodev for everything else and the device cgroup still decides access. Compared with
runc where it is installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from oci_runtime_util import (
    Runtime,
    cgroup_exists,
    edit_config,
    make_bundle,
    runtime_script,
    runtimes,
)

pytestmark = pytest.mark.root

RUNC = shutil.which("runc")

# the host has no 10:666 char, 8:666 block device (as in runtime-tools): made, not bound
DEVICES = [
    {"path": "/dev/test1", "type": "c", "major": 10, "minor": 666, "fileMode": 0o640,
     "uid": 7, "gid": 8},
    {"path": "/dev/sub/test2", "type": "b", "major": 8, "minor": 666, "fileMode": 0o600},
    {"path": "/dev/test3", "type": "p", "fileMode": 0o620, "uid": 3, "gid": 4},
    {"path": "/dev/test4", "type": "u", "major": 1, "minor": 5, "fileMode": 0o20644},
    # a default device listed again (older configs list them): the one there is kept
    {"path": "/dev/null", "type": "c", "major": 1, "minor": 3},
]  # fmt: skip
# the modes as `stat -c %f:%t:%T:%u:%g` prints them (type|mode hex, major, minor hex)
WANT = ["21a0:a:29a:7:8", "6180:8:29a:0:0", "1190:0:0:3:4", "21a4:1:5:0:0"]
SCRIPT = (
    "for d in /dev/test1 /dev/sub/test2 /dev/test3 /dev/test4; do stat -c %f:%t:%T:%u:%g $d; "
    "done; head -c 4 /dev/test4 | od -An -tx1; "
    # the device cgroup: b 8:666 (root's, 0600) is not allowed (ENXIO if it were: no driver)
    "cat /dev/sub/test2 2>&1 | head -1; "
    "grep ' /dev ' /proc/self/mounts | grep -o nodev; true"
)


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(runtime_script(tmp_path), tmp_path / "root")


def test_devices_the_host_lacks_are_made_with_their_mode_and_owner(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    assert not os.path.exists("/dev/test1")
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", SCRIPT])

    def change(doc: dict[str, object]) -> None:
        linux = doc["linux"]
        assert isinstance(linux, dict)
        linux["devices"] = DEVICES
        linux["resources"] = {"devices": [{"allow": False, "access": "rwm"},
                                          {"allow": True, "type": "c", "major": 1,
                                           "minor": 5, "access": "rwm"},
                                          {"allow": True, "type": "c", "major": 1,
                                           "minor": 3, "access": "rwm"}]}  # fmt: skip

    edit_config(bundle, change)
    for name, argv in runtimes(rt, tmp_path):
        r = subprocess.run([*argv, "run", "--bundle", str(bundle), f"dev-{name}"],
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)  # fmt: skip
        assert r.returncode == 0, (name, r.stderr)
        lines = r.stdout.split("\n")
        assert lines[:4] == WANT, (name, r.stdout)
        assert lines[4].split() == ["00", "00", "00", "00"], (name, r.stdout)  # /dev/zero
        assert "Operation not permitted" in lines[5], (name, r.stdout)
        if name == "ours":
            assert lines[6] == "nodev", r.stdout  # /dev itself stays nodev
    assert not os.path.exists("/dev/test1") and not os.path.exists("/dev/sub")
    assert rt("list", "-q").stdout == ""


def test_in_a_user_namespace_a_device_the_host_lacks_is_refused(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    ids = [{"containerID": 0, "hostID": 0, "size": 65536}]

    def change(doc: dict[str, object]) -> None:
        linux = doc["linux"]
        assert isinstance(linux, dict)
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"] = linux["gidMappings"] = ids
        linux["devices"] = DEVICES[:1]

    edit_config(bundle, change)
    r = rt("create", "--bundle", str(bundle), "uns", check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r
    assert "linux.devices[0]: in a user namespace a device node cannot be made" in r.stderr
    assert "the host has no /dev/test1" in r.stderr
    assert not (rt.root / "uns").exists()
    assert not cgroup_exists("pycontainers-runtime", "uns")
    # the host's own node is bound there instead (its mode and owner are the host's)
    edit_config(bundle, lambda d: d["linux"].update(devices=[
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]))  # fmt: skip
    r = subprocess.run([*rt.argv(), "run", "--bundle", str(bundle), "uns2"], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        ({"path": "/dev/x", "type": "q", "major": 1, "minor": 1}, "linux.devices[0].type"),
        ({"path": "/etc/x", "type": "c", "major": 1, "minor": 1}, "linux.devices[0].path"),
        ({"path": "/dev/x", "type": "c", "major": -1, "minor": 1}, "linux.devices[0].major"),
        ({"path": "/dev/x", "type": "c", "fileMode": 0o1000000}, "linux.devices[0].fileMode"),
    ],
)
def test_bad_devices_are_refused_naming_the_field(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path, device: dict[str, object], expected: str
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    doc = json.loads((bundle / "config.json").read_text())
    doc["linux"]["devices"] = [device]
    (bundle / "config.json").write_text(json.dumps(doc))
    r = rt("create", "--bundle", str(bundle), "bad", check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and expected in r.stderr, r
    assert not (rt.root / "bad").exists()


def test_a_device_over_a_different_default_one_is_refused(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    edit_config(bundle, lambda d: d["linux"].update(
        devices=[{"path": "/dev/null", "type": "c", "major": 1, "minor": 5}]))  # fmt: skip
    r = rt("create", "--bundle", str(bundle), "over", check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r
    assert "a different file exists at device path /dev/null" in r.stderr
    assert not (rt.root / "over").exists()
    assert not cgroup_exists("pycontainers-runtime", "over")
