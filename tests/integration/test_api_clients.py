"""Other clients of the ``pycontainers serve`` daemon — docker-py 7 and
testcontainers-python — and the faults a daemon must survive: clients that hang up
mid-stream, 50 concurrent ``run -d``, SIGTERM while containers run, TLS without a client
certificate.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import signal
import socket
import ssl
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_util import IMAGE, Daemon, docker, ensure_busybox_image, remove_everything, start_daemon

pytestmark = [pytest.mark.root, pytest.mark.network]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> Iterator[Daemon]:
    ensure_busybox_image(busybox_rootfs)
    yield from start_daemon(tmp_path_factory.mktemp("api-clients"))


@pytest.fixture(autouse=True)
def clean(daemon: Daemon) -> Iterator[None]:
    yield
    if daemon.alive():
        remove_everything(daemon)


def test_docker_py(daemon: Daemon, tmp_path: Path) -> None:
    docker_py = pytest.importorskip("docker")
    client = docker_py.DockerClient(base_url=daemon.url)
    assert client.ping()
    assert client.containers.run(IMAGE, ["echo", "hi"], remove=True) == b"hi\n"
    vol = client.volumes.create("pyvol")
    host_dir = tmp_path / "bind"
    host_dir.mkdir()
    (host_dir / "f").write_text("from host")
    c = client.containers.run(
        IMAGE,
        ["sh", "-c", "echo $FOO; pwd; cat /h/f; echo; echo x > /v/x; sleep 300"],
        detach=True,
        environment={"FOO": "bar"},
        working_dir="/tmp",
        ports={"80/tcp": None},
        volumes={
            str(host_dir): {"bind": "/h", "mode": "ro"},
            "pyvol": {"bind": "/v", "mode": "rw"},
        },
    )
    deadline = time.monotonic() + 20
    while b"from host" not in c.logs() and time.monotonic() < deadline:
        time.sleep(0.1)
    c.reload()
    assert c.status == "running"
    assert c.ports["80/tcp"][0]["HostPort"].isdigit()
    lines = []
    for chunk in c.logs(stream=True, follow=False):
        lines.append(chunk)
    assert b"".join(lines) == b"bar\n/tmp\nfrom host\n"
    r = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 2"])
    assert r.exit_code == 2 and b"out" in r.output and b"err" in r.output
    assert c.exec_run(["cat", "/v/x"]).output == b"x\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("put.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert c.put_archive("/tmp", buf.getvalue())
    stream, stat = c.get_archive("/tmp/put.txt")
    assert stat["name"] == "put.txt" and stat["size"] == 3
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("put.txt").read() == b"abc"  # type: ignore[union-attr]
    net = client.networks.create("pynet")
    assert "pynet" in [n.name for n in client.networks.list()]
    c.remove(force=True)
    net.remove()
    vol.remove()
    assert client.images.get(IMAGE).id.startswith("sha256:")
    with pytest.raises(docker_py.errors.NotFound):
        client.containers.get("no-such-container")
    with pytest.raises(docker_py.errors.ImageNotFound):
        client.containers.run("no/such:image", ["true"])
    client.close()


def test_testcontainers_exposed_port_and_log_wait(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("testcontainers")
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    monkeypatch.setenv("DOCKER_HOST", daemon.url)
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    container = (
        DockerContainer(IMAGE)
        .with_command(["sh", "-c", "echo ready; exec httpd -f -p 8080 -h /"])
        .with_exposed_ports(8080)
        .waiting_for(LogMessageWaitStrategy("ready"))
    )
    with container:  # started once "ready" is in its log
        port = int(container.get_exposed_port(8080))
        host = container.get_container_host_ip()
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"GET /etc/hostname HTTP/1.0\r\n\r\n")
            assert b"200 OK" in s.recv(4096)


def _hang_up(d: Daemon, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(d.socket))
        s.sendall(request)
        s.settimeout(10)
        return s.recv(4096)


def test_clients_that_hang_up_mid_stream(daemon: Daemon) -> None:
    cid = docker(
        daemon, "run", "-d", IMAGE, "sh", "-c", "while true; do echo tick; sleep 0.1; done"
    ).stdout.strip()
    for _ in range(3):
        got = _hang_up(
            daemon,
            f"GET /v1.45/containers/{cid}/logs?follow=1&stdout=1 HTTP/1.1\r\n"
            "Host: x\r\n\r\n".encode(),
        )
        assert b"200 OK" in got
        got = _hang_up(
            daemon,
            f"POST /v1.45/containers/{cid}/attach?stream=1&stdout=1&stdin=1 "
            "HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
            "Content-Length: 0\r\n\r\n".encode(),
        )
        assert b"101 UPGRADED" in got
    time.sleep(0.5)
    assert daemon.alive()
    assert docker(daemon, "inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "running"
    assert "tick" in docker(daemon, "logs", "--tail", "2", cid).stdout
    assert docker(daemon, "exec", cid, "true").returncode == 0


def test_fifty_concurrent_run_d(daemon: Daemon) -> None:
    def run(i: int) -> str:
        return docker(
            daemon, "run", "-d", "--name", f"c{i}", IMAGE, "sleep", "300", timeout=300
        ).stdout.strip()

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        ids = list(pool.map(run, range(50)))
    assert len(set(ids)) == 50
    running = docker(daemon, "ps", "-q", "--no-trunc").stdout.split()
    assert sorted(running) == sorted(ids)
    ips = docker(daemon, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", *ids).stdout.split()
    assert len(set(ips)) == 50


def test_sigterm_keeps_containers_and_a_new_daemon_sees_them(
    tmp_path: Path, busybox_rootfs: Path
) -> None:
    first = Daemon(tmp_path / "t.sock", tmp_path / "t.log")
    second = None
    try:
        cid = docker(first, "run", "-d", IMAGE, "sleep", "300").stdout.strip()
        pid = int(docker(first, "inspect", "-f", "{{.State.Pid}}", cid).stdout)
        assert first.stop(signal.SIGTERM) == 0
        assert "api.stopped" in first.log()
        os.kill(pid, 0)  # still running: it belongs to its monitor, not to the daemon
        second = Daemon(tmp_path / "t.sock", tmp_path / "t2.log")
        assert docker(second, "ps", "-q", "--no-trunc").stdout.split() == [cid]
        assert docker(second, "exec", cid, "echo", "still").stdout == "still\n"
    finally:
        d = second if second is not None else first
        if second is None:
            second = Daemon(tmp_path / "t.sock", tmp_path / "t3.log")
            d = second
        remove_everything(d)
        d.stop()


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _certs(tmp: Path) -> dict[str, Path]:
    p = {
        k: tmp / f"{k}.pem"
        for k in ("ca", "cakey", "cert", "key", "ccert", "ckey", "rogue", "roguekey")
    }
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        str(p["cakey"]),
        "-out",
        str(p["ca"]),
    )
    ext = tmp / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    for cert, key, cn, extra in (
        ("cert", "key", "server", ["-extfile", str(ext)]),
        ("ccert", "ckey", "client", []),
    ):
        csr = tmp / f"{cert}.csr"
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={cn}",
            "-keyout",
            str(p[key]),
            "-out",
            str(csr),
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(p["ca"]),
            "-CAkey",
            str(p["cakey"]),
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            str(p[cert]),
            *extra,
        )
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=rogue",
        "-keyout",
        str(p["roguekey"]),
        "-out",
        str(p["rogue"]),
    )
    return p


def test_tls_needs_a_client_certificate(tmp_path: Path) -> None:
    from api_util import free_port

    p = _certs(tmp_path)
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    d = Daemon(
        tmp_path / "tls.sock",
        tmp_path / "tls.log",
        extra=[
            "-H",
            url,
            "--tlsverify",
            "--tlscacert",
            str(p["ca"]),
            "--tlscert",
            str(p["cert"]),
            "--tlskey",
            str(p["key"]),
        ],
    )
    try:
        ctx = ssl.create_default_context(cafile=str(p["ca"]))
        for cert in (None, ("rogue", "roguekey")):  # no certificate, one signed by another CA
            if cert is not None:
                ctx.load_cert_chain(str(p[cert[0]]), str(p[cert[1]]))
            with (
                pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)),
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
            ):
                s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                if not s.recv(100):
                    raise ConnectionResetError("closed")
        env = {**os.environ, "DOCKER_HOST": url, "DOCKER_TLS_VERIFY": "1"}
        certs = tmp_path / "docker-certs"
        certs.mkdir()
        for src, dst in (("ca", "ca.pem"), ("ccert", "cert.pem"), ("ckey", "key.pem")):
            (certs / dst).write_bytes(p[src].read_bytes())
        env["DOCKER_CERT_PATH"] = str(certs)
        r = subprocess.run(
            ["docker", "version", "--format", "{{.Server.APIVersion}}"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert r.returncode == 0 and r.stdout.strip() == "1.45", r
        only_ca = tmp_path / "only-ca"
        only_ca.mkdir()
        (only_ca / "ca.pem").write_bytes(p["ca"].read_bytes())
        bad = {**env, "DOCKER_CERT_PATH": str(only_ca)}  # no client certificate to present
        r = subprocess.run(
            ["docker", "version"], capture_output=True, text=True, timeout=60, env=bad
        )
        assert r.returncode != 0
        assert d.alive()
    finally:
        d.stop()


def test_plain_tcp_is_refused_without_the_loud_flag(tmp_path: Path) -> None:
    from api_util import free_port

    r = subprocess.run(
        ["python3", "-m", "pycontainers", "serve", "-H", f"tcp://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 125 and "refusing plain TCP" in r.stderr
