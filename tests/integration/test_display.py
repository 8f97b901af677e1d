"""The notebook views of real objects show real values: inodes, limits, usage, layers, ports."""

from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree

import pytest

import pycontainers as pc
from pycontainers.display import host_namespaces, live_stats, render_text, shared_with_host

pytestmark = pytest.mark.root


def test_namespace_views_show_the_owner_user_namespace(tmp_path: Path) -> None:
    user_inode = os.stat("/proc/self/ns/user").st_ino
    net = pc.Namespace.create("net", tmp_path / "n")
    try:
        html = net._repr_html_()
        ElementTree.fromstring(html)
        assert f"<td>inode</td><td>{net.inode}</td>" in html
        assert f"<td>owner user ns</td><td>user:[{user_inode}]</td>" in html
        assert f"<td>persisted at</td><td>{tmp_path / 'n'}</td>" in html
        here = pc.NamespaceSet.current()
        assert f"<td>net</td><td>{here['net'].inode}</td>" in here._repr_html_()
        try:  # pid 1's, where this sandbox lets us read them; else ours
            expected = pc.NamespaceSet.of_pid(1)
        except pc.NamespaceError:
            expected = here
        assert host_namespaces() == expected
    finally:
        net.remove()


def test_cgroup_view_shows_limits_and_live_usage() -> None:
    with pc.CGroup.create(f"display-{os.getpid()}", memory="24m", pids_limit=9) as cg:
        html = cg._repr_html_()
        ElementTree.fromstring(html)
        assert "<td>limit memory_max</td><td>24MiB</td>" in html
        assert "<td>pids</td><td>0 of 9</td>" in html
        assert "memory usage" in html and "of 24MiB" in html
        assert "limit pids_max" in render_text(cg)
    assert "deleted" in cg._repr_html_()


def test_image_view_lists_layers_and_config(busybox_rootfs: Path, tmp_path: Path) -> None:
    store = pc.ImageStore(tmp_path / "images")
    from pycontainers.images import ImageConfig

    img = store.import_rootfs(
        busybox_rootfs,
        "localhost/display:1",
        config=ImageConfig(
            entrypoint=("/bin/sh", "-c"),
            cmd=("echo <hi>",),
            env=("A=b&c",),
            user="1000",
            working_dir="/w",
        ),
    )
    html = img._repr_html_()
    ElementTree.fromstring(html)
    layer = img.layers[0]
    assert str(layer.digest)[:19] in html and "tar+gzip" in html
    assert "<td style='text-align:left'>echo &lt;hi&gt;</td>" in html  # Cmd, escaped
    assert "A=b&amp;c" in html and "/bin/sh -c echo &lt;hi&gt;" in html
    assert ">1000<" in html and ">/w<" in html and str(img.digest) in html
    assert "layer 0" in render_text(img)


def test_container_view_of_a_running_container(fresh_rootfs: Path) -> None:
    with pc.Container.create(
        str(fresh_rootfs),
        ["sleep", "30"],
        memory="32m",
        mounts=[pc.Mount("/data", str(fresh_rootfs / "tmp"), read_only=True)],
        ports={"80/tcp": ("127.0.0.1", 18123)},
        name="shown",
    ) as c:
        c.start()
        html = c._repr_html_()
        ElementTree.fromstring(html)
        assert c.id in html and ">shown<" in html and f">{c.pid}<" in html
        assert "127.0.0.1:18123 → 80/tcp" in html
        assert f"{fresh_rootfs / 'tmp'} → /data (ro)" in html
        assert "memory_max=32MiB" in html
        cmp = shared_with_host(c)
        theirs = pc.Namespace.of_pid(c.pid, "pid").inode
        assert (
            f"<td>pid</td><td>{theirs}</td><td>{host_namespaces()['pid'].inode}</td><td>no</td>"
            in html
        )
        assert not cmp.all_shared
        samples = live_stats(c, seconds=0.3, interval=0.1)
        assert len(samples) >= 2 and all(s.memory and s.memory > 0 for s in samples)
        assert samples[-1].memory_limit == 32 << 20
        c.kill()
        c.wait()
        assert "exited (exit code 137)" in c._repr_html_()
        assert "shared with host" not in render_text(c)
