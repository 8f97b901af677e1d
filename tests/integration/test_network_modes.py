"""Network modes that need no bridge: none (own netns, lo up), host, container:<id>, ns:<path>."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pycontainers as pc

pytestmark = pytest.mark.root


def sh(rootfs: Path, script: str, **kw: object) -> pc.CompletedContainer:
    return pc.run(str(rootfs), ["sh", "-c", script], capture_output=True, timeout=30, **kw)  # type: ignore[arg-type]


def test_none_has_only_lo_and_it_is_up(busybox_rootfs: Path) -> None:
    r = sh(
        busybox_rootfs,
        "ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping",
    )
    assert r.stdout.split() == [b"lo", b"unknown", b"ping"], r.stderr


def test_host_shares_the_hosts_network(busybox_rootfs: Path) -> None:
    r = sh(busybox_rootfs, "readlink /proc/self/ns/net", network="host")
    assert r.stdout.decode().strip() == os.readlink("/proc/self/ns/net")


def test_container_mode_shares_a_network_a_server_answers_on_localhost(
    busybox_rootfs: Path, fresh_rootfs: Path, tmp_path: Path
) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("served\n")
    with pc.Container.create(str(fresh_rootfs), ["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www"],
                             mounts=[pc.Mount("/www", str(www), read_only=True)], id="web") as web:  # fmt: skip
        web.start()
        script = "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1:8080/ && exit 0; sleep 0.2; done; exit 1"
        r = sh(busybox_rootfs, script, network="container:web")
        assert r.returncode == 0 and r.stdout == b"served\n", r.stderr
        inside = (
            sh(busybox_rootfs, "readlink /proc/self/ns/net", network="container:web")
            .stdout.decode()
            .strip()
        )
        assert inside == os.readlink(f"/proc/{web.pid}/ns/net")


def test_ns_mode_joins_a_persisted_namespace(
    busybox_rootfs: Path, tmp_path: Path, no_leaks: object
) -> None:
    ns = pc.Namespace.create("net", path=str(tmp_path / "net"))
    try:
        r = sh(busybox_rootfs, "readlink /proc/self/ns/net", network=f"ns:{tmp_path / 'net'}")
        assert r.stdout.decode().strip() == f"net:[{ns.inode}]"
    finally:
        ns.remove()


def test_bad_network_values(busybox_rootfs: Path, tmp_path: Path, no_leaks: object) -> None:
    with pytest.raises(pc.SpecError) as info:
        sh(busybox_rootfs, "true", network="bridge of dreams")
    assert info.value.field == "network"
    with pytest.raises(pc.NetworkNotFound, match="bridge-of-dreams"):
        sh(busybox_rootfs, "true", network="bridge-of-dreams")
    with pytest.raises(pc.SpecError) as info:
        sh(busybox_rootfs, "true", network="host", ports={80: 8080})
    assert info.value.field == "ports"
    with pytest.raises(pc.ContainerStartError, match="network namespace"):
        sh(busybox_rootfs, "true", network=f"ns:{tmp_path / 'missing'}")
    with pytest.raises(pc.ContainerError, match="no such container"):
        sh(busybox_rootfs, "true", network="container:nobody-here")
