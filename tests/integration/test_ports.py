"""Host-port leases: conflicts with other owners and host processes, random ports, corruption.

Bind tests run in a private network namespace made by the test (with ``lo`` up and its own
ephemeral port range), so the machine's ports are never probed.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycontainers.errors import PyContainersError, SpecError
from pycontainers.namespaces import Namespace
from pycontainers.network.ports import (
    PortAllocator,
    PortError,
    PortInUse,
    PortLeasesCorrupt,
    PortMapping,
)

pytestmark = pytest.mark.root


@pytest.fixture
def netns(tmp_path: Path) -> Iterator[Namespace]:
    ns = Namespace.create("net", tmp_path / "h.net")
    try:
        with ns.enter():
            with importlib.import_module("pyroute2").IPRoute() as ipr:
                ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            yield ns
    finally:
        ns.remove()


def test_reserve_release_and_persistence(netns: Namespace, tmp_path: Path) -> None:
    ports = PortAllocator(tmp_path / "state")
    got = ports.reserve("c1", ["127.0.0.1:18080:80", "18081:81/udp"])
    assert got == (PortMapping(80, "tcp", 18080, "127.0.0.1"), PortMapping(81, "udp", 18081))
    assert PortAllocator(tmp_path / "state").leases() == {"c1": got}  # read back from disk
    assert ports.owners() == {"c1"}
    # reserving again replaces the owner's leases (its own ports do not clash)
    again = ports.reserve("c1", {"80/tcp": ("127.0.0.1", 18080)})
    assert ports.leases() == {"c1": again}
    # the same port on another address or protocol is free for someone else
    assert ports.reserve("c2", ["127.0.0.2:18080:80", "18080:80/udp"])
    assert ports.release("c1") is True
    assert ports.release("c1") is False
    assert ports.owners() == {"c2"}
    assert ports.reserve("c3", []) == ()
    assert "c3" not in ports.leases()
    doc = json.loads(Path(ports.path).read_text())
    assert doc["version"] == 1 and set(doc["leases"]) == {"c2"}


def test_port_leased_by_another_owner(netns: Namespace, tmp_path: Path) -> None:
    ports = PortAllocator(tmp_path)
    ports.reserve("owner-a", ["127.0.0.1:18080:80"])
    for spec in ("127.0.0.1:18080:90", "18080:90"):  # same address, and all addresses
        with pytest.raises(PortInUse, match="leased to 'owner-a'") as info:
            ports.reserve("owner-b", ["18082:82", spec])
        err = info.value
        assert (err.port, err.protocol) == (18080, "tcp")
        assert isinstance(err, PyContainersError)
        assert "18080/tcp" in str(err)
    # all or nothing: 18082 was not leased to owner-b
    assert ports.leases() == {"owner-a": (PortMapping(80, "tcp", 18080, "127.0.0.1"),)}
    assert ports.reserve("owner-b", ["18082:82"])  # and is free


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_DGRAM])
def test_port_held_by_a_host_process(netns: Namespace, tmp_path: Path, kind: int) -> None:
    proto = "tcp" if kind == socket.SOCK_STREAM else "udp"
    ports = PortAllocator(tmp_path)
    ports.reserve("old", ["127.0.0.1:18090:80"])
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", 18085))
        if kind == socket.SOCK_STREAM:
            holder.listen()
        for spec in (f"127.0.0.1:18085:80/{proto}", f"18085:80/{proto}"):
            with pytest.raises(PortInUse, match=f"pid {os.getpid()}") as info:
                ports.reserve("new", [f"18086:86/{proto}", spec])
            assert (info.value.port, info.value.protocol) == (18085, proto)
            assert "a process on the host holds it" in str(info.value)
        assert ports.owners() == {"old"}
        # the other address is free
        assert ports.reserve("new", [f"127.0.0.2:18085:80/{proto}"])
    ports.release("new")
    assert ports.reserve("new", [f"18085:80/{proto}"])  # free once the socket is closed


def test_random_ports_from_the_ephemeral_range(netns: Namespace, tmp_path: Path) -> None:
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
        f.write("40000 40003")  # this netns only
    ports = PortAllocator(tmp_path)
    first = ports.reserve("a", ["80", "127.0.0.1::81"])
    assert {m.host_port for m in first} <= {40000, 40001, 40002, 40003}
    assert first[1].host_ip == "127.0.0.1"
    with socket.socket() as s:
        free = {40000, 40001, 40002, 40003} - {m.host_port for m in first}
        taken = min(free)
        s.bind(("0.0.0.0", taken))  # a host process holds one of the two left
        second = ports.reserve("b", ["90"])
        assert second[0].host_port == max(free)
        with pytest.raises(PortError, match=r"no free host port .* 40000-40003"):
            ports.reserve("c", ["91", "8000:92"])
    assert ports.owners() == {"a", "b"}
    # a random port never picks a fixed port requested in the same call
    ports.release("a")
    ports.release("b")
    for _ in range(5):
        got = ports.reserve("d", ["90", "40000:91", "40001:92", "40002:93"])
        assert got[0].host_port == 40003


def test_errors_name_the_problem(netns: Namespace, tmp_path: Path) -> None:
    ports = PortAllocator(tmp_path)
    with pytest.raises(PortError, match="not an address of this host"):
        ports.reserve("x", ["10.99.0.1:18080:80"])
    with pytest.raises(SpecError, match="owner"):
        ports.reserve("", ["80"])
    with pytest.raises(SpecError, match="ports"):
        ports.reserve("x", ["80:80:80:80"])
    assert ports.leases() == {}


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"version": 2, "leases": {}}',
        '{"version": 1}',
        '{"version": 1, "leases": {"a": [{"container_port": 0, "host_port": 1}]}}',
        '{"version": 1, "leases": {"a": [{"container_port": 80, "host_port": 0}]}}',
        '{"version": 1, "leases": {"a": {"container_port": 80}}}',
        '{"version": 1, "leases": {"a": [{"container_port": 80, "host_port": 8080}],'
        ' "b": [{"container_port": 81, "host_port": 8080}]}}',
    ],
)
def test_corrupt_lease_file_is_never_used(tmp_path: Path, content: str) -> None:
    ports = PortAllocator(tmp_path)
    Path(ports.path).write_text(content)
    for call in (
        lambda: ports.reserve("c", ["80"]),
        lambda: ports.release("a"),
        ports.leases,
        ports.owners,
    ):
        with pytest.raises(PortLeasesCorrupt, match="corrupt port leases"):
            call()
    assert Path(ports.path).read_text() == content


def test_concurrent_processes_never_share_a_port(netns: Namespace, tmp_path: Path) -> None:
    code = (
        "import sys; from pycontainers.network.ports import PortAllocator as P\n"
        "a = P(sys.argv[1])\n"
        "for i in range(10): a.reserve(f'{sys.argv[2]}-{i}', ['127.0.0.1::80'])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), f"p{n}"]) for n in range(4)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    leases = PortAllocator(tmp_path).leases()
    assert len(leases) == 40
    assert len({m.host_port for ms in leases.values() for m in ms}) == 40
