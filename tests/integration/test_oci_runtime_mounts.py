"""pycontainers-runtime mount options beyond mount(8)'s: ``rro`` (read-only recursively,
through mount_setattr), applied in the C child like every other mount."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from oci_runtime_util import Runtime, make_bundle, runtime_script

pytestmark = pytest.mark.root


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(runtime_script(tmp_path), tmp_path / "root")


@pytest.fixture
def tree(tmp_path: Path) -> object:
    """A host directory with a tmpfs mounted under it (unmounted afterwards)."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(src / "sub")], check=True)
    try:
        yield src
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)


def test_rro_makes_the_mounts_under_a_bind_read_only_too(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path, tree: Path
) -> None:
    """``ro`` on an rbind leaves the submounts writable; ``rro`` does not."""
    script = ("for d in /ro /rro; do touch $d/top 2>/dev/null && echo $d/top=rw || echo $d/top=ro; "
              "touch $d/sub/x 2>/dev/null && echo $d/sub=rw || echo $d/sub=ro; done")  # fmt: skip
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", script])
    doc = json.loads((bundle / "config.json").read_text())
    doc["mounts"] += [
        {"destination": "/ro", "type": "bind", "source": str(tree), "options": ["rbind", "ro"]},
        {"destination": "/rro", "type": "bind", "source": str(tree), "options": ["rbind", "rro"]},
    ]  # fmt: skip
    (bundle / "config.json").write_text(json.dumps(doc))
    r = rt("run", "--bundle", str(bundle), "rro", stdin=subprocess.DEVNULL)
    assert r.stdout.split() == ["/ro/top=ro", "/ro/sub=rw", "/rro/top=ro", "/rro/sub=ro"]
    assert not (tree / "top").exists() and (tree / "sub" / "x").exists()


def test_an_idmapped_bind_shifts_owners_both_ways(
    rt: Runtime, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """A mount's uidMappings/gidMappings (containerID = id on disk, hostID = id the
    container's processes have, as runc reads them): host files of uid 1000 show as root's
    inside, and a file root creates there is 1000's on the host. Done through
    mount_setattr(MOUNT_ATTR_IDMAP) in the C child; the source itself stays as it was."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "old").write_text("x")
    os.chown(data / "old", 1000, 1000)
    os.chown(data, 1000, 1000)
    script = "stat -c 'old=%u:%g' /data/old; touch /data/new && stat -c 'new=%u:%g' /data/new"
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", script])
    doc = json.loads((bundle / "config.json").read_text())
    ids = [{"containerID": 1000, "hostID": 0, "size": 1}]
    doc["mounts"].append({"destination": "/data", "type": "bind", "source": str(data),
                          "options": ["rbind"], "uidMappings": ids, "gidMappings": ids})  # fmt: skip
    (bundle / "config.json").write_text(json.dumps(doc))
    r = rt("run", "--bundle", str(bundle), "idmapped", stdin=subprocess.DEVNULL)
    assert r.stdout.split() == ["old=0:0", "new=0:0"], r
    st = os.stat(data / "new")
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    assert os.stat(data / "old").st_uid == 1000


def test_bad_mount_mappings_are_refused(rt: Runtime, busybox_rootfs: Path, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", busybox_rootfs, ["true"])
    doc = json.loads((bundle / "config.json").read_text())
    ids = [{"containerID": 0, "hostID": 1000, "size": 1}]
    doc["mounts"].append({"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                          "uidMappings": ids, "gidMappings": ids})  # fmt: skip
    (bundle / "config.json").write_text(json.dumps(doc))
    r = rt("create", "--bundle", str(bundle), "badmap", check=False)
    assert r.returncode == 1 and "only a bind mount can be idmapped" in r.stderr, r.stderr
    assert not (rt.root / "badmap").exists()
