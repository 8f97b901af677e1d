"""Connecting a running container to a second network and disconnecting it again: real
veths on real bridges, traffic between two containers only while they share a network,
names in the hosts files, the endpoint's veth/lease/record gone after disconnect or stop,
failures that leave nothing, and the CLI's ``network connect|disconnect``. A created (not
started) container may leave the network it was created with and join one again (as
docker-compose v1 does with every container): its address, ports, rules and veth go and
come back, it starts on the network it was connected to, reachable by its new aliases.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Interface
from pathlib import Path

import pytest
from cli_util import cli

import pycontainers as pc
from pycontainers.errors import NetworkError, SpecError
from pycontainers.network import link_names
from pycontainers.network.attach import endpoints_of
from pycontainers.network.endpoint import Endpoints, veth_name
from pycontainers.network.links import bridge_ports
from pycontainers.network.network import Network
from pycontainers.network.nft import Netfilter
from pycontainers.runtime.specfile import load_spec

pytestmark = [pytest.mark.root, pytest.mark.network]

WGET = "for i in $(seq 30); do wget -qO- http://{0}/ && exit 0; sleep 0.1; done; exit 1"
# (busybox's ``wget -T`` segfaults here, so reachability is asked with ping)
UNREACHABLE = "ping -c 1 -W 1 {0}"


@pytest.fixture
def nets() -> Iterator[tuple[Network, Network]]:
    a = Network.create("conn-a")
    b = Network.create("conn-b")
    yield a, b
    b.remove()
    a.remove()


@pytest.fixture
def www(tmp_path: Path) -> Path:
    d = tmp_path / "www"
    d.mkdir()
    (d / "index.html").write_text("hello over the second network\n")
    return d


def sh(c: pc.Container, script: str) -> tuple[int, str]:
    r = c.exec(["sh", "-c", script], capture_output=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).decode()


def test_connect_a_running_container_then_disconnect(
    fresh_rootfs: Path, www: Path, nets: tuple[Network, Network]
) -> None:
    a, b = nets
    rootfs = str(fresh_rootfs)
    with (
        pc.Container.create(rootfs, ["httpd", "-f", "-p", "80", "-h", "/www"], network="conn-b",
                            name="web", mounts=[pc.Mount("/www", str(www), read_only=True)]) as web,
        pc.Container.create(rootfs, ["sleep", "300"], network="conn-a", name="client") as client,
    ):  # fmt: skip
        web.start()
        client.start()
        web_ip = Endpoints().load(web.id).address.ip  # type: ignore[union-attr]
        # two networks are isolated: no route from conn-a to conn-b's address
        code, out = sh(client, UNREACHABLE.format(web_ip))
        assert code != 0 and "100% packet loss" in out, out
        links_before = set(link_names())

        b.connect(client, aliases=["cli-alias"])
        eps = endpoints_of(client.id)
        assert [e.network for e in eps] == ["conn-a", "conn-b"]
        extra = eps[1]
        assert extra.address.ip in b.subnet and extra.host_veth == veth_name(extra.owner)
        assert bridge_ports()[extra.host_veth] == b.bridge  # the host end is on conn-b's bridge
        assert set(link_names()) - links_before == {extra.host_veth}
        code, out = sh(client, "ip -4 -o addr show dev eth1; ip route")
        assert code == 0 and str(extra.address) in out
        assert out.count("default") == 1 and f"default via {a.gateway.ip}" in out
        # traffic by name both ways, over the new interface
        code, out = sh(client, WGET.format("web"))
        assert code == 0 and out == "hello over the second network\n", out
        code, out = sh(web, "ping -c 1 -W 2 cli-alias && ping -c 1 -W 2 client")
        assert code == 0, out
        info = client.inspect()["NetworkSettings"]["Networks"]
        assert set(info) == {"conn-a", "conn-b"}
        assert info["conn-b"]["IPAddress"] == str(extra.address.ip)
        assert client.id in b.containers() and client.id in a.containers()
        with pytest.raises(NetworkError, match="already connected"):
            b.connect(client)
        with pytest.raises(NetworkError, match="already connected"):
            a.connect(client)  # the network it was created on

        b.disconnect(client)
        assert extra.host_veth not in link_names()
        assert set(link_names()) == links_before
        assert extra.owner not in Endpoints().owners()
        assert client.id not in b.containers()
        assert [e.network for e in endpoints_of(client.id)] == ["conn-a"]
        assert extra.owner not in Netfilter().owners()
        code, out = sh(client, "ip -o link; cat /etc/hosts")
        assert "eth1" not in out and "web" not in out, out
        code, out = sh(client, UNREACHABLE.format(web_ip))
        assert code != 0 and "100% packet loss" in out, out
        assert set(client.inspect()["NetworkSettings"]["Networks"]) == {"conn-a"}
        with pytest.raises(NetworkError, match="not connected"):
            b.disconnect(client)
        with pytest.raises(NetworkError, match="created on network"):
            a.disconnect(client)

        # connected again with a chosen address; a stop gives it all back
        wanted = b.subnet.network_address + 77
        b.connect(client.id, ip=str(wanted))
        assert endpoints_of(client.id)[1].address.ip == wanted
        assert sh(client, WGET.format("web"))[0] == 0
        client.stop(timeout=1)
        client.delete()
        assert [e for e in Endpoints().all() if e.container_id == client.id] == []
        assert client.id not in b.containers()


def test_failed_connects_leave_nothing(busybox_rootfs: Path, nets: tuple[Network, Network]) -> None:
    _, b = nets
    rootfs = str(busybox_rootfs)
    with (
        pc.Container.create(rootfs, ["sleep", "300"], network="conn-a") as c,
        pc.Container.create(rootfs, ["sleep", "300"], network="conn-b") as other,
        pc.Container.create(rootfs, ["sleep", "300"], network="none") as isolated,
        pc.Container.create(rootfs, ["true"], network="conn-a") as exited,
    ):
        exited.start()
        exited.wait(timeout=30)
        c.start()
        other.start()
        isolated.start()
        owners = Endpoints().owners()
        links = set(link_names())
        leases = dict(b.containers())
        taken = Endpoints().load(other.id).address.ip  # type: ignore[union-attr]

        def nothing_left() -> None:
            assert Endpoints().owners() == owners
            assert set(link_names()) == links
            assert b.containers() == leases

        with pytest.raises(SpecError, match="in use"):
            b.connect(c, ip=str(taken))
        nothing_left()
        with pytest.raises(SpecError, match="ip"):
            b.connect(c, ip="192.0.2.1")
        with pytest.raises(SpecError, match="aliases"):
            b.connect(c, aliases=["bad name!"])
        nothing_left()
        with pytest.raises(NetworkError, match="not running"):
            b.connect(exited)
        with pytest.raises(NetworkError, match="no network of its own"):
            b.connect(isolated)
        nothing_left()
        # the veth step fails (a link of that name is there already): lease and record go
        key = f"{c.id}.{b.id[:12]}"
        from pycontainers.network.links import create_veth_into

        blocker = create_veth_into(other.pid, veth_name(key), "eth9",
                                   address=IPv4Interface((b.subnet.network_address + 200, 24)))  # fmt: skip
        try:
            with pytest.raises(NetworkError, match="already exists"):
                b.connect(c)
            assert Endpoints().owners() == owners
            assert b.containers() == leases
            assert blocker.host_name in link_names()  # not ours to remove
        finally:
            from pycontainers.network.links import delete_link

            delete_link(blocker.host_name)
        nothing_left()
        # and then it works
        b.connect(c)
        assert c.id in b.containers()


def test_cli_network_connect_and_disconnect(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "300"], network="conn-a",
                             name="clicon") as c:  # fmt: skip
        c.start()
        r = cli("network", "connect", "--alias", "extra-name", "conn-b", "clicon")
        assert r.returncode == 0, r.stderr
        eps = endpoints_of(c.id)
        assert [e.network for e in eps] == ["conn-a", "conn-b"]
        assert "extra-name" in eps[1].names
        r = cli("network", "connect", "conn-b", "clicon")
        assert r.returncode != 0 and "already connected" in r.stderr
        r = cli("network", "disconnect", "conn-b", "clicon")
        assert r.returncode == 0, r.stderr
        assert [e.network for e in endpoints_of(c.id)] == ["conn-a"]
        assert eps[1].host_veth not in link_names()
        r = cli("network", "disconnect", "conn-b", "clicon")
        assert r.returncode != 0 and "not connected" in r.stderr


def _files(cid: str) -> Path:
    return Path(Endpoints().files(cid))


def test_created_container_leaves_its_network_and_joins_again(
    fresh_rootfs: Path, www: Path, nets: tuple[Network, Network]
) -> None:
    a, b = nets
    rootfs = str(fresh_rootfs)
    owners, links = Endpoints().owners(), set(link_names())
    ports_before = Endpoints().ports().owners()
    with (
        pc.Container.create(rootfs, ["httpd", "-f", "-p", "80", "-h", "/www"], network="conn-a",
                            name="cweb", ports=["127.0.0.1::80"],
                            mounts=[pc.Mount("/www", str(www), read_only=True)]) as web,
        pc.Container.create(rootfs, ["sleep", "300"], network="conn-a", name="cclient") as client,
        pc.Container.create(rootfs, ["sleep", "300"], network="conn-a", name="cmoved") as moved,
        pc.Container.create(rootfs, ["sleep", "300"], network="conn-a", name="cgone") as gone,
    ):  # fmt: skip
        first = Endpoints().load(web.id)
        assert first is not None and first.ports and web.id in Endpoints().ports().owners()
        assert web.id in Netfilter().owners()
        for c in (web, client, moved, gone):
            a.disconnect(c)  # created: allowed, as Docker
        # address, ports, rules, veth and record gone; the bind-mounted /etc files stay
        for c in (web, client, moved, gone):
            assert Endpoints().load(c.id) is None and c.id not in a.containers()
            assert (_files(c.id) / "hosts").is_file()
        assert web.id not in Endpoints().ports().owners() and web.id not in Netfilter().owners()
        assert first.host_veth not in link_names()
        assert "cclient" not in (_files(web.id) / "hosts").read_text()
        with pytest.raises(NetworkError, match="not connected"):
            a.disconnect(client)
        gone.delete()  # never connected again: nothing of it stays
        assert not _files(gone.id).exists() and gone.id not in Endpoints().owners()

        a.connect(web, aliases=["web"])
        a.connect(client, aliases=["cli"])
        b.connect(moved, aliases=["mv"])
        with pytest.raises(NetworkError, match="already connected"):
            a.connect(client)
        for c, net, alias in ((web, a, "web"), (client, a, "cli"), (moved, b, "mv")):
            ep = endpoints_of(c.id)[0]
            assert ep.owner == c.id and ep.network == net.name and alias in ep.names
            stored = load_spec(c.state_dir)[0].network  # what a restart will use
            assert stored is not None and stored.network == net.name and stored.aliases == (alias,)
        web_ep = Endpoints().load(web.id)
        assert web_ep is not None and web_ep.ports and web_ep.ports[0].host_port
        assert set(moved.inspect()["NetworkSettings"]["Networks"]) == {"conn-b"}

        for c in (web, client, moved):
            c.start()
        code, out = sh(client, WGET.format("web"))
        assert code == 0 and out == "hello over the second network\n", out
        code, out = sh(client, "ip route; ip -o link")
        assert f"default via {a.gateway.ip}" in out and "eth0" in out and "eth1" not in out, out
        assert sh(web, "ping -c 1 -W 2 cli")[0] == 0
        code, out = sh(moved, "ip route; cat /etc/hosts")
        assert f"default via {b.gateway.ip}" in out and "mv" in out, out
        code, out = sh(moved, UNREACHABLE.format("web"))
        assert code != 0, out  # conn-a's names are not its own any more
        import socket

        with socket.create_connection(("127.0.0.1", web_ep.ports[0].host_port), timeout=5) as s:
            s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        assert b"hello over the second network" in reply  # the port published again
        # running: the network it started on stays, as before
        with pytest.raises(NetworkError, match="created on network"):
            a.disconnect(client)
    assert Endpoints().owners() == owners
    assert set(link_names()) == links
    assert Endpoints().ports().owners() == ports_before
    for c in (web, client, moved, gone):
        assert not _files(c.id).exists()
        assert c.id not in a.containers() and c.id not in b.containers()


def test_cli_network_disconnect_connect_created(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    rootfs = str(busybox_rootfs)
    with (
        pc.Container.create(rootfs, ["sleep", "300"], network="conn-a", name="clisrv") as srv,
        pc.Container.create(rootfs, ["sleep", "300"], network="conn-b", name="clipeer") as peer,
    ):  # fmt: skip
        r = cli("network", "disconnect", "conn-a", "clisrv")
        assert r.returncode == 0, r.stderr
        assert Endpoints().load(srv.id) is None
        r = cli("network", "connect", "--alias", "the-srv", "conn-b", "clisrv")
        assert r.returncode == 0, r.stderr
        ep = Endpoints().load(srv.id)
        assert ep is not None and ep.network == "conn-b" and "the-srv" in ep.names
        r = cli("start", "clisrv")
        assert r.returncode == 0, r.stderr
        srv.reload()  # started by the CLI
        peer.start()
        r = cli("inspect", "-f", "{{json .NetworkSettings.Networks}}", "clisrv")
        assert r.returncode == 0 and "conn-b" in r.stdout and "conn-a" not in r.stdout, r
        code, out = sh(peer, "ping -c 1 -W 2 the-srv && ping -c 1 -W 2 clisrv")
        assert code == 0, out
        code, out = sh(srv, "ip route")
        assert f"default via {nets[1].gateway.ip}" in out, out
        r = cli("network", "disconnect", "conn-b", "clisrv")  # running now: refused
        assert r.returncode != 0 and "created on network" in r.stderr
