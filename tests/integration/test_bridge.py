"""Bridge networks with real containers: published ports, names, isolation, cleanup.

Everything runs in the test session's own network namespace (tests/conftest.py): the
"host" here has only ``lo`` plus the bridges and veths these tests make.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.network import link_names
from pycontainers.network.endpoint import Endpoints
from pycontainers.network.network import Network, NetworkInUse
from pycontainers.network.nft import Netfilter
from pycontainers.network.ports import PortInUse

pytestmark = [pytest.mark.root, pytest.mark.network]


@pytest.fixture
def www(tmp_path: Path) -> Path:
    d = tmp_path / "www"
    d.mkdir()
    (d / "index.html").write_text("hello from the container\n")
    return d


def _http_get(host: str, port: int, attempts: int = 50) -> bytes:
    """GET / from the host side, retrying while the server starts."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                return data
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    raise AssertionError(f"no answer from {host}:{port}: {last}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _snapshot() -> tuple[list[str], set[str], set[str]]:
    return link_names(), Netfilter().owners(), Endpoints().owners()


@pytest.fixture
def user_net() -> Iterator[Network]:
    net = Network.create("testnet")
    yield net
    net.remove()


def test_published_port_answers_from_the_host_and_rule_goes_with_stop(
    fresh_rootfs: Path, www: Path
) -> None:
    port = _free_port()
    with pc.Container.create(
        str(fresh_rootfs),
        ["httpd", "-f", "-p", "80", "-h", "/www"],
        mounts=[pc.Mount("/www", str(www), read_only=True)],
        ports={"80/tcp": ("127.0.0.1", port)},
    ) as c:
        c.start()
        reply = _http_get("127.0.0.1", port)
        assert b"200 OK" in reply and b"hello from the container" in reply
        assert c.id in Netfilter().owners()
        c.kill()
        c.wait()
        assert c.id not in Netfilter().owners()
        with pytest.raises(AssertionError):
            _http_get("127.0.0.1", port, attempts=1)


def test_published_port_on_the_host_address(fresh_rootfs: Path, www: Path) -> None:
    gateway = str(Network.get("bridge").gateway.ip)  # an address of this "host"
    with pc.Container.create(
        str(fresh_rootfs),
        ["httpd", "-f", "-p", "80", "-h", "/www"],
        mounts=[pc.Mount("/www", str(www), read_only=True)],
        ports=["8099:80"],
    ) as c:
        c.start()
        assert b"hello from the container" in _http_get(gateway, 8099)
        assert b"hello from the container" in _http_get("127.0.0.1", 8099)


def test_container_sees_its_network_files(busybox_rootfs: Path, user_net: Network) -> None:
    r = pc.run(
        str(busybox_rootfs),
        [
            "sh",
            "-c",
            "hostname; cat /etc/hostname; ip -4 -o addr show eth0; ip route; cat /etc/hosts",
        ],
        network="testnet",
        hostname="box",
        extra_hosts={"db.example": "10.1.2.3"},
        capture_output=True,
        timeout=30,
    )
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    lines = out.splitlines()
    assert lines[0] == "box" and lines[1] == "box"
    assert str(user_net.subnet.network_address)[:-1] in lines[2]
    assert f"default via {user_net.gateway.ip}" in out
    assert "10.1.2.3\tdb.example" in out


def test_names_resolve_on_a_user_network(fresh_rootfs: Path, www: Path, user_net: Network) -> None:
    with pc.Container.create(
        str(fresh_rootfs),
        ["httpd", "-f", "-p", "80", "-h", "/www"],
        mounts=[pc.Mount("/www", str(www), read_only=True)],
        network="testnet",
        name="web",
        aliases=["www.internal"],
    ) as web:
        web.start()
        script = (
            "for i in $(seq 50); do wget -qO- http://web/ && break; sleep 0.1; done; "
            "wget -qO- http://www.internal/"
        )
        r = pc.run(
            str(fresh_rootfs),
            ["sh", "-c", script],
            network="testnet",
            capture_output=True,
            timeout=30,
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"hello from the container\n" * 2


def test_two_networks_are_isolated(fresh_rootfs: Path, www: Path, user_net: Network) -> None:
    other = Network.create("othernet")
    try:
        with pc.Container.create(
            str(fresh_rootfs),
            ["httpd", "-f", "-p", "80", "-h", "/www"],
            mounts=[pc.Mount("/www", str(www), read_only=True)],
            network="testnet",
            name="web",
        ) as web:
            web.start()
            ep = Endpoints().load(web.id)
            assert ep is not None
            ip = ep.address.ip
            same = pc.run(
                str(fresh_rootfs),
                [
                    "sh",
                    "-c",
                    f"for i in $(seq 50); do wget -qO- http://{ip}/ && exit 0; sleep 0.1; done; exit 1",
                ],
                network="testnet",
                capture_output=True,
                timeout=30,
            )
            assert same.returncode == 0, same.stderr
            cross = pc.run(
                str(fresh_rootfs),
                ["sh", "-c", f"wget -T 2 -qO- http://{ip}/"],
                network="othernet",
                capture_output=True,
                timeout=30,
            )
            assert cross.returncode != 0 and cross.stdout == b""
    finally:
        other.remove()


def test_port_in_use_is_a_clear_error_and_leaves_nothing(busybox_rootfs: Path) -> None:
    before = _snapshot()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse, match=str(port)):
            pc.run(str(busybox_rootfs), ["true"], ports={80: ("127.0.0.1", port)})
    assert _snapshot() == before


def test_port_taken_by_another_container(busybox_rootfs: Path) -> None:
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], ports={"80": 8098}) as c:
        c.start()
        before = _snapshot()
        with pytest.raises(PortInUse, match="8098"):
            pc.run(str(busybox_rootfs), ["true"], ports={"81": 8098})
        assert _snapshot() == before


def test_overlapping_subnet_and_network_in_use(busybox_rootfs: Path, user_net: Network) -> None:
    with pytest.raises(pc.SpecError, match="overlaps"):
        Network.create("clash", subnet=str(user_net.subnet))
    assert [n.name for n in Network.list()].count("clash") == 0
    with pc.Container.create(str(busybox_rootfs), ["sleep", "30"], network="testnet") as c:
        c.start()
        with pytest.raises(NetworkInUse, match="in use"):
            user_net.remove()
        assert user_net.bridge in link_names()
    with pytest.raises(pc.SpecError, match="network"):
        pc.run(str(busybox_rootfs), ["true"], network="no such/net")


def test_unknown_network(busybox_rootfs: Path) -> None:
    from pycontainers.network.network import NetworkNotFound

    before = _snapshot()
    with pytest.raises(NetworkNotFound, match="nosuchnet"):
        pc.run(str(busybox_rootfs), ["true"], network="nosuchnet")
    assert _snapshot() == before


def test_bandwidth_limit_holds(fresh_rootfs: Path, user_net: Network) -> None:
    """1 mbit egress: 450 kB sent between two containers arrives at roughly that rate
    (generous bounds; the sender stays alive so its socket buffer drains)."""
    size = 450_000
    with pc.Container.create(
        str(fresh_rootfs),
        # nc's stdin stays open (sleep), or busybox nc quits on its EOF mid-transfer
        ["sh", "-c", "sleep 60 | nc -l -p 5000 | wc -c > /tmp/count"],
        network="testnet",
        name="sink",
    ) as sink:
        sink.start()
        done = fresh_rootfs / "tmp" / "count"
        with pc.Container.create(
            str(fresh_rootfs),
            ["sh", "-c", f"sleep 0.2; head -c {size} /dev/zero | nc -w 1 sink 5000; sleep 60"],
            network="testnet",
            bandwidth={"egress": "1mbit"},
        ) as sender:
            t0 = time.monotonic()
            sender.start()
            # wc writes the count once nc has seen the sender's FIN
            while not (done.exists() and done.read_text()) and time.monotonic() - t0 < 30:
                time.sleep(0.02)
            elapsed = time.monotonic() - t0 - 0.2
        count = int(done.read_text())
    assert count == size
    rate = count * 8 / elapsed
    assert 0.4e6 < rate < 1.6e6, (count, elapsed, rate)


@pytest.mark.parametrize("host", [False, True], ids=["files-only", "host-scan"])
def test_gc_after_the_owner_is_killed(busybox_rootfs: Path, tmp_path: Path, host: bool) -> None:
    """A process killed with SIGKILL mid-life leaves a veth, lease, rule and record; gc
    removes them all — the cheap pass of the next process's first network use too (it reads
    only files: the record names the veth and rules)."""
    import subprocess
    import sys

    from pycontainers.network.spec import DEFAULT_NETWORK

    Network.get(DEFAULT_NETWORK).ensure_up()  # the bridge stays: not part of the garbage
    before = _snapshot()
    script = (
        "import os, pycontainers as pc\n"
        f"c = pc.Container.create({str(busybox_rootfs)!r}, ['sleep', '60'], ports=['127.0.0.1:8097:80'])\n"
        "c.start()\n"
        "print(c.id, c.pid, flush=True)\n"
        "os.kill(c.pid, 9)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.strip(), proc.stderr
    cid, pid = proc.stdout.split()
    assert cid in Endpoints().owners()
    # SIGKILL takes effect asynchronously: the container's pid 1 tears its namespaces down
    # before it is a zombie, and until then its endpoint is rightly a live one
    from pycontainers._proc import proc_alive, proc_starttime

    start = proc_starttime(int(pid))
    deadline = time.monotonic() + 30
    while start and proc_alive(int(pid), start) and time.monotonic() < deadline:
        time.sleep(0.02)
    from pycontainers.network.gc import collect

    found = collect(host=host)
    assert cid in found.endpoints
    assert _snapshot() == before
    pc.Container.load(cid).delete()


def test_many_create_delete_cycles_leave_nothing(busybox_rootfs: Path, user_net: Network) -> None:
    before = _snapshot()
    leases = user_net.containers()
    for i in range(100):
        with pc.Container.create(
            str(busybox_rootfs), ["true"], network="testnet", ports={80: 18000 + i % 3}
        ) as c:
            c.start()
            c.wait()
    assert _snapshot() == before
    assert user_net.containers() == leases
    assert not os.listdir(Endpoints().records)


def test_network_api_mtu_inspect_and_random_port(fresh_rootfs: Path, www: Path) -> None:
    net = Network.create("mtunet", mtu=1400, labels={"team": "a"})
    try:
        assert [n.name for n in Network.list()].count("mtunet") == 1
        info = net.inspect()
        assert info["Options"]["mtu"] == "1400" and info["Labels"] == {"team": "a"}
        with pc.Container.create(
            str(fresh_rootfs),
            ["httpd", "-f", "-p", "80", "-h", "/www"],
            mounts=[pc.Mount("/www", str(www), read_only=True)],
            network="mtunet",
            ports={80: None},  # a random free host port
        ) as c:
            c.start()
            mtu = c.exec(["cat", "/sys/class/net/eth0/mtu"], capture_output=True).stdout
            assert mtu == b"1400\n"
            binding = c.inspect()["NetworkSettings"]["Ports"]["80/tcp"][0]
            port = int(binding["HostPort"])
            assert port > 0
            assert b"hello from the container" in _http_get("127.0.0.1", port)
            assert c.id in net.inspect()["Containers"]
    finally:
        net.remove()
    with pytest.raises(pc.SpecError, match="mtu"):
        Network.create("badmtu", mtu=10)
    assert "badmtu" not in [n.name for n in Network.list()]


def test_a_failed_teardown_keeps_the_record_for_the_next_pass(
    busybox_rootfs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a step of the teardown fails, the endpoint's record stays (so its veth and rules
    are not orphaned) and the next cheap pass finishes the job. nftables refusing to delete
    a rule cannot be provoked here, so that one step is faked; everything else is real."""
    from pycontainers.errors import PyContainersError
    from pycontainers.network import endpoint as endpoint_mod
    from pycontainers.network.gc import collect
    from pycontainers.network.spec import DEFAULT_NETWORK

    Network.get(DEFAULT_NETWORK).ensure_up()  # the bridge stays: not part of the garbage
    before = _snapshot()
    c = pc.Container.create(str(busybox_rootfs), ["sleep", "60"], ports=["127.0.0.1:8098:80"])
    try:
        c.start()
        owner = c.id
        veth = endpoint_mod.veth_name(owner)
        assert veth in link_names() and owner in Netfilter().owners()

        class Refusing:
            def unpublish(self, owner: str) -> None:
                raise OSError("nft: refused (test)")

        with monkeypatch.context() as m:
            m.setattr(endpoint_mod, "_netfilter", lambda: Refusing())
            with pytest.raises(PyContainersError, match="rules: nft: refused"):
                endpoint_mod.disconnect(owner)
        assert owner in Endpoints().owners()  # kept: the rule is still there
        assert owner in Netfilter().owners()
        c.kill()
        c.wait(timeout=30)
        collect(host=False)
        assert _snapshot() == before
    finally:
        c.delete()


DISCONNECT = """
import sys
from pycontainers.network.endpoint import disconnect
held = disconnect(sys.argv[1])
print(held, *sorted(m for m in sys.modules if m.startswith("pycontainers.network.")))
"""


def test_an_endpoint_without_ports_goes_without_reading_nftables() -> None:
    # no published port: no rule and no host-port lease to give back, so a process that
    # only tears the endpoint down (rm -f, a monitor's hook, gc) loads neither
    from pycontainers.network.endpoint import connect, prepare, veth_name
    from pycontainers.network.spec import NetworkSpec

    owner = "5e" * 32
    sleeper = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    try:
        ours = os.readlink("/proc/self/ns/net")
        for _ in range(200):
            if os.readlink(f"/proc/{sleeper.pid}/ns/net") != ours:
                break
            time.sleep(0.01)
        connect(prepare(NetworkSpec(), owner, name=None, hostname="x"), sleeper.pid)
        assert veth_name(owner) in link_names() and owner in Endpoints().owners()
        r = subprocess.run(
            [sys.executable, "-c", DISCONNECT, owner], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, r.stderr
        held, *modules = r.stdout.split()
        assert held == "True"
        assert "pycontainers.network.links" in modules  # the veth went through netlink
        assert "pycontainers.network.nft" not in modules
        assert "pycontainers.network.ports" not in modules
        links, rules, endpoints = _snapshot()
        assert veth_name(owner) not in links
        assert owner not in rules and owner not in endpoints
    finally:
        sleeper.kill()
        sleeper.wait()
        from pycontainers.network.endpoint import disconnect

        disconnect(owner)
