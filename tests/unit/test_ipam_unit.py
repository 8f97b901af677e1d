"""IPAM: allocation order, persistence, cross-process locking, overlap, exhaustion, corruption."""

from __future__ import annotations

import json
import subprocess
import sys
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from pycontainers.errors import PyContainersError, SpecError
from pycontainers.network import AddressExhausted, Ipam, IpamCorrupt, IpamError, Subnet


def test_subnet_validation() -> None:
    assert str(Subnet("10.1.0.0/24").gateway) == "10.1.0.1/24"
    assert Subnet("10.1.0.0/30").capacity == 1
    for bad in ("10.1.0.1/24", "nonsense", "10.1.0.0/31", "fd00::/64"):
        with pytest.raises(SpecError) as info:
            Subnet(bad)
        assert info.value.field == "subnet"


def test_allocation_order_and_release(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create_network("n1", "10.1.0.0/24")
    assert ipam.allocate("n1", "a") == IPv4Interface("10.1.0.2/24")  # .0 network, .1 gateway
    assert ipam.allocate("n1", "b") == IPv4Interface("10.1.0.3/24")
    assert ipam.allocate("n1", "a") == IPv4Interface("10.1.0.2/24")  # same owner, same lease
    assert ipam.release("n1", "a") is True
    assert ipam.release("n1", "a") is False
    assert ipam.allocate("n1", "c") == IPv4Interface("10.1.0.2/24")  # lowest free reused
    assert ipam.leases("n1") == {
        "b": IPv4Interface("10.1.0.3/24"),
        "c": IPv4Interface("10.1.0.2/24"),
    }


def test_persistence_and_release_owner(tmp_path: Path) -> None:
    first = Ipam(tmp_path)
    first.create_network("n1", "10.1.0.0/24")
    first.create_network("n2", "10.2.0.0/24")
    first.allocate("n1", "ctr")
    first.allocate("n2", "ctr")
    first.allocate("n2", "other")
    second = Ipam(tmp_path)
    assert second.networks() == {"n1": Subnet("10.1.0.0/24"), "n2": Subnet("10.2.0.0/24")}
    assert second.leases("n1") == {"ctr": IPv4Interface("10.1.0.2/24")}
    assert second.release_owner("ctr") == ["n1", "n2"]
    assert Ipam(tmp_path).leases("n2") == {"other": IPv4Interface("10.2.0.3/24")}
    with pytest.raises(IpamError, match="still has leases"):
        second.remove_network("n2")
    assert second.remove_network("n1") is True
    assert second.remove_network("n1") is False
    assert not list(tmp_path.glob(".tmp-*"))


def test_overlap_names_the_conflicting_network(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create_network("front", "10.1.0.0/16")
    assert ipam.create_network("front", "10.1.0.0/16") == Subnet("10.1.0.0/16")  # idempotent
    with pytest.raises(SpecError, match="'front'") as info:
        ipam.create_network("back", "10.1.2.0/24")
    assert info.value.field == "subnet"
    with pytest.raises(SpecError, match="already exists"):
        ipam.create_network("front", "10.9.0.0/16")
    with pytest.raises(SpecError) as bad:
        ipam.create_network("../x", "10.9.0.0/16")
    assert bad.value.field == "network"


def test_exhaustion(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create_network("tiny", "10.3.0.0/29")  # 8 addresses: net, gw, 5 hosts, broadcast
    got = [ipam.allocate("tiny", f"c{i}") for i in range(5)]
    assert [str(a.ip) for a in got] == [f"10.3.0.{i}" for i in range(2, 7)]
    with pytest.raises(AddressExhausted, match="exhausted") as info:
        ipam.allocate("tiny", "one-too-many")
    assert isinstance(info.value, PyContainersError)
    with pytest.raises(IpamError, match="does not exist"):
        ipam.allocate("nope", "x")


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"version": 1, "name": "n1", "subnet": "10.1.0.0/24", "leases": {"a": "10.9.0.2"}}',
        b'{"version": 1, "name": "n1", "subnet": "10.1.0.0/24", "leases": {"a": "10.1.0.2", "b": "10.1.0.2"}}',
        b'{"version": 1, "name": "n1", "subnet": "bogus", "leases": {}}',
    ],
)
def test_corrupt_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    ipam = Ipam(tmp_path)
    ipam.create_network("n1", "10.1.0.0/24")
    (tmp_path / "n1.json").write_bytes(content)
    with pytest.raises(IpamCorrupt, match="corrupt IPAM state") as info:
        ipam.allocate("n1", "a")
    assert info.value.path == str(tmp_path / "n1.json")


def test_file_format_is_readable(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path)
    ipam.create_network("n1", "10.1.0.0/24")
    ipam.allocate("n1", "a")
    doc = json.loads((tmp_path / "n1.json").read_text())
    assert doc == {
        "version": 1,
        "name": "n1",
        "subnet": "10.1.0.0/24",
        "gateway": "10.1.0.1",
        "leases": {"a": "10.1.0.2"},
    }


_WORKER = """
import sys
from pycontainers.network import Ipam
ipam = Ipam(sys.argv[1])
for i in range(int(sys.argv[3])):
    print(ipam.allocate("shared", f"{sys.argv[2]}-{i}").ip)
"""


def test_concurrent_processes_never_share_an_address(tmp_path: Path) -> None:
    Ipam(tmp_path).create_network("shared", "10.4.0.0/22")
    per, workers = 40, 4
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(tmp_path), f"w{w}", str(per)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    addresses = [a for out in outputs for a in out]
    assert len(addresses) == per * workers
    assert len(set(addresses)) == len(addresses)
    leases = Ipam(tmp_path).leases("shared")
    assert len(leases) == per * workers
    assert sorted(str(a.ip) for a in leases.values()) == sorted(addresses)
