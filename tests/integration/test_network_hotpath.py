"""The bridge network's hot path: rtnetlink packed by hand (network/_rtnl.py), the bridge and
the nftables table checked (not trusted) on every start, and put back when they are gone.

Everything runs in the test session's own network namespace (tests/conftest.py).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.network import link_names
from pycontainers.network._rtnl import (
    IFLA_IFNAME,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    NLM_F_CREATE,
    NLM_F_EXCL,
    RTM_DELLINK,
    RTM_NEWLINK,
    Rtnl,
    attr,
    attr_str,
    link,
)
from pycontainers.network.links import delete_link, ensure_bridge
from pycontainers.network.network import DEFAULT_BRIDGE, Network
from pycontainers.network.nft import Netfilter, run

pytestmark = [pytest.mark.root, pytest.mark.network]

BASE_AND_NETWORK_RULES = 6 + 4  # nft.py: the base rules, then four per network


def _new_link(name: str, kind: str) -> bytes:
    return link(0, attr_str(IFLA_IFNAME, name), attr(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, kind)))


def _eth0_of(rootfs: Path) -> str:
    r = pc.run(str(rootfs), ["ip", "-4", "-o", "addr", "show", "eth0"], network="bridge",
               capture_output=True, timeout=30)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def test_a_refused_request_raises_with_errno_and_the_kernels_text() -> None:
    with Rtnl() as rtnl, pytest.raises(OSError) as caught:
        rtnl.one(RTM_NEWLINK, _new_link("pcnokind0", "no-such-kind"), NLM_F_CREATE)
    assert caught.value.errno == errno.EOPNOTSUPP
    assert "Unknown device type" in str(caught.value)  # the extended ack's message
    assert "pcnokind0" not in link_names()


def test_a_batch_applies_in_order_and_reports_the_failed_request() -> None:
    with Rtnl() as rtnl:
        with pytest.raises(OSError) as caught:
            rtnl.request(
                (RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _new_link("pcbatch0", "bridge")),
                (RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _new_link("pcbatch0", "bridge")),
                (RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _new_link("pcbatch1", "bridge")),
            )
        assert caught.value.errno == errno.EEXIST  # the second one; the others took effect
        assert {"pcbatch0", "pcbatch1"} <= set(link_names())
        rtnl.request(
            (RTM_DELLINK, 0, link(0, attr_str(IFLA_IFNAME, "pcbatch0"))),
            (RTM_DELLINK, 0, link(0, attr_str(IFLA_IFNAME, "pcbatch1"))),
        )
    assert not {"pcbatch0", "pcbatch1"} & set(link_names())
    assert delete_link("pcbatch0") is False  # one DELLINK by name: ENODEV is "not there"


def test_ensure_bridge_repairs_what_was_changed_behind_its_back() -> None:
    from ipaddress import IPv4Interface

    gw = IPv4Interface("10.123.0.1/24")
    index = ensure_bridge("pcrepair0", gw, 1400)
    try:
        subprocess.run(["ip", "link", "set", "pcrepair0", "down", "mtu", "1300"], check=True)
        subprocess.run(["ip", "addr", "flush", "dev", "pcrepair0"], check=True)
        assert ensure_bridge("pcrepair0", gw, 1400) == index
        shown = subprocess.run(["ip", "-o", "addr", "show", "pcrepair0"], capture_output=True,
                               text=True, check=True).stdout  # fmt: skip
        assert "10.123.0.1/24" in shown
        detail = subprocess.run(["ip", "-o", "link", "show", "pcrepair0"], capture_output=True,
                                text=True, check=True).stdout  # fmt: skip
        assert "mtu 1400" in detail and ",UP" in detail
    finally:
        assert delete_link("pcrepair0") is True


def test_bridge_and_table_deleted_behind_our_back_come_back_at_the_next_start(
    fresh_rootfs: Path,
) -> None:
    net = Network.get("bridge")
    first = _eth0_of(fresh_rootfs)
    assert str(net.subnet.network_address)[:-1] in first  # 10.88.0.x
    nft = Netfilter()
    assert nft.rule_count() >= BASE_AND_NETWORK_RULES
    # the user deletes both (as `ip link del pc0; nft delete table ip pycontainers` would)
    assert delete_link(DEFAULT_BRIDGE) is True
    assert nft.remove_all() is True
    second = _eth0_of(fresh_rootfs)
    assert "inet 10.88." in second
    assert DEFAULT_BRIDGE in link_names()
    assert nft.exists() and nft.rule_count() >= BASE_AND_NETWORK_RULES
    assert Network.get("bridge").containers() == {}  # both runs gave their lease back


def test_one_rule_of_the_network_deleted_is_put_back(fresh_rootfs: Path) -> None:
    _eth0_of(fresh_rootfs)  # the network is up
    nft = Netfilter()
    listed = json.loads(run("list chain ip pycontainers isolation", json_output=True))
    handle = next(item["rule"]["handle"] for item in listed["nftables"] if "rule" in item
                  and item["rule"].get("comment", "").startswith(f"net:{DEFAULT_BRIDGE} "))  # fmt: skip
    run(f"delete rule ip pycontainers isolation handle {handle}")
    before = nft.rule_count()
    _eth0_of(fresh_rootfs)
    assert nft.rule_count() == before + 1


def test_the_cli_run_path_imports_no_pyroute2(fresh_rootfs: Path) -> None:
    code = (
        "import sys, pycontainers as pc\n"
        f"r = pc.run({str(fresh_rootfs)!r}, ['true'], network='bridge', timeout=30)\n"
        "assert r.returncode == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pyroute2', 'asyncio'))))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize("target", [2**22 + 12345, "/proc/self/ns/uts"])
def test_a_veth_into_no_network_namespace_fails_and_leaves_no_link(target: int | str) -> None:
    from ipaddress import IPv4Interface

    from pycontainers.errors import NetworkError
    from pycontainers.network.links import create_veth_into

    with pytest.raises(NetworkError):
        create_veth_into(target, "pcnons0", address=IPv4Interface("10.124.0.2/24"))
    assert "pcnons0" not in link_names()
