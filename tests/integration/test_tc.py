"""Bandwidth limits (tc tbf over pyroute2), measured with real TCP transfers.

Everything happens inside a private "host" network namespace made by the test: a bridge and
two "container" network namespaces joined to it by veth pairs (links.py). A limit is applied
to container 1 and a bulk TCP transfer between the two containers is timed; the bounds are
generous (the issue asks for a 1 mbit limit to hold, not for precision).
"""

from __future__ import annotations

import importlib
import socket
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import attrs
import pytest

from pycontainers.errors import SpecError
from pycontainers.namespaces import Namespace
from pycontainers.network import NetworkError, create_veth_into, ensure_bridge, link_names
from pycontainers.network.links import host_veth_name
from pycontainers.network.tc import (
    QDISC_HANDLE,
    Bandwidth,
    apply_bandwidth,
    clear_bandwidth,
    get_bandwidth,
)

pytestmark = [pytest.mark.root, pytest.mark.network]

GW = IPv4Interface("10.78.0.1/24")
C1 = IPv4Interface("10.78.0.2/24")
C2 = IPv4Interface("10.78.0.3/24")
MBIT = 1_000_000


@attrs.frozen
class Pair:
    """The test's host netns and two container netns joined by a bridge."""

    host: Namespace
    c1: Namespace
    c2: Namespace
    veth1: str
    veth2: str

    @property
    def c1_path(self) -> str:
        assert self.c1.path is not None
        return self.c1.path


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    host_links = link_names()
    host = Namespace.create("net", tmp_path / "host.net")
    c1 = Namespace.create("net", tmp_path / "c1.net")
    c2 = Namespace.create("net", tmp_path / "c2.net")
    try:
        veth1, veth2 = host_veth_name("c" * 64), host_veth_name("d" * 64)
        with host.enter():
            ensure_bridge("pcbr-tc", GW)
            create_veth_into(str(c1.path), veth1, bridge="pcbr-tc", address=C1, gateway=GW.ip)
            create_veth_into(str(c2.path), veth2, bridge="pcbr-tc", address=C2, gateway=GW.ip)
        yield Pair(host, c1, c2, veth1, veth2)
    finally:
        c1.remove()
        c2.remove()
        host.remove()  # takes the bridge and the host ends (and their qdiscs) along
        assert link_names() == host_links, "the machine's own links changed"


def throughput(
    sender: Namespace, receiver: Namespace, address: IPv4Address, seconds: float
) -> float:
    """Bits per second of a bulk TCP transfer sender -> receiver, counted at the receiver."""
    with receiver.enter():
        server = socket.create_server((str(address), 0))
    with sender.enter():
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    received = 0
    with server, client:
        server.settimeout(5)
        client.settimeout(5)
        client.connect((str(address), server.getsockname()[1]))
        conn, _ = server.accept()
        stop = threading.Event()

        def send() -> None:
            chunk = b"x" * 65536
            client.settimeout(0.2)
            while not stop.is_set():
                try:
                    client.send(chunk)
                except TimeoutError:
                    pass
                except OSError:
                    return

        with conn:
            conn.settimeout(0.2)
            sender_thread = threading.Thread(target=send, daemon=True)
            sender_thread.start()
            start = time.monotonic()
            deadline = start + seconds
            try:
                while (now := time.monotonic()) < deadline:
                    try:
                        data = conn.recv(1 << 20)
                    except TimeoutError:
                        continue
                    if not data:
                        break
                    received += len(data)
            finally:
                elapsed = now - start
                stop.set()
                client.shutdown(socket.SHUT_RDWR)
                sender_thread.join(5)
    return received * 8 / elapsed


def _our_qdiscs(ns: Namespace, name: str) -> list[str]:
    with ns.enter():
        ipr = importlib.import_module("pyroute2").IPRoute()
    with ipr:
        index = ipr.link_lookup(ifname=name)[0]
        return [
            q.get_attr("TCA_KIND")
            for q in ipr.get_qdiscs(index=index)
            if q["handle"] == QDISC_HANDLE
        ]


def test_egress_limit_holds_and_clears(pair: Pair) -> None:
    with pair.host.enter():
        apply_bandwidth(pair.veth1, Bandwidth(egress="1mbit"), container_netns=pair.c1_path)
        assert get_bandwidth(pair.veth1, container_netns=pair.c1_path) == Bandwidth(egress=MBIT)
    # the limit lives on the container's eth0, the host end is untouched
    assert _our_qdiscs(pair.c1, "eth0") == ["tbf"]
    assert _our_qdiscs(pair.host, pair.veth1) == []

    limited = throughput(pair.c1, pair.c2, C2.ip, 2.5)
    assert 0.5 * MBIT < limited < 1.6 * MBIT, f"egress {limited / MBIT:.2f} mbit/s"
    free = throughput(pair.c2, pair.c1, C1.ip, 0.5)  # the other direction is not limited
    assert free > 50 * MBIT, f"unlimited direction {free / MBIT:.2f} mbit/s"

    with pair.host.enter():
        clear_bandwidth(pair.veth1, container_netns=pair.c1_path)
        clear_bandwidth(pair.veth1, container_netns=pair.c1_path)  # idempotent
        assert get_bandwidth(pair.veth1, container_netns=pair.c1_path) == Bandwidth()
    assert _our_qdiscs(pair.c1, "eth0") == []
    restored = throughput(pair.c1, pair.c2, C2.ip, 0.5)
    assert restored > 50 * MBIT, f"after clear {restored / MBIT:.2f} mbit/s"


def test_ingress_limit_holds_and_clears(pair: Pair) -> None:
    with pair.host.enter():
        apply_bandwidth(pair.veth1, Bandwidth(ingress="1mbit"))  # no netns needed
        assert get_bandwidth(pair.veth1) == Bandwidth(ingress=MBIT)
    assert _our_qdiscs(pair.host, pair.veth1) == ["tbf"]
    assert _our_qdiscs(pair.c1, "eth0") == []

    limited = throughput(pair.c2, pair.c1, C1.ip, 2.5)
    assert 0.5 * MBIT < limited < 1.6 * MBIT, f"ingress {limited / MBIT:.2f} mbit/s"
    free = throughput(pair.c1, pair.c2, C2.ip, 0.5)
    assert free > 50 * MBIT, f"unlimited direction {free / MBIT:.2f} mbit/s"

    with pair.host.enter():
        clear_bandwidth(pair.veth1)
        assert get_bandwidth(pair.veth1) == Bandwidth()
    restored = throughput(pair.c2, pair.c1, C1.ip, 0.5)
    assert restored > 50 * MBIT, f"after clear {restored / MBIT:.2f} mbit/s"


def test_both_directions_and_replace(pair: Pair) -> None:
    with pair.host.enter():
        apply_bandwidth(
            pair.veth1, Bandwidth.parse("egress=1mbit,ingress=3mbit"), container_netns=pair.c1_path
        )
        # a second apply replaces the limits in place (docker update); None lifts one
        apply_bandwidth(pair.veth1, Bandwidth(ingress="2mbit"), container_netns=pair.c1_path)
        assert get_bandwidth(pair.veth1, container_netns=pair.c1_path) == Bandwidth(
            ingress=2 * MBIT
        )
    received = throughput(pair.c2, pair.c1, C1.ip, 2.0)
    assert 1.0 * MBIT < received < 3.2 * MBIT, f"ingress {received / MBIT:.2f} mbit/s"
    sent = throughput(pair.c1, pair.c2, C2.ip, 0.5)
    assert sent > 50 * MBIT, f"egress after lifting {sent / MBIT:.2f} mbit/s"


def test_errors_leave_nothing_behind(pair: Pair, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="egress"):
        Bandwidth(egress="fast")
    with pytest.raises(SpecError, match="ingress"):
        Bandwidth(ingress="1mb")
    with pair.host.enter():
        # egress needs the container's netns
        with pytest.raises(SpecError, match="container_netns"):
            apply_bandwidth(pair.veth1, Bandwidth(egress="1mbit", ingress="1mbit"))
        assert get_bandwidth(pair.veth1) == Bandwidth()
        with pytest.raises(NetworkError, match="does not exist"):
            apply_bandwidth("pcnonexistent", Bandwidth(ingress="1mbit"))
        # the container end is missing: the host end's new limit is rolled back
        other = Namespace.create("net", tmp_path / "other.net")
        try:
            with pytest.raises(NetworkError, match="'eth0' does not exist"):
                apply_bandwidth(
                    pair.veth1,
                    Bandwidth(egress="1mbit", ingress="1mbit"),
                    container_netns=str(other.path),
                )
        finally:
            other.remove()
        assert get_bandwidth(pair.veth1, container_netns=pair.c1_path) == Bandwidth()
    assert _our_qdiscs(pair.host, pair.veth1) == []
    assert _our_qdiscs(pair.c1, "eth0") == []


# Sends RTM_DELQDISC for our tbf on eth0 over a raw netlink socket (no tc binary or pyroute2
# inside the container) and exits with the kernel's errno (0: deleted).
_DELETE_OUR_QDISC = r"""
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
body = struct.pack("=BxHiIII", 0, 0, socket.if_nametoindex("eth0"), 0x50430000, 0xFFFFFFFF, 0)
s.sendto(struct.pack("=IHHII", 16 + len(body), 37, 5, 1, 0) + body, (0, 0))
sys.exit(-struct.unpack("=i", s.recv(4096)[16:20])[0])
"""


def test_container_without_net_admin_cannot_lift_its_egress_limit(pair: Pair) -> None:
    import errno

    import pycontainers as pc

    with pair.host.enter():
        apply_bandwidth(pair.veth1, Bandwidth(egress="1mbit"), container_netns=pair.c1_path)
    network = f"ns:{pair.c1_path}"
    args = ["python3", "-c", _DELETE_OUR_QDISC]
    refused = pc.run("host", args, network=network, capture_output=True, timeout=10)
    assert (refused.returncode, refused.stderr) == (errno.EPERM, b"")
    with pair.host.enter():
        assert get_bandwidth(pair.veth1, container_netns=pair.c1_path) == Bandwidth(egress=MBIT)
    # the documented limit of this design: NET_ADMIN in its netns lets a container lift it
    lifted = pc.run("host", args, network=network, cap_add=["NET_ADMIN"], timeout=10)
    assert lifted.returncode == 0
    with pair.host.enter():
        assert get_bandwidth(pair.veth1, container_netns=pair.c1_path) == Bandwidth()
