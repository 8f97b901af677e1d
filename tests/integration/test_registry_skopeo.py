"""Interop with skopeo through the real docker-registry, both ways."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from registry_fixtures import RegistryServer

import pycontainers as pc
from pycontainers.images import ImageConfig, ImageStore
from pycontainers.images.registry import pull, push

pytestmark = [
    pytest.mark.root,
    pytest.mark.usefixtures("in_registry_netns"),
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]


def _skopeo(*args: str) -> str:
    r = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> ImageStore:
    store = ImageStore(tmp_path_factory.mktemp("skopeo-src") / "images")
    store.import_rootfs(busybox_rootfs, "localhost/bb:1", config=ImageConfig(cmd=("sh",)))
    return store


@pytest.mark.parametrize("fmt", ["oci", "v2s2"])
def test_skopeo_pushes_pycontainers_pulls(
    fmt: str, registry: RegistryServer, source: ImageStore, tmp_path: Path
) -> None:
    layout = tmp_path / "layout"
    source.save("localhost/bb:1", layout, format="oci-dir")
    dest = f"docker://{registry.host}/skopeo/{fmt}:1"
    _skopeo("copy", "--dest-tls-verify=false", "--format", fmt, f"oci:{layout}:1", dest)
    raw = json.loads(_skopeo("inspect", "--tls-verify=false", "--raw", dest))
    wanted = {
        "oci": "application/vnd.oci.image.manifest.v1+json",
        "v2s2": "application/vnd.docker.distribution.manifest.v2+json",
    }[fmt]
    assert raw["mediaType"] == wanted
    root = tmp_path / "root"
    store = ImageStore(root / "images")
    img = pull(store, f"{registry.host}/skopeo/{fmt}:1")
    assert img.manifest["mediaType"] == wanted
    assert img.diff_ids == source.get("localhost/bb:1").diff_ids
    r = pc.run(img, ["echo", "from skopeo"], capture_output=True, image_root=str(root), timeout=30)
    assert r.stdout == b"from skopeo\n"


def test_pycontainers_pushes_skopeo_reads(
    registry: RegistryServer, source: ImageStore, tmp_path: Path
) -> None:
    img = source.get("localhost/bb:1")
    push(source, img, f"{registry.host}/pc/bb:1")
    ref = f"docker://{registry.host}/pc/bb:1"
    info = json.loads(_skopeo("inspect", "--tls-verify=false", ref))
    assert info["Digest"] == str(img.digest)
    assert info["Layers"] == [str(layer.digest) for layer in img.layers]
    out = tmp_path / "out"
    _skopeo("copy", "--src-tls-verify=false", ref, f"oci:{out}:1")
    loaded = ImageStore(tmp_path / "loaded").load(out, repository="localhost/viaskopeo")
    assert [i.digest for i in loaded] == [img.digest]
