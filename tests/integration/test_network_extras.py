"""A container keeps the networks it was connected to until it is disconnected, as Docker
does: a stop tears the interfaces down, every later start (``start``, a restart policy)
joins them again before the command runs; a stopped detached container may be connected
for its next start; inspect of a stopped container names them without an address; a
disconnect ends it; a network removed meanwhile is skipped; a corrupt record fails the start
with the file named.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.errors import NetworkError
from pycontainers.network.endpoint import Endpoints
from pycontainers.network.extras import EXTRA_NAME, load
from pycontainers.network.network import Network

pytestmark = [pytest.mark.root, pytest.mark.network]


@pytest.fixture
def nets() -> Iterator[tuple[Network, Network]]:
    a = Network.create("extra-a")
    b = Network.create("extra-b")
    yield a, b
    b.remove()
    a.remove()


def addrs(c: pc.Container) -> str:
    r = c.exec(["ip", "-o", "addr"], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def released(c: pc.Container, net: Network) -> bool:
    """Whether ``c`` holds no address on ``net`` within 10 s (a detached container's exit
    hook gives its endpoints back after the stop returns).
    """
    deadline = time.monotonic() + 10
    while c.id in net.containers():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def in_subnet(out: str, net: Network) -> bool:
    prefix = str(net.subnet.network_address).rsplit(".", 1)[0] + "."
    return f"inet {prefix}" in out


def test_a_further_network_survives_stop_and_start(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    a, b = nets
    with pc.Container.create(str(busybox_rootfs), ["sleep", "300"], network="extra-a",
                             name="keeper", detach=True) as c:  # fmt: skip
        c.start()
        b.connect(c, aliases=["kb"])
        assert in_subnet(addrs(c), b)
        assert [s.network for s in load(c.state_dir)] == ["extra-b"]
        c.stop(timeout=1)
        assert released(c, b)  # the stop gave its address back
        doc = c.inspect()["NetworkSettings"]["Networks"]
        assert list(doc) == ["extra-a", "extra-b"]  # the first one first, as Docker
        assert doc["extra-b"]["IPAddress"] == "" and doc["extra-b"]["Aliases"] == ["kb"]
        c.start()
        out = addrs(c)
        assert in_subnet(out, a) and in_subnet(out, b), out
        assert c.id in b.containers()
        doc = c.inspect()["NetworkSettings"]["Networks"]
        assert doc["extra-b"]["IPAddress"] == str(b.containers()[c.id].ip)
        assert "kb" in doc["extra-b"]["Aliases"]
        b.disconnect(c)  # ends it: the next start has the first network only
        assert load(c.state_dir) == []
        c.stop(timeout=1)
        c.start()
        out = addrs(c)
        assert in_subnet(out, a) and not in_subnet(out, b), out


def test_a_stopped_container_is_connected_for_its_next_start(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    a, b = nets
    with pc.Container.create(str(busybox_rootfs), ["sleep", "300"], network="extra-a",
                             name="later", detach=True) as c:  # fmt: skip
        c.start()
        c.stop(timeout=1)
        owners = Endpoints().owners()
        b.connect(c, ip=str(b.subnet.network_address + 77))
        assert Endpoints().owners() == owners  # nothing made until it starts
        with pytest.raises(NetworkError, match="already connected"):
            b.connect(c)
        with pytest.raises(NetworkError, match="already connected"):
            a.connect(c)
        assert c.inspect()["NetworkSettings"]["Networks"]["extra-b"]["IPAddress"] == ""
        c.start()
        assert f"inet {b.subnet.network_address + 77}/" in addrs(c)
        c.stop(timeout=1)
        b.disconnect(c)  # stopped: the record goes
        assert load(c.state_dir) == [] and not os.path.exists(os.path.join(c.state_dir, EXTRA_NAME))
        with pytest.raises(NetworkError, match="not connected"):
            b.disconnect(c)
        c.start()
        assert not in_subnet(addrs(c), b)


def test_a_restart_policy_rejoins_the_further_network(
    busybox_rootfs: Path, nets: tuple[Network, Network], tmp_path: Path
) -> None:
    _, b = nets
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    script = "while [ ! -e /ctl/go ]; do sleep 0.05; done; rm /ctl/go; exit 3"
    with pc.Container.create(str(busybox_rootfs), ["sh", "-c", script], network="extra-a",
                             detach=True, restart="on-failure:1",
                             mounts=[pc.Mount("/ctl", str(ctl))]) as c:  # fmt: skip
        c.start()
        b.connect(c)
        first_pid = c.pid
        (ctl / "go").touch()  # exit 3: the monitor starts it again
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            c.reload()
            if c.restart_count == 1 and c.status == "running" and c.pid != first_pid:
                break
            time.sleep(0.05)
        assert (c.restart_count, c.status) == (1, "running")
        assert in_subnet(addrs(c), b)
        assert c.id in b.containers()


def test_a_removed_network_is_skipped_and_a_corrupt_record_refused(
    busybox_rootfs: Path, nets: tuple[Network, Network]
) -> None:
    a, _ = nets
    gone = Network.create("extra-gone")
    with pc.Container.create(str(busybox_rootfs), ["sleep", "300"], network="extra-a",
                             name="skipper", detach=True) as c:  # fmt: skip
        c.start()
        gone.connect(c)
        c.stop(timeout=1)
        assert released(c, gone)
        gone.remove()
        c.start()  # runs on the network that is left
        out = addrs(c)
        assert in_subnet(out, a) and not in_subnet(out, gone), out
        c.stop(timeout=1)
        Path(c.state_dir, EXTRA_NAME).write_text('[{"truncated": ')
        with pytest.raises(NetworkError, match=EXTRA_NAME):
            c.start()
        c.reload()
        assert c.status == "stopped"
