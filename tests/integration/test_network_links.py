"""Bridge and veth links, entirely inside private network namespaces made by the test.

The test builds its own "host" netns, puts a bridge there and connects two "container"
netns to it (one addressed by its netns file, one by the pid of a holder process), proves
TCP connectivity container -> container and container -> gateway, then deletes everything.
The machine's own links are never touched; the test checks they are unchanged.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest

from pycontainers import _sys
from pycontainers.errors import SpecError
from pycontainers.namespaces import Namespace
from pycontainers.network import (
    NetworkError,
    create_veth_into,
    delete_link,
    ensure_bridge,
    host_veth_name,
    link_names,
)

pytestmark = pytest.mark.root

GW = IPv4Interface("10.77.0.1/24")
C1 = IPv4Interface("10.77.0.2/24")
C2 = IPv4Interface("10.77.0.3/24")


def test_host_veth_name() -> None:
    assert host_veth_name("0123456789abcdef" * 4) == "pc0123456789a"
    assert len(host_veth_name("A" * 64)) <= 15
    with pytest.raises(SpecError):
        host_veth_name("not-hex")


@pytest.fixture
def test_netns(tmp_path: Path) -> Iterator[Namespace]:
    host_links = link_names()
    ns = Namespace.create("net", tmp_path / "host.net")
    try:
        yield ns
    finally:
        ns.remove()
        assert link_names() == host_links, "the machine's own links changed"


def _tcp_roundtrip(server_ns: Namespace, client_ns: Namespace, address: IPv4Address) -> bytes:
    """Listen in server_ns on address, connect from client_ns, echo one message back."""
    with server_ns.enter():
        server = socket.create_server((str(address), 0))
    with client_ns.enter():
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with server, client:
        client.settimeout(5)
        server.settimeout(5)
        client.connect((str(address), server.getsockname()[1]))
        conn, _ = server.accept()
        with conn:
            client.sendall(b"ping over veth")
            conn.sendall(conn.recv(100).upper())
            return client.recv(100)


def test_bridge_and_veths_connect_two_containers(test_netns: Namespace, tmp_path: Path) -> None:
    c1 = Namespace.create("net", tmp_path / "c1.net")
    pid, pidfd = _sys.spawn_hold(_sys.CLONE_NEWNET)
    try:
        c2 = Namespace.of_pid(pid, "net")
        with test_netns.enter():
            assert link_names() == ["lo"]
            ensure_bridge("pcbr-test", GW)
            ensure_bridge("pcbr-test", GW)  # idempotent
            with pytest.raises(NetworkError, match="not a bridge"):
                ensure_bridge("lo")
            name1, name2 = host_veth_name("a" * 64), host_veth_name("b" * 64)
            v1 = create_veth_into(
                str(c1.path), name1, bridge="pcbr-test", address=C1, gateway=GW.ip
            )
            v2 = create_veth_into(pid, name2, bridge="pcbr-test", address=C2, gateway=GW.ip)
            assert (v1.peer_name, v2.address) == ("eth0", C2)
            with pytest.raises(NetworkError, match="already exists"):
                create_veth_into(pid, name2, address=C2)
            assert link_names() == sorted(["lo", "pcbr-test", name1, name2])

        assert c1.run_in(link_names) == ["eth0", "lo"]
        with c1.enter():
            ipr = importlib.import_module("pyroute2").IPRoute()
        with ipr:
            gateways = [r.get("RTA_GATEWAY") for r in ipr.get_default_routes(family=socket.AF_INET)]
        assert gateways == [str(GW.ip)]
        # container -> container across the bridge, both directions
        assert _tcp_roundtrip(c1, c2, C1.ip) == b"PING OVER VETH"
        assert _tcp_roundtrip(c2, c1, C2.ip) == b"PING OVER VETH"
        # container -> gateway (the bridge's address in the test's host netns)
        assert _tcp_roundtrip(test_netns, c2, GW.ip) == b"PING OVER VETH"

        with test_netns.enter():
            assert delete_link(name1) is True
            assert delete_link(name1) is False
            assert delete_link(name2) is True
            assert delete_link("pcbr-test") is True
            assert link_names() == ["lo"]
        assert c1.run_in(link_names) == ["lo"]  # the peer went with its host end
    finally:
        _sys.pidfd_send_signal(pidfd, signal.SIGKILL)
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
        os.close(pidfd)
        c1.remove()
    assert not (tmp_path / "c1.net").exists()


def test_failed_veth_leaves_nothing_behind(test_netns: Namespace, tmp_path: Path) -> None:
    c1 = Namespace.create("net", tmp_path / "c1.net")
    try:
        with test_netns.enter():
            with pytest.raises(NetworkError, match="does not exist"):
                create_veth_into(str(c1.path), "pcdeadbeef000", bridge="nobridge", address=C1)
            with pytest.raises(SpecError):
                create_veth_into(str(c1.path), "x" * 16, address=C1)
            assert link_names() == ["lo"]
        assert c1.run_in(link_names) == ["lo"]
    finally:
        c1.remove()
