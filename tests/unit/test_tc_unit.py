"""parse_rate / parse_size / Bandwidth: units as tc(8) reads them, and clear errors."""

from __future__ import annotations

import pytest

from pycontainers.errors import SpecError
from pycontainers.network.tc import (
    MAX_RATE,
    MIN_BURST,
    Bandwidth,
    parse_rate,
    parse_size,
    tbf_burst,
)


@pytest.mark.parametrize(
    ("value", "bits"),
    [
        (1_000_000, 1_000_000),
        ("1000", 1000),
        ("800bit", 800),
        ("500kbit", 500_000),
        ("1mbit", 1_000_000),
        ("1.5Mbit", 1_500_000),
        ("2gbit", 2_000_000_000),
        ("1tbit", 10**12),
        ("1kibit", 1024),
        ("1mibit", 1024**2),
        ("1bps", 8),
        ("10kbps", 80_000),  # tc: bps is BYTES per second
        ("10mbps", 80_000_000),
        ("10MBps", 80_000_000),
        ("1mibps", 8 * 1024**2),
        ("1m", 1_000_000),  # bare k/m/g: bits/s, like Kubernetes' "1M"
        ("1M", 1_000_000),
        ("500k", 500_000),
        ("1g", 10**9),
        ("1Mi", 1024**2),
        (" 2 mbit ", 2_000_000),
        (".5mbit", 500_000),
    ],
)
def test_parse_rate(value: str | int, bits: int) -> None:
    assert parse_rate(value) == bits


@pytest.mark.parametrize(
    "value",
    ["", "fast", "1 mbit/s", "-1mbit", "1e6", "0", 0, -5, "0mbit", "1mb", "1kb", "mbit", "1xbit"],
)
def test_parse_rate_rejects(value: str | int) -> None:
    with pytest.raises(SpecError) as info:
        parse_rate(value, "egress")
    assert info.value.field == "egress"
    assert str(info.value).startswith("egress: ")


@pytest.mark.parametrize("value", [1.5, None, True, b"1mbit", [1]])
def test_parse_rate_rejects_types(value: object) -> None:
    with pytest.raises(SpecError, match="rate"):
        parse_rate(value)  # type: ignore[arg-type]


def test_ambiguous_docker_units_name_the_alternatives() -> None:
    with pytest.raises(SpecError, match=r"use mbit \(bits/s\) or mbps \(bytes/s\)"):
        parse_rate("10mb")


def test_parse_size() -> None:
    assert parse_size(1500) == 1500
    assert parse_size("32kb") == parse_size("32k") == 32 * 1024
    assert parse_size("1mb") == 1024**2
    assert parse_size("8kbit") == 1024
    for bad in ("", "1x", "0", "-1k"):
        with pytest.raises(SpecError, match=r"^burst: "):
            parse_size(bad)


def test_bandwidth_converts_and_validates() -> None:
    b = Bandwidth(egress="1mbit", ingress=2_000_000)
    assert (b.egress, b.ingress, b.burst) == (1_000_000, 2_000_000, None)
    assert Bandwidth() == Bandwidth(None, None)
    assert str(b) == "egress=1mbit,ingress=2mbit"
    assert str(Bandwidth()) == "unlimited"
    assert Bandwidth(ingress="1mbit", burst="64kb").burst == 65536
    with pytest.raises(SpecError, match=r"^egress: .*out of range"):
        Bandwidth(egress="1kbit")
    with pytest.raises(SpecError, match=r"^ingress: .*out of range"):
        Bandwidth(ingress=MAX_RATE + 1)
    assert Bandwidth(ingress=MAX_RATE).ingress == MAX_RATE
    with pytest.raises(SpecError, match=r"^ingress: "):
        Bandwidth(ingress="1 mbit per second")
    with pytest.raises(SpecError, match=r"^burst: .*frame"):
        Bandwidth(egress="1mbit", burst=1000)
    with pytest.raises(SpecError, match=r"^burst: .*smaller burst"):
        Bandwidth(egress="8kbit", burst="1mb")
    with pytest.raises(AttributeError):
        b.egress = 5  # type: ignore[misc]


def test_bandwidth_parse() -> None:
    both = Bandwidth(egress=1_000_000, ingress=1_000_000)
    assert Bandwidth.parse("1mbit") == Bandwidth.parse(1_000_000) == both
    assert Bandwidth.parse({"egress": "1mbit", "ingress": "1mbit"}) == both
    assert Bandwidth.parse(both) is both
    assert Bandwidth.parse("egress=1mbit, ingress=10mbit,burst=32kb") == Bandwidth(
        egress="1mbit", ingress="10mbit", burst=32768
    )
    assert Bandwidth.parse("ingress=5mbit") == Bandwidth(ingress=5_000_000)
    for bad in ("egress=1mbit,egress=2mbit", "up=1mbit", "egress=", "egress=1mbit,"):
        with pytest.raises(SpecError):
            Bandwidth.parse(bad)
    with pytest.raises(SpecError, match=r"^bandwidth: unknown keys"):
        Bandwidth.parse({"egres": "1mbit"})
    with pytest.raises(SpecError, match=r"^bandwidth: "):
        Bandwidth.parse(None)  # type: ignore[arg-type]


def test_tbf_burst() -> None:
    assert tbf_burst(1_000_000) == MIN_BURST  # low rates: enough for a few full frames
    assert tbf_burst(1_000_000, mtu=65535) == 65535 + 64  # never below one frame
    assert tbf_burst(4_000_000_000) == 4_000_000_000 // 8 // 200  # 5 ms at high rates
    assert tbf_burst(MAX_RATE) == 4 * 1024 * 1024
    assert tbf_burst(1_000_000, 4096) == 4096
