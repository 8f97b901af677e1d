"""What a Docker user reads off a container: ``-p 0:PORT`` (any free port), ``port``,
``inspect``'s NetworkSettings.IPAddress, HostConfig and Mounts."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from cli_util import cli, ok

pytestmark = pytest.mark.root


def _get(host: str, port: int) -> bytes:
    import time

    for _ in range(50):
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                out = b""
                while chunk := s.recv(4096):
                    out += chunk
                return out
        except ConnectionRefusedError:  # httpd not listening yet
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on {host}:{port}")


def test_port_zero_port_command_and_docker_fields(busybox_rootfs: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "index.html").write_text("served\n")
    cid = ok(
        "run", "-d", "-p", "0:80", "-p", "127.0.0.1:0:81/udp", "--memory", "64m",
        "--cap-drop", "NET_RAW", "--restart", "on-failure:3", "-v", f"{data}:/data:ro",
        str(busybox_rootfs), "httpd", "-f", "-p", "80", "-h", "/data",
    ).strip()  # fmt: skip
    try:
        listing = ok("port", cid).splitlines()
        assert len(listing) == 2
        tcp, udp = listing
        assert tcp.startswith("80/tcp -> 0.0.0.0:") and udp.startswith("81/udp -> 127.0.0.1:")
        host_port = int(tcp.rsplit(":", 1)[1])
        assert 1 <= host_port <= 65535
        assert ok("port", cid, "80") == f"0.0.0.0:{host_port}\n"
        r = cli("port", cid, "82")
        assert r.returncode == 125 and "no public port '82/tcp'" in r.stderr
        assert _get("127.0.0.1", host_port).endswith(b"served\n")  # published on that port
        address = ok("inspect", "-f", "{{.NetworkSettings.IPAddress}}", cid).strip()
        assert address.count(".") == 3 and address != "0.0.0.0"
        (doc,) = json.loads(ok("inspect", cid))
        host = doc["HostConfig"]
        assert host["Memory"] == 64 * 1024 * 1024
        assert host["CapDrop"] == ["NET_RAW"]
        assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert host["NetworkMode"] == "bridge"
        assert host["PortBindings"]["80/tcp"] == [{"HostIp": "", "HostPort": ""}]
        assert f"{data}:/data:ro" in host["Binds"]
        (mount,) = [m for m in doc["Mounts"] if m["Destination"] == "/data"]
        assert mount["Source"] == str(data) and mount["RW"] is False
        assert doc["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == address
    finally:
        ok("rm", "-f", cid)


def test_a_container_without_network_has_empty_docker_fields(busybox_rootfs: Path) -> None:
    cid = ok("create", "--network", "none", str(busybox_rootfs), "true").strip()
    try:
        (doc,) = json.loads(ok("inspect", cid))
        assert doc["NetworkSettings"]["IPAddress"] == "" and doc["NetworkSettings"]["Ports"] == {}
        assert doc["HostConfig"]["NetworkMode"] == "none"
        assert ok("port", cid) == ""
    finally:
        ok("rm", "-f", cid)
