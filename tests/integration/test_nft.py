"""nftables rules of bridge networks and published ports, inside private network namespaces.

Topology, all made by the test (the machine's own network is never touched)::

    outside netns --veth-- [pcext0 192.168.77.1]  "host" netns  [pcbrA 10.81.0.1] --veth-- c1, c2
                                                                 [pcbrB 10.82.0.1] --veth-- c3

A TCP and a UDP server run in c1 (Python sockets created inside its netns, served by threads)
and answer with the peer address they saw, so masquerading is visible too.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import socket
import threading
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Any

import attrs
import pytest

from pycontainers.errors import SpecError
from pycontainers.namespaces import Namespace
from pycontainers.network import create_veth_into, ensure_bridge, link_names
from pycontainers.network import nft as nft_module
from pycontainers.network.nft import Netfilter, NetfilterError, run
from pycontainers.network.ports import PortMapping

pytestmark = pytest.mark.root

GW_A, C1, C2 = (IPv4Interface(f"10.81.0.{i}/24") for i in (1, 2, 3))
GW_B, C3 = (IPv4Interface(f"10.82.0.{i}/24") for i in (1, 2))
EXT_HOST, EXT_PEER = IPv4Interface("192.168.77.1/24"), IPv4Interface("192.168.77.2/24")
LOOPBACK = "127.0.0.1"


class Server:
    """A TCP or UDP server in a netns that replies ``<peer ip>|<request>``."""

    def __init__(self, ns: Namespace, kind: socket.SocketKind, port: int) -> None:
        with ns.enter():
            self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("0.0.0.0", port))
        if kind == socket.SOCK_STREAM:
            self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                if self.sock.type == socket.SOCK_STREAM:
                    conn, peer = self.sock.accept()
                    with conn:
                        conn.settimeout(2)
                        conn.sendall(f"{peer[0]}|".encode() + conn.recv(100))
                else:
                    data, peer = self.sock.recvfrom(100)
                    self.sock.sendto(f"{peer[0]}|".encode() + data, peer)
            except OSError:
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def ask(
    ns: Namespace, ip: str | IPv4Address, port: int, udp: bool = False, timeout: float = 2.0
) -> str:
    """Send b"ping" from ``ns`` to ip:port; return the reply (raises OSError on failure)."""
    with ns.enter():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    with s:
        s.settimeout(timeout)
        s.connect((str(ip), port))
        s.sendall(b"ping")
        return s.recv(100).decode()


def _ipr_in(ns: Namespace) -> Any:
    with ns.enter():
        return importlib.import_module("pyroute2").IPRoute()


@attrs.define
class Topology:
    host: Namespace
    outside: Namespace
    c1: Namespace
    c2: Namespace
    c3: Namespace
    nft: Netfilter


@pytest.fixture
def topo(tmp_path: Path) -> Iterator[Topology]:
    machine_links = link_names()
    made: list[Namespace] = []

    def netns(name: str) -> Namespace:
        ns = Namespace.create("net", tmp_path / f"{name}.net")
        made.append(ns)
        return ns

    try:
        host, outside, c1, c2, c3 = (netns(n) for n in ("h", "out", "c1", "c2", "c3"))
        with _ipr_in(host) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        with host.enter():
            ensure_bridge("pcbrA", GW_A)
            ensure_bridge("pcbrB", GW_B)
            create_veth_into(str(c1.path), "pcvc1", bridge="pcbrA", address=C1, gateway=GW_A.ip)
            create_veth_into(str(c2.path), "pcvc2", bridge="pcbrA", address=C2, gateway=GW_A.ip)
            create_veth_into(str(c3.path), "pcvc3", bridge="pcbrB", address=C3, gateway=GW_B.ip)
            create_veth_into(str(outside.path), "pcext0", address=EXT_PEER)
        with _ipr_in(host) as ipr:
            ext = ipr.link_lookup(ifname="pcext0")[0]
            ipr.addr("add", index=ext, address=str(EXT_HOST.ip), prefixlen=24)
        nft = Netfilter()
        with host.enter():
            nft.ensure_base()
            nft.add_network("pcbrA", GW_A.network)
            nft.add_network("pcbrB", GW_B.network)
        yield Topology(host, outside, c1, c2, c3, nft)
    finally:
        for ns in made:
            ns.remove()
        assert link_names() == machine_links, "the machine's own links changed"


def _tables(ns: Namespace) -> set[str]:
    with ns.enter():
        doc = json.loads(run("list tables", json_output=True))
    return {f"{t['table']['family']} {t['table']['name']}" for t in doc["nftables"] if "table" in t}


def test_published_port_reachable_from_host_outside_and_bridge(topo: Topology) -> None:
    tcp = Server(topo.c1, socket.SOCK_STREAM, 80)
    udp = Server(topo.c1, socket.SOCK_DGRAM, 53)
    try:
        maps = [PortMapping(80, "tcp", 18080), PortMapping(53, "udp", 15353, LOOPBACK)]
        with topo.host.enter():
            # nothing published yet: the host itself has nothing on those ports
            with pytest.raises(ConnectionRefusedError):
                ask(topo.host, LOOPBACK, 18080)
            assert topo.nft.publish("c1owner", C1.ip, maps, "pcbrA") == 2
            assert topo.nft.owners() == {"c1owner"}
        gw = str(GW_A.ip)
        # host processes: loopback (masqueraded to the bridge address), another local
        # interface's address, the bridge's own address
        assert ask(topo.host, LOOPBACK, 18080) == f"{gw}|ping"
        assert ask(topo.host, EXT_HOST.ip, 18080) == f"{EXT_HOST.ip}|ping"
        assert ask(topo.host, GW_A.ip, 18080) == f"{gw}|ping"
        # from outside, through prerouting: the client's address is kept
        assert ask(topo.outside, EXT_HOST.ip, 18080) == f"{EXT_PEER.ip}|ping"
        # from another container on the same bridge (hairpin) and from another network
        assert ask(topo.c2, GW_A.ip, 18080) == f"{gw}|ping"
        assert ask(topo.c3, GW_B.ip, 18080) == f"{gw}|ping"
        # UDP, published on 127.0.0.1 only
        assert ask(topo.host, LOOPBACK, 15353, udp=True) == f"{gw}|ping"
        with pytest.raises(OSError):
            ask(topo.outside, EXT_HOST.ip, 15353, udp=True, timeout=0.5)

        with topo.host.enter():
            assert topo.nft.unpublish("c1owner") == 2
            assert topo.nft.unpublish("c1owner") == 0
            assert topo.nft.owners() == set()
        for ns, ip in (
            (topo.host, LOOPBACK),
            (topo.host, EXT_HOST.ip),
            (topo.outside, EXT_HOST.ip),
        ):
            with pytest.raises(ConnectionRefusedError):
                ask(ns, ip, 18080)
        with pytest.raises(OSError):
            ask(topo.host, LOOPBACK, 15353, udp=True, timeout=0.5)
        # the container itself still answers on its own address
        assert ask(topo.c2, C1.ip, 80) == f"{C2.ip}|ping"
    finally:
        tcp.close()
        udp.close()


def test_publish_replaces_and_is_specific_to_host_ip(topo: Topology) -> None:
    server = Server(topo.c1, socket.SOCK_STREAM, 80)
    try:
        with topo.host.enter():
            topo.nft.publish("o1", C1.ip, [PortMapping(80, "tcp", 18081)], "pcbrA")
            topo.nft.publish("o1", C1.ip, [PortMapping(80, "tcp", 18082, LOOPBACK)], "pcbrA")
        with pytest.raises(ConnectionRefusedError):  # the first rule was replaced
            ask(topo.host, LOOPBACK, 18081)
        assert ask(topo.host, LOOPBACK, 18082).endswith("|ping")
        with pytest.raises(ConnectionRefusedError):  # bound to 127.0.0.1 only
            ask(topo.host, EXT_HOST.ip, 18082)
        with topo.host.enter():
            assert topo.nft.unpublish("o1") == 1
    finally:
        server.close()


def test_networks_are_isolated(topo: Topology) -> None:
    server_a = Server(topo.c1, socket.SOCK_STREAM, 80)
    server_b = Server(topo.c3, socket.SOCK_STREAM, 80)
    try:
        with topo.host.enter():
            assert topo.nft.networks() == {"pcbrA", "pcbrB"}
        with pytest.raises(TimeoutError):
            ask(topo.c3, C1.ip, 80, timeout=0.5)
        with pytest.raises(TimeoutError):
            ask(topo.c1, C3.ip, 80, timeout=0.5)
        assert ask(topo.c2, C1.ip, 80) == f"{C2.ip}|ping"  # same bridge: fine
        # masquerade outbound: the outside world sees the host's address
        out = Server(topo.outside, socket.SOCK_STREAM, 8000)
        try:
            assert ask(topo.c1, EXT_PEER.ip, 8000) == f"{EXT_HOST.ip}|ping"
        finally:
            out.close()
        with topo.host.enter():
            assert topo.nft.remove_network("pcbrB") is True
            assert topo.nft.remove_network("pcbrB") is False
            assert topo.nft.networks() == {"pcbrA"}
        # the control: without B's rules, B reaches A (routed, not dropped)
        assert ask(topo.c3, C1.ip, 80) == f"{C3.ip}|ping"
        with topo.host.enter():
            topo.nft.add_network("pcbrB", GW_B.network)
        with pytest.raises(TimeoutError):
            ask(topo.c3, C1.ip, 80, timeout=0.5)
    finally:
        server_a.close()
        server_b.close()


def test_idempotent_and_cycles_leave_no_rule(topo: Topology) -> None:
    with topo.host.enter():
        before = topo.nft.rule_count()
        assert before == 6 + 2 * 4  # base rules + 4 per network
        topo.nft.ensure_base()
        topo.nft.add_network("pcbrA", GW_A.network)
        assert topo.nft.rule_count() == before
        maps = [PortMapping(80, "tcp", 20000 + i) for i in range(3)]
        for i in range(100):
            owner = f"cycle{i % 7}"
            assert topo.nft.publish(owner, C1.ip, maps, "pcbrA") == 3
            assert topo.nft.rule_count() == before + 3
            assert topo.nft.unpublish(owner) == 3
        assert topo.nft.rule_count() == before
        assert topo.nft.owners() == set()


def test_errors(topo: Topology) -> None:
    with topo.host.enter():
        with pytest.raises(NetfilterError, match="does not exist"):
            topo.nft.add_network("nosuchbr", GW_A.network)
        with pytest.raises(NetfilterError, match="add_network first"):
            topo.nft.publish("o", C1.ip, [PortMapping(80, "tcp", 1234)], "pcvc1")
        with pytest.raises(SpecError, match="resolved host port"):
            topo.nft.publish("o", C1.ip, [PortMapping(80)], "pcbrA")
        with pytest.raises(SpecError, match="owner"):
            topo.nft.publish('x" accept', C1.ip, [PortMapping(80, "tcp", 1)], "pcbrA")
        with pytest.raises(SpecError, match="bridge"):
            topo.nft.add_network('br"x', GW_A.network)
        with pytest.raises(NetfilterError, match="Error"):
            run("add rule ip pycontainers nosuchchain accept")
        assert topo.nft.owners() == set()
    other = Netfilter("pcother")
    with topo.host.enter(), pytest.raises(NetfilterError, match="ensure_base"):
        other.publish("o", C1.ip, [PortMapping(80, "tcp", 1234)], "pcbrA")


def test_remove_all_leaves_no_table_and_touches_nothing_else(topo: Topology) -> None:
    with topo.host.enter():
        run("add table ip foreign\nadd chain ip foreign c\nadd rule ip foreign c tcp dport 9 drop")
        topo.nft.publish("o", C1.ip, [PortMapping(80, "tcp", 18090)], "pcbrA")
    assert _tables(topo.host) == {"ip pycontainers", "ip foreign"}
    with topo.host.enter():
        assert topo.nft.remove_all() is True
        assert topo.nft.remove_all() is False
        assert (topo.nft.owners(), topo.nft.networks(), topo.nft.exists()) == (set(), set(), False)
        foreign = run("list table ip foreign")
    assert _tables(topo.host) == {"ip foreign"}
    assert "tcp dport 9 drop" in foreign
    with topo.host.enter():
        topo.nft.ensure_base()  # can start over
        assert topo.nft.rule_count() == 6


def _route_loopback_via_bridge(ns: Namespace, target: str) -> None:
    """Make ``ns`` send packets for ``target`` (in 127/8) out of eth0 to its gateway."""
    with ns.enter(), open("/proc/sys/net/ipv4/conf/eth0/route_localnet", "w") as f:
        f.write("1")
    with _ipr_in(ns) as ipr:
        lo = ipr.link_lookup(ifname="lo")[0]
        eth0 = ipr.link_lookup(ifname="eth0")[0]
        ipr.route(
            "del", dst="127.0.0.0", dst_len=8, table=255, type="local", oif=lo, proto=2, scope=254
        )
        ipr.route("add", dst=f"{target}/32", gateway=str(GW_A.ip), oif=eth0)


def test_containers_cannot_reach_host_loopback_services(topo: Topology) -> None:
    _route_loopback_via_bridge(topo.c2, "127.0.0.2")
    host_service = Server(topo.host, socket.SOCK_STREAM, 2222)
    try:
        assert ask(topo.host, "127.0.0.2", 2222) == "127.0.0.1|ping"
        with pytest.raises(TimeoutError):
            ask(topo.c2, "127.0.0.2", 2222, timeout=0.5)
        # the control: without our input rule the bridge's route_localnet would let it in
        with topo.host.enter():
            run("flush chain ip pycontainers input")
        assert ask(topo.c2, "127.0.0.2", 2222) == f"{C2.ip}|ping"
    finally:
        host_service.close()


def test_compiled_module_and_abi_mode_run_the_same_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI builds the compiled module (libnftables-dev in .ci/run): no silent fall-back to the
    # slower ABI mode; the ABI mode's constants are the header's.
    assert importlib.util.find_spec("pycontainers.network._nftables") is not None, (
        "pycontainers/network/_nftables*.so is missing: pip install -e . with libnftables-dev"
    )
    compiled = nft_module._load()
    assert type(compiled.lib).__name__ == "Lib"  # cffi's compiled lib, not a dlopen'ed one
    abi = nft_module._load_abi()
    assert (abi.handle, abi.json) == (compiled.handle, compiled.json)
    ns = Namespace.create("net", tmp_path / "n.net")
    try:
        for lib in (compiled, abi):
            monkeypatch.setattr(nft_module, "_load", lambda lib=lib: lib)
            with ns.enter():
                run("add table ip pcmode\nadd chain ip pcmode c\nadd rule ip pcmode c accept")
                doc = json.loads(run("list table ip pcmode", json_output=True))
                with pytest.raises(NetfilterError, match="Error"):
                    run("add rule ip pcmode nosuchchain accept")
                run("delete table ip pcmode")
            rules = [i["rule"] for i in doc["nftables"] if "rule" in i]
            assert len(rules) == 1 and isinstance(rules[0]["handle"], int)
        with ns.enter():
            assert "pcmode" not in run("list tables")
    finally:
        ns.remove()
