"""Port mappings: validation and parsing of docker-py's dict form and Docker's ``-p`` strings."""

from __future__ import annotations

from typing import Any

import pytest

from pycontainers.errors import SpecError
from pycontainers.network.ports import PortMapping, parse_ports


def pm(container: int, proto: str = "tcp", host: int = 0, ip: str = "") -> PortMapping:
    return PortMapping(container, proto, host, ip)


def test_mapping_validation_and_normalisation() -> None:
    m = PortMapping(80)
    assert (m.container_port, m.protocol, m.host_port, m.host_ip) == (80, "tcp", 0, "")
    assert PortMapping(53, "UDP", 5353, "0.0.0.0") == pm(53, "udp", 5353, "")
    assert str(pm(80, "tcp", 8080, "127.0.0.1")) == "127.0.0.1:8080->80/tcp"
    assert str(pm(80)) == "0.0.0.0:*->80/tcp"
    bad: list[dict[str, Any]] = [
        {"container_port": 0},
        {"container_port": 65536},
        {"container_port": "80"},
        {"container_port": True},
        {"container_port": 80, "host_port": -1},
        {"container_port": 80, "host_port": 70000},
        {"container_port": 80, "protocol": "sctp"},
        {"container_port": 80, "host_ip": "localhost"},
        {"container_port": 80, "host_ip": "::1"},
        {"container_port": 80, "host_ip": "1.2.3"},
    ]
    for kwargs in bad:
        with pytest.raises(SpecError) as info:
            PortMapping(**kwargs)
        assert info.value.field == "ports", kwargs


def test_mapping_is_frozen_and_hashable() -> None:
    m = pm(80, "tcp", 8080)
    with pytest.raises(AttributeError):
        m.host_port = 1  # type: ignore[misc]
    assert len({m, pm(80, "tcp", 8080)}) == 1


def test_clashes() -> None:
    assert pm(80, "tcp", 8080).clashes(pm(81, "tcp", 8080, "127.0.0.1"))
    assert pm(80, "tcp", 8080, "127.0.0.1").clashes(pm(81, "tcp", 8080, "127.0.0.1"))
    assert not pm(80, "tcp", 8080, "127.0.0.1").clashes(pm(81, "tcp", 8080, "127.0.0.2"))
    assert not pm(80, "tcp", 8080).clashes(pm(80, "udp", 8080))
    assert not pm(80).clashes(pm(80))  # random host ports never clash before resolution


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [pm(80)]),
        ("8080:80", [pm(80, "tcp", 8080)]),
        ("8080:80/udp", [pm(80, "udp", 8080)]),
        ("8080:80/TCP", [pm(80, "tcp", 8080)]),
        ("127.0.0.1:8080:80", [pm(80, "tcp", 8080, "127.0.0.1")]),
        ("127.0.0.1::80", [pm(80, "tcp", 0, "127.0.0.1")]),
        ("0.0.0.0:8080:80", [pm(80, "tcp", 8080)]),
        ("80/udp", [pm(80, "udp")]),
        (
            "8000-8002:80-82",
            [pm(80, "tcp", 8000), pm(81, "tcp", 8001), pm(82, "tcp", 8002)],
        ),
        (
            "10.0.0.1:9000-9001:90-91/udp",
            [pm(90, "udp", 9000, "10.0.0.1"), pm(91, "udp", 9001, "10.0.0.1")],
        ),
        ("80-81", [pm(80), pm(81)]),
        (" 8080:80 ", [pm(80, "tcp", 8080)]),
        ("0:80", [pm(80)]),  # host port 0: any free port, as in Docker
        ("1.2.3.4:0:80/udp", [pm(80, "udp", 0, "1.2.3.4")]),
    ],
)
def test_cli_strings(spec: str, expected: list[PortMapping]) -> None:
    assert parse_ports(spec) == tuple(expected)
    assert parse_ports([spec]) == tuple(expected)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "container port"),
        ("8080:", "container port is missing"),
        ("abc", "not a port"),
        ("0", "1-65535"),
        ("70000", "not within|not a port"),
        ("8080:80/sctp", "sctp"),
        ("8000-8002:80-81", "same length"),
        ("8000:80-81", "same length"),
        ("82-80", "low-high"),
        ("localhost:8080:80", "not an IPv4 address"),
        ("[::1]:8080:80", "IPv6"),
        ("1:2:3:4", "IPv6"),
        ("8080:80:/tcp", "container port is missing"),
    ],
)
def test_bad_cli_strings(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        parse_ports(spec)
    assert info.value.field == "ports"
    assert repr(spec) in str(info.value) or spec == ""


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({80: 8080}, [pm(80, "tcp", 8080)]),
        ({"80": 8080}, [pm(80, "tcp", 8080)]),
        ({"80/udp": 5353}, [pm(80, "udp", 5353)]),
        ({"8080/tcp": "80"}, [pm(8080, "tcp", 80)]),
        ({80: None}, [pm(80)]),
        ({80: 0}, [pm(80)]),
        ({80: ("127.0.0.1", 8080)}, [pm(80, "tcp", 8080, "127.0.0.1")]),
        ({80: ("127.0.0.1",)}, [pm(80, "tcp", 0, "127.0.0.1")]),
        ({80: ("127.0.0.1", None)}, [pm(80, "tcp", 0, "127.0.0.1")]),
        ({80: (8080,)}, [pm(80, "tcp", 8080)]),
        ({80: {"HostIp": "127.0.0.1", "HostPort": "8080"}}, [pm(80, "tcp", 8080, "127.0.0.1")]),
        (
            {80: [8080, ("127.0.0.1", 8081), None]},
            [pm(80, "tcp", 8080), pm(80, "tcp", 8081, "127.0.0.1"), pm(80)],
        ),
        ({"80-81/udp": "9000-9001"}, [pm(80, "udp", 9000), pm(81, "udp", 9001)]),
        ({"80-81": None}, [pm(80), pm(81)]),
        ({80: 8080, "80/udp": 8080}, [pm(80, "tcp", 8080), pm(80, "udp", 8080)]),
    ],
)
def test_docker_py_dict(spec: dict[Any, Any], expected: list[PortMapping]) -> None:
    assert parse_ports(spec) == tuple(expected)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"http": 80}, "not a port"),
        ({80.0: 80}, "not a container port"),
        ({True: 80}, "not a container port"),
        ({80: "x"}, "not a port"),
        ({80: True}, "not a port"),
        ({80: 3.5}, "not a port"),
        ({80: ("localhost", 80)}, "IPv4"),
        ({80: ("127.0.0.1", 80, 1)}, "expected"),
        ({80: []}, "empty list"),
        ({"80/sctp": 80}, "sctp"),
        ({"80-81": 9000}, "same length"),
        ({80: 70000}, "not within|not a port"),
    ],
)
def test_bad_docker_py_dict(spec: dict[Any, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        parse_ports(spec)
    assert info.value.field == "ports"


def test_sequences_and_single_values() -> None:
    m = pm(80, "tcp", 8080)
    assert parse_ports(m) == (m,)
    assert parse_ports(80) == (pm(80),)
    assert parse_ports([m, "90", 100]) == (m, pm(90), pm(100))
    assert parse_ports(("9000:90/udp",)) == (pm(90, "udp", 9000),)
    assert parse_ports([]) == ()
    assert parse_ports({}) == ()
    for bad in (b"80", 1.5, None, [None], [b"80"], [True], object()):
        with pytest.raises(SpecError, match="ports"):
            parse_ports(bad)


def test_the_same_host_port_twice_is_refused() -> None:
    for spec in (
        ["8080:80", "8080:81"],
        ["8080:80", "127.0.0.1:8080:81"],
        ["8000-8002:80-82", "8002:90"],
        {80: [8080, 8080]},
    ):
        with pytest.raises(SpecError, match="same host port"):
            parse_ports(spec)
    # different protocols, different addresses and random ports are fine
    assert len(parse_ports(["8080:80", "8080:80/udp"])) == 2
    assert len(parse_ports(["127.0.0.1:8080:80", "127.0.0.2:8080:80"])) == 2
    assert len(parse_ports(["80", "80"])) == 2
