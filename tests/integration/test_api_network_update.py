"""The docker CLI and docker-py through the daemon: ``network connect|disconnect`` of a
running container (two containers talk only while they share a network; inspect shows
both networks; the veth goes with the disconnect), of a created one that leaves every
network (it starts and restarts with loopback only, inspect shows none) or only the one
it was created with (inspect shows the other, with its address and aliases, also after a
restart), and ``update --restart`` honoured by the container's monitor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_util import IMAGE, Daemon, docker, ensure_busybox_image, start_daemon
from test_api_docker_cli import raw

from pycontainers.network import link_names

pytestmark = [pytest.mark.root, pytest.mark.network]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> Iterator[Daemon]:
    ensure_busybox_image(busybox_rootfs)
    yield from start_daemon(tmp_path_factory.mktemp("api-netupd"))


@pytest.fixture(autouse=True)
def clean(daemon: Daemon) -> Iterator[None]:
    yield
    from api_util import remove_everything

    remove_everything(daemon)


def until(cond: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_docker_network_connect_and_disconnect(daemon: Daemon) -> None:
    docker(daemon, "network", "create", "front")
    docker(daemon, "network", "create", "back")
    docker(daemon, "run", "-d", "--name", "db", "--network", "back", IMAGE,
           "sh", "-c", "echo db-answer > /tmp/index.html; httpd -f -p 80 -h /tmp")  # fmt: skip
    docker(daemon, "run", "-d", "--name", "app", "--network", "front", IMAGE, "sleep", "300")
    fetch = ["exec", "app", "sh", "-c",
             "for i in $(seq 30); do wget -qO- http://db/ && exit 0; sleep 0.1; done; exit 1"]  # fmt: skip
    db_ip = docker(daemon, "inspect", "-f", "{{.NetworkSettings.Networks.back.IPAddress}}",
                   "db").stdout.strip()  # fmt: skip
    unreachable = ["exec", "app", "ping", "-c", "1", "-W", "1", db_ip]
    r = docker(daemon, *unreachable, check=False)  # not on a shared network
    assert r.returncode != 0 and "100% packet loss" in r.stdout
    links = set(link_names())
    docker(daemon, "network", "connect", "--alias", "app-alias", "back", "app")
    added = set(link_names()) - links
    assert len(added) == 1
    assert docker(daemon, *fetch).stdout == "db-answer\n"
    docker(daemon, "exec", "db", "ping", "-c", "1", "-W", "2", "app-alias")
    doc = json.loads(docker(daemon, "inspect", "app").stdout)[0]
    nets = doc["NetworkSettings"]["Networks"]
    assert set(nets) == {"front", "back"}
    assert nets["back"]["Aliases"] == ["app-alias"] and nets["back"]["IPAddress"]
    fmt = "{{range $k, $v := .Containers}}{{$v.Name}} {{end}}"
    members = docker(daemon, "network", "inspect", "back", "-f", fmt).stdout.split()
    assert sorted(members) == ["app", "db"]
    again = docker(daemon, "network", "connect", "back", "app", check=False)
    assert again.returncode != 0 and "already connected" in again.stderr
    docker(daemon, "network", "disconnect", "back", "app")
    assert set(link_names()) == links
    r = docker(daemon, *unreachable, check=False)
    assert r.returncode != 0 and "100% packet loss" in r.stdout
    hosts = docker(daemon, "exec", "app", "cat", "/etc/hosts").stdout
    assert " db" not in hosts and "\tdb" not in hosts
    doc = json.loads(docker(daemon, "inspect", "app").stdout)[0]
    assert set(doc["NetworkSettings"]["Networks"]) == {"front"}
    gone = docker(daemon, "network", "disconnect", "back", "app", check=False)
    assert gone.returncode != 0 and "not connected" in gone.stderr
    # an exited container is connected for its next start, as Docker (inspect names the
    # network without an address); a created one may be connected (test_api_docker_cli);
    # an unknown one is a 404
    docker(daemon, "run", "--name", "idle", "--network", "front", IMAGE, "true")
    docker(daemon, "network", "connect", "back", "idle")
    doc = json.loads(docker(daemon, "inspect", "idle").stdout)[0]
    assert list(doc["NetworkSettings"]["Networks"]) == ["front", "back"]
    assert doc["NetworkSettings"]["Networks"]["back"]["IPAddress"] == ""
    again = docker(daemon, "network", "connect", "back", "idle", check=False)
    assert again.returncode != 0 and "already connected" in again.stderr
    docker(daemon, "network", "disconnect", "back", "idle")
    doc = json.loads(docker(daemon, "inspect", "idle").stdout)[0]
    assert list(doc["NetworkSettings"]["Networks"]) == ["front"]
    docker(daemon, "rm", "idle")
    status, body = raw(daemon, "POST", "/networks/back/connect", b'{"Container": "nope"}',
                       "Content-Type: application/json\r\n")  # fmt: skip
    assert status == 404 and b"No such container" in body
    status, body = raw(daemon, "POST", "/networks/back/connect", b'{"Container": 5}',
                       "Content-Type: application/json\r\n")  # fmt: skip
    assert status == 400
    # connected again, then removed with the container: nothing stays on the network
    docker(daemon, "network", "connect", "back", "app")
    docker(daemon, "rm", "-f", "app")
    assert set(link_names()) <= links  # its veths (both networks) are gone
    members = docker(daemon, "network", "inspect", "back", "-f", fmt).stdout.split()
    assert members == ["db"]


def _links(daemon: Daemon, name: str) -> list[str]:
    out = docker(daemon, "exec", name, "ip", "-o", "link").stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def _networks(daemon: Daemon, name: str) -> dict[str, dict[str, object]]:
    doc = json.loads(docker(daemon, "inspect", name).stdout)[0]
    nets: dict[str, dict[str, object]] = doc["NetworkSettings"]["Networks"]
    return nets


def test_created_container_disconnected_from_every_network(daemon: Daemon) -> None:
    docker(daemon, "create", "--name", "offline", IMAGE, "sleep", "300")
    docker(daemon, "network", "disconnect", "bridge", "offline")
    assert _networks(daemon, "offline") == {}
    docker(daemon, "start", "offline")
    assert _links(daemon, "offline") == ["lo"]
    docker(daemon, "restart", "-t", "1", "offline")  # Docker keeps no network: nor do we
    assert _links(daemon, "offline") == ["lo"]
    doc = json.loads(docker(daemon, "inspect", "offline").stdout)[0]
    assert doc["NetworkSettings"]["Networks"] == {} and doc["NetworkSettings"]["IPAddress"] == ""
    assert doc["State"]["Running"]
    r = docker(daemon, "network", "connect", "bridge", "offline", check=False)
    assert r.returncode != 0 and "stop it and connect it then" in r.stderr  # a 409
    docker(daemon, "stop", "-t", "1", "offline")
    docker(daemon, "network", "connect", "bridge", "offline")  # stopped: for its next start
    docker(daemon, "start", "offline")
    assert "eth0" in _links(daemon, "offline")
    assert set(_networks(daemon, "offline")) == {"bridge"}


def test_created_container_left_its_network_shows_the_other(daemon: Daemon) -> None:
    docker(daemon, "network", "create", "other")
    docker(daemon, "create", "--name", "mover2", IMAGE, "sleep", "300")
    docker(daemon, "network", "connect", "--alias", "why", "other", "mover2")
    docker(daemon, "network", "disconnect", "bridge", "mover2")
    nets = _networks(daemon, "mover2")
    assert set(nets) == {"other"}, nets
    ip = nets["other"]["IPAddress"]
    assert isinstance(ip, str) and ip and nets["other"]["Aliases"] == ["why"]
    gateway = json.loads(docker(daemon, "network", "inspect", "other").stdout)[0]["IPAM"]
    docker(daemon, "start", "mover2")
    assert set(_networks(daemon, "mover2")) == {"other"}
    docker(daemon, "restart", "-t", "1", "mover2")  # it restarts on the other network
    nets = _networks(daemon, "mover2")
    assert set(nets) == {"other"} and nets["other"]["IPAddress"], nets
    assert nets["other"]["Aliases"] == ["why"]
    route = docker(daemon, "exec", "mover2", "ip", "route").stdout
    assert f"default via {gateway['Config'][0]['Gateway']}" in route, route
    r = docker(daemon, "run", "--rm", "--network", "other", IMAGE,
               "ping", "-c", "1", "-W", "5", "why")  # fmt: skip
    assert "1 packets received" in r.stdout


def test_docker_py_connect_disconnect(daemon: Daemon) -> None:
    docker_py = pytest.importorskip("docker")
    client = docker_py.DockerClient(base_url=daemon.url)
    a = client.networks.create("py-a")
    b = client.networks.create("py-b")
    c = client.containers.run(IMAGE, ["sleep", "300"], detach=True, network="py-a")
    b.connect(c, aliases=["pyalias"])
    try:
        c.reload()
        nets = c.attrs["NetworkSettings"]["Networks"]
        assert set(nets) == {"py-a", "py-b"} and nets["py-b"]["Aliases"] == ["pyalias"]
        b.reload()
        assert c.id in b.attrs["Containers"]
        b.disconnect(c)
        c.reload()
        assert set(c.attrs["NetworkSettings"]["Networks"]) == {"py-a"}
    finally:
        c.remove(force=True)
        a.remove()
        b.remove()
        client.close()


def test_docker_update_restart_policy(daemon: Daemon, tmp_path: Path) -> None:
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    script = "echo run >> /ctl/runs; while [ ! -e /ctl/go ]; do sleep 0.05; done; exit 3"
    docker(daemon, "run", "-d", "--name", "upd", "-v", f"{ctl}:/ctl", IMAGE, "sh", "-c", script)
    until(lambda: (ctl / "runs").exists())
    docker(daemon, "update", "--restart", "on-failure:1", "upd")
    policy = docker(daemon, "inspect", "-f", "{{json .HostConfig.RestartPolicy}}", "upd").stdout
    assert json.loads(policy) == {"Name": "on-failure", "MaximumRetryCount": 1}
    (ctl / "go").touch()

    def restarted_once_then_stopped() -> bool:
        out = docker(daemon, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "upd")
        return out.stdout.split() == ["exited", "1"]

    until(restarted_once_then_stopped)
    assert (ctl / "runs").read_text() == "run\nrun\n"
    r = docker(daemon, "update", "--restart", "sometimes", "upd", check=False)
    assert r.returncode != 0
    status, body = raw(daemon, "POST", "/containers/upd/update",
                       b'{"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}',
                       "Content-Type: application/json\r\n")  # fmt: skip
    assert status == 400 and b"maximum retry count" in body


@pytest.mark.skipif(
    not {"memory", "cpu"}
    <= __import__("pycontainers.cgroups").cgroups.detect_layout().v1_controllers,
    reason="memory and cpu are not v1 (swappiness, real-time time)",
)
def test_update_limits_stored_and_inspected_with_docker_names(daemon: Daemon) -> None:
    """docker-py's low-level client: create with the rarer limits, update twice (the second
    on top of the first), inspect from the stored spec under Docker's names; a refused
    update (a 400 naming the key) changes nothing. The docker CLI's update (its full
    Resources object, zeros for unset) builds on them too."""
    docker_py = pytest.importorskip("docker")
    MiB = 1 << 20
    api = docker_py.APIClient(base_url=daemon.url)
    try:
        host = api.create_host_config(mem_limit="64m", mem_swappiness=20, oom_kill_disable=True,
                                      cpu_quota=50000, cpu_period=100000, mem_reservation="16m",
                                      cpu_rt_period=500000, network_mode="none")  # fmt: skip
        cid = api.create_container(IMAGE, ["sleep", "300"], name="lim", host_config=host)["Id"]
        api.start(cid)

        def limits() -> dict[str, object]:
            h = api.inspect_container(cid)["HostConfig"]
            keys = ("Memory", "MemorySwap", "MemoryReservation", "MemorySwappiness",
                    "OomKillDisable", "CpuQuota", "CpuPeriod", "NanoCpus", "CpuRealtimePeriod",
                    "CpuRealtimeRuntime", "PidsLimit", "CpuShares", "BlkioWeightDevice",
                    "BlkioDeviceReadBps")  # fmt: skip
            return {k: h[k] for k in keys}

        assert limits() == {"Memory": 64 * MiB, "MemorySwap": 0, "MemoryReservation": 16 * MiB,
                            "MemorySwappiness": 20, "OomKillDisable": True, "CpuQuota": 50000,
                            "CpuPeriod": 100000, "NanoCpus": 0, "CpuRealtimePeriod": 500000,
                            "CpuRealtimeRuntime": 0, "PidsLimit": 0, "CpuShares": 0,
                            "BlkioWeightDevice": [], "BlkioDeviceReadBps": []}  # fmt: skip
        api.update_container(cid, memswap_limit="128m", cpu_shares=512)
        api.update_container(cid, mem_limit="96m", cpu_quota=25000)  # 96m <= the stored 128m
        now = limits()
        assert (now["Memory"], now["MemorySwap"], now["CpuQuota"], now["CpuShares"],
                now["MemorySwappiness"]) == (96 * MiB, 128 * MiB, 25000, 512, 20)  # fmt: skip
        with pytest.raises(docker_py.errors.APIError) as info:
            api.update_container(cid, mem_limit="256m")  # above the stored memory+swap
        assert info.value.status_code == 400
        assert "Memory: conflicts with the stored memory_swap" in str(info.value.explanation)
        with pytest.raises(docker_py.errors.APIError) as info:
            api.update_container(cid, kernel_memory="8m")
        assert info.value.status_code == 400 and "KernelMemory" in str(info.value.explanation)
        assert limits() == now
        docker(daemon, "update", "--pids-limit", "33", "--memory-swap", "200m", "lim")
        now = limits()
        assert (now["PidsLimit"], now["MemorySwap"], now["Memory"], now["CpuShares"]) == (
            33, 200 * MiB, 96 * MiB, 512)  # fmt: skip
    finally:
        api.close()
