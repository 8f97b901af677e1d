"""A created container that leaves every network keeps none: its stored spec says no
network, so it starts and restarts with loopback only (a restart never puts the old network
back), inspect shows no network, and a later connect works again with the settings it was
created with (published ports): while it is created, once started before a restart, or
when it is stopped (its next start joins). One
that left the network it was created with but is connected to another shows that one in
inspect, and restarts on it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_util import cli, ok

import pycontainers as pc
from pycontainers.errors import NetworkError
from pycontainers.network.attach import LEFT_NAME, endpoints_of
from pycontainers.network.endpoint import Endpoints
from pycontainers.network.network import Network
from pycontainers.runtime.specfile import load_spec

pytestmark = [pytest.mark.root, pytest.mark.network]


@pytest.fixture
def nets() -> Iterator[tuple[Network, Network]]:
    a = Network.create("left-a")
    b = Network.create("left-b")
    yield a, b
    b.remove()
    a.remove()


def links(c: pc.Container) -> list[str]:
    """The interface names in ``c``'s network namespace."""
    r = c.exec(["ip", "-o", "link"], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [line.split(":")[1].strip().split("@")[0] for line in r.stdout.decode().splitlines()]


def sh(c: pc.Container, script: str) -> str:
    r = c.exec(["sh", "-c", script], capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout.decode()


def test_left_every_network_restarts_with_loopback_only(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    a, _ = nets
    with pc.Container.create(str(busybox_rootfs), ["sleep", "300"], network="left-a",
                             name="lefty", ports=["127.0.0.1::80"], detach=True) as c:  # fmt: skip
        hostname = (Path(Endpoints().files(c.id)) / "hostname").read_text().strip()
        a.disconnect(c)
        spec = load_spec(c.state_dir)[0]
        assert spec.network is None and "net" in spec.namespaces  # no network: loopback
        assert spec.hostname == hostname  # the host name it had stays
        assert os.path.isfile(os.path.join(c.state_dir, LEFT_NAME))
        doc = c.inspect()
        assert (
            doc["NetworkSettings"]["Networks"] == {} and doc["NetworkSettings"]["IPAddress"] == ""
        )
        assert doc["HostConfig"]["NetworkMode"] == "none"
        c.start()
        assert links(c) == ["lo"]
        c.stop(timeout=1)
        c.start()  # a restart: from the stored spec, which must not name left-a any more
        assert links(c) == ["lo"]
        assert sh(c, "hostname").strip() == hostname
        assert c.id not in a.containers() and Endpoints().load(c.id) is None
        assert c.inspect()["NetworkSettings"]["Networks"] == {}
        with pytest.raises(
            NetworkError, match="left every network and was started again without one"
        ):
            a.connect(c)  # restarted without one: no /etc files of ours to rewrite
        c.stop(timeout=1)
        a.connect(c, aliases=["later"])  # stopped: recorded for its next start, as Docker
        stored = load_spec(c.state_dir)[0].network
        assert stored is not None and stored.network == "left-a" and stored.aliases == ("later",)
        assert len(stored.ports) == 1 and not os.path.exists(os.path.join(c.state_dir, LEFT_NAME))
        c.start()
        assert "eth0" in links(c) and f"default via {a.gateway.ip}" in sh(c, "ip route")
        assert "later" in c.inspect()["NetworkSettings"]["Networks"]["left-a"]["Aliases"]
        assert c.ports["80/tcp"][0][1] > 0  # its published port is back
    assert not any(e.container_id == c.id for e in Endpoints().all())


def test_left_then_connected_again_keeps_its_settings(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    a, b = nets
    with pc.Container.create(str(busybox_rootfs), ["sleep", "300"], network="left-a",
                             name="again", ports=["127.0.0.1::80"], detach=True) as c:  # fmt: skip
        a.disconnect(c)
        with pytest.raises(NetworkError, match="not connected"):
            a.disconnect(c)
        b.connect(c, aliases=["back-again"])  # the later connect works again
        stored = load_spec(c.state_dir)[0].network
        assert stored is not None and stored.network == "left-b"
        assert stored.aliases == ("back-again",) and len(stored.ports) == 1  # its ports kept
        assert not os.path.exists(os.path.join(c.state_dir, LEFT_NAME))
        ep = Endpoints().load(c.id)
        assert ep is not None and ep.network == "left-b" and ep.ports[0].host_port
        c.start()
        assert "eth0" in links(c)
        c.stop(timeout=1)
        c.start()  # restarted on the network it was connected to
        assert f"default via {b.gateway.ip}" in sh(c, "ip route")
        assert set(c.inspect()["NetworkSettings"]["Networks"]) == {"left-b"}


def test_a_connect_edits_the_stored_spec_under_the_containers_lock(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    """The stored spec's network is written under the container's lock, as update, rename
    and the restart policy write theirs: a connect waits while another edit holds it (two
    edits at once would lose one)."""
    import fcntl
    import threading

    a, b = nets
    with pc.Container.create(str(busybox_rootfs), ["sleep", "300"], network="left-a",
                             name="locked", detach=True) as c:  # fmt: skip
        a.disconnect(c)
        fd = os.open(os.path.join(c.state_dir, "lock"), os.O_RDWR | os.O_CLOEXEC)
        fcntl.flock(fd, fcntl.LOCK_EX)
        errors: list[BaseException] = []

        def connect() -> None:
            try:
                b.connect(c)
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=connect)
        try:
            t.start()
            t.join(3)  # the connect's veth and address take far less; then it waits
            assert t.is_alive(), f"the connect did not wait for the container's lock {errors}"
        finally:
            os.close(fd)  # (the flock goes with it)
            t.join(60)
        assert not errors, errors
        stored = load_spec(c.state_dir)[0].network
        assert stored is not None and stored.network == "left-b"


def test_left_its_first_network_shows_and_keeps_the_other(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    a, b = nets
    with pc.Container.create(str(busybox_rootfs), ["sleep", "300"], network="left-a",
                             name="twonets", detach=True) as c:  # fmt: skip
        b.connect(c, aliases=["bee"])  # created: a second interface
        a.disconnect(c)  # the one it was created with
        extra = endpoints_of(c.id)
        assert [e.network for e in extra] == ["left-b"] and extra[0].container == c.id
        nets_doc = c.inspect()["NetworkSettings"]["Networks"]
        assert set(nets_doc) == {"left-b"}
        assert nets_doc["left-b"]["IPAddress"] == str(extra[0].address.ip)
        assert "bee" in nets_doc["left-b"]["Aliases"]
        stored = load_spec(c.state_dir)[0].network  # what a restart joins: the other one
        assert stored is not None and stored.network == "left-b" and stored.aliases == ("bee",)
        c.start()
        assert f"inet {extra[0].address.ip}/" in sh(c, "ip -o addr")
        c.stop(timeout=1)
        c.start()
        out = sh(c, "ip route; ip -o addr")
        assert f"default via {b.gateway.ip}" in out and "eth0" in out, out
        assert set(c.inspect()["NetworkSettings"]["Networks"]) == {"left-b"}
        assert c.id not in a.containers() and c.id in b.containers()


def test_left_the_last_extra_network_too(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    a, b = nets
    with pc.Container.create(str(busybox_rootfs), ["sleep", "300"], network="left-a",
                             name="bothgone", detach=True) as c:  # fmt: skip
        b.connect(c)
        a.disconnect(c)
        b.disconnect(c)  # the last one: no network at all
        assert load_spec(c.state_dir)[0].network is None
        assert c.inspect()["NetworkSettings"]["Networks"] == {}
        c.start()
        assert links(c) == ["lo"]
        c.stop(timeout=1)
        c.start()
        assert links(c) == ["lo"]


def test_cli_create_disconnect_start_restart(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    cid = ok("create", "--name", "cli-left", "--network", "left-a", str(busybox_rootfs),
             "sleep", "300").strip()  # fmt: skip
    try:
        ok("network", "disconnect", "left-a", "cli-left")
        ok("start", "cli-left")
        only_lo = ["lo"]
        out = ok("exec", "cli-left", "ip", "-o", "link")
        assert [ln.split(":")[1].strip() for ln in out.splitlines()] == only_lo, out
        ok("restart", "-t", "1", "cli-left")
        out = ok("exec", "cli-left", "ip", "-o", "link")
        assert [ln.split(":")[1].strip() for ln in out.splitlines()] == only_lo, out
        nets_doc = ok("inspect", "-f", "{{json .NetworkSettings.Networks}}", "cli-left")
        assert json.loads(nets_doc) == {}
        assert cid not in nets[0].containers()
    finally:
        r = cli("rm", "-f", "cli-left")
        assert r.returncode == 0, r.stderr


def test_left_started_then_connected_while_it_runs(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    a, _ = nets
    with pc.Container.create(str(busybox_rootfs), ["sleep", "300"], network="left-a",
                             name="runjoin", detach=True) as c:  # fmt: skip
        a.disconnect(c)
        c.start()
        assert links(c) == ["lo"]
        a.connect(c, aliases=["rj"])  # running, its /etc files still ours: eth0 again
        assert "eth0" in links(c) and f"default via {a.gateway.ip}" in sh(c, "ip route")
        stored = load_spec(c.state_dir)[0].network
        assert stored is not None and stored.network == "left-a" and stored.aliases == ("rj",)
        assert not os.path.exists(os.path.join(c.state_dir, LEFT_NAME))
        c.stop(timeout=1)
        c.start()  # a restart keeps the network it was connected to
        assert "eth0" in links(c) and f"default via {a.gateway.ip}" in sh(c, "ip route")
        assert set(c.inspect()["NetworkSettings"]["Networks"]) == {"left-a"}
