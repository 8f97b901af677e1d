"""pycontainers-runtime mount options beyond mount(8)'s: ``rro`` (read-only recursively,
through mount_setattr), applied in the C child like every other mount."""

from __future__ import annotations

import json
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
