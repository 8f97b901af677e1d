"""``pc.Client``: the typed client of a daemon for Python code (containers, images,
volumes, networks, version/ping), against a ``pycontainers serve`` with roots of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_util import IMAGE, docker, remove_everything
from remote_util import RootedDaemon, local_containers, rooted_daemon

import pycontainers as pc
from pycontainers.errors import ApiError, ContainerExitError, DaemonUnreachable, SpecError

pytestmark = [pytest.mark.root, pytest.mark.network]


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path
) -> Iterator[RootedDaemon]:
    yield from rooted_daemon(tmp_path_factory.mktemp("client"), "c", busybox_rootfs)


@pytest.fixture
def client(daemon: RootedDaemon) -> Iterator[pc.Client]:
    with pc.Client(daemon.url) as c:
        yield c
    remove_everything(daemon)
    assert local_containers() == []


def test_ping_version_info(client: pc.Client) -> None:
    assert client.ping() is True
    assert client.version()["ApiVersion"]
    assert client.api_version == "1.43"  # ours (the daemon speaks newer ones too)
    assert client.info()["Containers"] == 0


def test_containers_run_get_list_logs_exec_stop_remove(
    client: pc.Client, daemon: RootedDaemon
) -> None:
    c = client.containers.run(
        IMAGE,
        ["sh", "-c", "echo hi; echo err >&2; exec sleep 300"],
        detach=True,
        name="svc",
        env={"K": "v"},
        labels={"role": "test"},
        network="none",
    )
    assert isinstance(c, pc.client.RemoteContainer)
    assert (c.name, c.status) == ("svc", "running")
    assert daemon.containers() == [c.id]
    assert [x.id for x in client.containers.list()] == [c.id]
    assert [x.id for x in client.containers.list(filters={"label": ["role=test"]})] == [c.id]
    assert client.containers.list(filters={"label": ["role=other"]}) == []
    assert client.containers.get("svc").id == c.id
    entries = []
    for _ in range(100):
        entries = list(c.logs())
        if len(entries) >= 2:
            break
        import time

        time.sleep(0.1)
    assert {(e.stream, e.data) for e in entries} == {("stdout", b"hi\n"), ("stderr", b"err\n")}
    assert all(isinstance(e, pc.LogEntry) for e in entries)
    stamped = list(c.logs(stdout=True, stderr=False, timestamps=True))
    assert [e.data for e in stamped] == [b"hi\n"] and stamped[0].timestamp.year >= 2024
    done = c.exec(["sh", "-c", 'echo "$K$X"; echo e >&2; exit 6'], env={"X": "y"})
    assert isinstance(done, pc.CompletedContainer)
    assert (done.returncode, done.stdout, done.stderr) == (6, b"vy\n", b"e\n")
    with pytest.raises(ContainerExitError):
        c.exec(["false"], check=True)
    assert c.exec(["pwd"], cwd="/tmp").stdout == b"/tmp\n"
    c.stop(timeout=1)
    assert c.reload().status == "exited"
    assert c.wait() == 137  # sleep as PID 1 ignores SIGTERM: killed after the timeout
    c.remove()
    assert docker(daemon, "ps", "-aq").stdout.strip() == ""
    with pytest.raises(ApiError) as info:
        client.containers.get("svc")
    assert info.value.status == 404


def test_containers_run_foreground_returns_the_completed_run(
    client: pc.Client, daemon: RootedDaemon
) -> None:
    done = client.containers.run(IMAGE, ["sh", "-c", "echo out; echo err >&2; exit 3"],
                                 network="none")  # fmt: skip
    assert isinstance(done, pc.CompletedContainer)
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")
    assert daemon.containers() == []  # removed after


def test_images_volumes_networks(client: pc.Client, daemon: RootedDaemon) -> None:
    image = client.images.get(IMAGE)
    assert IMAGE in image.tags
    assert image.id in {i.id for i in client.images.list()}
    image.tag("copy", "2")
    assert "copy:2" in client.images.get("copy:2").tags
    removed = client.images.remove("copy:2")
    assert {"Untagged": "copy:2"} in removed or any("copy:2" in str(r) for r in removed)
    with pytest.raises(ApiError) as info:
        client.images.get("copy:2")
    assert info.value.status == 404
    with pytest.raises(ApiError):
        client.images.pull("127.0.0.1:1/nothing:here")  # no registry there: an error message
    vol = client.volumes.create("data", labels={"a": "b"})
    assert vol["Name"] == "data"
    assert [v["Name"] for v in client.volumes.list()] == ["data"]
    client.volumes.remove("data")
    assert client.volumes.list() == []
    net = client.networks.create("cnet", IPAM={"Config": [{"Subnet": "10.93.9.0/24"}]})
    assert client.networks.get("cnet")["Id"] == net["Id"]
    assert "cnet" in {n["Name"] for n in client.networks.list()}
    client.networks.remove("cnet")
    assert "cnet" not in {n["Name"] for n in client.networks.list()}


def test_errors(tmp_path: Path) -> None:
    with pc.Client(f"unix://{tmp_path}/none.sock") as c, pytest.raises(DaemonUnreachable) as info:
        c.ping()
    assert f"unix://{tmp_path}/none.sock" in str(info.value)
    with pytest.raises(SpecError, match="unsupported scheme"):
        pc.Client("gopher://x")
    with pytest.raises(SpecError, match="absolute"):
        pc.Client("unix://relative.sock")


def test_default_host_from_the_environment(
    daemon: RootedDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    monkeypatch.setenv("PYCONTAINERS_HOST", daemon.url)
    with pc.Client() as c:
        assert c.base_url == daemon.url and c.ping()
    monkeypatch.delenv("PYCONTAINERS_HOST")
    with pc.Client() as c:
        assert c.base_url == "unix:///nonexistent.sock"
