"""``network`` commands and ``run --network/-p`` of the CLI, in the session's own netns."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_util import cli, ok

import pycontainers as pc

pytestmark = [pytest.mark.root, pytest.mark.network]


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    yield
    for c in pc.Container.list():
        c.delete()


def _get(port: int, attempts: int = 100) -> bytes:
    last: Exception | None = None
    for _ in range(attempts):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                return data
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    raise AssertionError(f"no answer on 127.0.0.1:{port}: {last}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_network_lifecycle_and_name_resolution(busybox_rootfs: Path, tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("served by srv\n")
    net_id = ok(
        "network", "create", "--subnet", "10.91.7.0/24", "--label", "team=a", "clinet"
    ).strip()
    assert len(net_id) == 64
    try:
        assert "clinet" in ok("network", "ls", "-q").split()
        assert ok("network", "ls", "-q", "-f", "label=team=a") == "clinet\n"
        info = json.loads(ok("network", "inspect", "clinet"))[0]
        assert info["IPAM"]["Config"][0]["Subnet"] == "10.91.7.0/24" and info["Labels"] == {
            "team": "a"
        }
        assert cli("network", "create", "clinet").returncode == 125  # taken
        ok("run", "-d", "--name", "srv", "--network", "clinet", "--network-alias", "web",
           "-v", f"{www}:/www:ro", str(busybox_rootfs), "httpd", "-f", "-p", "80", "-h", "/www")  # fmt: skip
        ip = ok("inspect", "-f", "{{.NetworkSettings.Networks.clinet.IPAddress}}", "srv").strip()
        assert ip.startswith("10.91.7.")
        for host in ("srv", "web"):
            r = cli("run", "--rm", "--network", "clinet", str(busybox_rootfs),
                    "wget", "-qO-", f"http://{host}/")  # fmt: skip
            assert r.stdout == "served by srv\n", r.stderr
        r = cli("run", "--rm", "--network", "clinet", "--add-host", "extra:10.1.2.3",
                "--dns", "10.9.9.9", str(busybox_rootfs), "sh", "-c",
                "grep extra /etc/hosts; grep nameserver /etc/resolv.conf")  # fmt: skip
        assert "10.1.2.3" in r.stdout and "10.9.9.9" in r.stdout
        r = cli("run", "--rm", "--network", "container:srv", str(busybox_rootfs),
                "wget", "-qO-", "http://127.0.0.1/")  # fmt: skip
        assert r.stdout == "served by srv\n"
        r = cli("run", "--rm", "--network", "none", str(busybox_rootfs), "ls", "/sys/class/net")
        assert r.stdout.split() == ["lo"]
        r = cli("network", "rm", "clinet")
        assert r.returncode == 125 and "in use" in r.stderr
        ok("rm", "-f", "srv")
        assert (
            cli("run", "--rm", "--network", "nosuchnet", str(busybox_rootfs), "true").returncode
            == 125
        )
    finally:
        cli("rm", "-f", "srv")
        ok("network", "rm", "clinet")
    assert "clinet" not in ok("network", "ls")
    ok("network", "create", "unused")
    assert "unused" in ok("network", "prune", "-f")
    assert "unused" not in ok("network", "ls")


def test_published_port_answers_on_the_host(busybox_rootfs: Path, tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("published\n")
    port = _free_port()
    ok("run", "-d", "--name", "pub", "-p", f"127.0.0.1:{port}:80", "-v", f"{www}:/www",
       str(busybox_rootfs), "httpd", "-f", "-p", "80", "-h", "/www")  # fmt: skip
    try:
        assert _get(port).endswith(b"published\n")
        assert f"127.0.0.1:{port}->80/tcp" in ok("ps", "--format", "{{.Ports}}")
    finally:
        ok("rm", "-f", "pub")
    bad = cli("run", "--rm", "-p", "99999:80", str(busybox_rootfs), "true")
    assert bad.returncode == 125
